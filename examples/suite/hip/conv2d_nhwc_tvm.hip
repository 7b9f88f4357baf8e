// conv2d NHWC (1, 14, 14, 16) * (32, 3, 3, 16), stride 1, padding 1 -> (1, 14, 14, 32) in TVM's style
// for ROCm: bare kernel, one output per thread, the padding folded into a select, bit tricks for the
// power-of-two channel count and a guard on the 6272 outputs (grid: 25 blocks of 256).
#include <hip/hip_runtime.h>

extern "C" __global__ void __launch_bounds__(256) default_function_kernel(float* __restrict__ data, float* __restrict__ kernel, float* __restrict__ conv2d_nhwc) {
  float conv2d_nhwc_local[1];
  if (((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) < 6272) {
    conv2d_nhwc_local[0] = 0.000000e+00f;
    for (int ry = 0; ry < 3; ++ry) {
      for (int rx = 0; rx < 3; ++rx) {
        for (int rc = 0; rc < 16; ++rc) {
          conv2d_nhwc_local[0] = (conv2d_nhwc_local[0] + ((((((1 <= ((((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) / 448) + ry)) && (((((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) / 448) + ry) < 15)) && (1 <= (((((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) >> 5) % 14) + rx))) && ((((((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) >> 5) % 14) + rx) < 15)) ? data[(((((((((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) / 448) * 224) + (ry * 224)) + (((((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) >> 5) % 14) * 16)) + (rx * 16)) + rc) - 240)] : 0.000000e+00f) * kernel[(((((((int)threadIdx.x) & 31) * 144) + (ry * 48)) + (rx * 16)) + rc)]));
        }
      }
    }
    conv2d_nhwc[((((int)blockIdx.x) * 256) + ((int)threadIdx.x))] = conv2d_nhwc_local[0];
  }
}
