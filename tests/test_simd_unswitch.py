"""``simd-unswitch``: a SIMD loop is versioned on the leading conditions its lanes share (a tile row
inside the matrix), so that in the common version the lanes test only what differs between them."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

import xpiler
from xpiler.passes.base import PassError
from xpiler.passes.registry import pipeline


def transform(src: str) -> str:
    module = xpiler.lift(textwrap.dedent(src).lstrip("\n"), source="vnni")
    for p in pipeline("simd-unswitch"):
        module = p.apply(module)
    return xpiler.emit(module, "vnni")


def unchanged(src: str) -> str:
    return xpiler.emit(xpiler.lift(textwrap.dedent(src).lstrip("\n"), source="vnni"), "vnni")


def test_the_shared_prefix_of_each_condition_becomes_the_version_test():
    code = transform("""
        void load(const float *A, float *T, int M, int K, int by, int ty, int n) {
        #pragma omp simd
          for (int tx = 0; tx < n; ++tx) {
            int row = by * 16 + ty;
            int col = tx;
            T[tx] = (row < M && col < K) ? A[row * K + col] : 0.0f;
            if (row + 1 < M && col < K)
              T[n + tx] = A[(row + 1) * K + col];
          }
        }
        """)
    assert code == textwrap.dedent("""\
        void load(const float *A, float *T, int M, int K, int by, int ty, int n) {
          if (0 < n && by * 16 + ty < M && by * 16 + ty + 1 < M) {
        #pragma omp simd
            for (int tx = 0; tx < n; ++tx) {
              int row = by * 16 + ty;
              int col = tx;
              T[tx] = col < K ? A[row * K + col] : 0.0f;
              if (col < K)
                T[n + tx] = A[(row + 1) * K + col];
            }
          } else {
        #pragma omp simd
            for (int tx = 0; tx < n; ++tx) {
              int row = by * 16 + ty;
              int col = tx;
              T[tx] = (row < M && col < K) ? A[row * K + col] : 0.0f;
              if (row + 1 < M && col < K)
                T[n + tx] = A[(row + 1) * K + col];
            }
          }
        }
        """)


def test_a_wholly_shared_condition_leaves_its_branch_or_keeps_the_type_of_its_choice():
    code = transform("""
        void f(const float *a, double *b, int m, int r, int n) {
        #pragma omp simd
          for (int i = 0; i < n; ++i) {
            b[i] = r < m ? a[r * n + i] : 0.0;
            if (r < m) {
              b[n + i] = 1.0;
            }
          }
        }
        """)
    fast = code.split("} else {")[0]
    assert "  if (0 < n && r < m) {" in fast
    assert "b[i] = 1 ? a[r * n + i] : 0.0;" in fast  # still a double, as `r < m ? float : double` is
    assert "if (" not in fast.split("if (0 < n && r < m) {")[1]


def test_what_is_not_shared_or_not_evaluated_every_time_stays_in_the_lanes():
    src = """
        void f(const float *a, float *b, const int *flag, int m, int r, int n) {
        #pragma omp simd
          for (int i = 0; i < n; ++i) {
            int s = r;
            s += 1;
            b[i] = (i < m && r < m) ? a[i] : 0.0f;
            b[n + i] = (flag[0] > 0 && r < m) ? a[i] : 0.0f;
            b[2 * n + i] = (s < m && r < m) ? a[i] : 0.0f;
            b[3 * n + i] = i > 2 ? (r < m ? a[i] : 0.0f) : 0.0f;
          }
        }
        """
    # a lane's own test first (its second term is not evaluated when the first fails), a load from
    # memory, a local the loop assigns, a condition under another one: none of them is hoisted
    assert transform(src) == unchanged(src)


def test_a_comparison_under_a_lanes_condition_is_hoisted_arithmetic_is_not():
    # a padded convolution's row test sits under the lane's own mask: a comparison is defined for
    # every value, so it may be evaluated before the loop; `r / d > 0` may divide by zero
    code = transform("""
        void f(const float *x, float *acc, int H, int r, int d, int n) {
        #pragma omp simd
          for (int i = 0; i < n; ++i) {
            int ih = r - 1;
            if (i % 3 != 0) {
              if (ih >= 0 && ih < H && i < H)
                acc[i] += x[ih * n + i];
              if (r / d > 0 && i < H)
                acc[i] += 1.0f;
            }
          }
        }
        """)
    assert "  if (0 < n && r - 1 >= 0 && r - 1 < H) {" in code
    fast = code.split("} else {")[0]
    assert "if (i < H)\n          acc[i] += x[ih * n + i];" in fast
    assert "if (r / d > 0 && i < H)" in fast


def test_conditions_after_a_jump_are_not_hoisted():
    code = transform("""
        void f(const float *a, float *b, int m, int r, int n) {
        #pragma omp simd
          for (int i = 0; i < n; ++i) {
            if (a[i] < 0.0f) continue;
            b[i] = r < m ? a[i] : 0.0f;
          }
        }
        """)
    assert code == unchanged(code)


def test_the_pass_applies_to_c_programs_only():
    module = xpiler.lift("__global__ void k(float *a) { a[threadIdx.x] = 0.0f; }", source="cuda")
    with pytest.raises(PassError, match="simd-unswitch applies to C \\(vnni\\) programs, not cuda"):
        pipeline("simd-unswitch")[0].apply(module)


# Rows of A copied into 16-row tiles of T, zero past the matrix: each thread row tests its row,
# which all lanes of the row share, and its column.
TILE_ROWS = """
__global__ void tile_rows(const float *A, float *T, int M, int K) {
  int row = blockIdx.y * 16 + threadIdx.y;
  int col = blockIdx.x * 16 + threadIdx.x;
  T[(blockIdx.y * 16 + threadIdx.y) * (gridDim.x * 16) + col] = (row < M && col < K) ? A[row * K + col] : 0.0f;
}
extern "C" void tiles(const float *A, float *T, int M, int K) {
  float *dA, *dT;
  int Mp = (M + 15) / 16 * 16, Kp = (K + 15) / 16 * 16;
  cudaMalloc(&dA, M * K * sizeof(float));
  cudaMalloc(&dT, Mp * Kp * sizeof(float));
  cudaMemcpy(dA, A, M * K * sizeof(float), cudaMemcpyHostToDevice);
  tile_rows<<<dim3(Kp / 16, Mp / 16), dim3(16, 16)>>>(dA, dT, M, K);
  cudaMemcpy(T, dT, Mp * Kp * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(dA);
  cudaFree(dT);
}
"""


def test_a_padded_tile_copy_runs_both_versions_and_computes_what_the_source_does():
    code = xpiler.translate(TILE_ROWS, to="vnni", source="cuda")
    # the row test, once per row of the tile (with the row's value as a signed int, as `row` has it);
    # the block size spelled out (blockIdx.y * 16 + threadIdx.y) joins the grid's axes where the
    # launch has 16 x 16 threads
    assert "(unsigned long long)blockDim.y == 16u && (unsigned long long)blockDim.x == 16u" in code
    assert "if (0 < (int)((unsigned long long)gridDim.x * 16) && (int)(unsigned)__xp_global_y < M) {" in code
    assert "= col < K ? A[(long long)(row * K) + col] : 0.0f;" in code
    a = np.random.default_rng(5).standard_normal((21, 35)).astype(np.float32)
    t = np.full((32, 48), np.nan, np.float32)
    xpiler.run(code, [a, t, 21, 35], entry="tiles", lang="vnni")
    expected = np.zeros((32, 48), np.float32)
    expected[:21, :35] = a
    np.testing.assert_array_equal(t, expected)
