// softmax over the last axis of (12, 3, 128) in TVM's style for ROCm: one block of 64 threads per row
// (36 rows), the generic cross-thread allreduce through an LDS buffer red_buf0[64] halved step by
// step with __syncthreads, T_softmax_maxelem and T_softmax_expsum read back from red_buf0[0]; the
// launch (grid 36, block 64) comes from the manifest.
#include <hip/hip_runtime.h>

extern "C" __global__ void __launch_bounds__(64) default_function_kernel(float* __restrict__ T_softmax_norm, float* __restrict__ data) {
  float normal_reduce_temp0[1];
  __shared__ float red_buf0[64];
  __shared__ float T_softmax_maxelem[1];
  __shared__ float T_softmax_expsum[1];
  normal_reduce_temp0[0] = -3.402823e+38f;
  for (int k_outer = 0; k_outer < 2; ++k_outer) {
    normal_reduce_temp0[0] = max(normal_reduce_temp0[0], data[(((((int)blockIdx.x) * 128) + (k_outer * 64)) + ((int)threadIdx.x))]);
  }
  __syncthreads();
  red_buf0[((int)threadIdx.x)] = normal_reduce_temp0[0];
  __syncthreads();
  if (((int)threadIdx.x) < 32) {
    red_buf0[((int)threadIdx.x)] = max(red_buf0[((int)threadIdx.x)], red_buf0[(((int)threadIdx.x) + 32)]);
  }
  __syncthreads();
  if (((int)threadIdx.x) < 16) {
    red_buf0[((int)threadIdx.x)] = max(red_buf0[((int)threadIdx.x)], red_buf0[(((int)threadIdx.x) + 16)]);
  }
  __syncthreads();
  if (((int)threadIdx.x) < 8) {
    red_buf0[((int)threadIdx.x)] = max(red_buf0[((int)threadIdx.x)], red_buf0[(((int)threadIdx.x) + 8)]);
  }
  __syncthreads();
  if (((int)threadIdx.x) < 4) {
    red_buf0[((int)threadIdx.x)] = max(red_buf0[((int)threadIdx.x)], red_buf0[(((int)threadIdx.x) + 4)]);
  }
  __syncthreads();
  if (((int)threadIdx.x) < 2) {
    red_buf0[((int)threadIdx.x)] = max(red_buf0[((int)threadIdx.x)], red_buf0[(((int)threadIdx.x) + 2)]);
  }
  __syncthreads();
  if (((int)threadIdx.x) < 1) {
    red_buf0[((int)threadIdx.x)] = max(red_buf0[((int)threadIdx.x)], red_buf0[(((int)threadIdx.x) + 1)]);
  }
  __syncthreads();
  if (((int)threadIdx.x) == 0) {
    T_softmax_maxelem[0] = red_buf0[0];
  }
  __syncthreads();
  normal_reduce_temp0[0] = 0.000000e+00f;
  for (int k_outer_1 = 0; k_outer_1 < 2; ++k_outer_1) {
    normal_reduce_temp0[0] = (normal_reduce_temp0[0] + __expf((data[(((((int)blockIdx.x) * 128) + (k_outer_1 * 64)) + ((int)threadIdx.x))] - T_softmax_maxelem[0])));
  }
  __syncthreads();
  red_buf0[((int)threadIdx.x)] = normal_reduce_temp0[0];
  __syncthreads();
  if (((int)threadIdx.x) < 32) {
    red_buf0[((int)threadIdx.x)] = (red_buf0[((int)threadIdx.x)] + red_buf0[(((int)threadIdx.x) + 32)]);
  }
  __syncthreads();
  if (((int)threadIdx.x) < 16) {
    red_buf0[((int)threadIdx.x)] = (red_buf0[((int)threadIdx.x)] + red_buf0[(((int)threadIdx.x) + 16)]);
  }
  __syncthreads();
  if (((int)threadIdx.x) < 8) {
    red_buf0[((int)threadIdx.x)] = (red_buf0[((int)threadIdx.x)] + red_buf0[(((int)threadIdx.x) + 8)]);
  }
  __syncthreads();
  if (((int)threadIdx.x) < 4) {
    red_buf0[((int)threadIdx.x)] = (red_buf0[((int)threadIdx.x)] + red_buf0[(((int)threadIdx.x) + 4)]);
  }
  __syncthreads();
  if (((int)threadIdx.x) < 2) {
    red_buf0[((int)threadIdx.x)] = (red_buf0[((int)threadIdx.x)] + red_buf0[(((int)threadIdx.x) + 2)]);
  }
  __syncthreads();
  if (((int)threadIdx.x) < 1) {
    red_buf0[((int)threadIdx.x)] = (red_buf0[((int)threadIdx.x)] + red_buf0[(((int)threadIdx.x) + 1)]);
  }
  __syncthreads();
  if (((int)threadIdx.x) == 0) {
    T_softmax_expsum[0] = red_buf0[0];
  }
  __syncthreads();
  for (int i1_inner_outer = 0; i1_inner_outer < 2; ++i1_inner_outer) {
    T_softmax_norm[(((((int)blockIdx.x) * 128) + (i1_inner_outer * 64)) + ((int)threadIdx.x))] = (__expf((data[(((((int)blockIdx.x) * 128) + (i1_inner_outer * 64)) + ((int)threadIdx.x))] - T_softmax_maxelem[0])) / T_softmax_expsum[0]);
  }
}
