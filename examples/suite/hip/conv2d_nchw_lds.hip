// conv2d NCHW for any sizes: a block of 16 x 16 threads computes a 16 x 16 tile of one output plane
// (blockIdx.z = n * Co + co); for every input channel the input patch the tile needs ((16 - 1) *
// stride + K square, zero padded) and the K x K filter slice are staged in LDS between barriers.
// Filter [Co][Ci][K][K], stride <= 2, K <= 7.
#include <hip/hip_runtime.h>

#define TILE 16
#define MAX_K 7
#define MAX_PATCH ((TILE - 1) * 2 + MAX_K)

__global__ void __launch_bounds__(TILE * TILE) conv2d_nchw_lds(const float* __restrict__ x, const float* __restrict__ w,
                                                              float* __restrict__ y, int Ci, int H, int W, int Co, int K,
                                                              int stride, int pad, int Ho, int Wo) {
  __shared__ float patch[MAX_PATCH][MAX_PATCH];
  __shared__ float filt[MAX_K * MAX_K];
  const int n = hipBlockIdx_z / Co, co = hipBlockIdx_z % Co;
  const int tx = hipThreadIdx_x, ty = hipThreadIdx_y, tid = ty * TILE + tx;
  const int oh0 = hipBlockIdx_y * TILE, ow0 = hipBlockIdx_x * TILE;
  const int ih0 = oh0 * stride - pad, iw0 = ow0 * stride - pad;
  const int P = (TILE - 1) * stride + K;
  float acc = 0.0f;
  for (int ci = 0; ci < Ci; ++ci) {
    const float* plane = x + ((size_t)n * Ci + ci) * H * W;
    for (int i = tid; i < P * P; i += TILE * TILE) {
      const int r = i / P, c = i % P, ih = ih0 + r, iw = iw0 + c;
      patch[r][c] = (ih >= 0 && ih < H && iw >= 0 && iw < W) ? plane[ih * W + iw] : 0.0f;
    }
    if (tid < K * K) filt[tid] = w[((size_t)co * Ci + ci) * K * K + tid];
    __syncthreads();
    for (int kh = 0; kh < K; ++kh)
      for (int kw = 0; kw < K; ++kw) acc += patch[ty * stride + kh][tx * stride + kw] * filt[kh * K + kw];
    __syncthreads();
  }
  const int oh = oh0 + ty, ow = ow0 + tx;
  if (oh < Ho && ow < Wo) y[(((size_t)n * Co + co) * Ho + oh) * Wo + ow] = acc;
}

extern "C" void conv2d_nchw(const float* x, const float* w, float* y, int N, int Ci, int H, int W, int Co, int K,
                            int stride, int pad) {
  const int Ho = (H + 2 * pad - K) / stride + 1, Wo = (W + 2 * pad - K) / stride + 1;
  float *dx, *dw, *dy;
  hipMalloc((void**)&dx, sizeof(float) * N * Ci * H * W);
  hipMalloc((void**)&dw, sizeof(float) * Co * Ci * K * K);
  hipMalloc((void**)&dy, sizeof(float) * N * Co * Ho * Wo);
  hipMemcpy(dx, x, sizeof(float) * N * Ci * H * W, hipMemcpyHostToDevice);
  hipMemcpy(dw, w, sizeof(float) * Co * Ci * K * K, hipMemcpyHostToDevice);
  dim3 grid((Wo + TILE - 1) / TILE, (Ho + TILE - 1) / TILE, N * Co);
  hipLaunchKernelGGL(conv2d_nchw_lds, grid, dim3(TILE, TILE), 0, 0, dx, dw, dy, Ci, H, W, Co, K, stride, pad, Ho, Wo);
  hipMemcpy(y, dy, sizeof(float) * N * Co * Ho * Wo, hipMemcpyDeviceToHost);
  hipFree(dx);
  hipFree(dw);
  hipFree(dy);
}
