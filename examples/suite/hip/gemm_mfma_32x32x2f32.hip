// fp32 GEMM (96 x 64 x 160) with __builtin_amdgcn_mfma_f32_32x32x2f32: one wavefront per 32x32 tile,
// K in steps of 2; lane l holds A[l%32][l/32], B[l/32][l%32] and receives
// C[8*(j/4) + 4*(l/32) + j%4][l%32], j = 0..15.
#include <hip/hip_runtime.h>

typedef float floatx16 __attribute__((ext_vector_type(16)));

__global__ void __launch_bounds__(64) gemm_mfma_32x32(const float* A, const float* B, float* C, int M, int N, int K) {
  const int lane = __lane_id();
  const int row0 = blockIdx.y * 32, col0 = blockIdx.x * 32;
  floatx16 acc = {};
  for (int k0 = 0; k0 < K; k0 += 2) {
    float a = A[(row0 + lane % 32) * K + k0 + lane / 32];
    float b = B[(k0 + lane / 32) * N + col0 + lane % 32];
    acc = __builtin_amdgcn_mfma_f32_32x32x2f32(a, b, acc, 0, 0, 0);
  }
#pragma unroll
  for (int j = 0; j < 16; ++j) C[(row0 + 8 * (j / 4) + 4 * (lane / 32) + j % 4) * N + col0 + lane % 32] = acc[j];
}

extern "C" void gemm(const float* A, const float* B, float* C, int M, int N, int K) {
  float *dA, *dB, *dC;
  hipMalloc((void**)&dA, sizeof(float) * M * K);
  hipMalloc((void**)&dB, sizeof(float) * K * N);
  hipMalloc((void**)&dC, sizeof(float) * M * N);
  hipMemcpy(dA, A, sizeof(float) * M * K, hipMemcpyHostToDevice);
  hipMemcpy(dB, B, sizeof(float) * K * N, hipMemcpyHostToDevice);
  gemm_mfma_32x32<<<dim3(N / 32, M / 32), dim3(64)>>>(dA, dB, dC, M, N, K);
  hipMemcpy(C, dC, sizeof(float) * M * N, hipMemcpyDeviceToHost);
  hipFree(dA);
  hipFree(dB);
  hipFree(dC);
}
