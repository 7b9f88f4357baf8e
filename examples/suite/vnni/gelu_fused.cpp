// gelu (12, 3, 128), tanh approximation, compiler-generated style: fused loops, tanhf, constants baked.
#include <math.h>

extern "C" void gelu(float *__restrict__ A, float *__restrict__ T_gelu) {
  #pragma omp parallel for
  for (int ax0_ax1_fused = 0; ax0_ax1_fused < 36; ++ax0_ax1_fused) {
    for (int ax2 = 0; ax2 < 128; ++ax2) {
      T_gelu[((ax0_ax1_fused * 128) + ax2)] = ((5.000000e-01f * A[((ax0_ax1_fused * 128) + ax2)]) * (1.000000e+00f + tanhf((7.978846e-01f * (A[((ax0_ax1_fused * 128) + ax2)] + (4.471500e-02f * ((A[((ax0_ax1_fused * 128) + ax2)] * A[((ax0_ax1_fused * 128) + ax2)]) * A[((ax0_ax1_fused * 128) + ax2)])))))));
    }
  }
}
