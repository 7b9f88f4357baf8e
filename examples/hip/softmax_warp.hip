// Softmax with one 64-lane wavefront per row and __shfl_xor reductions (HIP on CDNA).
#include "hip/hip_runtime.h"

__device__ float wave_max(float v) {
  for (int offset = warpSize / 2; offset > 0; offset /= 2) v = fmaxf(v, __shfl_xor(v, offset));
  return v;
}

__device__ float wave_sum(float v) {
  for (int offset = warpSize / 2; offset > 0; offset /= 2) v += __shfl_xor(v, offset);
  return v;
}

__global__ void softmax_wave(const float *input, float *output, int cols) {
  const float *row = input + hipBlockIdx_x * cols;
  float m = -INFINITY;
  for (int c = hipThreadIdx_x; c < cols; c += hipBlockDim_x) m = fmaxf(m, row[c]);
  m = wave_max(m);
  float s = 0.0f;
  for (int c = hipThreadIdx_x; c < cols; c += hipBlockDim_x) s += __expf(row[c] - m);
  s = wave_sum(s);
  for (int c = hipThreadIdx_x; c < cols; c += hipBlockDim_x) output[hipBlockIdx_x * cols + c] = __expf(row[c] - m) / s;
}

extern "C" void softmax_kernel(float *input, float *output, int rows, int cols) {
  float *d_in, *d_out;
  hipMalloc((void **)&d_in, rows * cols * sizeof(float));
  hipMalloc((void **)&d_out, rows * cols * sizeof(float));
  hipMemcpy(d_in, input, rows * cols * sizeof(float), hipMemcpyHostToDevice);
  hipLaunchKernelGGL(softmax_wave, dim3(rows), dim3(warpSize), 0, 0, d_in, d_out, cols);
  hipMemcpy(output, d_out, rows * cols * sizeof(float), hipMemcpyDeviceToHost);
  hipFree(d_in);
  hipFree(d_out);
}
