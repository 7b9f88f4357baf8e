// int8 conv2d NCHW with VNNI through im2col: x (1, 16, 28, 28) uint8, w [24][16][3][3] int8, stride 1,
// padding 1 -> y (1, 24, 28, 28) int32. Each output pixel's patch (ci, kh, kw) is gathered into a row of
// 192 bytes (144 taps, zero padded to a multiple of 64); the filter rows are padded the same way; each
// output is 3 _mm512_dpbusd_epi32 and a horizontal sum.
#include <immintrin.h>
#include <cstdint>
#include <vector>

extern "C" void conv2d_nchw_u8s8(const uint8_t *x, const int8_t *w, int32_t *y) {
  const int CI = 16, H = 28, W = 28, CO = 24, K = 3, P = 1, HO = 28, WO = 28;
  const int KK = CI * K * K, KP = (KK + 63) / 64 * 64;
  std::vector<uint8_t> col(static_cast<size_t>(HO) * WO * KP, 0);
  std::vector<int8_t> wp(static_cast<size_t>(CO) * KP, 0);
  for (int co = 0; co < CO; ++co)
    for (int t = 0; t < KK; ++t) wp[co * KP + t] = w[co * KK + t];
  #pragma omp parallel for
  for (int oh = 0; oh < HO; ++oh)
    for (int ow = 0; ow < WO; ++ow) {
      uint8_t *row = col.data() + (static_cast<size_t>(oh) * WO + ow) * KP;
      for (int ci = 0; ci < CI; ++ci)
        for (int kh = 0; kh < K; ++kh)
          for (int kw = 0; kw < K; ++kw) {
            const int ih = oh + kh - P, iw = ow + kw - P;
            const bool inside = ih >= 0 && ih < H && iw >= 0 && iw < W;
            row[(ci * K + kh) * K + kw] = inside ? x[(ci * H + ih) * W + iw] : 0;
          }
    }
  #pragma omp parallel for
  for (int co = 0; co < CO; ++co) {
    const int8_t *f = wp.data() + co * KP;
    for (int p = 0; p < HO * WO; ++p) {
      const uint8_t *a = col.data() + static_cast<size_t>(p) * KP;
      __m512i acc = _mm512_setzero_si512();
      for (int k = 0; k < KP; k += 64) acc = _mm512_dpbusd_epi32(acc, _mm512_loadu_si512(a + k), _mm512_loadu_si512(f + k));
      y[co * HO * WO + p] = _mm512_reduce_add_epi32(acc);
    }
  }
}
