// fp32 GEMV y[M] = A[M][K] @ x[K] for any sizes: two accumulators over 32 columns, masked K tail,
// horizontal sum per row, OpenMP over rows.
#include <immintrin.h>

extern "C" void sgemv(const float *A, const float *x, float *y, int M, int K) {
  #pragma omp parallel for
  for (int i = 0; i < M; ++i) {
    const float *a = A + static_cast<long>(i) * K;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int k = 0;
    for (; k + 32 <= K; k += 32) {
      acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + k), _mm512_loadu_ps(x + k), acc0);
      acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + k + 16), _mm512_loadu_ps(x + k + 16), acc1);
    }
    for (; k < K; k += 16) {
      const int r = (K - k) < 16 ? (K - k) : 16;
      const __mmask16 m = (__mmask16)((1u << r) - 1);
      acc0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + k), _mm512_maskz_loadu_ps(m, x + k), acc0);
    }
    y[i] = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
  }
}
