// conv2d NCHW as an implicit GEMM on CDNA matrix cores: D[co][p] = sum_k W[co][k] * X[k][p] with the
// filter [Co][Ci][Kh][Kw] read as W[Co][K] (k = (ci, kh, kw)) and X the im2col of the input gathered
// on the fly (p = (n, oh, ow), zero padding, stride). Each 64-lane wavefront owns a 16 x 16 tile
// (16 channels x 16 pixels) and steps K by 4 with __builtin_amdgcn_mfma_f32_16x16x4f32 (lane l holds
// A[l%16][l/16] and B[l/16][l%16], receives D[4*(l/16)+i][l%16]); four wavefronts per block. Operands
// outside Co, the pixel count or K are zero, so no size needs to be a multiple of 16 or 4.
#include <hip/hip_runtime.h>

typedef float floatx4 __attribute__((ext_vector_type(4)));

__global__ void __launch_bounds__(256) conv2d_nchw_mfma(const float* __restrict__ x, const float* __restrict__ w,
                                                       float* __restrict__ y, int N, int Ci, int H, int W, int Co,
                                                       int KH, int KW, int stride, int pad, int Ho, int Wo) {
  const int lane = hipThreadIdx_x % 64, wave = hipThreadIdx_x / 64;
  const int co0 = hipBlockIdx_y * 16;
  const int p0 = (hipBlockIdx_x * 4 + wave) * 16;
  const int P = N * Ho * Wo, Kdim = Ci * KH * KW;
  const int p = p0 + lane % 16;  // this lane's pixel (column of B and of D)
  const int n = p / (Ho * Wo), oh = (p / Wo) % Ho, ow = p % Wo;
  const int co_a = co0 + lane % 16;  // this lane's row of A
  floatx4 acc = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int k0 = 0; k0 < Kdim; k0 += 4) {
    const int k = k0 + lane / 16;
    const float a = (co_a < Co && k < Kdim) ? w[(size_t)co_a * Kdim + k] : 0.0f;
    float b = 0.0f;
    if (p < P && k < Kdim) {
      const int ci = k / (KH * KW), kh = (k / KW) % KH, kw = k % KW;
      const int ih = oh * stride - pad + kh, iw = ow * stride - pad + kw;
      if (ih >= 0 && ih < H && iw >= 0 && iw < W) b = x[(((size_t)n * Ci + ci) * H + ih) * W + iw];
    }
    acc = __builtin_amdgcn_mfma_f32_16x16x4f32(a, b, acc, 0, 0, 0);
  }
  if (p < P) {
    for (int i = 0; i < 4; ++i) {
      const int co = co0 + 4 * (lane / 16) + i;
      if (co < Co) y[(((size_t)n * Co + co) * Ho + oh) * Wo + ow] = acc[i];
    }
  }
}

extern "C" void conv2d_nchw(const float* x, const float* w, float* y, int N, int Ci, int H, int W, int Co, int KH,
                            int KW, int stride, int pad) {
  const int Ho = (H + 2 * pad - KH) / stride + 1, Wo = (W + 2 * pad - KW) / stride + 1;
  const int P = N * Ho * Wo;
  float *dx, *dw, *dy;
  hipMalloc((void**)&dx, sizeof(float) * N * Ci * H * W);
  hipMalloc((void**)&dw, sizeof(float) * Co * Ci * KH * KW);
  hipMalloc((void**)&dy, sizeof(float) * N * Co * Ho * Wo);
  hipMemcpy(dx, x, sizeof(float) * N * Ci * H * W, hipMemcpyHostToDevice);
  hipMemcpy(dw, w, sizeof(float) * Co * Ci * KH * KW, hipMemcpyHostToDevice);
  dim3 grid((P + 63) / 64, (Co + 15) / 16);
  hipLaunchKernelGGL(conv2d_nchw_mfma, grid, dim3(256), 0, 0, dx, dw, dy, N, Ci, H, W, Co, KH, KW, stride, pad, Ho, Wo);
  hipMemcpy(y, dy, sizeof(float) * N * Co * Ho * Wo, hipMemcpyDeviceToHost);
  hipFree(dx);
  hipFree(dw);
  hipFree(dy);
}
