// self-attention softmax(Q K^T / sqrt(D)) V on Q, K, V, O [B][H][L][D] (L <= 512, D <= 128): one
// 64-lane wavefront per query row, four rows per block. The query row is staged in LDS; lanes take
// keys j = lane, lane + 64, ... and keep the scores in LDS; max and sum are wavefront butterflies
// with __shfl_xor (no mask); then lanes take output channels d = lane, lane + 64.
#include <hip/hip_runtime.h>
#include <math.h>

#define WAVE 64
#define ROWS 4
#define L_MAX 512
#define D_MAX 128

__global__ void __launch_bounds__(WAVE * ROWS) mha_rows(const float* __restrict__ Q, const float* __restrict__ K,
                                                        const float* __restrict__ V, float* __restrict__ O, int L,
                                                        int D, float scale) {
  __shared__ float scores[ROWS][L_MAX];
  __shared__ float qrow[ROWS][D_MAX];
  const int lane = hipThreadIdx_x % WAVE, r = hipThreadIdx_x / WAVE;
  const int row = hipBlockIdx_x * ROWS + r;
  const bool active = row < L;
  const size_t head = (size_t)hipBlockIdx_y * L * D;
  for (int d = lane; d < D; d += WAVE) qrow[r][d] = active ? Q[head + (size_t)row * D + d] * scale : 0.0f;
  __syncthreads();
  float m = -INFINITY;
  for (int j = lane; j < L; j += WAVE) {
    const float* kj = K + head + (size_t)j * D;
    float s = 0.0f;
    for (int d = 0; d < D; ++d) s += qrow[r][d] * kj[d];
    scores[r][j] = s;
    m = fmaxf(m, s);
  }
  for (int off = WAVE / 2; off > 0; off >>= 1) m = fmaxf(m, __shfl_xor(m, off));
  float sum = 0.0f;
  for (int j = lane; j < L; j += WAVE) {
    const float e = __expf(scores[r][j] - m);
    scores[r][j] = e;
    sum += e;
  }
  for (int off = WAVE / 2; off > 0; off >>= 1) sum += __shfl_xor(sum, off);
  __syncthreads();
  if (!active) return;
  const float inv = 1.0f / sum;
  for (int d = lane; d < D; d += WAVE) {
    float acc = 0.0f;
    for (int j = 0; j < L; ++j) acc += scores[r][j] * V[head + (size_t)j * D + d];
    O[head + (size_t)row * D + d] = acc * inv;
  }
}

extern "C" void mha(const float* Q, const float* K, const float* V, float* O, int B, int H, int L, int D) {
  const size_t bytes = sizeof(float) * B * H * L * D;
  float *dq, *dk, *dv, *dout;
  hipMalloc((void**)&dq, bytes);
  hipMalloc((void**)&dk, bytes);
  hipMalloc((void**)&dv, bytes);
  hipMalloc((void**)&dout, bytes);
  hipMemcpy(dq, Q, bytes, hipMemcpyHostToDevice);
  hipMemcpy(dk, K, bytes, hipMemcpyHostToDevice);
  hipMemcpy(dv, V, bytes, hipMemcpyHostToDevice);
  hipLaunchKernelGGL(mha_rows, dim3((L + ROWS - 1) / ROWS, B * H), dim3(WAVE * ROWS), 0, 0, dq, dk, dv, dout, L, D,
                     1.0f / sqrtf((float)D));
  hipMemcpy(O, dout, bytes, hipMemcpyDeviceToHost);
  hipFree(dq);
  hipFree(dk);
  hipFree(dv);
  hipFree(dout);
}
