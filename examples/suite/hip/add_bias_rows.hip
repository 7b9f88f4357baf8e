// add with broadcasting: A (12, 3, 128) + B (128,), the bias row cached in LDS by every block.
#include <hip/hip_runtime.h>

#define COLS 128

__global__ void add_bias(const float* __restrict__ A, const float* __restrict__ B, float* __restrict__ C, int rows) {
  __shared__ float bias[COLS];
  for (int i = threadIdx.x; i < COLS; i += blockDim.x) bias[i] = B[i];
  __syncthreads();
  for (int r = blockIdx.x; r < rows; r += gridDim.x)
    for (int c = threadIdx.x; c < COLS; c += blockDim.x) C[r * COLS + c] = A[r * COLS + c] + bias[c];
}

extern "C" void add(const float* A, const float* B, float* C, int rows) {
  float *dA, *dB, *dC;
  hipMalloc((void**)&dA, sizeof(float) * rows * COLS);
  hipMalloc((void**)&dB, sizeof(float) * COLS);
  hipMalloc((void**)&dC, sizeof(float) * rows * COLS);
  hipMemcpy(dA, A, sizeof(float) * rows * COLS, hipMemcpyHostToDevice);
  hipMemcpy(dB, B, sizeof(float) * COLS, hipMemcpyHostToDevice);
  hipLaunchKernelGGL(add_bias, dim3(16), dim3(64), 0, 0, dA, dB, dC, rows);
  hipMemcpy(C, dC, sizeof(float) * rows * COLS, hipMemcpyDeviceToHost);
  hipFree(dA);
  hipFree(dB);
  hipFree(dC);
}
