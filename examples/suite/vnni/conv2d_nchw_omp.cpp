// conv2d NCHW: x (2, 3, 32, 32), w [8][3][5][5], stride 2, padding 2 -> (2, 8, 16, 16).
extern "C" void conv2d_nchw(float *data, float *kernel, float *conv) {
  const int N = 2, CI = 3, H = 32, W = 32, CO = 8, K = 5, S = 2, P = 2, HO = 16, WO = 16;
  #pragma omp parallel for collapse(2)
  for (int n = 0; n < N; ++n) {
    for (int co = 0; co < CO; ++co) {
      for (int oh = 0; oh < HO; ++oh) {
        for (int ow = 0; ow < WO; ++ow) {
          float acc = 0.0f;
          for (int ci = 0; ci < CI; ++ci)
            for (int kh = 0; kh < K; ++kh) {
              int ih = oh * S + kh - P;
              if (ih < 0 || ih >= H) continue;
              for (int kw = 0; kw < K; ++kw) {
                int iw = ow * S + kw - P;
                if (iw < 0 || iw >= W) continue;
                acc += data[((n * CI + ci) * H + ih) * W + iw] * kernel[((co * CI + ci) * K + kh) * K + kw];
              }
            }
          conv[((n * CO + co) * HO + oh) * WO + ow] = acc;
        }
      }
    }
  }
}
