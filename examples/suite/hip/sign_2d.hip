// sign over (12, 3, 128) viewed as (36, 128): a 2-D grid launched with <<<>>> from HIP code.
#include <hip/hip_runtime.h>

__global__ void sign_kernel(const float* A, float* out, int rows, int cols) {
  int c = blockIdx.x * blockDim.x + threadIdx.x;
  int r = blockIdx.y * blockDim.y + threadIdx.y;
  if (r < rows && c < cols) {
    float v = A[r * cols + c];
    out[r * cols + c] = (float)((v > 0.0f) - (v < 0.0f));
  }
}

extern "C" void sign(const float* A, float* out, int rows, int cols) {
  float *dA, *dOut;
  size_t bytes = sizeof(float) * rows * cols;
  hipMalloc(&dA, bytes);
  hipMalloc(&dOut, bytes);
  hipMemcpy(dA, A, bytes, hipMemcpyHostToDevice);
  dim3 block(64, 4);
  dim3 grid((cols + 63) / 64, (rows + 3) / 4);
  sign_kernel<<<grid, block, 0, 0>>>(dA, dOut, rows, cols);
  hipMemcpy(out, dOut, bytes, hipMemcpyDeviceToHost);
  hipFree(dA);
  hipFree(dOut);
}
