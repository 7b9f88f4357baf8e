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
_MEMCPY_1D = "for (int i = 0; i < size; ++i) ((char *)dst)[i] = ((const char *)src)[i];"
_MEMCPY_2D = ("for (int s = 0; s <= segnum; ++s) for (int i = 0; i < size; ++i)"
              " ((char *)dst)[s * dst_stride + i] = ((const char *)src)[s * src_stride + i];")
_MEMCPY_3D = ("for (int k = 0; k <= src_segnum2; ++k) for (int j = 0; j <= src_segnum1; ++j) {"
              " int n = k * (src_segnum1 + 1) + j;"
              " int dj = n % (dst_segnum1 + 1), dk = n / (dst_segnum1 + 1);"
              " for (int i = 0; i < size; ++i) ((char *)dst)[dk * dst_stride1 + dj * dst_stride0 + i] ="
              " ((const char *)src)[k * src_stride1 + j * src_stride0 + i]; }")
for _suffix in ["", "_async"]:
    intrinsic(f"bang.memcpy{_suffix}", "dma", "void *dst, const void *src, unsigned size, dir_t dir",
              bang=f"__memcpy{_suffix}", writes=("dst",), scalar=_MEMCPY_1D)
    intrinsic(f"bang.memcpy{_suffix}_2d", "dma",
              "void *dst, const void *src, unsigned size, dir_t dir, unsigned dst_stride, int src_stride,"
              " unsigned segnum", bang=f"__memcpy{_suffix}", writes=("dst",), scalar=_MEMCPY_2D)
    intrinsic(f"bang.memcpy{_suffix}_3d", "dma",
              "void *dst, const void *src, unsigned size, dir_t dir, int dst_stride0, unsigned dst_segnum1,"
              " int dst_stride1, unsigned dst_segnum2, int src_stride0, unsigned src_segnum1, int src_stride1,"
              " unsigned src_segnum2", bang=f"__memcpy{_suffix}", writes=("dst",), scalar=_MEMCPY_3D)

_FILL = "for (int i = 0; i < n; ++i) dst[i] = value;"
intrinsic("bang.write_value", "fill", "T *dst, int n, T value", bang="__bang_write_value", writes=("dst",), scalar=_FILL)
intrinsic("bang.write_zero", "fill", "T *dst, int n", bang="__bang_write_zero", writes=("dst",),
          scalar="for (int i = 0; i < n; ++i) dst[i] = 0;")
for _name in ["__nramset", "__nramset_float", "__nramset_half", "__nramset_int", "__memset_nram"]:
    intrinsic(f"bang.{_name.strip('_')}", "fill", "T *dst, int n, T value", bang=_name, writes=("dst",), scalar=_FILL)

# -- element-wise vector intrinsics --------------------------------------------------------------
_VV = "T *dst, const T *a, const T *b, int n"
_VS = "T *dst, const T *a, T s, int n"
for _op, _sym in [("add", "+"), ("sub", "-"), ("mul", "*"), ("div", "/")]:
    intrinsic(f"bang.{_op}", "vector", _VV, bang=f"__bang_{_op}", writes=("dst",),
              scalar=f"for (int i = 0; i < n; ++i) dst[i] = a[i] {_sym} b[i];")
    names = [f"__bang_{_op}_scalar"] + ([f"__bang_{_op}_const"] if _op in ("add", "sub", "mul") else [])
    intrinsic(f"bang.{_op}_scalar", "vector", _VS, bang=names, writes=("dst",),
              scalar=f"for (int i = 0; i < n; ++i) dst[i] = a[i] {_sym} s;")
    intrinsic(f"bang.cycle_{_op}", "vector", "T *dst, const T *a, const T *seg, int n, int m",
              bang=f"__bang_cycle_{_op}", writes=("dst",),
              scalar=f"for (int i = 0; i < n; ++i) dst[i] = a[i] {_sym} seg[i % m];")
intrinsic("bang.div_tmp", "vector", "T *dst, const T *a, const T *b, T *tmp, int n", bang="__bang_div",
          writes=("dst", "tmp"), scalar="for (int i = 0; i < n; ++i) dst[i] = a[i] / b[i];",
          doc="deprecated 5-argument form with a scratch buffer")
for _op, _expr in [("maximum", "a[i] > b[i] ? a[i] : b[i]"), ("maxequal", "a[i] > b[i] ? a[i] : b[i]"),
                   ("minimum", "a[i] < b[i] ? a[i] : b[i]"), ("minequal", "a[i] < b[i] ? a[i] : b[i]")]:
    intrinsic(f"bang.{_op}", "vector", _VV, bang=f"__bang_{_op}", writes=("dst",),
              scalar=f"for (int i = 0; i < n; ++i) dst[i] = {_expr};")
for _op, _sym in [("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"), ("eq", "=="), ("ne", "!=")]:
    intrinsic(f"bang.{_op}", "vector", _VV, bang=f"__bang_{_op}", writes=("dst",),
              scalar=f"for (int i = 0; i < n; ++i) dst[i] = a[i] {_sym} b[i] ? 1 : 0;")
    intrinsic(f"bang.{_op}_scalar", "vector", _VS, bang=f"__bang_{_op}_scalar", writes=("dst",),
              scalar=f"for (int i = 0; i < n; ++i) dst[i] = a[i] {_sym} s ? 1 : 0;")
_UNARY = {
    "square": "a[i] * a[i]", "sqrt": "sqrtf(a[i])", "rsqrt": "1.0f / sqrtf(a[i])", "recip": "1.0f / a[i]",
    "relu": "a[i] > 0 ? a[i] : 0", "active_relu": "a[i] > 0 ? a[i] : 0",
    "active_sign": "a[i] >= 0 ? 1 : -1", "active_abs": "fabsf(a[i])",
    "active_exp": "expf(a[i])", "active_exphp": "expf(a[i])",
    "active_sigmoid": "1.0f / (1.0f + expf(-a[i]))",
    "active_gelu": "0.5f * a[i] * (1.0f + tanhf(0.7978845608f * (a[i] + 0.044715f * a[i] * a[i] * a[i])))",
    "active_tanh": "tanhf(a[i])", "active_recip": "1.0f / a[i]", "active_rsqrt": "1.0f / sqrtf(a[i])",
    "active_sqrthp": "sqrtf(a[i])",
}
_APPROX = {"active_exp", "active_exphp", "active_sigmoid", "active_gelu", "active_tanh", "active_recip",
           "active_rsqrt", "active_sqrthp"}
for _op, _expr in _UNARY.items():
    intrinsic(f"bang.{_op}", "vector", "T *dst, const T *a, int n", bang=f"__bang_{_op}", writes=("dst",),
              scalar=f"for (int i = 0; i < n; ++i) dst[i] = {_expr};",
              doc="approximate on hardware (table based), see bang.md" if _op in _APPROX else "exact")

# -- reductions and pooling ----------------------------------------------------------------------
intrinsic("bang.sum", "reduce", "const T *src, int n", bang="__bang_sum",
          scalar="T s = 0; for (int i = 0; i < n; ++i) s += src[i]; return s;")
intrinsic("bang.reduce_sum", "reduce", "T *dst, const T *src, int n", bang="__bang_reduce_sum", writes=("dst",),
          scalar="int c = 128 / sizeof(T); for (int i = 0; i < n; i += c) { T s = 0;"
                 " for (int j = i; j < i + c && j < n; ++j) s += src[j]; dst[i] = s; }")
intrinsic("bang.argmax", "reduce", "T *dst, const T *src, int n", bang=["__bang_argmax", "__bang_max"],
          writes=("dst",), scalar="int m = 0; for (int i = 1; i < n; ++i) if (src[i] > src[m]) m = i;"
                                  " dst[0] = src[m]; ((unsigned *)dst)[1] = m;")
_POOL = ("T *dst, const T *src, int channels, int height, int width, int kernel_height, int kernel_width,"
         " int stride_width, int stride_height")
_POOL_BODY = ("int ho = (height - kernel_height) / stride_height + 1, wo = (width - kernel_width) / stride_width + 1;"
              " for (int y = 0; y < ho; ++y) for (int x = 0; x < wo; ++x) for (int c = 0; c < channels; ++c) {"
              " T acc = INIT; for (int ky = 0; ky < kernel_height; ++ky) for (int kx = 0; kx < kernel_width; ++kx) {"
              " T v = src[((y * stride_height + ky) * width + x * stride_width + kx) * channels + c]; acc = COMBINE; }"
              " dst[(y * wo + x) * channels + c] = FINAL; }")
for _op, _init, _combine, _final in [
        ("sumpool", "0", "acc + v", "acc"), ("avgpool", "0", "acc + v", "acc / (kernel_height * kernel_width)"),
        ("maxpool", "src[((y * stride_height) * width + x * stride_width) * channels + c]", "v > acc ? v : acc", "acc"),
        ("minpool", "src[((y * stride_height) * width + x * stride_width) * channels + c]", "v < acc ? v : acc", "acc")]:
    intrinsic(f"bang.{_op}", "reduce", _POOL, bang=f"__bang_{_op}", writes=("dst",),
              defaults={"stride_width": "kernel_width", "stride_height": "kernel_height"},
              scalar=_POOL_BODY.replace("INIT", _init).replace("COMBINE", _combine).replace("FINAL", _final),
              doc="HWC in and out, no padding; strides default to the kernel size")

# -- layout and conversion -----------------------------------------------------------------------
intrinsic("bang.transpose", "vector", "T *dst, const T *src, int h, int w", bang="__bang_transpose",
          writes=("dst",), scalar="for (int i = 0; i < h; ++i) for (int j = 0; j < w; ++j) dst[j * h + i] = src[i * w + j];")
for _name in ["__bang_half2float", "__bang_float2half_rn", "__bang_float2half_tz", "__bang_float2half_rd",
              "__bang_float2half_ru", "__bang_float2int32", "__bang_int322float", "__bang_float2int8_rn",
              "__bang_int82float"]:
    intrinsic(f"bang.{_name[len('__bang_'):]}", "convert", "D *dst, const S *src, int n", bang=_name,
              writes=("dst",), scalar="for (int i = 0; i < n; ++i) dst[i] = (D)src[i];")

# -- tensor intrinsics (filter / right operand in WRAM) ------------------------------------------
intrinsic("bang.mlp", "tensor", "T *dst, const T *src, const T *filter, int height, int width, int fix_position",
          bang=["__bang_mlp", ("__bang_mlp", "dst, src, filter, height, width")], writes=("dst",),
          defaults={"fix_position": "0"},
          scalar="for (int h = 0; h < height; ++h) { float acc = 0;"
                 " for (int w = 0; w < width; ++w) acc += (float)filter[h * width + w] * (float)src[w];"
                 " dst[h] = acc * powf(2, fix_position); }")
intrinsic("bang.matmul", "tensor", "T *dst, const T *a, const T *b, int m, int k, int n", bang="__bang_matmul",
          writes=("dst",), scalar="for (int i = 0; i < m; ++i) for (int j = 0; j < n; ++j) { float acc = 0;"
                                  " for (int p = 0; p < k; ++p) acc += a[i * k + p] * b[j * k + p]; dst[i * n + j] = acc; }")
intrinsic("bang.conv", "tensor",
          "T *dst, const T *src, const T *filter, int ci, int h, int w, int kh, int kw, int sw, int sh, int co,"
          " int fix_position", bang=["__bang_conv", ("__bang_conv", "dst, src, filter, ci, h, w, kh, kw, sw, sh, co")],
          writes=("dst",), defaults={"fix_position": "0"},
          scalar="int ho = (h - kh) / sh + 1, wo = (w - kw) / sw + 1;"
                 " for (int y = 0; y < ho; ++y) for (int x = 0; x < wo; ++x) for (int o = 0; o < co; ++o) {"
                 " float acc = 0; for (int ky = 0; ky < kh; ++ky) for (int kx = 0; kx < kw; ++kx)"
                 " for (int c = 0; c < ci; ++c) acc += src[((y * sh + ky) * w + x * sw + kx) * ci + c]"
                 " * filter[((o * kh + ky) * kw + kx) * ci + c]; dst[(y * wo + x) * co + o] = acc * powf(2, fix_position); }")
intrinsic("bang.reshape_filter", "tensor", "T *dst, const T *src, int n, int h, int w, int c",
          bang="__bang_reshape_filter", writes=("dst",),
          scalar="for (int i = 0; i < n * h * w * c; ++i) dst[i] = src[i];",
          doc="the emulation keeps the logical layout, making this a copy")
