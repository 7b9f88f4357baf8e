// fp32 GEMV T_matmul[112] = A[112][128] @ x[128], compiler-generated style: the reduction axis split
// into an outer and an inner loop of 16, a local accumulator, shapes baked in.
extern "C" void gemv(float *__restrict__ A, float *__restrict__ x, float *__restrict__ T_matmul) {
  #pragma omp parallel for
  for (int i = 0; i < 112; ++i) {
    float T_matmul_local = 0.000000e+00f;
    for (int k_outer = 0; k_outer < 8; ++k_outer) {
      for (int k_inner = 0; k_inner < 16; ++k_inner) {
        T_matmul_local = (T_matmul_local + (A[(((i * 128) + (k_outer * 16)) + k_inner)] * x[((k_outer * 16) + k_inner)]));
      }
    }
    T_matmul[i] = T_matmul_local;
  }
}
