// int8 GEMM, VNNI, with packing inside and ragged shapes: C[50][100] (int32) = A[50][130] (uint8) @
// B[130][100] (int8, row-major). K is padded to 132 with zeros, N = 6 * 16 + 4 stored through a mask.
#include <immintrin.h>
#include <cstdint>
#include <cstring>
#include <vector>

extern "C" void gemm_u8s8_tail(const uint8_t *A, const int8_t *B, int32_t *C) {
  const int M = 50, N = 100, K = 130;
  const int K4 = (K + 3) / 4, NV = (N + 15) / 16, NP = NV * 16;
  std::vector<int8_t> Bp(static_cast<size_t>(K4) * NP * 4, 0);
  for (int k = 0; k < K; ++k)
    for (int n = 0; n < N; ++n) Bp[(static_cast<size_t>(k / 4) * NP + n) * 4 + k % 4] = B[k * N + n];
  const __mmask16 tail = (__mmask16)((1u << (N - (NV - 1) * 16)) - 1);
  #pragma omp parallel for
  for (int i = 0; i < M; ++i) {
    __m512i acc[7];
    for (int v = 0; v < NV; ++v) acc[v] = _mm512_setzero_si512();
    for (int k4 = 0; k4 < K4; ++k4) {
      uint8_t quad[4] = {0, 0, 0, 0};
      const int n_valid = (K - 4 * k4) < 4 ? (K - 4 * k4) : 4;
      std::memcpy(quad, A + i * K + 4 * k4, n_valid);
      int32_t packed;
      std::memcpy(&packed, quad, 4);
      const __m512i a = _mm512_set1_epi32(packed);
      const int8_t *bp = Bp.data() + static_cast<size_t>(k4) * NP * 4;
      for (int v = 0; v < NV; ++v) acc[v] = _mm512_dpbusd_epi32(acc[v], a, _mm512_loadu_si512(bp + v * 64));
    }
    for (int v = 0; v < NV - 1; ++v) _mm512_storeu_si512(C + i * N + v * 16, acc[v]);
    _mm512_mask_storeu_epi32(C + i * N + (NV - 1) * 16, tail, acc[NV - 1]);
  }
}
