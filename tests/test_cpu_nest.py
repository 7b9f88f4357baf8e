"""CUDA/HIP translated to the CPU (vnni target): the recovered block x thread nest becomes a SIMD nest
(``simd_nest``), and device mirrors give way to the caller's arrays (``elide-mirrors``)."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

import xpiler
from xpiler.oracle.build import VNNI_FLAGS
from xpiler.passes.registry import pipeline

SIGN_2D = """
__global__ void sign_kernel(const float *A, float *out, int rows, int cols) {
  int col = blockIdx.x * blockDim.x + threadIdx.x;
  int row = blockIdx.y * blockDim.y + threadIdx.y;
  if (row < rows && col < cols) {
    float v = A[row * cols + col];
    out[row * cols + col] = v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : 0.0f);
  }
}
extern "C" void sign(const float *A, float *out, int rows, int cols) {
  float *d_A, *d_out;
  size_t size = (size_t)rows * cols * sizeof(float);
  cudaMalloc(&d_A, size);
  cudaMalloc(&d_out, size);
  cudaMemcpy(d_A, A, size, cudaMemcpyHostToDevice);
  dim3 block(32, 8);
  dim3 grid((cols + block.x - 1) / block.x, (rows + block.y - 1) / block.y);
  sign_kernel<<<grid, block>>>(d_A, d_out, rows, cols);
  cudaMemcpy(out, d_out, size, cudaMemcpyDeviceToHost);
  cudaFree(d_A);
  cudaFree(d_out);
}
"""

# out[i] reads in[i - 1]: run in place (out == in) with the caller's arrays directly, an ascending loop
# would read what it has just written.
PREFIX_PAIRS = """
__global__ void pairs(const float *in, float *out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  out[i] = in[i] + (i > 0 ? in[i - 1] : 0.0f);
}
extern "C" void prefix_pairs(const float *in, float *out, int n) {
  float *d_in, *d_out;
  cudaMalloc(&d_in, n * sizeof(float));
  cudaMalloc(&d_out, n * sizeof(float));
  cudaMemcpy(d_in, in, n * sizeof(float), cudaMemcpyHostToDevice);
  pairs<<<(n + 127) / 128, 128>>>(d_in, d_out, n);
  cudaMemcpy(out, d_out, n * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(d_in);
  cudaFree(d_out);
}
"""


def test_a_2d_grid_becomes_a_parallel_row_loop_around_a_simd_column_loop():
    code = xpiler.translate(SIGN_2D, to="vnni", source="cuda")
    # the block and thread loop of each axis are joined into the axis's global index
    assert "for (int __xp_global_y = 0; __xp_global_y < (int)((unsigned long long)gridDim.y * blockDim.y);" in code
    # the guard `col < cols` is the SIMD loop's bound; `row < rows` is checked once per row
    assert ("        int row = (unsigned)__xp_global_y;\n"
            "        int __xp_end = (int)((unsigned long long)gridDim.x * blockDim.x);\n"
            "        if (cols < __xp_end)\n"
            "          __xp_end = cols;\n"
            "        if (row < rows) {\n"
            "#pragma omp simd\n"
            "          for (int __xp_global_x = 0; __xp_global_x < __xp_end; ++__xp_global_x) {\n"
            "            int col = (unsigned)__xp_global_x;\n"
            "            float v = A[(long long)(row * cols) + col];\n") in code
    # int counters need the extents to fit in an int; the original nest runs when they do not
    assert "(unsigned long long)gridDim.x * blockDim.x <= 2147483647u" in code
    assert "  } else {\n#pragma omp parallel for collapse(6)\n    for (unsigned blockIdx_z = 0;" in code
    a = np.random.default_rng(0).standard_normal((45, 70)).astype(np.float32)
    a[3, 4] = 0.0
    out = np.zeros_like(a)
    xpiler.run(code, [a, out, 45, 70], entry="sign", lang="vnni")
    np.testing.assert_array_equal(out, np.sign(a))


def test_a_thread_return_is_read_as_the_loop_bound():
    code = xpiler.translate(PREFIX_PAIRS, to="vnni", source="cuda")
    assert ("        int __xp_end = (int)((unsigned long long)gridDim.x * blockDim.x);\n"
            "        if (n < __xp_end)\n          __xp_end = n;\n#pragma omp simd\n"
            "        for (int __xp_global_x = 0; __xp_global_x < __xp_end; ++__xp_global_x) {\n"
            "          int i = (unsigned)__xp_global_x;\n          out[i] = in[i]") in code
    assert "goto __next_simd_thread" not in code and "goto __next_thread0;" in code   # only the original nest jumps


def test_mirrors_are_elided_with_a_runtime_overlap_check_for_written_arrays():
    code = xpiler.translate(SIGN_2D, to="vnni", source="cuda")
    assert "  d_A = (float *)A;\n" in code                         # read only: always the caller's array
    assert ("  int __xp_direct_d_out = ((const char *)out + (size) <= (const char *)A || "
            "(const char *)A + (size) <= (const char *)out);\n"
            "  d_out = __xp_direct_d_out ? (float *)out : (float *)malloc(size);\n") in code
    assert "  if (!__xp_direct_d_out)\n    memcpy(out, d_out, size);\n  if (!__xp_direct_d_out)\n    free(d_out);\n" in code
    assert "memcpy(d_A" not in code and "free(d_A)" not in code


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed")
def test_an_in_place_call_keeps_the_mirror_and_computes_what_the_source_does(tmp_path):
    code = xpiler.translate(PREFIX_PAIRS, to="vnni", source="cuda")
    driver = """
#include <stdio.h>
extern "C" void prefix_pairs(const float *in, float *out, int n);
int main() {
  float a[300], b[300];
  for (int i = 0; i < 300; ++i) a[i] = b[i] = (float)(i % 17);
  prefix_pairs(a, a, 300);      /* in place: the arrays overlap */
  prefix_pairs(b, b + 1, 299);  /* shifted overlap */
  for (int i = 0; i < 300; ++i) printf("%g %g\\n", a[i], b[i]);
  return 0;
}
"""
    (tmp_path / "k.cpp").write_text(code)
    (tmp_path / "main.cpp").write_text(driver)
    subprocess.run(["g++", *VNNI_FLAGS, "k.cpp", "main.cpp", "-o", "t"], cwd=tmp_path, check=True,
                   capture_output=True, timeout=120)
    out = subprocess.run(["./t"], cwd=tmp_path, check=True, capture_output=True, text=True, timeout=60).stdout
    got = np.array([[float(v) for v in line.split()] for line in out.splitlines()])
    x = (np.arange(300) % 17).astype(np.float64)
    expect_a = x + np.concatenate([[0.0], x[:-1]])
    expect_b = x.copy()
    expect_b[1:] = x[:299] + np.concatenate([[0.0], x[:298]])
    np.testing.assert_array_equal(got[:, 0], expect_a)
    np.testing.assert_array_equal(got[:, 1], expect_b)


def test_an_input_mirror_the_kernel_writes_is_kept():
    src = """
__global__ void scratch(float *tmp, float *out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) { tmp[i] = tmp[i] * 2.0f; out[i] = tmp[i] + 1.0f; }
}
extern "C" void twice_plus_one(const float *x, float *out, int n) {
  float *d_tmp, *d_out;
  cudaMalloc(&d_tmp, n * sizeof(float));
  cudaMalloc(&d_out, n * sizeof(float));
  cudaMemcpy(d_tmp, x, n * sizeof(float), cudaMemcpyHostToDevice);
  scratch<<<(n + 255) / 256, 256>>>(d_tmp, d_out, n);
  cudaMemcpy(out, d_out, n * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(d_tmp);
  cudaFree(d_out);
}
"""
    code = xpiler.translate(src, to="vnni", source="cuda")
    assert "d_tmp = (float *)malloc(n * sizeof(float));" in code      # the caller's x is const: never written
    assert "memcpy(d_tmp, x, n * sizeof(float));" in code
    x = np.arange(10, dtype=np.float32)
    out = np.zeros_like(x)
    xpiler.run(code, [x, out, 10], entry="twice_plus_one", lang="vnni")
    np.testing.assert_array_equal(out, 2 * np.arange(10, dtype=np.float32) + 1)
    np.testing.assert_array_equal(x, np.arange(10, dtype=np.float32))


def test_a_return_before_the_copy_back_keeps_the_output_mirror():
    src = SIGN_2D.replace("  cudaMemcpy(out, d_out, size, cudaMemcpyDeviceToHost);",
                          "  if (cudaGetLastError() != cudaSuccess || rows > 100000) return;\n"
                          "  cudaMemcpy(out, d_out, size, cudaMemcpyDeviceToHost);")
    code = xpiler.translate(src, to="vnni", source="cuda")
    assert "d_out = (float *)malloc(size);" in code and "memcpy(out, d_out, size);" in code


ROW_SUMS_SHARED = """
#define T 64
__global__ void row_sums(const float *x, float *out, int cols) {
  __shared__ float part[T];
  int row = blockIdx.x;
  float s = 0.0f;
  for (int c = threadIdx.x; c < cols; c += T) s += x[row * cols + c];
  part[threadIdx.x] = s;
  __syncthreads();
  for (int h = T / 2; h > 0; h /= 2) {
    if (threadIdx.x < h) part[threadIdx.x] += part[threadIdx.x + h];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[row] = part[0] + (s - s);   // s lives across the barriers
}
extern "C" void sums(const float *x, float *out, int rows, int cols) {
  float *dx, *dout;
  cudaMalloc(&dx, rows * cols * sizeof(float));
  cudaMalloc(&dout, rows * sizeof(float));
  cudaMemcpy(dx, x, rows * cols * sizeof(float), cudaMemcpyHostToDevice);
  row_sums<<<rows, T>>>(dx, dout, cols);
  cudaMemcpy(out, dout, rows * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(dx);
  cudaFree(dout);
}
"""


def test_thread_loops_between_barriers_are_simd_loops_with_int_indices():
    code = xpiler.translate(ROW_SUMS_SHARED, to="vnni", source="cuda")
    assert "#pragma omp simd\n              for (int threadIdx_x = 0; threadIdx_x < (int)blockDim.x; ++threadIdx_x) {" in code
    # the thread's index into the per-thread arrays is signed when its largest value fits (in 64 bits:
    # wide-subscripts), so that it is affine in threadIdx_x
    assert "long long __tid = (long long)((threadIdx_z * (int)blockDim.y + threadIdx_y) * (int)blockDim.x) + threadIdx_x;" in code
    assert ("(((((double)blockDim.z) * ((double)blockDim.y)) + ((double)blockDim.y)) * ((double)blockDim.x))"
            " + ((double)blockDim.x) <= 2147483647.0") in code
    x = np.random.default_rng(1).standard_normal((7, 300)).astype(np.float32)
    out = np.zeros(7, np.float32)
    xpiler.run(code, [x, out, 7, 300], entry="sums", lang="vnni")
    np.testing.assert_allclose(out, x.sum(axis=1), rtol=1e-5, atol=1e-5)


GELU_GRID_STRIDE = """
__device__ float gelu_tanh(float x) {
  return 0.5f * x * (1.0f + tanhf(0.7978845608f * (x + 0.044715f * x * x * x)));
}
__global__ void gelu_kernel(const float *in, float *out, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)
    out[i] = gelu_tanh(in[i]);
}
extern "C" void gelu(const float *in, float *out, int n) {
  float *d_in, *d_out;
  cudaMalloc(&d_in, n * sizeof(float));
  cudaMalloc(&d_out, n * sizeof(float));
  cudaMemcpy(d_in, in, n * sizeof(float), cudaMemcpyHostToDevice);
  gelu_kernel<<<4, 128>>>(d_in, d_out, n);
  cudaMemcpy(out, d_out, n * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(d_in);
  cudaFree(d_out);
}
"""


def test_a_grid_stride_loop_becomes_one_simd_loop_over_all_elements():
    code = xpiler.translate(GELU_GRID_STRIDE, to="vnni", source="cuda")
    # for g < G: for (i = g; i < n; i += G) visits every i < n once when G > 0 (gelu_tanh is pure)
    assert ("        if ((int)((unsigned long long)gridDim.x * blockDim.x) > 0) {\n#pragma omp simd\n"
            "          for (int i = 0; i < (int)n; ++i) {\n            out[i] = gelu_tanh(in[i]);") in code
    # tanhf vectorises through glibc's libmvec
    assert 'extern "C" float tanhf(float) __attribute__((__simd__("notinbranch")));  // libmvec' in code
    xpiler.parse(code, source="vnni")   # the output is a program the frontend reads back
    x = np.linspace(-6, 6, 1001, dtype=np.float32)     # more elements than the 512 threads
    out = np.zeros_like(x)
    xpiler.run(code, [x, out, x.size], entry="gelu", lang="vnni")
    expect = 0.5 * x * (1 + np.tanh(0.7978845608 * (x + 0.044715 * x ** 3)))
    np.testing.assert_allclose(out, expect, rtol=1e-5, atol=1e-6)


def test_a_grid_stride_loop_with_dependent_iterations_keeps_its_order():
    src = GELU_GRID_STRIDE.replace("out[i] = gelu_tanh(in[i]);", "out[i] = gelu_tanh(in[i]) + (i >= 512 ? out[i - 512] : 0.0f);")
    code = xpiler.translate(src, to="vnni", source="cuda")
    assert "for (int i = (unsigned)__xp_global_x; i < n; i += blockDim.x * gridDim.x)" in code
    x = np.linspace(-1, 1, 1100, dtype=np.float32)
    out = np.zeros_like(x)
    xpiler.run(code, [x, out, x.size], entry="gelu", lang="vnni")
    g = 0.5 * x * (1 + np.tanh(0.7978845608 * (x + 0.044715 * x ** 3)))
    expect = g.copy()
    for i in range(512, x.size):
        expect[i] += expect[i - 512]
    np.testing.assert_allclose(out, expect, rtol=1e-5, atol=1e-5)


def test_vector_math_can_be_turned_off_for_libm_results_bit_for_bit():
    pipeline = xpiler.translate_with_trace(GELU_GRID_STRIDE, to="vnni", source="cuda").pipeline
    assert pipeline.endswith(",elide-mirrors,wide-subscripts,simd-jam,simd-unswitch,lane-bounds,byte-flags,c-prelude")
    code = xpiler.translate(GELU_GRID_STRIDE, to="vnni", source="cuda",
                            pipeline=pipeline.replace("c-prelude", "c-prelude{vector_math=false}"))
    assert "libmvec" not in code and "__simd__" not in code


def test_a_name_declared_two_ways_is_not_taken_for_a_counter_copy():
    # `t` holds threadIdx.x before the barrier and n - 1 - threadIdx.x after it: neither is rewritten
    src = """
__global__ void rev(const float *x, float *out, int n) {
  __shared__ float buf[64];
  { int t = threadIdx.x; buf[t] = x[blockIdx.x * 64 + t]; }
  __syncthreads();
  { int t = 63 - threadIdx.x; out[blockIdx.x * 64 + threadIdx.x] = buf[t]; }
}
extern "C" void reverse64(const float *x, float *out, int blocks) {
  float *dx, *dout;
  cudaMalloc(&dx, blocks * 64 * sizeof(float));
  cudaMalloc(&dout, blocks * 64 * sizeof(float));
  cudaMemcpy(dx, x, blocks * 64 * sizeof(float), cudaMemcpyHostToDevice);
  rev<<<blocks, 64>>>(dx, dout, blocks * 64);
  cudaMemcpy(out, dout, blocks * 64 * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(dx);
  cudaFree(dout);
}
"""
    code = xpiler.translate(src, to="vnni", source="cuda")
    fast = code[:code.index("} else {")]
    assert "#pragma omp simd" in fast
    assert "int t = (unsigned)threadIdx_x;" in fast and "int t = 63 - (unsigned)threadIdx_x;" in fast
    x = np.arange(3 * 64, dtype=np.float32)
    out = np.zeros_like(x)
    xpiler.run(code, [x, out, 3], entry="reverse64", lang="vnni")
    np.testing.assert_array_equal(out, x.reshape(3, 64)[:, ::-1].reshape(-1))


def test_a_grid_stride_held_in_a_variable_is_recognised():
    src = GELU_GRID_STRIDE.replace(
        "  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)",
        "  int stride = gridDim.x * blockDim.x;\n  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)")
    code = xpiler.translate(src, to="vnni", source="cuda")
    assert ("#pragma omp simd\n          for (int i = 0; i < (int)n; ++i) {\n"
            "            int stride = gridDim.x * blockDim.x;\n            out[i] = gelu_tanh(in[i]);") in code
    x = np.linspace(-3, 3, 700, dtype=np.float32)
    out = np.zeros_like(x)
    xpiler.run(code, [x, out, x.size], entry="gelu", lang="vnni")
    np.testing.assert_allclose(out, 0.5 * x * (1 + np.tanh(0.7978845608 * (x + 0.044715 * x ** 3))), rtol=1e-5, atol=1e-6)


DOT_ROWS_BANG = """
__mlu_entry__ void dot_rows(float *a, float *b, float *out, int rows, int cols) {
  for (int r = taskId; r < rows; r += taskDim) {
    float s = 0.0f;
    for (int c = 0; c < cols; ++c) s += a[r * cols + c] * b[c];
    out[r] = s;
  }
}
"""


def test_an_innermost_sum_is_a_simd_reduction_and_a_dependent_loop_is_left_alone():
    code = xpiler.translate(DOT_ROWS_BANG, to="vnni", source="bang")
    assert ("          float s = 0.0f;\n#pragma omp simd reduction(+: s)\n          for (int c = 0; c < cols; ++c)\n"
            "            s += a[(long long)(r * cols) + c] * b[c];") in code
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((37, 300)).astype(np.float32), rng.standard_normal(300).astype(np.float32)
    out = np.zeros(37, np.float32)
    xpiler.run(code, [a, b, out, 37, 300], entry="dot_rows_kernel", lang="vnni")
    np.testing.assert_allclose(out, a @ b, rtol=1e-4, atol=1e-4)
    # a running value that is also stored is not a reduction
    scan = DOT_ROWS_BANG.replace("s += a[r * cols + c] * b[c];", "{ s += a[r * cols + c] * b[c]; a[r * cols + c] = s; }")
    assert "reduction" not in xpiler.translate(scan, to="vnni", source="bang")


# A window over rows for every column: the thread's body holds two loops, which gcc does not vectorise
# around; `scale` selects a branch the loops do not change.
WINDOW_MAX = """
__global__ void window_max(const float *x, float *y, int rows, int cols, int kh, int kw, int scale) {
  int c = blockIdx.x * blockDim.x + threadIdx.x;
  int r = blockIdx.y;
  if (c >= cols - kw + 1) return;
  const float *base = x + (size_t)r * cols + c;
  float acc = -INFINITY;
  for (int i = 0; i < kh; ++i)
    for (int j = 0; j < kw; ++j)
      acc = fmaxf(acc, base[i * cols + j]);
  if (scale) acc *= 2.0f;
  y[r * (cols - kw + 1) + c] = acc;
}
extern "C" void window(const float *x, float *y, int rows, int cols, int kh, int kw, int scale) {
  int out_rows = rows - kh + 1, out_cols = cols - kw + 1;
  float *dx, *dy;
  cudaMalloc(&dx, rows * cols * sizeof(float));
  cudaMalloc(&dy, out_rows * out_cols * sizeof(float));
  cudaMemcpy(dx, x, rows * cols * sizeof(float), cudaMemcpyHostToDevice);
  window_max<<<dim3((out_cols + 31) / 32, out_rows), 32>>>(dx, dy, rows, cols, kh, kw, scale);
  cudaMemcpy(y, dy, out_rows * out_cols * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(dx);
  cudaFree(dy);
}
"""


def _window_reference(x, kh, kw, scale):
    rows, cols = x.shape
    out = np.full((rows - kh + 1, cols - kw + 1), -np.inf, np.float32)
    for i in range(kh):
        for j in range(kw):
            out = np.fmax(out, x[i:i + rows - kh + 1, j:j + cols - kw + 1])
    return out * 2 if scale else out


def test_a_thread_body_with_loops_is_strip_mined_and_its_lanes_sunk_below_them():
    code = xpiler.translate(WINDOW_MAX, to="vnni", source="cuda")
    # strips of 64 lanes; the accumulator, used across the loops, becomes one value per lane
    assert ("for (int __xp_strip = 0; __xp_strip < __xp_end; __xp_strip += 64) {\n"
            "            const int __xp_lanes = __xp_end - __xp_strip < 64 ? __xp_end - __xp_strip : 64;\n"
            "            float acc[64];\n") in code
    # the window loops stay outside; the lane loop is innermost, and the pointer, a pure function of
    # the lane, is declared again there (its addresses stay affine in the lane)
    assert ("            for (int i = 0; i < kh; ++i) {\n"
            "              for (int j = 0; j < kw; ++j) {\n"
            "#pragma omp simd\n"
            "                for (int __xp_lane = 0; __xp_lane < __xp_lanes; ++__xp_lane) {\n"
            "                  const int __xp_global_x = __xp_strip + __xp_lane;\n"
            "                  int c = (unsigned)__xp_global_x;\n"
            "                  const float *base = x + (size_t)r * cols + c;\n"
            "                  acc[__xp_lane] = __xp_fmaxf(acc[__xp_lane], base[(long long)(i * cols) + j]);\n") in code
    # fmaxf as a select gcc vectorises, and loops unswitched on `scale`
    assert "static inline float __xp_fmaxf(float a, float b) { return a > b || b != b ? a : b; }" in code
    assert '#pragma GCC optimize("unswitch-loops", "vect-cost-model=cheap")' in code
    rng = np.random.default_rng(3)
    for rows, cols, kh, kw, scale in ((9, 150, 3, 2, 0), (5, 70, 1, 4, 1), (4, 6, 2, 2, 1)):
        x = rng.standard_normal((rows, cols)).astype(np.float32)
        x[0, 1] = np.nan   # fmaxf's choice: the number
        y = np.zeros((rows - kh + 1, cols - kw + 1), np.float32)
        xpiler.run(code, [x, y, rows, cols, kh, kw, scale], entry="window", lang="vnni")
        np.testing.assert_array_equal(y, _window_reference(x, kh, kw, scale))


def test_a_loop_whose_bound_depends_on_the_lane_runs_as_many_steps_as_its_longest_lane():
    triangle = WINDOW_MAX.replace("for (int i = 0; i < kh; ++i)", "for (int i = 0; i < (c % kh) + 1; ++i)")
    code = xpiler.translate(triangle, to="vnni", source="cuda")
    # every lane counts its trips; lane l takes step m while m < its trips
    # (trips and steps in 64 bits: no overflow whatever the start)
    assert "__xp_trips[__xp_lane] = 0 < ((c % kh) + 1) ? ((long long)((c % kh) + 1) - 1 - 0) / 1 + 1 : 0;" in code
    assert "#pragma omp simd reduction(max: __xp_trips_max)" in code
    assert ("if (__xp_i_step < __xp_trips[__xp_lane]) {\n"
            "                    const int i = (int)((long long)0 + __xp_i_step * 1);\n") in code
    x = np.random.default_rng(6).standard_normal((8, 100)).astype(np.float32)
    y = np.zeros((6, 99), np.float32)
    xpiler.run(code, [x, y, 8, 100, 3, 2, 0], entry="window", lang="vnni")
    expect = np.full((6, 99), -np.inf, np.float32)
    for c in range(99):
        for i in range(c % 3 + 1):
            expect[:, c] = np.fmax(expect[:, c], np.fmax(x[i:i + 6, c], x[i:i + 6, c + 1]))
    np.testing.assert_array_equal(y, expect)
    # a step that differs between lanes is not taken apart
    uneven = WINDOW_MAX.replace("for (int i = 0; i < kh; ++i)", "for (int i = 0; i < kh; i += 1 + c % 2)")
    assert "__xp_strip" not in xpiler.translate(uneven, to="vnni", source="cuda")


def test_a_continue_of_an_unsplit_body_is_kept_and_a_break_keeps_the_lane_loop_outside():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((7, 80)).astype(np.float32)
    # `continue` of the j loop: its body is one part, run by one lane loop, where it skips the lane
    skip = WINDOW_MAX.replace("      acc = fmaxf(acc, base[i * cols + j]);",
                              "    {\n      if (base[i * cols + j] > 1.0f) continue;\n"
                              "      acc = fmaxf(acc, base[i * cols + j]);\n    }")
    code = xpiler.translate(skip, to="vnni", source="cuda")
    assert "__xp_strip" in code and "continue;" in code
    y = np.zeros((5, 78), np.float32)
    xpiler.run(code, [x, y, 7, 80, 3, 3, 0], entry="window", lang="vnni")
    np.testing.assert_array_equal(y, _window_reference(np.where(x > 1.0, -np.inf, x).astype(np.float32), 3, 3, 0))
    # a lane cannot leave a loop the other lanes go on with
    early = WINDOW_MAX.replace("  for (int i = 0; i < kh; ++i)\n", "  for (int i = 0; i < kh; ++i) {\n").replace(
        "      acc = fmaxf(acc, base[i * cols + j]);", "      acc = fmaxf(acc, base[i * cols + j]);\n    if (acc > 1.5f) break;\n  }")
    code = xpiler.translate(early, to="vnni", source="cuda")
    assert "__xp_strip" not in code
    y = np.zeros((5, 78), np.float32)
    xpiler.run(code, [x, y, 7, 80, 3, 3, 0], entry="window", lang="vnni")
    expect = np.full((5, 78), -np.inf, np.float32)
    for r in range(5):
        for c in range(78):
            for i in range(3):
                expect[r, c] = max(expect[r, c], x[r + i, c:c + 3].max())
                if expect[r, c] > 1.5:
                    break
    np.testing.assert_array_equal(y, expect)


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed")
def test_the_vectorisable_fmaxf_and_fminf_give_libm_results_bit_for_bit(tmp_path):
    from xpiler.emitters.c_prelude import VECTOR_MINMAX
    values = "0.0f, -0.0f, 1.0f, -1.5f, INFINITY, -INFINITY, NAN, 3.0e38f, 1.0e-45f"
    program = "#include <math.h>\n#include <stdio.h>\n#include <string.h>\n" + "\n".join(VECTOR_MINMAX.values()) + f"""
static unsigned bits(float v) {{ unsigned u; memcpy(&u, &v, 4); return u; }}
int main() {{
  volatile float v[] = {{{values}}};
  int n = sizeof(v) / sizeof(v[0]), bad = 0;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {{
      float a = v[i], b = v[j];
      if (isnan(a) && isnan(b)) continue;   /* a NaN either way, payloads aside */
      bad += bits(__xp_fmaxf(a, b)) != bits(fmaxf(a, b)) || bits(__xp_fminf(a, b)) != bits(fminf(a, b));
      bad += __xp_fmax(a, b) != fmax(a, b) && !isnan(__xp_fmax(a, b)) || __xp_fmin(a, b) != fmin(a, b) && !isnan(__xp_fmin(a, b));
    }}
  printf("%d\\n", bad);
  return 0;
}}
"""
    (tmp_path / "m.cpp").write_text(program)
    subprocess.run(["g++", *VNNI_FLAGS, "m.cpp", "-o", "m", "-lm"], cwd=tmp_path, check=True, capture_output=True,
                   timeout=120)
    assert subprocess.run(["./m"], cwd=tmp_path, check=True, capture_output=True, text=True,
                          timeout=60).stdout.strip() == "0"


def test_a_branch_on_the_lane_around_loops_runs_every_part_under_the_lanes_condition():
    # odd columns take the window, even ones copy: the branch depends on the lane
    branchy = WINDOW_MAX.replace("  float acc = -INFINITY;\n", "  float acc = base[0];\n  if (c % 2 == 1) {\n").replace(
        "      acc = fmaxf(acc, base[i * cols + j]);\n", "      acc = fmaxf(acc, base[i * cols + j]);\n  }\n")
    code = xpiler.translate(branchy, to="vnni", source="cuda")
    assert "__xp_strip" in code
    # the condition, with its division, is computed once per strip and kept per lane
    assert "              __xp_mask[__xp_lane] = c % 2 == 1;\n" in code
    assert ("                  if (__xp_mask[__xp_lane]) {\n"
            "                    acc[__xp_lane] = __xp_fmaxf(acc[__xp_lane], base[(long long)(i * cols) + j]);\n") in code
    x = np.random.default_rng(5).standard_normal((6, 90)).astype(np.float32)
    y = np.zeros((4, 88), np.float32)
    xpiler.run(code, [x, y, 6, 90, 3, 3, 1], entry="window", lang="vnni")
    expect = _window_reference(x, 3, 3, 0)
    expect[:, 0::2] = x[:4, 0:88:2]
    np.testing.assert_array_equal(y, expect * 2)


def test_a_body_with_one_loop_is_left_to_gccs_outer_loop_vectorisation():
    # gcc vectorises around a single innermost loop itself, keeping each lane's sum in a register
    row = WINDOW_MAX.replace("  for (int i = 0; i < kh; ++i)\n    for (int j = 0; j < kw; ++j)\n      acc = fmaxf(acc, base[i * cols + j]);",
                             "  for (int j = 0; j < kw; ++j)\n    acc = fmaxf(acc, base[j]);")
    code = xpiler.translate(row, to="vnni", source="cuda")
    assert "__xp_strip" not in code
    # (twice: simd-unswitch versions the loop on `scale`)
    assert len(re.findall(r"#pragma omp simd\n +for \(int __xp_global_x = 0; __xp_global_x < __xp_end; "
                          r"\+\+__xp_global_x\) \{", code)) == 2


# A row per block; each thread sums its share of the row (`c = threadIdx.x; c += blockDim.x`), then
# thread 0 adds the shares after a barrier.
ROW_SUMS = """
__global__ void row_sums(const float *x, float *y, int cols) {
  __shared__ float part[128];
  float s = 0.0f;
  for (int c = threadIdx.x; c < cols; c += blockDim.x)
    s += x[blockIdx.x * cols + c];
  part[threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.x == 0) {
    float t = 0.0f;
    for (int i = 0; i < blockDim.x; ++i) t += part[i];
    y[blockIdx.x] = t;
  }
}
extern "C" void sums(const float *x, float *y, int rows, int cols) {
  float *dx, *dy;
  cudaMalloc(&dx, rows * cols * sizeof(float));
  cudaMalloc(&dy, rows * sizeof(float));
  cudaMemcpy(dx, x, rows * cols * sizeof(float), cudaMemcpyHostToDevice);
  row_sums<<<rows, 128>>>(dx, dy, cols);
  cudaMemcpy(y, dy, rows * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(dx);
  cudaFree(dy);
}
"""


def test_a_threads_share_of_a_row_between_barriers_is_a_simd_loop_per_step():
    code = xpiler.translate(ROW_SUMS, to="vnni", source="cuda")
    # the threads' shares: lane l takes step m while m < its trips, at c = l + m * blockDim.x
    assert "#pragma omp simd reduction(max: __xp_trips_max)" in code
    assert "const int c = (int)((long long)(int)(unsigned)threadIdx_x + __xp_c_step * (int)blockDim.x);" in code
    rng = np.random.default_rng(7)
    for rows, cols in ((5, 1000), (3, 100), (2, 128)):
        x = rng.standard_normal((rows, cols)).astype(np.float32)
        y = np.zeros(rows, np.float32)
        xpiler.run(code, [x, y, rows, cols], entry="sums", lang="vnni")
        np.testing.assert_allclose(y, x.sum(axis=1), rtol=1e-5, atol=1e-4)


def test_the_channel_loop_around_a_detensorized_bang_pooling_window_is_sunk():
    from xpiler import suite
    entry = next(e for e in suite.entries("bang") if e.file == "pool_nhwc.mlu" and e.entry == "maxpool_nhwc_kernel")
    code = xpiler.translate(open(entry.path).read(), to="vnni", source="bang",
                            **({"launch": entry.launch} if entry.launch else {}))
    # __bang_maxpool's channel loop: lanes below the window loops, the running maximum per lane
    assert "for (int __xp_strip = 0; __xp_strip < C_pool_rows0; __xp_strip += 64) {" in code
    assert "double acc[64];" in code
    n, h, w, c = 2, 9, 11, 70
    x = np.random.default_rng(8).standard_normal((n, h, w, c)).astype(np.float32)
    y = np.zeros((n, 4, 5, c), np.float32)
    xpiler.run(code, [x, y, n, h, w, c, 2, 2, 2, 2], entry="maxpool_nhwc_kernel", lang="vnni")
    expect = x[:, :8, :10].reshape(n, 4, 2, 5, 2, c).max(axis=(2, 4))
    np.testing.assert_array_equal(y, expect)


def test_fmaxf_in_a_functor_struct_kept_as_text_is_the_vectorisable_select_too():
    from xpiler import suite
    entry = next(e for e in suite.entries("hip") if e.file == "pool_nhwc_template.hip" and e.entry == "maxpool")
    code = xpiler.translate(open(entry.path).read(), to="vnni", source="hip",
                            **({"launch": entry.launch} if entry.launch else {}))
    assert "  __device__ static float step(float acc, float v) { return __xp_fmaxf(acc, v); }" in code
    assert "static inline float __xp_fmaxf(float a, float b)" in code
    assert "fmaxf(" not in code.replace("__xp_fmaxf(", "")


# Lanes over (pixel, output channel) decoded by division; the channel loop inside reads both arrays
# contiguously: gcc vectorises that loop itself (a sum), better than lanes that would gather.
CHANNEL_MIX = """
__global__ void mix(const float *x, const float *w, float *y, int P, int Co, int Ci, int R) {
  int idx = blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= P * Co) return;
  int co = idx % Co, p = idx / Co;
  float acc = 0.0f;
  for (int r = 0; r < R; ++r)
    for (int ci = 0; ci < Ci; ++ci)
      acc += x[(p + r) * Ci + ci] * w[co * Ci + ci];
  y[idx] = acc;
}
extern "C" void channel_mix(const float *x, const float *w, float *y, int P, int Co, int Ci, int R) {
  float *dx, *dw, *dy;
  cudaMalloc(&dx, (P + R) * Ci * sizeof(float));
  cudaMalloc(&dw, Co * Ci * sizeof(float));
  cudaMalloc(&dy, P * Co * sizeof(float));
  cudaMemcpy(dx, x, (P + R) * Ci * sizeof(float), cudaMemcpyHostToDevice);
  cudaMemcpy(dw, w, Co * Ci * sizeof(float), cudaMemcpyHostToDevice);
  mix<<<(P * Co + 127) / 128, 128>>>(dx, dw, dy, P, Co, Ci, R);
  cudaMemcpy(y, dy, P * Co * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(dx);
  cudaFree(dw);
  cudaFree(dy);
}
"""


def test_lanes_that_would_gather_leave_a_contiguous_inner_loop_to_vectorise_itself():
    code = xpiler.translate(CHANNEL_MIX, to="vnni", source="cuda")
    # the flat loop over idx, run when the grid does not cover P * Co exactly: lanes decoded by
    # division would gather every access, so they are not sunk below the channel loop
    fast = code.split("  } else {\n#pragma omp parallel for collapse(6)")[0]
    digits, flat = fast.split("if (Co > 0 && P > 0 && (long long)Co * P == __xp_end) {")[1].split("        } else {\n")
    assert "__xp_strip" not in flat
    # the nest of the digits (passes/delinearize.py): lanes over the output channel, the pixel shared
    # (2.6x faster than the flat loop at 3136 x 64 x 64 in a standalone driver)
    assert "for (int __xp_strip = 0; __xp_strip < Co; __xp_strip += 64) {" in digits
    assert "#pragma omp simd reduction(+: acc)" in code   # the original nest's channel loop
    rng = np.random.default_rng(9)
    P, Co, Ci, R = 30, 7, 40, 3
    x = rng.standard_normal((P + R, Ci)).astype(np.float32)
    w = rng.standard_normal((Co, Ci)).astype(np.float32)
    y = np.zeros((P, Co), np.float32)
    xpiler.run(code, [x, w, y, P, Co, Ci, R], entry="channel_mix", lang="vnni")
    expect = sum(x[r:r + P] for r in range(R)) @ w.T
    np.testing.assert_allclose(y, expect, rtol=1e-4, atol=1e-4)


def test_a_shared_division_under_a_lanes_condition_stays_under_it():
    # no lane passes `c < d` when d = 0: the division `kh / d` must not run (it would trap)
    guarded = WINDOW_MAX.replace("  float acc = -INFINITY;\n", "  float acc = -INFINITY;\n  if (c < scale) {\n"
                                 "  const int reps = kh / scale;\n").replace(
        "      acc = fmaxf(acc, base[i * cols + j]);\n", "      acc = fmaxf(acc, base[i * cols + j] * reps);\n  }\n")
    code = xpiler.translate(guarded, to="vnni", source="cuda")
    x = np.random.default_rng(10).standard_normal((5, 40)).astype(np.float32)
    y = np.zeros((3, 39), np.float32)
    xpiler.run(code, [x, y, 5, 40, 3, 2, 0], entry="window", lang="vnni")
    np.testing.assert_array_equal(y, np.full((3, 39), -np.inf, np.float32))
    y = np.zeros((3, 39), np.float32)
    xpiler.run(code, [x, y, 5, 40, 3, 2, 1], entry="window", lang="vnni")   # lane 0 only, reps = 3
    expect = np.full((3, 39), -np.inf, np.float32)
    expect[:, 0] = (3 * _window_reference(x, 3, 2, 0)[:, 0]) * 2
    np.testing.assert_array_equal(y, expect)


# A row per block of 64 threads: each thread sums its share, a warp shuffle adds the shares of a warp,
# thread 0 of each warp writes its warp's sum.
WARP_SUMS = """
__global__ void warp_sums(const float *x, float *y, int cols) {
  float s = 0.0f;
  for (int c = threadIdx.x; c < cols; c += 64)
    s += x[blockIdx.x * cols + c];
  for (int off = 16; off > 0; off /= 2)
    s += __shfl_down_sync(0xffffffff, s, off);
  if (threadIdx.x % 32 == 0)
    y[blockIdx.x * 2 + threadIdx.x / 32] = s;
}
extern "C" void sums(const float *x, float *y, int rows, int cols) {
  float *dx, *dy;
  cudaMalloc(&dx, rows * cols * sizeof(float));
  cudaMalloc(&dy, rows * 2 * sizeof(float));
  cudaMemcpy(dx, x, rows * cols * sizeof(float), cudaMemcpyHostToDevice);
  warp_sums<<<rows, 64>>>(dx, dy, cols);
  cudaMemcpy(y, dy, rows * 2 * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(dx);
  cudaFree(dy);
}
"""


def test_a_threads_slot_counts_in_64_bits_where_its_lane_arithmetic_fits():
    code = xpiler.translate(WARP_SUMS, to="vnni", source="cuda")
    fast = code.split("} else {")[0]
    slots = re.findall(r"\b(long long|int|unsigned) __tid\b", fast)
    # phases that only index per-thread arrays with it, and the shuffle's phase, whose lane
    # arithmetic (`__tid % 32 + off < 32`, `__tid + off < __nthreads`, off in [1, 16]) stays in
    # [0, 2^32): all in 64 bits, where gcc sees the reads affine
    assert slots == ["long long"] * len(slots) and len(slots) >= 4, slots
    assert ("s[__tid] += ((__tid % 32 % (32)) + (off) < (32) && (__tid + (off)) < __nthreads ? "
            "__xch1[__tid + (off)] : __xch1[__tid]);") in fast
    x = np.random.default_rng(9).standard_normal((5, 300)).astype(np.float32)
    y = np.zeros((5, 2), np.float32)
    xpiler.run(code, [x, y, 5, 300], entry="sums", lang="vnni")
    share = np.stack([x[:, t::64].sum(axis=1) for t in range(64)], axis=1)  # each thread's share
    np.testing.assert_allclose(y, np.stack([share[:, :32].sum(1), share[:, 32:].sum(1)], axis=1), rtol=1e-5)


def test_a_warp_vote_the_emulated_shuffles_do_not_read_is_not_computed():
    # TVM's reductions take `mask = __activemask()` for __shfl_down_sync, whose emulation reads every
    # lane anyway: the per-lane ballot over the warp (32 reads per lane) is dead and goes (dce)
    from xpiler import suite
    entry = next(e for e in suite.entries("cuda") if e.file == "rmsnorm_tvm.cu")
    code = xpiler.translate(entry.source, to="vnni", source="cuda", launch=entry.launch)
    assert "__xpiler_ballot" not in code
    outcome = suite.check_program(entry, "vnni", src=code)
    assert outcome.passed, [o for o in outcome.outputs if not o.ok][:1]


def test_ldexp_by_a_constant_is_a_product_by_that_power_of_two_bit_for_bit():
    src = """
    extern "C" void scale(const double *x, const float *y, double *a, float *b, float *c, int n) {
      for (int i = 0; i < n; ++i) {
        a[i] = ldexp(x[i], -3);
        b[i] = ldexpf(y[i], -5);
        c[i] = ldexp(y[i], -130);
      }
    }
    """
    module = xpiler.lift(src, source="vnni")
    scaled = xpiler.emit(pipeline("c-prelude")[0].apply(module), "vnni")
    assert "a[i] = (x[i] * 0x1p-3);" in scaled and "b[i] = (y[i] * 0x1p-5f);" in scaled
    assert "c[i] = ldexp(y[i], -130);" in scaled   # 2^-130 is no normal float: left to libm
    libm = xpiler.emit(pipeline("c-prelude{vector_math=false}")[0].apply(module), "vnni")
    assert "0x1p" not in libm
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.standard_normal(60), [5e-308, -3e-310, 1e308, 0.0, -0.0, np.inf, np.nan]])
    y = np.concatenate([rng.standard_normal(60), [1e-38, -3e-39, 3e38, 0.0, -0.0, np.inf, np.nan]]).astype(np.float32)
    results = []
    for code in (scaled, libm):
        out = (np.zeros(len(x)), np.zeros(len(x), np.float32), np.zeros(len(x), np.float32))
        xpiler.run(code, [x, y, *out, len(x)], entry="scale", lang="vnni")
        results.append(out)
    for got, want in zip(*results):
        np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))


def test_half_to_double_goes_through_one_vcvtph2ps_for_every_half_value():
    src = """
    extern "C" void widen(const half *h, double *d, int n) {
      for (int i = 0; i < n; ++i)
        d[i] = (double)h[i];
    }
    """
    module = xpiler.lift(src, source="vnni")
    code = xpiler.emit(pipeline("c-prelude")[0].apply(module), "vnni")
    assert "d[i] = (double)__xp_half_to_float(h[i]);" in code and "_mm_maskz_cvtph_ps" in code
    every = np.arange(65536, dtype=np.uint16).view(np.float16)
    got = np.zeros(65536)
    xpiler.run(code, [every, got, 65536], entry="widen", lang="vnni")
    want = every.astype(np.float64)
    finite = ~np.isnan(want)
    np.testing.assert_array_equal(got[finite].view(np.uint64), want[finite].view(np.uint64))
    assert np.isnan(got[~finite]).all()
