// rmsnorm of half-precision rows (1024, 4096) with a float gamma and float output: 128 threads per
// row, warp sums with __shfl_xor_sync, half loads converted with __half2float.
#include <cuda_runtime.h>
#include <cuda_fp16.h>

__global__ void rmsnorm_half_kernel(const half* __restrict__ x, const float* __restrict__ gamma, float* __restrict__ y,
                                    int cols, float eps) {
  __shared__ float warp_sums[4];
  const half* xr = x + (size_t)blockIdx.x * cols;
  float ss = 0.0f;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    float v = __half2float(xr[c]);
    ss += v * v;
  }
  for (int mask = 16; mask > 0; mask >>= 1) ss += __shfl_xor_sync(0xffffffff, ss, mask);
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = ss;
  __syncthreads();
  float total = warp_sums[0] + warp_sums[1] + warp_sums[2] + warp_sums[3];
  float scale = rsqrtf(total / cols + eps);
  for (int c = threadIdx.x; c < cols; c += blockDim.x)
    y[(size_t)blockIdx.x * cols + c] = __half2float(xr[c]) * scale * gamma[c];
}

extern "C" void rmsnorm(const half* x, const float* gamma, float* y, int rows, int cols) {
  half* dx;
  float *dg, *dy;
  cudaMalloc(&dx, (size_t)rows * cols * sizeof(half));
  cudaMalloc(&dg, cols * sizeof(float));
  cudaMalloc(&dy, (size_t)rows * cols * sizeof(float));
  cudaMemcpy(dx, x, (size_t)rows * cols * sizeof(half), cudaMemcpyHostToDevice);
  cudaMemcpy(dg, gamma, cols * sizeof(float), cudaMemcpyHostToDevice);
  rmsnorm_half_kernel<<<rows, 128>>>(dx, dg, dy, cols, 1e-5f);
  cudaMemcpy(y, dy, (size_t)rows * cols * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(dx);
  cudaFree(dg);
  cudaFree(dy);
}
