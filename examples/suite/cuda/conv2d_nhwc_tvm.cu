// conv2d NHWC (1, 14, 14, 32) * (64, 3, 3, 32), stride 1, padding 1 -> (1, 14, 14, 64), TVM-style:
// bare kernel, one output per thread, the padding folded into a select, a guard on the 12544
// outputs (the grid, 49 blocks of 256, comes from it).
extern "C" __global__ void __launch_bounds__(256) default_function_kernel(float* __restrict__ data, float* __restrict__ kernel, float* __restrict__ conv2d_nhwc) {
  float conv2d_nhwc_local[1];
  if (((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) < 12544) {
    conv2d_nhwc_local[0] = 0.000000e+00f;
    for (int ry = 0; ry < 3; ++ry) {
      for (int rx = 0; rx < 3; ++rx) {
        for (int rc = 0; rc < 32; ++rc) {
          conv2d_nhwc_local[0] = (conv2d_nhwc_local[0] + ((((((1 <= ((((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) / 896) + ry)) && (((((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) / 896) + ry) < 15)) && (1 <= (((((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) % 896) / 64) + rx))) && ((((((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) % 896) / 64) + rx) < 15)) ? data[(((((((((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) / 896) * 448) + (ry * 448)) + (((((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) % 896) / 64) * 32)) + (rx * 32)) + rc) - 480)] : 0.000000e+00f) * kernel[(((((((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) % 64) * 288) + (ry * 96)) + (rx * 32)) + rc)]));
        }
      }
    }
    conv2d_nhwc[((((int)blockIdx.x) * 256) + ((int)threadIdx.x))] = conv2d_nhwc_local[0];
  }
}
