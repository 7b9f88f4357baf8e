// sumpool NHWC (1, 56, 56, 3), window 3, stride 1 -> (1, 54, 54, 3), hand-written loops.
extern "C" void sumpool(const float *in, float *out) {
  const int H = 56, W = 56, C = 3, K = 3, HO = H - K + 1, WO = W - K + 1;
  #pragma omp parallel for collapse(2)
  for (int i = 0; i < HO; ++i) {
    for (int j = 0; j < WO; ++j) {
      for (int c = 0; c < C; ++c) {
        float s = 0.0f;
        for (int a = 0; a < K; ++a)
          for (int b = 0; b < K; ++b) s += in[((i + a) * W + (j + b)) * C + c];
        out[(i * WO + j) * C + c] = s;
      }
    }
  }
}
