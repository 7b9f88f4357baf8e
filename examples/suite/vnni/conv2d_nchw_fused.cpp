// conv2d NCHW, compiler-generated style: data (1, 64, 14, 14), kernel [32][64][3][3], stride 1,
// padding 1 -> (1, 32, 14, 14). pad_temp stage, then the output channels over OpenMP, shapes baked in.
extern "C" void conv2d_nchw(float *__restrict__ data, float *__restrict__ kernel, float *__restrict__ conv2d_nchw_out) {
  float pad_temp[16384];
  for (int i1 = 0; i1 < 64; ++i1) {
    for (int i2 = 0; i2 < 16; ++i2) {
      for (int i3 = 0; i3 < 16; ++i3) {
        pad_temp[(((i1 * 256) + (i2 * 16)) + i3)] = (((((1 <= i2) && (i2 < 15)) && (1 <= i3)) && (i3 < 15)) ? data[((((i1 * 196) + (i2 * 14)) + i3) - 15)] : 0.000000e+00f);
      }
    }
  }
  #pragma omp parallel for
  for (int ff = 0; ff < 32; ++ff) {
    for (int yy = 0; yy < 14; ++yy) {
      for (int xx = 0; xx < 14; ++xx) {
        conv2d_nchw_out[(((ff * 196) + (yy * 14)) + xx)] = 0.000000e+00f;
        for (int rc = 0; rc < 64; ++rc) {
          for (int ry = 0; ry < 3; ++ry) {
            for (int rx = 0; rx < 3; ++rx) {
              conv2d_nchw_out[(((ff * 196) + (yy * 14)) + xx)] = (conv2d_nchw_out[(((ff * 196) + (yy * 14)) + xx)] + (pad_temp[(((((rc * 256) + (yy * 16)) + (ry * 16)) + xx) + rx)] * kernel[((((ff * 576) + (rc * 9)) + (ry * 3)) + rx)]));
            }
          }
        }
      }
    }
  }
}
