// batched int8 GEMM with VNNI for any sizes: C[b][M][N] (int32) = A[b][M][K] (uint8) @ B[b][K][N]
// (int8). Each batch's B is packed to Bp[K/4][N16][4] (K padded with zeros to a multiple of 4, N to a
// multiple of 16); 4 bytes of a row of A are broadcast, 16 columns accumulate per register; the column
// tail is stored through a mask.
#include <immintrin.h>
#include <cstdint>
#include <cstring>
#include <vector>

extern "C" void bmm_u8s8(const uint8_t *A, const int8_t *B, int32_t *C, int batch, int M, int N, int K) {
  const int K4 = (K + 3) / 4, NV = (N + 15) / 16, NP = NV * 16;
  const size_t packed = static_cast<size_t>(K4) * NP * 4;
  std::vector<int8_t> Bp(static_cast<size_t>(batch) * packed, 0);
  for (int b = 0; b < batch; ++b)
    for (int k = 0; k < K; ++k)
      for (int n = 0; n < N; ++n)
        Bp[b * packed + (static_cast<size_t>(k / 4) * NP + n) * 4 + k % 4] = B[(static_cast<size_t>(b) * K + k) * N + n];
  #pragma omp parallel for collapse(2)
  for (int b = 0; b < batch; ++b) {
    for (int i = 0; i < M; ++i) {
      const uint8_t *a = A + (static_cast<size_t>(b) * M + i) * K;
      int32_t *c = C + (static_cast<size_t>(b) * M + i) * N;
      for (int v = 0; v < NV; ++v) {
        __m512i acc = _mm512_setzero_si512();
        for (int k4 = 0; k4 < K4; ++k4) {
          int32_t quad = 0;
          std::memcpy(&quad, a + 4 * k4, (K - 4 * k4) < 4 ? (K - 4 * k4) : 4);
          acc = _mm512_dpbusd_epi32(acc, _mm512_set1_epi32(quad),
                                    _mm512_loadu_si512(Bp.data() + b * packed + (static_cast<size_t>(k4) * NP + v * 16) * 4));
        }
        const int w = (N - v * 16) < 16 ? (N - v * 16) : 16;
        _mm512_mask_storeu_epi32(c + v * 16, (__mmask16)((1u << w) - 1), acc);
      }
    }
  }
}
