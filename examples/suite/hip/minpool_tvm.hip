// minpool 3x3 stride 1 on NHWC (1, 10, 10, 16) -> (1, 8, 8, 16) in TVM's style: bare kernel, a
// local accumulator, baked shapes and a guard on the 1024 outputs.
#include <hip/hip_runtime.h>

extern "C" __global__ void __launch_bounds__(256) default_function_kernel(float* __restrict__ data, float* __restrict__ pool_min) {
  float pool_min_local[1];
  if (((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) < 1024) {
    pool_min_local[0] = 3.402823e+38f;
    for (int rv0 = 0; rv0 < 3; ++rv0) {
      for (int rv1 = 0; rv1 < 3; ++rv1) {
        pool_min_local[0] = min(pool_min_local[0], data[((((((((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) >> 7) * 160) + (rv0 * 160)) + (((((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) & 127) >> 4) * 16)) + (rv1 * 16)) + (((int)threadIdx.x) & 15))]);
      }
    }
    pool_min[((((int)blockIdx.x) * 256) + ((int)threadIdx.x))] = pool_min_local[0];
  }
}
