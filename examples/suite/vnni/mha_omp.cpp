// self-attention core softmax(Q K^T / sqrt(D)) V, layout [B=1][H=6][L=256][D=64], one query per
// OpenMP iteration; scores in a local buffer.
#include <immintrin.h>
#include <cmath>

extern "C" void mha(float *Q, float *K, float *V, float *out) {
  const int H = 6, L = 256, D = 64;
  const float scale = 0.125f;  // 1 / sqrt(64)
  #pragma omp parallel for collapse(2)
  for (int h = 0; h < H; ++h) {
    for (int i = 0; i < L; ++i) {
      float scores[256];
      const float *q = Q + (h * L + i) * D;
      float m = -INFINITY;
      for (int j = 0; j < L; ++j) {
        const float *k = K + (h * L + j) * D;
        __m512 acc = _mm512_setzero_ps();
        for (int d = 0; d < D; d += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(q + d), _mm512_loadu_ps(k + d), acc);
        scores[j] = _mm512_reduce_add_ps(acc) * scale;
        m = scores[j] > m ? scores[j] : m;
      }
      float sum = 0.0f;
      for (int j = 0; j < L; ++j) { scores[j] = expf(scores[j] - m); sum += scores[j]; }
      __m512 o[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
      for (int j = 0; j < L; ++j) {
        const __m512 p = _mm512_set1_ps(scores[j] / sum);
        const float *v = V + (h * L + j) * D;
        for (int t = 0; t < 4; ++t) o[t] = _mm512_fmadd_ps(p, _mm512_loadu_ps(v + 16 * t), o[t]);
      }
      for (int t = 0; t < 4; ++t) _mm512_storeu_ps(out + (h * L + i) * D + 16 * t, o[t]);
    }
  }
}
