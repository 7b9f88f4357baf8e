// depthwise conv NHWC (MobileNet): x (1, 56, 56, 128), w [3][3][128], stride 2, padding 1 -> (1, 28, 28, 128).
#include <immintrin.h>

extern "C" void depthwise_conv(float *x, float *w, float *y) {
  const int H = 56, W = 56, C = 128, K = 3, S = 2, P = 1, HO = 28, WO = 28;
  #pragma omp parallel for
  for (int oh = 0; oh < HO; ++oh) {
    for (int ow = 0; ow < WO; ++ow) {
      for (int c = 0; c < C; c += 16) {
        __m512 acc = _mm512_setzero_ps();
        for (int kh = 0; kh < K; ++kh) {
          const int ih = oh * S + kh - P;
          if (ih < 0 || ih >= H) continue;
          for (int kw = 0; kw < K; ++kw) {
            const int iw = ow * S + kw - P;
            if (iw < 0 || iw >= W) continue;
            acc = _mm512_fmadd_ps(_mm512_loadu_ps(x + (ih * W + iw) * C + c),
                                  _mm512_loadu_ps(w + (kh * K + kw) * C + c), acc);
          }
        }
        _mm512_storeu_ps(y + (oh * WO + ow) * C + c, acc);
      }
    }
  }
}
