"""Rows that are reduced and mapped run one block per row, their reductions over the block's threads.

A program in (C or vector code, one row per OpenMP iteration), CUDA out: the shape of the reduction
where it matters, and the numbers (the CUDA run in the emulation) against numpy.
"""

import numpy as np
import pytest

import xpiler
from xpiler.suite import suite_dir

RMSNORM = """#include <cmath>
extern "C" void rmsnorm(const float *x, float *y, int rows, int cols) {
  #pragma omp parallel for
  for (int r = 0; r < rows; ++r) {
    float ss = 0.0f;
    for (int j = 0; j < cols; ++j) ss += x[r * cols + j] * x[r * cols + j];
    float scale = 1.0f / sqrtf(ss / cols + 1e-5f);
    for (int j = 0; j < cols; ++j) y[r * cols + j] = x[r * cols + j] * scale;
  }
}"""

# AVX-512: one partial per lane (ss[i]), then a horizontal sum
RMSNORM_LANES = """#include <immintrin.h>
#include <cmath>
extern "C" void rmsnorm(const float *x, float *y, int rows, int cols) {   // cols % 16 == 0
  #pragma omp parallel for
  for (int r = 0; r < rows; ++r) {
    __m512 ss = _mm512_setzero_ps();
    for (int j = 0; j < cols; j += 16) {
      __m512 v = _mm512_loadu_ps(x + r * cols + j);
      ss = _mm512_fmadd_ps(v, v, ss);
    }
    __m512 scale = _mm512_set1_ps(1.0f / sqrtf(_mm512_reduce_add_ps(ss) / cols + 1e-5f));
    for (int j = 0; j < cols; j += 16)
      _mm512_storeu_ps(y + r * cols + j, _mm512_mul_ps(_mm512_loadu_ps(x + r * cols + j), scale));
  }
}"""

ROW_MAX = """#include <cmath>
extern "C" void shift(const float *x, float *y, int rows, int cols) {
  #pragma omp parallel for
  for (int r = 0; r < rows; ++r) {
    float m = -INFINITY;
    for (int j = 0; j < cols; ++j) m = fmaxf(m, x[r * cols + j]);
    for (int j = 0; j < cols; ++j) y[r * cols + j] = x[r * cols + j] - m;
  }
}"""

# the running sum is read inside the loop (an exclusive scan): not a reduction
ROW_SCAN = """extern "C" void scan(const float *x, float *y, int rows, int cols) {
  #pragma omp parallel for
  for (int r = 0; r < rows; ++r) {
    float s = 0.0f;
    for (int j = 0; j < cols; ++j) { y[r * cols + j] = s; s += x[r * cols + j]; }
    for (int j = 0; j < cols; ++j) y[r * cols + j] = y[r * cols + j] * 2.0f;
  }
}"""

GEMM = """extern "C" void gemm(const float *A, const float *B, float *C, int M, int N, int K) {
  #pragma omp parallel for collapse(2)
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float acc = 0.0f;
      for (int k = 0; k < K; ++k) acc += A[i * K + k] * B[k * N + j];
      C[i * N + j] = acc;
    }
}"""


def rmsnorm(x):
    return x / np.sqrt((x.astype(np.float64) ** 2).mean(axis=1, keepdims=True) + 1e-5)


def run(code, entry, x, rows, cols):
    y = np.zeros_like(x)
    xpiler.run(code, [x.ravel(), y.ravel(), rows, cols], entry=entry, lang="cuda", backend="emulate")
    return y


def test_a_row_sum_is_a_tree_over_the_blocks_threads():
    code = xpiler.translate(RMSNORM, to="cuda", source="vnni")
    kernel = code.split('extern "C"')[0]
    assert "for (long long __xp_b = (long long)blockIdx.x; __xp_b < rows; __xp_b += gridDim.x)" in kernel
    assert "__shared__ float __xp_red[256];" in kernel
    assert "__xp_part += x[r * cols + j] * x[r * cols + j];" in kernel
    assert "for (int __xp_w = 128; __xp_w >= 1; __xp_w /= 2)" in kernel
    assert "ss = ss + __xp_red[0];" in kernel                     # every thread: the row's sum
    for rows, cols in ((3, 1000), (5, 7), (2, 256)):
        x = np.random.rand(rows, cols).astype(np.float32)
        np.testing.assert_allclose(run(code, "rmsnorm", x, rows, cols), rmsnorm(x), rtol=1e-5, atol=1e-6)


def test_lane_partials_stop_the_tree_at_one_partial_per_lane():
    code = xpiler.translate(RMSNORM_LANES, to="cuda", source="vnni")
    kernel = code.split('extern "C"')[0]
    assert "for (int __xp_w = 128; __xp_w >= 16; __xp_w /= 2)" in kernel
    assert "if (threadIdx.x < 16) {" in kernel and "int i = (int)(__xp_t % 16);" in kernel
    for rows, cols in ((3, 1024), (4, 48)):
        x = np.random.rand(rows, cols).astype(np.float32)
        np.testing.assert_allclose(run(code, "rmsnorm", x, rows, cols), rmsnorm(x), rtol=1e-5, atol=1e-6)


def test_a_row_maximum_starts_from_minus_infinity_and_is_exact():
    code = xpiler.translate(ROW_MAX, to="cuda", source="vnni")
    assert "float __xp_part = -INFINITY;" in code and "m = fmaxf(m, __xp_red[0]);" in code
    x = (np.random.rand(4, 333).astype(np.float32) - 2.0)          # all negative: 0 would be wrong
    np.testing.assert_array_equal(run(code, "shift", x, 4, 333), x - x.max(axis=1, keepdims=True))


def test_a_running_sum_read_in_the_loop_is_not_a_reduction():
    code = xpiler.translate(ROW_SCAN, to="cuda", source="vnni")
    assert "__xp_red" not in code
    x = np.random.rand(3, 50).astype(np.float32)
    expected = 2.0 * (np.cumsum(x, axis=1) - x)
    np.testing.assert_allclose(run(code, "scan", x, 3, 50), expected, rtol=1e-5)


def test_a_gemm_keeps_one_thread_per_output():
    # its reduction is the whole body (no row to map): one thread per output reads B coalesced
    code = xpiler.translate(GEMM, to="cuda", source="vnni")
    assert "__xp_red" not in code and "blockIdx.x * blockDim.x" in code


GEMV = """extern "C" void gemv(const float *A, const float *x, float *y, int M, int K) {
  #pragma omp parallel for
  for (int i = 0; i < M; ++i) {
    float acc = 0.0f;
    for (int k = 0; k < K; ++k) acc += A[i * K + k] * x[k];
    y[i] = acc;
  }
}"""

# AVX-512, the row through a pointer, two accumulators and a masked tail
GEMV_LANES = (suite_dir() / "vnni" / "gemv_avx512_tail.cpp").read_text()


def gemv(code, M, K, entry="gemv"):
    A = np.random.rand(M, K).astype(np.float32) - 0.5
    x = np.random.rand(K).astype(np.float32) - 0.5
    y = np.zeros(M, np.float32)
    xpiler.run(code, [A.ravel(), x, y, M, K], entry=entry, lang="cuda", backend="emulate")
    return y, A.astype(np.float64) @ x.astype(np.float64)


@pytest.mark.parametrize("source, entry", [(GEMV, "gemv"), (GEMV_LANES, "sgemv")], ids=["scalar", "lanes"])
def test_a_gemv_of_few_long_rows_reduces_each_row_in_a_block_chosen_when_the_kernel_runs(source, entry):
    # one thread per row: the warp's 32 threads read 32 rows K floats apart and rows are often too few
    # to fill the GPU; a block per row pays while rows * (K / 256 + 16) < 1024 * K (sizes known only
    # at the call: both versions, the same test in the kernel and for its grid)
    code = xpiler.translate(source, to="cuda", source="vnni")
    kernel, host = code.split('extern "C"')
    block = "for (long long __xp_b = (long long)blockIdx.x; __xp_b < M; __xp_b += gridDim.x)"
    flat = "for (long long __xp_f = ((long long)blockIdx.x * blockDim.x) + threadIdx.x; __xp_f < M;"
    assert "if (((long long)M * (((long long)" in kernel and "< (1024 * (long long)" in kernel
    assert kernel.index(block) < kernel.index("} else {") < kernel.index(flat) and "__xp_red" in kernel
    assert "? M : (M + 255) / 256" in host
    for M, K in ((5, 1000), (3, 37), (2, 4096), (1100, 37), (600, 8)):   # the last two: a thread per row
        y, expected = gemv(code, M, K, entry)
        np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)


def test_a_gemv_of_known_sizes_is_decided_before_the_call():
    few_long = GEMV.replace("int M, int K) {", "int M_, int K_) {\n  const int M = 112, K = 128;")
    code = xpiler.translate(few_long, to="cuda", source="vnni").split('extern "C"')[0]
    assert "__xp_b < 112" in code and "blockIdx.x * blockDim.x" not in code
    many_short = GEMV.replace("int M, int K) {", "int M_, int K_) {\n  const int M = 100000, K = 64;")
    code = xpiler.translate(many_short, to="cuda", source="vnni").split('extern "C"')[0]
    assert "__xp_red" not in code and "blockIdx.x * blockDim.x" in code


@pytest.mark.parametrize("target", ["hip"])
def test_hip_reduces_the_same_way(target):
    code = xpiler.translate(RMSNORM, to=target, source="vnni")
    assert "__shared__ float __xp_red[256];" in code
    x = np.random.rand(3, 300).astype(np.float32)
    y = np.zeros_like(x)
    xpiler.run(code, [x.ravel(), y.ravel(), 3, 300], entry="rmsnorm", lang=target, backend="emulate")
    np.testing.assert_allclose(y, rmsnorm(x), rtol=1e-5, atol=1e-6)


# per row: q = p / sum(p), then o[d] = sum_j q[j] * v[j][d], the j loop around the d loop
WEIGHTED_ROWS = """extern "C" void weighted(const float *p, const float *v, float *q, float *o, int rows, int L, int D) {
  #pragma omp parallel for
  for (int r = 0; r < rows; ++r) {
    float s = 0.0f;
    for (int j = 0; j < L; ++j) s += p[r * L + j];
    for (int j = 0; j < L; ++j) q[r * L + j] = p[r * L + j] / s;
    for (int d = 0; d < D; ++d) o[r * D + d] = 0.0f;
    for (int j = 1; j < L; ++j)
      for (int d = 0; d < D; ++d) o[r * D + d] += q[r * L + j] * v[j * D + d];
  }
}"""


def test_a_serial_loop_around_an_independent_loop_is_interchanged_no_barrier_per_iteration():
    code = xpiler.translate(WEIGHTED_ROWS, to="cuda", source="vnni")
    kernel = code.split('extern "C"')[0]
    assert "for (int d = (int)threadIdx.x; d < D; d += blockDim.x) {\n      for (int j = 1; j < L; ++j)" in kernel
    rows, L, D = 3, 70, 40
    p, v = np.random.rand(rows, L).astype(np.float32), np.random.rand(L, D).astype(np.float32)
    q, o = np.zeros((rows, L), np.float32), np.zeros((rows, D), np.float32)
    xpiler.run(code, [p, v, q, o, rows, L, D], entry="weighted", lang="cuda", backend="emulate")
    want = p / p.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(q, want, rtol=1e-5)
    np.testing.assert_allclose(o, want[:, 1:] @ v[1:], rtol=1e-5)


def test_the_few_rows_of_a_tile_are_reduced_one_after_another_by_the_whole_block():
    # BANG rmsnorm over row tiles (rmsnorm_host.mlu): a unit holds a tile of up to TILE / cols rows.
    # One thread per row would walk 4096 columns alone; each row is reduced by all the threads instead.
    from xpiler import suite
    code = xpiler.translate((suite.suite_dir() / "bang" / "rmsnorm_host.mlu").read_text(), to="cuda", source="bang")
    kernel = code.split('extern "C"')[0]
    assert "for (int i = 0; i < nr; ++i) {" in kernel and "for (int i = (int)threadIdx.x; i < nr;" not in kernel
    assert "__xp_part += (double)sq[i * cols + i_1];" in kernel
    rows, cols = 37, 1000
    x, gamma = np.random.rand(rows, cols).astype(np.float32), np.random.rand(cols).astype(np.float32)
    y = np.zeros_like(x)
    xpiler.run(code, [x, gamma, y, rows, cols], entry="rmsnorm", lang="cuda", backend="emulate")
    np.testing.assert_allclose(y, rmsnorm(x) * gamma, rtol=1e-5, atol=1e-6)


def test_rows_of_a_tile_counted_at_run_time_choose_in_turn_or_over_the_threads_at_run_time():
    # BANG GEMV over row tiles of W_FLOATS / K rows (gemv_mlp_tiled.mlu): neither the rows of a tile
    # nor the row length K are known before the call; long rows run in turn, each reduced by the
    # block, and many short ones run one per thread
    from xpiler import suite
    code = xpiler.translate((suite.suite_dir() / "bang" / "gemv_mlp_tiled.mlu").read_text(), to="cuda", source="bang")
    kernel = code.split('extern "C"')[0]
    assert "if (((long long)nr * ((K / 256) + 18)) < K) {\n          for (int h = 0; h < nr; ++h) {" in kernel
    assert "} else {\n          for (int h = (int)threadIdx.x; h < nr; h += blockDim.x) {" in kernel
    for M, K in ((512, 4096), (4000, 16)):     # 16 rows of 4096 in turn; 250 rows of 16 over the threads
        A, x = np.random.rand(M, K).astype(np.float32), np.random.rand(K).astype(np.float32)
        y = np.zeros(M, np.float32)
        xpiler.run(code, [A, x, y, M, K], entry="gemv_tiled_kernel", lang="cuda", backend="emulate")
        np.testing.assert_allclose(y, A.astype(np.float64) @ x.astype(np.float64), rtol=1e-5)
