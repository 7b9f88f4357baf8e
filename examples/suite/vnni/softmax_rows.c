/* softmax over the last axis of (5, 128), plain C: a static helper per row, the entry is the only
   exported function (no extern "C"). */
#include <math.h>

static void row_softmax(const float *x, float *y, int n) {
  float m = x[0];
  for (int j = 1; j < n; j++) m = fmaxf(m, x[j]);
  float s = 0.0f;
  for (int j = 0; j < n; j++) { y[j] = expf(x[j] - m); s += y[j]; }
  for (int j = 0; j < n; j++) y[j] /= s;
}

void softmax_5x128(float *input, float *output) {
  for (int i = 0; i < 5; i++) row_softmax(input + i * 128, output + i * 128, 128);
}
