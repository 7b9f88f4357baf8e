// GELU (tanh approximation) with a grid-stride loop, HIP built-in spellings and hipLaunchKernelGGL.
#include <hip/hip_runtime.h>
#include <math.h>

__device__ inline float gelu_approx(float x) {
  const float c = 0.7978845608028654f;  // sqrt(2 / pi)
  return 0.5f * x * (1.0f + tanhf(c * (x + 0.044715f * x * x * x)));
}

__global__ void gelu_kernel(const float* __restrict__ x, float* __restrict__ y, int n) {
  int stride = hipBlockDim_x * hipGridDim_x;
  for (int i = hipBlockIdx_x * hipBlockDim_x + hipThreadIdx_x; i < n; i += stride) y[i] = gelu_approx(x[i]);
}

extern "C" void gelu(const float* x, float* y, int n) {
  float *d_x, *d_y;
  hipMalloc((void**)&d_x, n * sizeof(float));
  hipMalloc((void**)&d_y, n * sizeof(float));
  hipMemcpy(d_x, x, n * sizeof(float), hipMemcpyHostToDevice);
  hipLaunchKernelGGL(gelu_kernel, dim3(8), dim3(256), 0, 0, d_x, d_y, n);
  hipDeviceSynchronize();
  hipMemcpy(y, d_y, n * sizeof(float), hipMemcpyDeviceToHost);
  hipFree(d_x);
  hipFree(d_y);
}
