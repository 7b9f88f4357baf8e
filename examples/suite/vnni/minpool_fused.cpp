// minpool NHWC (1, 56, 56, 64), window 3, stride 2 -> (1, 27, 27, 64), compiler-generated style:
// fused output axes, fminf, the largest float as the identity.
#include <math.h>

extern "C" void min_pool2d(float *__restrict__ data, float *__restrict__ pool_min) {
  #pragma omp parallel for
  for (int ax1_ax2_fused = 0; ax1_ax2_fused < 729; ++ax1_ax2_fused) {
    for (int ax3 = 0; ax3 < 64; ++ax3) {
      pool_min[((ax1_ax2_fused * 64) + ax3)] = 3.402823e+38f;
      for (int rv0 = 0; rv0 < 3; ++rv0) {
        for (int rv1 = 0; rv1 < 3; ++rv1) {
          pool_min[((ax1_ax2_fused * 64) + ax3)] = fminf(pool_min[((ax1_ax2_fused * 64) + ax3)], data[((((((ax1_ax2_fused / 27) * 7168) + (rv0 * 3584)) + ((ax1_ax2_fused % 27) * 128)) + (rv1 * 64)) + ax3)]);
        }
      }
    }
  }
}
