// relu (100, 2, 10, 1024) in TVM's style for ROCm: bare kernel, baked shapes, a fused outer loop
// over the 2048000 elements with a guard (grid = 524288 / 1024 = 512 blocks).
#include <hip/hip_runtime.h>

extern "C" __global__ void __launch_bounds__(1024) default_function_kernel(float* __restrict__ compute, float* __restrict__ data) {
  for (int i0_i1_fused_i2_fused_i3_fused_outer = 0; i0_i1_fused_i2_fused_i3_fused_outer < 4; ++i0_i1_fused_i2_fused_i3_fused_outer) {
    if ((((i0_i1_fused_i2_fused_i3_fused_outer * 524288) + (((int)blockIdx.x) * 1024)) + ((int)threadIdx.x)) < 2048000) {
      compute[(((i0_i1_fused_i2_fused_i3_fused_outer * 524288) + (((int)blockIdx.x) * 1024)) + ((int)threadIdx.x))] = max(data[(((i0_i1_fused_i2_fused_i3_fused_outer * 524288) + (((int)blockIdx.x) * 1024)) + ((int)threadIdx.x))], 0.000000e+00f);
    }
  }
}
