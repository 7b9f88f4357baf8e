/* sign as plain C: no extern "C", restrict pointers, shape (12, 3, 128) baked in. */
#define N (12 * 3 * 128)

void sign(const float *restrict A, float *restrict out) {
  for (int i = 0; i < N; i++) {
    float v = A[i];
    out[i] = (v > 0.0f) ? 1.0f : ((v < 0.0f) ? -1.0f : 0.0f);
  }
}
