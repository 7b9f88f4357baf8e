// fp32 GEMM C[64][100] = A[64][128] @ B[128][100]: broadcast A[i][k], FMA with 16 columns of B,
// 100 = 6 * 16 + 4 columns, the last 4 through a mask.
#include <immintrin.h>

extern "C" void gemm(float *A, float *B, float *C) {
  const int M = 64, N = 100, K = 128;
  const int NV = N / 16;
  const __mmask16 tail = (__mmask16)((1u << (N - NV * 16)) - 1);
  #pragma omp parallel for
  for (int i = 0; i < M; ++i) {
    __m512 acc[NV + 1];
    for (int v = 0; v <= NV; ++v) acc[v] = _mm512_setzero_ps();
    for (int k = 0; k < K; ++k) {
      __m512 a = _mm512_set1_ps(A[i * K + k]);
      const float *brow = B + k * N;
      for (int v = 0; v < NV; ++v) acc[v] = _mm512_fmadd_ps(a, _mm512_loadu_ps(brow + v * 16), acc[v]);
      acc[NV] = _mm512_fmadd_ps(a, _mm512_maskz_loadu_ps(tail, brow + NV * 16), acc[NV]);
    }
    for (int v = 0; v < NV; ++v) _mm512_storeu_ps(C + i * N + v * 16, acc[v]);
    _mm512_mask_storeu_ps(C + i * N + NV * 16, tail, acc[NV]);
  }
}
