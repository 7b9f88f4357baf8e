// fp32 GEMM (100 x 40 x 130) with 16x16 LDS tiles, launched with hipLaunchKernelGGL; sizes not
// multiples of the tile: guarded loads padded with zeros.
#include <hip/hip_runtime.h>

#define TS 16

__global__ void gemm_lds(const float* __restrict__ A, const float* __restrict__ B, float* __restrict__ C, int M, int N, int K) {
  __shared__ float sA[TS][TS + 1];
  __shared__ float sB[TS][TS + 1];
  int tx = hipThreadIdx_x, ty = hipThreadIdx_y;
  int row = hipBlockIdx_y * TS + ty, col = hipBlockIdx_x * TS + tx;
  float acc = 0.0f;
  for (int k0 = 0; k0 < K; k0 += TS) {
    sA[ty][tx] = (row < M && k0 + tx < K) ? A[row * K + k0 + tx] : 0.0f;
    sB[ty][tx] = (k0 + ty < K && col < N) ? B[(k0 + ty) * N + col] : 0.0f;
    __syncthreads();
    for (int k = 0; k < TS; ++k) acc += sA[ty][k] * sB[k][tx];
    __syncthreads();
  }
  if (row < M && col < N) C[row * N + col] = acc;
}

extern "C" void gemm(const float* A, const float* B, float* C, int M, int N, int K) {
  float *dA, *dB, *dC;
  hipMalloc((void**)&dA, sizeof(float) * M * K);
  hipMalloc((void**)&dB, sizeof(float) * K * N);
  hipMalloc((void**)&dC, sizeof(float) * M * N);
  hipMemcpy(dA, A, sizeof(float) * M * K, hipMemcpyHostToDevice);
  hipMemcpy(dB, B, sizeof(float) * K * N, hipMemcpyHostToDevice);
  hipLaunchKernelGGL(gemm_lds, dim3((N + TS - 1) / TS, (M + TS - 1) / TS), dim3(TS, TS), 0, 0, dA, dB, dC, M, N, K);
  hipMemcpy(C, dC, sizeof(float) * M * N, hipMemcpyDeviceToHost);
  hipFree(dA);
  hipFree(dB);
  hipFree(dC);
}
