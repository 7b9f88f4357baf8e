// depthwise conv NHWC for any sizes (MobileNetV3 widths such as 72 or 120 channels): x[N][H][W][C],
// w[K][K][C], stride S, padding P -> y[N][HO][WO][C]; 16 channels per vector, masked channel tail.
#include <immintrin.h>

extern "C" void depthwise_conv_kernel(const float *x, const float *w, float *y, int N, int H, int W, int C, int K,
                                      int S, int P) {
  const int HO = (H + 2 * P - K) / S + 1, WO = (W + 2 * P - K) / S + 1;
  #pragma omp parallel for collapse(2)
  for (int n = 0; n < N; ++n) {
    for (int oh = 0; oh < HO; ++oh) {
      for (int ow = 0; ow < WO; ++ow) {
        for (int c = 0; c < C; c += 16) {
          const int r = (C - c) < 16 ? (C - c) : 16;
          const __mmask16 m = (__mmask16)((1u << r) - 1);
          __m512 acc = _mm512_setzero_ps();
          for (int kh = 0; kh < K; ++kh) {
            const int ih = oh * S + kh - P;
            if (ih < 0 || ih >= H) continue;
            for (int kw = 0; kw < K; ++kw) {
              const int iw = ow * S + kw - P;
              if (iw < 0 || iw >= W) continue;
              acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + ((static_cast<long>(n) * H + ih) * W + iw) * C + c),
                                    _mm512_maskz_loadu_ps(m, w + (kh * K + kw) * C + c), acc);
            }
          }
          _mm512_mask_storeu_ps(y + ((static_cast<long>(n) * HO + oh) * WO + ow) * C + c, m, acc);
        }
      }
    }
  }
}
