// batch_matmul (4, 128, 256) x (4, 256, 128) in TVM's style: bare kernel, shared-memory tiles
// A_shared/B_shared, a 2x2 register tile in a local array, blockIdx.z the batch; baked shapes. The
// launch (grid 8x8x4, block 8x8) comes from the manifest.
extern "C" __global__ void __launch_bounds__(64) default_function_kernel(float* __restrict__ A, float* __restrict__ B, float* __restrict__ T_batch_matmul_NN) {
  float T_batch_matmul_NN_local[4];
  __shared__ float A_shared[256];
  __shared__ float B_shared[256];
  for (int i_c_init = 0; i_c_init < 2; ++i_c_init) {
    for (int j_c_init = 0; j_c_init < 2; ++j_c_init) {
      T_batch_matmul_NN_local[((i_c_init * 2) + j_c_init)] = 0.000000e+00f;
    }
  }
  for (int k_outer = 0; k_outer < 16; ++k_outer) {
    __syncthreads();
    for (int ax1_inner = 0; ax1_inner < 2; ++ax1_inner) {
      for (int ax2_inner = 0; ax2_inner < 2; ++ax2_inner) {
        A_shared[((((((int)threadIdx.y) * 32) + (ax1_inner * 16)) + (((int)threadIdx.x) * 2)) + ax2_inner)] = A[((((((((int)blockIdx.z) * 32768) + (((int)blockIdx.y) * 4096)) + (((int)threadIdx.y) * 512)) + (ax1_inner * 256)) + (k_outer * 16)) + ((((int)threadIdx.x) * 2) + ax2_inner))];
      }
    }
    for (int ax1_inner_1 = 0; ax1_inner_1 < 2; ++ax1_inner_1) {
      for (int ax2_inner_1 = 0; ax2_inner_1 < 2; ++ax2_inner_1) {
        B_shared[((((((int)threadIdx.y) * 32) + (ax1_inner_1 * 16)) + (((int)threadIdx.x) * 2)) + ax2_inner_1)] = B[((((((((int)blockIdx.z) * 32768) + (k_outer * 2048)) + (((int)threadIdx.y) * 256)) + (ax1_inner_1 * 128)) + (((int)blockIdx.x) * 16)) + ((((int)threadIdx.x) * 2) + ax2_inner_1))];
      }
    }
    __syncthreads();
    for (int k_inner = 0; k_inner < 16; ++k_inner) {
      for (int i_c = 0; i_c < 2; ++i_c) {
        for (int j_c = 0; j_c < 2; ++j_c) {
          T_batch_matmul_NN_local[((i_c * 2) + j_c)] = (T_batch_matmul_NN_local[((i_c * 2) + j_c)] + (A_shared[(((((int)threadIdx.y) * 32) + (i_c * 16)) + k_inner)] * B_shared[(((k_inner * 16) + (((int)threadIdx.x) * 2)) + j_c)]));
        }
      }
    }
  }
  for (int i_inner_inner = 0; i_inner_inner < 2; ++i_inner_inner) {
    for (int j_inner_inner = 0; j_inner_inner < 2; ++j_inner_inner) {
      T_batch_matmul_NN[((((((((int)blockIdx.z) * 16384) + (((int)blockIdx.y) * 2048)) + (((int)threadIdx.y) * 256)) + (i_inner_inner * 128)) + (((int)blockIdx.x) * 16)) + ((((int)threadIdx.x) * 2) + j_inner_inner))] = T_batch_matmul_NN_local[((i_inner_inner * 2) + j_inner_inner)];
    }
  }
}
