// multi-scale deformable attention forward for any sizes, with the argument list of the CUDA op
// (ms_deform_attn_forward): value [N][S][M][D], spatial_shapes [L][2] (H, W), level_start_index [L],
// sampling_loc [N][Lq][M][L][P][2] (x, y in [0, 1]), attn_weight [N][Lq][M][L][P] -> output
// [N][Lq][M*D]. Bilinear sampling at (y*H - 0.5, x*W - 0.5), zero outside the map; the 4 corner weights
// are computed once per point and applied to the channels in vectors of 16 (masked tail, D <= 128).
#include <immintrin.h>
#include <cmath>

extern "C" void ms_deform_attn_forward(const float *value, const int *spatial_shapes, const int *level_start_index,
                                       const float *sampling_loc, const float *attn_weight, float *output,
                                       int batch, int spatial_size, int num_heads, int channels, int num_levels,
                                       int num_query, int num_point) {
  const int M = num_heads, D = channels, NV = (D + 15) / 16;
  const __mmask16 tail = (__mmask16)((1u << (D - (NV - 1) * 16)) - 1);
  #pragma omp parallel for collapse(3)
  for (int n = 0; n < batch; ++n) {
    for (int q = 0; q < num_query; ++q) {
      for (int m = 0; m < M; ++m) {
        __m512 acc[8];
        for (int v = 0; v < NV; ++v) acc[v] = _mm512_setzero_ps();
        for (int l = 0; l < num_levels; ++l) {
          const int H = spatial_shapes[2 * l], W = spatial_shapes[2 * l + 1];
          const float *vlevel = value + (static_cast<long>(n) * spatial_size + level_start_index[l]) * M * D + m * D;
          for (int p = 0; p < num_point; ++p) {
            const long idx = (((static_cast<long>(n) * num_query + q) * M + m) * num_levels + l) * num_point + p;
            const float h_im = sampling_loc[2 * idx + 1] * H - 0.5f, w_im = sampling_loc[2 * idx] * W - 0.5f;
            if (!(h_im > -1.0f && w_im > -1.0f && h_im < H && w_im < W)) continue;
            const int h0 = static_cast<int>(std::floor(h_im)), w0 = static_cast<int>(std::floor(w_im));
            const float lh = h_im - h0, lw = w_im - w0, a = attn_weight[idx];
            const int ys[4] = {h0, h0, h0 + 1, h0 + 1}, xs[4] = {w0, w0 + 1, w0, w0 + 1};
            const float ws[4] = {(1 - lh) * (1 - lw), (1 - lh) * lw, lh * (1 - lw), lh * lw};
            for (int c = 0; c < 4; ++c) {
              if (ys[c] < 0 || ys[c] >= H || xs[c] < 0 || xs[c] >= W) continue;
              const __m512 wt = _mm512_set1_ps(a * ws[c]);
              const float *src = vlevel + static_cast<long>(ys[c] * W + xs[c]) * M * D;
              for (int v = 0; v < NV; ++v)
                acc[v] = _mm512_fmadd_ps(wt, _mm512_maskz_loadu_ps(v == NV - 1 ? tail : (__mmask16)0xFFFF, src + 16 * v), acc[v]);
            }
          }
        }
        float *dst = output + ((static_cast<long>(n) * num_query + q) * M + m) * D;
        for (int v = 0; v < NV; ++v) _mm512_mask_storeu_ps(dst + 16 * v, v == NV - 1 ? tail : (__mmask16)0xFFFF, acc[v]);
      }
    }
  }
}
