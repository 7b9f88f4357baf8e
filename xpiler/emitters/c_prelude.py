"""Definitions sequential C needs for what lowered programs keep from their source dialect.

Lowering keeps calls such as ``__expf(x)``, ``rsqrtf(x)`` or ``__half2float(h)`` and types such as
``half`` or ``dim3``: they have plain C meanings, given here as small inline definitions. The
prelude of a program holds only the entries whose name it uses, so the output stays readable and
self-contained (it compiles with ``g++`` and the VNNI flags, conventions.md).

Each entry: name -> (C text, names of other entries it needs). Detensorize and the other passes add
entries here rather than inventing their own helper mechanisms.
"""

from __future__ import annotations

import re
from dataclasses import replace

from .. import ir

def _dot_products(a: str, b: str, ways: int = 1) -> str:
    """C text of ``__xp_dot_<a><b>(a, b, n)`` (``ways`` 1: the sum of ``a[r] * b[r]`` over ``r < n``)
    or ``__xp_dot4_<a><b>(a0, a1, a2, a3, b, n, out)`` (4: ``out[i]`` the sum of ``a<i>[r] * b[r]``, the
    shared ``b`` loaded once per 64 bytes), for int8 (``s8``) or uint8 (``u8``) arrays, exact in 64 bits.
    vpdpbusd multiplies u8 by s8, four products summed into each 32-bit lane: u8 x s8 as they are; for
    s8 x s8 the ``a``s are offset to ``a + 128`` (``a ^ 0x80``, the u8 side) and ``128 * sum(b)`` is
    taken off again, for u8 x u8 to ``a - 128`` (the s8 side, ``b`` the u8 one) and ``128 * sum(b)``
    added back, in 64 bits. Chunks of 64 KiB keep every 32-bit sum exact (|product| <= 255 * 128); a
    tail of fewer than 64 bytes is read under a mask."""
    ta, tb = ("int8_t" if a == "s8" else "uint8_t"), ("int8_t" if b == "s8" else "uint8_t")
    one = ways == 1
    names = ["a"] if one else [f"a{i}" for i in range(ways)]
    sums = ["total"] if one else [f"out[{i}]" for i in range(ways)]
    if (a, b) == ("u8", "s8"):
        operands, fix, sign = "va{i}, vb", None, ""
    elif (a, b) == ("s8", "s8"):
        operands, fix, sign = "_mm512_xor_si512(va{i}, flip), vb", "_mm512_dpbusd_epi32(fix, ones, vb)", "-"
    else:
        operands, fix, sign = "vb, _mm512_xor_si512(va{i}, flip)", "_mm512_dpbusd_epi32(fix, vb, ones)", ""

    def step(load: str) -> str:   # load: the load of 64 bytes at {p}
        return (f"      const __m512i vb = {load.format(p='b + r')};\n" +
                "".join(f"      const __m512i va{i} = {load.format(p=x + ' + r')};\n" for i, x in enumerate(names)) +
                "".join(f"      acc{i} = _mm512_dpbusd_epi32(acc{i}, {operands.format(i=i)});\n"
                        for i in range(ways)) +
                (f"      fix = {fix};\n" if fix else ""))
    params = ", ".join(f"const {ta} *{x}" for x in names) + ("," if one else ",\n   ") + f" const {tb} *b, long long n"
    return ((f"static inline long long __xp_dot_{a}{b}({params}) {{\n  long long total = 0;\n" if one else
             f"static inline void __xp_dot4_{a}{b}({params}, long long *out) {{\n"
             f"  {' = '.join(sums)} = 0;\n") +
            "  const __m512i flip = _mm512_set1_epi8((char)0x80), ones = _mm512_set1_epi8(1);\n"
            "  for (long long r0 = 0; r0 < n; r0 += 65536) {\n"
            "    const long long end = n - r0 < 65536 ? n : r0 + 65536;\n"
            f"    __m512i fix = _mm512_setzero_si512(), {', '.join(f'acc{i} = fix' for i in range(ways))};\n"
            "    long long r = r0;\n"
            "    for (; r + 64 <= end; r += 64) {\n"
            + step("_mm512_loadu_si512({p})") +
            "    }\n"
            "    if (r < end) {\n"
            "      const __mmask64 k = _cvtu64_mask64(~0ULL >> (64 - (end - r)));\n"
            + step("_mm512_maskz_loadu_epi8(k, {p})") +
            "    }\n"
            + (f"    const long long correction = {sign}128LL * _mm512_reduce_add_epi32(fix);\n" if fix else "")
            + "".join(f"    {total} += _mm512_reduce_add_epi32(acc{i}){' + correction' if fix else ''};\n"
                      for i, total in enumerate(sums)) +
            "  }\n"
            "  (void)flip; (void)ones;\n"
            + ("  return total;\n" if one else "") +
            "}")


ENTRIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "half": ("typedef _Float16 half;", ()),
    "__half": ("typedef _Float16 __half;", ()),
    "dim3": ("struct dim3 {\n  unsigned x, y, z;\n  dim3(unsigned x = 1, unsigned y = 1, unsigned z = 1) : x(x), y(y), z(z) {}\n};", ()),
    # detensorize (passes/detensorize.py): exact conversions the scalar descriptions of intrinsics use
    "__xp_from_double": ("template <typename T> static inline T __xp_from_double(double v) {\n"
                         "  /* integers: round to nearest even, saturate, NaN -> 0 (BANG's rounding) */\n"
                         "  if (v != v) return (T)0;\n"
                         "  const int bits = 8 * (int)sizeof(T);\n"
                         "  const double lo = (T)-1 < (T)0 ? -ldexp(1.0, bits - 1) : 0.0;\n"
                         "  const double hi = (T)-1 < (T)0 ? ldexp(1.0, bits - 1) - 1 : ldexp(1.0, bits) - 1;\n"
                         "  double r = nearbyint(v);\n"
                         "  return (T)(long long)(r < lo ? lo : r > hi ? hi : r);\n"
                         "}", ()),
    "__xp_to_fix": ("template <typename T> static inline T __xp_to_fix(double v, int position, int toward_zero) {\n"
                    "  /* round(v / 2^position), to nearest even or toward zero, saturated; NaN -> 0 */\n"
                    "  v = ldexp(v, -position);\n"
                    "  if (v != v) return (T)0;\n"
                    "  const int bits = 8 * (int)sizeof(T);\n"
                    "  const double lo = (T)-1 < (T)0 ? -ldexp(1.0, bits - 1) : 0.0;\n"
                    "  const double hi = (T)-1 < (T)0 ? ldexp(1.0, bits - 1) - 1 : ldexp(1.0, bits) - 1;\n"
                    "  double r = toward_zero ? trunc(v) : nearbyint(v);\n"
                    "  return (T)(long long)(r < lo ? lo : r > hi ? hi : r);\n"
                    "}", ()),
    "__xp_float2half": ("static inline half __xp_float2half(float f, int mode) {\n"
                        "  /* mode 0: nearest even, 1: toward zero, 2: down, 3: up */\n"
                        "  half h = (half)f;\n"
                        "  float r = (float)h;\n"
                        "  if (mode == 0 || f != f || r == f) return h;\n"
                        "  unsigned short b;\n"
                        "  memcpy(&b, &h, 2);\n"
                        "  unsigned short down = (b & 0x7fff) == 0 ? 0x8001 : (b & 0x8000) ? b + 1 : b - 1;\n"
                        "  unsigned short up = (b & 0x7fff) == 0 ? 0x0001 : (b & 0x8000) ? b - 1 : b + 1;\n"
                        "  if (mode == 2 && r > f) b = down;\n"
                        "  else if (mode == 3 && r < f) b = up;\n"
                        "  else if (mode == 1 && fabsf(r) > fabsf(f)) b = f > 0 ? down : up;\n"
                        "  memcpy(&h, &b, 2);\n"
                        "  return h;\n"
                        "}", ("half",)),
    # tensorize (passes/tensorize.py): byte dot products by vpdpbusd (intrinsic registry: vnni.dot_*)
    "__xp_immintrin": ("#include <immintrin.h>", ()),
    **{f"__xp_dot_{a}{b}": (_dot_products(a, b), ("__xp_immintrin",)) for a, b in (("s8", "s8"), ("u8", "s8"), ("u8", "u8"))},
    **{f"__xp_dot4_{t}{t}": (_dot_products(t, t, 4), ("__xp_immintrin",)) for t in ("s8", "u8")},
    # c-prelude (passes/c_prelude.py): _Float16 -> float in one instruction, opaque to gcc's folding of
    # (double)(float)h into a libgcc call; the VNNI flags have AVX-512 (VL) but not F16C's _cvtsh_ss
    "__xp_half_to_float": ("static inline float __xp_half_to_float(half h) {\n"
                           "  unsigned short bits;\n"
                           "  memcpy(&bits, &h, 2);\n"
                           "  return _mm_cvtss_f32(_mm_maskz_cvtph_ps(1, _mm_cvtsi32_si128(bits)));\n"
                           "}", ("half", "__xp_immintrin")),
    "__xp_lane16": ("static inline short __xp_lane16(const void *v, int i) {\n"
                    "  short x;\n"
                    "  memcpy(&x, (const char *)v + 2 * i, 2);\n"
                    "  return x;\n"
                    "}", ()),
    "__xp_set_lane16": ("static inline void __xp_set_lane16(void *v, int i, int x) {\n"
                        "  short s = (short)x;\n"
                        "  memcpy((char *)v + 2 * i, &s, 2);\n"
                        "}", ()),
    "__float2half": ("static inline half __float2half(float x) { return (half)x; }", ("half",)),
    "__float2half_rn": ("static inline half __float2half_rn(float x) { return (half)x; }", ("half",)),
    "__half2float": ("static inline float __half2float(half x) { return (float)x; }", ("half",)),
    "__int2half_rn": ("static inline half __int2half_rn(int x) { return (half)x; }", ("half",)),
    "__hadd": ("static inline half __hadd(half a, half b) { return (half)((float)a + (float)b); }", ("half",)),
    "__hsub": ("static inline half __hsub(half a, half b) { return (half)((float)a - (float)b); }", ("half",)),
    "__hmul": ("static inline half __hmul(half a, half b) { return (half)((float)a * (float)b); }", ("half",)),
    "__hdiv": ("static inline half __hdiv(half a, half b) { return (half)((float)a / (float)b); }", ("half",)),
    "__half2": ("struct __half2 {\n  half x, y;\n};", ("half",)),
    "half2": ("typedef __half2 half2;", ("__half2",)),
    "__float2half2_rn": ("static inline __half2 __float2half2_rn(float v) { return {(half)v, (half)v}; }", ("__half2",)),
    "__floats2half2_rn": ("static inline __half2 __floats2half2_rn(float a, float b) { return {(half)a, (half)b}; }",
                          ("__half2",)),
    "__halves2half2": ("static inline __half2 __halves2half2(half a, half b) { return {a, b}; }", ("__half2",)),
    "__low2half": ("static inline half __low2half(__half2 v) { return v.x; }", ("__half2",)),
    "__high2half": ("static inline half __high2half(__half2 v) { return v.y; }", ("__half2",)),
    "__low2float": ("static inline float __low2float(__half2 v) { return (float)v.x; }", ("__half2",)),
    "__high2float": ("static inline float __high2float(__half2 v) { return (float)v.y; }", ("__half2",)),
    "__hgt": ("static inline bool __hgt(half a, half b) { return (float)a > (float)b; }", ("half",)),
    "__hge": ("static inline bool __hge(half a, half b) { return (float)a >= (float)b; }", ("half",)),
    "__hlt": ("static inline bool __hlt(half a, half b) { return (float)a < (float)b; }", ("half",)),
    "__hle": ("static inline bool __hle(half a, half b) { return (float)a <= (float)b; }", ("half",)),
    "__heq": ("static inline bool __heq(half a, half b) { return (float)a == (float)b; }", ("half",)),
    "__hneg": ("static inline half __hneg(half a) { return (half)(-(float)a); }", ("half",)),
    # cuda_fp16.h's __hmax / __hmin (and _nan): a NaN operand gives the other operand (both NaN, or any
    # NaN for _nan: the canonical NaN 0x7fff), +0 is the larger of two zeros. In float (halves convert
    # exactly) with SSE selects: `a > b ? a : b` on halves compiles to a branch per element (no vector
    # code for _Float16 without AVX512-FP16), a mispredicted one on data of mixed signs
    "__xp_hminmax": ("#include <immintrin.h>\n"
                     "static inline half __xp_hminmax(half a, half b, bool is_max, bool nan_wins) {\n"
                     "  const __m128 x = _mm_set_ss((float)a), y = _mm_set_ss((float)b);\n"
                     "  __m128 r = is_max ? _mm_max_ss(x, y) : _mm_min_ss(x, y);  /* x NaN: y */\n"
                     "  r = _mm_blendv_ps(r, x, _mm_cmpunord_ss(y, y));  /* y NaN: x */\n"
                     "  r = _mm_blendv_ps(r, is_max ? _mm_and_ps(x, y) : _mm_or_ps(x, y), _mm_cmpeq_ss(x, y));\n"
                     "  const __m128 xn = _mm_cmpunord_ss(x, x), yn = _mm_cmpunord_ss(y, y);\n"
                     "  r = _mm_blendv_ps(r, _mm_castsi128_ps(_mm_set1_epi32(0x7fffe000)),\n"
                     "                    nan_wins ? _mm_or_ps(xn, yn) : _mm_and_ps(xn, yn));\n"
                     "  return (half)_mm_cvtss_f32(r);\n"
                     "}", ("half",)),
    "__hmax": ("static inline half __hmax(half a, half b) { return __xp_hminmax(a, b, true, false); }", ("__xp_hminmax",)),
    "__hmin": ("static inline half __hmin(half a, half b) { return __xp_hminmax(a, b, false, false); }", ("__xp_hminmax",)),
    "__hmax_nan": ("static inline half __hmax_nan(half a, half b) { return __xp_hminmax(a, b, true, true); }",
                   ("__xp_hminmax",)),
    "__hmin_nan": ("static inline half __hmin_nan(half a, half b) { return __xp_hminmax(a, b, false, true); }",
                   ("__xp_hminmax",)),
    "__hmax2": ("static inline __half2 __hmax2(__half2 a, __half2 b) { return {__hmax(a.x, b.x), __hmax(a.y, b.y)}; }",
                ("__half2", "__hmax")),
    "__hmin2": ("static inline __half2 __hmin2(__half2 a, __half2 b) { return {__hmin(a.x, b.x), __hmin(a.y, b.y)}; }",
                ("__half2", "__hmin")),
    "__hmax2_nan": ("static inline __half2 __hmax2_nan(__half2 a, __half2 b) { return {__hmax_nan(a.x, b.x), "
                    "__hmax_nan(a.y, b.y)}; }", ("__half2", "__hmax_nan")),
    "__hmin2_nan": ("static inline __half2 __hmin2_nan(__half2 a, __half2 b) { return {__hmin_nan(a.x, b.x), "
                    "__hmin_nan(a.y, b.y)}; }", ("__half2", "__hmin_nan")),
    "__hadd2": ("static inline __half2 __hadd2(__half2 a, __half2 b) { return {(half)((float)a.x + (float)b.x), "
                "(half)((float)a.y + (float)b.y)}; }", ("__half2",)),
    "__hmul2": ("static inline __half2 __hmul2(__half2 a, __half2 b) { return {(half)((float)a.x * (float)b.x), "
                "(half)((float)a.y * (float)b.y)}; }", ("__half2",)),
    "float2": ("struct float2 {\n  float x, y;\n};", ()),
    "float4": ("struct float4 {\n  float x, y, z, w;\n};", ()),
    "int2": ("struct int2 {\n  int x, y;\n};", ()),
    "int4": ("struct int4 {\n  int x, y, z, w;\n};", ()),
    "make_float2": ("static inline float2 make_float2(float x, float y) { return {x, y}; }", ("float2",)),
    "make_float4": ("static inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }",
                    ("float4",)),
    "__fdividef": ("static inline float __fdividef(float x, float y) { return x / y; }", ()),
    "__saturatef": ("static inline float __saturatef(float x) { return x < 0.0f ? 0.0f : x > 1.0f ? 1.0f : x; }", ()),
    "rsqrtf": ("static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }", ()),
    "__frcp_rn": ("static inline float __frcp_rn(float x) { return 1.0f / x; }", ()),
    "cudaStream_t": ("typedef int cudaStream_t;", ()),
    "cudaEvent_t": ("typedef int cudaEvent_t;", ()),
    "cudaError_t": ("typedef int cudaError_t;", ()),
    "hipStream_t": ("typedef int hipStream_t;", ()),
    "hipEvent_t": ("typedef int hipEvent_t;", ()),
    "hipError_t": ("typedef int hipError_t;", ()),
    "cudaSuccess": ("static const int cudaSuccess = 0;", ()),
    "hipSuccess": ("static const int hipSuccess = 0;", ()),
    "cnrtQueue_t": ("typedef int cnrtQueue_t;", ()),
    "cnrtNotifier_t": ("typedef int cnrtNotifier_t;", ()),
    "cnrtRet_t": ("typedef int cnrtRet_t;", ()),
    "cnrtDim3_t": ("struct cnrtDim3_t {\n  unsigned x, y, z;\n};", ()),
    "cnrtFunctionType_t": ("typedef int cnrtFunctionType_t;", ()),
    "__xpiler_union_job": (
        "// BLOCK launches run tasks alone; UNIONn launches run them as one job of clusters of 4 cores.\n"
        "enum { CNRT_FUNC_TYPE_BLOCK = 1, CNRT_FUNC_TYPE_UNION1 = 4, CNRT_FUNC_TYPE_UNION2 = 8, CNRT_FUNC_TYPE_UNION4 = 16,\n"
        "       CNRT_FUNC_TYPE_UNION8 = 32, CNRT_FUNC_TYPE_UNION16 = 64, cnrtFuncTypeBlock = 1, cnrtFuncTypeUnion1 = 4,\n"
        "       cnrtFuncTypeUnion2 = 8, cnrtFuncTypeUnion4 = 16, cnrtFuncTypeUnion8 = 32, cnrtFuncTypeUnion16 = 64 };\n"
        "static inline int __xpiler_union_job(int func_type) { return func_type != 1; }", ()),
    "__xpiler_ballot": (
        "// Warp votes over the lanes [0, n) of one warp (votes[i] is lane i's predicate).\n"
        "static inline unsigned long long __xpiler_ballot(const bool *votes, unsigned n) {\n"
        "  unsigned long long mask = 0;\n  for (unsigned i = 0; i < n; ++i) mask |= (unsigned long long)votes[i] << i;\n"
        "  return mask;\n}", ()),
    "__xpiler_any": ("static inline int __xpiler_any(const bool *votes, unsigned n) {\n"
                     "  for (unsigned i = 0; i < n; ++i) if (votes[i]) return 1;\n  return 0;\n}", ()),
    "__xpiler_all": ("static inline int __xpiler_all(const bool *votes, unsigned n) {\n"
                     "  for (unsigned i = 0; i < n; ++i) if (!votes[i]) return 0;\n  return 1;\n}", ()),
    "__xpiler_mfma": (
        "// AMD MFMA over one 64-lane wavefront (layouts of simt.md): a, b, c point at lane 0's operands;\n"
        "// returns lane `lane`'s part of D = A * B + C. G = 16 or 32 rows, NA operand elements per lane:\n"
        "// A[r][k] is element k % NA of lane r + G * (k / NA)'s a, B[k][n] the same of lane n + G * (k / NA)'s b\n"
        "// (read in place: a lane that gathered the whole wave's operands first did 64 lanes' work).\n"
        "template <class V> static inline float __xpiler_elem(const V &v, int i) { return (float)v[i]; }\n"
        "static inline float __xpiler_elem(float v, int) { return v; }\n"
        "template <int G, int NA, int ND, class VA, class VC>\n"
        "static inline VC __xpiler_mfma(const VA *a, const VA *b, const VC *c, unsigned lane) {\n"
        "  const int K = NA * 64 / G, n = lane % G;\n"
        "  VC d = c[lane];\n"
        "  for (int j = 0; j < ND; ++j) {\n"
        "    int r = G == 16 ? 4 * (lane / 16) + j : 8 * (j / 4) + 4 * (lane / 32) + j % 4;\n"
        "    float acc = __xpiler_elem(c[lane], j);\n"
        "    for (int k = 0; k < K; ++k)\n"
        "      acc += __xpiler_elem(a[r + G * (k / NA)], k % NA) * __xpiler_elem(b[n + G * (k / NA)], k % NA);\n"
        "    d[j] = acc;\n"
        "  }\n"
        "  return d;\n"
        "}", ()),
    "__xpiler_mfma_f32_16x16x16f16": ("#define __xpiler_mfma_f32_16x16x16f16(a, b, c, lane) __xpiler_mfma<16, 4, 4>(a, b, c, lane)",
                                      ("__xpiler_mfma",)),
    "__xpiler_mfma_f32_32x32x8f16": ("#define __xpiler_mfma_f32_32x32x8f16(a, b, c, lane) __xpiler_mfma<32, 4, 16>(a, b, c, lane)",
                                     ("__xpiler_mfma",)),
    "__xpiler_mfma_f32_16x16x4f32": ("#define __xpiler_mfma_f32_16x16x4f32(a, b, c, lane) __xpiler_mfma<16, 1, 4>(a, b, c, lane)",
                                     ("__xpiler_mfma",)),
    "__xpiler_mfma_f32_32x32x2f32": ("#define __xpiler_mfma_f32_32x32x2f32(a, b, c, lane) __xpiler_mfma<32, 1, 16>(a, b, c, lane)",
                                     ("__xpiler_mfma",)),
    "__ldg": ("template <typename T> static inline T __ldg(const T *p) { return *p; }", ()),
    "CNRT_CHECK": ("#define CNRT_CHECK(call) (call)", ()),
    "__device__": ("#define __device__", ()),
    "__host__": ("#define __host__", ()),
    "__forceinline__": ("#define __forceinline__ inline", ()),
    "__mlu_func__": ("#define __mlu_func__", ()),
    "__restrict__": ("", ()),
    "cudaDeviceProp": ("struct cudaDeviceProp {\n  char name[256];\n  int multiProcessorCount, warpSize, maxThreadsPerBlock;\n"
                       "  size_t sharedMemPerBlock, totalGlobalMem;\n  int maxThreadsDim[3], maxGridSize[3], major, minor, clockRate;\n};",
                       ()),
    "hipDeviceProp_t": ("typedef cudaDeviceProp hipDeviceProp_t;", ("cudaDeviceProp",)),
    "__xpiler_device_properties": (
        "// The device a sequential C program runs on: one that any launch configuration fits.\n"
        "static inline int __xpiler_device_properties(cudaDeviceProp *p) {\n"
        "  *p = cudaDeviceProp{\"xpiler sequential C\", 1, 32, 1024, 1 << 16, (size_t)1 << 34, {1024, 1024, 64},\n"
        "                      {2147483647, 65535, 65535}, 9, 0, 1000000};\n  return 0;\n}", ("cudaDeviceProp",)),
    "max": ("template <typename T> static inline T max(T a, T b) { return a > b ? a : b; }", ()),
    "min": ("template <typename T> static inline T min(T a, T b) { return a < b ? a : b; }", ()),
}

for _name in ("CNRT_FUNC_TYPE_BLOCK", "CNRT_FUNC_TYPE_UNION1", "CNRT_FUNC_TYPE_UNION2", "CNRT_FUNC_TYPE_UNION4",
              "CNRT_FUNC_TYPE_UNION8", "CNRT_FUNC_TYPE_UNION16", "cnrtFuncTypeBlock", "cnrtFuncTypeUnion1",
              "cnrtFuncTypeUnion2", "cnrtFuncTypeUnion4", "cnrtFuncTypeUnion8", "cnrtFuncTypeUnion16"):
    ENTRIES[_name] = ("", ("__xpiler_union_job",))

# glibc's vector math library (libmvec, linked through -lm) has AVX-512 variants of these; declared
# `simd`, a call in an `omp simd` loop vectorises instead of calling the scalar function per element.
# Accuracy: libmvec's float functions are within 4 ulp (CUDA's own expf: 2 ulp, __expf far more).
_LIBMVEC = {(2, 22): ("exp", "log", "sin", "cos", "pow"),
            (2, 35): ("tanh", "exp2", "log2", "log10", "expm1", "log1p", "atan", "asin", "acos", "sinh", "cosh",
                      "tan", "erf", "cbrt", "atan2", "hypot", "exp10")}
LIBMVEC: dict[str, str] = {}
for (_major, _minor), _names in _LIBMVEC.items():
    for _base in _names:
        for _name, _t in ((_base + "f", "float"), (_base, "double")):
            _args = f"{_t}, {_t}" if _base in ("pow", "atan2", "hypot") else _t
            LIBMVEC[_name] = (
                f"#if defined(__x86_64__) && defined(__GLIBC__) && (__GLIBC__ > {_major} || "
                f"(__GLIBC__ == {_major} && __GLIBC_MINOR__ >= {_minor}))\n"
                f"extern \"C\" {_t} {_name}({_args}) __attribute__((__simd__(\"notinbranch\")));  // libmvec\n#endif")

# fmaxf / fminf as selects gcc vectorises (-O2 keeps them calls): glibc's x86-64 result bit for bit
# (``maxss``, so the second operand when the two compare equal, as +0 and -0 do; the number when one
# is a NaN), NaN payloads aside.
VECTOR_MINMAX = {
    name: f"static inline {t} __xp_{name}({t} a, {t} b) {{ return a {op} b || b != b ? a : b; }}"
    for name, t, op in (("fmaxf", "float", ">"), ("fminf", "float", "<"), ("fmax", "double", ">"),
                        ("fmin", "double", "<"))}

# What gcc -O2 leaves out and a SIMD loop of a lowered kernel needs:
# - it does not unswitch loops, so it does not vectorise a loop that branches on a value the loop
#   does not change (a pooling kind, an activation flag);
# - its "very cheap" vectoriser cost model vectorises no loop with a load under a condition (a tile
#   loaded with its tail zeroed, a convolution's padding, a thread's guard): "no vectype for stmt
#   .MASK_LOAD". The "cheap" model (-O3 uses "dynamic") allows masked loads and stores.
VECTORISER_OPTIONS = '#pragma GCC optimize("unswitch-loops", "vect-cost-model=cheap")'

# Fast-math spellings with a C library equivalent (glibc declares some of them itself).
RENAMES = {"__expf": "expf", "__logf": "logf", "__powf": "powf", "__sinf": "sinf", "__cosf": "cosf",
           "__tanf": "tanf", "__exp10f": "exp10f", "__log2f": "log2f", "__log10f": "log10f"}

# Headers every lowered program includes (math functions, fixed-width integers, memcpy).
HEADERS = ("math.h", "stdint.h", "string.h", "stdlib.h")


# Entries with another definition in device dialects, whose compilers do not target x86 (the x86
# forms above are for the C target only): the same results in portable C.
DEVICE_ENTRIES = {
    "__xp_hminmax": ("static inline half __xp_hminmax(half a, half b, bool is_max, bool nan_wins) {\n"
                     "  const float x = (float)a, y = (float)b;\n"
                     "  if (x != x || y != y) {\n"
                     "    if (nan_wins || (x != x && y != y)) {\n"
                     "      union { unsigned short bits; half value; } canonical = {0x7fff};\n"
                     "      return canonical.value;\n"
                     "    }\n"
                     "    return x != x ? b : a;\n"
                     "  }\n"
                     "  if (x == y)  /* +0 is the larger of two zeros */\n"
                     "    return (signbit(x) != 0) == is_max ? b : a;\n"
                     "  return (is_max ? x > y : x < y) ? a : b;\n"
                     "}", ("half",)),
}


def _device_dot_product(a: str, b: str, target: str) -> str:
    """C text of ``__xp_dot_<a><b>(a, b, n)`` for a GPU: the sum of ``a[r] * b[r]`` over ``r < n``,
    exact in 64 bits, by the hardware's four-byte dot product (CUDA ``__dp4a``, HIP/CDNA
    ``__builtin_amdgcn_sdot4`` / ``udot4``) over the whole words of two 4-byte aligned operands, the
    rest (and unaligned operands) byte by byte. Only s8 x s8 and u8 x u8 exist in hardware: for u8 x s8
    the ``a``s are offset to ``a - 128`` (``a ^ 0x80``, signed bytes) and ``128 * sum(b)`` added back.
    Chunks of 16 KiB keep every 32-bit sum exact (4096 words of at most 4 * 255 * 255)."""
    ta, tb = ("int8_t" if a == "s8" else "uint8_t"), ("int8_t" if b == "s8" else "uint8_t")
    signed = (a, b) != ("u8", "u8")
    word, zero = ("int", "0") if signed else ("unsigned", "0u")
    dot = "__dp4a({x}, {y}, {c})" if target == "cuda" else \
        f"__builtin_amdgcn_{'s' if signed else 'u'}dot4({{x}}, {{y}}, {{c}}, false)"   # CUDA: overloaded
    wa = "(int)(wa ^ 0x80808080u)" if (a, b) == ("u8", "s8") else f"({word})wa"
    steps = f"        sum = {dot.format(x=wa, y=f'({word})wb', c='sum')};\n"
    fix = ""
    if (a, b) == ("u8", "s8"):
        steps += f"        ones = {dot.format(x='0x01010101', y='(int)wb', c='ones')};\n"
        fix = " + 128LL * ones"
    return (f"static __device__ inline long long __xp_dot_{a}{b}(const {ta} *a, const {tb} *b, long long n) {{\n"
            "  long long total = 0, r = 0;\n"
            "  if ((((uintptr_t)a | (uintptr_t)b) & 3) == 0) {\n"
            "    while (r + 4 <= n) {\n"
            "      const long long end = n - r > 16384 ? r + 16384 : n;\n"
            f"      {word} sum = {zero};\n" + ("      int ones = 0;\n" if fix else "") +
            "      for (; r + 4 <= end; r += 4) {\n"
            "        const unsigned wa = *(const unsigned *)(a + r), wb = *(const unsigned *)(b + r);\n"
            + steps +
            "      }\n"
            f"      total += (long long)sum{fix};\n"
            "    }\n"
            "  }\n"
            "  for (; r < n; ++r)\n"
            "    total += (long long)a[r] * (long long)b[r];\n"
            "  return total;\n"
            "}")


def _kept_scratch(api: str) -> str:
    """C text of ``__xpiler_scratch(slot, bytes)``: the scratch memory of a launch (per-block buffers
    too large for shared memory, :mod:`passes.bind`), kept from one call of the host entry to the next
    and grown when a call needs more. Allocating and freeing it around every launch costs more than a
    small kernel runs (the free waits for the device). One buffer per slot, host thread and device,
    released when the process ends; a null pointer when the allocation fails."""
    return (
        "// Scratch memory of a launch, kept from one call to the next (per slot, host thread and device)\n"
        "// and grown when a call needs more; released when the process ends.\n"
        "struct __xpiler_kept {\n  int slot, device;\n  size_t bytes;\n  void *memory;\n  struct __xpiler_kept *next;\n};\n"
        "static void *__xpiler_scratch(int slot, size_t bytes) {\n"
        "  static thread_local struct __xpiler_kept *kept = 0;\n"
        "  int device = 0;\n"
        f"  {api}GetDevice(&device);\n"
        "  struct __xpiler_kept *k = kept;\n"
        "  while (k && (k->slot != slot || k->device != device))\n    k = k->next;\n"
        "  if (!k) {\n"
        "    k = (struct __xpiler_kept *)calloc(1, sizeof *k);\n"
        "    if (!k)\n      return 0;\n"
        "    k->slot = slot;\n    k->device = device;\n    k->next = kept;\n    kept = k;\n"
        "  }\n"
        "  if (k->bytes < bytes) {\n"
        f"    if (k->memory)\n      {api}Free(k->memory);\n"
        "    k->memory = 0;\n    k->bytes = 0;\n"
        f"    if ({api}Malloc(&k->memory, bytes) != {api}Success)\n      return 0;\n"
        "    k->bytes = bytes;\n"
        "  }\n"
        "  return k->memory;\n"
        "}")


# tensorize{target=cuda|hip} (passes/tensorize.py): byte dot products by the GPUs' four-byte dot
# product instructions (intrinsic registry: vnni.dot_*, spelled the same on every target); bind's kept
# scratch memory
TARGET_ENTRIES = {target: {**{f"__xp_dot_{a}{b}": (_device_dot_product(a, b, target), ())
                              for a, b in (("s8", "s8"), ("u8", "s8"), ("u8", "u8"))},
                           "__xpiler_scratch": (_kept_scratch(target), ())} for target in ("cuda", "hip")}


def needed(module: ir.Module, entries: dict = ENTRIES) -> list[str]:
    """Prelude entries ``module`` uses (directly or through other entries), in table order."""
    used = set()
    for node in ir.walk(module):
        if isinstance(node, ir.Name):
            used.add(node.id)
        elif isinstance(node, ir.Type):
            used.update(re.findall(r"\w+", node.base))
        elif isinstance(node, (ir.Verbatim, ir.RawExpr)):
            used.update(re.findall(r"\w+", node.text))
    defined = {f.name for f in module.functions()} | {
        item.name for item in module.items if isinstance(item, ir.Define)}
    want = {name for name in entries if name in used and name not in defined}
    changed = True
    while changed:
        changed = False
        for name in list(want):
            for dep in entries[name][1]:
                if dep not in want:
                    want.add(dep)
                    changed = True
    return [name for name in entries if name in want]


def with_prelude(module: ir.Module, vector_math: bool = False) -> ir.Module:
    """``module`` with the standard headers and the prelude entries it needs, after its includes;
    fast-math spellings renamed to their C library equivalents. ``vector_math``: code that gcc -O2
    vectorises: the math functions it calls that libmvec has declared ``simd`` (vectorised calls,
    within 4 ulp of libm), ``fmaxf`` / ``fminf`` / ``fmax`` / ``fmin`` as selects (libm's results),
    its loops unswitched and loads under conditions vectorised (``#pragma GCC optimize``)."""
    module = ir.rewrite(module, lambda n: ir.Name(RENAMES[n.id]) if isinstance(n, ir.Name) and n.id in RENAMES else n)
    minmax: set = set()
    if vector_math:
        own = {f.name for f in module.functions()}
        minmax = (_called(module) & set(VECTOR_MINMAX)) - own
        module = ir.rewrite(module, lambda n: replace(n, func=ir.Name(f"__xp_{n.func.id}")) if isinstance(n, ir.Call)
                            and isinstance(n.func, ir.Name) and n.func.id in minmax else n)
        # and in source kept as text (the static member functions of a functor struct)
        texts = [i for i in module.items if isinstance(i, ir.Verbatim)]
        for name in set(VECTOR_MINMAX) - own:
            if any(re.search(rf"(?<![\w:.>]){name}\s*\(", v.text) for v in texts):
                minmax.add(name)
        module = ir.Module(module.dialect, tuple(
            replace(i, text=re.sub(rf"(?<![\w:.>])({'|'.join(sorted(minmax))})(\s*\()", r"__xp_\1\2", i.text))
            if isinstance(i, ir.Verbatim) and minmax else i for i in module.items), module.filename)
    items = list(module.items)
    have = {i.path for i in items if isinstance(i, ir.Include)}
    headers = [ir.Include(h) for h in HEADERS if h not in have]
    at = 0
    while at < len(items) and isinstance(items[at], (ir.Include, ir.Comment)):
        at += 1
    prelude = [ir.Verbatim(ENTRIES[name][0], "prelude") for name in needed(module) if ENTRIES[name][0]]
    if vector_math:
        prelude += [ir.Verbatim(LIBMVEC[name], "vector math") for name in sorted(_called(module) & set(LIBMVEC))]
        prelude += [ir.Verbatim(VECTOR_MINMAX[name], "vector math") for name in sorted(minmax)]
        prelude.insert(0, ir.Verbatim(VECTORISER_OPTIONS, "vector math"))
    return ir.Module(module.dialect, tuple(items[:at] + headers + prelude + items[at:]), module.filename)


def _called(module: ir.Module) -> set[str]:
    return {n.func.id for n in ir.walk(module) if isinstance(n, ir.Call) and isinstance(n.func, ir.Name)}


# What the device dialects' own headers already define (their prelude leaves these out).
_TARGET_DEFINES = {
    "cuda": {"half", "__half", "__half2", "half2", "__float2half", "__float2half_rn", "__half2float", "__int2half_rn",
             "__hadd", "__hsub", "__hmul", "__hdiv", "__float2half2_rn", "__floats2half2_rn", "__halves2half2",
             "__low2half", "__high2half", "__low2float", "__high2float", "__hadd2", "__hmul2", "dim3", "float2",
             "float4", "int2", "int4", "make_float2", "make_float4", "__fdividef", "__saturatef", "rsqrtf",
             "__frcp_rn", "cudaStream_t", "cudaEvent_t", "cudaError_t", "cudaSuccess", "__ldg", "max", "min",
             "__device__", "__forceinline__", "__restrict__", "cudaDeviceProp"},
    "bang": {"half", "cnrtQueue_t", *(n for n in ENTRIES if n.startswith(("CNRT_FUNC_TYPE_", "cnrtFuncType"))), "cnrtNotifier_t", "cnrtRet_t", "cnrtDim3_t", "cnrtFunctionType_t",
             "CNRT_CHECK", "__mlu_func__", "__restrict__"},
}
_TARGET_DEFINES["hip"] = _TARGET_DEFINES["cuda"] | {"hipStream_t", "hipEvent_t", "hipError_t", "hipSuccess",
                                                    "hipDeviceProp_t"}
_TARGET_HEADERS = {"cuda": ("cuda_runtime.h", "cuda_fp16.h"), "hip": ("hip/hip_runtime.h", "hip/hip_fp16.h"),
                   "bang": ("bang.h",)}
_DEVICE_CALLABLE = {"cuda": "__host__ __device__ ", "hip": "__host__ __device__ ", "bang": "__mlu_func__ "}


def with_target_prelude(module: ir.Module, target: str) -> ir.Module:
    """The prelude of a program raised to a device dialect: the dialect's runtime headers, the C
    headers, and the entries its own headers lack, callable from device code."""
    if target == "bang":  # SIMT fast-math spellings have no BANG counterpart
        module = ir.rewrite(module, lambda n: ir.Name(RENAMES[n.id]) if isinstance(n, ir.Name) and n.id in RENAMES else n)
    items = [i for i in module.items if not (isinstance(i, ir.Include) and i.path in HEADERS)]
    module = ir.Module(module.dialect, tuple(items), module.filename)
    have = {i.path for i in items if isinstance(i, ir.Include)}
    headers = [ir.Include(h) for h in _TARGET_HEADERS[target] + ("math.h", "stdint.h", "string.h", "stdlib.h")
               if h not in have]
    at = 0
    while at < len(items) and isinstance(items[at], (ir.Include, ir.Comment)):
        at += 1
    skip = _TARGET_DEFINES[target]
    callable_ = _DEVICE_CALLABLE[target]
    prelude = []
    own = TARGET_ENTRIES.get(target, {})
    for name in needed(module, {**ENTRIES, **own}):
        text = (own[name] if name in own else DEVICE_ENTRIES.get(name) or ENTRIES[name])[0]
        if name in skip or not text or (target in ("cuda", "hip") and ("half" in text or name.startswith("__h"))):
            continue  # the SIMT headers (and the emulation's) have their own half precision
        if target == "bang" and name == "__xpiler_union_job":  # the enum is bang.h's own
            text = text[text.index("static inline"):]
        if target == "bang" and name == "__half":  # BANG's own half precision type is half
            text = "typedef half __half;"
        text = re.sub(r"\bstatic inline\b", "static inline " + callable_.strip(), text)
        prelude.append(ir.Verbatim(text, "prelude"))
    return ir.Module(module.dialect, tuple(items[:at] + headers + prelude + items[at:]), module.filename)
