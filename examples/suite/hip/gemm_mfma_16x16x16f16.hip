// fp16 GEMM on CDNA matrix cores: one 64-lane wavefront per 16x16 tile of C (fp32),
// __builtin_amdgcn_mfma_f32_16x16x16f16 over K in steps of 16. Lane l holds A[l%16][4*(l/16)+i]
// and B[4*(l/16)+i][l%16] and receives C[4*(l/16)+i][l%16], i = 0..3.
#include <hip/hip_runtime.h>

using float16_t = _Float16;
using float16x4 = __attribute__((__vector_size__(4 * sizeof(float16_t)))) float16_t;
using floatx4 = __attribute__((__vector_size__(4 * sizeof(float)))) float;

__global__ void __launch_bounds__(64) gemm_mfma(const float16_t* __restrict__ A, const float16_t* __restrict__ B,
                                               float* __restrict__ C, int M, int N, int K) {
  const int lane = hipThreadIdx_x;
  const int row0 = hipBlockIdx_y * 16, col0 = hipBlockIdx_x * 16;
  floatx4 acc = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int k0 = 0; k0 < K; k0 += 16) {
    float16x4 a, b;
    for (int i = 0; i < 4; ++i) {
      const int k = k0 + 4 * (lane / 16) + i;
      a[i] = A[(row0 + lane % 16) * K + k];
      b[i] = B[k * N + col0 + lane % 16];
    }
    acc = __builtin_amdgcn_mfma_f32_16x16x16f16(a, b, acc, 0, 0, 0);
  }
  for (int i = 0; i < 4; ++i) C[(row0 + 4 * (lane / 16) + i) * N + col0 + lane % 16] = acc[i];
}

extern "C" void gemm(const float16_t* A, const float16_t* B, float* C, int M, int N, int K) {
  float16_t *dA, *dB;
  float* dC;
  hipMalloc((void**)&dA, M * K * sizeof(float16_t));
  hipMalloc((void**)&dB, K * N * sizeof(float16_t));
  hipMalloc((void**)&dC, M * N * sizeof(float));
  hipMemcpy(dA, A, M * K * sizeof(float16_t), hipMemcpyHostToDevice);
  hipMemcpy(dB, B, K * N * sizeof(float16_t), hipMemcpyHostToDevice);
  hipLaunchKernelGGL(gemm_mfma, dim3(N / 16, M / 16), dim3(64), 0, 0, dA, dB, dC, M, N, K);
  hipMemcpy(C, dC, M * N * sizeof(float), hipMemcpyDeviceToHost);
  hipFree(dA);
  hipFree(dB);
  hipFree(dC);
}
