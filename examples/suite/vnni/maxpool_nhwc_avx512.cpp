// maxpool NHWC (1, 112, 112, 64), window 3, stride 2 -> (1, 55, 55, 64): channels in 4 vectors.
#include <immintrin.h>
#include <cfloat>

extern "C" void maxpool(float *input, float *output) {
  const int H = 112, W = 112, C = 64, K = 3, S = 2, HO = 55, WO = 55;
  #pragma omp parallel for
  for (int oh = 0; oh < HO; ++oh) {
    for (int ow = 0; ow < WO; ++ow) {
      for (int c = 0; c < C; c += 16) {
        __m512 m = _mm512_set1_ps(-FLT_MAX);
        for (int kh = 0; kh < K; ++kh)
          for (int kw = 0; kw < K; ++kw)
            m = _mm512_max_ps(m, _mm512_loadu_ps(input + ((oh * S + kh) * W + (ow * S + kw)) * C + c));
        _mm512_storeu_ps(output + (oh * WO + ow) * C + c, m);
      }
    }
  }
  (void)H;
}
