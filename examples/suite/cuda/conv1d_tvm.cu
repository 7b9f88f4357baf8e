// conv1d_ncw (1, 1, 512) * (1, 1, 3) -> (1, 1, 510), valid, in TVM's style: one output per thread in
// a local accumulator, 64 threads per block and a guard on the 510 outputs (the grid, 8 blocks, comes
// from it).
extern "C" __global__ void __launch_bounds__(64) default_function_kernel(float* __restrict__ data, float* __restrict__ kernel, float* __restrict__ conv1d_ncw) {
  float conv1d_ncw_local[1];
  if (((((int)blockIdx.x) * 64) + ((int)threadIdx.x)) < 510) {
    conv1d_ncw_local[0] = 0.000000e+00f;
    for (int rx = 0; rx < 3; ++rx) {
      conv1d_ncw_local[0] = (conv1d_ncw_local[0] + (data[(((((int)blockIdx.x) * 64) + ((int)threadIdx.x)) + rx)] * kernel[rx]));
    }
    conv1d_ncw[((((int)blockIdx.x) * 64) + ((int)threadIdx.x))] = conv1d_ncw_local[0];
  }
}
