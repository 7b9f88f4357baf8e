// int8 GEMM with AVX-512 VNNI: C[M][N] (int32) = A[M][K] (uint8) x B[K][N] (int8).
// B is packed as 16 columns x 4 k-values per register (vnni.md), K a multiple of 4, N of 16.
#include <immintrin.h>
#include <stdint.h>

extern "C" void gemm_u8s8(const uint8_t *A, const int8_t *B, int32_t *C, int M, int N, int K) {
  int8_t *packed = new int8_t[K * N];
  for (int k = 0; k < K; k += 4) {
    for (int n = 0; n < N; ++n) {
      for (int j = 0; j < 4; ++j) {
        packed[(k / 4) * N * 4 + n * 4 + j] = B[(k + j) * N + n];
      }
    }
  }
#pragma omp parallel for
  for (int m = 0; m < M; ++m) {
    for (int n = 0; n < N; n += 16) {
      __m512i acc = _mm512_setzero_si512();
      for (int k = 0; k < K; k += 4) {
        __m512i a = _mm512_set1_epi32(*(const int32_t *)(A + m * K + k));
        __m512i b = _mm512_loadu_si512((const void *)(packed + (k / 4) * N * 4 + n * 4));
        acc = _mm512_dpbusd_epi32(acc, a, b);
      }
      _mm512_storeu_si512((void *)(C + m * N + n), acc);
    }
  }
  delete[] packed;
}
