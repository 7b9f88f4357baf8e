// batched fp32 GEMM C[b] = A[b] @ B[b] (A [batch][M][K], B [batch][K][N]) with 64 x 64 block tiles
// and a 4 x 4 register tile per thread (16 x 16 threads); A is stored transposed in shared memory so
// the inner loop reads both tiles as rows; blockIdx.z the batch. Every load and store is guarded, so
// M, N and K need not be multiples of 64 or 16.
#include <cuda_runtime.h>

#define BM 64
#define BN 64
#define BK 16
#define TM 4
#define TN 4

__global__ void __launch_bounds__(256) bmm_reg_tiled(const float* __restrict__ A, const float* __restrict__ B,
                                                     float* __restrict__ C, int M, int N, int K) {
  __shared__ float As[BK][BM];  // transposed: As[k][m]
  __shared__ float Bs[BK][BN];
  const float* a = A + (size_t)blockIdx.z * M * K;
  const float* b = B + (size_t)blockIdx.z * K * N;
  float* c = C + (size_t)blockIdx.z * M * N;
  const int tid = threadIdx.y * blockDim.x + threadIdx.x;
  const int row0 = blockIdx.y * BM, col0 = blockIdx.x * BN;
  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;
  for (int k0 = 0; k0 < K; k0 += BK) {
    for (int i = tid; i < BM * BK; i += 256) {
      const int r = i / BK, kk = i % BK;
      As[kk][r] = (row0 + r < M && k0 + kk < K) ? a[(size_t)(row0 + r) * K + k0 + kk] : 0.0f;
      const int kr = i / BN, cc = i % BN;
      Bs[kr][cc] = (k0 + kr < K && col0 + cc < N) ? b[(size_t)(k0 + kr) * N + col0 + cc] : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
      float ra[TM], rb[TN];
#pragma unroll
      for (int i = 0; i < TM; ++i) ra[i] = As[kk][threadIdx.y * TM + i];
#pragma unroll
      for (int j = 0; j < TN; ++j) rb[j] = Bs[kk][threadIdx.x * TN + j];
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] += ra[i] * rb[j];
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const int r = row0 + threadIdx.y * TM + i, cc = col0 + threadIdx.x * TN + j;
      if (r < M && cc < N) c[(size_t)r * N + cc] = acc[i][j];
    }
}

extern "C" void bmm_fp32(const float* A, const float* B, float* C, int batch, int M, int N, int K) {
  float *dA, *dB, *dC;
  cudaMalloc(&dA, sizeof(float) * batch * M * K);
  cudaMalloc(&dB, sizeof(float) * batch * K * N);
  cudaMalloc(&dC, sizeof(float) * batch * M * N);
  cudaMemcpy(dA, A, sizeof(float) * batch * M * K, cudaMemcpyHostToDevice);
  cudaMemcpy(dB, B, sizeof(float) * batch * K * N, cudaMemcpyHostToDevice);
  dim3 block(16, 16);
  dim3 grid((N + BN - 1) / BN, (M + BM - 1) / BM, batch);
  bmm_reg_tiled<<<grid, block>>>(dA, dB, dC, M, N, K);
  cudaMemcpy(C, dC, sizeof(float) * batch * M * N, cudaMemcpyDeviceToHost);
  cudaFree(dA);
  cudaFree(dB);
  cudaFree(dC);
}
