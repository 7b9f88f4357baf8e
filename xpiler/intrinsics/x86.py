"""AVX-512 and AVX-512 VNNI intrinsics (semantics: ../shared/reference/vnni.md)."""

from __future__ import annotations

from .registry import intrinsic

intrinsic("avx512.dpbusd", "simd", "__m512i src, __m512i a, __m512i b", vnni="_mm512_dpbusd_epi32",
          scalar="for (int i = 0; i < 16; ++i) { int s = src[i];"
                 " for (int j = 0; j < 4; ++j) s += (int)(uint8_t)a.b[4*i+j] * (int)(int8_t)b.b[4*i+j];"
                 " dst[i] = s; }")
intrinsic("avx512.dpbusds", "simd", "__m512i src, __m512i a, __m512i b", vnni="_mm512_dpbusds_epi32",
          doc="as dpbusd with a saturating final add")
intrinsic("avx512.dpwssd", "simd", "__m512i src, __m512i a, __m512i b", vnni="_mm512_dpwssd_epi32")
intrinsic("avx512.mask_dpbusd", "simd", "__m512i src, __mmask16 k, __m512i a, __m512i b",
          vnni="_mm512_mask_dpbusd_epi32")
intrinsic("avx.dpbusd256", "simd", "__m256i src, __m256i a, __m256i b",
          vnni=["_mm256_dpbusd_epi32", "_mm256_dpbusd_avx_epi32"])

_FLOAT = {
    "loadu_ps": ("const float *p", "for (int i = 0; i < 16; ++i) r[i] = p[i];"),
    "storeu_ps": ("float *p, __m512 a", "for (int i = 0; i < 16; ++i) p[i] = a[i];"),
    "load_ps": ("const float *p", "for (int i = 0; i < 16; ++i) r[i] = p[i];"),
    "store_ps": ("float *p, __m512 a", "for (int i = 0; i < 16; ++i) p[i] = a[i];"),
    "mask_loadu_ps": ("__m512 src, __mmask16 k, const float *p",
                      "for (int i = 0; i < 16; ++i) r[i] = (k >> i) & 1 ? p[i] : src[i];"),
    "maskz_loadu_ps": ("__mmask16 k, const float *p", "for (int i = 0; i < 16; ++i) r[i] = (k >> i) & 1 ? p[i] : 0;"),
    "mask_storeu_ps": ("float *p, __mmask16 k, __m512 a", "for (int i = 0; i < 16; ++i) if ((k >> i) & 1) p[i] = a[i];"),
    "add_ps": ("__m512 a, __m512 b", "for (int i = 0; i < 16; ++i) r[i] = a[i] + b[i];"),
    "sub_ps": ("__m512 a, __m512 b", "for (int i = 0; i < 16; ++i) r[i] = a[i] - b[i];"),
    "mul_ps": ("__m512 a, __m512 b", "for (int i = 0; i < 16; ++i) r[i] = a[i] * b[i];"),
    "div_ps": ("__m512 a, __m512 b", "for (int i = 0; i < 16; ++i) r[i] = a[i] / b[i];"),
    "max_ps": ("__m512 a, __m512 b", "for (int i = 0; i < 16; ++i) r[i] = a[i] > b[i] ? a[i] : b[i];"),
    "min_ps": ("__m512 a, __m512 b", "for (int i = 0; i < 16; ++i) r[i] = a[i] < b[i] ? a[i] : b[i];"),
    "fmadd_ps": ("__m512 a, __m512 b, __m512 c", "for (int i = 0; i < 16; ++i) r[i] = a[i] * b[i] + c[i];"),
    "set1_ps": ("float v", "for (int i = 0; i < 16; ++i) r[i] = v;"),
    "setzero_ps": ("", "for (int i = 0; i < 16; ++i) r[i] = 0;"),
    "reduce_add_ps": ("__m512 a", "float s = 0; for (int i = 0; i < 16; ++i) s += a[i]; return s;"),
    "reduce_max_ps": ("__m512 a", "float s = a[0]; for (int i = 1; i < 16; ++i) s = a[i] > s ? a[i] : s; return s;"),
    "exp_ps": ("__m512 a", "for (int i = 0; i < 16; ++i) r[i] = expf(a[i]);"),
}
for _name, (_sig, _scalar) in _FLOAT.items():
    intrinsic(f"avx512.{_name}", "simd", _sig, vnni=f"_mm512_{_name}", scalar=_scalar,
              writes=("p",) if "store" in _name else ())

for _name, _sig in {"loadu_si512": "const void *p", "storeu_si512": "void *p, __m512i a",
                    "setzero_si512": "", "set1_epi32": "int v", "set1_epi8": "char v",
                    "add_epi32": "__m512i a, __m512i b", "reduce_add_epi32": "__m512i a",
                    "cvtepi32_ps": "__m512i a", "madd_epi16": "__m512i a, __m512i b",
                    "maddubs_epi16": "__m512i a, __m512i b", "xor_si512": "__m512i a, __m512i b"}.items():
    intrinsic(f"avx512.{_name}", "simd", _sig, vnni=f"_mm512_{_name}",
              writes=("p",) if "store" in _name else ())
