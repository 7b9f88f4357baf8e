// conv2d NCHW: x (2, 3, 32, 32), w (16, 3, 3, 3), stride 1, padding 1 -> (2, 16, 32, 32); a 3-D
// grid (blockIdx.z = n * Co + co), the filter of the output channel staged in shared memory.
#include <cuda_runtime.h>

#define KS 3

__global__ void conv2d_nchw_kernel(const float* __restrict__ x, const float* __restrict__ w, float* __restrict__ y,
                                   int Ci, int H, int W, int Co, int Ho, int Wo, int pad) {
  __shared__ float wsh[64 * KS * KS];
  int n = blockIdx.z / Co, co = blockIdx.z % Co;
  int tid = threadIdx.y * blockDim.x + threadIdx.x;
  for (int i = tid; i < Ci * KS * KS; i += blockDim.x * blockDim.y) wsh[i] = w[co * Ci * KS * KS + i];
  __syncthreads();
  int ow = blockIdx.x * blockDim.x + threadIdx.x;
  int oh = blockIdx.y * blockDim.y + threadIdx.y;
  if (oh >= Ho || ow >= Wo) return;
  float acc = 0.0f;
  for (int ci = 0; ci < Ci; ++ci)
    for (int kh = 0; kh < KS; ++kh)
      for (int kw = 0; kw < KS; ++kw) {
        int ih = oh + kh - pad, iw = ow + kw - pad;
        if (ih >= 0 && ih < H && iw >= 0 && iw < W)
          acc += x[((n * Ci + ci) * H + ih) * W + iw] * wsh[(ci * KS + kh) * KS + kw];
      }
  y[((n * Co + co) * Ho + oh) * Wo + ow] = acc;
}

extern "C" void conv2d(const float* x, const float* w, float* y, int N, int Ci, int H, int W, int Co) {
  const int pad = 1;
  int Ho = H + 2 * pad - KS + 1, Wo = W + 2 * pad - KS + 1;
  float *dx, *dw, *dy;
  cudaMalloc(&dx, sizeof(float) * N * Ci * H * W);
  cudaMalloc(&dw, sizeof(float) * Co * Ci * KS * KS);
  cudaMalloc(&dy, sizeof(float) * N * Co * Ho * Wo);
  cudaMemcpy(dx, x, sizeof(float) * N * Ci * H * W, cudaMemcpyHostToDevice);
  cudaMemcpy(dw, w, sizeof(float) * Co * Ci * KS * KS, cudaMemcpyHostToDevice);
  dim3 block(16, 16);
  dim3 grid((Wo + 15) / 16, (Ho + 15) / 16, N * Co);
  conv2d_nchw_kernel<<<grid, block>>>(dx, dw, dy, Ci, H, W, Co, Ho, Wo, pad);
  cudaMemcpy(y, dy, sizeof(float) * N * Co * Ho * Wo, cudaMemcpyDeviceToHost);
  cudaFree(dx);
  cudaFree(dw);
  cudaFree(dy);
}
