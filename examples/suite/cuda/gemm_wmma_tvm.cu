// fp16 GEMM (256 x 128 x 256), fp32 out, in TVM's tensor-core style: bare kernel, fragment arrays,
// A_shared/B_shared padded to 40 halves per row, block (32, 2) = 2 warps, each computing a 16x32
// strip of the block's 32x32 tile; the launch (grid 4 x 8, block 32 x 2) comes from the manifest.
#include <mma.h>

extern "C" __global__ void __launch_bounds__(64) default_function_kernel(half* __restrict__ A, half* __restrict__ B, float* __restrict__ compute) {
  nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 16, float> compute_wmma_accumulator[2];
  __shared__ half A_shared[1280];
  __shared__ half B_shared[1280];
  nvcuda::wmma::fragment<nvcuda::wmma::matrix_a, 16, 16, 16, half, nvcuda::wmma::row_major> A_shared_wmma_matrix_a[1];
  nvcuda::wmma::fragment<nvcuda::wmma::matrix_b, 16, 16, 16, half, nvcuda::wmma::row_major> B_shared_wmma_matrix_b[2];
  for (int j_c_init = 0; j_c_init < 2; ++j_c_init) {
    nvcuda::wmma::fill_fragment(compute_wmma_accumulator[j_c_init], 0.000000e+00f);
  }
  for (int k_outer = 0; k_outer < 8; ++k_outer) {
    __syncthreads();
    for (int ax0_ax1_fused_outer = 0; ax0_ax1_fused_outer < 16; ++ax0_ax1_fused_outer) {
      A_shared[(((ax0_ax1_fused_outer * 80) + (((int)threadIdx.y) * 40)) + ((int)threadIdx.x))] = A[(((((((int)blockIdx.y) * 8192) + (ax0_ax1_fused_outer * 512)) + (((int)threadIdx.y) * 256)) + (k_outer * 32)) + ((int)threadIdx.x))];
    }
    for (int ax0_ax1_fused_outer_1 = 0; ax0_ax1_fused_outer_1 < 16; ++ax0_ax1_fused_outer_1) {
      B_shared[(((ax0_ax1_fused_outer_1 * 80) + (((int)threadIdx.y) * 40)) + ((int)threadIdx.x))] = B[(((((k_outer * 4096) + (ax0_ax1_fused_outer_1 * 256)) + (((int)threadIdx.y) * 128)) + (((int)blockIdx.x) * 32)) + ((int)threadIdx.x))];
    }
    __syncthreads();
    for (int k_inner = 0; k_inner < 2; ++k_inner) {
      nvcuda::wmma::load_matrix_sync(A_shared_wmma_matrix_a[0], (&(A_shared[((((int)threadIdx.y) * 640) + (k_inner * 16))])), 40);
      for (int ax1 = 0; ax1 < 2; ++ax1) {
        nvcuda::wmma::load_matrix_sync(B_shared_wmma_matrix_b[ax1], (&(B_shared[((k_inner * 640) + (ax1 * 16))])), 40);
      }
      for (int j_c = 0; j_c < 2; ++j_c) {
        nvcuda::wmma::mma_sync(compute_wmma_accumulator[j_c], A_shared_wmma_matrix_a[0], B_shared_wmma_matrix_b[j_c], compute_wmma_accumulator[j_c]);
      }
    }
  }
  for (int j_inner = 0; j_inner < 2; ++j_inner) {
    nvcuda::wmma::store_matrix_sync((&(compute[((((((int)blockIdx.y) * 4096) + (((int)threadIdx.y) * 2048)) + (((int)blockIdx.x) * 32)) + (j_inner * 16))])), compute_wmma_accumulator[j_inner], 128, nvcuda::wmma::mem_row_major);
  }
}
