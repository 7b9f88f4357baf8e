"""Warp-structured thread loops on the CPU: a phase that takes the lane apart by warps (``x >> 5``,
``x & 31``) runs in strips of one warp, whose warp-wide values are computed once per strip; the steps
of a thread's strided share that every lane takes run unmasked; a phase no thread can have returned
before does not test the alive flag; a thread's ``return`` that clears its flag is read as an
``if / else``."""

from __future__ import annotations

import numpy as np
import pytest

import xpiler

# one warp per row, four floats per load, a shuffle tree; rows past M return before the shuffles
GEMV_WARP_ROWS = """
#include <cuda_runtime.h>
struct f4 { float x, y, z, w; };
__global__ void gemv_warp(const float *A, const float *x, float *y, int M, int K) {
  int lane = threadIdx.x & 31;
  int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
  if (row >= M) return;
  const f4 *a4 = reinterpret_cast<const f4 *>(A + (size_t)row * K);
  const f4 *x4 = reinterpret_cast<const f4 *>(x);
  float sum = 0.0f;
  for (int i = lane; i < K / 4; i += 32) {
    f4 a = a4[i], b = x4[i];
    sum += a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w;
  }
  for (int off = 16; off > 0; off >>= 1) sum += __shfl_down_sync(0xffffffff, sum, off);
  if (lane == 0) y[row] = sum;
}
extern "C" void gemv(const float *A, const float *x, float *y, int M, int K, int warps) {
  float *dA, *dx, *dy;
  cudaMalloc(&dA, (size_t)M * K * sizeof(float));
  cudaMalloc(&dx, K * sizeof(float));
  cudaMalloc(&dy, M * sizeof(float));
  cudaMemcpy(dA, A, (size_t)M * K * sizeof(float), cudaMemcpyHostToDevice);
  cudaMemcpy(dx, x, K * sizeof(float), cudaMemcpyHostToDevice);
  gemv_warp<<<(M + warps - 1) / warps, warps * 32>>>(dA, dx, dy, M, K);
  cudaMemcpy(y, dy, M * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(dA);
  cudaFree(dx);
  cudaFree(dy);
}
"""


@pytest.fixture(scope="module")
def gemv_code():
    return xpiler.translate(GEMV_WARP_ROWS, to="vnni", source="cuda")


def _first_phase(code: str) -> str:
    return code[code.index("__alive[__tid] = true;"):code.index("for (int off = 16")]


def test_a_warp_per_row_phase_runs_in_strips_of_one_warp_with_its_row_computed_once(gemv_code):
    phase = _first_phase(gemv_code)
    assert "__xp_strip += 32) {" in phase
    # the row is the strip's (x >> 5 of a strip starting at a multiple of 32), a warp returns whole
    assert "int row = (unsigned)blockIdx_x * (blockDim.x >> 5) + ((unsigned)__xp_strip >> 5);\n" in phase
    assert "if (!(row >= M)) {" in phase
    # the lane within the warp is x - strip (x & 31), affine in the lane for gcc
    assert "int lane = (unsigned)(threadIdx_x - __xp_strip);" in phase
    # the flag is set where the source returned: in the else branch, for every lane of the strip
    assert phase.count("__alive[__tid] = false;") == 1
    # no thread has returned before this phase: its statements are not masked by the flag
    assert "if (__alive[__tid])" not in phase


def test_the_steps_every_lane_takes_run_unmasked_counting_in_int(gemv_code):
    phase = _first_phase(gemv_code)
    assert "#pragma omp simd reduction(min: __xp_trips_min)" in phase
    # m * 32 fits an int in the unmasked steps
    assert "if (__xp_trips_min > 2147483647 / 32)\n" in phase
    unmasked = phase[phase.index("for (long long __xp_i_step = 0; __xp_i_step < __xp_trips_min;"):
                     phase.index("for (long long __xp_i_step = __xp_trips_min; __xp_i_step < __xp_trips_max;")]
    assert "const int i = lane + (int)(__xp_i_step * 32);" in unmasked
    assert "__xp_trips[__xp_lane]" not in unmasked
    masked = phase[phase.index("for (long long __xp_i_step = __xp_trips_min;"):]
    assert "if (__xp_i_step < __xp_trips[__xp_lane]) {" in masked
    assert "const int i = (int)((long long)lane + __xp_i_step * 32);" in masked


@pytest.mark.parametrize("M, K, warps", [(37, 4 * 75, 8), (16, 128, 4), (5, 4 * 33, 3), (9, 4, 2)])
def test_the_warp_rows_gemv_computes_the_product(gemv_code, M, K, warps):
    # rows past M (their warps return), K / 4 not a multiple of 32 (lanes with one step fewer),
    # fewer columns than lanes, and blocks of 3 warps (strips of 32 lanes across a 96-thread block)
    rng = np.random.default_rng(M * K)
    A = rng.standard_normal((M, K)).astype(np.float32)
    x = rng.standard_normal(K).astype(np.float32)
    y = np.full(M, np.nan, np.float32)
    xpiler.run(gemv_code, [A, x, y, M, K, warps], entry="gemv", lang="vnni")
    np.testing.assert_allclose(y, A.astype(np.float64) @ x, rtol=1e-5, atol=1e-4)


# a thread's share of a row under its own condition, the share's bound a division by an argument
DIVIDED_SHARE = """
#include <cuda_runtime.h>
__global__ void shares(const float *x, float *y, int n, int d, int active) {
  int t = threadIdx.x;
  float s = 0.0f;
  if (t < active) {
    for (int i = t; i < n / d; i += 64) s += x[i];
    for (int j = t; j < n / 4; j += 64) s += 2.0f * x[j];
  }
  y[t] = s;
}
extern "C" void run(const float *x, float *y, int n, int d, int active) {
  float *dx, *dy;
  cudaMalloc(&dx, n * sizeof(float));
  cudaMalloc(&dy, 64 * sizeof(float));
  cudaMemcpy(dx, x, n * sizeof(float), cudaMemcpyHostToDevice);
  shares<<<1, 64>>>(dx, dy, n, d, active);
  cudaMemcpy(y, dy, 64 * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(dx);
  cudaFree(dy);
}
"""


def test_a_loop_bound_dividing_by_a_constant_is_sunk_under_a_lanes_condition_by_a_variable_not():
    code = xpiler.translate(DIVIDED_SHARE, to="vnni", source="cuda")
    x = np.random.default_rng(3).standard_normal(300).astype(np.float32)

    def expect(d, active):
        y = np.zeros(64, np.float64)
        for t in range(active):
            y[t] = x[t:300 // d:64].sum() + 2 * x[t:300 // 4:64].sum()
        return y

    for d, active in ((3, 40), (0, 0)):   # d = 0: no lane divides, the program must not either
        y = np.full(64, np.nan, np.float32)
        xpiler.run(code, [x, y, 300, d, active], entry="run", lang="vnni")
        np.testing.assert_allclose(y, expect(d, active), rtol=1e-5, atol=1e-5)
    # n / d in a loop header under the lane's condition keeps the lanes outside (it may trap)
    assert "__xp_strip" not in code
    constant = xpiler.translate(DIVIDED_SHARE.replace("i < n / d;", "i < n / 2;"), to="vnni", source="cuda")
    assert "__xp_strip" in constant and "__xp_mask" in constant


def test_the_suites_warp_programs_into_vnni_compute_their_references():
    from xpiler import suite
    names = {"gemv_warp_rows.cu", "layernorm_shfl_down.cu", "softmax_warp_xor.cu"}
    entries = [e for e in suite.load_manifest("cuda") if e.file in names]
    entries += [e for e in suite.load_manifest("hip") if e.file in {"gemv_wave.hip", "rmsnorm_wave.hip"}]
    assert len({e.file for e in entries}) == 5
    for e in entries:
        code = xpiler.translate(e.source, to="vnni", source=e.dialect, launch=e.launch)
        assert "bool __" not in code, e.id   # flags kept across barriers are bytes (byte-flags)
        result = suite.check_program(e, "vnni", src=code)
        assert result.passed, (e.id, result.summary())


# two 64-lane groups per block, a row each; lanes take columns d = lane, lane + 64, ... of their row,
# each summing a column of V over a row of P through a pointer of its own
ROWS_BY_GROUPS = """
#include <cuda_runtime.h>
__global__ void rows(const float *P, const float *V, float *O, int L, int D) {
  const int lane = threadIdx.x % 64, r = threadIdx.x / 64;
  const int row = blockIdx.x * 2 + r;
  if (row >= L) return;
  for (int d = lane; d < D; d += 64) {
    const float *col = V + d;
    float acc = 0.0f;
    for (int j = 0; j < L; ++j) acc += P[row * L + j] * col[j * D];
    O[row * D + d] = acc;
  }
}
extern "C" void run(const float *P, const float *V, float *O, int L, int D) {
  float *dp, *dv, *dout;
  cudaMalloc(&dp, L * L * sizeof(float));
  cudaMalloc(&dv, L * D * sizeof(float));
  cudaMalloc(&dout, L * D * sizeof(float));
  cudaMemcpy(dp, P, L * L * sizeof(float), cudaMemcpyHostToDevice);
  cudaMemcpy(dv, V, L * D * sizeof(float), cudaMemcpyHostToDevice);
  rows<<<(L + 1) / 2, 128>>>(dp, dv, dout, L, D);
  cudaMemcpy(O, dout, L * D * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(dp);
  cudaFree(dv);
  cudaFree(dout);
}
"""


def test_lanes_of_one_group_writing_their_own_columns_are_independent_within_a_strip():
    # over the whole x loop, lanes x and x + 64 may write the same column (O[row * D + d], d = x % 64
    # + 64 k): the lanes are proven independent in a strip of one group, and sunk there
    code = xpiler.translate(ROWS_BY_GROUPS, to="vnni", source="cuda")
    assert "__xp_strip += 64) {" in code
    assert "const int r = (unsigned)__xp_strip / 64;" in code
    # a pointer of each lane kept across the sunk j loop is an array of pointers to const
    assert "const float *col[64];" in code
    # the lanes with a column are the first ones (D = 32: half the strip): the unmasked steps run them
    assert "for (int __xp_lane = 0; __xp_lane < __xp_lanes_on; ++__xp_lane) {" in code
    rng = np.random.default_rng(11)
    for L, D in ((5, 32), (6, 64), (3, 100), (4, 1)):
        P = rng.standard_normal((L, L)).astype(np.float32)
        V = rng.standard_normal((L, D)).astype(np.float32)
        O = np.full((L, D), np.nan, np.float32)
        xpiler.run(code, [P, V, O, L, D], entry="run", lang="vnni")
        np.testing.assert_allclose(O, P.astype(np.float64) @ V, rtol=1e-5, atol=1e-5)


# a block of 128 threads, each taking rows j = x, x + 128, ... of its batch (x staged in shared
# memory, D <= 64): rows are written by one lane each only if the block has at most 128 threads,
# which the kernel cannot know
SHARES = """
#include <cuda_runtime.h>
#define THREADS 128
__global__ void rows(const float *A, const float *x, float *y, int L, int D) {
  __shared__ float xs[64];
  const float *a = A + (size_t)blockIdx.x * L * D;
  for (int d = threadIdx.x; d < D; d += THREADS) xs[d] = x[d];
  __syncthreads();
  for (int j = threadIdx.x; j < L; j += THREADS) {
    float s = 0.0f;
    for (int d = 0; d < D; ++d) s += a[j * D + d] * xs[d];
    y[blockIdx.x * L + j] = s;
  }
}
extern "C" void run(const float *A, const float *x, float *y, int B, int L, int D) {
  float *dA, *dx, *dy;
  cudaMalloc(&dA, B * L * D * sizeof(float));
  cudaMalloc(&dx, D * sizeof(float));
  cudaMalloc(&dy, B * L * sizeof(float));
  cudaMemcpy(dA, A, B * L * D * sizeof(float), cudaMemcpyHostToDevice);
  cudaMemcpy(dx, x, D * sizeof(float), cudaMemcpyHostToDevice);
  rows<<<B, THREADS>>>(dA, dx, dy, L, D);
  cudaMemcpy(y, dy, B * L * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(dA);
  cudaFree(dx);
  cudaFree(dy);
}
"""


def test_a_threads_share_with_a_loop_per_step_is_sunk_where_one_strips_lanes_are_independent():
    # lanes x and x + 128 would write the same row: the whole thread loop is not independent, the
    # 64 lanes of a strip are (they differ by less than the stride)
    code = xpiler.translate(SHARES, to="vnni", source="cuda")
    assert "__xp_strip += 64) {" in code and "#pragma omp simd reduction(max: __xp_trips_max)" in code
    rng = np.random.default_rng(12)
    for B, L, D in ((2, 300, 17), (3, 128, 8), (1, 5, 1)):
        A = rng.standard_normal((B, L, D)).astype(np.float32)
        x = rng.standard_normal(D).astype(np.float32)
        y = np.full((B, L), np.nan, np.float32)
        xpiler.run(code, [A, x, y, B, L, D], entry="run", lang="vnni")
        np.testing.assert_allclose(y, A.astype(np.float64) @ x, rtol=1e-5, atol=1e-5)
