// sigmoid (12, 3, 128), compiler-generated style: one fused loop of 4608, expf, shapes baked in.
#include <math.h>

extern "C" void sigmoid(float *__restrict__ A, float *__restrict__ T_sigmoid) {
  #pragma omp parallel for
  for (int ax0_ax1_fused_ax2_fused = 0; ax0_ax1_fused_ax2_fused < 4608; ++ax0_ax1_fused_ax2_fused) {
    T_sigmoid[ax0_ax1_fused_ax2_fused] = (1.000000e+00f / (1.000000e+00f + expf((0.000000e+00f - A[ax0_ax1_fused_ax2_fused]))));
  }
}
