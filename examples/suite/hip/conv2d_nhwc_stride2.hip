// conv2d NHWC (1, 16, 16, 8) * (16, 3, 3, 8), stride 2, padding 1 -> (1, 8, 8, 16): one thread per
// output element (n, oh, ow, co).
#include <hip/hip_runtime.h>

__global__ void conv2d_nhwc_kernel(const float* __restrict__ x, const float* __restrict__ w, float* __restrict__ y,
                                   int N, int H, int W, int Ci, int Co, int KH, int KW, int stride, int pad, int Ho, int Wo) {
  int idx = hipBlockIdx_x * hipBlockDim_x + hipThreadIdx_x;
  if (idx >= N * Ho * Wo * Co) return;
  int co = idx % Co;
  int ow = (idx / Co) % Wo;
  int oh = (idx / (Co * Wo)) % Ho;
  int n = idx / (Co * Wo * Ho);
  float acc = 0.0f;
  for (int kh = 0; kh < KH; ++kh) {
    int ih = oh * stride + kh - pad;
    if (ih < 0 || ih >= H) continue;
    for (int kw = 0; kw < KW; ++kw) {
      int iw = ow * stride + kw - pad;
      if (iw < 0 || iw >= W) continue;
      for (int ci = 0; ci < Ci; ++ci)
        acc += x[((n * H + ih) * W + iw) * Ci + ci] * w[((co * KH + kh) * KW + kw) * Ci + ci];
    }
  }
  y[idx] = acc;
}

extern "C" void conv2d_nhwc(const float* x, const float* w, float* y, int N, int H, int W, int Ci, int Co) {
  const int KH = 3, KW = 3, stride = 2, pad = 1;
  int Ho = (H + 2 * pad - KH) / stride + 1, Wo = (W + 2 * pad - KW) / stride + 1;
  float *dx, *dw, *dy;
  hipMalloc((void**)&dx, sizeof(float) * N * H * W * Ci);
  hipMalloc((void**)&dw, sizeof(float) * Co * KH * KW * Ci);
  hipMalloc((void**)&dy, sizeof(float) * N * Ho * Wo * Co);
  hipMemcpy(dx, x, sizeof(float) * N * H * W * Ci, hipMemcpyHostToDevice);
  hipMemcpy(dw, w, sizeof(float) * Co * KH * KW * Ci, hipMemcpyHostToDevice);
  int total = N * Ho * Wo * Co;
  hipLaunchKernelGGL(conv2d_nhwc_kernel, dim3((total + 127) / 128), dim3(128), 0, 0, dx, dw, dy, N, H, W, Ci, Co, KH, KW,
                     stride, pad, Ho, Wo);
  hipMemcpy(y, dy, sizeof(float) * N * Ho * Wo * Co, hipMemcpyDeviceToHost);
  hipFree(dx);
  hipFree(dw);
  hipFree(dy);
}
