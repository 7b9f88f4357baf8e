// fp16 GEMM on tensor cores, fp32 accumulate: C[M][N] = alpha * A[M][K] @ B^T with B stored [N][K]
// (a col_major matrix_b); one warp per 16x16 tile of C, 4 warps per block.
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <mma.h>

using namespace nvcuda;

__global__ void wmma_gemm_nt(const half* __restrict__ A, const half* __restrict__ B, float* __restrict__ C,
                             int M, int N, int K, float alpha) {
  int warp_id = (blockIdx.x * blockDim.x + threadIdx.x) / warpSize;
  int tiles_n = N / 16;
  int tile_m = warp_id / tiles_n, tile_n = warp_id % tiles_n;
  if (tile_m >= M / 16) return;
  wmma::fragment<wmma::matrix_a, 16, 16, 16, half, wmma::row_major> a_frag;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, half, wmma::col_major> b_frag;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc_frag;
  wmma::fill_fragment(acc_frag, 0.0f);
  for (int k = 0; k < K; k += 16) {
    wmma::load_matrix_sync(a_frag, A + tile_m * 16 * K + k, K);
    wmma::load_matrix_sync(b_frag, B + tile_n * 16 * K + k, K);
    wmma::mma_sync(acc_frag, a_frag, b_frag, acc_frag);
  }
  for (int i = 0; i < acc_frag.num_elements; ++i) acc_frag.x[i] = alpha * acc_frag.x[i];
  wmma::store_matrix_sync(C + tile_m * 16 * N + tile_n * 16, acc_frag, N, wmma::mem_row_major);
}

extern "C" void gemm_fp16(const half* A, const half* B, float* C, int M, int N, int K, float alpha) {
  half *dA, *dB;
  float* dC;
  cudaMalloc(&dA, M * K * sizeof(half));
  cudaMalloc(&dB, N * K * sizeof(half));
  cudaMalloc(&dC, M * N * sizeof(float));
  cudaMemcpy(dA, A, M * K * sizeof(half), cudaMemcpyHostToDevice);
  cudaMemcpy(dB, B, N * K * sizeof(half), cudaMemcpyHostToDevice);
  int warps = (M / 16) * (N / 16);
  int threads = 128;
  wmma_gemm_nt<<<(warps * 32 + threads - 1) / threads, threads>>>(dA, dB, dC, M, N, K, alpha);
  cudaMemcpy(C, dC, M * N * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(dA);
  cudaFree(dB);
  cudaFree(dC);
}
