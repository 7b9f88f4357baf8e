// sign (1, 1000), compiler-generated style: nested selects, the last block of 16 behind a guard.
extern "C" void sign(float *__restrict__ A, float *__restrict__ T_sign) {
  for (int i0_i1_fused_outer = 0; i0_i1_fused_outer < 63; ++i0_i1_fused_outer) {
    for (int i0_i1_fused_inner = 0; i0_i1_fused_inner < 16; ++i0_i1_fused_inner) {
      if (((i0_i1_fused_outer * 16) + i0_i1_fused_inner) < 1000) {
        T_sign[((i0_i1_fused_outer * 16) + i0_i1_fused_inner)] = ((0.000000e+00f < A[((i0_i1_fused_outer * 16) + i0_i1_fused_inner)]) ? 1.000000e+00f : ((A[((i0_i1_fused_outer * 16) + i0_i1_fused_inner)] < 0.000000e+00f) ? -1.000000e+00f : 0.000000e+00f));
      }
    }
  }
}
