// batched fp32 GEMM (2, 128, 96) x (2, 96, 80): 32x32 LDS tiles, each thread computing 2x2 outputs
// (block 16x16), blockIdx.z the batch.
#include <hip/hip_runtime.h>

#define BT 32

__global__ void bmm_kernel(const float* A, const float* B, float* C, int M, int N, int K) {
  __shared__ float As[BT][BT];
  __shared__ float Bs[BT][BT];
  const float* a = A + (size_t)hipBlockIdx_z * M * K;
  const float* b = B + (size_t)hipBlockIdx_z * K * N;
  float* c = C + (size_t)hipBlockIdx_z * M * N;
  int tx = hipThreadIdx_x, ty = hipThreadIdx_y;
  int row0 = hipBlockIdx_y * BT, col0 = hipBlockIdx_x * BT;
  float acc[2][2] = {{0.0f, 0.0f}, {0.0f, 0.0f}};
  for (int k0 = 0; k0 < K; k0 += BT) {
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) {
        int r = ty * 2 + i, cc = tx * 2 + j;
        As[r][cc] = (row0 + r < M && k0 + cc < K) ? a[(row0 + r) * K + k0 + cc] : 0.0f;
        Bs[r][cc] = (k0 + r < K && col0 + cc < N) ? b[(k0 + r) * N + col0 + cc] : 0.0f;
      }
    __syncthreads();
    for (int k = 0; k < BT; ++k)
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) acc[i][j] += As[ty * 2 + i][k] * Bs[k][tx * 2 + j];
    __syncthreads();
  }
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) {
      int r = row0 + ty * 2 + i, cc = col0 + tx * 2 + j;
      if (r < M && cc < N) c[r * N + cc] = acc[i][j];
    }
}

extern "C" void bmm(const float* A, const float* B, float* C, int batch, int M, int N, int K) {
  float *dA, *dB, *dC;
  hipMalloc((void**)&dA, sizeof(float) * batch * M * K);
  hipMalloc((void**)&dB, sizeof(float) * batch * K * N);
  hipMalloc((void**)&dC, sizeof(float) * batch * M * N);
  hipMemcpy(dA, A, sizeof(float) * batch * M * K, hipMemcpyHostToDevice);
  hipMemcpy(dB, B, sizeof(float) * batch * K * N, hipMemcpyHostToDevice);
  dim3 grid((N + BT - 1) / BT, (M + BT - 1) / BT, batch);
  hipLaunchKernelGGL(bmm_kernel, grid, dim3(16, 16), 0, 0, dA, dB, dC, M, N, K);
  hipMemcpy(C, dC, sizeof(float) * batch * M * N, hipMemcpyDeviceToHost);
  hipFree(dA);
  hipFree(dB);
  hipFree(dC);
}
