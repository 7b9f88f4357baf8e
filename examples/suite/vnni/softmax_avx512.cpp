// softmax over the last axis of (45, 25): each row is one full vector plus a masked tail of 9.
#include <immintrin.h>
#include <cmath>

extern "C" void softmax(float *A, float *out) {
  const int rows = 45, cols = 25;
  const int full = cols / 16 * 16;
  const __mmask16 k = (__mmask16)((1u << (cols - full)) - 1);
  for (int r = 0; r < rows; ++r) {
    const float *x = A + r * cols;
    float *y = out + r * cols;
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    for (int j = 0; j < full; j += 16) vmax = _mm512_max_ps(vmax, _mm512_loadu_ps(x + j));
    vmax = _mm512_max_ps(vmax, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), k, x + full));
    float m = _mm512_reduce_max_ps(vmax);
    float sum = 0.0f;
    for (int j = 0; j < cols; ++j) {
      y[j] = expf(x[j] - m);
      sum += y[j];
    }
    __m512 inv = _mm512_set1_ps(1.0f / sum);
    for (int j = 0; j < full; j += 16) _mm512_storeu_ps(y + j, _mm512_mul_ps(_mm512_loadu_ps(y + j), inv));
    _mm512_mask_storeu_ps(y + full, k, _mm512_mul_ps(_mm512_mask_loadu_ps(_mm512_setzero_ps(), k, y + full), inv));
  }
}
