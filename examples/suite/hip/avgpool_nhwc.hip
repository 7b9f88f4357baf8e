// avgpool 2x2 stride 2 on NHWC (4, 28, 28, 32) -> (4, 14, 14, 32): one thread per output element,
// a flat index decomposed into (n, oh, ow, c).
#include <hip/hip_runtime.h>

__global__ void avgpool_kernel(const float* __restrict__ x, float* __restrict__ y, int N, int H, int W, int C) {
  int Ho = H / 2, Wo = W / 2;
  int idx = hipBlockIdx_x * hipBlockDim_x + hipThreadIdx_x;
  if (idx >= N * Ho * Wo * C) return;
  int c = idx % C;
  int ow = (idx / C) % Wo;
  int oh = (idx / (C * Wo)) % Ho;
  int n = idx / (C * Wo * Ho);
  float s = 0.0f;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) s += x[((n * H + oh * 2 + i) * W + ow * 2 + j) * C + c];
  y[idx] = s * 0.25f;
}

extern "C" void avgpool(const float* x, float* y, int N, int H, int W, int C) {
  int total_out = N * (H / 2) * (W / 2) * C;
  float *dx, *dy;
  hipMalloc((void**)&dx, sizeof(float) * N * H * W * C);
  hipMalloc((void**)&dy, sizeof(float) * total_out);
  hipMemcpy(dx, x, sizeof(float) * N * H * W * C, hipMemcpyHostToDevice);
  hipLaunchKernelGGL(avgpool_kernel, dim3((total_out + 255) / 256), dim3(256), 0, 0, dx, dy, N, H, W, C);
  hipMemcpy(y, dy, sizeof(float) * total_out, hipMemcpyDeviceToHost);
  hipFree(dx);
  hipFree(dy);
}
