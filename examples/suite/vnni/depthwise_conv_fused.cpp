// depthwise conv NHWC, compiler-generated style: data (1, 14, 14, 512), kernel [3][3][512], stride 1,
// padding 1 -> (1, 14, 14, 512). The padding is inlined as a guarded load, channels split by 16.
extern "C" void depthwise_conv2d_nhwc(float *__restrict__ data, float *__restrict__ kernel, float *__restrict__ DepthwiseConv2d) {
  #pragma omp parallel for
  for (int i_j_fused = 0; i_j_fused < 196; ++i_j_fused) {
    for (int c_outer = 0; c_outer < 32; ++c_outer) {
      for (int c_inner = 0; c_inner < 16; ++c_inner) {
        DepthwiseConv2d[(((i_j_fused * 512) + (c_outer * 16)) + c_inner)] = 0.000000e+00f;
        for (int di = 0; di < 3; ++di) {
          for (int dj = 0; dj < 3; ++dj) {
            DepthwiseConv2d[(((i_j_fused * 512) + (c_outer * 16)) + c_inner)] = (DepthwiseConv2d[(((i_j_fused * 512) + (c_outer * 16)) + c_inner)] + ((((((1 <= ((i_j_fused / 14) + di)) && (((i_j_fused / 14) + di) < 15)) && (1 <= ((i_j_fused % 14) + dj))) && (((i_j_fused % 14) + dj) < 15)) ? data[(((((((i_j_fused / 14) * 7168) + (di * 7168)) + ((i_j_fused % 14) * 512)) + (dj * 512)) + ((c_outer * 16) + c_inner)) - 7680)] : 0.000000e+00f) * kernel[((((di * 1536) + (dj * 512)) + (c_outer * 16)) + c_inner)]));
          }
        }
      }
    }
  }
}
