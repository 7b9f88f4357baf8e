// rmsnorm over the last axis of (32, 4096) without gamma, eps 1e-5, compiler-generated style: a
// square-sum reduction buffer, then the normalisation, shapes baked in.
#include <math.h>

extern "C" void rms_norm(float *__restrict__ data, float *__restrict__ T_rms_norm) {
  float T_multiply_red[32];
  #pragma omp parallel for
  for (int ax0 = 0; ax0 < 32; ++ax0) {
    T_multiply_red[ax0] = 0.000000e+00f;
    for (int k1 = 0; k1 < 4096; ++k1) {
      T_multiply_red[ax0] = (T_multiply_red[ax0] + (data[((ax0 * 4096) + k1)] * data[((ax0 * 4096) + k1)]));
    }
  }
  #pragma omp parallel for
  for (int ax0_ax1_fused_outer = 0; ax0_ax1_fused_outer < 8192; ++ax0_ax1_fused_outer) {
    for (int ax0_ax1_fused_inner = 0; ax0_ax1_fused_inner < 16; ++ax0_ax1_fused_inner) {
      T_rms_norm[((ax0_ax1_fused_outer * 16) + ax0_ax1_fused_inner)] = (data[((ax0_ax1_fused_outer * 16) + ax0_ax1_fused_inner)] / sqrtf(((T_multiply_red[(ax0_ax1_fused_outer >> 8)] * 2.441406e-04f) + 1.000000e-05f)));
    }
  }
}
