// layernorm over the last axis of (1, 4, 128) with gamma and beta, eps 1e-5, compiler-generated style:
// separate reductions for the mean and the variance, rsqrt as 1 / sqrtf, shapes baked in.
#include <math.h>

extern "C" void layer_norm(float *__restrict__ data, float *__restrict__ gamma, float *__restrict__ beta,
                           float *__restrict__ T_layer_norm) {
  float T_data_red[4];
  float T_data_var[4];
  for (int ax1 = 0; ax1 < 4; ++ax1) {
    T_data_red[ax1] = 0.000000e+00f;
    for (int k2 = 0; k2 < 128; ++k2) {
      T_data_red[ax1] = (T_data_red[ax1] + data[((ax1 * 128) + k2)]);
    }
    T_data_red[ax1] = (T_data_red[ax1] * 7.812500e-03f);
  }
  for (int ax1_1 = 0; ax1_1 < 4; ++ax1_1) {
    T_data_var[ax1_1] = 0.000000e+00f;
    for (int k2_1 = 0; k2_1 < 128; ++k2_1) {
      T_data_var[ax1_1] = (T_data_var[ax1_1] + ((data[((ax1_1 * 128) + k2_1)] - T_data_red[ax1_1]) * (data[((ax1_1 * 128) + k2_1)] - T_data_red[ax1_1])));
    }
    T_data_var[ax1_1] = (T_data_var[ax1_1] * 7.812500e-03f);
  }
  for (int ax1_ax2_fused = 0; ax1_ax2_fused < 512; ++ax1_ax2_fused) {
    T_layer_norm[ax1_ax2_fused] = ((((data[ax1_ax2_fused] - T_data_red[(ax1_ax2_fused >> 7)]) * (1.000000e+00f / sqrtf((T_data_var[(ax1_ax2_fused >> 7)] + 1.000000e-05f)))) * gamma[(ax1_ax2_fused & 127)]) + beta[(ax1_ax2_fused & 127)]);
  }
}
