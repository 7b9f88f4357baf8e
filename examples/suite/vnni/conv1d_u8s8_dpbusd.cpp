// int8 conv1d with VNNI, valid, stride 1, kernel 3: y[L-2] (int32) from x[L] (uint8) and w[3] (int8).
// The 3 taps (and a zero) are broadcast as one int32; _mm512_shuffle_epi8 turns 4 overlapping 16-byte
// loads into the windows x[i+j .. i+j+3] of 16 outputs, so one _mm512_dpbusd_epi32 gives 16 outputs.
// Outputs whose window runs past the last full vector are done in scalar code.
#include <immintrin.h>
#include <cstdint>

extern "C" void conv1d_u8s8(const uint8_t *x, const int8_t *w, int32_t *y, int L) {
  const int LO = L - 2;
  const int32_t taps = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint8_t>(w[0])) |
                                            (static_cast<uint32_t>(static_cast<uint8_t>(w[1])) << 8) |
                                            (static_cast<uint32_t>(static_cast<uint8_t>(w[2])) << 16));
  const __m512i wv = _mm512_set1_epi32(taps);
  const __m512i windows = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 2, 3, 1, 2, 3, 4, 2, 3, 4, 5, 3, 4, 5, 6));
  int i = 0;
  for (; i + 16 <= LO && i + 28 <= L; i += 16) {
    __m512i v = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i *>(x + i)));
    v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i *>(x + i + 4)), 1);
    v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i *>(x + i + 8)), 2);
    v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i *>(x + i + 12)), 3);
    _mm512_storeu_si512(y + i, _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_shuffle_epi8(v, windows), wv));
  }
  for (; i < LO; ++i) y[i] = x[i] * w[0] + x[i + 1] * w[1] + x[i + 2] * w[2];
}
