// batched GEMM (2, 128, 128, 128): OpenMP over batch and rows, the k loop innermost-but-one.
extern "C" void bmm(float *A, float *B, float *C) {
  const int BATCH = 2, M = 128, N = 128, K = 128;
  #pragma omp parallel for collapse(2)
  for (int b = 0; b < BATCH; ++b) {
    for (int i = 0; i < M; ++i) {
      float *c = C + (b * M + i) * N;
      for (int j = 0; j < N; ++j) c[j] = 0.0f;
      for (int k = 0; k < K; ++k) {
        const float a = A[(b * M + i) * K + k];
        const float *brow = B + (b * K + k) * N;
        #pragma omp simd
        for (int j = 0; j < N; ++j) c[j] += a * brow[j];
      }
    }
  }
}
