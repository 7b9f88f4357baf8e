// layer_norm over the last axis of (1, 4, 128) in TVM's CUDA style: one block of 32 threads per row,
// the tuple reduction (sum, sum of squares) of topi's mean_var in two red_buf registers reduced
// together with __shfl_down_sync, the statistics in shared memory, rsqrtf of the baked eps; the launch
// (grid 4, block 32) comes from the manifest.
extern "C" __global__ void __launch_bounds__(32) default_function_kernel(float* __restrict__ data, float* __restrict__ gamma, float* __restrict__ beta, float* __restrict__ T_layer_norm) {
  float normal_reduce_temp0[1];
  float normal_reduce_temp1[1];
  __shared__ float data_red_temp_v0_shared[1];
  __shared__ float data_red_temp_v1_shared[1];
  float red_buf0[1];
  float red_buf1[1];
  normal_reduce_temp0[0] = 0.000000e+00f;
  normal_reduce_temp1[0] = 0.000000e+00f;
  for (int k2_outer = 0; k2_outer < 4; ++k2_outer) {
    float v_data_red_temp_v0 = (normal_reduce_temp0[0] + data[(((((int)blockIdx.x) * 128) + (k2_outer * 32)) + ((int)threadIdx.x))]);
    float v_data_red_temp_v1 = (normal_reduce_temp1[0] + (data[(((((int)blockIdx.x) * 128) + (k2_outer * 32)) + ((int)threadIdx.x))] * data[(((((int)blockIdx.x) * 128) + (k2_outer * 32)) + ((int)threadIdx.x))]));
    normal_reduce_temp0[0] = v_data_red_temp_v0;
    normal_reduce_temp1[0] = v_data_red_temp_v1;
  }
  uint mask[1];
  float t0[1];
  float t1[1];
  red_buf0[0] = normal_reduce_temp0[0];
  red_buf1[0] = normal_reduce_temp1[0];
  mask[0] = __activemask();
  t0[0] = __shfl_down_sync(mask[0], red_buf0[0], 16, 32);
  t1[0] = __shfl_down_sync(mask[0], red_buf1[0], 16, 32);
  red_buf0[0] = (red_buf0[0] + t0[0]);
  red_buf1[0] = (red_buf1[0] + t1[0]);
  t0[0] = __shfl_down_sync(mask[0], red_buf0[0], 8, 32);
  t1[0] = __shfl_down_sync(mask[0], red_buf1[0], 8, 32);
  red_buf0[0] = (red_buf0[0] + t0[0]);
  red_buf1[0] = (red_buf1[0] + t1[0]);
  t0[0] = __shfl_down_sync(mask[0], red_buf0[0], 4, 32);
  t1[0] = __shfl_down_sync(mask[0], red_buf1[0], 4, 32);
  red_buf0[0] = (red_buf0[0] + t0[0]);
  red_buf1[0] = (red_buf1[0] + t1[0]);
  t0[0] = __shfl_down_sync(mask[0], red_buf0[0], 2, 32);
  t1[0] = __shfl_down_sync(mask[0], red_buf1[0], 2, 32);
  red_buf0[0] = (red_buf0[0] + t0[0]);
  red_buf1[0] = (red_buf1[0] + t1[0]);
  t0[0] = __shfl_down_sync(mask[0], red_buf0[0], 1, 32);
  t1[0] = __shfl_down_sync(mask[0], red_buf1[0], 1, 32);
  red_buf0[0] = (red_buf0[0] + t0[0]);
  red_buf1[0] = (red_buf1[0] + t1[0]);
  red_buf0[0] = __shfl_sync(mask[0], red_buf0[0], 0, 32);
  red_buf1[0] = __shfl_sync(mask[0], red_buf1[0], 0, 32);
  if (((int)threadIdx.x) == 0) {
    data_red_temp_v0_shared[0] = red_buf0[0];
    data_red_temp_v1_shared[0] = red_buf1[0];
  }
  __syncthreads();
  for (int ax2_outer = 0; ax2_outer < 4; ++ax2_outer) {
    T_layer_norm[(((((int)blockIdx.x) * 128) + (ax2_outer * 32)) + ((int)threadIdx.x))] = ((((data[(((((int)blockIdx.x) * 128) + (ax2_outer * 32)) + ((int)threadIdx.x))] - (data_red_temp_v0_shared[0] * 7.812500e-03f)) * rsqrtf((((data_red_temp_v1_shared[0] * 7.812500e-03f) - ((data_red_temp_v0_shared[0] * 7.812500e-03f) * (data_red_temp_v0_shared[0] * 7.812500e-03f))) + 1.000000e-05f))) * gamma[((ax2_outer * 32) + ((int)threadIdx.x))]) + beta[((ax2_outer * 32) + ((int)threadIdx.x))]);
  }
}
