// depthwise conv (MobileNet block): x NHWC (1, 28, 28, 32), w [3][3][32], stride 1, padding 1;
// 2-D blocks over (channel, column), the image row in blockIdx.y.
#include <hip/hip_runtime.h>

__global__ void dwconv_kernel(const float* x, const float* w, float* y, int H, int W, int C) {
  int c = hipThreadIdx_x;
  int ow = hipBlockIdx_x * hipBlockDim_y + hipThreadIdx_y;
  int oh = hipBlockIdx_y;
  if (ow >= W) return;
  float acc = 0.0f;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      int ih = oh + i - 1, iw = ow + j - 1;
      if (ih >= 0 && ih < H && iw >= 0 && iw < W) acc += x[(ih * W + iw) * C + c] * w[(i * 3 + j) * C + c];
    }
  y[(oh * W + ow) * C + c] = acc;
}

extern "C" void depthwise(const float* x, const float* w, float* y, int H, int W, int C) {
  float *dx, *dw, *dy;
  hipMalloc((void**)&dx, sizeof(float) * H * W * C);
  hipMalloc((void**)&dw, sizeof(float) * 9 * C);
  hipMalloc((void**)&dy, sizeof(float) * H * W * C);
  hipMemcpy(dx, x, sizeof(float) * H * W * C, hipMemcpyHostToDevice);
  hipMemcpy(dw, w, sizeof(float) * 9 * C, hipMemcpyHostToDevice);
  dim3 block(C, 8);
  dim3 grid((W + 7) / 8, H);
  hipLaunchKernelGGL(dwconv_kernel, grid, block, 0, 0, dx, dw, dy, H, W, C);
  hipMemcpy(y, dy, sizeof(float) * H * W * C, hipMemcpyDeviceToHost);
  hipFree(dx);
  hipFree(dw);
  hipFree(dy);
}
