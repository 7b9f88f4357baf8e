// sign (100, 2, 10, 1024) in TVM's style for ROCm: bare kernel, a fused outer loop over the 2048000
// elements with a guard (grid = 262144 / 1024 = 256 blocks), np.sign as nested selects.
#include <hip/hip_runtime.h>

extern "C" __global__ void __launch_bounds__(1024) default_function_kernel(float* __restrict__ T_sign, float* __restrict__ data) {
  for (int i0_i1_fused_i2_fused_i3_fused_outer = 0; i0_i1_fused_i2_fused_i3_fused_outer < 8; ++i0_i1_fused_i2_fused_i3_fused_outer) {
    if ((((i0_i1_fused_i2_fused_i3_fused_outer * 262144) + (((int)blockIdx.x) * 1024)) + ((int)threadIdx.x)) < 2048000) {
      T_sign[(((i0_i1_fused_i2_fused_i3_fused_outer * 262144) + (((int)blockIdx.x) * 1024)) + ((int)threadIdx.x))] = ((0.000000e+00f < data[(((i0_i1_fused_i2_fused_i3_fused_outer * 262144) + (((int)blockIdx.x) * 1024)) + ((int)threadIdx.x))]) ? 1.000000e+00f : ((data[(((i0_i1_fused_i2_fused_i3_fused_outer * 262144) + (((int)blockIdx.x) * 1024)) + ((int)threadIdx.x))] < 0.000000e+00f) ? -1.000000e+00f : 0.000000e+00f));
    }
  }
}
