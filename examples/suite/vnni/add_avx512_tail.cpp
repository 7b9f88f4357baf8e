// add with AVX-512: 16 floats per step, the remainder through a masked load/store.
#include <immintrin.h>

extern "C" void add_kernel(float *A, float *B, float *out, int n) {
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 a = _mm512_loadu_ps(A + i);
    __m512 b = _mm512_loadu_ps(B + i);
    _mm512_storeu_ps(out + i, _mm512_add_ps(a, b));
  }
  int r = n - i;
  if (r > 0) {
    __mmask16 k = (__mmask16)((1u << r) - 1);
    __m512 a = _mm512_mask_loadu_ps(_mm512_setzero_ps(), k, A + i);
    __m512 b = _mm512_mask_loadu_ps(_mm512_setzero_ps(), k, B + i);
    _mm512_mask_storeu_ps(out + i, k, _mm512_add_ps(a, b));
  }
}
