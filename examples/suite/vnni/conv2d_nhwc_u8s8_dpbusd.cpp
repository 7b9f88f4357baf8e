// int8 conv2d NHWC with VNNI: x (1, 14, 14, 16) uint8, w [32][3][3][16] int8, stride 1, padding 1
// -> y (1, 14, 14, 32) int32. The filter is packed as Wp[kh][kw][ci/4][co][4]; 4 input channels of a
// pixel are broadcast, 16 output channels accumulate per register.
#include <immintrin.h>
#include <cstdint>

extern "C" void conv2d_u8s8(const uint8_t *x, const int8_t *w, int32_t *y) {
  const int H = 14, W = 14, CI = 16, CO = 32, K = 3, P = 1;
  alignas(64) static int8_t Wp[3][3][4][32][4];
  for (int co = 0; co < CO; ++co)
    for (int kh = 0; kh < K; ++kh)
      for (int kw = 0; kw < K; ++kw)
        for (int ci = 0; ci < CI; ++ci) Wp[kh][kw][ci / 4][co][ci % 4] = w[((co * K + kh) * K + kw) * CI + ci];
  #pragma omp parallel for
  for (int oh = 0; oh < H; ++oh) {
    for (int ow = 0; ow < W; ++ow) {
      __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
      for (int kh = 0; kh < K; ++kh) {
        const int ih = oh + kh - P;
        if (ih < 0 || ih >= H) continue;
        for (int kw = 0; kw < K; ++kw) {
          const int iw = ow + kw - P;
          if (iw < 0 || iw >= W) continue;
          const uint8_t *px = x + (ih * W + iw) * CI;
          for (int cg = 0; cg < CI / 4; ++cg) {
            const __m512i a = _mm512_set1_epi32(*(const int32_t *)(px + 4 * cg));
            acc0 = _mm512_dpbusd_epi32(acc0, a, _mm512_load_si512(&Wp[kh][kw][cg][0][0]));
            acc1 = _mm512_dpbusd_epi32(acc1, a, _mm512_load_si512(&Wp[kh][kw][cg][16][0]));
          }
        }
      }
      _mm512_storeu_si512(y + (oh * W + ow) * CO, acc0);
      _mm512_storeu_si512(y + (oh * W + ow) * CO + 16, acc1);
    }
  }
}
