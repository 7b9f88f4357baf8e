// conv1d (valid, stride 1) for any length: each block stages its 256 inputs plus the K - 1 halo in
// shared memory, the filter lives in __constant__ memory (cudaMemcpyToSymbol). Lengths such as 37
// or 1022 leave the last block partly idle: loads and stores are guarded.
#include <cuda_runtime.h>

#define BLOCK 256
#define MAX_K 16

__constant__ float c_w[MAX_K];

__global__ void conv1d_halo(const float* __restrict__ x, float* __restrict__ y, int L, int K) {
  __shared__ float tile[BLOCK + MAX_K - 1];
  const int Lo = L - K + 1;
  const int base = blockIdx.x * BLOCK;
  for (int i = threadIdx.x; i < BLOCK + K - 1; i += blockDim.x) tile[i] = base + i < L ? x[base + i] : 0.0f;
  __syncthreads();
  const int o = base + threadIdx.x;
  if (o < Lo) {
    float acc = 0.0f;
    for (int k = 0; k < K; ++k) acc += tile[threadIdx.x + k] * c_w[k];
    y[o] = acc;
  }
}

extern "C" void conv1d(const float* x, const float* w, float* y, int L, int K) {
  const int Lo = L - K + 1;
  float *dx, *dy;
  cudaMalloc(&dx, L * sizeof(float));
  cudaMalloc(&dy, Lo * sizeof(float));
  cudaMemcpy(dx, x, L * sizeof(float), cudaMemcpyHostToDevice);
  cudaMemcpyToSymbol(c_w, w, K * sizeof(float));
  conv1d_halo<<<(Lo + BLOCK - 1) / BLOCK, BLOCK>>>(dx, dy, L, K);
  cudaMemcpy(y, dy, Lo * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(dx);
  cudaFree(dy);
}
