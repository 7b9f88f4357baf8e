// sumpool 3x3 stride 2 on NHWC (1, 56, 56, 24) -> (1, 27, 27, 24) in TVM's style: bare kernel, a local
// accumulator, baked shapes and a guard on the 17496 outputs (69 blocks of 256).
extern "C" __global__ void __launch_bounds__(256) default_function_kernel(float* __restrict__ data, float* __restrict__ pool_sum) {
  float pool_sum_local[1];
  if (((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) < 17496) {
    pool_sum_local[0] = 0.000000e+00f;
    for (int rv0 = 0; rv0 < 3; ++rv0) {
      for (int rv1 = 0; rv1 < 3; ++rv1) {
        pool_sum_local[0] = (pool_sum_local[0] + data[((((((((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) / 648) * 2688) + (rv0 * 1344)) + (((((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) / 24) % 27) * 48)) + (rv1 * 24)) + (((((int)blockIdx.x) * 256) + ((int)threadIdx.x)) % 24))]);
      }
    }
    pool_sum[((((int)blockIdx.x) * 256) + ((int)threadIdx.x))] = pool_sum_local[0];
  }
}
