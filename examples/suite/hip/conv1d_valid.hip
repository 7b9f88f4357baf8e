// conv1d, valid, stride 1: x[1000] * w[3] -> y[998]; the filter in __constant__ memory set with
// hipMemcpyToSymbol.
#include <hip/hip_runtime.h>

__constant__ float c_filter[3];

__global__ void conv1d_kernel(const float* __restrict__ x, float* __restrict__ y, int out_len) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < out_len) y[i] = x[i] * c_filter[0] + x[i + 1] * c_filter[1] + x[i + 2] * c_filter[2];
}

extern "C" void conv1d(const float* x, const float* w, float* y, int length) {
  int out_len = length - 2;
  float *dx, *dy;
  hipMalloc((void**)&dx, sizeof(float) * length);
  hipMalloc((void**)&dy, sizeof(float) * out_len);
  hipMemcpy(dx, x, sizeof(float) * length, hipMemcpyHostToDevice);
  hipMemcpyToSymbol(HIP_SYMBOL(c_filter), w, 3 * sizeof(float), 0, hipMemcpyHostToDevice);
  conv1d_kernel<<<(out_len + 255) / 256, 256>>>(dx, dy, out_len);
  hipMemcpy(y, dy, sizeof(float) * out_len, hipMemcpyDeviceToHost);
  hipFree(dx);
  hipFree(dy);
}
