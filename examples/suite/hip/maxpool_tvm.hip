// maxpool 2x2 stride 2 on NHWC (1, 28, 28, 512) -> (1, 14, 14, 512) in TVM's style for ROCm: 98 blocks
// of 1024 cover the 100352 outputs exactly, so there is no guard and the launch comes from the
// manifest; the -FLT_MAX init baked in as -3.402823e+38f.
#include <hip/hip_runtime.h>

extern "C" __global__ void __launch_bounds__(1024) default_function_kernel(float* __restrict__ data, float* __restrict__ pool_max) {
  float pool_max_local[1];
  pool_max_local[0] = -3.402823e+38f;
  for (int rv0 = 0; rv0 < 2; ++rv0) {
    for (int rv1 = 0; rv1 < 2; ++rv1) {
      pool_max_local[0] = max(pool_max_local[0], data[((((((((((int)blockIdx.x) * 1024) + ((int)threadIdx.x)) / 7168) * 28672) + (rv0 * 14336)) + (((((((int)blockIdx.x) * 1024) + ((int)threadIdx.x)) >> 9) % 14) * 1024)) + (rv1 * 512)) + (((int)threadIdx.x) & 511))]);
    }
  }
  pool_max[((((int)blockIdx.x) * 1024) + ((int)threadIdx.x))] = pool_max_local[0];
}
