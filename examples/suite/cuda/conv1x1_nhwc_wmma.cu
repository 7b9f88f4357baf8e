// 1x1 convolution NHWC (1, 14, 14, 64) * (128, 1, 1, 64) -> (1, 14, 14, 128) as an implicit GEMM on
// tensor cores (M = 196 pixels, N = 128 output channels, K = 64): the filter [Co][Ci] is a
// col_major matrix_b; M is not a multiple of 16, so rows are staged in shared memory with zero
// padding and the result goes through a shared tile with a guard.
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <mma.h>

using namespace nvcuda;

#define CI 64

__global__ void conv1x1_wmma(const half* __restrict__ x, const half* __restrict__ w, float* __restrict__ y,
                             int pixels, int Co) {
  __shared__ half xs[16 * CI];
  __shared__ float out[4][16 * 16];
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  int p0 = blockIdx.x * 16;
  int co0 = (blockIdx.y * 4 + warp) * 16;
  for (int i = threadIdx.x; i < 16 * CI; i += blockDim.x) {
    int p = p0 + i / CI;
    xs[i] = p < pixels ? x[p * CI + i % CI] : __float2half(0.0f);
  }
  __syncthreads();
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::fill_fragment(acc, 0.0f);
  for (int k = 0; k < CI; k += 16) {
    wmma::fragment<wmma::matrix_a, 16, 16, 16, half, wmma::row_major> a;
    wmma::fragment<wmma::matrix_b, 16, 16, 16, half, wmma::col_major> b;
    wmma::load_matrix_sync(a, xs + k, CI);
    wmma::load_matrix_sync(b, w + co0 * CI + k, CI);
    wmma::mma_sync(acc, a, b, acc);
  }
  wmma::store_matrix_sync(out[warp], acc, 16, wmma::mem_row_major);
  __syncwarp();
  for (int i = lane; i < 256; i += 32) {
    int p = p0 + i / 16;
    if (p < pixels) y[p * Co + co0 + i % 16] = out[warp][i];
  }
}

extern "C" void conv1x1(const half* x, const half* w, float* y, int N, int H, int W, int Co) {
  int pixels = N * H * W;
  half *dx, *dw;
  float* dy;
  cudaMalloc(&dx, sizeof(half) * pixels * CI);
  cudaMalloc(&dw, sizeof(half) * Co * CI);
  cudaMalloc(&dy, sizeof(float) * pixels * Co);
  cudaMemcpy(dx, x, sizeof(half) * pixels * CI, cudaMemcpyHostToDevice);
  cudaMemcpy(dw, w, sizeof(half) * Co * CI, cudaMemcpyHostToDevice);
  dim3 grid((pixels + 15) / 16, Co / 64);
  conv1x1_wmma<<<grid, 128>>>(dx, dw, dy, pixels, Co);
  cudaMemcpy(y, dy, sizeof(float) * pixels * Co, cudaMemcpyDeviceToHost);
  cudaFree(dx);
  cudaFree(dw);
  cudaFree(dy);
}
