// conv1d, valid, stride 1, any length and kernel size: 16 outputs per step, one shifted (masked) load
// of the input per tap, FMA with the broadcast tap.
#include <immintrin.h>

extern "C" void conv1d_kernel(const float *x, const float *w, float *y, int L, int K) {
  const int LO = L - K + 1;
  for (int i = 0; i < LO; i += 16) {
    const int r = (LO - i) < 16 ? (LO - i) : 16;
    const __mmask16 m = (__mmask16)((1u << r) - 1);
    __m512 acc = _mm512_setzero_ps();
    for (int t = 0; t < K; ++t) acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + i + t), _mm512_set1_ps(w[t]), acc);
    _mm512_mask_storeu_ps(y + i, m, acc);
  }
}
