// gemv (112, 128) @ (128,): one 64-lane wavefront per row, __shfl_down reduction over the wavefront.
#include <hip/hip_runtime.h>

__global__ void gemv_wave(const float* A, const float* x, float* y, int M, int K) {
  int lane = hipThreadIdx_x & 63;
  int row = hipBlockIdx_x * (hipBlockDim_x / 64) + (hipThreadIdx_x >> 6);
  if (row >= M) return;
  float acc = 0.0f;
  for (int k = lane; k < K; k += 64) acc += A[row * K + k] * x[k];
  for (int off = 32; off > 0; off >>= 1) acc += __shfl_down(acc, off, 64);
  if (lane == 0) y[row] = acc;
}

extern "C" void gemv(const float* A, const float* x, float* y, int M, int K) {
  float *dA, *dx, *dy;
  hipMalloc((void**)&dA, sizeof(float) * M * K);
  hipMalloc((void**)&dx, sizeof(float) * K);
  hipMalloc((void**)&dy, sizeof(float) * M);
  hipMemcpy(dA, A, sizeof(float) * M * K, hipMemcpyHostToDevice);
  hipMemcpy(dx, x, sizeof(float) * K, hipMemcpyHostToDevice);
  hipLaunchKernelGGL(gemv_wave, dim3((M + 3) / 4), dim3(256), 0, 0, dA, dx, dy, M, K);
  hipMemcpy(y, dy, sizeof(float) * M, hipMemcpyDeviceToHost);
  hipFree(dA);
  hipFree(dx);
  hipFree(dy);
}
