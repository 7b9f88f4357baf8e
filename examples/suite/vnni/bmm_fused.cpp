// batched GEMM T_batch_matmul_NN[1][256][128] = A[1][256][512] @ B[1][512][128], compiler-generated
// style: fused batch/row axis over OpenMP, columns in blocks of 16, reduction innermost, shapes baked in.
extern "C" void batch_matmul(float *__restrict__ A, float *__restrict__ B, float *__restrict__ T_batch_matmul_NN) {
  #pragma omp parallel for
  for (int b_i_fused = 0; b_i_fused < 256; ++b_i_fused) {
    float T_batch_matmul_NN_local[16];
    for (int j_outer = 0; j_outer < 8; ++j_outer) {
      for (int j_c_init = 0; j_c_init < 16; ++j_c_init) {
        T_batch_matmul_NN_local[j_c_init] = 0.000000e+00f;
      }
      for (int k = 0; k < 512; ++k) {
        for (int j_c = 0; j_c < 16; ++j_c) {
          T_batch_matmul_NN_local[j_c] = (T_batch_matmul_NN_local[j_c] + (A[((b_i_fused * 512) + k)] * B[(((k * 128) + (j_outer * 16)) + j_c)]));
        }
      }
      for (int j_inner = 0; j_inner < 16; ++j_inner) {
        T_batch_matmul_NN[(((b_i_fused * 128) + (j_outer * 16)) + j_inner)] = T_batch_matmul_NN_local[j_inner];
      }
    }
  }
}
