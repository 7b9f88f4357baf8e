// maxpool 3x3 stride 2 on NHWC (1, 112, 112, 64) -> (1, 55, 55, 64) (the ResNet stem) in TVM's style:
// bare kernel, -FLT_MAX baked as -3.402823e+38f, max() over the window in a local, a guard on the
// 193600 outputs (grid: 190 blocks of 1024, from the guard).
extern "C" __global__ void __launch_bounds__(1024) default_function_kernel(float* __restrict__ data, float* __restrict__ pool_max) {
  float pool_max_local[1];
  if (((((int)blockIdx.x) * 1024) + ((int)threadIdx.x)) < 193600) {
    pool_max_local[0] = -3.402823e+38f;
    for (int rv0 = 0; rv0 < 3; ++rv0) {
      for (int rv1 = 0; rv1 < 3; ++rv1) {
        pool_max_local[0] = max(pool_max_local[0], data[((((((((((int)blockIdx.x) * 1024) + ((int)threadIdx.x)) / 3520) * 14336) + (rv0 * 7168)) + (((((((int)blockIdx.x) * 1024) + ((int)threadIdx.x)) >> 6) % 55) * 128)) + (rv1 * 64)) + (((int)threadIdx.x) & 63))]);
      }
    }
    pool_max[((((int)blockIdx.x) * 1024) + ((int)threadIdx.x))] = pool_max_local[0];
  }
}
