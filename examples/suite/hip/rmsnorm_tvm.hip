// rmsnorm (256, 1000) with gamma in TVM's style for ROCm: one 64-lane wavefront per row, the row of
// 1000 (not a multiple of 64) in 16 chunks with TVM's guard, the cross-lane reduction with
// __shfl_down(..., 64) and the broadcast __shfl(..., 0, 64) over the whole wavefront; the launch
// (grid 256, block 64) comes from the manifest.
#include <hip/hip_runtime.h>

extern "C" __global__ void __launch_bounds__(64) default_function_kernel(float* __restrict__ data, float* __restrict__ gamma, float* __restrict__ T_rmsnorm) {
  float normal_reduce_temp0[1];
  float red_buf0[1];
  float t0[1];
  normal_reduce_temp0[0] = 0.000000e+00f;
  for (int k1_outer = 0; k1_outer < 16; ++k1_outer) {
    if (((k1_outer * 64) + ((int)threadIdx.x)) < 1000) {
      normal_reduce_temp0[0] = (normal_reduce_temp0[0] + (data[(((((int)blockIdx.x) * 1000) + (k1_outer * 64)) + ((int)threadIdx.x))] * data[(((((int)blockIdx.x) * 1000) + (k1_outer * 64)) + ((int)threadIdx.x))]));
    }
  }
  red_buf0[0] = normal_reduce_temp0[0];
  t0[0] = __shfl_down(red_buf0[0], 32, 64);
  red_buf0[0] = (red_buf0[0] + t0[0]);
  t0[0] = __shfl_down(red_buf0[0], 16, 64);
  red_buf0[0] = (red_buf0[0] + t0[0]);
  t0[0] = __shfl_down(red_buf0[0], 8, 64);
  red_buf0[0] = (red_buf0[0] + t0[0]);
  t0[0] = __shfl_down(red_buf0[0], 4, 64);
  red_buf0[0] = (red_buf0[0] + t0[0]);
  t0[0] = __shfl_down(red_buf0[0], 2, 64);
  red_buf0[0] = (red_buf0[0] + t0[0]);
  t0[0] = __shfl_down(red_buf0[0], 1, 64);
  red_buf0[0] = (red_buf0[0] + t0[0]);
  red_buf0[0] = __shfl(red_buf0[0], 0, 64);
  for (int ax1_outer = 0; ax1_outer < 16; ++ax1_outer) {
    if (((ax1_outer * 64) + ((int)threadIdx.x)) < 1000) {
      T_rmsnorm[(((((int)blockIdx.x) * 1000) + (ax1_outer * 64)) + ((int)threadIdx.x))] = ((data[(((((int)blockIdx.x) * 1000) + (ax1_outer * 64)) + ((int)threadIdx.x))] * gamma[((ax1_outer * 64) + ((int)threadIdx.x))]) * (1.000000e+00f / sqrtf(((red_buf0[0] * 1.000000e-03f) + 1.000000e-05f))));
    }
  }
}
