// sign with AVX-512 over n elements: two compare masks select 1, -1 or 0; every step masked so the
// tail needs no separate loop.
#include <immintrin.h>

extern "C" void sign_kernel(const float *A, float *out, int n) {
  const __m512 one = _mm512_set1_ps(1.0f), minus_one = _mm512_set1_ps(-1.0f), zero = _mm512_setzero_ps();
  #pragma omp parallel for
  for (int i = 0; i < n; i += 16) {
    const int r = (n - i) < 16 ? (n - i) : 16;
    const __mmask16 k = (__mmask16)((1u << r) - 1);
    const __m512 x = _mm512_maskz_loadu_ps(k, A + i);
    const __mmask16 pos = _mm512_cmp_ps_mask(x, zero, _CMP_GT_OQ);
    const __mmask16 neg = _mm512_cmp_ps_mask(x, zero, _CMP_LT_OQ);
    __m512 y = _mm512_mask_blend_ps(pos, zero, one);
    y = _mm512_mask_blend_ps(neg, y, minus_one);
    _mm512_mask_storeu_ps(out + i, k, y);
  }
}
