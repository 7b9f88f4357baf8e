// maxpool 3x3 stride 2 (ResNet stem) on NHWC (2, 56, 56, 64) -> (2, 27, 27, 64): a 3-D grid,
// blockIdx.z the image, threads over (channel, output column).
#include <cuda_runtime.h>
#include <float.h>

__global__ void maxpool2d_nhwc(const float* __restrict__ x, float* __restrict__ y, int H, int W, int C,
                               int Ho, int Wo, int k, int stride) {
  int c = blockIdx.x * blockDim.x + threadIdx.x;
  int ow = blockIdx.y * blockDim.y + threadIdx.y;
  int n = blockIdx.z;
  if (c >= C || ow >= Wo) return;
  for (int oh = 0; oh < Ho; ++oh) {
    float m = -FLT_MAX;
    for (int i = 0; i < k; ++i)
      for (int j = 0; j < k; ++j) {
        int h = oh * stride + i, w = ow * stride + j;
        m = fmaxf(m, x[((n * H + h) * W + w) * C + c]);
      }
    y[((n * Ho + oh) * Wo + ow) * C + c] = m;
  }
}

extern "C" void maxpool(const float* x, float* y, int N, int H, int W, int C) {
  const int k = 3, stride = 2;
  int Ho = (H - k) / stride + 1, Wo = (W - k) / stride + 1;
  float *dx, *dy;
  cudaMalloc(&dx, sizeof(float) * N * H * W * C);
  cudaMalloc(&dy, sizeof(float) * N * Ho * Wo * C);
  cudaMemcpy(dx, x, sizeof(float) * N * H * W * C, cudaMemcpyHostToDevice);
  dim3 block(64, 4);
  dim3 grid((C + 63) / 64, (Wo + 3) / 4, N);
  maxpool2d_nhwc<<<grid, block>>>(dx, dy, H, W, C, Ho, Wo, k, stride);
  cudaMemcpy(y, dy, sizeof(float) * N * Ho * Wo * C, cudaMemcpyDeviceToHost);
  cudaFree(dx);
  cudaFree(dy);
}
