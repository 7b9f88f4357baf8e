// rmsnorm (2048, 2048) without gamma: 256 threads (4 wavefronts) per row, sums of squares reduced
// with __shfl_xor across each wavefront and through LDS across wavefronts; rsqrtf.
#include <hip/hip_runtime.h>

__global__ void __launch_bounds__(256) rmsnorm_kernel(const float* __restrict__ x, float* __restrict__ y, int cols, float eps) {
  __shared__ float partial[4];
  const float* xr = x + (size_t)hipBlockIdx_x * cols;
  float ss = 0.0f;
  for (int c = hipThreadIdx_x; c < cols; c += 256) ss += xr[c] * xr[c];
  for (int m = 32; m >= 1; m /= 2) ss += __shfl_xor(ss, m, 64);
  if (hipThreadIdx_x % warpSize == 0) partial[hipThreadIdx_x / warpSize] = ss;
  __syncthreads();
  float total = 0.0f;
  for (int w = 0; w < 256 / warpSize; ++w) total += partial[w];
  float r = rsqrtf(total / cols + eps);
  for (int c = hipThreadIdx_x; c < cols; c += 256) y[(size_t)hipBlockIdx_x * cols + c] = xr[c] * r;
}

extern "C" void rmsnorm(const float* x, float* y, int rows, int cols) {
  float *dx, *dy;
  size_t bytes = sizeof(float) * rows * cols;
  hipMalloc((void**)&dx, bytes);
  hipMalloc((void**)&dy, bytes);
  hipMemcpy(dx, x, bytes, hipMemcpyHostToDevice);
  hipLaunchKernelGGL(rmsnorm_kernel, dim3(rows), dim3(256), 0, 0, dx, dy, cols, 1e-5f);
  hipMemcpy(y, dy, bytes, hipMemcpyDeviceToHost);
  hipFree(dx);
  hipFree(dy);
}
