// add with 128-bit vector loads (float4) and a scalar tail; 12 x 3 x 125 elements (not a multiple of 4).
#include <cuda_runtime.h>

__global__ void add_vec4(const float4* __restrict__ a, const float4* __restrict__ b, float4* __restrict__ c, int n4) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n4) {
    float4 x = a[i], y = b[i];
    c[i] = make_float4(x.x + y.x, x.y + y.y, x.z + y.z, x.w + y.w);
  }
}

__global__ void add_tail(const float* a, const float* b, float* c, int start, int n) {
  int i = start + threadIdx.x;
  if (i < n) c[i] = a[i] + b[i];
}

extern "C" void add_kernel(const float* A, const float* B, float* C, int n) {
  float *dA, *dB, *dC;
  cudaMalloc(&dA, n * sizeof(float));
  cudaMalloc(&dB, n * sizeof(float));
  cudaMalloc(&dC, n * sizeof(float));
  cudaMemcpy(dA, A, n * sizeof(float), cudaMemcpyHostToDevice);
  cudaMemcpy(dB, B, n * sizeof(float), cudaMemcpyHostToDevice);
  int n4 = n / 4;
  add_vec4<<<(n4 + 255) / 256, 256>>>((const float4*)dA, (const float4*)dB, (float4*)dC, n4);
  if (n % 4) add_tail<<<1, 4>>>(dA, dB, dC, n4 * 4, n);
  cudaMemcpy(C, dC, n * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(dA);
  cudaFree(dB);
  cudaFree(dC);
}
