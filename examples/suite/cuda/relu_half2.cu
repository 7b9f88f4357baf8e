// ReLU on half precision, two elements per thread through half2, with a scalar tail for odd sizes.
#include <cuda_runtime.h>
#include <cuda_fp16.h>

__global__ void relu_half2_kernel(const __half2* __restrict__ x2, __half2* __restrict__ y2, int n2) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n2) {
    __half2 v = x2[i];
    __half2 zero = __float2half2_rn(0.0f);
    y2[i] = __hmax2(v, zero);
  }
}

__global__ void relu_tail_kernel(const half* x, half* y, int start, int n) {
  int i = start + blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) {
    float v = __half2float(x[i]);
    y[i] = __float2half(v > 0.0f ? v : 0.0f);
  }
}

extern "C" void relu_half(const half* x, half* y, int n) {
  half *dx, *dy;
  cudaMalloc(&dx, n * sizeof(half));
  cudaMalloc(&dy, n * sizeof(half));
  cudaMemcpy(dx, x, n * sizeof(half), cudaMemcpyHostToDevice);
  int n2 = n / 2;
  const int threads = 128;
  if (n2 > 0)
    relu_half2_kernel<<<(n2 + threads - 1) / threads, threads>>>((const __half2*)dx, (__half2*)dy, n2);
  if (n % 2)
    relu_tail_kernel<<<1, 32>>>(dx, dy, 2 * n2, n);
  cudaMemcpy(y, dy, n * sizeof(half), cudaMemcpyDeviceToHost);
  cudaFree(dx);
  cudaFree(dy);
}
