// maxpool NHWC (1, 28, 28, 512), window 2, stride 2 -> (1, 14, 14, 512) (VGG), compiler-generated
// style: fused output axes, the window as reduction loops, the lowest float as the identity.
#include <math.h>

extern "C" void max_pool2d(float *__restrict__ data, float *__restrict__ pool_max) {
  #pragma omp parallel for
  for (int ax0_ax1_fused_ax2_fused = 0; ax0_ax1_fused_ax2_fused < 196; ++ax0_ax1_fused_ax2_fused) {
    for (int ax3 = 0; ax3 < 512; ++ax3) {
      pool_max[((ax0_ax1_fused_ax2_fused * 512) + ax3)] = -3.402823e+38f;
      for (int rv0 = 0; rv0 < 2; ++rv0) {
        for (int rv1 = 0; rv1 < 2; ++rv1) {
          pool_max[((ax0_ax1_fused_ax2_fused * 512) + ax3)] = fmaxf(pool_max[((ax0_ax1_fused_ax2_fused * 512) + ax3)], data[((((((ax0_ax1_fused_ax2_fused / 14) * 28672) + (rv0 * 14336)) + ((ax0_ax1_fused_ax2_fused % 14) * 1024)) + (rv1 * 512)) + ax3)]);
        }
      }
    }
  }
}
