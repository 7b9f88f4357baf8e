// int8 GEMV with VNNI for any sizes: y[M] (int32) = A[M][K] (uint8) @ x[K] (int8); 64 products per
// _mm512_dpbusd_epi32, the K remainder through a zero-masked byte load (_mm512_maskz_loadu_epi8).
#include <immintrin.h>
#include <cstdint>

extern "C" void gemv_u8s8_tail(const uint8_t *A, const int8_t *x, int32_t *y, int M, int K) {
  const int full = K / 64 * 64;
  const __mmask64 tail = (K - full) ? (((__mmask64)1 << (K - full)) - 1) : 0;
  const __m512i xt = _mm512_maskz_loadu_epi8(tail, x + full);
  #pragma omp parallel for
  for (int i = 0; i < M; ++i) {
    const uint8_t *a = A + static_cast<long>(i) * K;
    __m512i acc = _mm512_setzero_si512();
    for (int k = 0; k < full; k += 64)
      acc = _mm512_dpbusd_epi32(acc, _mm512_loadu_si512(a + k), _mm512_loadu_si512(x + k));
    if (tail) acc = _mm512_dpbusd_epi32(acc, _mm512_maskz_loadu_epi8(tail, a + full), xt);
    y[i] = _mm512_reduce_add_epi32(acc);
  }
}
