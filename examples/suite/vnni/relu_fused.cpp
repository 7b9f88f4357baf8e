// relu (12, 3, 128), compiler-generated style: fused outer axes, fmaxf, shapes baked in.
#include <math.h>

extern "C" void relu(float *__restrict__ A, float *__restrict__ compute) {
  #pragma omp parallel for
  for (int i0_i1_fused = 0; i0_i1_fused < 36; ++i0_i1_fused) {
    for (int i2 = 0; i2 < 128; ++i2) {
      compute[((i0_i1_fused * 128) + i2)] = fmaxf(A[((i0_i1_fused * 128) + i2)], 0.000000e+00f);
    }
  }
}
