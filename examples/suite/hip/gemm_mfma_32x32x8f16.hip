// fp16 GEMM with __builtin_amdgcn_mfma_f32_32x32x8f16: a block of 4 wavefronts (2 x 2) computes a
// 64x64 tile, each wavefront a 32x32 tile with 16 fp32 results per lane:
// lane l holds A[l%32][4*(l/32)+i], B[4*(l/32)+i][l%32] and receives
// C[8*(j/4) + 4*(l/32) + j%4][l%32], j = 0..15.
#include <hip/hip_runtime.h>

typedef _Float16 half4_t __attribute__((ext_vector_type(4)));
typedef float float16_acc __attribute__((ext_vector_type(16)));

__global__ void __launch_bounds__(256) gemm_mfma32(const _Float16* A, const _Float16* B, float* C, int M, int N, int K) {
  int wave = hipThreadIdx_x / 64, lane = hipThreadIdx_x % 64;
  int row0 = hipBlockIdx_y * 64 + (wave / 2) * 32;
  int col0 = hipBlockIdx_x * 64 + (wave % 2) * 32;
  float16_acc acc;
  for (int j = 0; j < 16; ++j) acc[j] = 0.0f;
  for (int k0 = 0; k0 < K; k0 += 8) {
    half4_t a, b;
    for (int i = 0; i < 4; ++i) {
      int k = k0 + 4 * (lane / 32) + i;
      a[i] = A[(row0 + lane % 32) * K + k];
      b[i] = B[k * N + col0 + lane % 32];
    }
    acc = __builtin_amdgcn_mfma_f32_32x32x8f16(a, b, acc, 0, 0, 0);
  }
  for (int j = 0; j < 16; ++j) {
    int r = row0 + 8 * (j / 4) + 4 * (lane / 32) + j % 4;
    C[r * N + col0 + lane % 32] = acc[j];
  }
}

extern "C" void gemm(const _Float16* A, const _Float16* B, float* C, int M, int N, int K) {
  _Float16 *dA, *dB;
  float* dC;
  hipMalloc((void**)&dA, sizeof(_Float16) * M * K);
  hipMalloc((void**)&dB, sizeof(_Float16) * K * N);
  hipMalloc((void**)&dC, sizeof(float) * M * N);
  hipMemcpy(dA, A, sizeof(_Float16) * M * K, hipMemcpyHostToDevice);
  hipMemcpy(dB, B, sizeof(_Float16) * K * N, hipMemcpyHostToDevice);
  hipLaunchKernelGGL(gemm_mfma32, dim3(N / 64, M / 64), dim3(256), 0, 0, dA, dB, dC, M, N, K);
  hipMemcpy(C, dC, sizeof(float) * M * N, hipMemcpyDeviceToHost);
  hipFree(dA);
  hipFree(dB);
  hipFree(dC);
}
