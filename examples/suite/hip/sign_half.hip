// sign on half precision (np.sign, 0 at 0) with hip_fp16: the comparisons __hgt / __hlt against a
// __half zero, results built with __float2half; one element per thread, any size (guarded).
#include <hip/hip_runtime.h>
#include <hip/hip_fp16.h>

__global__ void sign_half_kernel(const __half* __restrict__ x, __half* __restrict__ y, int n) {
  const int i = hipBlockIdx_x * hipBlockDim_x + hipThreadIdx_x;
  if (i >= n) return;
  const __half zero = __float2half(0.0f);
  const __half v = x[i];
  y[i] = __hgt(v, zero) ? __float2half(1.0f) : (__hlt(v, zero) ? __float2half(-1.0f) : zero);
}

extern "C" void sign_half(const __half* x, __half* y, int n) {
  __half *dx, *dy;
  hipMalloc((void**)&dx, n * sizeof(__half));
  hipMalloc((void**)&dy, n * sizeof(__half));
  hipMemcpy(dx, x, n * sizeof(__half), hipMemcpyHostToDevice);
  hipLaunchKernelGGL(sign_half_kernel, dim3((n + 127) / 128), dim3(128), 0, 0, dx, dy, n);
  hipMemcpy(y, dy, n * sizeof(__half), hipMemcpyDeviceToHost);
  hipFree(dx);
  hipFree(dy);
}
