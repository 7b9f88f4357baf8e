// depthwise conv2d NHWC (1, 7, 7, 960) * (3, 3, 960), stride 1, padding 1 (MobileNetV2's last
// stage) in TVM's style: PaddedInput inlined as a select, one output per thread, a guard on the 47040
// outputs (46 blocks of 1024, derived from it).
extern "C" __global__ void __launch_bounds__(1024) default_function_kernel(float* __restrict__ data, float* __restrict__ kernel, float* __restrict__ DepthwiseConv2d) {
  float DepthwiseConv2d_local[1];
  if (((((int)blockIdx.x) * 1024) + ((int)threadIdx.x)) < 47040) {
    DepthwiseConv2d_local[0] = 0.000000e+00f;
    for (int ry = 0; ry < 3; ++ry) {
      for (int rx = 0; rx < 3; ++rx) {
        DepthwiseConv2d_local[0] = (DepthwiseConv2d_local[0] + (((((1 <= ((((((int)blockIdx.x) * 1024) + ((int)threadIdx.x)) / 6720) + ry)) && (((((((int)blockIdx.x) * 1024) + ((int)threadIdx.x)) / 6720) + ry) < 8)) && (1 <= (((((((int)blockIdx.x) * 1024) + ((int)threadIdx.x)) / 960) % 7) + rx))) && ((((((((int)blockIdx.x) * 1024) + ((int)threadIdx.x)) / 960) % 7) + rx) < 8)) ? data[(((((((((((int)blockIdx.x) * 1024) + ((int)threadIdx.x)) / 6720) * 6720) + (ry * 6720)) + (((((((int)blockIdx.x) * 1024) + ((int)threadIdx.x)) / 960) % 7) * 960)) + (rx * 960)) + (((((int)blockIdx.x) * 1024) + ((int)threadIdx.x)) % 960)) - 7680)] : 0.000000e+00f) * kernel[(((ry * 2880) + (rx * 960)) + (((((int)blockIdx.x) * 1024) + ((int)threadIdx.x)) % 960))]);
      }
    }
    DepthwiseConv2d[((((int)blockIdx.x) * 1024) + ((int)threadIdx.x))] = DepthwiseConv2d_local[0];
  }
}
