// sigmoid (12, 3, 128) in TVM's style: bare kernel, 1024 threads per block, 4608 elements (not a
// multiple of the block): the guard decides the grid (5 blocks).
extern "C" __global__ void __launch_bounds__(1024) default_function_kernel(float* __restrict__ T_sigmoid, float* __restrict__ data) {
  if (((((int)blockIdx.x) * 1024) + ((int)threadIdx.x)) < 4608) {
    T_sigmoid[((((int)blockIdx.x) * 1024) + ((int)threadIdx.x))] = (1.000000e+00f / (1.000000e+00f + __expf((0.000000e+00f - data[((((int)blockIdx.x) * 1024) + ((int)threadIdx.x))]))));
  }
}
