// minpool NHWC (2, 28, 28, 24), window 2, stride 2 -> (2, 14, 14, 24): 24 channels = 16 + masked 8.
#include <immintrin.h>
#include <cfloat>

extern "C" void minpool(float *x, float *y) {
  const int H = 28, W = 28, C = 24, HO = 14, WO = 14;
  const __mmask16 tail = (__mmask16)((1u << (C - 16)) - 1);
  for (int n = 0; n < 2; ++n) {
    const float *xn = x + n * H * W * C;
    float *yn = y + n * HO * WO * C;
    for (int oh = 0; oh < HO; ++oh) {
      for (int ow = 0; ow < WO; ++ow) {
        __m512 lo = _mm512_set1_ps(FLT_MAX), hi = _mm512_set1_ps(FLT_MAX);
        for (int kh = 0; kh < 2; ++kh) {
          for (int kw = 0; kw < 2; ++kw) {
            const float *p = xn + ((oh * 2 + kh) * W + (ow * 2 + kw)) * C;
            lo = _mm512_min_ps(lo, _mm512_loadu_ps(p));
            hi = _mm512_min_ps(hi, _mm512_mask_loadu_ps(_mm512_set1_ps(FLT_MAX), tail, p + 16));
          }
        }
        _mm512_storeu_ps(yn + (oh * WO + ow) * C, lo);
        _mm512_mask_storeu_ps(yn + (oh * WO + ow) * C + 16, tail, hi);
      }
    }
  }
}
