// softmax over the last axis of (12, 3, 128), compiler-generated style: the four stages of the
// schedule (maxelem, exp, expsum, norm) with their intermediate buffers, shapes baked in.
#include <math.h>

extern "C" void softmax(float *__restrict__ A, float *__restrict__ T_softmax_norm) {
  float T_softmax_maxelem[36];
  float T_softmax_exp[4608];
  float T_softmax_expsum[36];
  for (int i0_i1_fused = 0; i0_i1_fused < 36; ++i0_i1_fused) {
    T_softmax_maxelem[i0_i1_fused] = -3.402823e+38f;
    for (int k = 0; k < 128; ++k) {
      T_softmax_maxelem[i0_i1_fused] = fmaxf(T_softmax_maxelem[i0_i1_fused], A[((i0_i1_fused * 128) + k)]);
    }
  }
  for (int i0_i1_fused_i2_fused = 0; i0_i1_fused_i2_fused < 4608; ++i0_i1_fused_i2_fused) {
    T_softmax_exp[i0_i1_fused_i2_fused] = expf((A[i0_i1_fused_i2_fused] - T_softmax_maxelem[(i0_i1_fused_i2_fused >> 7)]));
  }
  for (int i0_i1_fused1 = 0; i0_i1_fused1 < 36; ++i0_i1_fused1) {
    T_softmax_expsum[i0_i1_fused1] = 0.000000e+00f;
    for (int k1 = 0; k1 < 128; ++k1) {
      T_softmax_expsum[i0_i1_fused1] = (T_softmax_expsum[i0_i1_fused1] + T_softmax_exp[((i0_i1_fused1 * 128) + k1)]);
    }
  }
  for (int i0_i1_fused_i2_fused1 = 0; i0_i1_fused_i2_fused1 < 4608; ++i0_i1_fused_i2_fused1) {
    T_softmax_norm[i0_i1_fused_i2_fused1] = (T_softmax_exp[i0_i1_fused_i2_fused1] / T_softmax_expsum[(i0_i1_fused_i2_fused1 >> 7)]);
  }
}
