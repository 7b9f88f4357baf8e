// gelu (tanh approximation) over (1, 4096): the polynomial in AVX-512, tanh per lane.
#include <immintrin.h>
#include <cmath>

extern "C" void gelu(float *A, float *out) {
  const __m512 k0 = _mm512_set1_ps(0.7978845608028654f);   // sqrt(2 / pi)
  const __m512 k1 = _mm512_set1_ps(0.044715f);
  const __m512 half = _mm512_set1_ps(0.5f);
  const __m512 one = _mm512_set1_ps(1.0f);
  alignas(64) float lanes[16];
  for (int i = 0; i < 4096; i += 16) {
    __m512 x = _mm512_loadu_ps(A + i);
    __m512 x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
    __m512 inner = _mm512_mul_ps(k0, _mm512_fmadd_ps(k1, x3, x));
    _mm512_store_ps(lanes, inner);
    for (int l = 0; l < 16; ++l) lanes[l] = tanhf(lanes[l]);
    __m512 t = _mm512_load_ps(lanes);
    _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_mul_ps(half, x), _mm512_add_ps(one, t)));
  }
}
