// int8 GEMV with VNNI: y[112] (int32) = A[112][128] (uint8) @ x[128] (int8); 64 products per
// _mm512_dpbusd_epi32, then a horizontal sum.
#include <immintrin.h>
#include <cstdint>

extern "C" void gemv_u8s8(const uint8_t *A, const int8_t *x, int32_t *y) {
  const __m512i x0 = _mm512_loadu_si512(x);
  const __m512i x1 = _mm512_loadu_si512(x + 64);
  for (int i = 0; i < 112; ++i) {
    __m512i acc = _mm512_setzero_si512();
    acc = _mm512_dpbusd_epi32(acc, _mm512_loadu_si512(A + i * 128), x0);
    acc = _mm512_dpbusd_epi32(acc, _mm512_loadu_si512(A + i * 128 + 64), x1);
    y[i] = _mm512_reduce_add_epi32(acc);
  }
}
