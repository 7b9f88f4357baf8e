/* fp32 GEMM C[32][16] = A[32][256] @ B[256][16] in plain C (ikj loop order), no extern "C". */
#include <string.h>

void matmul(const float *restrict A, const float *restrict B, float *restrict C) {
  memset(C, 0, sizeof(float) * 32 * 16);
  for (int i = 0; i < 32; i++)
    for (int k = 0; k < 256; k++) {
      float a = A[i * 256 + k];
      for (int j = 0; j < 16; j++) C[i * 16 + j] += a * B[k * 16 + j];
    }
}
