// self-attention softmax(Q K^T / sqrt(D)) V for Q, K, V (1, 4, 128, 64) (B, H, L, D): one block of
// 128 threads per (batch*head, query row); scores in shared memory, block reductions with
// __shfl_xor_sync and shared partials.
#include <cuda_runtime.h>
#include <math.h>

#define L_MAX 128
#define THREADS 128

__device__ float block_reduce(float v, float* tmp, bool is_max) {
  for (int o = 16; o > 0; o >>= 1) {
    float other = __shfl_xor_sync(0xffffffff, v, o);
    v = is_max ? fmaxf(v, other) : v + other;
  }
  if ((threadIdx.x & 31) == 0) tmp[threadIdx.x >> 5] = v;
  __syncthreads();
  float r = tmp[0];
  for (int w = 1; w < THREADS / 32; ++w) r = is_max ? fmaxf(r, tmp[w]) : r + tmp[w];
  __syncthreads();
  return r;
}

__global__ void attention_row(const float* Q, const float* K, const float* V, float* O, int L, int D, float scale) {
  __shared__ float scores[L_MAX];
  __shared__ float tmp[THREADS / 32];
  int bh = blockIdx.y, i = blockIdx.x;
  const float* q = Q + ((size_t)bh * L + i) * D;
  const float* k = K + (size_t)bh * L * D;
  const float* v = V + (size_t)bh * L * D;
  float local_max = -INFINITY;
  for (int j = threadIdx.x; j < L; j += THREADS) {
    float s = 0.0f;
    for (int d = 0; d < D; ++d) s += q[d] * k[j * D + d];
    s *= scale;
    scores[j] = s;
    local_max = fmaxf(local_max, s);
  }
  float m = block_reduce(local_max, tmp, true);
  float local_sum = 0.0f;
  for (int j = threadIdx.x; j < L; j += THREADS) {
    float e = expf(scores[j] - m);
    scores[j] = e;
    local_sum += e;
  }
  float denom = block_reduce(local_sum, tmp, false);
  __syncthreads();
  for (int d = threadIdx.x; d < D; d += THREADS) {
    float acc = 0.0f;
    for (int j = 0; j < L; ++j) acc += scores[j] * v[j * D + d];
    O[((size_t)bh * L + i) * D + d] = acc / denom;
  }
}

extern "C" void mha(const float* Q, const float* K, const float* V, float* O, int B, int H, int L, int D) {
  size_t bytes = sizeof(float) * B * H * L * D;
  float *dq, *dk, *dv, *dout;
  cudaMalloc(&dq, bytes);
  cudaMalloc(&dk, bytes);
  cudaMalloc(&dv, bytes);
  cudaMalloc(&dout, bytes);
  cudaMemcpy(dq, Q, bytes, cudaMemcpyHostToDevice);
  cudaMemcpy(dk, K, bytes, cudaMemcpyHostToDevice);
  cudaMemcpy(dv, V, bytes, cudaMemcpyHostToDevice);
  dim3 grid(L, B * H);
  attention_row<<<grid, THREADS>>>(dq, dk, dv, dout, L, D, 1.0f / sqrtf((float)D));
  cudaMemcpy(O, dout, bytes, cudaMemcpyDeviceToHost);
  cudaFree(dq);
  cudaFree(dk);
  cudaFree(dv);
  cudaFree(dout);
}
