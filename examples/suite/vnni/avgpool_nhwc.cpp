// avgpool NHWC (1, 14, 14, 512), window 2, stride 2 -> (1, 7, 7, 512), compiler-generated loops.
extern "C" void avgpool(float *__restrict__ data, float *__restrict__ pool_avg) {
  for (int ax1 = 0; ax1 < 7; ++ax1) {
    for (int ax2 = 0; ax2 < 7; ++ax2) {
      for (int ax3 = 0; ax3 < 512; ++ax3) {
        float pool_sum = 0.000000e+00f;
        for (int rv0 = 0; rv0 < 2; ++rv0) {
          for (int rv1 = 0; rv1 < 2; ++rv1) {
            pool_sum = (pool_sum + data[((((((ax1 * 2) + rv0) * 7168) + (ax2 * 1024)) + (rv1 * 512)) + ax3)]);
          }
        }
        pool_avg[(((ax1 * 3584) + (ax2 * 512)) + ax3)] = (pool_sum * 2.500000e-01f);
      }
    }
  }
}
