// layernorm over the last axis of (rows, cols) with gamma and beta: one pass for sum and sum of
// squares in AVX-512 (masked tail), OpenMP over rows.
#include <immintrin.h>
#include <cmath>

extern "C" void layernorm_kernel(const float *x, const float *gamma, const float *beta, float *out,
                                 int rows, int cols, float eps) {
  const int full = cols / 16 * 16;
  const __mmask16 tail = (__mmask16)((1u << (cols - full)) - 1);
  #pragma omp parallel for
  for (int r = 0; r < rows; ++r) {
    const float *xr = x + static_cast<long>(r) * cols;
    float *yr = out + static_cast<long>(r) * cols;
    __m512 s = _mm512_setzero_ps(), sq = _mm512_setzero_ps();
    for (int j = 0; j < full; j += 16) {
      const __m512 v = _mm512_loadu_ps(xr + j);
      s = _mm512_add_ps(s, v);
      sq = _mm512_fmadd_ps(v, v, sq);
    }
    if (tail) {
      const __m512 v = _mm512_maskz_loadu_ps(tail, xr + full);
      s = _mm512_add_ps(s, v);
      sq = _mm512_fmadd_ps(v, v, sq);
    }
    const float mean = _mm512_reduce_add_ps(s) / cols;
    const float var = _mm512_reduce_add_ps(sq) / cols - mean * mean;
    const __m512 vmean = _mm512_set1_ps(mean);
    const __m512 rstd = _mm512_set1_ps(1.0f / sqrtf(var + eps));
    for (int j = 0; j < full; j += 16) {
      const __m512 d = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(xr + j), vmean), rstd);
      _mm512_storeu_ps(yr + j, _mm512_fmadd_ps(d, _mm512_loadu_ps(gamma + j), _mm512_loadu_ps(beta + j)));
    }
    if (tail) {
      const __m512 d = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, xr + full), vmean), rstd);
      _mm512_mask_storeu_ps(yr + full, tail, _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(tail, gamma + full),
                                                             _mm512_maskz_loadu_ps(tail, beta + full)));
    }
  }
}
