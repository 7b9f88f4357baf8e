"""``pipeline{target=bang}``: a chunk loop (load into NRAM, compute, store) becomes a three-stage
software pipeline over double-buffered NRAM with ``__memcpy_async`` and one ``__sync()`` per step,
computing the same results bit for bit; loops whose stages could interfere stay as they are.

The BANG emulation performs an asynchronous copy only at the wait that covers it and faults on an
operand that touches a copy in flight, so these results would be wrong if a wait were missing."""

from __future__ import annotations

import numpy as np
import pytest

import xpiler
from xpiler.errors import EmulationFault
from xpiler.passes.base import PassError
from xpiler.passes.registry import pipeline

from test_tensorize_bang import lines   # the element tensorizer tests' line splitter

F32 = np.float32
UNION1 = {"task_dim": [4, 1, 1], "func_type": "UNION1"}


def pipelined(src: str) -> str:
    return xpiler.translate(src, source="bang", to="bang", pipeline="pipeline{target=bang}")


def kernel_of(code: str) -> str:
    start = code.index("__mlu_global__")
    end = code.find('extern "C" void', start)
    return code[start:end if end >= 0 else None]


# A chunk loop as a BANG programmer writes it: every task walks chunks of 64 elements.
SCALE_ADD = """#include <bang.h>
#define CHUNK 64
__mlu_global__ void scale_add(const float *x, const float *b, float *y, int n) {
  for (int start = taskId * CHUNK; start < n; start += taskDim * CHUNK) {
    int len = n - start < CHUNK ? n - start : CHUNK;
    __nram__ float xb[CHUNK];
    __nram__ float bb[CHUNK];
    __nram__ float yb[CHUNK];
    __memcpy(xb, x + start, len * sizeof(float), GDRAM2NRAM);
    __memcpy(bb, b + start, len * sizeof(float), GDRAM2NRAM);
    __bang_mul_scalar(yb, xb, 2.0f, CHUNK);
    __bang_add(yb, yb, bb, CHUNK);
    __memcpy(y + start, yb, len * sizeof(float), NRAM2GDRAM);
  }
}
"""


def run_scale_add(code: str, n: int):
    x, b = np.random.rand(2000).astype(F32), np.random.rand(2000).astype(F32)
    y = np.full(2000, -1, F32)
    xpiler.run(code, [x, b, y, n], entry="scale_add", lang="bang", backend="emulate", launch=UNION1)
    return x, b, y


def test_loads_stores_and_compute_become_three_stages_over_double_buffers():
    code = lines(kernel_of(pipelined(SCALE_ADD)))
    assert "__nram__ float xb[2][CHUNK];" in code and "__nram__ float yb[2][CHUNK];" in code
    assert "while (__xp_load < n || __xp_stores < __xp_loads) {" in code
    # each stage evaluates the chunk's definitions for its own chunk, in its own slot
    assert "__memcpy_async(xb[__xp_loads % 2], x + start, len * sizeof(float), GDRAM2NRAM);" in code
    assert "__bang_add(yb[__xp_computes % 2], yb[__xp_computes % 2], bb[__xp_computes % 2], CHUNK);" in code
    assert "__memcpy_async(y + start, yb[__xp_stores % 2], len * sizeof(float), NRAM2GDRAM);" in code
    assert "int start = __xp_store;" in code and "int start = __xp_load;" in code
    assert sum(line.startswith("int len = ") for line in code) == 2      # the compute needs neither
    assert "int start = __xp_compute;" not in code
    # store j - 2, load j, compute j - 1, then wait for all of them; and once more after the loop
    assert code.index("if (__xp_do_store) {") < code.index("if (__xp_do_load) {") < code.index("if (__xp_do_compute) {")
    assert code.count("__sync();") == 2
    assert "__memcpy(" not in " ".join(code)


@pytest.mark.parametrize("n", [0, 1, 63, 64, 65, 256, 257, 1000, 2000])
def test_the_pipeline_computes_what_the_chunk_loop_computed(n):
    x, b, y = run_scale_add(pipelined(SCALE_ADD), n)
    np.testing.assert_array_equal(y[:n], x[:n] * F32(2) + b[:n])
    np.testing.assert_array_equal(y[n:], -1)          # nothing past the end


def test_a_missing_wait_shows():
    """The emulation holds an asynchronous copy until a wait: without the step's ``__sync()`` the
    compute reads a buffer a copy is still filling."""
    code = pipelined(SCALE_ADD)
    step_sync = "      __sync();\n    }\n"          # the last statement of a step
    assert code.count(step_sync) == 1
    with pytest.raises(EmulationFault, match="__memcpy_async"):
        run_scale_add(code.replace(step_sync, "    }\n"), 1000)


IN_PLACE_NRAM = SCALE_ADD.replace("__bang_mul_scalar(yb, xb, 2.0f, CHUNK);\n    __bang_add(yb, yb, bb, CHUNK);\n"
                                  "    __memcpy(y + start, yb,",
                                  "__bang_mul_scalar(xb, xb, 2.0f, CHUNK);\n    __bang_add(xb, xb, bb, CHUNK);\n"
                                  "    __memcpy(y + start, xb,")


def test_a_buffer_loaded_and_stored_has_three_slots_and_one_only_computed_on_has_one():
    src = IN_PLACE_NRAM.replace("__nram__ float bb[CHUNK];", "__nram__ float bb[CHUNK];\n    __nram__ float t[CHUNK];")
    src = src.replace("__bang_add(xb, xb, bb, CHUNK);", "__bang_add(t, xb, bb, CHUNK);\n    __bang_add(xb, t, t, CHUNK);")
    code = lines(kernel_of(pipelined(src)))
    assert "__nram__ float xb[3][CHUNK];" in code and "__nram__ float bb[2][CHUNK];" in code
    assert "__nram__ float t[CHUNK];" in code
    assert "__memcpy_async(y + start, xb[__xp_stores % 3], len * sizeof(float), NRAM2GDRAM);" in code
    for n in (0, 100, 2000):
        x, b, y = run_scale_add(pipelined(src), n)
        np.testing.assert_array_equal(y[:n], (x[:n] * F32(2) + b[:n]) * F32(2))


def test_compute_may_read_gdram_that_no_store_writes():
    src = SCALE_ADD.replace("__bang_mul_scalar(yb, xb, 2.0f, CHUNK);", "__bang_mul_scalar(yb, xb, b[0], CHUNK);")
    code = pipelined(src)
    assert "__memcpy_async" in code
    for n in (0, 100, 2000):
        x, b, y = run_scale_add(code, n)
        np.testing.assert_array_equal(y[:n], x[:n] * b[0] + b[:n])


@pytest.mark.parametrize("change, why", [
    (("x + start, len", "y + start, len"), "a load reads the array a store writes (an earlier chunk's result)"),
    (("__bang_mul_scalar(yb, xb, 2.0f, CHUNK);", "__bang_mul_scalar(yb, xb, y[0], CHUNK);"),
     "the compute reads the array a store writes"),
    (("__bang_mul_scalar(yb, xb, 2.0f, CHUNK);", "__bang_mul_scalar(yb, xb, 2.0f, CHUNK);\n    y[0] = 1.0f;"),
     "the compute writes GDRAM"),
    (("__bang_mul_scalar(yb, xb, 2.0f, CHUNK);", "__bang_mul_scalar(yb, xb, 2.0f, CHUNK);\n    __sync_cluster();"),
     "a barrier"),
    (("__bang_mul_scalar(yb, xb, 2.0f, CHUNK);", "__bang_mul_scalar(yb, xb, 2.0f, CHUNK);\n    len = 3;"),
     "the compute changes a definition the store reads"),
    (("#define CHUNK 64", "#define CHUNK 30000"), "the doubled buffers would not fit in NRAM"),
    (("__memcpy(y + start, yb, len * sizeof(float), NRAM2GDRAM);",
      "__memcpy(y + start, yb, len * sizeof(float), NRAM2GDRAM);\n    __memcpy(y, bb, 4, NRAM2GDRAM);"),
     "two stores into one array, in flight together"),
    (("start < n;", "start < (int)b[0];"), "a bound read from memory"),
    (("__bang_add(yb, yb, bb, CHUNK);", "__bang_add(yb, yb, bb, CHUNK);\n    n = n - 1;"),
     "the body changes the loop's bound"),
])
def test_loops_whose_stages_could_interfere_stay_as_they_are(change, why):
    src = SCALE_ADD.replace(*change)
    assert src != SCALE_ADD
    assert "__memcpy_async" not in pipelined(src), why


def test_a_body_that_declares_the_loop_variable_again_stays_as_it_is():
    # legal C: the inner block's `start` shadows the loop's; flattened, the two would be one scope
    src = SCALE_ADD.replace("start += taskDim * CHUNK) {\n",
                            "start += taskDim * CHUNK) {\n  {\n    const int base = start;\n    int start = base;\n")
    src = src.replace("  }\n}\n", "  }\n  }\n}\n")
    assert src.count("int start") == 2
    code = pipelined(src)
    assert "__memcpy_async" not in code
    for n in (0, 1000):
        x, b, y = run_scale_add(code, n)
        np.testing.assert_array_equal(y[:n], x[:n] * F32(2) + b[:n])


def test_a_translated_grid_stride_kernel_is_pipelined_and_exact():
    src = """__global__ void scale(const float *x, float *y, int n) {
      for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)
        y[i] = x[i] * 3.0f;
    }"""
    code = xpiler.translate(src, source="cuda", to="bang", launch={"grid": [2, 1, 1], "block": [64, 1, 1]})
    kernel = lines(kernel_of(code))
    assert "__bang_mul_scalar(__xp_y[__xp_computes % 2], __xp_x[__xp_computes % 2], 3.0f, __xp_n);" in kernel
    for n in (0, 50, 128, 129, 1000):
        x, y = np.random.rand(1000).astype(F32), np.zeros(1000, F32)
        xpiler.run(code, [x, y, n], entry="scale_kernel", lang="bang", backend="emulate")
        np.testing.assert_array_equal(y[:n], x[:n] * F32(3))
        np.testing.assert_array_equal(y[n:], 0)


def test_other_targets_are_not_implemented():
    with pytest.raises(PassError, match="pipeline: target 'cuda' is not implemented"):
        pipeline("pipeline{target=cuda}")[0].apply(xpiler.parse(SCALE_ADD, source="bang").module)
