// add (1, 1000), compiler-generated style: the flat axis split by 16, the last partial block behind a
// guard, shapes baked in.
extern "C" void add(float *__restrict__ A, float *__restrict__ B, float *__restrict__ T_add) {
  for (int ax0_ax1_fused_outer = 0; ax0_ax1_fused_outer < 63; ++ax0_ax1_fused_outer) {
    for (int ax0_ax1_fused_inner = 0; ax0_ax1_fused_inner < 16; ++ax0_ax1_fused_inner) {
      if (((ax0_ax1_fused_outer * 16) + ax0_ax1_fused_inner) < 1000) {
        T_add[((ax0_ax1_fused_outer * 16) + ax0_ax1_fused_inner)] = (A[((ax0_ax1_fused_outer * 16) + ax0_ax1_fused_inner)] + B[((ax0_ax1_fused_outer * 16) + ax0_ax1_fused_inner)]);
      }
    }
  }
}
