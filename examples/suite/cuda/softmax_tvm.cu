// softmax over the last axis of (5, 128) in TVM's CUDA style: one block of 32 threads per row,
// cross-thread reductions through red_buf0 with __activemask / __shfl_down_sync and the broadcast
// __shfl_sync, T_softmax_maxelem and T_softmax_expsum in shared memory; no guard, so the launch
// (grid 5, block 32) comes from the manifest.
extern "C" __global__ void __launch_bounds__(32) default_function_kernel(float* __restrict__ T_softmax_norm, float* __restrict__ data) {
  float normal_reduce_temp0[1];
  __shared__ float T_softmax_maxelem_shared[1];
  float red_buf0[1];
  float normal_reduce_temp0_1[1];
  __shared__ float T_softmax_expsum_shared[1];
  float red_buf0_1[1];
  normal_reduce_temp0[0] = -3.402823e+38f;
  for (int k_outer = 0; k_outer < 4; ++k_outer) {
    normal_reduce_temp0[0] = max(normal_reduce_temp0[0], data[(((((int)blockIdx.x) * 128) + (k_outer * 32)) + ((int)threadIdx.x))]);
  }
  uint mask[1];
  float t0[1];
  red_buf0[0] = normal_reduce_temp0[0];
  mask[0] = __activemask();
  t0[0] = __shfl_down_sync(mask[0], red_buf0[0], 16, 32);
  red_buf0[0] = max(red_buf0[0], t0[0]);
  t0[0] = __shfl_down_sync(mask[0], red_buf0[0], 8, 32);
  red_buf0[0] = max(red_buf0[0], t0[0]);
  t0[0] = __shfl_down_sync(mask[0], red_buf0[0], 4, 32);
  red_buf0[0] = max(red_buf0[0], t0[0]);
  t0[0] = __shfl_down_sync(mask[0], red_buf0[0], 2, 32);
  red_buf0[0] = max(red_buf0[0], t0[0]);
  t0[0] = __shfl_down_sync(mask[0], red_buf0[0], 1, 32);
  red_buf0[0] = max(red_buf0[0], t0[0]);
  red_buf0[0] = __shfl_sync(mask[0], red_buf0[0], 0, 32);
  if (((int)threadIdx.x) == 0) {
    T_softmax_maxelem_shared[0] = red_buf0[0];
  }
  __syncthreads();
  normal_reduce_temp0_1[0] = 0.000000e+00f;
  for (int k_outer_1 = 0; k_outer_1 < 4; ++k_outer_1) {
    normal_reduce_temp0_1[0] = (normal_reduce_temp0_1[0] + __expf((data[(((((int)blockIdx.x) * 128) + (k_outer_1 * 32)) + ((int)threadIdx.x))] - T_softmax_maxelem_shared[0])));
  }
  uint mask_1[1];
  float t0_1[1];
  red_buf0_1[0] = normal_reduce_temp0_1[0];
  mask_1[0] = __activemask();
  t0_1[0] = __shfl_down_sync(mask_1[0], red_buf0_1[0], 16, 32);
  red_buf0_1[0] = (red_buf0_1[0] + t0_1[0]);
  t0_1[0] = __shfl_down_sync(mask_1[0], red_buf0_1[0], 8, 32);
  red_buf0_1[0] = (red_buf0_1[0] + t0_1[0]);
  t0_1[0] = __shfl_down_sync(mask_1[0], red_buf0_1[0], 4, 32);
  red_buf0_1[0] = (red_buf0_1[0] + t0_1[0]);
  t0_1[0] = __shfl_down_sync(mask_1[0], red_buf0_1[0], 2, 32);
  red_buf0_1[0] = (red_buf0_1[0] + t0_1[0]);
  t0_1[0] = __shfl_down_sync(mask_1[0], red_buf0_1[0], 1, 32);
  red_buf0_1[0] = (red_buf0_1[0] + t0_1[0]);
  red_buf0_1[0] = __shfl_sync(mask_1[0], red_buf0_1[0], 0, 32);
  if (((int)threadIdx.x) == 0) {
    T_softmax_expsum_shared[0] = red_buf0_1[0];
  }
  __syncthreads();
  for (int i1_inner_outer = 0; i1_inner_outer < 4; ++i1_inner_outer) {
    T_softmax_norm[(((((int)blockIdx.x) * 128) + (i1_inner_outer * 32)) + ((int)threadIdx.x))] = (__expf((data[(((((int)blockIdx.x) * 128) + (i1_inner_outer * 32)) + ((int)threadIdx.x))] - T_softmax_maxelem_shared[0])) / T_softmax_expsum_shared[0]);
  }
}
