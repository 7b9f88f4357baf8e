// fp32 GEMM T_matmul_NN[100][40] = A[100][300] @ B[300][40], compiler-generated style: rows over
// OpenMP, columns split by 16 with a guard for the partial block, shapes baked in.
extern "C" void matmul(float *__restrict__ A, float *__restrict__ B, float *__restrict__ T_matmul_NN) {
  #pragma omp parallel for
  for (int ax0 = 0; ax0 < 100; ++ax0) {
    for (int ax1_outer = 0; ax1_outer < 3; ++ax1_outer) {
      for (int ax1_inner = 0; ax1_inner < 16; ++ax1_inner) {
        if (((ax1_outer * 16) + ax1_inner) < 40) {
          T_matmul_NN[(((ax0 * 40) + (ax1_outer * 16)) + ax1_inner)] = 0.000000e+00f;
          for (int k = 0; k < 300; ++k) {
            T_matmul_NN[(((ax0 * 40) + (ax1_outer * 16)) + ax1_inner)] = (T_matmul_NN[(((ax0 * 40) + (ax1_outer * 16)) + ax1_inner)] + (A[((ax0 * 300) + k)] * B[(((k * 40) + (ax1_outer * 16)) + ax1_inner)]));
          }
        }
      }
    }
  }
}
