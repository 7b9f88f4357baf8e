// softmax over rows of 25 (shape (45, 25)): one block of 32 threads per row, tree reductions in
// dynamic LDS (HIP_DYNAMIC_SHARED) with __syncthreads.
#include <hip/hip_runtime.h>

__global__ void softmax_lds(const float* in, float* out, int cols) {
  HIP_DYNAMIC_SHARED(float, red)
  int row = hipBlockIdx_x, t = hipThreadIdx_x, nt = hipBlockDim_x;
  float m = -INFINITY;
  for (int c = t; c < cols; c += nt) m = fmaxf(m, in[row * cols + c]);
  red[t] = m;
  __syncthreads();
  for (int s = nt / 2; s > 0; s >>= 1) {
    if (t < s) red[t] = fmaxf(red[t], red[t + s]);
    __syncthreads();
  }
  m = red[0];
  __syncthreads();
  float sum = 0.0f;
  for (int c = t; c < cols; c += nt) sum += __expf(in[row * cols + c] - m);
  red[t] = sum;
  __syncthreads();
  for (int s = nt / 2; s > 0; s >>= 1) {
    if (t < s) red[t] += red[t + s];
    __syncthreads();
  }
  float inv = 1.0f / red[0];
  for (int c = t; c < cols; c += nt) out[row * cols + c] = __expf(in[row * cols + c] - m) * inv;
}

extern "C" void softmax(const float* input, float* output, int rows, int cols) {
  float *din, *dout;
  hipMalloc((void**)&din, sizeof(float) * rows * cols);
  hipMalloc((void**)&dout, sizeof(float) * rows * cols);
  hipMemcpy(din, input, sizeof(float) * rows * cols, hipMemcpyHostToDevice);
  hipLaunchKernelGGL(softmax_lds, dim3(rows), dim3(32), 32 * sizeof(float), 0, din, dout, cols);
  hipMemcpy(output, dout, sizeof(float) * rows * cols, hipMemcpyDeviceToHost);
  hipFree(din);
  hipFree(dout);
}
