// relu over n elements with AVX-512: full vectors, then one masked vector for the remainder.
#include <immintrin.h>

extern "C" void relu_kernel(const float *A, float *out, int n) {
  const __m512 zero = _mm512_setzero_ps();
  const int full = n / 16 * 16;
  #pragma omp parallel for
  for (int i = 0; i < full; i += 16) _mm512_storeu_ps(out + i, _mm512_max_ps(_mm512_loadu_ps(A + i), zero));
  if (full < n) {
    const __mmask16 k = (__mmask16)((1u << (n - full)) - 1);
    _mm512_mask_storeu_ps(out + full, k, _mm512_max_ps(_mm512_maskz_loadu_ps(k, A + full), zero));
  }
}
