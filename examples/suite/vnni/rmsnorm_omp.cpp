// rmsnorm over the last axis of (2048, 2048) with gamma, eps 1e-5: OpenMP rows, AVX-512 columns.
#include <immintrin.h>
#include <cmath>

extern "C" void rmsnorm(float *A, float *gamma, float *out) {
  #pragma omp parallel for schedule(static)
  for (int i = 0; i < 2048; ++i) {
    const float *row = A + static_cast<long>(i) * 2048;
    __m512 ss = _mm512_setzero_ps();
    for (int j = 0; j < 2048; j += 16) {
      __m512 v = _mm512_loadu_ps(row + j);
      ss = _mm512_fmadd_ps(v, v, ss);
    }
    const float scale = 1.0f / std::sqrt(_mm512_reduce_add_ps(ss) / 2048.0f + 1e-5f);
    const __m512 vs = _mm512_set1_ps(scale);
    for (int j = 0; j < 2048; j += 16) {
      __m512 v = _mm512_mul_ps(_mm512_loadu_ps(row + j), vs);
      _mm512_storeu_ps(out + static_cast<long>(i) * 2048 + j, _mm512_mul_ps(v, _mm512_loadu_ps(gamma + j)));
    }
  }
}
