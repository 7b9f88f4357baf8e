// sigmoid as a bare kernel with a size parameter and no __launch_bounds__: the guard
// `blockIdx.x * 256 + threadIdx.x < n` gives 256 threads per block and the grid (n = 5000).
#include <hip/hip_runtime.h>

extern "C" __global__ void sigmoid(const float* __restrict__ x, float* __restrict__ y, int n) {
  int idx = blockIdx.x * 256 + threadIdx.x;
  if (idx < n) {
    y[idx] = 1.0f / (1.0f + __expf(-x[idx]));
  }
}
