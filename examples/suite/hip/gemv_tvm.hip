// gemv / dense (100, 1000) @ (1000,) in TVM's style for ROCm: rfactor over K, one block of 64 threads
// per row; K = 1000 is not a multiple of 64, so the reduction loop carries TVM's likely-guard; the 64
// partials are combined by an LDS tree (red_buf0) with __syncthreads; the launch (grid 100, block 64)
// comes from the manifest.
#include <hip/hip_runtime.h>

extern "C" __global__ void __launch_bounds__(64) default_function_kernel(float* __restrict__ A, float* __restrict__ x, float* __restrict__ T_matmul) {
  float T_matmul_rf[1];
  __shared__ float red_buf0[64];
  T_matmul_rf[0] = 0.000000e+00f;
  for (int k_outer = 0; k_outer < 16; ++k_outer) {
    if (((k_outer * 64) + ((int)threadIdx.x)) < 1000) {
      T_matmul_rf[0] = (T_matmul_rf[0] + (A[(((((int)blockIdx.x) * 1000) + (k_outer * 64)) + ((int)threadIdx.x))] * x[((k_outer * 64) + ((int)threadIdx.x))]));
    }
  }
  __syncthreads();
  red_buf0[((int)threadIdx.x)] = T_matmul_rf[0];
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
    T_matmul[((int)blockIdx.x)] = red_buf0[0];
  }
}
