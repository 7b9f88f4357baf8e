// fp32 GEMV y[112] = A[112][128] @ x[128]: one dot product per row, _mm512_reduce_add_ps.
#include <immintrin.h>

extern "C" void gemv(float *A, float *x, float *y) {
  for (int i = 0; i < 112; ++i) {
    __m512 acc = _mm512_setzero_ps();
    for (int k = 0; k < 128; k += 16)
      acc = _mm512_fmadd_ps(_mm512_loadu_ps(A + i * 128 + k), _mm512_loadu_ps(x + k), acc);
    y[i] = _mm512_reduce_add_ps(acc);
  }
}
