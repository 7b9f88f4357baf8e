// int8 GEMM with AVX-512 VNNI, the DL Boost idiom: C[64][64] (int32) = A[64][256] (uint8) @ B (int8),
// B pre-packed as Bp[K/4][N][4] (Bp[k/4][n][k%4] = B[k][n]) so one 64-byte load holds 16 columns x
// 4 k-values; 4 consecutive bytes of a row of A are broadcast to every lane.
#include <immintrin.h>
#include <cstdint>

extern "C" void gemm_u8s8(const uint8_t *A, const int8_t *Bp, int32_t *C) {
  const int M = 64, N = 64, K = 256;
  #pragma omp parallel for
  for (int i = 0; i < M; ++i) {
    __m512i acc[4];
    for (int v = 0; v < 4; ++v) acc[v] = _mm512_setzero_si512();
    for (int k = 0; k < K; k += 4) {
      const __m512i a = _mm512_set1_epi32(*(const int32_t *)(A + i * K + k));
      const int8_t *bp = Bp + (k / 4) * N * 4;
      for (int v = 0; v < 4; ++v) acc[v] = _mm512_dpbusd_epi32(acc[v], a, _mm512_loadu_si512(bp + v * 64));
    }
    for (int v = 0; v < 4; ++v) _mm512_storeu_si512(C + i * N + v * 16, acc[v]);
  }
}
