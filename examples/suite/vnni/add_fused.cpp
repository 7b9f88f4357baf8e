// add, compiler-generated style: shapes baked in, fused loop names, OpenMP over the outer axis.
extern "C" void add(float *__restrict__ A, float *__restrict__ B, float *__restrict__ T_add) {
  #pragma omp parallel for
  for (int ax0_ax1_fused = 0; ax0_ax1_fused < 36; ++ax0_ax1_fused) {
    for (int ax2 = 0; ax2 < 128; ++ax2) {
      T_add[((ax0_ax1_fused * 128) + ax2)] = (A[((ax0_ax1_fused * 128) + ax2)] + B[((ax0_ax1_fused * 128) + ax2)]);
    }
  }
}
