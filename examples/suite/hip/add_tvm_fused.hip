// add (12, 3, 128) as TVM emits it for ROCm: bare kernel, baked shapes, 1024 threads per block and
// a guard on the 4608 elements (the grid, 5 blocks, comes from it).
#include <hip/hip_runtime.h>

extern "C" __global__ void __launch_bounds__(1024) default_function_kernel(float* __restrict__ T_add, float* __restrict__ A, float* __restrict__ B) {
  if (((((int)blockIdx.x) * 1024) + ((int)threadIdx.x)) < 4608) {
    T_add[((((int)blockIdx.x) * 1024) + ((int)threadIdx.x))] = (A[((((int)blockIdx.x) * 1024) + ((int)threadIdx.x))] + B[((((int)blockIdx.x) * 1024) + ((int)threadIdx.x))]);
  }
}
