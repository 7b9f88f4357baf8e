// layernorm over the last axis for any row length: one block of 256 threads (four 64-lane
// wavefronts) per row, the row cached in dynamic LDS (HIP_DYNAMIC_SHARED) so x is read once; mean
// and variance by two wavefront reductions (__shfl_down, then the four partials through LDS); the
// variance is the biased one, eps 1e-5.
#include <hip/hip_runtime.h>

#define THREADS 256
#define WAVE 64

__device__ __forceinline__ float block_sum(float v, float* partial) {
  for (int off = WAVE / 2; off > 0; off >>= 1) v += __shfl_down(v, off);
  const int lane = hipThreadIdx_x % WAVE, wave = hipThreadIdx_x / WAVE;
  if (lane == 0) partial[wave] = v;
  __syncthreads();
  float total = 0.0f;
  for (int w = 0; w < THREADS / WAVE; ++w) total += partial[w];
  __syncthreads();
  return total;
}

__global__ void __launch_bounds__(THREADS) layernorm_rows(const float* __restrict__ x, const float* __restrict__ gamma,
                                                         const float* __restrict__ beta, float* __restrict__ y, int cols,
                                                         float eps) {
  HIP_DYNAMIC_SHARED(float, row)
  __shared__ float partial[THREADS / WAVE];
  const float* xr = x + (size_t)hipBlockIdx_x * cols;
  float s = 0.0f;
  for (int c = hipThreadIdx_x; c < cols; c += THREADS) {
    const float v = xr[c];
    row[c] = v;
    s += v;
  }
  const float mean = block_sum(s, partial) / cols;
  float q = 0.0f;
  for (int c = hipThreadIdx_x; c < cols; c += THREADS) {
    const float d = row[c] - mean;
    q += d * d;
  }
  const float rstd = rsqrtf(block_sum(q, partial) / cols + eps);
  float* yr = y + (size_t)hipBlockIdx_x * cols;
  for (int c = hipThreadIdx_x; c < cols; c += THREADS) yr[c] = (row[c] - mean) * rstd * gamma[c] + beta[c];
}

extern "C" void layernorm(const float* x, const float* gamma, const float* beta, float* y, int rows, int cols) {
  float *dx, *dg, *db, *dy;
  hipMalloc((void**)&dx, sizeof(float) * rows * cols);
  hipMalloc((void**)&dg, sizeof(float) * cols);
  hipMalloc((void**)&db, sizeof(float) * cols);
  hipMalloc((void**)&dy, sizeof(float) * rows * cols);
  hipMemcpy(dx, x, sizeof(float) * rows * cols, hipMemcpyHostToDevice);
  hipMemcpy(dg, gamma, sizeof(float) * cols, hipMemcpyHostToDevice);
  hipMemcpy(db, beta, sizeof(float) * cols, hipMemcpyHostToDevice);
  hipLaunchKernelGGL(layernorm_rows, dim3(rows), dim3(THREADS), cols * sizeof(float), 0, dx, dg, db, dy, cols, 1e-5f);
  hipMemcpy(y, dy, sizeof(float) * rows * cols, hipMemcpyDeviceToHost);
  hipFree(dx);
  hipFree(dg);
  hipFree(db);
  hipFree(dy);
}
