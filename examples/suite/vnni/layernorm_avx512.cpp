// layernorm over the last axis of (8, 2048), gamma and beta, eps 1e-5: _mm512_reduce_add_ps sums.
#include <immintrin.h>
#include <cmath>

extern "C" void layernorm(float *x, float *gamma, float *beta, float *out) {
  const int rows = 8, cols = 2048;
  #pragma omp parallel for
  for (int r = 0; r < rows; ++r) {
    const float *xr = x + r * cols;
    __m512 acc = _mm512_setzero_ps();
    for (int j = 0; j < cols; j += 16) acc = _mm512_add_ps(acc, _mm512_loadu_ps(xr + j));
    const float mean = _mm512_reduce_add_ps(acc) / cols;
    const __m512 vmean = _mm512_set1_ps(mean);
    __m512 sq = _mm512_setzero_ps();
    for (int j = 0; j < cols; j += 16) {
      __m512 d = _mm512_sub_ps(_mm512_loadu_ps(xr + j), vmean);
      sq = _mm512_fmadd_ps(d, d, sq);
    }
    const float var = _mm512_reduce_add_ps(sq) / cols;
    const __m512 rstd = _mm512_set1_ps(1.0f / sqrtf(var + 1e-5f));
    for (int j = 0; j < cols; j += 16) {
      __m512 d = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(xr + j), vmean), rstd);
      _mm512_storeu_ps(out + r * cols + j, _mm512_fmadd_ps(d, _mm512_loadu_ps(gamma + j), _mm512_loadu_ps(beta + j)));
    }
  }
}
