// sigmoid over n elements, all in AVX-512: exp by range reduction (x = k ln2 + r) and a degree-6
// polynomial, 2^k through _mm512_scalef_ps; masked tail.
#include <immintrin.h>

static inline __m512 exp512_ps(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
  const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), x);        // ln2 split in two
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

extern "C" void sigmoid_kernel(const float *x, float *y, int n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  #pragma omp parallel for schedule(static)
  for (int i = 0; i < n; i += 16) {
    const int r = (n - i) < 16 ? (n - i) : 16;
    const __mmask16 k = (__mmask16)((1u << r) - 1);
    const __m512 v = _mm512_maskz_loadu_ps(k, x + i);
    const __m512 e = exp512_ps(_mm512_sub_ps(_mm512_setzero_ps(), v));
    _mm512_mask_storeu_ps(y + i, k, _mm512_div_ps(one, _mm512_add_ps(one, e)));
  }
}
