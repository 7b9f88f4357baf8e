// conv1d, valid, stride 1: data[200], kernel[3] -> conv1d_ncw[198], compiler-generated style: the
// output axis split by 16 with a guard on the last block, the reduction axis unrolled by the schedule.
extern "C" void conv1d(float *__restrict__ data, float *__restrict__ kernel, float *__restrict__ conv1d_ncw) {
  for (int ax2_outer = 0; ax2_outer < 13; ++ax2_outer) {
    for (int ax2_inner = 0; ax2_inner < 16; ++ax2_inner) {
      if (((ax2_outer * 16) + ax2_inner) < 198) {
        conv1d_ncw[((ax2_outer * 16) + ax2_inner)] = 0.000000e+00f;
        conv1d_ncw[((ax2_outer * 16) + ax2_inner)] = (conv1d_ncw[((ax2_outer * 16) + ax2_inner)] + (data[((ax2_outer * 16) + ax2_inner)] * kernel[0]));
        conv1d_ncw[((ax2_outer * 16) + ax2_inner)] = (conv1d_ncw[((ax2_outer * 16) + ax2_inner)] + (data[(((ax2_outer * 16) + ax2_inner) + 1)] * kernel[1]));
        conv1d_ncw[((ax2_outer * 16) + ax2_inner)] = (conv1d_ncw[((ax2_outer * 16) + ax2_inner)] + (data[(((ax2_outer * 16) + ax2_inner) + 2)] * kernel[2]));
      }
    }
  }
}
