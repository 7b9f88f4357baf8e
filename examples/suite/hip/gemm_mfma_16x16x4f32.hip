// fp32 GEMM on matrix cores with __builtin_amdgcn_mfma_f32_16x16x4f32: one wavefront per 16x16 tile,
// K in steps of 4; lane l holds A[l%16][l/16] and B[l/16][l%16] and receives C[4*(l/16)+i][l%16].
#include <hip/hip_runtime.h>

typedef float floatx4 __attribute__((ext_vector_type(4)));

__global__ void gemm_mfma_f32(const float* __restrict__ A, const float* __restrict__ B, float* __restrict__ C,
                              int M, int N, int K) {
  int lane = hipThreadIdx_x;
  int row0 = hipBlockIdx_y * 16, col0 = hipBlockIdx_x * 16;
  floatx4 acc = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int k0 = 0; k0 < K; k0 += 4) {
    float a = A[(row0 + lane % 16) * K + k0 + lane / 16];
    float b = B[(k0 + lane / 16) * N + col0 + lane % 16];
    acc = __builtin_amdgcn_mfma_f32_16x16x4f32(a, b, acc, 0, 0, 0);
  }
  for (int i = 0; i < 4; ++i) C[(row0 + 4 * (lane / 16) + i) * N + col0 + lane % 16] = acc[i];
}

extern "C" void gemm(const float* A, const float* B, float* C, int M, int N, int K) {
  float *dA, *dB, *dC;
  hipMalloc((void**)&dA, sizeof(float) * M * K);
  hipMalloc((void**)&dB, sizeof(float) * K * N);
  hipMalloc((void**)&dC, sizeof(float) * M * N);
  hipMemcpy(dA, A, sizeof(float) * M * K, hipMemcpyHostToDevice);
  hipMemcpy(dB, B, sizeof(float) * K * N, hipMemcpyHostToDevice);
  hipLaunchKernelGGL(gemm_mfma_f32, dim3(N / 16, M / 16), dim3(64), 0, 0, dA, dB, dC, M, N, K);
  hipMemcpy(C, dC, sizeof(float) * M * N, hipMemcpyDeviceToHost);
  hipFree(dA);
  hipFree(dB);
  hipFree(dC);
}
