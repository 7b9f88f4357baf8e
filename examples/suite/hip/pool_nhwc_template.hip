// 2-D pooling on NHWC for any sizes, one kernel template over the reduction (a functor with init /
// step / finish), launched through hipLaunchKernelGGL(HIP_KERNEL_NAME(...)): one thread per output
// element in a grid-stride loop over the flat index (n, oh, ow, c); window and stride as scalars,
// no padding. Four host entries: max, min, avg and sum pooling.
#include <hip/hip_runtime.h>
#include <float.h>

struct MaxOp {
  __device__ static float init() { return -FLT_MAX; }
  __device__ static float step(float acc, float v) { return fmaxf(acc, v); }
  __device__ static float finish(float acc, int) { return acc; }
};
struct MinOp {
  __device__ static float init() { return FLT_MAX; }
  __device__ static float step(float acc, float v) { return fminf(acc, v); }
  __device__ static float finish(float acc, int) { return acc; }
};
struct SumOp {
  __device__ static float init() { return 0.0f; }
  __device__ static float step(float acc, float v) { return acc + v; }
  __device__ static float finish(float acc, int) { return acc; }
};
struct AvgOp {
  __device__ static float init() { return 0.0f; }
  __device__ static float step(float acc, float v) { return acc + v; }
  __device__ static float finish(float acc, int count) { return acc / (float)count; }
};

template <typename Op>
__global__ void pool_nhwc(const float* __restrict__ x, float* __restrict__ y, int N, int H, int W, int C, int Ho,
                          int Wo, int kh, int kw, int sh, int sw) {
  const int total = N * Ho * Wo * C;
  for (int idx = hipBlockIdx_x * hipBlockDim_x + hipThreadIdx_x; idx < total; idx += hipBlockDim_x * hipGridDim_x) {
    const int c = idx % C;
    const int ow = (idx / C) % Wo;
    const int oh = (idx / (C * Wo)) % Ho;
    const int n = idx / (C * Wo * Ho);
    float acc = Op::init();
    for (int i = 0; i < kh; ++i)
      for (int j = 0; j < kw; ++j) acc = Op::step(acc, x[((n * H + oh * sh + i) * W + ow * sw + j) * C + c]);
    y[idx] = Op::finish(acc, kh * kw);
  }
}

template <typename Op>
static void pool(const float* x, float* y, int N, int H, int W, int C, int kh, int kw, int sh, int sw) {
  const int Ho = (H - kh) / sh + 1, Wo = (W - kw) / sw + 1;
  const int total = N * Ho * Wo * C;
  float *dx, *dy;
  hipMalloc((void**)&dx, sizeof(float) * N * H * W * C);
  hipMalloc((void**)&dy, sizeof(float) * total);
  hipMemcpy(dx, x, sizeof(float) * N * H * W * C, hipMemcpyHostToDevice);
  int blocks = (total + 255) / 256;
  if (blocks > 1024) blocks = 1024;
  hipLaunchKernelGGL(HIP_KERNEL_NAME(pool_nhwc<Op>), dim3(blocks), dim3(256), 0, 0, dx, dy, N, H, W, C, Ho, Wo, kh, kw,
                     sh, sw);
  hipMemcpy(y, dy, sizeof(float) * total, hipMemcpyDeviceToHost);
  hipFree(dx);
  hipFree(dy);
}

extern "C" void maxpool(const float* x, float* y, int N, int H, int W, int C, int kh, int kw, int sh, int sw) {
  pool<MaxOp>(x, y, N, H, W, C, kh, kw, sh, sw);
}
extern "C" void minpool(const float* x, float* y, int N, int H, int W, int C, int kh, int kw, int sh, int sw) {
  pool<MinOp>(x, y, N, H, W, C, kh, kw, sh, sw);
}
extern "C" void avgpool(const float* x, float* y, int N, int H, int W, int C, int kh, int kw, int sh, int sw) {
  pool<AvgOp>(x, y, N, H, W, C, kh, kw, sh, sw);
}
extern "C" void sumpool(const float* x, float* y, int N, int H, int W, int C, int kh, int kw, int sh, int sw) {
  pool<SumOp>(x, y, N, H, W, C, kh, kw, sh, sw);
}
