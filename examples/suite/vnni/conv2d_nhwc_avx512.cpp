// conv2d NHWC: x (1, 14, 14, 32), w [20][3][3][32], stride 1, padding 1 -> (1, 14, 14, 20).
// The input-channel dot products are AVX-512 (2 vectors of 16), reduced per output channel.
#include <immintrin.h>

extern "C" void conv2d_nhwc(float *x, float *w, float *y) {
  const int H = 14, W = 14, CI = 32, CO = 20, K = 3, P = 1;
  #pragma omp parallel for
  for (int oh = 0; oh < H; ++oh) {
    for (int ow = 0; ow < W; ++ow) {
      for (int co = 0; co < CO; ++co) {
        __m512 acc = _mm512_setzero_ps();
        for (int kh = 0; kh < K; ++kh) {
          int ih = oh + kh - P;
          if (ih < 0 || ih >= H) continue;
          for (int kw = 0; kw < K; ++kw) {
            int iw = ow + kw - P;
            if (iw < 0 || iw >= W) continue;
            const float *xp = x + (ih * W + iw) * CI;
            const float *wp = w + ((co * K + kh) * K + kw) * CI;
            acc = _mm512_fmadd_ps(_mm512_loadu_ps(xp), _mm512_loadu_ps(wp), acc);
            acc = _mm512_fmadd_ps(_mm512_loadu_ps(xp + 16), _mm512_loadu_ps(wp + 16), acc);
          }
        }
        y[(oh * W + ow) * CO + co] = _mm512_reduce_add_ps(acc);
      }
    }
  }
}
