// batched fp16 GEMM (2, 64, 128) x (2, 128, 64) -> fp32 (2, 64, 64) on tensor cores: one warp per
// 16x16 tile, blockIdx.z the batch; the accumulator is stored column-major into shared memory and
// written out row by row.
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <mma.h>

__global__ void bmm_wmma(const half* A, const half* B, float* C, int M, int N, int K) {
  __shared__ float tile[16 * 16];
  const half* a = A + (size_t)blockIdx.z * M * K;
  const half* b = B + (size_t)blockIdx.z * K * N;
  float* c = C + (size_t)blockIdx.z * M * N;
  int tm = blockIdx.y, tn = blockIdx.x;
  nvcuda::wmma::fragment<nvcuda::wmma::matrix_a, 16, 16, 16, half, nvcuda::wmma::row_major> fa;
  nvcuda::wmma::fragment<nvcuda::wmma::matrix_b, 16, 16, 16, half, nvcuda::wmma::row_major> fb;
  nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 16, float> fc;
  nvcuda::wmma::fill_fragment(fc, 0.0f);
  for (int k = 0; k < K; k += 16) {
    nvcuda::wmma::load_matrix_sync(fa, a + tm * 16 * K + k, K);
    nvcuda::wmma::load_matrix_sync(fb, b + k * N + tn * 16, N);
    nvcuda::wmma::mma_sync(fc, fa, fb, fc);
  }
  nvcuda::wmma::store_matrix_sync(tile, fc, 16, nvcuda::wmma::mem_col_major);
  __syncwarp();
  for (int i = threadIdx.x; i < 256; i += 32) {
    int r = i / 16, col = i % 16;
    c[(tm * 16 + r) * N + tn * 16 + col] = tile[col * 16 + r];
  }
}

extern "C" void bmm(const half* A, const half* B, float* C, int batch, int M, int N, int K) {
  half *dA, *dB;
  float* dC;
  cudaMalloc(&dA, sizeof(half) * batch * M * K);
  cudaMalloc(&dB, sizeof(half) * batch * K * N);
  cudaMalloc(&dC, sizeof(float) * batch * M * N);
  cudaMemcpy(dA, A, sizeof(half) * batch * M * K, cudaMemcpyHostToDevice);
  cudaMemcpy(dB, B, sizeof(half) * batch * K * N, cudaMemcpyHostToDevice);
  bmm_wmma<<<dim3(N / 16, M / 16, batch), 32>>>(dA, dB, dC, M, N, K);
  cudaMemcpy(C, dC, sizeof(float) * batch * M * N, cudaMemcpyDeviceToHost);
  cudaFree(dA);
  cudaFree(dB);
  cudaFree(dC);
}
