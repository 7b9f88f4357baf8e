"""``cache{target=bang}``: a SIMT kernel's thread loop becomes a chunk staged through NRAM (DMA in,
compute, DMA out), with the same results bit for bit; loops it cannot stage exactly stay as they are."""

from __future__ import annotations

import numpy as np
import pytest

import xpiler
from xpiler.api import default_pipeline
from xpiler.passes.base import PassError
from xpiler.passes.registry import pipeline

from test_tensorize_bang import lines   # the element tensorizer tests' line splitter

LAUNCH = {"grid": [4, 1, 1], "block": [128, 1, 1]}
F32 = np.float32


def kernel_of(code: str) -> str:
    return code[code.index("__mlu_global__"):code.index('extern "C"')]


def bang(src: str, launch=LAUNCH) -> str:
    """The default BANG translation up to its copies: without ``pipeline``, which overlaps them
    (tests/test_pipeline.py)."""
    spec = default_pipeline("cuda", "bang", program=xpiler.parse(src, source="cuda"), launch=launch)
    assert ",pipeline{target=bang}," in spec
    return xpiler.translate(src, source="cuda", to="bang", launch=launch,
                            pipeline=spec.replace(",pipeline{target=bang},", ","))


ADD = """__global__ void add(const float *a, const float *b, float *c, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) c[i] = a[i] + b[i];
}"""


def test_a_guarded_element_wise_kernel_is_dma_and_one_vector_call_per_chunk():
    code = lines(kernel_of(bang(ADD)))
    assert "int i_0 = blockIdx_x * 128;" in code
    assert "__nram__ float __xp_a[128];" in code and "__nram__ float __xp_c[128];" in code
    # the guard i < n is the chunk's length: the elements that pass it are a prefix
    assert "__xp_n = (long long)(n) - (long long)(i_0);" in code
    assert "__memcpy(__xp_a, &a[(i_0)], __xp_n * sizeof(float), GDRAM2NRAM);" in code
    assert "__bang_add(__xp_c, __xp_a, __xp_b, __xp_n);" in code
    assert "__memcpy(&c[(i_0)], __xp_c, __xp_n * sizeof(float), NRAM2GDRAM);" in code
    assert not any("c[i] =" in line for line in code)


@pytest.mark.parametrize("n", [0, 1, 127, 128, 129, 300, 512])
def test_the_chunks_compute_what_the_threads_computed(n):
    code = bang(ADD)
    a, b = np.random.rand(512).astype(F32), np.random.rand(512).astype(F32)
    c = np.full(512, -1, F32)
    xpiler.run(code, [a, b, c, n], entry="add_kernel", lang="bang", backend="emulate")
    np.testing.assert_array_equal(c[:n], a[:n] + b[:n])
    np.testing.assert_array_equal(c[n:], -1)   # nothing past the guard


SIGN_2D = """__global__ void sign(const float *A, float *out, int rows, int cols) {
  int col = blockIdx.x * 32 + threadIdx.x;
  int row = blockIdx.y * 8 + threadIdx.y;
  if (row < rows && col < cols) {
    float v = A[row * cols + col];
    out[row * cols + col] = v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : 0.0f);
  }
}"""


def test_conditions_of_the_whole_chunk_and_of_its_elements_are_told_apart():
    code = bang(SIGN_2D, {"grid": [2, 3, 1], "block": [32, 8, 1]})
    kernel = lines(kernel_of(code))
    assert "if (!(row_0 < rows)) {" in kernel and "__xp_n = (long long)(cols) - (long long)(col_0);" in kernel
    assert "__memcpy(__xp_A, &A[(row_0 * cols + col_0)], __xp_n * sizeof(float), GDRAM2NRAM);" in kernel
    rows, cols = 20, 50
    a = (np.random.rand(rows * cols) - 0.5).astype(F32)
    a[::7] = 0
    out = np.full(rows * cols, 7, F32)
    xpiler.run(code, [a, out, rows, cols], entry="sign_kernel", lang="bang", backend="emulate")
    np.testing.assert_array_equal(out, np.sign(a))


GRID_STRIDE = """__global__ void scale(const float *x, float *y, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)
    y[i] = x[i] * 3.0f;
}"""


def test_a_grid_stride_loop_is_a_loop_over_chunks():
    code = bang(GRID_STRIDE, {"grid": [2, 1, 1], "block": [64, 1, 1]})
    kernel = lines(kernel_of(code))
    assert "for (int i_chunk = blockIdx_x * 64; i_chunk < (n); i_chunk += (64 * gridDim.x)) {" in kernel
    assert "__bang_mul_scalar(__xp_y, __xp_x, 3.0f, __xp_n);" in kernel
    for n in (0, 50, 128, 1000):
        x, y = np.random.rand(1000).astype(F32), np.zeros(1000, F32)
        xpiler.run(code, [x, y, n], entry="scale_kernel", lang="bang", backend="emulate")
        np.testing.assert_array_equal(y[:n], x[:n] * F32(3))
        np.testing.assert_array_equal(y[n:], 0)


FUSED_PARTS = """__global__ void relu(float *__restrict__ out, float *__restrict__ data) {
  for (int outer = 0; outer < 3; ++outer) {
    if (outer * 256 + (int)blockIdx.x * 64 + (int)threadIdx.x < 700)
      out[outer * 256 + (int)blockIdx.x * 64 + (int)threadIdx.x] =
          data[outer * 256 + (int)blockIdx.x * 64 + (int)threadIdx.x] + 1.0f;
  }
}"""


def test_a_loop_over_the_parts_of_a_fused_axis_moves_outside_the_chunk():
    code = bang(FUSED_PARTS, {"grid": [4, 1, 1], "block": [64, 1, 1]})
    kernel = kernel_of(code)
    assert kernel.index("for (int outer = 0; outer < 3; ++outer)") < kernel.index("GDRAM2NRAM")
    data, out = np.random.rand(768).astype(F32), np.zeros(768, F32)
    xpiler.run(code, [out, data], entry="relu_kernel", lang="bang", backend="emulate")
    np.testing.assert_array_equal(out[:700], data[:700] + F32(1))
    np.testing.assert_array_equal(out[700:], 0)


@pytest.mark.parametrize("body, why", [
    ("if (i < n) x[i] = x[i + 512] * 2.0f;", "an array written and read at another place"),
    ("if (i < n) { y[i] = x[i]; if (n > 100) y[i] = 0.5f; }", "a store under a condition of its own"),
    ("if (i < n / 2) y[i] = x[2 * i];", "an element that is not offset + thread"),
    ("if ((unsigned)i < (unsigned)n) y[i] = x[i];", "a guard compared without sign"),
])
def test_what_cannot_be_staged_exactly_stays_a_loop_over_gdram(body, why):
    src = "__global__ void k(float *x, float *y, int n) {\n  int i = blockIdx.x * blockDim.x + threadIdx.x;\n  " + \
        body + "\n}"
    code = bang(src)
    assert "GDRAM2NRAM" not in code and "__nram__" not in code, why
    x = (np.random.rand(1024) - 0.25).astype(F32)
    y = np.zeros(1024, F32)
    expected_x, expected_y = x.copy(), y.copy()
    # the same kernel, run as CUDA in the emulator, is the reference
    xpiler.run(src, [expected_x, expected_y, 300], entry="k", lang="cuda", backend="emulate", launch=LAUNCH)
    xpiler.run(code, [x, y, 300], entry="k_kernel", lang="bang", backend="emulate")
    np.testing.assert_array_equal(x, expected_x)
    np.testing.assert_array_equal(y, expected_y)


def test_an_element_updated_in_place_goes_through_one_buffer():
    src = """__global__ void twice(float *x, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] = x[i] * 2.0f;
}"""
    code = bang(src)
    kernel = lines(kernel_of(code))
    assert "__memcpy(__xp_x, &x[(i_0)], __xp_n * sizeof(float), GDRAM2NRAM);" in kernel
    assert "__bang_mul_scalar(__xp_x, __xp_x, 2.0f, __xp_n);" in kernel
    assert "__memcpy(&x[(i_0)], __xp_x, __xp_n * sizeof(float), NRAM2GDRAM);" in kernel
    x = np.random.rand(512).astype(F32)
    expected = np.concatenate([x[:300] * F32(2), x[300:]])
    xpiler.run(code, [x, 300], entry="twice_kernel", lang="bang", backend="emulate")
    np.testing.assert_array_equal(x, expected)


def test_other_targets_are_refused_by_name():
    module = xpiler.lift(ADD, source="cuda")
    with pytest.raises(PassError, match=r"cache: target 'cuda' is not implemented \(implemented: bang\)"):
        pipeline("cache{target=cuda}")[0].apply(module)
