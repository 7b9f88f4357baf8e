// conv2d NCHW for any sizes: x[N][CI][H][W], w[CO][CI][K][K], stride S, padding P -> y[N][CO][HO][WO];
// plain loops with the padding clipped out of the kernel window, OpenMP over (batch, output channel).
extern "C" void conv2d_nchw_kernel(const float *x, const float *w, float *y, int N, int CI, int H, int W, int CO,
                                   int K, int S, int P) {
  const int HO = (H + 2 * P - K) / S + 1, WO = (W + 2 * P - K) / S + 1;
  #pragma omp parallel for collapse(2)
  for (int n = 0; n < N; ++n) {
    for (int co = 0; co < CO; ++co) {
      for (int oh = 0; oh < HO; ++oh) {
        const int kh0 = P - oh * S > 0 ? P - oh * S : 0;
        const int kh1 = H + P - oh * S < K ? H + P - oh * S : K;
        for (int ow = 0; ow < WO; ++ow) {
          const int kw0 = P - ow * S > 0 ? P - ow * S : 0;
          const int kw1 = W + P - ow * S < K ? W + P - ow * S : K;
          float acc = 0.0f;
          for (int ci = 0; ci < CI; ++ci) {
            const float *xc = x + (static_cast<long>(n) * CI + ci) * H * W;
            const float *wc = w + (static_cast<long>(co) * CI + ci) * K * K;
            for (int kh = kh0; kh < kh1; ++kh)
              for (int kw = kw0; kw < kw1; ++kw) acc += xc[(oh * S + kh - P) * W + ow * S + kw - P] * wc[kh * K + kw];
          }
          y[((static_cast<long>(n) * CO + co) * HO + oh) * WO + ow] = acc;
        }
      }
    }
  }
}
