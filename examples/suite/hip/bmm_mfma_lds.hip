// batched fp16 GEMM (2, 64, 128) x (2, 128, 64) -> fp32 on matrix cores with LDS staging: a block of
// 4 wavefronts computes a 32x32 tile (2 x 2 tiles of 16x16, __builtin_amdgcn_mfma_f32_16x16x16f16);
// 32x16 slices of A and 16x32 slices of B go through LDS, __syncthreads around each stage.
#include <hip/hip_runtime.h>

typedef _Float16 f16x4 __attribute__((ext_vector_type(4)));
typedef float f32x4 __attribute__((ext_vector_type(4)));

__global__ void __launch_bounds__(256) bmm_mfma(const _Float16* A, const _Float16* B, float* C, int M, int N, int K) {
  __shared__ _Float16 As[32][16];
  __shared__ _Float16 Bs[16][32];
  const _Float16* a = A + (size_t)blockIdx.z * M * K;
  const _Float16* b = B + (size_t)blockIdx.z * K * N;
  float* c = C + (size_t)blockIdx.z * M * N;
  int t = threadIdx.x, wave = t / 64, lane = t % 64;
  int row0 = blockIdx.y * 32, col0 = blockIdx.x * 32;
  int wr = (wave / 2) * 16, wc = (wave % 2) * 16;
  f32x4 acc = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int k0 = 0; k0 < K; k0 += 16) {
    for (int i = t; i < 32 * 16; i += 256) {
      As[i / 16][i % 16] = a[(row0 + i / 16) * K + k0 + i % 16];
      Bs[i / 32][i % 32] = b[(k0 + i / 32) * N + col0 + i % 32];
    }
    __syncthreads();
    f16x4 fa, fb;
    for (int i = 0; i < 4; ++i) {
      fa[i] = As[wr + lane % 16][4 * (lane / 16) + i];
      fb[i] = Bs[4 * (lane / 16) + i][wc + lane % 16];
    }
    acc = __builtin_amdgcn_mfma_f32_16x16x16f16(fa, fb, acc, 0, 0, 0);
    __syncthreads();
  }
  for (int i = 0; i < 4; ++i) c[(row0 + wr + 4 * (lane / 16) + i) * N + col0 + wc + lane % 16] = acc[i];
}

extern "C" void bmm(const _Float16* A, const _Float16* B, float* C, int batch, int M, int N, int K) {
  _Float16 *dA, *dB;
  float* dC;
  hipMalloc((void**)&dA, sizeof(_Float16) * batch * M * K);
  hipMalloc((void**)&dB, sizeof(_Float16) * batch * K * N);
  hipMalloc((void**)&dC, sizeof(float) * batch * M * N);
  hipMemcpy(dA, A, sizeof(_Float16) * batch * M * K, hipMemcpyHostToDevice);
  hipMemcpy(dB, B, sizeof(_Float16) * batch * K * N, hipMemcpyHostToDevice);
  hipLaunchKernelGGL(bmm_mfma, dim3(N / 32, M / 32, batch), dim3(256), 0, 0, dA, dB, dC, M, N, K);
  hipMemcpy(C, dC, sizeof(float) * batch * M * N, hipMemcpyDeviceToHost);
  hipFree(dA);
  hipFree(dB);
  hipFree(dC);
}
