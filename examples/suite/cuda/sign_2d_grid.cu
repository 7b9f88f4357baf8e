// sign over a (rows, cols) view of (100, 2, 10, 1024): a 2-D grid of 32 x 8 blocks.
#include <cuda_runtime.h>

__global__ void sign_kernel(const float* A, float* out, int rows, int cols) {
  int col = blockIdx.x * blockDim.x + threadIdx.x;
  int row = blockIdx.y * blockDim.y + threadIdx.y;
  if (row < rows && col < cols) {
    float v = A[row * cols + col];
    out[row * cols + col] = v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : 0.0f);
  }
}

extern "C" void sign(const float* A, float* out, int rows, int cols) {
  float *d_A, *d_out;
  size_t size = (size_t)rows * cols * sizeof(float);
  cudaMalloc(&d_A, size);
  cudaMalloc(&d_out, size);
  cudaMemcpy(d_A, A, size, cudaMemcpyHostToDevice);
  dim3 block(32, 8);
  dim3 grid((cols + block.x - 1) / block.x, (rows + block.y - 1) / block.y);
  sign_kernel<<<grid, block>>>(d_A, d_out, rows, cols);
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) return;
  cudaMemcpy(out, d_out, size, cudaMemcpyDeviceToHost);
  cudaFree(d_A);
  cudaFree(d_out);
}
