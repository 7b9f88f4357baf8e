// ReLU on half precision (45, 25) with hip_fp16: compare with __hgt, convert with __float2half.
#include <hip/hip_runtime.h>
#include <hip/hip_fp16.h>

__global__ void relu_half_kernel(const __half* x, __half* y, int n) {
  int i = hipBlockIdx_x * hipBlockDim_x + hipThreadIdx_x;
  if (i < n) {
    __half zero = __float2half(0.0f);
    y[i] = __hgt(x[i], zero) ? x[i] : zero;
  }
}

extern "C" void relu(const __half* x, __half* y, int n) {
  __half *dx, *dy;
  hipMalloc((void**)&dx, n * sizeof(__half));
  hipMalloc((void**)&dy, n * sizeof(__half));
  hipMemcpy(dx, x, n * sizeof(__half), hipMemcpyHostToDevice);
  hipLaunchKernelGGL(relu_half_kernel, dim3((n + 63) / 64), dim3(64), 0, 0, dx, dy, n);
  hipMemcpy(y, dy, n * sizeof(__half), hipMemcpyDeviceToHost);
  hipFree(dx);
  hipFree(dy);
}
