// conv2d NCHW (1, 16, 14, 14) * (32, 16, 3, 3), stride 2, padding 1 -> (1, 32, 7, 7) in TVM's style:
// bare kernel, one output per thread, the padded input inlined as a select, baked shapes; a guard on
// the 1568 outputs gives the grid (7 blocks of 256).
extern "C" __global__ void __launch_bounds__(256) default_function_kernel(float* __restrict__ data, float* __restrict__ kernel, float* __restrict__ conv2d_nchw) {
  float conv2d_nchw_local[1];
  if (((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) < 1568) {
    conv2d_nchw_local[0] = 0.000000e+00f;
    for (int rc = 0; rc < 16; ++rc) {
      for (int ry = 0; ry < 3; ++ry) {
        for (int rx = 0; rx < 3; ++rx) {
          conv2d_nchw_local[0] = (conv2d_nchw_local[0] + ((((((1 <= ((((((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) % 49) / 7) * 2) + ry)) && (((((((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) % 49) / 7) * 2) + ry) < 15)) && (1 <= (((((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) % 7) * 2) + rx))) && ((((((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) % 7) * 2) + rx) < 15)) ? data[((((((rc * 196) + (((((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) % 49) / 7) * 28)) + (ry * 14)) + ((((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) % 7) * 2)) + rx) - 15)] : 0.000000e+00f) * kernel[(((((((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) / 49) * 144) + (rc * 9)) + (ry * 3)) + rx)]));
        }
      }
    }
    conv2d_nchw[((((int)blockIdx.x) * 256) + ((int)threadIdx.x))] = conv2d_nchw_local[0];
  }
}
