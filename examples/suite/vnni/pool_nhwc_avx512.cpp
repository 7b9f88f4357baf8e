// 2-D pooling, NHWC, no padding, for any sizes: one static worker for max / min / sum / avg and an
// extern "C" entry per kind. 16 channels per vector; the channel tail is loaded with the reduction's
// identity in the masked-off lanes and stored through the mask.
#include <immintrin.h>
#include <cfloat>

#define POOL_MAX 0
#define POOL_MIN 1
#define POOL_SUM 2
#define POOL_AVG 3

static void pool_nhwc(const float *x, float *y, int N, int H, int W, int C, int K, int S, int kind) {
  const int HO = (H - K) / S + 1, WO = (W - K) / S + 1;
  const __m512 init = kind == POOL_MAX ? _mm512_set1_ps(-FLT_MAX)
                    : kind == POOL_MIN ? _mm512_set1_ps(FLT_MAX) : _mm512_setzero_ps();
  const __m512 inv = _mm512_set1_ps(1.0f / static_cast<float>(K * K));
  #pragma omp parallel for collapse(2)
  for (int n = 0; n < N; ++n) {
    for (int oh = 0; oh < HO; ++oh) {
      for (int ow = 0; ow < WO; ++ow) {
        for (int c = 0; c < C; c += 16) {
          const int r = (C - c) < 16 ? (C - c) : 16;
          const __mmask16 m = (__mmask16)((1u << r) - 1);
          __m512 acc = init;
          for (int kh = 0; kh < K; ++kh) {
            for (int kw = 0; kw < K; ++kw) {
              const float *p = x + ((static_cast<long>(n) * H + oh * S + kh) * W + ow * S + kw) * C + c;
              const __m512 v = _mm512_mask_loadu_ps(init, m, p);
              switch (kind) {
                case POOL_MAX: acc = _mm512_max_ps(acc, v); break;
                case POOL_MIN: acc = _mm512_min_ps(acc, v); break;
                default: acc = _mm512_add_ps(acc, v); break;
              }
            }
          }
          if (kind == POOL_AVG) acc = _mm512_mul_ps(acc, inv);
          _mm512_mask_storeu_ps(y + ((static_cast<long>(n) * HO + oh) * WO + ow) * C + c, m, acc);
        }
      }
    }
  }
}

extern "C" void maxpool_nhwc(const float *x, float *y, int N, int H, int W, int C, int K, int S) {
  pool_nhwc(x, y, N, H, W, C, K, S, POOL_MAX);
}

extern "C" void minpool_nhwc(const float *x, float *y, int N, int H, int W, int C, int K, int S) {
  pool_nhwc(x, y, N, H, W, C, K, S, POOL_MIN);
}

extern "C" void sumpool_nhwc(const float *x, float *y, int N, int H, int W, int C, int K, int S) {
  pool_nhwc(x, y, N, H, W, C, K, S, POOL_SUM);
}

extern "C" void avgpool_nhwc(const float *x, float *y, int N, int H, int W, int C, int K, int S) {
  pool_nhwc(x, y, N, H, W, C, K, S, POOL_AVG);
}
