"""``simd-jam``: unroll-and-jam of a parallel loop around a SIMD loop whose body runs one inner loop:
four rows of threads per SIMD iteration, their inner loops fused, the accumulators in scalars."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

import xpiler
from xpiler.passes.base import PassError
from xpiler.passes.registry import pipeline


def transform(src: str, spec: str = "simd-jam") -> str:
    module = xpiler.lift(textwrap.dedent(src).lstrip("\n"), source="vnni")
    for p in pipeline(spec):
        module = p.apply(module)
    return xpiler.emit(module, "vnni")


def unchanged(src: str) -> str:
    return xpiler.emit(xpiler.lift(textwrap.dedent(src).lstrip("\n"), source="vnni"), "vnni")


# The compute phase of a tiled GEMM as the CPU nest runs it: rows of threads, columns as SIMD lanes,
# each thread's dot product over the tile accumulated into its slot.
TILE_PRODUCT = """
void product(float *acc, const float *As, const float *Bs, int ny, int nx) {
  for (int ty = 0; ty < ny; ++ty) {
#pragma omp simd
    for (int tx = 0; tx < nx; ++tx) {
      long long tid = (long long)ty * nx + tx;
      for (int k = 0; k < 16; ++k)
        acc[tid] += As[ty * 16 + k] * Bs[k * nx + tx];
    }
  }
}
"""


def test_four_rows_per_simd_iteration_their_inner_loops_fused():
    assert transform(TILE_PRODUCT) == textwrap.dedent("""\
        void product(float *acc, const float *As, const float *Bs, int ny, int nx) {
          {
            int ty = 0;
            for (; ny - ty >= 4; ty += 4) {
        #pragma omp simd
              for (int tx = 0; tx < nx; ++tx) {
                long long tid_0 = (long long)(ty + 0) * nx + tx;
                long long tid_1 = (long long)(ty + 1) * nx + tx;
                long long tid_2 = (long long)(ty + 2) * nx + tx;
                long long tid_3 = (long long)(ty + 3) * nx + tx;
                float acc_0 = acc[tid_0];
                float acc_1 = acc[tid_1];
                float acc_2 = acc[tid_2];
                float acc_3 = acc[tid_3];
                for (int k = 0; k < 16; ++k) {
                  acc_0 += As[(ty + 0) * 16 + k] * Bs[k * nx + tx];
                  acc_1 += As[(ty + 1) * 16 + k] * Bs[k * nx + tx];
                  acc_2 += As[(ty + 2) * 16 + k] * Bs[k * nx + tx];
                  acc_3 += As[(ty + 3) * 16 + k] * Bs[k * nx + tx];
                }
                acc[tid_0] = acc_0;
                acc[tid_1] = acc_1;
                acc[tid_2] = acc_2;
                acc[tid_3] = acc_3;
              }
            }
            for (; ty < ny; ++ty) {
        #pragma omp simd
              for (int tx = 0; tx < nx; ++tx) {
                long long tid = (long long)ty * nx + tx;
                for (int k = 0; k < 16; ++k)
                  acc[tid] += As[ty * 16 + k] * Bs[k * nx + tx];
              }
            }
          }
        }
        """)


def test_a_thread_sum_in_a_local_is_renamed_per_row_and_the_row_count_is_a_parameter():
    code = transform("""
        void rows(const float *x, float *y, int ny, int nx, int K) {
          for (int r = 0; r < ny; ++r) {
        #pragma omp simd
            for (int c = 0; c < nx; ++c) {
              float s = 0.0f;
              for (int k = 0; k < K; ++k)
                s += x[r * K + k] * x[k * nx + c];
              y[r * nx + c] = s;
            }
          }
        }
        """, "simd-jam{rows=2}")
    assert "for (; ny - r >= 2; r += 2) {" in code
    assert "float s_0 = 0.0f;\n" in code and "float s_1 = 0.0f;\n" in code
    assert "s_0 += x[(r + 0) * K + k] * x[k * nx + c];\n" in code
    assert "y[(r + 1) * nx + c] = s_1;\n" in code


def test_a_row_of_dot_products_jams_its_simd_reductions():
    # detensorized BANG matmuls: one SIMD reduction per output; four outputs share the loads of `a`
    code = transform("""
        void dots(const float *a, const float *b, float *c, int n, int k) {
          for (int j = 0; j < n; ++j) {
            double s = 0;
        #pragma omp simd reduction(+: s)
            for (int p = 0; p < k; ++p)
              s += (double)a[p] * (double)b[j * k + p];
            c[j] = (float)s;
          }
        }
        """)
    assert code == textwrap.dedent("""\
        void dots(const float *a, const float *b, float *c, int n, int k) {
          {
            int j = 0;
            for (; n - j >= 4; j += 4) {
              double s_0 = 0;
              double s_1 = 0;
              double s_2 = 0;
              double s_3 = 0;
        #pragma omp simd reduction(+: s_0, s_1, s_2, s_3)
              for (int p = 0; p < k; ++p) {
                s_0 += (double)a[p] * (double)b[(j + 0) * k + p];
                s_1 += (double)a[p] * (double)b[(j + 1) * k + p];
                s_2 += (double)a[p] * (double)b[(j + 2) * k + p];
                s_3 += (double)a[p] * (double)b[(j + 3) * k + p];
              }
              c[j + 0] = (float)s_0;
              c[j + 1] = (float)s_1;
              c[j + 2] = (float)s_2;
              c[j + 3] = (float)s_3;
            }
            for (; j < n; ++j) {
              double s = 0;
        #pragma omp simd reduction(+: s)
              for (int p = 0; p < k; ++p)
                s += (double)a[p] * (double)b[j * k + p];
              c[j] = (float)s;
            }
          }
        }
        """)


def test_a_loop_around_a_plain_inner_loop_is_not_jammed():
    # without a SIMD loop there is no vector of lanes to share the loads: left to gcc
    src = """
        void dots(const float *a, const float *b, float *c, int n, int k) {
          for (int j = 0; j < n; ++j) {
            float s = 0;
            for (int p = 0; p < k; ++p)
              s += a[p] * b[j * k + p];
            c[j] = s;
          }
        }
        """
    assert transform(src) == unchanged(src)


@pytest.mark.parametrize("change, why", [
    ("acc[tid] +=", "acc[tx] +=", ),
    ("acc[tid] += As[ty * 16 + k]", "acc[tid] += acc[tid + 1] + As[ty * 16 + k]"),
    ("  for (int ty = 0; ty < ny; ++ty) {", "#pragma omp parallel for\n  for (int ty = 0; ty < ny; ++ty) {"),
    ("for (int k = 0; k < 16; ++k)", "for (int k = 0; k < ty; ++k)"),
    ("ty < ny; ++ty", "ty < ny; ty += 2"),
])
def test_loops_it_cannot_jam_exactly_are_left_as_they_were(change, why):
    # rows that write the same slot (not parallel), an accumulator read at another place, a loop
    # already run in parallel by OpenMP, an inner loop whose trip count depends on the row, a step
    src = TILE_PRODUCT.replace(change, why)
    assert transform(src) == unchanged(src)


def test_the_pass_applies_to_c_programs_only_and_at_least_two_rows():
    module = xpiler.lift("__global__ void k(float *a) { a[threadIdx.x] = 0.0f; }", source="cuda")
    with pytest.raises(PassError, match="simd-jam applies to C \\(vnni\\) programs, not cuda"):
        pipeline("simd-jam")[0].apply(module)
    with pytest.raises(PassError, match="simd-jam: rows must be at least 2, got 1"):
        pipeline("simd-jam{rows=1}")[0].apply(xpiler.lift(TILE_PRODUCT, source="vnni"))


# A tiled GEMM with blocks of 16 x 6 threads: six rows are one group of four and two rows left.
TILED_GEMM = """
#define TX 16
#define TY 6
__global__ void gemm_tiles(const float *A, const float *B, float *C, int M, int N, int K) {
  __shared__ float As[TY][TX];
  __shared__ float Bs[TX][TX];
  int row = blockIdx.y * TY + threadIdx.y, col = blockIdx.x * TX + threadIdx.x;
  float acc = 0.0f;
  for (int t = 0; t < (K + TX - 1) / TX; ++t) {
    As[threadIdx.y][threadIdx.x] = (row < M && t * TX + threadIdx.x < K) ? A[row * K + t * TX + threadIdx.x] : 0.0f;
    for (int r = threadIdx.y; r < TX; r += TY)
      Bs[r][threadIdx.x] = (t * TX + r < K && col < N) ? B[(t * TX + r) * N + col] : 0.0f;
    __syncthreads();
    for (int k = 0; k < TX; ++k)
      acc += As[threadIdx.y][k] * Bs[k][threadIdx.x];
    __syncthreads();
  }
  if (row < M && col < N)
    C[row * N + col] = acc;
}
extern "C" void gemm(const float *A, const float *B, float *C, int M, int N, int K) {
  float *dA, *dB, *dC;
  cudaMalloc(&dA, M * K * sizeof(float));
  cudaMalloc(&dB, K * N * sizeof(float));
  cudaMalloc(&dC, M * N * sizeof(float));
  cudaMemcpy(dA, A, M * K * sizeof(float), cudaMemcpyHostToDevice);
  cudaMemcpy(dB, B, K * N * sizeof(float), cudaMemcpyHostToDevice);
  gemm_tiles<<<dim3((N + TX - 1) / TX, (M + TY - 1) / TY), dim3(TX, TY)>>>(dA, dB, dC, M, N, K);
  cudaMemcpy(C, dC, M * N * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(dA);
  cudaFree(dB);
  cudaFree(dC);
}
"""


def test_a_tiled_gemm_translated_from_cuda_is_jammed_and_computes_the_product():
    code = xpiler.translate(TILED_GEMM, to="vnni", source="cuda")
    assert "(int)blockDim.y - threadIdx_y >= 4; threadIdx_y += 4) {" in code
    rng = np.random.default_rng(11)
    for m, n, k in [(13, 37, 50), (30, 16, 16)]:
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        c = np.full((m, n), np.nan, np.float32)
        xpiler.run(code, [a, b, c, m, n, k], entry="gemm", lang="vnni")
        np.testing.assert_allclose(c, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4)
