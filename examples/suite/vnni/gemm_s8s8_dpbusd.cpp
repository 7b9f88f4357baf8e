// signed int8 GEMM through VNNI's unsigned x signed product: C[32][32] (int32) = A[32][128] (int8) @
// B[128][32] (int8). A is shifted to uint8 (xor 0x80 = +128) and 128 * sum_k B[k][n] is subtracted.
#include <immintrin.h>
#include <cstdint>

extern "C" void gemm_s8s8(const int8_t *A, const int8_t *B, int32_t *C) {
  const int M = 32, N = 32, K = 128;
  alignas(64) int8_t Bp[K / 4][N][4];
  alignas(64) int32_t comp[N];
  for (int n = 0; n < N; ++n) comp[n] = 0;
  for (int k = 0; k < K; ++k)
    for (int n = 0; n < N; ++n) {
      Bp[k / 4][n][k % 4] = B[k * N + n];
      comp[n] += 128 * B[k * N + n];
    }
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int i = 0; i < M; ++i) {
    __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
    for (int k = 0; k < K; k += 4) {
      const __m512i a = _mm512_xor_si512(_mm512_set1_epi32(*(const int32_t *)(A + i * K + k)), flip);
      acc0 = _mm512_dpbusd_epi32(acc0, a, _mm512_load_si512(&Bp[k / 4][0][0]));
      acc1 = _mm512_dpbusd_epi32(acc1, a, _mm512_load_si512(&Bp[k / 4][16][0]));
    }
    _mm512_storeu_si512(C + i * N, _mm512_sub_epi32(acc0, _mm512_load_si512(comp)));
    _mm512_storeu_si512(C + i * N + 16, _mm512_sub_epi32(acc1, _mm512_load_si512(comp + 16)));
  }
}
