// multi-scale deformable attention, compiler-generated style with everything baked in: batch 4,
// 8 heads x 32 channels, 100 queries, 4 levels of 8x8, 4x4, 2x2, 1x1 (starts 0, 64, 80, 84; 85 rows),
// 4 points. value [4][85][8][32], sampling_locations [4][100][8][4][4][2], attention_weights
// [4][100][8][4][4] -> T_output [4][100][256]. Bilinear corners as guarded loads, floorf + static_cast.
#include <math.h>

extern "C" void deformable_attention(float *__restrict__ value, float *__restrict__ sampling_locations,
                                     float *__restrict__ attention_weights, float *__restrict__ T_output) {
  #pragma omp parallel for
  for (int n_q_fused = 0; n_q_fused < 400; ++n_q_fused) {
    for (int m = 0; m < 8; ++m) {
      for (int d = 0; d < 32; ++d) {
        float T_output_local = 0.000000e+00f;
        for (int l = 0; l < 4; ++l) {
          for (int p = 0; p < 4; ++p) {
            float h_im = ((sampling_locations[((((n_q_fused * 256) + (m * 32)) + (l * 8)) + ((p * 2) + 1))] * static_cast<float>((8 >> l))) - 5.000000e-01f);
            float w_im = ((sampling_locations[((((n_q_fused * 256) + (m * 32)) + (l * 8)) + (p * 2))] * static_cast<float>((8 >> l))) - 5.000000e-01f);
            int h_low = static_cast<int>(floorf(h_im));
            int w_low = static_cast<int>(floorf(w_im));
            float lh = (h_im - static_cast<float>(h_low));
            float lw = (w_im - static_cast<float>(w_low));
            int base = ((((n_q_fused / 100) * 85) + ((l == 0) ? 0 : ((l == 1) ? 64 : ((l == 2) ? 80 : 84)))) * 256);
            float v1 = ((((0 <= h_low) && (h_low < (8 >> l))) && ((0 <= w_low) && (w_low < (8 >> l)))) ? value[(((base + (((h_low * (8 >> l)) + w_low) * 256)) + (m * 32)) + d)] : 0.000000e+00f);
            float v2 = ((((0 <= h_low) && (h_low < (8 >> l))) && ((0 <= (w_low + 1)) && ((w_low + 1) < (8 >> l)))) ? value[(((base + (((h_low * (8 >> l)) + (w_low + 1)) * 256)) + (m * 32)) + d)] : 0.000000e+00f);
            float v3 = ((((0 <= (h_low + 1)) && ((h_low + 1) < (8 >> l))) && ((0 <= w_low) && (w_low < (8 >> l)))) ? value[(((base + ((((h_low + 1) * (8 >> l)) + w_low) * 256)) + (m * 32)) + d)] : 0.000000e+00f);
            float v4 = ((((0 <= (h_low + 1)) && ((h_low + 1) < (8 >> l))) && ((0 <= (w_low + 1)) && ((w_low + 1) < (8 >> l)))) ? value[(((base + ((((h_low + 1) * (8 >> l)) + (w_low + 1)) * 256)) + (m * 32)) + d)] : 0.000000e+00f);
            float sampled = ((((((1.000000e+00f - lh) * (1.000000e+00f - lw)) * v1) + (((1.000000e+00f - lh) * lw) * v2)) + ((lh * (1.000000e+00f - lw)) * v3)) + ((lh * lw) * v4));
            T_output_local = (T_output_local + (attention_weights[((((n_q_fused * 128) + (m * 16)) + (l * 4)) + p)] * sampled));
          }
        }
        T_output[(((n_q_fused * 256) + (m * 32)) + d)] = T_output_local;
      }
    }
  }
}
