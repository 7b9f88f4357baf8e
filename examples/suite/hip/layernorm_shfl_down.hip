// layernorm over rows of 128 (shape (1, 4, 128)): one block of 128 threads (two 64-lane
// wavefronts) per row; wavefront sums with __shfl_down, the two partials through LDS.
#include <hip/hip_runtime.h>

__device__ float wave_sum(float v) {
  for (int off = 32; off > 0; off >>= 1) v += __shfl_down(v, off);
  return v;  // valid in lane 0
}

__global__ void layernorm_kernel(const float* x, const float* gamma, const float* beta, float* y, int cols, float eps) {
  __shared__ float part[2];
  int row = hipBlockIdx_x, t = hipThreadIdx_x;
  float v = x[row * cols + t];
  float s = wave_sum(v);
  if (t % 64 == 0) part[t / 64] = s;
  __syncthreads();
  float mean = (part[0] + part[1]) / cols;
  __syncthreads();
  float d = v - mean;
  float q = wave_sum(d * d);
  if (t % 64 == 0) part[t / 64] = q;
  __syncthreads();
  float var = (part[0] + part[1]) / cols;
  y[row * cols + t] = d / sqrtf(var + eps) * gamma[t] + beta[t];
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
  hipLaunchKernelGGL(layernorm_kernel, dim3(rows), dim3(cols), 0, 0, dx, dg, db, dy, cols, 1e-5f);
  hipMemcpy(y, dy, sizeof(float) * rows * cols, hipMemcpyDeviceToHost);
  hipFree(dx);
  hipFree(dg);
  hipFree(db);
  hipFree(dy);
}
