// softmax over rows of 128 (shape (5, 128)): one 64-lane wavefront per row, each lane holds two
// elements, butterfly reductions with __shfl_xor (no mask: a full wavefront).
#include <hip/hip_runtime.h>

#define WAVE 64

__global__ void __launch_bounds__(256) softmax_wave(const float* __restrict__ x, float* __restrict__ y, int rows) {
  int lane = hipThreadIdx_x % WAVE;
  int row = hipBlockIdx_x * (hipBlockDim_x / WAVE) + hipThreadIdx_x / WAVE;
  if (row >= rows) return;
  float a = x[row * 128 + lane], b = x[row * 128 + lane + WAVE];
  float m = fmaxf(a, b);
  for (int offset = WAVE / 2; offset > 0; offset /= 2) m = fmaxf(m, __shfl_xor(m, offset));
  float ea = expf(a - m), eb = expf(b - m);
  float s = ea + eb;
  for (int offset = WAVE / 2; offset > 0; offset /= 2) s += __shfl_xor(s, offset);
  y[row * 128 + lane] = ea / s;
  y[row * 128 + lane + WAVE] = eb / s;
}

extern "C" void softmax(const float* x, float* y, int rows) {
  float *dx, *dy;
  hipMalloc((void**)&dx, rows * 128 * sizeof(float));
  hipMalloc((void**)&dy, rows * 128 * sizeof(float));
  hipMemcpy(dx, x, rows * 128 * sizeof(float), hipMemcpyHostToDevice);
  int waves_per_block = 4;
  hipLaunchKernelGGL(softmax_wave, dim3((rows + waves_per_block - 1) / waves_per_block), dim3(waves_per_block * WAVE), 0, 0,
                     dx, dy, rows);
  hipMemcpy(y, dy, rows * 128 * sizeof(float), hipMemcpyDeviceToHost);
  hipFree(dx);
  hipFree(dy);
}
