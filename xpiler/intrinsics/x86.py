"""AVX-512 and AVX-512 VNNI intrinsics (semantics: ../shared/reference/vnni.md and Intel's intrinsics
guide).

Scalar descriptions work on vector values as arrays of lanes: an ``__m512`` is ``float[16]``, an
``__m512i`` 64 bytes held as ``int32_t[16]`` (byte lanes through ``(uint8_t *)`` / ``(int8_t *)``
views, 16-bit lanes through the ``__xp_lane16`` / ``__xp_set_lane16`` prelude helpers), an
``__m128i`` ``int32_t[4]``; a mask ``__mmask16`` is a ``uint16_t``. A vector result is written to
``r``; a scalar result is ``return``-ed. Integer lanes wrap (computed in ``unsigned``); fused
multiply-adds round once (``fmaf``); horizontal reductions follow GCC's tree order, so results are
bit-identical to the intrinsics.
"""

from __future__ import annotations

from .registry import intrinsic

_L16 = "for (int i = 0; i < 16; ++i)"


def _x86(name: str, sig: str, scalar: str, *, spelled: str | list | None = None, writes=(), doc: str = ""):
    intrinsic(name, "simd", sig, vnni=spelled or f"_mm512_{name.split('.', 1)[1]}", scalar=scalar, writes=writes,
              doc=doc)


# -- VNNI dot products ---------------------------------------------------------------------------
_DPBUSD = ("int s = 0; for (int j = 0; j < 4; ++j)"
           " s += (int)((const uint8_t *)a)[4 * i + j] * (int)((const int8_t *)b)[4 * i + j];")
_x86("avx512.dpbusd", "__m512i src, __m512i a, __m512i b",
     f"{_L16} {{ {_DPBUSD} r[i] = (int)((unsigned)src[i] + (unsigned)s); }}", spelled="_mm512_dpbusd_epi32",
     doc="u8 x s8 products, 4 per 32-bit lane, exact; the final add wraps")
_x86("avx512.dpbusds", "__m512i src, __m512i a, __m512i b",
     f"{_L16} {{ {_DPBUSD} long long t = (long long)src[i] + s;"
     " r[i] = t > 2147483647 ? 2147483647 : t < -2147483647 - 1 ? -2147483647 - 1 : (int)t; }",
     spelled="_mm512_dpbusds_epi32", doc="as dpbusd with a saturating final add")
_x86("avx512.mask_dpbusd", "__m512i src, __mmask16 k, __m512i a, __m512i b",
     f"{_L16} {{ {_DPBUSD} r[i] = (k >> i) & 1 ? (int)((unsigned)src[i] + (unsigned)s) : src[i]; }}",
     spelled="_mm512_mask_dpbusd_epi32")
_x86("avx512.maskz_dpbusd", "__mmask16 k, __m512i src, __m512i a, __m512i b",
     f"{_L16} {{ {_DPBUSD} r[i] = (k >> i) & 1 ? (int)((unsigned)src[i] + (unsigned)s) : 0; }}",
     spelled="_mm512_maskz_dpbusd_epi32")
_x86("avx512.dpwssd", "__m512i src, __m512i a, __m512i b",
     f"{_L16} r[i] = (int)((unsigned)src[i] + (unsigned)(__xp_lane16(a, 2 * i) * __xp_lane16(b, 2 * i))"
     " + (unsigned)(__xp_lane16(a, 2 * i + 1) * __xp_lane16(b, 2 * i + 1)));",
     spelled="_mm512_dpwssd_epi32", doc="int16 x int16 pairs summed into int32 lanes, wrapping")
intrinsic("avx.dpbusd256", "simd", "__m256i src, __m256i a, __m256i b",
          vnni=["_mm256_dpbusd_epi32", "_mm256_dpbusd_avx_epi32"],
          scalar=f"for (int i = 0; i < 8; ++i) {{ {_DPBUSD} r[i] = (int)((unsigned)src[i] + (unsigned)s); }}")
_x86("avx512.maddubs_epi16", "__m512i a, __m512i b",
     "for (int i = 0; i < 32; ++i) { int s = (int)((const uint8_t *)a)[2 * i] * (int)((const int8_t *)b)[2 * i]"
     " + (int)((const uint8_t *)a)[2 * i + 1] * (int)((const int8_t *)b)[2 * i + 1];"
     " __xp_set_lane16(r, i, s > 32767 ? 32767 : s < -32768 ? -32768 : s); }",
     doc="u8 x s8 pairs summed into int16 lanes with saturation (not equivalent to dpbusd)")
_x86("avx512.madd_epi16", "__m512i a, __m512i b",
     f"{_L16} r[i] = (int)((unsigned)(__xp_lane16(a, 2 * i) * __xp_lane16(b, 2 * i))"
     " + (unsigned)(__xp_lane16(a, 2 * i + 1) * __xp_lane16(b, 2 * i + 1)));")

# -- dot products of byte arrays (tensorize's VNNI target; implemented in the C prelude) ------------
# The sum of a[r] * b[r] over r < n, exact in 64 bits. The prelude's __xp_dot_* run vpdpbusd over 64
# bytes at a time (u8 x s8; the other signednesses through an offset of 128 taken off again).
for _a, _b in (("s8", "s8"), ("u8", "s8"), ("u8", "u8")):
    _ta, _tb = ("int8_t" if _a == "s8" else "uint8_t"), ("int8_t" if _b == "s8" else "uint8_t")
    intrinsic(f"vnni.dot_{_a}{_b}", "tensor", f"const {_ta} *a, const {_tb} *b, long long n",
              vnni=f"__xp_dot_{_a}{_b}",
              scalar="long long s = 0; for (long long r = 0; r < n; ++r) s += (long long)a[r] * (long long)b[r];"
                     " return s;",
              doc=f"sum of {_a} x {_b} products over n elements, exact (64-bit); vpdpbusd inside")

for _t in ("s8", "u8"):
    _c = "int8_t" if _t == "s8" else "uint8_t"
    intrinsic(f"vnni.dot4_{_t}{_t}", "tensor",
              f"const {_c} *a0, const {_c} *a1, const {_c} *a2, const {_c} *a3, const {_c} *b, long long n,"
              " long long *out", vnni=f"__xp_dot4_{_t}{_t}", writes=("out",),
              scalar="for (int i = 0; i < 4; ++i) { const auto *a = i == 0 ? a0 : i == 1 ? a1 : i == 2 ? a2 : a3;"
                     " long long s = 0; for (long long r = 0; r < n; ++r) s += (long long)a[r] * (long long)b[r];"
                     " out[i] = s; }",
              doc=f"four {_t} dot products against one shared operand, exact (64-bit); vpdpbusd inside")

# -- float vectors (16 x float) ------------------------------------------------------------------
_FLOAT = {
    "loadu_ps": ("const float *p", f"{_L16} r[i] = p[i];"),
    "load_ps": ("const float *p", f"{_L16} r[i] = p[i];"),
    "storeu_ps": ("float *p, __m512 a", f"{_L16} p[i] = a[i];"),
    "store_ps": ("float *p, __m512 a", f"{_L16} p[i] = a[i];"),
    "mask_loadu_ps": ("__m512 src, __mmask16 k, const float *p", f"{_L16} r[i] = (k >> i) & 1 ? p[i] : src[i];"),
    "mask_load_ps": ("__m512 src, __mmask16 k, const float *p", f"{_L16} r[i] = (k >> i) & 1 ? p[i] : src[i];"),
    "maskz_loadu_ps": ("__mmask16 k, const float *p", f"{_L16} r[i] = (k >> i) & 1 ? p[i] : 0;"),
    "maskz_load_ps": ("__mmask16 k, const float *p", f"{_L16} r[i] = (k >> i) & 1 ? p[i] : 0;"),
    "mask_storeu_ps": ("float *p, __mmask16 k, __m512 a", f"{_L16} if ((k >> i) & 1) p[i] = a[i];"),
    "mask_store_ps": ("float *p, __mmask16 k, __m512 a", f"{_L16} if ((k >> i) & 1) p[i] = a[i];"),
    "fmadd_ps": ("__m512 a, __m512 b, __m512 c", f"{_L16} r[i] = fmaf(a[i], b[i], c[i]);"),
    "fmsub_ps": ("__m512 a, __m512 b, __m512 c", f"{_L16} r[i] = fmaf(a[i], b[i], -c[i]);"),
    "fnmadd_ps": ("__m512 a, __m512 b, __m512 c", f"{_L16} r[i] = fmaf(-a[i], b[i], c[i]);"),
    "fnmsub_ps": ("__m512 a, __m512 b, __m512 c", f"{_L16} r[i] = fmaf(-a[i], b[i], -c[i]);"),
    "set1_ps": ("float v", f"{_L16} r[i] = v;"),
    "setzero_ps": ("", f"{_L16} r[i] = 0;"),
    "abs_ps": ("__m512 a", f"{_L16} r[i] = fabsf(a[i]);"),
    "sqrt_ps": ("__m512 a", f"{_L16} r[i] = sqrtf(a[i]);"),
    "exp_ps": ("__m512 a", f"{_L16} r[i] = expf(a[i]);"),
    "mask_mov_ps": ("__m512 src, __mmask16 k, __m512 a", f"{_L16} r[i] = (k >> i) & 1 ? a[i] : src[i];"),
    "maskz_mov_ps": ("__mmask16 k, __m512 a", f"{_L16} r[i] = (k >> i) & 1 ? a[i] : 0;"),
    "mask_blend_ps": ("__mmask16 k, __m512 a, __m512 b", f"{_L16} r[i] = (k >> i) & 1 ? b[i] : a[i];"),
    "cvtepi32_ps": ("__m512i a", f"{_L16} r[i] = (float)a[i];"),
    "cvtps_epi32": ("__m512 a", f"{_L16} r[i] = a[i] != a[i] || a[i] >= 2147483648.0f || a[i] < -2147483648.0f"
                                " ? -2147483647 - 1 : (int)rintf(a[i]);"),
    "cvttps_epi32": ("__m512 a", f"{_L16} r[i] = a[i] != a[i] || a[i] >= 2147483648.0f || a[i] < -2147483648.0f"
                                 " ? -2147483647 - 1 : (int)a[i];"),
    "cvtss_f32": ("__m512 a", "return a[0];"),
    "permutexvar_ps": ("__m512i idx, __m512 a", f"{_L16} r[i] = a[idx[i] & 15];"),
    # a * 2^floor(b) (VSCALEFPS; the exponent is clamped, which changes nothing for finite results)
    "scalef_ps": ("__m512 a, __m512 b", f"{_L16} {{ float e = floorf(b[i]);"
                                        " r[i] = ldexpf(a[i], e > 1000 ? 1000 : e < -1000 ? -1000 : (int)e); }"),
    # round to 2^-M with mode imm[1:0] (nearest even, down, up, toward zero); imm[2]: MXCSR (nearest)
    "roundscale_ps": ("__m512 a, int imm", f"{_L16} {{ float v = ldexpf(a[i], (imm >> 4) & 15);"
                                           " v = (imm & 4) || (imm & 3) == 0 ? rintf(v) : (imm & 3) == 1 ? floorf(v)"
                                           " : (imm & 3) == 2 ? ceilf(v) : truncf(v);"
                                           " r[i] = ldexpf(v, -((imm >> 4) & 15)); }"),
    # predicate imm (_CMP_*): the relation is imm & 15 (bit 4 only selects signalling behaviour)
    "cmp_ps_mask": ("__m512 a, __m512 b, int imm",
                    "unsigned m = 0; for (int i = 0; i < 16; ++i) { float x = a[i], y = b[i];"
                    " int u = x != x || y != y;"
                    " int c = (imm & 15) == 0 ? x == y : (imm & 15) == 1 ? x < y : (imm & 15) == 2 ? x <= y"
                    " : (imm & 15) == 3 ? u : (imm & 15) == 4 ? x != y : (imm & 15) == 5 ? !(x < y)"
                    " : (imm & 15) == 6 ? !(x <= y) : (imm & 15) == 7 ? !u : (imm & 15) == 8 ? u || x == y"
                    " : (imm & 15) == 9 ? !(x >= y) : (imm & 15) == 10 ? !(x > y) : (imm & 15) == 11 ? 0"
                    " : (imm & 15) == 12 ? !u && x != y : (imm & 15) == 13 ? x >= y : (imm & 15) == 14 ? x > y : 1;"
                    " m |= (unsigned)c << i; } return (__mmask16)m;"),
    # horizontal reductions in GCC's order (halves, then quarters, ...): bit-identical
    "reduce_add_ps": ("__m512 a", "float t[16]; for (int i = 0; i < 16; ++i) t[i] = a[i];"
                                  " for (int w = 8; w > 0; w /= 2) for (int i = 0; i < w; ++i) t[i] = t[i] + t[i + w];"
                                  " return t[0];"),
    "reduce_mul_ps": ("__m512 a", "float t[16]; for (int i = 0; i < 16; ++i) t[i] = a[i];"
                                  " for (int w = 8; w > 0; w /= 2) for (int i = 0; i < w; ++i) t[i] = t[i] * t[i + w];"
                                  " return t[0];"),
    "reduce_max_ps": ("__m512 a", "float t[16]; for (int i = 0; i < 16; ++i) t[i] = a[i];"
                                  " for (int w = 8; w > 2; w /= 2) for (int i = 0; i < w; ++i)"
                                  " t[i] = t[i + w] > t[i] ? t[i + w] : t[i];"
                                  " for (int i = 0; i < 2; ++i) t[i] = t[i] > t[i + 2] ? t[i] : t[i + 2];"
                                  " return t[0] > t[1] ? t[0] : t[1];"),
    "reduce_min_ps": ("__m512 a", "float t[16]; for (int i = 0; i < 16; ++i) t[i] = a[i];"
                                  " for (int w = 8; w > 2; w /= 2) for (int i = 0; i < w; ++i)"
                                  " t[i] = t[i + w] < t[i] ? t[i + w] : t[i];"
                                  " for (int i = 0; i < 2; ++i) t[i] = t[i] < t[i + 2] ? t[i] : t[i + 2];"
                                  " return t[0] < t[1] ? t[0] : t[1];"),
}
for _op, _sym in [("add", "a[i] + b[i]"), ("sub", "a[i] - b[i]"), ("mul", "a[i] * b[i]"), ("div", "a[i] / b[i]"),
                  ("max", "a[i] > b[i] ? a[i] : b[i]"), ("min", "a[i] < b[i] ? a[i] : b[i]")]:
    _FLOAT[f"{_op}_ps"] = ("__m512 a, __m512 b", f"{_L16} r[i] = {_sym};")
    _FLOAT[f"mask_{_op}_ps"] = ("__m512 src, __mmask16 k, __m512 a, __m512 b",
                                f"{_L16} r[i] = (k >> i) & 1 ? {_sym} : src[i];")
    _FLOAT[f"maskz_{_op}_ps"] = ("__mmask16 k, __m512 a, __m512 b", f"{_L16} r[i] = (k >> i) & 1 ? {_sym} : 0;")
for _name, (_sig, _scalar) in _FLOAT.items():
    _x86(f"avx512.{_name}", _sig, _scalar, writes=("p",) if "store" in _name else ())

# -- integer vectors (64 bytes as 16 x int32) ----------------------------------------------------
_B64 = "for (int i = 0; i < 64; ++i)"
_INT = {
    "loadu_si512": ("const void *p", f"{_B64} ((uint8_t *)r)[i] = ((const uint8_t *)p)[i];"),
    "load_si512": ("const void *p", f"{_B64} ((uint8_t *)r)[i] = ((const uint8_t *)p)[i];"),
    "loadu_epi32": ("const void *p", f"{_B64} ((uint8_t *)r)[i] = ((const uint8_t *)p)[i];"),
    "storeu_si512": ("void *p, __m512i a", f"{_B64} ((uint8_t *)p)[i] = ((const uint8_t *)a)[i];"),
    "store_si512": ("void *p, __m512i a", f"{_B64} ((uint8_t *)p)[i] = ((const uint8_t *)a)[i];"),
    "storeu_epi32": ("void *p, __m512i a", f"{_B64} ((uint8_t *)p)[i] = ((const uint8_t *)a)[i];"),
    "mask_storeu_epi32": ("int32_t *p, __mmask16 k, __m512i a", f"{_L16} if ((k >> i) & 1) p[i] = a[i];"),
    "mask_loadu_epi32": ("__m512i src, __mmask16 k, const int32_t *p", f"{_L16} r[i] = (k >> i) & 1 ? p[i] : src[i];"),
    "maskz_loadu_epi32": ("__mmask16 k, const int32_t *p", f"{_L16} r[i] = (k >> i) & 1 ? p[i] : 0;"),
    "maskz_loadu_epi8": ("__mmask64 k, const void *p",
                         f"{_B64} ((int8_t *)r)[i] = (k >> i) & 1 ? ((const int8_t *)p)[i] : 0;"),
    "setzero_si512": ("", f"{_L16} r[i] = 0;"),
    "set1_epi32": ("int v", f"{_L16} r[i] = v;"),
    "set1_epi8": ("char v", f"{_B64} ((int8_t *)r)[i] = v;"),
    "set1_epi16": ("short v", "for (int i = 0; i < 32; ++i) __xp_set_lane16(r, i, v);"),
    "add_epi32": ("__m512i a, __m512i b", f"{_L16} r[i] = (int)((unsigned)a[i] + (unsigned)b[i]);"),
    "sub_epi32": ("__m512i a, __m512i b", f"{_L16} r[i] = (int)((unsigned)a[i] - (unsigned)b[i]);"),
    "mullo_epi32": ("__m512i a, __m512i b", f"{_L16} r[i] = (int)((unsigned)a[i] * (unsigned)b[i]);"),
    "max_epi32": ("__m512i a, __m512i b", f"{_L16} r[i] = a[i] > b[i] ? a[i] : b[i];"),
    "min_epi32": ("__m512i a, __m512i b", f"{_L16} r[i] = a[i] < b[i] ? a[i] : b[i];"),
    "and_si512": ("__m512i a, __m512i b", f"{_L16} r[i] = a[i] & b[i];"),
    "or_si512": ("__m512i a, __m512i b", f"{_L16} r[i] = a[i] | b[i];"),
    "xor_si512": ("__m512i a, __m512i b", f"{_L16} r[i] = a[i] ^ b[i];"),
    "andnot_si512": ("__m512i a, __m512i b", f"{_L16} r[i] = ~a[i] & b[i];"),
    "and_epi32": ("__m512i a, __m512i b", f"{_L16} r[i] = a[i] & b[i];"),
    "or_epi32": ("__m512i a, __m512i b", f"{_L16} r[i] = a[i] | b[i];"),
    "xor_epi32": ("__m512i a, __m512i b", f"{_L16} r[i] = a[i] ^ b[i];"),
    "slli_epi32": ("__m512i a, unsigned imm", f"{_L16} r[i] = imm > 31 ? 0 : (int)((unsigned)a[i] << imm);"),
    "srli_epi32": ("__m512i a, unsigned imm", f"{_L16} r[i] = imm > 31 ? 0 : (int)((unsigned)a[i] >> imm);"),
    "srai_epi32": ("__m512i a, unsigned imm", f"{_L16} r[i] = a[i] >> (imm > 31 ? 31 : imm);"),
    "cvtepu8_epi32": ("__m128i a", f"{_L16} r[i] = ((const uint8_t *)a)[i];"),
    "cvtepi8_epi32": ("__m128i a", f"{_L16} r[i] = ((const int8_t *)a)[i];"),
    "cvtsi512_si32": ("__m512i a", "return a[0];"),
    "reduce_add_epi32": ("__m512i a", "unsigned s = 0; for (int i = 0; i < 16; ++i) s += (unsigned)a[i]; return (int)s;"),
    "reduce_max_epi32": ("__m512i a", "int s = a[0]; for (int i = 1; i < 16; ++i) s = a[i] > s ? a[i] : s; return s;"),
    "reduce_min_epi32": ("__m512i a", "int s = a[0]; for (int i = 1; i < 16; ++i) s = a[i] < s ? a[i] : s; return s;"),
    # byte shuffle inside each 128-bit lane: index bit 7 set gives 0
    "shuffle_epi8": ("__m512i a, __m512i b", f"{_B64} {{ int j = ((const uint8_t *)b)[i];"
                                             " ((uint8_t *)r)[i] = j & 128 ? 0 : ((const uint8_t *)a)[(i & 48) + (j & 15)]; }"),
    "permutexvar_epi32": ("__m512i idx, __m512i a", f"{_L16} r[i] = a[idx[i] & 15];"),
    "broadcast_i32x4": ("__m128i a", f"{_L16} r[i] = a[i % 4];"),
    "inserti32x4": ("__m512i a, __m128i b, int imm", f"{_L16} r[i] = i / 4 == (imm & 3) ? b[i % 4] : a[i];"),
    "castsi128_si512": ("__m128i a", f"{_L16} r[i] = i < 4 ? a[i] : 0;"),
}
for _name, (_sig, _scalar) in _INT.items():
    _x86(f"avx512.{_name}", _sig, _scalar, writes=("p",) if "store" in _name else ())

# -- 128-bit helpers that feed 512-bit code ------------------------------------------------------
intrinsic("sse.loadu_si128", "simd", "const void *p", vnni="_mm_loadu_si128",
          scalar="for (int i = 0; i < 16; ++i) ((uint8_t *)r)[i] = ((const uint8_t *)p)[i];")
intrinsic("sse.storeu_si128", "simd", "void *p, __m128i a", vnni="_mm_storeu_si128", writes=("p",),
          scalar="for (int i = 0; i < 16; ++i) ((uint8_t *)p)[i] = ((const uint8_t *)a)[i];")
intrinsic("sse.setr_epi8", "simd", ", ".join(f"char e{i}" for i in range(16)), vnni="_mm_setr_epi8",
          scalar=" ".join(f"((int8_t *)r)[{i}] = e{i};" for i in range(16)))
intrinsic("sse.set1_epi32", "simd", "int v", vnni="_mm_set1_epi32", scalar="for (int i = 0; i < 4; ++i) r[i] = v;")
