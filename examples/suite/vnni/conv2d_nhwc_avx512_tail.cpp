// conv2d NHWC for any sizes: x[N][H][W][CI], w[CO][K][K][CI], stride S, padding P -> y[N][HO][WO][CO].
// Input channels in vectors of 16 with a masked remainder, one horizontal sum per output; OpenMP over
// (batch, output row).
#include <immintrin.h>

extern "C" void conv2d_nhwc_kernel(const float *x, const float *w, float *y, int N, int H, int W, int CI, int CO,
                                   int K, int S, int P) {
  const int HO = (H + 2 * P - K) / S + 1, WO = (W + 2 * P - K) / S + 1;
  #pragma omp parallel for collapse(2)
  for (int n = 0; n < N; ++n) {
    for (int oh = 0; oh < HO; ++oh) {
      for (int ow = 0; ow < WO; ++ow) {
        for (int co = 0; co < CO; ++co) {
          __m512 acc = _mm512_setzero_ps();
          for (int kh = 0; kh < K; ++kh) {
            const int ih = oh * S + kh - P;
            if (ih < 0 || ih >= H) continue;
            for (int kw = 0; kw < K; ++kw) {
              const int iw = ow * S + kw - P;
              if (iw < 0 || iw >= W) continue;
              const float *xp = x + ((static_cast<long>(n) * H + ih) * W + iw) * CI;
              const float *wp = w + ((static_cast<long>(co) * K + kh) * K + kw) * CI;
              for (int c = 0; c < CI; c += 16) {
                const int r = (CI - c) < 16 ? (CI - c) : 16;
                const __mmask16 m = (__mmask16)((1u << r) - 1);
                acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, xp + c), _mm512_maskz_loadu_ps(m, wp + c), acc);
              }
            }
          }
          y[((static_cast<long>(n) * HO + oh) * WO + ow) * CO + co] = _mm512_reduce_add_ps(acc);
        }
      }
    }
  }
}
