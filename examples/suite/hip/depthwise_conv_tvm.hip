// depthwise conv2d NHWC (1, 56, 56, 144) * (3, 3, 144), stride 2, padding 1 -> (1, 28, 28, 144)
// (a MobileNetV2 downsampling block) in TVM's style for ROCm: PaddedInput inlined as a select, one
// output per thread, a guard on the 112896 outputs (grid: 111 blocks of 1024).
#include <hip/hip_runtime.h>

extern "C" __global__ void __launch_bounds__(1024) default_function_kernel(float* __restrict__ data, float* __restrict__ kernel, float* __restrict__ DepthwiseConv2d) {
  float DepthwiseConv2d_local[1];
  if (((((int)blockIdx.x) * 1024) + ((int)threadIdx.x)) < 112896) {
    DepthwiseConv2d_local[0] = 0.000000e+00f;
    for (int ry = 0; ry < 3; ++ry) {
      for (int rx = 0; rx < 3; ++rx) {
        DepthwiseConv2d_local[0] = (DepthwiseConv2d_local[0] + ((((((1 <= (((((((int)blockIdx.x) * 1024) + ((int)threadIdx.x)) / 4032) * 2) + ry)) && ((((((((int)blockIdx.x) * 1024) + ((int)threadIdx.x)) / 4032) * 2) + ry) < 57)) && (1 <= ((((((((int)blockIdx.x) * 1024) + ((int)threadIdx.x)) / 144) % 28) * 2) + rx))) && (((((((((int)blockIdx.x) * 1024) + ((int)threadIdx.x)) / 144) % 28) * 2) + rx) < 57)) ? data[(((((((((((int)blockIdx.x) * 1024) + ((int)threadIdx.x)) / 4032) * 16128) + (ry * 8064)) + (((((((int)blockIdx.x) * 1024) + ((int)threadIdx.x)) / 144) % 28) * 288)) + (rx * 144)) + (((((int)blockIdx.x) * 1024) + ((int)threadIdx.x)) % 144)) - 8208)] : 0.000000e+00f) * kernel[(((ry * 432) + (rx * 144)) + (((((int)blockIdx.x) * 1024) + ((int)threadIdx.x)) % 144))]));
      }
    }
    DepthwiseConv2d[((((int)blockIdx.x) * 1024) + ((int)threadIdx.x))] = DepthwiseConv2d_local[0];
  }
}
