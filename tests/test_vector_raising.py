"""Vector code raised to one GPU thread per lane: the passes between detensorize and bind.

Each test gives a program, the pipeline, and what comes out: the C text where the shape matters,
and the numbers (the translated CUDA run in the emulation against numpy) where the meaning does.
"""

import re

import numpy as np
import pytest

import xpiler

ADD_TAIL = """#include <immintrin.h>
extern "C" void add(float *A, float *B, float *out, int n) {
  int i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(out + i, _mm512_add_ps(_mm512_loadu_ps(A + i), _mm512_loadu_ps(B + i)));
  int r = n - i;
  if (r > 0) {
    __mmask16 k = (__mmask16)((1u << r) - 1);
    __m512 a = _mm512_maskz_loadu_ps(k, A + i);
    __m512 b = _mm512_maskz_loadu_ps(k, B + i);
    _mm512_mask_storeu_ps(out + i, k, _mm512_add_ps(a, b));
  }
}"""

RELU = """#include <immintrin.h>
extern "C" void relu(float *A, float *out, int rows) {
  const __m512 zero = _mm512_setzero_ps();
  #pragma omp parallel for
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < 64; j += 16)
      _mm512_storeu_ps(out + r * 64 + j, _mm512_max_ps(_mm512_loadu_ps(A + r * 64 + j), zero));
}"""

MAXPOOL = """#include <immintrin.h>
#include <cfloat>
extern "C" void maxpool(const float *x, float *y) {   // 1x9x9x32 -> 1x4x4x32, window 3, stride 2
  #pragma omp parallel for collapse(2)
  for (int oh = 0; oh < 4; ++oh)
    for (int ow = 0; ow < 4; ++ow)
      for (int c = 0; c < 32; c += 16) {
        __m512 m = _mm512_set1_ps(-FLT_MAX);
        for (int kh = 0; kh < 3; ++kh)
          for (int kw = 0; kw < 3; ++kw)
            m = _mm512_max_ps(m, _mm512_loadu_ps(x + ((oh * 2 + kh) * 9 + ow * 2 + kw) * 32 + c));
        _mm512_storeu_ps(y + (oh * 4 + ow) * 32 + c, m);
      }
}"""

ROW_SUMS = """#include <immintrin.h>
extern "C" void row_sums(const float *x, float *y, int rows) {
  #pragma omp parallel for
  for (int r = 0; r < rows; ++r) {
    __m512 s = _mm512_setzero_ps();
    for (int j = 0; j < 64; j += 16) s = _mm512_add_ps(s, _mm512_loadu_ps(x + r * 64 + j));
    y[r] = _mm512_reduce_add_ps(s);
  }
}"""

MASKED_COLUMNS = """#include <immintrin.h>
extern "C" void scale_rows(const float *x, float *y, int M, int N) {
  #pragma omp parallel for
  for (int i = 0; i < M; i += 2)
    for (int j = 0; j < N; j += 16) {
      const int w = (N - j) < 16 ? (N - j) : 16;
      const __mmask16 k = (__mmask16)((1u << w) - 1);
      __m512 a = _mm512_maskz_loadu_ps(k, x + i * N + j);
      __m512 b = _mm512_maskz_loadu_ps(k, x + (i + 1) * N + j);
      _mm512_mask_storeu_ps(y + i * N + j, k, _mm512_add_ps(a, a));
      _mm512_mask_storeu_ps(y + (i + 1) * N + j, k, _mm512_add_ps(b, b));
    }
}"""


def c_after(src: str, passes: str) -> str:
    return xpiler.translate(src, to="vnni", source="vnni", pipeline="detensorize," + passes)


def kernels(code: str) -> str:
    return code[:code.index('extern "C"')]


def test_a_counter_that_outlives_its_loop_gets_a_trip_count_and_a_final_value_of_its_own():
    code = c_after(ADD_TAIL, "loop-normalize")
    assert "int i_trips = n - 15 - i > 0 ? (n - 15 - i + 15) / 16 : 0;" in code
    assert "for (int i_k = 0; i_k < i_trips; ++i_k)" in code
    assert "int i_2 = i + 16 * i_trips;" in code and "int r = n - i_2;" in code  # i_1: the lanes


def test_the_vector_loop_and_its_tail_become_two_kernels_one_thread_per_element():
    code = xpiler.translate(ADD_TAIL, to="cuda", source="vnni")
    device = kernels(code)
    assert device.count("__global__") == 2 and "__xp_f < (i_trips * 16)" in device
    for n in (5, 16, 100):
        a, b = np.random.rand(n).astype(np.float32), np.random.rand(n).astype(np.float32)
        out = np.zeros(n, np.float32)
        xpiler.run(code, [a, b, out, n], entry="add", lang="cuda", backend="emulate")
        np.testing.assert_array_equal(out, a + b)


def test_a_register_set_once_is_read_as_its_value():
    code = c_after(RELU, "broadcast-forward")
    assert "zero[" not in code and "(float)(0)" in code


def test_lane_loops_of_one_vector_expression_fuse_and_their_temporaries_become_scalars():
    code = c_after(RELU, "broadcast-forward,contract-temporaries")
    assert "[16]" not in code
    assert "float v = A[r * 64 + j + i];" in code.replace("loadu", "v") or "float loadu = A[r * 64 + j + i];" in code


def test_the_lanes_of_a_pooling_window_become_the_outer_loop_and_the_accumulator_a_register():
    code = c_after(MAXPOOL, "constant-fold,broadcast-forward,contract-temporaries,lanes-outward")
    assert "[16]" not in code
    assert re.search(r"for \(int (lane\w*) = 0; \1 < 16; \+\+\1\) \{\n\s+float m;\n\s+m = -FLT_MAX;", code)
    cuda = xpiler.translate(MAXPOOL, to="cuda", source="vnni")
    assert "__xp_f % 16" in kernels(cuda)  # lanes are the fastest index of the flat nest: coalesced
    x = np.random.rand(1, 9, 9, 32).astype(np.float32)
    y = np.zeros((1, 4, 4, 32), np.float32)
    xpiler.run(cuda, [x, y], entry="maxpool", lang="cuda", backend="emulate")
    want = np.stack([np.stack([x[0, 2 * i:2 * i + 3, 2 * j:2 * j + 3].max(axis=(0, 1)) for j in range(4)])
                     for i in range(4)])
    np.testing.assert_array_equal(y[0], want)


def test_a_horizontal_reduction_keeps_its_lanes_together():
    before = c_after(ROW_SUMS, "broadcast-forward,contract-temporaries")
    assert c_after(ROW_SUMS, "broadcast-forward,contract-temporaries,lanes-outward") == before
    cuda = xpiler.translate(ROW_SUMS, to="cuda", source="vnni")
    x = np.random.rand(7, 64).astype(np.float32)
    y = np.zeros(7, np.float32)
    xpiler.run(cuda, [x, y, 7], entry="row_sums", lang="cuda", backend="emulate")
    np.testing.assert_allclose(y, x.sum(axis=1), rtol=1e-5)


def test_a_prefix_mask_test_becomes_a_bound_and_the_masked_stores_of_two_rows_stay_apart():
    code = c_after(MASKED_COLUMNS, "mask-bounds")
    assert ">> i_1" not in code and "(i_1 < (w))" in code
    cuda = xpiler.translate(MASKED_COLUMNS, to="cuda", source="vnni")
    assert "__xp_f % 16" in kernels(cuda)  # rows x column blocks x lanes, one thread each
    for m, n in ((4, 16), (6, 37)):
        x = np.random.rand(m, n).astype(np.float32)
        y = np.zeros_like(x)
        xpiler.run(cuda, [x, y, m, n], entry="scale_rows", lang="cuda", backend="emulate")
        np.testing.assert_array_equal(y, 2 * x)


@pytest.mark.parametrize("spec", ["loop-normalize", "mask-bounds", "broadcast-forward", "contract-temporaries",
                                  "lanes-outward"])
def test_each_pass_is_registered_and_prints_its_spec(spec):
    from xpiler.passes.registry import pipeline
    assert [str(p) for p in pipeline(spec)] == [spec]


def test_a_contraction_inside_a_collapsed_nest_keeps_the_collapse():
    src = """extern "C" void f(const float *x, float *y) {
  #pragma omp parallel for collapse(2)
  for (int a = 0; a < 4; ++a)
    for (int b = 0; b < 4; ++b) {
      float t[8];
      for (int i = 0; i < 8; ++i) t[i] = x[(a * 4 + b) * 8 + i] * 2.0f;
      for (int i = 0; i < 8; ++i) y[(a * 4 + b) * 8 + i] = t[i] + 1.0f;
    }
}"""
    code = xpiler.translate(src, to="vnni", source="vnni", pipeline="loop-contraction{loop=i}")
    assert "#pragma omp parallel for collapse(2)\n  for (int a = 0;" in code and "float t = " in code
    # a loop the collapse spans does go: its pragma would describe loops that no longer exist
    fused = xpiler.translate(src, to="vnni", source="vnni", pipeline="loop-fuse{loop=a}")
    assert "collapse" not in fused


VECTOR_HELPER = """#include <immintrin.h>
static inline __m512 square(__m512 x) { return _mm512_mul_ps(x, x); }
static inline __m512 cube(__m512 x) { return _mm512_mul_ps(square(x), x); }   // a helper's helper
extern "C" void cubes(const float *x, float *y, int n) {   // n % 16 == 0
  for (int i = 0; i < n; i += 16) _mm512_storeu_ps(y + i, cube(_mm512_loadu_ps(x + i)));
}"""

REGISTER_BLOCK = """extern "C" void mm(const float *A, const float *B, float *C) {   // C[8][32] = A[8][64] @ B[64][32]
  #pragma omp parallel for
  for (int i = 0; i < 8; ++i) {
    float acc[16];
    for (int jo = 0; jo < 2; ++jo) {
      for (int j = 0; j < 16; ++j) acc[j] = 0.0f;
      for (int k = 0; k < 64; ++k)
        for (int j = 0; j < 16; ++j) acc[j] = acc[j] + A[i * 64 + k] * B[k * 32 + jo * 16 + j];
      for (int j = 0; j < 16; ++j) C[i * 32 + jo * 16 + j] = acc[j];
    }
  }
}"""


def test_a_vector_helper_is_inlined_so_the_loop_around_its_call_is_parallel():
    code = c_after(VECTOR_HELPER, "inline-vector")
    assert "cube(" not in code and "square(" not in code
    cuda = xpiler.translate(VECTOR_HELPER, to="cuda", source="vnni")
    assert "blockIdx.x * blockDim.x" in kernels(cuda) and "__xp_f % 16" in kernels(cuda)
    x, y = np.random.rand(64).astype(np.float32), np.zeros(64, np.float32)
    xpiler.run(cuda, [x, y, 64], entry="cubes", lang="cuda", backend="emulate")
    np.testing.assert_allclose(y, x * x * x, rtol=1e-6)


def test_an_accumulator_array_used_one_element_per_lane_becomes_a_scalar_and_the_nest_collapses():
    code = c_after(REGISTER_BLOCK, "contract-temporaries,lanes-outward,scalar-replace")
    assert "acc[" not in code and "float acc;" in code
    cuda = xpiler.translate(REGISTER_BLOCK, to="cuda", source="vnni")
    assert "__xp_f < ((8 * 2) * 16)" in kernels(cuda)     # rows x column blocks x lanes
    a, b = np.random.rand(8, 64).astype(np.float32), np.random.rand(64, 32).astype(np.float32)
    c = np.zeros((8, 32), np.float32)
    xpiler.run(cuda, [a, b, c], entry="mm", lang="cuda", backend="emulate")
    np.testing.assert_allclose(c, a @ b, rtol=1e-5)


def test_scalar_replacement_keeps_an_array_whose_element_is_read_before_it_is_written():
    src = """extern "C" void f(const float *x, float *y) {
  float carry[4];
  for (int j = 0; j < 4; ++j) carry[j] = 0.0f;
  for (int r = 0; r < 3; ++r)
    for (int j = 0; j < 4; ++j) { y[r * 4 + j] = carry[j]; carry[j] = x[r * 4 + j]; }
}"""
    assert "float carry[4];" in c_after(src, "scalar-replace")


def test_scalar_replacement_leaves_an_unused_array_alone():
    src = """extern "C" void f(const float *x, float *y) {
  float t[4];
  for (int i = 0; i < 8; ++i) { y[i] = x[i]; }
}"""
    assert "float t[4];" in c_after(src, "scalar-replace")
