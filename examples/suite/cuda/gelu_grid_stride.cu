// GELU (tanh approximation) with a grid-stride loop and a __device__ helper; host entry does the
// device memory management. 192 threads per block: the size is not a multiple of the block.
#include <cuda_runtime.h>
#include <math.h>

__device__ __forceinline__ float gelu_tanh(float x) {
  const float k0 = sqrtf(2.0f / M_PI);
  float inner = k0 * (x + 0.044715f * x * x * x);
  return 0.5f * x * (1.0f + tanhf(inner));
}

__global__ void gelu_kernel(const float* __restrict__ in, float* __restrict__ out, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
    out[i] = gelu_tanh(in[i]);
  }
}

extern "C" void gelu(const float* input, float* output, int n) {
  float *d_in, *d_out;
  size_t bytes = n * sizeof(float);
  cudaMalloc((void**)&d_in, bytes);
  cudaMalloc((void**)&d_out, bytes);
  cudaMemcpy(d_in, input, bytes, cudaMemcpyHostToDevice);
  int block = 192;
  int grid = (n + block * 4 - 1) / (block * 4);  // each thread handles about 4 elements
  gelu_kernel<<<grid, block>>>(d_in, d_out, n);
  cudaDeviceSynchronize();
  cudaMemcpy(output, d_out, bytes, cudaMemcpyDeviceToHost);
  cudaFree(d_in);
  cudaFree(d_out);
}
