// softmax over rows of 25 (shape (45, 25)): one block of 32 threads per row, tree reductions in
// dynamic shared memory with __syncthreads between the steps.
#include <cuda_runtime.h>

__global__ void softmax_shared(const float* in, float* out, int cols) {
  extern __shared__ float buf[];
  int row = blockIdx.x, tid = threadIdx.x;
  const float* x = in + row * cols;
  float m = -INFINITY;
  for (int c = tid; c < cols; c += blockDim.x) m = fmaxf(m, x[c]);
  buf[tid] = m;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (tid < s) buf[tid] = fmaxf(buf[tid], buf[tid + s]);
    __syncthreads();
  }
  float row_max = buf[0];
  __syncthreads();
  float sum = 0.0f;
  for (int c = tid; c < cols; c += blockDim.x) sum += expf(x[c] - row_max);
  buf[tid] = sum;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (tid < s) buf[tid] += buf[tid + s];
    __syncthreads();
  }
  float total = buf[0];
  for (int c = tid; c < cols; c += blockDim.x) out[row * cols + c] = expf(x[c] - row_max) / total;
}

extern "C" void softmax(const float* input, float* output, int rows, int cols) {
  float *d_in, *d_out;
  cudaMalloc(&d_in, rows * cols * sizeof(float));
  cudaMalloc(&d_out, rows * cols * sizeof(float));
  cudaMemcpy(d_in, input, rows * cols * sizeof(float), cudaMemcpyHostToDevice);
  int threads = 32;
  softmax_shared<<<rows, threads, threads * sizeof(float)>>>(d_in, d_out, cols);
  cudaMemcpy(output, d_out, rows * cols * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(d_in);
  cudaFree(d_out);
}
