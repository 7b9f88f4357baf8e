// 2-D pooling on NHWC for any sizes: one kernel for max / min / avg / sum windows (the reduction is a
// kernel argument), window kh x kw and stride sh x sw as scalars, no padding. Threads run over the
// channels (coalesced), blockIdx.y over output columns and blockIdx.z over (image, output row), so the
// channel count need not be a multiple of the block. Four host entries share the kernel.
#include <cuda_runtime.h>
#include <float.h>

enum PoolKind { POOL_MAX = 0, POOL_MIN = 1, POOL_AVG = 2, POOL_SUM = 3 };

__device__ __forceinline__ float pool_init(int kind) {
  return kind == POOL_MAX ? -FLT_MAX : (kind == POOL_MIN ? FLT_MAX : 0.0f);
}

__device__ __forceinline__ float pool_step(int kind, float acc, float v) {
  switch (kind) {
    case POOL_MAX: return fmaxf(acc, v);
    case POOL_MIN: return fminf(acc, v);
    default: return acc + v;
  }
}

__global__ void pool2d_nhwc(const float* __restrict__ x, float* __restrict__ y, int H, int W, int C, int Ho, int Wo,
                            int kh, int kw, int sh, int sw, int kind) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  const int ow = blockIdx.y;
  const int n = blockIdx.z / Ho, oh = blockIdx.z % Ho;
  if (c >= C) return;
  const float* base = x + ((size_t)(n * H + oh * sh) * W + ow * sw) * C + c;
  float acc = pool_init(kind);
  for (int i = 0; i < kh; ++i) {
#pragma unroll 4
    for (int j = 0; j < kw; ++j) acc = pool_step(kind, acc, __ldg(base + ((size_t)i * W + j) * C));
  }
  if (kind == POOL_AVG) acc *= 1.0f / (float)(kh * kw);
  y[((size_t)(n * Ho + oh) * Wo + ow) * C + c] = acc;
}

static void run_pool(const float* x, float* y, int N, int H, int W, int C, int kh, int kw, int sh, int sw, int kind) {
  const int Ho = (H - kh) / sh + 1, Wo = (W - kw) / sw + 1;
  const size_t in_bytes = sizeof(float) * N * H * W * C, out_bytes = sizeof(float) * N * Ho * Wo * C;
  float *dx = nullptr, *dy = nullptr;
  cudaMalloc(&dx, in_bytes);
  cudaMalloc(&dy, out_bytes);
  cudaMemcpy(dx, x, in_bytes, cudaMemcpyHostToDevice);
  const int threads = C >= 128 ? 128 : 32 * ((C + 31) / 32);
  dim3 grid((C + threads - 1) / threads, Wo, N * Ho);
  pool2d_nhwc<<<grid, threads>>>(dx, dy, H, W, C, Ho, Wo, kh, kw, sh, sw, kind);
  cudaMemcpy(y, dy, out_bytes, cudaMemcpyDeviceToHost);
  cudaFree(dx);
  cudaFree(dy);
}

extern "C" void maxpool_nhwc(const float* x, float* y, int N, int H, int W, int C, int kh, int kw, int sh, int sw) {
  run_pool(x, y, N, H, W, C, kh, kw, sh, sw, POOL_MAX);
}

extern "C" void minpool_nhwc(const float* x, float* y, int N, int H, int W, int C, int kh, int kw, int sh, int sw) {
  run_pool(x, y, N, H, W, C, kh, kw, sh, sw, POOL_MIN);
}

extern "C" void avgpool_nhwc(const float* x, float* y, int N, int H, int W, int C, int kh, int kw, int sh, int sw) {
  run_pool(x, y, N, H, W, C, kh, kw, sh, sw, POOL_AVG);
}

extern "C" void sumpool_nhwc(const float* x, float* y, int N, int H, int W, int C, int kh, int kw, int sh, int sw) {
  run_pool(x, y, N, H, W, C, kh, kw, sh, sw, POOL_SUM);
}
