// dense / gemm (64, 96) x (96, 48) in TVM's style: bare kernel, an 8x8 block of threads each
// computing one output, the K loop split in chunks of 16 through LDS tiles; the launch (grid 6x8,
// block 8x8) comes from the manifest.
#include <hip/hip_runtime.h>

extern "C" __global__ void __launch_bounds__(64) default_function_kernel(float* __restrict__ A, float* __restrict__ B, float* __restrict__ T_matmul_NN) {
  float T_matmul_NN_local[1];
  __shared__ float A_shared[128];
  __shared__ float B_shared[128];
  T_matmul_NN_local[0] = 0.000000e+00f;
  for (int k_outer = 0; k_outer < 6; ++k_outer) {
    __syncthreads();
    for (int ax1_inner = 0; ax1_inner < 2; ++ax1_inner) {
      A_shared[(((((int)threadIdx.y) * 16) + (((int)threadIdx.x) * 2)) + ax1_inner)] = A[(((((((int)blockIdx.y) * 768) + (((int)threadIdx.y) * 96)) + (k_outer * 16)) + (((int)threadIdx.x) * 2)) + ax1_inner)];
    }
    for (int ax0_inner = 0; ax0_inner < 2; ++ax0_inner) {
      B_shared[((((((int)threadIdx.y) * 2) + ax0_inner) * 8) + ((int)threadIdx.x))] = B[(((((k_outer * 768) + (((int)threadIdx.y) * 96)) + (ax0_inner * 48)) + (((int)blockIdx.x) * 8)) + ((int)threadIdx.x))];
    }
    __syncthreads();
    for (int k_inner = 0; k_inner < 16; ++k_inner) {
      T_matmul_NN_local[0] = (T_matmul_NN_local[0] + (A_shared[((((int)threadIdx.y) * 16) + k_inner)] * B_shared[((k_inner * 8) + ((int)threadIdx.x))]));
    }
  }
  T_matmul_NN[((((((int)blockIdx.y) * 384) + (((int)threadIdx.y) * 48)) + (((int)blockIdx.x) * 8)) + ((int)threadIdx.x))] = T_matmul_NN_local[0];
}
