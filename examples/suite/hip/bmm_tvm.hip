// batch_matmul (2, 64, 128) x (2, 128, 96) -> (2, 64, 96) in TVM's style for ROCm: bare kernel, 16x16
// threads, A_shared / B_shared LDS tiles refilled every 16 steps of K between __syncthreads, a local
// accumulator, blockIdx.z the batch; the launch (grid 6 x 4 x 2, block 16 x 16) comes from the manifest.
#include <hip/hip_runtime.h>

extern "C" __global__ void __launch_bounds__(256) default_function_kernel(float* __restrict__ A, float* __restrict__ B, float* __restrict__ T_batch_matmul_NN) {
  float T_batch_matmul_NN_local[1];
  __shared__ float A_shared[256];
  __shared__ float B_shared[256];
  T_batch_matmul_NN_local[0] = 0.000000e+00f;
  for (int k_outer = 0; k_outer < 8; ++k_outer) {
    __syncthreads();
    A_shared[((((int)threadIdx.y) * 16) + ((int)threadIdx.x))] = A[(((((((int)blockIdx.z) * 8192) + (((int)blockIdx.y) * 2048)) + (((int)threadIdx.y) * 128)) + (k_outer * 16)) + ((int)threadIdx.x))];
    B_shared[((((int)threadIdx.y) * 16) + ((int)threadIdx.x))] = B[(((((((int)blockIdx.z) * 12288) + (k_outer * 1536)) + (((int)threadIdx.y) * 96)) + (((int)blockIdx.x) * 16)) + ((int)threadIdx.x))];
    __syncthreads();
    for (int k_inner = 0; k_inner < 16; ++k_inner) {
      T_batch_matmul_NN_local[0] = (T_batch_matmul_NN_local[0] + (A_shared[((((int)threadIdx.y) * 16) + k_inner)] * B_shared[((k_inner * 16) + ((int)threadIdx.x))]));
    }
  }
  T_batch_matmul_NN[(((((((int)blockIdx.z) * 6144) + (((int)blockIdx.y) * 1536)) + (((int)threadIdx.y) * 96)) + (((int)blockIdx.x) * 16)) + ((int)threadIdx.x))] = T_batch_matmul_NN_local[0];
}
