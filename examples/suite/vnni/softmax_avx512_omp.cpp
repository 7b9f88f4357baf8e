// softmax over the last axis of a (rows, cols) matrix: OpenMP over rows, AVX-512 max / exp / sum with
// a polynomial exp, the column remainder through masks (-inf for the max, 0 for the sum).
#include <immintrin.h>
#include <cmath>

static inline __m512 exp512_ps(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
  const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.0f / 720.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, k);
}

extern "C" void softmax_rows(const float *x, float *y, int rows, int cols) {
  const int full = cols / 16 * 16;
  const __mmask16 tail = (__mmask16)((1u << (cols - full)) - 1);
  #pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) {
    const float *xr = x + static_cast<long>(r) * cols;
    float *yr = y + static_cast<long>(r) * cols;
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    for (int j = 0; j < full; j += 16) vmax = _mm512_max_ps(vmax, _mm512_loadu_ps(xr + j));
    if (tail) vmax = _mm512_max_ps(vmax, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), tail, xr + full));
    const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
    __m512 vsum = _mm512_setzero_ps();
    for (int j = 0; j < full; j += 16) {
      const __m512 e = exp512_ps(_mm512_sub_ps(_mm512_loadu_ps(xr + j), m));
      _mm512_storeu_ps(yr + j, e);
      vsum = _mm512_add_ps(vsum, e);
    }
    if (tail) {
      const __m512 e = exp512_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, xr + full), m));
      _mm512_mask_storeu_ps(yr + full, tail, e);
      vsum = _mm512_mask_add_ps(vsum, tail, vsum, e);
    }
    const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));
    for (int j = 0; j < full; j += 16) _mm512_storeu_ps(yr + j, _mm512_mul_ps(_mm512_loadu_ps(yr + j), inv));
    if (tail) _mm512_mask_storeu_ps(yr + full, tail, _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, yr + full), inv));
  }
}
