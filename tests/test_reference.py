"""Each numpy reference against an independent formulation (explicit Python loops on tiny shapes)."""

import itertools
import math

import numpy as np
import pytest

from xpiler import reference as ref

rng = np.random.default_rng(1234)


def close(actual, expected, tol=1e-6):
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64),
                               rtol=tol, atol=tol)


def r(*shape, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def test_operator_list_is_the_first_tier():
    assert len(ref.OPERATORS) == 21
    for name in ref.OPERATORS:
        assert callable(getattr(ref, name)) and getattr(ref, name).__doc__


def test_elementwise():
    A, B = r(3, 5), r(3, 5)
    A[0, 0] = 0.0
    out_add, out_sign, out_relu, out_sig, out_gelu = (np.empty_like(A) for _ in range(5))
    for i, j in itertools.product(range(3), range(5)):
        a = float(A[i, j])
        out_add[i, j] = a + float(B[i, j])
        out_sign[i, j] = 1.0 if a > 0 else (-1.0 if a < 0 else 0.0)
        out_relu[i, j] = a if a > 0 else 0.0
        out_sig[i, j] = 1.0 / (1.0 + math.exp(-a))
        out_gelu[i, j] = 0.5 * a * (1.0 + math.tanh(math.sqrt(2.0 / math.pi) * (a + 0.044715 * a * a * a)))
    close(ref.add(A, B), out_add)
    assert ref.add(A, B).dtype == np.float32
    close(ref.sign(A), out_sign)
    assert ref.sign(A)[0, 0] == 0.0
    close(ref.relu(A), out_relu)
    close(ref.sigmoid(A), out_sig)
    close(ref.gelu(A), out_gelu)
    np.testing.assert_array_equal(ref.add(np.array([2**31 - 1], np.int32), np.array([1], np.int32)),
                                  np.array([-2**31], np.int32))


def test_softmax_layernorm_rmsnorm():
    X = r(4, 7)
    g, b = r(7), r(7)
    sm, ln, ln_plain, rms, rms_g = (np.empty((4, 7)) for _ in range(5))
    for i in range(4):
        row = [float(v) for v in X[i]]
        m = max(row)
        e = [math.exp(v - m) for v in row]
        s = sum(e)
        mean = sum(row) / 7
        var = sum((v - mean) ** 2 for v in row) / 7
        ms = sum(v * v for v in row) / 7
        for j in range(7):
            sm[i, j] = e[j] / s
            ln_plain[i, j] = (row[j] - mean) / math.sqrt(var + 1e-5)
            ln[i, j] = ln_plain[i, j] * g[j] + b[j]
            rms[i, j] = row[j] / math.sqrt(ms + 1e-6)
            rms_g[i, j] = rms[i, j] * g[j]
    close(ref.softmax(X), sm)
    close(ref.softmax(X).sum(axis=-1), np.ones(4))
    close(ref.layernorm(X, g, b), ln, 1e-5)
    close(ref.layernorm(X), ln_plain, 1e-5)
    close(ref.rmsnorm(X, eps=1e-6), rms, 1e-5)
    close(ref.rmsnorm(X, g, eps=1e-6), rms_g, 1e-5)


def loop_matmul(A, B):
    M, K = A.shape
    N = B.shape[1]
    out = np.zeros((M, N), dtype=object)
    for i, j in itertools.product(range(M), range(N)):
        out[i, j] = sum(int(A[i, k]) * int(B[k, j]) if A.dtype.kind in "iu" else float(A[i, k]) * float(B[k, j])
                        for k in range(K))
    return out


def test_gemm_fp32_fp16_and_layouts():
    A, B = r(5, 6), r(6, 3)
    expected = loop_matmul(A, B).astype(np.float64)
    close(ref.gemm(A, B), expected, 1e-5)
    close(ref.gemm(A, np.ascontiguousarray(B.T), b_layout="nk"), expected, 1e-5)
    out16 = ref.gemm(A.astype(np.float16), B.astype(np.float16))
    assert out16.dtype == np.float32
    close(out16, loop_matmul(A.astype(np.float16), B.astype(np.float16)).astype(np.float64), 1e-5)


def test_gemm_int8_vnni_exact_and_wrapping():
    A = rng.integers(0, 256, size=(3, 8), dtype=np.uint8)
    B = rng.integers(-128, 128, size=(8, 5), dtype=np.int8)
    expected = loop_matmul(A, B).astype(np.int64)
    out = ref.gemm(A, B)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, expected)
    # packed B: Bp[k//4][n][k%4] = B[k][n]
    Bp = np.zeros((2, 5, 4), np.int8)
    for k, n in itertools.product(range(8), range(5)):
        Bp[k // 4, n, k % 4] = B[k, n]
    np.testing.assert_array_equal(ref.gemm(A, Bp, b_layout="vnni"), expected)
    np.testing.assert_array_equal(ref.gemm(A, B, out_dtype="float32"), expected.astype(np.float32))
    # int32 accumulators wrap like vpdpbusd
    big = np.full((1, 4), 2**30, np.int64)
    np.testing.assert_array_equal(ref.gemm(big, np.full((4, 1), 2, np.int64)), np.array([[0]], np.int32))


def test_gemv_bmm():
    A, x = r(4, 6), r(6)
    close(ref.gemv(A, x), [sum(float(A[i, k]) * float(x[k]) for k in range(6)) for i in range(4)], 1e-5)
    Au = rng.integers(0, 256, size=(4, 8), dtype=np.uint8)
    xs = rng.integers(-128, 128, size=8, dtype=np.int8)
    np.testing.assert_array_equal(ref.gemv(Au, xs), [sum(int(Au[i, k]) * int(xs[k]) for k in range(8)) for i in range(4)])
    A3, B3 = r(2, 3, 4), r(2, 4, 5)
    expected = np.stack([loop_matmul(A3[b], B3[b]).astype(np.float64) for b in range(2)])
    close(ref.bmm(A3, B3), expected, 1e-5)


def test_conv1d():
    x, w = r(9), r(3)
    close(ref.conv1d(x, w), [sum(float(x[i + k]) * float(w[k]) for k in range(3)) for i in range(7)], 1e-5)
    close(ref.conv1d(x, w, stride=2, padding=1),
          [sum(float(x[i * 2 + k - 1]) * float(w[k]) for k in range(3) if 0 <= i * 2 + k - 1 < 9) for i in range(5)],
          1e-5)
    X, Wt = r(2, 3, 6), r(4, 3, 2)
    expected = np.zeros((2, 4, 5))
    for n, o, i in itertools.product(range(2), range(4), range(5)):
        expected[n, o, i] = sum(float(X[n, c, i + k]) * float(Wt[o, c, k]) for c in range(3) for k in range(2))
    close(ref.conv1d(X, Wt), expected, 1e-5)


def loop_conv_nhwc(x, w, s, p):
    N, H, W, C = x.shape
    O, KH, KW, _ = w.shape
    Ho, Wo = (H + 2 * p - KH) // s + 1, (W + 2 * p - KW) // s + 1
    out = np.zeros((N, Ho, Wo, O), dtype=object)
    for n, i, j, o in itertools.product(range(N), range(Ho), range(Wo), range(O)):
        acc = 0
        for a, b, c in itertools.product(range(KH), range(KW), range(C)):
            hi, wi = i * s + a - p, j * s + b - p
            if 0 <= hi < H and 0 <= wi < W:
                acc += (int(x[n, hi, wi, c]) * int(w[o, a, b, c]) if x.dtype.kind in "iu"
                        else float(x[n, hi, wi, c]) * float(w[o, a, b, c]))
        out[n, i, j, o] = acc
    return out


@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1)])
def test_conv2d_nhwc_nchw(stride, padding):
    x, w = r(2, 5, 6, 3), r(4, 3, 2, 3)
    expected = loop_conv_nhwc(x, w, stride, padding).astype(np.float64)
    close(ref.conv2d_nhwc(x, w, stride=stride, padding=padding), expected, 1e-5)
    xc, wc = np.ascontiguousarray(x.transpose(0, 3, 1, 2)), np.ascontiguousarray(w.transpose(0, 3, 1, 2))
    close(ref.conv2d_nchw(xc, wc, stride=stride, padding=padding), expected.transpose(0, 3, 1, 2), 1e-5)
    xu = rng.integers(0, 256, size=(1, 4, 4, 8), dtype=np.uint8)
    ws = rng.integers(-128, 128, size=(3, 3, 3, 8), dtype=np.int8)
    out = ref.conv2d_nhwc(xu, ws, stride=stride, padding=padding)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, loop_conv_nhwc(xu, ws, stride, padding).astype(np.int64))


def test_depthwise_conv():
    x, w = r(1, 5, 5, 3), r(3, 3, 3)
    s, p = 2, 1
    expected = np.zeros((1, 3, 3, 3))
    for i, j, c in itertools.product(range(3), range(3), range(3)):
        expected[0, i, j, c] = sum(float(x[0, i * s + a - p, j * s + b - p, c]) * float(w[a, b, c])
                                   for a in range(3) for b in range(3)
                                   if 0 <= i * s + a - p < 5 and 0 <= j * s + b - p < 5)
    close(ref.depthwise_conv(x, w, stride=s, padding=p), expected, 1e-5)
    close(ref.depthwise_conv(x[0], w[..., None], stride=s, padding=p), expected[0], 1e-5)


def test_pools():
    x = r(2, 5, 7, 3)
    k, s = 3, 2
    Ho, Wo = (5 - k) // s + 1, (7 - k) // s + 1
    for name, fn in (("maxpool", max), ("minpool", min), ("sumpool", sum), ("avgpool", lambda v: sum(v) / 9)):
        expected = np.zeros((2, Ho, Wo, 3))
        for n, i, j, c in itertools.product(range(2), range(Ho), range(Wo), range(3)):
            expected[n, i, j, c] = fn([float(x[n, i * s + a, j * s + b, c]) for a in range(k) for b in range(k)])
        close(getattr(ref, name)(x, window=k, stride=s), expected, 1e-5)
        close(getattr(ref, name)(x[1], window=k, stride=s), expected[1], 1e-5)
    # default stride = window
    close(ref.maxpool(x, window=2), ref.maxpool(x, window=2, stride=2))


def test_mha():
    B, H, L, D = 1, 2, 4, 3
    Q, K, V = r(B, H, L, D), r(B, H, L, D), r(B, H, L, D)
    expected = np.zeros((B, H, L, D))
    causal = np.zeros((B, H, L, D))
    for b, h, i in itertools.product(range(B), range(H), range(L)):
        for mask, out in ((L, expected), (i + 1, causal)):
            scores = [sum(float(Q[b, h, i, d]) * float(K[b, h, j, d]) for d in range(D)) / math.sqrt(D)
                      for j in range(mask)]
            m = max(scores)
            e = [math.exp(v - m) for v in scores]
            for d in range(D):
                out[b, h, i, d] = sum(e[j] * float(V[b, h, j, d]) for j in range(mask)) / sum(e)
    close(ref.mha(Q, K, V), expected, 1e-5)
    close(ref.mha(Q, K, V, causal=True), causal, 1e-5)
    t = lambda a: np.ascontiguousarray(a.transpose(0, 2, 1, 3))  # noqa: E731
    close(ref.mha(t(Q), t(K), t(V), layout="blhd"), t(expected), 1e-5)


def test_deformable_attention():
    N, M, D, Lq, P = 1, 2, 3, 2, 2
    shapes = np.array([[3, 4], [2, 2]], np.int32)
    starts = np.array([0, 12], np.int32)
    value = r(N, 16, M, D)
    loc = rng.uniform(-0.2, 1.2, size=(N, Lq, M, 2, P, 2)).astype(np.float32)
    loc[0, 0, 0, 0, 0] = [0.0, 0.0]     # exactly at a corner: three of four samples outside
    att = rng.uniform(0, 1, size=(N, Lq, M, 2, P)).astype(np.float32)

    def pixel(lvl, h, w, m, d):
        H, W = shapes[lvl]
        if 0 <= h < H and 0 <= w < W:
            return float(value[0, starts[lvl] + h * W + w, m, d])
        return 0.0

    expected = np.zeros((N, Lq, M * D))
    for q, m, d in itertools.product(range(Lq), range(M), range(D)):
        acc = 0.0
        for lvl, p in itertools.product(range(2), range(P)):
            H, W = shapes[lvl]
            x = float(loc[0, q, m, lvl, p, 0]) * W - 0.5
            y = float(loc[0, q, m, lvl, p, 1]) * H - 0.5
            x0, y0 = math.floor(x), math.floor(y)
            lx, ly = x - x0, y - y0
            v = ((1 - ly) * (1 - lx) * pixel(lvl, y0, x0, m, d) + (1 - ly) * lx * pixel(lvl, y0, x0 + 1, m, d)
                 + ly * (1 - lx) * pixel(lvl, y0 + 1, x0, m, d) + ly * lx * pixel(lvl, y0 + 1, x0 + 1, m, d))
            acc += float(att[0, q, m, lvl, p]) * v
        expected[0, q, m * D + d] = acc
    close(ref.deformable_attention(value, shapes, starts, loc, att), expected, 1e-5)
    close(ref.deformable_attention(value, loc, att, spatial_shapes=[[3, 4], [2, 2]]), expected, 1e-5)
    with pytest.raises(ValueError, match="spatial_shapes"):
        ref.deformable_attention(value, loc, att)
