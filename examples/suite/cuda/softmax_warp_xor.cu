// softmax over the last axis of (12, 3, 128): one warp per row, butterfly reductions with
// __shfl_xor_sync, four rows per block of 128 threads.
#include <cuda_runtime.h>
#include <float.h>

__device__ __forceinline__ float warp_max(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, offset));
  return v;
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffff, v, offset);
  return v;
}

__global__ void softmax_rows(const float* __restrict__ x, float* __restrict__ y, int rows, int cols) {
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  int row = blockIdx.x * (blockDim.x / 32) + warp;
  if (row >= rows) return;  // whole warps leave together
  const float* xr = x + (size_t)row * cols;
  float m = -FLT_MAX;
  for (int c = lane; c < cols; c += 32) m = fmaxf(m, xr[c]);
  m = warp_max(m);
  float s = 0.0f;
  for (int c = lane; c < cols; c += 32) s += __expf(xr[c] - m);
  s = warp_sum(s);
  float inv = 1.0f / s;
  for (int c = lane; c < cols; c += 32) y[(size_t)row * cols + c] = __expf(xr[c] - m) * inv;
}

extern "C" void softmax_kernel(const float* A, float* out, int rows, int cols) {
  float *dA, *dOut;
  cudaMalloc(&dA, rows * cols * sizeof(float));
  cudaMalloc(&dOut, rows * cols * sizeof(float));
  cudaMemcpy(dA, A, rows * cols * sizeof(float), cudaMemcpyHostToDevice);
  const int rows_per_block = 4;
  softmax_rows<<<(rows + rows_per_block - 1) / rows_per_block, rows_per_block * 32>>>(dA, dOut, rows, cols);
  cudaMemcpy(out, dOut, rows * cols * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(dA);
  cudaFree(dOut);
}
