// multi-scale deformable attention (Deformable DETR ms_deform_attn forward), the CUDA op's argument
// order: value [N=1][S=340][M=8][D=32], spatial_shapes [4][2] (H, W), level_start_index [4],
// sampling_locations [1][Lq=100][8][4][P=4][2] (x, y in [0, 1]), attention_weights [1][100][8][4][4],
// output [1][100][8 * 32]. Bilinear sampling at (y * H - 0.5, x * W - 0.5), zero outside the map.
#include <cmath>

static inline float sample(const float *value, int H, int W, int start, int m, int d, float h, float w) {
  const int M = 8, D = 32;
  const int h0 = static_cast<int>(floorf(h)), w0 = static_cast<int>(floorf(w));
  const float lh = h - h0, lw = w - w0;
  float v = 0.0f;
  for (int dy = 0; dy < 2; ++dy)
    for (int dx = 0; dx < 2; ++dx) {
      const int y = h0 + dy, x = w0 + dx;
      if (y < 0 || y >= H || x < 0 || x >= W) continue;
      const float wt = (dy ? lh : 1.0f - lh) * (dx ? lw : 1.0f - lw);
      v += wt * value[((start + y * W + x) * M + m) * D + d];
    }
  return v;
}

extern "C" void ms_deform_attn(const float *value, const int *spatial_shapes, const int *level_start_index,
                               const float *sampling_loc, const float *attn_weight, float *output) {
  const int LQ = 100, M = 8, D = 32, NL = 4, P = 4;
  #pragma omp parallel for collapse(2)
  for (int q = 0; q < LQ; ++q) {
    for (int m = 0; m < M; ++m) {
      float acc[32] = {0};
      for (int l = 0; l < NL; ++l) {
        const int H = spatial_shapes[2 * l], W = spatial_shapes[2 * l + 1], start = level_start_index[l];
        for (int p = 0; p < P; ++p) {
          const int idx = ((q * M + m) * NL + l) * P + p;
          const float x = sampling_loc[2 * idx], y = sampling_loc[2 * idx + 1];
          const float a = attn_weight[idx];
          const float h_im = y * H - 0.5f, w_im = x * W - 0.5f;
          if (h_im <= -1.0f || w_im <= -1.0f || h_im >= H || w_im >= W) continue;
          for (int d = 0; d < D; ++d) acc[d] += a * sample(value, H, W, start, m, d, h_im, w_im);
        }
      }
      for (int d = 0; d < D; ++d) output[(q * M + m) * D + d] = acc[d];
    }
  }
}
