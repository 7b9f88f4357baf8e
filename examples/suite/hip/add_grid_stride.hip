// element-wise add for any size: a grid-stride loop in HIP's built-in spellings (hipBlockIdx_x,
// hipBlockDim_x, hipGridDim_x), the grid capped at the CU count x 8 from hipGetDeviceProperties.
#include <hip/hip_runtime.h>

__global__ void __launch_bounds__(256) add_kernel(const float* __restrict__ A, const float* __restrict__ B,
                                                  float* __restrict__ C, int n) {
  const int stride = hipBlockDim_x * hipGridDim_x;
  for (int i = hipBlockIdx_x * hipBlockDim_x + hipThreadIdx_x; i < n; i += stride) C[i] = A[i] + B[i];
}

extern "C" void add_n(const float* A, const float* B, float* C, int n) {
  hipDeviceProp_t prop;
  hipGetDeviceProperties(&prop, 0);
  int cus = prop.multiProcessorCount > 0 ? prop.multiProcessorCount : 1;
  float *dA, *dB, *dC;
  hipMalloc((void**)&dA, sizeof(float) * n);
  hipMalloc((void**)&dB, sizeof(float) * n);
  hipMalloc((void**)&dC, sizeof(float) * n);
  hipMemcpy(dA, A, sizeof(float) * n, hipMemcpyHostToDevice);
  hipMemcpy(dB, B, sizeof(float) * n, hipMemcpyHostToDevice);
  int blocks = (n + 255) / 256;
  if (blocks > cus * 8) blocks = cus * 8;
  hipLaunchKernelGGL(add_kernel, dim3(blocks), dim3(256), 0, 0, dA, dB, dC, n);
  hipMemcpy(C, dC, sizeof(float) * n, hipMemcpyDeviceToHost);
  hipFree(dA);
  hipFree(dB);
  hipFree(dC);
}
