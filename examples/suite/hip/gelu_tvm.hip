// GELU (12, 3, 128), tanh approximation, in TVM's style for ROCm: bare kernel, x^3 as a product, tanhf,
// baked constants and a guard on the 4608 elements (grid: 5 blocks of 1024, from the guard).
#include <hip/hip_runtime.h>

extern "C" __global__ void __launch_bounds__(1024) default_function_kernel(float* __restrict__ T_multiply, float* __restrict__ data) {
  if (((((int)blockIdx.x) * 1024) + ((int)threadIdx.x)) < 4608) {
    T_multiply[((((int)blockIdx.x) * 1024) + ((int)threadIdx.x))] = ((5.000000e-01f * data[((((int)blockIdx.x) * 1024) + ((int)threadIdx.x))]) * (1.000000e+00f + tanhf((7.978846e-01f * (data[((((int)blockIdx.x) * 1024) + ((int)threadIdx.x))] + (4.471500e-02f * ((data[((((int)blockIdx.x) * 1024) + ((int)threadIdx.x))] * data[((((int)blockIdx.x) * 1024) + ((int)threadIdx.x))]) * data[((((int)blockIdx.x) * 1024) + ((int)threadIdx.x))])))))));
  }
}
