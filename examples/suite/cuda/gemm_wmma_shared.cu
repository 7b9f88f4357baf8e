// fp16 GEMM, fp32 out, tensor cores with shared-memory staging: a block of 4 warps (2 x 2) computes a
// 32x32 tile of C; 32x32 tiles of A and B (row-major [K][N]) go through shared memory padded to a
// leading dimension of 40 halves, __syncthreads around every stage.
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <mma.h>

using namespace nvcuda;

#define BM 32
#define BN 32
#define BK 32
#define LDS 40

__global__ void __launch_bounds__(128) wmma_gemm_shared(const half* __restrict__ A, const half* __restrict__ B,
                                                        float* __restrict__ C, int M, int N, int K) {
  __shared__ half As[BM * LDS];
  __shared__ half Bs[BK * LDS];
  int warp = threadIdx.x / 32;
  int wm = warp / 2, wn = warp % 2;
  int row0 = blockIdx.y * BM, col0 = blockIdx.x * BN;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::fill_fragment(acc, 0.0f);
  for (int k0 = 0; k0 < K; k0 += BK) {
    for (int i = threadIdx.x; i < BM * BK; i += blockDim.x) {
      int r = i / BK, c = i % BK;
      As[r * LDS + c] = A[(row0 + r) * K + k0 + c];
      Bs[r * LDS + c] = B[(k0 + r) * N + col0 + c];
    }
    __syncthreads();
    for (int kk = 0; kk < BK; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, half, wmma::row_major> a;
      wmma::fragment<wmma::matrix_b, 16, 16, 16, half, wmma::row_major> b;
      wmma::load_matrix_sync(a, As + (wm * 16) * LDS + kk, LDS);
      wmma::load_matrix_sync(b, Bs + kk * LDS + wn * 16, LDS);
      wmma::mma_sync(acc, a, b, acc);
    }
    __syncthreads();
  }
  wmma::store_matrix_sync(C + (row0 + wm * 16) * N + col0 + wn * 16, acc, N, wmma::mem_row_major);
}

extern "C" void gemm(const half* A, const half* B, float* C, int M, int N, int K) {
  half *dA, *dB;
  float* dC;
  cudaMalloc(&dA, sizeof(half) * M * K);
  cudaMalloc(&dB, sizeof(half) * K * N);
  cudaMalloc(&dC, sizeof(float) * M * N);
  cudaMemcpy(dA, A, sizeof(half) * M * K, cudaMemcpyHostToDevice);
  cudaMemcpy(dB, B, sizeof(half) * K * N, cudaMemcpyHostToDevice);
  dim3 grid(N / BN, M / BM);
  wmma_gemm_shared<<<grid, 128>>>(dA, dB, dC, M, N, K);
  cudaMemcpy(C, dC, sizeof(float) * M * N, cudaMemcpyDeviceToHost);
  cudaFree(dA);
  cudaFree(dB);
  cudaFree(dC);
}
