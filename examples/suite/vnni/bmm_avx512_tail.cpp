// batched fp32 GEMM C[b][M][N] = A[b][M][K] @ B[b][K][N] for any sizes: OpenMP over (batch, row),
// AVX-512 over 16 columns with a masked column tail, A broadcast per k.
#include <immintrin.h>

extern "C" void bmm_kernel(const float *A, const float *B, float *C, int batch, int M, int N, int K) {
  #pragma omp parallel for collapse(2)
  for (int b = 0; b < batch; ++b) {
    for (int i = 0; i < M; ++i) {
      const float *a = A + (static_cast<long>(b) * M + i) * K;
      const float *bb = B + static_cast<long>(b) * K * N;
      float *c = C + (static_cast<long>(b) * M + i) * N;
      for (int j = 0; j < N; j += 16) {
        const int w = (N - j) < 16 ? (N - j) : 16;
        const __mmask16 m = (__mmask16)((1u << w) - 1);
        __m512 acc = _mm512_setzero_ps();
        for (int k = 0; k < K; ++k)
          acc = _mm512_fmadd_ps(_mm512_set1_ps(a[k]), _mm512_maskz_loadu_ps(m, bb + static_cast<long>(k) * N + j), acc);
        _mm512_mask_storeu_ps(c + j, m, acc);
      }
    }
  }
}
