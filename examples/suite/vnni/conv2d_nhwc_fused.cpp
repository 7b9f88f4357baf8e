// conv2d NHWC, compiler-generated style: data (1, 56, 56, 3), kernel [16][7][7][3], stride 2, padding 3
// -> (1, 28, 28, 16). A padded copy of the input, fused spatial output axes, every index folded to
// constants.
extern "C" void conv2d_nhwc(float *__restrict__ data, float *__restrict__ kernel, float *__restrict__ conv2d_nhwc_out) {
  float PaddedInput[11532];
  for (int i1_i2_fused = 0; i1_i2_fused < 3844; ++i1_i2_fused) {
    for (int i3 = 0; i3 < 3; ++i3) {
      PaddedInput[((i1_i2_fused * 3) + i3)] = (((((3 <= (i1_i2_fused / 62)) && ((i1_i2_fused / 62) < 59)) && (3 <= (i1_i2_fused % 62))) && ((i1_i2_fused % 62) < 59)) ? data[(((((i1_i2_fused / 62) * 168) + ((i1_i2_fused % 62) * 3)) + i3) - 513)] : 0.000000e+00f);
    }
  }
  #pragma omp parallel for
  for (int ax1_ax2_fused = 0; ax1_ax2_fused < 784; ++ax1_ax2_fused) {
    for (int ax3 = 0; ax3 < 16; ++ax3) {
      conv2d_nhwc_out[((ax1_ax2_fused * 16) + ax3)] = 0.000000e+00f;
      for (int ry = 0; ry < 7; ++ry) {
        for (int rx = 0; rx < 7; ++rx) {
          for (int rc = 0; rc < 3; ++rc) {
            conv2d_nhwc_out[((ax1_ax2_fused * 16) + ax3)] = (conv2d_nhwc_out[((ax1_ax2_fused * 16) + ax3)] + (PaddedInput[(((((((ax1_ax2_fused / 28) * 372) + (ry * 186)) + ((ax1_ax2_fused % 28) * 6)) + (rx * 3)) + rc))] * kernel[((((ax3 * 147) + (ry * 21)) + (rx * 3)) + rc)]));
          }
        }
      }
    }
  }
}
