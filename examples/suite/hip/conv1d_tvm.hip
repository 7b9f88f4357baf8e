// conv1d_ncw (1, 1, 1024) * (1, 1, 3) -> (1, 1, 1022), valid, in TVM's style for ROCm: the filter
// taps unrolled, a guard on the 1022 outputs (grid: 4 blocks of 256).
#include <hip/hip_runtime.h>

extern "C" __global__ void __launch_bounds__(256) default_function_kernel(float* __restrict__ data, float* __restrict__ kernel, float* __restrict__ conv1d_ncw) {
  if (((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) < 1022) {
    conv1d_ncw[((((int)blockIdx.x) * 256) + ((int)threadIdx.x))] = (((data[((((int)blockIdx.x) * 256) + ((int)threadIdx.x))] * kernel[0]) + (data[(((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) + 1)] * kernel[1])) + (data[(((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) + 2)] * kernel[2]));
  }
}
