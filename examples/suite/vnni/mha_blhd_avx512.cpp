// self-attention core softmax(Q K^T / sqrt(D)) V for any sizes, the [B][L][H][D] layout of a fused QKV
// projection ([B][L][H*D] row-major): one query row per OpenMP iteration with a per-thread score
// buffer; the head dimension in vectors of 16 with a masked tail.
#include <immintrin.h>
#include <cmath>
#include <vector>

extern "C" void mha_blhd(const float *Q, const float *K, const float *V, float *out, int B, int L, int H, int D) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const int NV = (D + 15) / 16;                 // D <= 128
  const __mmask16 tail = (__mmask16)((1u << (D - (NV - 1) * 16)) - 1);
  const long row = static_cast<long>(H) * D;    // stride between tokens
  #pragma omp parallel
  {
    std::vector<float> scores(L);
    #pragma omp for collapse(3)
    for (int b = 0; b < B; ++b) {
      for (int h = 0; h < H; ++h) {
        for (int i = 0; i < L; ++i) {
          const float *q = Q + (static_cast<long>(b) * L + i) * row + h * D;
          float m = -INFINITY;
          for (int j = 0; j < L; ++j) {
            const float *k = K + (static_cast<long>(b) * L + j) * row + h * D;
            __m512 acc = _mm512_setzero_ps();
            for (int v = 0; v < NV; ++v) {
              const __mmask16 mk = v == NV - 1 ? tail : (__mmask16)0xFFFF;
              acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, q + 16 * v), _mm512_maskz_loadu_ps(mk, k + 16 * v), acc);
            }
            scores[j] = _mm512_reduce_add_ps(acc) * scale;
            m = std::fmax(m, scores[j]);
          }
          float sum = 0.0f;
          for (int j = 0; j < L; ++j) {
            scores[j] = std::exp(scores[j] - m);
            sum += scores[j];
          }
          const float inv = 1.0f / sum;
          __m512 o[8];
          for (int v = 0; v < NV; ++v) o[v] = _mm512_setzero_ps();
          for (int j = 0; j < L; ++j) {
            const __m512 p = _mm512_set1_ps(scores[j] * inv);
            const float *vr = V + (static_cast<long>(b) * L + j) * row + h * D;
            for (int v = 0; v < NV; ++v)
              o[v] = _mm512_fmadd_ps(p, _mm512_maskz_loadu_ps(v == NV - 1 ? tail : (__mmask16)0xFFFF, vr + 16 * v), o[v]);
          }
          float *dst = out + (static_cast<long>(b) * L + i) * row + h * D;
          for (int v = 0; v < NV; ++v) _mm512_mask_storeu_ps(dst + 16 * v, v == NV - 1 ? tail : (__mmask16)0xFFFF, o[v]);
        }
      }
    }
  }
}
