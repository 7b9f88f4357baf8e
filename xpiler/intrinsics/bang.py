"""Cambricon BANG C intrinsics (semantics: ../shared/reference/bang.md). Counts are in elements,
sizes and strides of the ``__memcpy`` family in bytes."""

from __future__ import annotations

from .registry import intrinsic

# -- synchronisation ----------------------------------------------------------------------------
for _name in ["__sync", "__sync_compute", "__sync_io", "__sync_move"]:
    intrinsic(f"bang.{_name.strip('_')}", "sync", "", bang=_name,
              doc="waits for this core's own pipelines (a no-op when DMA is synchronous)")
intrinsic("bang.sync_io_move_compute", "sync", "int a, int b, int c, int d, int e, int f",
          bang="__sync_io_move_compute")
intrinsic("bang.sync_cluster", "sync", "", bang="__sync_cluster", doc="barrier of the 4 cores of a cluster")
intrinsic("bang.sync_all", "sync", "", bang=["__sync_all", "__sync_all_ipu"], doc="barrier of the union job")

# -- data movement -------------------------------------------------------------------------------
# Sizes and strides are in bytes: the scalar descriptions copy through `char` views, so they are
# exact for any element type (detensorize prints element loops where the sizes divide evenly).
# Sizes and strides are taken as `int`: on-chip memories are a few MB, far below 2^31.
_MEMCPY_1D = "for (int i = 0; i < size; ++i) ((char *)dst)[i] = ((const char *)src)[i];"
_MEMCPY_2D = ("for (int s = 0; s < segnum + 1; ++s) for (int i = 0; i < size; ++i)"
              " ((char *)dst)[s * dst_stride + i] = ((const char *)src)[s * src_stride + i];")
_MEMCPY_3D = ("for (int k = 0; k < src_segnum2 + 1; ++k) for (int j = 0; j < src_segnum1 + 1; ++j) {"
              " int n = k * (src_segnum1 + 1) + j;"
              " int dj = n % (dst_segnum1 + 1), dk = n / (dst_segnum1 + 1);"
              " for (int i = 0; i < size; ++i) ((char *)dst)[dk * dst_stride1 + dj * dst_stride0 + i] ="
              " ((const char *)src)[k * src_stride1 + j * src_stride0 + i]; }")
_SIG_1D = "void *dst, const void *src, int size, dir_t dir"
_SIG_2D = "void *dst, const void *src, int size, dir_t dir, int dst_stride, int src_stride, int segnum"
_SIG_3D = ("void *dst, const void *src, int size, dir_t dir, int dst_stride0, int dst_segnum1, int dst_stride1,"
           " int dst_segnum2, int src_stride0, int src_segnum1, int src_stride1, int src_segnum2")
for _suffix in ["", "_async"]:
    intrinsic(f"bang.memcpy{_suffix}", "dma", _SIG_1D, bang=f"__memcpy{_suffix}", writes=("dst",), scalar=_MEMCPY_1D)
    intrinsic(f"bang.memcpy{_suffix}_2d", "dma", _SIG_2D, bang=f"__memcpy{_suffix}", writes=("dst",), scalar=_MEMCPY_2D)
    intrinsic(f"bang.memcpy{_suffix}_3d", "dma", _SIG_3D, bang=f"__memcpy{_suffix}", writes=("dst",), scalar=_MEMCPY_3D)

_FILL = "for (int i = 0; i < n; ++i) dst[i] = value;"
intrinsic("bang.write_value", "fill", "T *dst, int n, T value", bang="__bang_write_value", writes=("dst",), scalar=_FILL,
          doc="an untyped (void *) destination is filled with the value's type")
intrinsic("bang.write_zero", "fill", "T *dst, int n", bang="__bang_write_zero", writes=("dst",),
          scalar="for (int i = 0; i < n; ++i) dst[i] = 0;")
for _name in ["__nramset", "__nramset_float", "__nramset_half", "__nramset_int", "__memset_nram"]:
    intrinsic(f"bang.{_name.strip('_')}", "fill", "T *dst, int n, T value", bang=_name, writes=("dst",), scalar=_FILL)
for _name, _t in [("__nramset_short", "short"), ("__nramset_char", "char")]:
    intrinsic(f"bang.{_name.strip('_')}", "fill", f"{_t} *dst, int n, {_t} value", bang=_name, writes=("dst",),
              scalar=_FILL)

# -- element-wise vector intrinsics --------------------------------------------------------------
# Arithmetic happens in the operand type (half through float, like the emulation); integer
# division by zero gives 0 (`__xp_div`, see detensorize). In-place use (dst == a) is exact.
_VV = "T *dst, const T *a, const T *b, int n"
_VS = "T *dst, const T *a, T s, int n"
_DIV = "__xp_div<T>(a[i], b[i])"
def _cycle(expr: str) -> str:
    """The scalar description of a cycle operation ``dst[i] = f(a[i], seg[i % m])``, written as whole
    segments (``i = j * m + k``, ``i % m`` is ``k``) and the partial one after them: the same for
    ``m > 0`` (as written otherwise), and a segment is then a contiguous inner loop, which a
    vectoriser runs without dividing by ``m`` per element."""
    def at(i: str, k: str) -> str:
        return expr.replace("[i % m]", f"[{k}]").replace("[i]", f"[{i}]")
    return ("if (m > 0) { int full = n / m;"
            f" for (int j = 0; j < full; ++j) for (int k = 0; k < m; ++k) dst[j * m + k] = {at('j * m + k', 'k')};"
            f" for (int i = full * m; i < n; ++i) dst[i] = {at('i', 'i - full * m')}; }}"
            f" else {{ for (int i = 0; i < n; ++i) dst[i] = {expr}; }}")


for _op, _sym in [("add", "+"), ("sub", "-"), ("mul", "*"), ("div", "/")]:
    _vv = _DIV if _op == "div" else f"a[i] {_sym} b[i]"
    _vs = "__xp_div<T>(a[i], s)" if _op == "div" else f"a[i] {_sym} s"
    _vc = "__xp_div<T>(a[i], seg[i % m])" if _op == "div" else f"a[i] {_sym} seg[i % m]"
    intrinsic(f"bang.{_op}", "vector", _VV, bang=f"__bang_{_op}", writes=("dst",),
              scalar=f"for (int i = 0; i < n; ++i) dst[i] = {_vv};")
    names = [f"__bang_{_op}_scalar"] + ([f"__bang_{_op}_const"] if _op in ("add", "sub", "mul") else [])
    if _op == "div":
        names.append("__bang_div")  # __bang_div(dst, a, scalar, n): chosen over bang.div by the argument type
    intrinsic(f"bang.{_op}_scalar", "vector", _VS, bang=names, writes=("dst",),
              scalar=f"for (int i = 0; i < n; ++i) dst[i] = {_vs};")
    intrinsic(f"bang.cycle_{_op}", "vector", "T *dst, const T *a, const T *seg, int n, int m",
              bang=f"__bang_cycle_{_op}", writes=("dst",), scalar=_cycle(_vc))
for _op, _expr in [("maxequal", "a[i] > seg[i % m] ? a[i] : seg[i % m]"), ("minequal", "a[i] < seg[i % m] ? a[i] : seg[i % m]")]:
    intrinsic(f"bang.cycle_{_op}", "vector", "T *dst, const T *a, const T *seg, int n, int m",
              bang=f"__bang_cycle_{_op}", writes=("dst",), scalar=_cycle(_expr))
intrinsic("bang.div_tmp", "vector", "T *dst, const T *a, const T *b, T *tmp, int n", bang="__bang_div",
          writes=("dst", "tmp"),
          scalar="for (int i = 0; i < n; ++i) { T q = __xp_div<T>(a[i], b[i]); T r = __xp_div<T>(1, b[i]);"
                 " tmp[i] = r; dst[i] = q; }",
          doc="deprecated 5-argument form with a scratch buffer (left holding 1/b, as in the emulation)")
for _op, _expr in [("maximum", "a[i] > b[i] ? a[i] : b[i]"), ("maxequal", "a[i] > b[i] ? a[i] : b[i]"),
                   ("minimum", "a[i] < b[i] ? a[i] : b[i]"), ("minequal", "a[i] < b[i] ? a[i] : b[i]")]:
    intrinsic(f"bang.{_op}", "vector", _VV, bang=f"__bang_{_op}", writes=("dst",),
              scalar=f"for (int i = 0; i < n; ++i) dst[i] = {_expr};")
for _op, _expr in [("maxeq_scalar", "a[i] > s ? a[i] : s"), ("mineq_scalar", "a[i] < s ? a[i] : s")]:
    intrinsic(f"bang.{_op}", "vector", _VS, bang=f"__bang_{_op}", writes=("dst",),
              scalar=f"for (int i = 0; i < n; ++i) dst[i] = {_expr};")
for _op, _sym in [("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"), ("eq", "=="), ("ne", "!=")]:
    intrinsic(f"bang.{_op}", "vector", _VV, bang=f"__bang_{_op}", writes=("dst",),
              scalar=f"for (int i = 0; i < n; ++i) dst[i] = a[i] {_sym} b[i] ? 1 : 0;")
    intrinsic(f"bang.{_op}_scalar", "vector", _VS, bang=f"__bang_{_op}_scalar", writes=("dst",),
              scalar=f"for (int i = 0; i < n; ++i) dst[i] = a[i] {_sym} s ? 1 : 0;")
# Logical (1 / 0 of "is non-zero") and bitwise operations (integers), as in the emulation.
for _op, _expr in [("and", "a[i] != 0 && b[i] != 0 ? 1 : 0"), ("or", "a[i] != 0 || b[i] != 0 ? 1 : 0"),
                   ("xor", "(a[i] != 0) != (b[i] != 0) ? 1 : 0"), ("band", "a[i] & b[i]"), ("bor", "a[i] | b[i]"),
                   ("bxor", "a[i] ^ b[i]")]:
    intrinsic(f"bang.{_op}", "vector", _VV, bang=f"__bang_{_op}", writes=("dst",),
              scalar=f"for (int i = 0; i < n; ++i) dst[i] = {_expr};")
_UNARY = {
    "square": "a[i] * a[i]", "sqrt": "sqrtf(a[i])", "rsqrt": "1.0f / sqrtf(a[i])", "recip": "__xp_div<T>(1, a[i])",
    "relu": "a[i] > 0 ? a[i] : 0", "abs": "a[i] < 0 ? -a[i] : a[i]", "not": "a[i] == 0 ? 1 : 0",
}
for _op, _expr in _UNARY.items():
    intrinsic(f"bang.{_op}", "vector", "T *dst, const T *a, int n", bang=f"__bang_{_op}", writes=("dst",),
              scalar=f"for (int i = 0; i < n; ++i) dst[i] = {_expr};", doc="exact")
# Activations are computed in double and rounded once. The approximate (table based) ones lower to
# their exact formula with the range behaviour the emulation documents (bang_intrinsics.h): sigmoid
# is 0 below -7.75 and 1 above 7.75, exp is 5.96e-8 below -7.75; sign(+0) = sign(-0) = 1.
_ACTIVE = {
    "active_relu": "x > 0 ? x : 0.0", "active_sign": "x >= 0 ? 1.0 : x < 0 ? -1.0 : x", "active_abs": "fabs(x)",
    "active_exp": "x < -7.75 ? 5.96e-8 : exp(x)", "active_exphp": "exp(x)",
    "active_sigmoid": "x < -7.75 ? 0.0 : x > 7.75 ? 1.0 : 1.0 / (1.0 + exp(-x))",
    "active_gelu": "0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))",
    "active_gelup": "0.5 * x * (1.0 + erf(x * 0.7071067811865476))",
    "active_tanh": "tanh(x)", "active_recip": "1.0 / x", "active_rsqrt": "1.0 / sqrt(x)",
    "active_sqrthp": "sqrt(x)", "active_sqrt": "sqrt(x)",
}
_APPROX = {"active_exp", "active_sigmoid", "active_gelu", "active_tanh", "active_recip", "active_rsqrt",
           "active_sqrthp", "active_sqrt", "active_gelup"}
for _op, _expr in _ACTIVE.items():
    intrinsic(f"bang.{_op}", "vector", "T *dst, const T *a, int n", bang=f"__bang_{_op}", writes=("dst",),
              scalar=f"for (int i = 0; i < n; ++i) {{ double x = (double)a[i]; dst[i] = __xp_from_double<T>({_expr}); }}",
              doc="approximate on hardware (table based), see bang.md" if _op in _APPROX else "exact")

# -- reductions and pooling (accumulated in double, rounded once, as in the emulation) -----------
intrinsic("bang.sum", "reduce", "const T *src, int n", bang="__bang_sum",
          scalar="double s = 0; for (int i = 0; i < n; ++i) s += (double)src[i]; return __xp_from_double<T>(s);")
intrinsic("bang.reduce_sum", "reduce", "T *dst, const T *src, int n", bang="__bang_reduce_sum", writes=("dst",),
          scalar="int c = 128 / sizeof(T); for (int i = 0; i < n; i += c) { double s = 0;"
                 " int e = i + c < n ? i + c : n;"
                 " for (int j = i; j < e; ++j) s += (double)src[j];"
                 " for (int j = i + 1; j < e; ++j) dst[j] = 0; dst[i] = __xp_from_double<T>(s); }",
          doc="each 128-byte chunk's sum in the chunk's first element, 0 in its other elements (the emulation's choice)")
_ARGEXT = ("int m = 0; for (int i = 1; i < n; ++i) if (src[i] CMP src[m]) m = i;"
           " T v = src[m]; unsigned idx = m; dst[0] = v;"
           " for (int b = 0; b < 4; ++b) ((char *)dst)[sizeof(T) + b] = ((char *)&idx)[b];")
intrinsic("bang.argmax", "reduce", "T *dst, const T *src, int n", bang=["__bang_argmax", "__bang_max"],
          writes=("dst",), scalar=_ARGEXT.replace("CMP", ">"),
          doc="dst[0] = the maximum, then its first index as uint32 in the next 4 bytes")
intrinsic("bang.argmin", "reduce", "T *dst, const T *src, int n", bang=["__bang_argmin", "__bang_min"],
          writes=("dst",), scalar=_ARGEXT.replace("CMP", "<"),
          doc="dst[0] = the minimum, then its first index as uint32 in the next 4 bytes")
_POOL = ("T *dst, const T *src, int channels, int height, int width, int kernel_height, int kernel_width,"
         " int stride_width, int stride_height")
_POOL_BODY = ("int sw = stride_width > 0 ? stride_width : kernel_width;"
              " int sh = stride_height > 0 ? stride_height : kernel_height;"
              " int ho = (height - kernel_height) / sh + 1, wo = (width - kernel_width) / sw + 1;"
              " for (int y = 0; y < ho; ++y) for (int x = 0; x < wo; ++x) for (int c = 0; c < channels; ++c) {"
              " double acc = INIT; for (int ky = 0; ky < kernel_height; ++ky) for (int kx = 0; kx < kernel_width; ++kx) {"
              " double v = (double)src[((y * sh + ky) * width + x * sw + kx) * channels + c]; acc = COMBINE; }"
              " dst[(y * wo + x) * channels + c] = __xp_from_double<T>(FINAL); }")
for _op, _init, _combine, _final in [
        ("sumpool", "0", "acc + v", "acc"), ("avgpool", "0", "acc + v", "acc / (kernel_height * kernel_width)"),
        ("maxpool", "-INFINITY", "v > acc ? v : acc", "acc"), ("minpool", "INFINITY", "v < acc ? v : acc", "acc")]:
    intrinsic(f"bang.{_op}", "reduce", _POOL, bang=f"__bang_{_op}", writes=("dst",),
              defaults={"stride_width": "kernel_width", "stride_height": "kernel_height"},
              scalar=_POOL_BODY.replace("INIT", _init).replace("COMBINE", _combine).replace("FINAL", _final),
              doc="HWC in and out, no padding; strides default to the kernel size")

# -- layout and conversion -----------------------------------------------------------------------
intrinsic("bang.transpose", "vector", "T *dst, const T *src, int h, int w", bang="__bang_transpose",
          writes=("dst",), scalar="for (int i = 0; i < h; ++i) for (int j = 0; j < w; ++j) dst[j * h + i] = src[i * w + j];")
# Float <-> half: round to nearest even (`_rn`), or toward zero / down / up (`__xp_float2half`).
for _name, _scalar in [("__bang_half2float", "(D)src[i]"), ("__bang_bfloat162float", "(D)src[i]"),
                       ("__bang_float2half", "(D)src[i]"), ("__bang_float2half_rn", "(D)src[i]"),
                       ("__bang_float2half_tz", "__xp_float2half(src[i], 1)"),
                       ("__bang_float2half_rd", "__xp_float2half(src[i], 2)"),
                       ("__bang_float2half_ru", "__xp_float2half(src[i], 3)")]:
    _d, _s = ("float", "half") if _name.startswith("__bang_half2") else ("float", "bfloat16_t") \
        if _name.startswith("__bang_bfloat16") else ("half", "float")
    intrinsic(f"bang.{_name[len('__bang_'):]}", "convert", f"{_d} *dst, const {_s} *src, int n", bang=_name,
              writes=("dst",), scalar=f"for (int i = 0; i < n; ++i) dst[i] = {_scalar.replace('(D)', f'({_d})')};")
# Float -> integer with a fixed-point position p: round(v / 2^p) (RN ties to even, TZ toward zero),
# saturated; integer -> float: v * 2^p.
for _name, _d, _s, _tz in [
        ("__bang_float2int8_rn", "int8_t", "float", 0), ("__bang_float2int8_tz", "int8_t", "float", 1),
        ("__bang_float2int16_rn", "int16_t", "float", 0), ("__bang_float2int16_tz", "int16_t", "float", 1),
        ("__bang_float2int32_rn", "int32_t", "float", 0), ("__bang_float2int32_tz", "int32_t", "float", 1),
        ("__bang_float2int32", "int32_t", "float", 1), ("__bang_half2int8_rn", "int8_t", "half", 0),
        ("__bang_half2int8_tz", "int8_t", "half", 1), ("__bang_half2int16_rn", "int16_t", "half", 0),
        ("__bang_half2int16_tz", "int16_t", "half", 1)]:
    intrinsic(f"bang.{_name[len('__bang_'):]}", "convert", f"{_d} *dst, const {_s} *src, int n, int position",
              bang=[_name, (_name, "dst, src, n")], writes=("dst",), defaults={"position": "0"},
              scalar=f"for (int i = 0; i < n; ++i) dst[i] = __xp_to_fix<{_d}>((double)src[i], position, {_tz});")
for _name, _d, _s in [("__bang_int82float", "float", "int8_t"), ("__bang_int162float", "float", "int16_t"),
                      ("__bang_int322float", "float", "int32_t"), ("__bang_int82half", "half", "int8_t"),
                      ("__bang_int162half", "half", "int16_t")]:
    intrinsic(f"bang.{_name[len('__bang_'):]}", "convert", f"{_d} *dst, const {_s} *src, int n, int position",
              bang=[_name, (_name, "dst, src, n")], writes=("dst",), defaults={"position": "0"},
              scalar=f"for (int i = 0; i < n; ++i) dst[i] = __xp_from_double<{_d}>(__xp_ldexp((double)src[i], position));")

# -- tensor intrinsics (filter / right operand in WRAM) ------------------------------------------
# Accumulated in double, scaled by 2^fix_position, rounded once to the destination type (integer
# destinations round to nearest even and saturate), as in the emulation. D, S, F: the element types
# of the destination, the source and the filter (int8 operands with a float result are common).
intrinsic("bang.mlp", "tensor", "D *dst, const S *src, const F *filter, int height, int width, int fix_position",
          bang=["__bang_mlp", ("__bang_mlp", "dst, src, filter, height, width")], writes=("dst",),
          defaults={"fix_position": "0"},
          scalar="for (int h = 0; h < height; ++h) { double acc = 0;"
                 " for (int w = 0; w < width; ++w) acc += (double)filter[h * width + w] * (double)src[w];"
                 " dst[h] = __xp_from_double<D>(__xp_ldexp(acc, fix_position)); }")
intrinsic("bang.matmul", "tensor", "D *dst, const S *a, const F *b, int m, int k, int n, int fix_position",
          bang=["__bang_matmul", ("__bang_matmul", "dst, a, b, m, k, n")], writes=("dst",),
          defaults={"fix_position": "0"},
          scalar="for (int i = 0; i < m; ++i) for (int j = 0; j < n; ++j) { double acc = 0;"
                 " for (int p = 0; p < k; ++p) acc += (double)a[i * k + p] * (double)b[j * k + p];"
                 " dst[i * n + j] = __xp_from_double<D>(__xp_ldexp(acc, fix_position)); }",
          doc="b holds B column-major (stored [n][k])")
intrinsic("bang.conv", "tensor",
          "D *dst, const S *src, const F *filter, int ci, int h, int w, int kh, int kw, int sw, int sh, int co,"
          " int fix_position", bang=["__bang_conv", ("__bang_conv", "dst, src, filter, ci, h, w, kh, kw, sw, sh, co")],
          writes=("dst",), defaults={"fix_position": "0"},
          scalar="int ho = (h - kh) / sh + 1, wo = (w - kw) / sw + 1;"
                 " for (int y = 0; y < ho; ++y) for (int x = 0; x < wo; ++x) for (int o = 0; o < co; ++o) {"
                 " double acc = 0; for (int ky = 0; ky < kh; ++ky) for (int kx = 0; kx < kw; ++kx)"
                 " for (int c = 0; c < ci; ++c) acc += (double)src[((y * sh + ky) * w + x * sw + kx) * ci + c]"
                 " * (double)filter[((o * kh + ky) * kw + kx) * ci + c];"
                 " dst[(y * wo + x) * co + o] = __xp_from_double<D>(__xp_ldexp(acc, fix_position)); }")
intrinsic("bang.reshape_filter", "tensor", "T *dst, const T *src, int n, int h, int w, int c",
          bang="__bang_reshape_filter", writes=("dst",),
          scalar="for (int i = 0; i < n * h * w * c; ++i) dst[i] = src[i];",
          doc="the emulation keeps the logical layout, making this a copy")
