// depthwise conv2d on NHWC for any MobileNet-style shape: filter [K][K][C], stride and zero padding
// as scalars. A block covers 32 channels x 4 output columns of one output row (blockIdx.z = image *
// Ho + row); the block's slice of the filter is staged in dynamic shared memory (extern __shared__).
#include <cuda_runtime.h>

#define TC 32
#define TW 4

__global__ void dwconv_nhwc(const float* __restrict__ x, const float* __restrict__ w, float* __restrict__ y, int H, int W,
                            int C, int Ho, int Wo, int K, int stride, int pad) {
  extern __shared__ float wtile[];  // [K * K][TC]
  const int c0 = blockIdx.x * TC;
  const int tid = threadIdx.y * blockDim.x + threadIdx.x;
  for (int i = tid; i < K * K * TC; i += blockDim.x * blockDim.y) {
    int tap = i / TC, cc = c0 + i % TC;
    wtile[i] = cc < C ? w[tap * C + cc] : 0.0f;
  }
  __syncthreads();
  const int c = c0 + threadIdx.x;
  const int ow = blockIdx.y * TW + threadIdx.y;
  const int n = blockIdx.z / Ho, oh = blockIdx.z % Ho;
  if (c >= C || ow >= Wo) return;
  float acc = 0.0f;
  for (int kh = 0; kh < K; ++kh) {
    const int ih = oh * stride - pad + kh;
    if (ih < 0 || ih >= H) continue;
    for (int kw = 0; kw < K; ++kw) {
      const int iw = ow * stride - pad + kw;
      if (iw >= 0 && iw < W) acc += x[((size_t)(n * H + ih) * W + iw) * C + c] * wtile[(kh * K + kw) * TC + threadIdx.x];
    }
  }
  y[((size_t)(n * Ho + oh) * Wo + ow) * C + c] = acc;
}

extern "C" void depthwise_conv(const float* x, const float* w, float* y, int N, int H, int W, int C, int K, int stride,
                               int pad) {
  const int Ho = (H + 2 * pad - K) / stride + 1, Wo = (W + 2 * pad - K) / stride + 1;
  float *dx, *dw, *dy;
  cudaMalloc(&dx, sizeof(float) * N * H * W * C);
  cudaMalloc(&dw, sizeof(float) * K * K * C);
  cudaMalloc(&dy, sizeof(float) * N * Ho * Wo * C);
  cudaMemcpy(dx, x, sizeof(float) * N * H * W * C, cudaMemcpyHostToDevice);
  cudaMemcpy(dw, w, sizeof(float) * K * K * C, cudaMemcpyHostToDevice);
  dim3 block(TC, TW);
  dim3 grid((C + TC - 1) / TC, (Wo + TW - 1) / TW, N * Ho);
  size_t shmem = sizeof(float) * K * K * TC;
  dwconv_nhwc<<<grid, block, shmem>>>(dx, dw, dy, H, W, C, Ho, Wo, K, stride, pad);
  cudaMemcpy(y, dy, sizeof(float) * N * Ho * Wo * C, cudaMemcpyDeviceToHost);
  cudaFree(dx);
  cudaFree(dw);
  cudaFree(dy);
}
