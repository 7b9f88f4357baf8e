// conv2d NCHW (1, 3, 7, 7) * (8, 3, 3, 3), stride 1, no padding -> (1, 8, 5, 5) in TVM's style for
// ROCm: bare kernel, one output per thread in a local accumulator, a guard on the 200 outputs (grid:
// 4 blocks of 64).
#include <hip/hip_runtime.h>

extern "C" __global__ void __launch_bounds__(64) default_function_kernel(float* __restrict__ data, float* __restrict__ kernel, float* __restrict__ conv2d_nchw) {
  float conv2d_nchw_local[1];
  if (((((int)blockIdx.x) * 64) + ((int)threadIdx.x)) < 200) {
    conv2d_nchw_local[0] = 0.000000e+00f;
    for (int rc = 0; rc < 3; ++rc) {
      for (int ry = 0; ry < 3; ++ry) {
        for (int rx = 0; rx < 3; ++rx) {
          conv2d_nchw_local[0] = (conv2d_nchw_local[0] + (data[(((((rc * 49) + (((((((int)blockIdx.x) * 64) + ((int)threadIdx.x)) % 25) / 5) * 7)) + (ry * 7)) + (((((int)blockIdx.x) * 64) + ((int)threadIdx.x)) % 5)) + rx)] * kernel[(((((((((int)blockIdx.x) * 64) + ((int)threadIdx.x)) / 25) * 27) + (rc * 9)) + (ry * 3)) + rx)]));
        }
      }
    }
    conv2d_nchw[((((int)blockIdx.x) * 64) + ((int)threadIdx.x))] = conv2d_nchw_local[0];
  }
}
