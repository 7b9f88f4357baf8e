// self-attention softmax(Q K^T / sqrt(D)) V, flash-attention style: Q, K, V, O [B][H][L][D] with
// D <= 64. A block of 64 threads owns 64 query rows of one (batch, head) (blockIdx.y), each thread
// one row held in registers; K and V stream through shared memory in tiles of 32 keys and an online
// softmax (running max and sum) rescales the accumulator, so L need not be a multiple of either tile.
#include <cuda_runtime.h>
#include <math.h>

#define BQ 64
#define BKV 32
#define D_MAX 64

__global__ void __launch_bounds__(BQ) flash_attn_fwd(const float* __restrict__ Q, const float* __restrict__ K,
                                                     const float* __restrict__ V, float* __restrict__ O, int L, int D,
                                                     float scale) {
  __shared__ float Ks[BKV][D_MAX];
  __shared__ float Vs[BKV][D_MAX];
  const size_t head = (size_t)blockIdx.y * L * D;
  const int row = blockIdx.x * BQ + threadIdx.x;
  const bool active = row < L;
  float q[D_MAX], acc[D_MAX];
  for (int d = 0; d < D; ++d) {
    q[d] = active ? Q[head + (size_t)row * D + d] * scale : 0.0f;
    acc[d] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  for (int k0 = 0; k0 < L; k0 += BKV) {
    const int n = min(BKV, L - k0);
    for (int i = threadIdx.x; i < BKV * D; i += BQ) {
      const int r = i / D, d = i % D;
      Ks[r][d] = r < n ? K[head + (size_t)(k0 + r) * D + d] : 0.0f;
      Vs[r][d] = r < n ? V[head + (size_t)(k0 + r) * D + d] : 0.0f;
    }
    __syncthreads();
    if (active) {
      float s[BKV];
      float tile_max = -INFINITY;
      for (int j = 0; j < n; ++j) {
        float dot = 0.0f;
        for (int d = 0; d < D; ++d) dot += q[d] * Ks[j][d];
        s[j] = dot;
        tile_max = fmaxf(tile_max, dot);
      }
      const float m_new = fmaxf(m, tile_max);
      const float correction = __expf(m - m_new);
      l *= correction;
      for (int d = 0; d < D; ++d) acc[d] *= correction;
      for (int j = 0; j < n; ++j) {
        const float p = __expf(s[j] - m_new);
        l += p;
        for (int d = 0; d < D; ++d) acc[d] += p * Vs[j][d];
      }
      m = m_new;
    }
    __syncthreads();
  }
  if (active) {
    const float inv = 1.0f / l;
    for (int d = 0; d < D; ++d) O[head + (size_t)row * D + d] = acc[d] * inv;
  }
}

extern "C" void mha_flash(const float* Q, const float* K, const float* V, float* O, int B, int H, int L, int D) {
  const size_t bytes = sizeof(float) * B * H * L * D;
  float *dq, *dk, *dv, *dout;
  cudaMalloc(&dq, bytes);
  cudaMalloc(&dk, bytes);
  cudaMalloc(&dv, bytes);
  cudaMalloc(&dout, bytes);
  cudaMemcpy(dq, Q, bytes, cudaMemcpyHostToDevice);
  cudaMemcpy(dk, K, bytes, cudaMemcpyHostToDevice);
  cudaMemcpy(dv, V, bytes, cudaMemcpyHostToDevice);
  dim3 grid((L + BQ - 1) / BQ, B * H);
  flash_attn_fwd<<<grid, BQ>>>(dq, dk, dv, dout, L, D, 1.0f / sqrtf((float)D));
  cudaMemcpy(O, dout, bytes, cudaMemcpyDeviceToHost);
  cudaFree(dq);
  cudaFree(dk);
  cudaFree(dv);
  cudaFree(dout);
}
