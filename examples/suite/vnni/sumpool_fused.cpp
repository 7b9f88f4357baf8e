// sumpool NHWC (1, 14, 14, 512), window 2, stride 2 -> (1, 7, 7, 512), compiler-generated style:
// a local accumulator, the window unrolled, channels split by 16.
extern "C" void sum_pool2d(float *__restrict__ data, float *__restrict__ pool_sum) {
  #pragma omp parallel for
  for (int ax1_ax2_fused = 0; ax1_ax2_fused < 49; ++ax1_ax2_fused) {
    for (int ax3_outer = 0; ax3_outer < 32; ++ax3_outer) {
      for (int ax3_inner = 0; ax3_inner < 16; ++ax3_inner) {
        float pool_sum_local = 0.000000e+00f;
        pool_sum_local = (pool_sum_local + data[(((((ax1_ax2_fused / 7) * 14336) + ((ax1_ax2_fused % 7) * 1024)) + (ax3_outer * 16)) + ax3_inner)]);
        pool_sum_local = (pool_sum_local + data[((((((ax1_ax2_fused / 7) * 14336) + ((ax1_ax2_fused % 7) * 1024)) + (ax3_outer * 16)) + ax3_inner) + 512)]);
        pool_sum_local = (pool_sum_local + data[((((((ax1_ax2_fused / 7) * 14336) + ((ax1_ax2_fused % 7) * 1024)) + (ax3_outer * 16)) + ax3_inner) + 7168)]);
        pool_sum_local = (pool_sum_local + data[((((((ax1_ax2_fused / 7) * 14336) + ((ax1_ax2_fused % 7) * 1024)) + (ax3_outer * 16)) + ax3_inner) + 7680)]);
        pool_sum[(((ax1_ax2_fused * 512) + (ax3_outer * 16)) + ax3_inner)] = pool_sum_local;
      }
    }
  }
}
