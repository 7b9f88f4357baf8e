"""numpy reference implementations of the operator suite (shared/reference/operators.md, first tier).

Every function takes the program's *input* buffers in order and returns its *output* buffers (one
array, or a tuple), as the suite manifest expects (docs/suite-manifest.md): ``reference.<op>(*inputs,
**params)``. Layouts are row-major with the last index fastest, as the buffers of the C programs.

Numerics: floating-point work is done in float64 and the result is cast to float32 (float64 inputs
stay float64); integer GEMM/GEMV/convolution accumulate exactly in int64 and wrap to int32 like the
32-bit accumulators of ``_mm512_dpbusd_epi32`` / ``__bang_mlp`` (or convert to float32 with
``out_dtype="float32"``). Element-wise integer results keep the input's integer type.

The 21 first-tier operators: add, sign, relu, sigmoid, gelu, softmax, layernorm, rmsnorm, gemm, gemv,
bmm, conv1d, conv2d_nhwc, conv2d_nchw, depthwise_conv, maxpool, avgpool, minpool, sumpool, mha,
deformable_attention.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["OPERATORS", "add", "sign", "relu", "sigmoid", "gelu", "softmax", "layernorm", "rmsnorm", "gemm",
           "gemv", "bmm", "conv1d", "conv2d_nhwc", "conv2d_nchw", "depthwise_conv", "maxpool", "avgpool",
           "minpool", "sumpool", "mha", "deformable_attention"]


# ---------------------------------------------------------------------------------------------
# helpers

def _is_int(a) -> bool:
    return np.asarray(a).dtype.kind in "iub"


def _float_out(*arrays) -> np.dtype:
    """float64 if any input is float64, else float32."""
    return np.dtype(np.float64) if any(np.asarray(a).dtype == np.float64 for a in arrays) else np.dtype(np.float32)


def _f64(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def _finish(acc: np.ndarray, inputs, out_dtype=None) -> np.ndarray:
    """Cast an accumulator: integer inputs -> int32 (wrapping) unless ``out_dtype``; floats -> float32."""
    if out_dtype is not None:
        dt = np.dtype(out_dtype)
        if dt.kind in "iu" and acc.dtype.kind in "iu":
            return acc.astype(np.int64).astype(dt)          # wrap modulo 2**bits
        return acc.astype(dt)
    if all(_is_int(a) for a in inputs):
        return acc.astype(np.int64).astype(np.int32)
    return acc.astype(_float_out(*inputs))


def _acc(a) -> np.ndarray:
    """Exact accumulator type: int64 for integer inputs, float64 otherwise."""
    a = np.asarray(a)
    return a.astype(np.int64) if _is_int(a) else a.astype(np.float64)


def _pair(v, what: str) -> tuple[int, int]:
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    v = tuple(int(x) for x in v)
    if len(v) != 2:
        raise ValueError(f"{what} must be an int or a pair, got {v!r}")
    return v


def _pad(x: np.ndarray, pads) -> np.ndarray:
    return np.pad(x, pads) if any(p != (0, 0) for p in pads) else x


# ---------------------------------------------------------------------------------------------
# element-wise

def add(A, B):
    """``A + B`` (element-wise, numpy broadcasting). Float inputs give float32; integer inputs keep
    their common integer type (wrapping)."""
    A, B = np.asarray(A), np.asarray(B)
    if _is_int(A) and _is_int(B):
        return (A.astype(np.int64) + B.astype(np.int64)).astype(np.result_type(A, B))
    return (_f64(A) + _f64(B)).astype(_float_out(A, B))


def sign(A):
    """``np.sign(A)``: -1, 0 (at 0) or 1, same dtype and shape as ``A``."""
    A = np.asarray(A)
    return np.sign(A).astype(A.dtype if A.dtype.kind in "fi" else np.float32)


def relu(A):
    """``max(A, 0)`` element-wise, same dtype as ``A``."""
    A = np.asarray(A)
    return np.maximum(A, 0).astype(A.dtype)


def sigmoid(A):
    """``1 / (1 + exp(-A))`` element-wise; float32 result."""
    return (1.0 / (1.0 + np.exp(-_f64(A)))).astype(_float_out(A))


def gelu(A):
    """GELU, tanh approximation: ``0.5*x*(1 + tanh(sqrt(2/pi)*(x + 0.044715*x**3)))``; float32 result."""
    x = _f64(A)
    return (0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))).astype(_float_out(A))


# ---------------------------------------------------------------------------------------------
# reductions / normalisations

def softmax(A, *, axis: int = -1):
    """Softmax over ``axis`` (default the last): ``exp(x - max) / sum(exp(x - max))``; float32 result."""
    x = _f64(A)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return (e / e.sum(axis=axis, keepdims=True)).astype(_float_out(A))


def layernorm(x, gamma=None, beta=None, *, eps: float = 1e-5):
    """Layer normalisation over the last axis: ``(x - mean) / sqrt(var + eps) * gamma + beta``.

    ``x``: ``(..., C)``; ``gamma``, ``beta``: ``(C,)``, optional (1 and 0); the variance is the biased
    one (mean of squared deviations); ``eps`` defaults to 1e-5. float32 result.
    """
    v = _f64(x)
    mean = v.mean(axis=-1, keepdims=True)
    var = ((v - mean) ** 2).mean(axis=-1, keepdims=True)
    y = (v - mean) / np.sqrt(var + eps)
    if gamma is not None:
        y = y * _f64(gamma)
    if beta is not None:
        y = y + _f64(beta)
    return y.astype(_float_out(x))


def rmsnorm(x, gamma=None, *, eps: float = 1e-5):
    """RMS normalisation over the last axis: ``x / sqrt(mean(x**2) + eps) * gamma``.

    ``x``: ``(..., C)``; ``gamma``: ``(C,)``, optional (1); ``eps`` defaults to 1e-5. float32 result.
    """
    v = _f64(x)
    y = v / np.sqrt((v ** 2).mean(axis=-1, keepdims=True) + eps)
    if gamma is not None:
        y = y * _f64(gamma)
    return y.astype(_float_out(x))


def _pool(x, window, stride, reduce: str):
    x = np.asarray(x)
    if x.ndim not in (3, 4):
        raise ValueError(f"pooling expects NHWC (4-D) or HWC (3-D) input, got shape {x.shape}")
    kh, kw = _pair(window, "window")
    sh, sw = _pair(window if stride is None else stride, "stride")
    batched = x if x.ndim == 4 else x[None]
    _, H, W, _ = batched.shape
    if kh > H or kw > W:
        raise ValueError(f"window {(kh, kw)} larger than the input {(H, W)}")
    win = np.lib.stride_tricks.sliding_window_view(_acc(batched), (kh, kw), axis=(1, 2))[:, ::sh, ::sw]
    # win: (N, Ho, Wo, C, kh, kw)
    if reduce == "max":
        y = win.max(axis=(-2, -1))
    elif reduce == "min":
        y = win.min(axis=(-2, -1))
    elif reduce == "sum":
        y = win.sum(axis=(-2, -1))
    else:
        y = win.sum(axis=(-2, -1)) / float(kh * kw)
    y = y if x.ndim == 4 else y[0]
    if _is_int(x) and reduce in ("max", "min"):
        return y.astype(x.dtype)
    return y.astype(np.int32) if _is_int(x) and reduce == "sum" else y.astype(_float_out(x))


def maxpool(x, *, window=2, stride=None):
    """2-D max pooling, NHWC: ``x[N,H,W,C]`` (or ``[H,W,C]``) -> ``[N,Ho,Wo,C]``.

    ``window``: kh, kw (int or pair); ``stride``: int or pair, default ``window``. No padding:
    ``Ho = (H - kh) // sh + 1``, ``Wo = (W - kw) // sw + 1``.
    """
    return _pool(x, window, stride, "max")


def avgpool(x, *, window=2, stride=None):
    """2-D average pooling, NHWC (layout and parameters as :func:`maxpool`): the window's sum divided
    by ``kh * kw``."""
    return _pool(x, window, stride, "avg")


def minpool(x, *, window=2, stride=None):
    """2-D min pooling, NHWC (layout and parameters as :func:`maxpool`)."""
    return _pool(x, window, stride, "min")


def sumpool(x, *, window=2, stride=None):
    """2-D sum pooling, NHWC (layout and parameters as :func:`maxpool`): the sum over each window."""
    return _pool(x, window, stride, "sum")


# ---------------------------------------------------------------------------------------------
# GEMM family

def _unpack_b(B, b_layout: str) -> np.ndarray:
    B = np.asarray(B)
    if b_layout == "kn":
        return B
    if b_layout == "nk":
        return np.swapaxes(B, -1, -2)
    if b_layout == "vnni":
        # Bp[..., K/4, N, 4] with Bp[k//4][n][k%4] = B[k][n]
        if B.shape[-1] != 4:
            raise ValueError(f"b_layout='vnni' expects B of shape (..., K/4, N, 4), got {B.shape}")
        k4, n = B.shape[-3], B.shape[-2]
        moved = np.swapaxes(B, -1, -2)                     # (..., K/4, 4, N)
        return moved.reshape(*B.shape[:-3], k4 * 4, n)
    raise ValueError(f"b_layout must be 'kn', 'nk' or 'vnni', got {b_layout!r}")


def gemm(A, B, *, b_layout: str = "kn", out_dtype=None):
    """Matrix product ``A @ B``.

    ``A``: ``[M][K]``. ``B``: ``[K][N]`` (``b_layout="kn"``, default), ``[N][K]`` (``"nk"``, i.e.
    ``A @ B.T``), or VNNI-packed ``[K/4][N][4]`` with ``Bp[k//4][n][k%4] = B[k][n]`` (``"vnni"``, the
    packed-B idiom of reference/vnni.md; K padded to a multiple of 4 with zeros).
    Dtypes: float32 -> float32; float16 inputs -> float32 (fp32 accumulate, tensor-core style);
    integer inputs (e.g. uint8 A x int8 B, VNNI) -> exact int32 (wrapping), or ``out_dtype="float32"``.
    """
    Bm = _unpack_b(B, b_layout)
    A = np.asarray(A)
    if A.shape[-1] != Bm.shape[-2]:
        raise ValueError(f"gemm: A {A.shape} and B (as [K][N]) {Bm.shape} do not agree on K")
    return _finish(_acc(A) @ _acc(Bm), (A, Bm), out_dtype)


def gemv(A, x, *, out_dtype=None):
    """Matrix-vector product ``A @ x``: ``A[M][K]``, ``x[K]`` -> ``[M]``. Dtypes as :func:`gemm`."""
    A, x = np.asarray(A), np.asarray(x)
    return _finish(_acc(A) @ _acc(x), (A, x), out_dtype)


def bmm(A, B, *, b_layout: str = "kn", out_dtype=None):
    """Batched matrix product: ``A[b][M][K] @ B[b][K][N]`` -> ``[b][M][N]`` (``b_layout`` and dtypes as
    :func:`gemm`)."""
    Bm = _unpack_b(B, b_layout)
    A = np.asarray(A)
    return _finish(np.matmul(_acc(A), _acc(Bm)), (A, Bm), out_dtype)


# ---------------------------------------------------------------------------------------------
# convolutions (cross-correlation, as in deep learning)

def conv1d(x, w, *, stride: int = 1, padding: int = 0, out_dtype=None):
    """1-D convolution (cross-correlation, no kernel flip), valid by default.

    ``x[L]``, ``w[K]`` -> ``y[(L + 2p - K) // s + 1]`` with ``y[i] = sum_k x[i*s + k - p] * w[k]``; or
    with channels ``x[N][Ci][L]``, ``w[Co][Ci][K]`` -> ``y[N][Co][Lo]``. Dtypes as :func:`gemm`.
    """
    x, w = np.asarray(x), np.asarray(w)
    if x.ndim == 1 and w.ndim == 1:
        xp = _pad(_acc(x), [(padding, padding)])
        win = np.lib.stride_tricks.sliding_window_view(xp, w.shape[0])[::stride]
        return _finish(win @ _acc(w), (x, w), out_dtype)
    if x.ndim == 3 and w.ndim == 3:
        xp = _pad(_acc(x), [(0, 0), (0, 0), (padding, padding)])
        win = np.lib.stride_tricks.sliding_window_view(xp, w.shape[2], axis=2)[:, :, ::stride]  # N,Ci,Lo,K
        return _finish(np.einsum("nclk,ock->nol", win, _acc(w)), (x, w), out_dtype)
    raise ValueError(f"conv1d expects x[L], w[K] or x[N][Ci][L], w[Co][Ci][K]; got {x.shape}, {w.shape}")


def conv2d_nhwc(x, w, *, stride=1, padding=0, out_dtype=None):
    """2-D convolution, NHWC: ``x[N][H][W][Ci]`` (or ``[H][W][Ci]``), filter ``w[Co][Kh][Kw][Ci]`` ->
    ``y[N][Ho][Wo][Co]``, ``y[n,i,j,o] = sum x[n, i*sh+a-ph, j*sw+b-pw, c] * w[o,a,b,c]`` (zero padding).

    ``stride``/``padding``: int or pair; ``Ho = (H + 2ph - Kh) // sh + 1``. Dtypes as :func:`gemm`
    (uint8 x int8 -> int32 for VNNI convolutions).
    """
    x, w = np.asarray(x), np.asarray(w)
    batched = x if x.ndim == 4 else x[None]
    (sh, sw), (ph, pw) = _pair(stride, "stride"), _pair(padding, "padding")
    xp = _pad(_acc(batched), [(0, 0), (ph, ph), (pw, pw), (0, 0)])
    win = np.lib.stride_tricks.sliding_window_view(xp, w.shape[1:3], axis=(1, 2))[:, ::sh, ::sw]
    # win: (N, Ho, Wo, Ci, Kh, Kw)
    y = np.einsum("nijcab,oabc->nijo", win, _acc(w), optimize=True)
    return _finish(y if x.ndim == 4 else y[0], (x, w), out_dtype)


def conv2d_nchw(x, w, *, stride=1, padding=0, out_dtype=None):
    """2-D convolution, NCHW: ``x[N][Ci][H][W]`` (or ``[Ci][H][W]``), filter ``w[Co][Ci][Kh][Kw]`` ->
    ``y[N][Co][Ho][Wo]`` (stride, padding and dtypes as :func:`conv2d_nhwc`)."""
    x, w = np.asarray(x), np.asarray(w)
    batched = x if x.ndim == 4 else x[None]
    (sh, sw), (ph, pw) = _pair(stride, "stride"), _pair(padding, "padding")
    xp = _pad(_acc(batched), [(0, 0), (0, 0), (ph, ph), (pw, pw)])
    win = np.lib.stride_tricks.sliding_window_view(xp, w.shape[2:4], axis=(2, 3))[:, :, ::sh, ::sw]
    # win: (N, Ci, Ho, Wo, Kh, Kw)
    y = np.einsum("ncijab,ocab->noij", win, _acc(w), optimize=True)
    return _finish(y if x.ndim == 4 else y[0], (x, w), out_dtype)


def depthwise_conv(x, w, *, stride=1, padding=0, out_dtype=None):
    """Depthwise 2-D convolution, NHWC: ``x[N][H][W][C]`` (or ``[H][W][C]``), filter ``w[Kh][Kw][C]``
    (TensorFlow layout; ``[Kh][Kw][C][1]`` accepted) -> ``y[N][Ho][Wo][C]``,
    ``y[n,i,j,c] = sum_{a,b} x[n, i*sh+a-ph, j*sw+b-pw, c] * w[a,b,c]`` (stride, padding, dtypes as
    :func:`conv2d_nhwc`)."""
    x, w = np.asarray(x), np.asarray(w)
    if w.ndim == 4 and w.shape[3] == 1:
        w = w[..., 0]
    if w.ndim != 3:
        raise ValueError(f"depthwise_conv expects a filter [Kh][Kw][C], got {w.shape}")
    batched = x if x.ndim == 4 else x[None]
    (sh, sw), (ph, pw) = _pair(stride, "stride"), _pair(padding, "padding")
    xp = _pad(_acc(batched), [(0, 0), (ph, ph), (pw, pw), (0, 0)])
    win = np.lib.stride_tricks.sliding_window_view(xp, w.shape[0:2], axis=(1, 2))[:, ::sh, ::sw]
    y = np.einsum("nijcab,abc->nijc", win, _acc(w), optimize=True)
    return _finish(y if x.ndim == 4 else y[0], (x, w), out_dtype)


# ---------------------------------------------------------------------------------------------
# attention

def mha(Q, K, V, *, scale=None, causal: bool = False, layout: str = "bhld"):
    """Multi-head self-attention core: ``softmax(Q @ K^T * scale) @ V`` per batch and head.

    ``layout="bhld"`` (default): ``Q, K, V[B][H][L][D]`` (or ``[H][L][D]``) -> ``out[B][H][L][D]``;
    ``layout="blhd"``: ``[B][L][H][D]`` (or ``[L][H][D]``, i.e. ``[B][L][H*D]`` row-major) -> the same
    layout. ``scale`` defaults to ``1/sqrt(D)``; ``causal=True`` masks keys after the query. float32.
    """
    q, k, v = _f64(Q), _f64(K), _f64(V)
    if layout not in ("bhld", "blhd"):
        raise ValueError(f"mha: layout must be 'bhld' or 'blhd', got {layout!r}")
    if layout == "blhd":
        q, k, v = (np.swapaxes(t, -3, -2) for t in (q, k, v))
    d = q.shape[-1]
    s = (q @ np.swapaxes(k, -1, -2)) * (1.0 / math.sqrt(d) if scale is None else float(scale))
    if causal:
        lq, lk = s.shape[-2], s.shape[-1]
        s = np.where(np.tril(np.ones((lq, lk), dtype=bool)), s, -np.inf)
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    out = (e / e.sum(axis=-1, keepdims=True)) @ v
    if layout == "blhd":
        out = np.swapaxes(out, -3, -2)
    return out.astype(_float_out(Q, K, V))


def deformable_attention(value, *args, spatial_shapes=None, level_start_index=None):
    """Multi-scale deformable attention (Deformable DETR's ``ms_deform_attn``), the sampling core.

    Call as ``deformable_attention(value, spatial_shapes, level_start_index, sampling_locations,
    attention_weights)`` (the argument order of the CUDA op) or ``deformable_attention(value,
    sampling_locations, attention_weights, spatial_shapes=..., level_start_index=None)`` (shapes baked
    in as parameters).

    - ``value[N][S][M][D]``: the value maps of all levels, flattened and concatenated,
      ``S = sum_l H_l*W_l``; level ``l`` starts at row ``level_start_index[l]`` (default the running sum)
      and is row-major ``[H_l][W_l]``;
    - ``spatial_shapes[L][2]`` (int): ``(H_l, W_l)`` per level;
    - ``sampling_locations[N][Lq][M][L][P][2]``: ``(x, y)`` normalised to [0, 1] (x along W);
    - ``attention_weights[N][Lq][M][L][P]``;
    - returns ``out[N][Lq][M*D]`` (float32):
      ``out[n,q,m*D+d] = sum_{l,p} attention_weights[n,q,m,l,p] * bilinear(value_l[n,:,:,m,d], x*W_l-0.5, y*H_l-0.5)``
      where bilinear sampling reads zero outside the map (``grid_sample(align_corners=False,
      padding_mode='zeros')``, the same as the CUDA kernel's ``h_im = y*H - 0.5`` convention).
    """
    if len(args) == 4:
        spatial_shapes, level_start_index, locations, weights = args
    elif len(args) == 2:
        locations, weights = args
        if spatial_shapes is None:
            raise ValueError("deformable_attention: give spatial_shapes (as the 2nd argument or a parameter)")
    else:
        raise ValueError("deformable_attention takes (value, spatial_shapes, level_start_index, "
                         "sampling_locations, attention_weights) or (value, sampling_locations, "
                         "attention_weights, spatial_shapes=...)")
    val = _f64(value)
    shapes = np.asarray(spatial_shapes, dtype=np.int64).reshape(-1, 2)
    if level_start_index is None:
        starts = np.concatenate([[0], np.cumsum(shapes[:, 0] * shapes[:, 1])[:-1]])
    else:
        starts = np.asarray(level_start_index, dtype=np.int64).reshape(-1)
    loc, att = _f64(locations), _f64(weights)
    N, S, M, D = val.shape
    _, Lq, _, L, P, _ = loc.shape
    if shapes.shape[0] != L:
        raise ValueError(f"deformable_attention: {shapes.shape[0]} spatial shapes for {L} levels")
    out = np.zeros((N, Lq, M, D))
    n_idx = np.arange(N)[:, None, None, None]
    m_idx = np.arange(M)[None, None, :, None]
    for lvl in range(L):
        H, W = int(shapes[lvl, 0]), int(shapes[lvl, 1])
        vmap = val[:, starts[lvl]:starts[lvl] + H * W].reshape(N, H, W, M, D)
        x = loc[:, :, :, lvl, :, 0] * W - 0.5            # (N, Lq, M, P)
        y = loc[:, :, :, lvl, :, 1] * H - 0.5
        x0, y0 = np.floor(x), np.floor(y)
        fx, fy = x - x0, y - y0
        sampled = np.zeros((N, Lq, M, P, D))
        for dy, wy in ((0, 1 - fy), (1, fy)):
            for dx, wx in ((0, 1 - fx), (1, fx)):
                yy, xx = (y0 + dy).astype(np.int64), (x0 + dx).astype(np.int64)
                ok = (yy >= 0) & (yy < H) & (xx >= 0) & (xx < W)
                corner = vmap[n_idx, np.clip(yy, 0, H - 1), np.clip(xx, 0, W - 1), m_idx]  # (N,Lq,M,P,D)
                sampled += (corner * (wy * wx * ok)[..., None])
        out += np.einsum("nqmpd,nqmp->nqmd", sampled, att[:, :, :, lvl, :])
    return out.reshape(N, Lq, M * D).astype(_float_out(value))


OPERATORS = tuple(__all__[1:])
