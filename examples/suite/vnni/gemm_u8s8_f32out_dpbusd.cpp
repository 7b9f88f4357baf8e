// int8 GEMM with float output: C[16][48] (float32) = A[16][512] (uint8) @ B^T, B stored [48][512]
// (int8, "nk"): each output is one dot product along K, 64 bytes per _mm512_dpbusd_epi32.
#include <immintrin.h>
#include <cstdint>

extern "C" void gemm_u8s8_f32(const uint8_t *A, const int8_t *Bt, float *C) {
  const int M = 16, N = 48, K = 512;
  #pragma omp parallel for collapse(2)
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j < N; ++j) {
      __m512i acc = _mm512_setzero_si512();
      for (int k = 0; k < K; k += 64)
        acc = _mm512_dpbusd_epi32(acc, _mm512_loadu_si512(A + i * K + k), _mm512_loadu_si512(Bt + j * K + k));
      C[i * N + j] = static_cast<float>(_mm512_reduce_add_epi32(acc));
    }
  }
}
