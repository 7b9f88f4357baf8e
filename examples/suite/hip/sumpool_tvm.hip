// sumpool 3x3 stride 2 on NHWC (1, 27, 27, 256) -> (1, 13, 13, 256) in TVM's style for ROCm: a local
// accumulator, baked shapes and a guard on the 43264 outputs (grid: 43 blocks of 1024).
#include <hip/hip_runtime.h>

extern "C" __global__ void __launch_bounds__(1024) default_function_kernel(float* __restrict__ data, float* __restrict__ pool_sum) {
  float pool_sum_local[1];
  if (((((int)blockIdx.x) * 1024) + ((int)threadIdx.x)) < 43264) {
    pool_sum_local[0] = 0.000000e+00f;
    for (int rv0 = 0; rv0 < 3; ++rv0) {
      for (int rv1 = 0; rv1 < 3; ++rv1) {
        pool_sum_local[0] = (pool_sum_local[0] + data[((((((((((int)blockIdx.x) * 1024) + ((int)threadIdx.x)) / 3328) * 13824) + (rv0 * 6912)) + (((((((int)blockIdx.x) * 1024) + ((int)threadIdx.x)) >> 8) % 13) * 512)) + (rv1 * 256)) + (((int)threadIdx.x) & 255))]);
      }
    }
    pool_sum[((((int)blockIdx.x) * 1024) + ((int)threadIdx.x))] = pool_sum_local[0];
  }
}
