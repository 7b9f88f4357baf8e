// rmsnorm over the last axis of (rows, cols) with gamma: x / sqrt(mean(x^2) + eps) * gamma, AVX-512
// with a masked column tail, OpenMP over rows.
#include <immintrin.h>
#include <cmath>

extern "C" void rmsnorm_kernel(const float *x, const float *gamma, float *out, int rows, int cols, float eps) {
  const int full = cols / 16 * 16;
  const __mmask16 tail = (__mmask16)((1u << (cols - full)) - 1);
  #pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) {
    const float *xr = x + static_cast<long>(r) * cols;
    float *yr = out + static_cast<long>(r) * cols;
    __m512 ss = _mm512_setzero_ps();
    for (int j = 0; j < full; j += 16) {
      const __m512 v = _mm512_loadu_ps(xr + j);
      ss = _mm512_fmadd_ps(v, v, ss);
    }
    if (tail) {
      const __m512 v = _mm512_maskz_loadu_ps(tail, xr + full);
      ss = _mm512_fmadd_ps(v, v, ss);
    }
    const __m512 scale = _mm512_set1_ps(1.0f / sqrtf(_mm512_reduce_add_ps(ss) / cols + eps));
    for (int j = 0; j < full; j += 16)
      _mm512_storeu_ps(yr + j, _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(xr + j), scale), _mm512_loadu_ps(gamma + j)));
    if (tail)
      _mm512_mask_storeu_ps(yr + full, tail, _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(tail, xr + full), scale),
                                                           _mm512_maskz_loadu_ps(tail, gamma + full)));
  }
}
