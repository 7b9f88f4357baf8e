// fp32 GEMM C[M][N] = A[M][K] @ B[K][N] for any sizes: 4 rows x 16 columns per register block
// (4 FMAs per loaded B vector), masked column tail, leftover rows one at a time; OpenMP over row blocks.
#include <immintrin.h>

extern "C" void sgemm(const float *A, const float *B, float *C, int M, int N, int K) {
  const int MB = (M + 3) / 4;
  #pragma omp parallel for
  for (int ib = 0; ib < MB; ++ib) {
    const int i0 = ib * 4;
    const int rows = (M - i0) < 4 ? (M - i0) : 4;
    for (int j = 0; j < N; j += 16) {
      const int w = (N - j) < 16 ? (N - j) : 16;
      const __mmask16 k16 = (__mmask16)((1u << w) - 1);
      __m512 c0 = _mm512_setzero_ps(), c1 = _mm512_setzero_ps(), c2 = _mm512_setzero_ps(), c3 = _mm512_setzero_ps();
      if (rows == 4) {
        for (int k = 0; k < K; ++k) {
          const __m512 b = _mm512_maskz_loadu_ps(k16, B + static_cast<long>(k) * N + j);
          c0 = _mm512_fmadd_ps(_mm512_set1_ps(A[(i0 + 0) * K + k]), b, c0);
          c1 = _mm512_fmadd_ps(_mm512_set1_ps(A[(i0 + 1) * K + k]), b, c1);
          c2 = _mm512_fmadd_ps(_mm512_set1_ps(A[(i0 + 2) * K + k]), b, c2);
          c3 = _mm512_fmadd_ps(_mm512_set1_ps(A[(i0 + 3) * K + k]), b, c3);
        }
        _mm512_mask_storeu_ps(C + (i0 + 0) * N + j, k16, c0);
        _mm512_mask_storeu_ps(C + (i0 + 1) * N + j, k16, c1);
        _mm512_mask_storeu_ps(C + (i0 + 2) * N + j, k16, c2);
        _mm512_mask_storeu_ps(C + (i0 + 3) * N + j, k16, c3);
      } else {
        for (int i = i0; i < i0 + rows; ++i) {
          __m512 c = _mm512_setzero_ps();
          for (int k = 0; k < K; ++k)
            c = _mm512_fmadd_ps(_mm512_set1_ps(A[i * K + k]), _mm512_maskz_loadu_ps(k16, B + static_cast<long>(k) * N + j), c);
          _mm512_mask_storeu_ps(C + i * N + j, k16, c);
        }
      }
    }
  }
}
