// conv2d NHWC as an implicit GEMM: C[m][co] = sum_k A[m][k] * W[co][k] with m = (n, oh, ow) over the
// output pixels and k = (kh, kw, ci) over the filter taps ([Co][Kh][Kw][Ci] is already [Co][K]); the
// A tile is gathered from the input on the fly (zero padding, stride) into shared memory, 16 x 16
// tiles, a 2-D grid over (output channels, pixels). Sizes as scalars; K and M need not fit the tile.
#include <cuda_runtime.h>

#define TILE 16

__global__ void conv2d_nhwc_igemm(const float* __restrict__ x, const float* __restrict__ w, float* __restrict__ y,
                                  int H, int W, int Ci, int Co, int KH, int KW, int stride, int pad, int Ho, int Wo,
                                  int M) {
  __shared__ float As[TILE][TILE + 1];
  __shared__ float Bs[TILE][TILE + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int m = blockIdx.y * TILE + ty;    // output pixel of this thread's row of A
  const int co = blockIdx.x * TILE + tx;   // output channel of this thread's column
  const int Kdim = KH * KW * Ci;
  const int n = m / (Ho * Wo), oh = (m / Wo) % Ho, ow = m % Wo;
  float acc = 0.0f;
  for (int k0 = 0; k0 < Kdim; k0 += TILE) {
    // A[m][k0 + tx]: gather from the input
    const int ka = k0 + tx;
    float a = 0.0f;
    if (m < M && ka < Kdim) {
      const int ci = ka % Ci, kw = (ka / Ci) % KW, kh = ka / (Ci * KW);
      const int ih = oh * stride - pad + kh, iw = ow * stride - pad + kw;
      if (ih >= 0 && ih < H && iw >= 0 && iw < W) a = x[((size_t)(n * H + ih) * W + iw) * Ci + ci];
    }
    As[ty][tx] = a;
    // B[k0 + ty][co] = w[co][k0 + ty]
    const int kb = k0 + ty;
    Bs[ty][tx] = (kb < Kdim && co < Co) ? w[(size_t)co * Kdim + kb] : 0.0f;
    __syncthreads();
#pragma unroll
    for (int k = 0; k < TILE; ++k) acc += As[ty][k] * Bs[k][tx];
    __syncthreads();
  }
  if (m < M && co < Co) y[(size_t)m * Co + co] = acc;
}

extern "C" void conv2d_nhwc(const float* x, const float* w, float* y, int N, int H, int W, int Ci, int Co, int KH,
                            int KW, int stride, int pad) {
  const int Ho = (H + 2 * pad - KH) / stride + 1, Wo = (W + 2 * pad - KW) / stride + 1;
  const int M = N * Ho * Wo;
  float *dx, *dw, *dy;
  cudaMalloc(&dx, sizeof(float) * N * H * W * Ci);
  cudaMalloc(&dw, sizeof(float) * Co * KH * KW * Ci);
  cudaMalloc(&dy, sizeof(float) * M * Co);
  cudaMemcpy(dx, x, sizeof(float) * N * H * W * Ci, cudaMemcpyHostToDevice);
  cudaMemcpy(dw, w, sizeof(float) * Co * KH * KW * Ci, cudaMemcpyHostToDevice);
  dim3 block(TILE, TILE);
  dim3 grid((Co + TILE - 1) / TILE, (M + TILE - 1) / TILE);
  conv2d_nhwc_igemm<<<grid, block>>>(dx, dw, dy, H, W, Ci, Co, KH, KW, stride, pad, Ho, Wo, M);
  cudaMemcpy(y, dy, sizeof(float) * M * Co, cudaMemcpyDeviceToHost);
  cudaFree(dx);
  cudaFree(dw);
  cudaFree(dy);
}
