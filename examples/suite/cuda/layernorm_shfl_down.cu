// layernorm over rows of 2048 (shape (8, 2048)): one block of 256 threads per row; warp sums with
// __shfl_down_sync, then one value per warp through shared memory.
#include <cuda_runtime.h>

#define THREADS 256
#define WARPS (THREADS / 32)

__device__ float block_sum(float v, float* shared) {
  int lane = threadIdx.x % warpSize, wid = threadIdx.x / warpSize;
  for (int offset = warpSize / 2; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffff, v, offset);
  if (lane == 0) shared[wid] = v;
  __syncthreads();
  v = (threadIdx.x < WARPS) ? shared[lane] : 0.0f;
  if (wid == 0)
    for (int offset = WARPS / 2; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffff, v, offset);
  if (threadIdx.x == 0) shared[0] = v;
  __syncthreads();
  float total = shared[0];
  __syncthreads();
  return total;
}

__global__ void __launch_bounds__(THREADS) layernorm_kernel(const float* __restrict__ x, const float* __restrict__ gamma,
                                                           const float* __restrict__ beta, float* __restrict__ y,
                                                           int cols, float eps) {
  __shared__ float partial[WARPS];
  const float* xr = x + (size_t)blockIdx.x * cols;
  float s = 0.0f;
  for (int c = threadIdx.x; c < cols; c += THREADS) s += xr[c];
  float mean = block_sum(s, partial) / cols;
  float v = 0.0f;
  for (int c = threadIdx.x; c < cols; c += THREADS) {
    float d = xr[c] - mean;
    v += d * d;
  }
  float rstd = rsqrtf(block_sum(v, partial) / cols + eps);
  for (int c = threadIdx.x; c < cols; c += THREADS)
    y[(size_t)blockIdx.x * cols + c] = (xr[c] - mean) * rstd * gamma[c] + beta[c];
}

extern "C" void layernorm(const float* x, const float* gamma, const float* beta, float* y, int rows, int cols) {
  float *dx, *dg, *db, *dy;
  cudaMalloc(&dx, rows * cols * sizeof(float));
  cudaMalloc(&dg, cols * sizeof(float));
  cudaMalloc(&db, cols * sizeof(float));
  cudaMalloc(&dy, rows * cols * sizeof(float));
  cudaMemcpy(dx, x, rows * cols * sizeof(float), cudaMemcpyHostToDevice);
  cudaMemcpy(dg, gamma, cols * sizeof(float), cudaMemcpyHostToDevice);
  cudaMemcpy(db, beta, cols * sizeof(float), cudaMemcpyHostToDevice);
  layernorm_kernel<<<rows, THREADS>>>(dx, dg, db, dy, cols, 1e-5f);
  cudaMemcpy(y, dy, rows * cols * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(dx);
  cudaFree(dg);
  cudaFree(db);
  cudaFree(dy);
}
