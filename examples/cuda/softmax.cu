// Row-wise softmax over the last axis: one block per row, a shared-memory tree for the
// maximum and the sum. Called from the host as softmax_kernel(input, output, rows, cols).
#include <cuda_runtime.h>
#include <math.h>

#define THREADS 128

__global__ void __launch_bounds__(THREADS) softmax_rows(const float *__restrict__ input,
                                                        float *__restrict__ output, int cols) {
  __shared__ float scratch[THREADS];
  const float *row = input + (size_t)blockIdx.x * cols;
  float *out = output + (size_t)blockIdx.x * cols;

  float local_max = -INFINITY;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    local_max = fmaxf(local_max, row[c]);
  }
  scratch[threadIdx.x] = local_max;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
    if (threadIdx.x < stride) {
      scratch[threadIdx.x] = fmaxf(scratch[threadIdx.x], scratch[threadIdx.x + stride]);
    }
    __syncthreads();
  }
  const float row_max = scratch[0];
  __syncthreads();

  float local_sum = 0.0f;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    local_sum += expf(row[c] - row_max);
  }
  scratch[threadIdx.x] = local_sum;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
    if (threadIdx.x < stride) {
      scratch[threadIdx.x] += scratch[threadIdx.x + stride];
    }
    __syncthreads();
  }
  const float inv_sum = 1.0f / scratch[0];
  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    out[c] = expf(row[c] - row_max) * inv_sum;
  }
}

extern "C" void softmax_kernel(float *input, float *output, int rows, int cols) {
  float *d_input, *d_output;
  size_t bytes = (size_t)rows * cols * sizeof(float);
  cudaMalloc((void **)&d_input, bytes);
  cudaMalloc((void **)&d_output, bytes);
  cudaMemcpy(d_input, input, bytes, cudaMemcpyHostToDevice);
  dim3 grid(rows);
  dim3 block(THREADS);
  softmax_rows<<<grid, block>>>(d_input, d_output, cols);
  cudaMemcpy(output, d_output, bytes, cudaMemcpyDeviceToHost);
  cudaFree(d_input);
  cudaFree(d_output);
}
