// gemv y = A @ x for A (512, 4096): one warp per row, float4 loads, __shfl_down_sync reduction.
#include <cuda_runtime.h>

__global__ void gemv_warp(const float* __restrict__ A, const float* __restrict__ x, float* __restrict__ y, int M, int K) {
  int lane = threadIdx.x & 31;
  int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
  if (row >= M) return;
  const float4* a4 = reinterpret_cast<const float4*>(A + (size_t)row * K);
  const float4* x4 = reinterpret_cast<const float4*>(x);
  float sum = 0.0f;
  for (int i = lane; i < K / 4; i += 32) {
    float4 a = a4[i], b = x4[i];
    sum += a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w;
  }
  for (int off = 16; off > 0; off >>= 1) sum += __shfl_down_sync(0xffffffff, sum, off);
  if (lane == 0) y[row] = sum;
}

extern "C" void gemv(const float* A, const float* x, float* y, int M, int K) {
  float *dA, *dx, *dy;
  cudaMalloc(&dA, (size_t)M * K * sizeof(float));
  cudaMalloc(&dx, K * sizeof(float));
  cudaMalloc(&dy, M * sizeof(float));
  cudaMemcpy(dA, A, (size_t)M * K * sizeof(float), cudaMemcpyHostToDevice);
  cudaMemcpy(dx, x, K * sizeof(float), cudaMemcpyHostToDevice);
  const int warps_per_block = 8;
  gemv_warp<<<(M + warps_per_block - 1) / warps_per_block, warps_per_block * 32>>>(dA, dx, dy, M, K);
  cudaMemcpy(y, dy, M * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(dA);
  cudaFree(dx);
  cudaFree(dy);
}
