"""Deferred ``__memcpy_async`` in the BANG emulation (runtime/bang_emu.h, bang_dma.h): a pending copy
moves its bytes only when a ``__sync*`` wait (or the task's end) completes it, and touching a copy in
flight from an intrinsic or another copy is a fault — so a missing or misplaced wait fails a test."""

import numpy as np
import pytest

import xpiler
from xpiler.errors import EmulationFault

from test_bang_emulation import run_k   # a kernel body over A = 0..n-1, out zeroed; check mode

F32 = np.float32
UNION1 = {"task_dim": [4], "func_type": "UNION1"}


def race(fn, operand, relation, direction, wait):
    """The fault message of a race with a pending copy (as a regular expression)."""
    what = "overlaps the destination" if relation == "dst" else "overwrites the source"
    return (rf"{fn}: operand {operand} .*{what} of a __memcpy_async \({direction}\) issued earlier by this task "
            rf"that has not been waited for \(task \d+ .*call {wait} \(or __sync\(\)\)")


# ---------------------------------------------------------------------------------------------
# a double-buffered element-wise kernel: out = 2 * A + 1, chunks of 64 floats, each task its share

DOUBLE_BUFFERED = r"""#include <bang.h>
#define CHUNK 64
extern "C" __mlu_global__ void k(float *A, float *out, int n) {
  __nram__ float in[2][CHUNK];
  __nram__ float res[2][CHUNK];
  int per = (n + taskDim - 1) / taskDim;
  int lo = taskId * per;
  int hi = lo + per < n ? lo + per : n;
  int chunks = hi > lo ? (hi - lo + CHUNK - 1) / CHUNK : 0;
  if (chunks == 0) return;
  __memcpy_async(in[0], A + lo, (hi - lo < CHUNK ? hi - lo : CHUNK) * sizeof(float), GDRAM2NRAM);
  for (int c = 0; c < chunks; ++c) {
    int cur = c % 2;
    int off = lo + c * CHUNK;
    int len = hi - off < CHUNK ? hi - off : CHUNK;
    __sync_io();  /* WAIT: chunk c has landed, the store of chunk c - 1 has left */
    if (c + 1 < chunks) {
      int noff = off + CHUNK;
      int nlen = hi - noff < CHUNK ? hi - noff : CHUNK;
      __memcpy_async(in[1 - cur], A + noff, nlen * sizeof(float), GDRAM2NRAM);
    }
    COMPUTE
    __memcpy_async(out + off, res[cur], len * sizeof(float), NRAM2GDRAM);
  }
  __sync_io();
}
"""
VECTOR = "__bang_mul_scalar(res[cur], in[cur], 2.0f, len);\n    __bang_add_scalar(res[cur], res[cur], 1.0f, len);"
SCALAR = "for (int i = 0; i < len; ++i) res[cur][i] = in[cur][i] * 2.0f + 1.0f;"
WAIT = "__sync_io();  /* WAIT: chunk c has landed, the store of chunk c - 1 has left */"


def double_buffered(compute, wait="top"):
    src = DOUBLE_BUFFERED.replace("COMPUTE", compute)
    if wait == "none":
        src = src.replace(WAIT, "")
    elif wait == "after compute":       # misplaced: the compute reads chunk c before it has landed
        src = src.replace(WAIT, "").replace(compute, compute + "\n    __sync_io();")
    assert src.count("__sync_io()") == (2 if wait != "none" else 1)
    return src


def run_db(src, n, launch=None):
    A = (np.arange(n, dtype=F32) * 0.5 - 7).astype(F32)
    out = np.zeros(n, F32)
    xpiler.run(src, [A, out, n], lang="bang", check=True, launch=launch)
    return A, out


@pytest.mark.parametrize("compute", [VECTOR, SCALAR], ids=["vector", "scalar"])
@pytest.mark.parametrize("n,launch", [(64, None), (200, None), (1000, None), (1000, UNION1), (130, UNION1)])
def test_double_buffered_kernel_is_exact(compute, n, launch):
    A, out = run_db(double_buffered(compute), n, launch)
    np.testing.assert_array_equal(out, A * F32(2) + F32(1))


def test_double_buffered_kernel_without_its_wait_faults_in_an_intrinsic():
    # chunk 0 is still in flight when __bang_mul_scalar reads it
    with pytest.raises(EmulationFault, match=race("__bang_mul_scalar", "src in NRAM array 'in' \\(line 4\\)",
                                                  "dst", "GDRAM2NRAM", "__sync_io\\(\\)")):
        run_db(double_buffered(VECTOR, wait="none"), 200)
    with pytest.raises(EmulationFault, match=race("__bang_mul_scalar", "src", "dst", "GDRAM2NRAM", "__sync_io\\(\\)")):
        run_db(double_buffered(VECTOR, wait="after compute"), 200)


def test_double_buffered_kernel_without_its_wait_reads_stale_data_in_scalar_code():
    # two chunks: scalar code reads both input buffers before their loads complete (at the final wait):
    # the 0xFF fill, a NaN, everywhere
    A, out = run_db(double_buffered(SCALAR, wait="none"), 128)
    assert np.isnan(out).all()
    # more chunks: the load of chunk 2 into in[0] is issued while the load of chunk 0 is still in flight
    with pytest.raises(EmulationFault, match=race("__memcpy_async", "dst \\(NRAM side of GDRAM2NRAM\\) in NRAM "
                                                  "array 'in'", "dst", "GDRAM2NRAM", "__sync_io\\(\\)")):
        run_db(double_buffered(SCALAR, wait="none"), 200)
    # the wait after the compute: only chunk 0 is computed from data not yet there
    A, out = run_db(double_buffered(SCALAR, wait="after compute"), 200)
    want = A * F32(2) + F32(1)
    assert np.isnan(out[:64]).all()
    np.testing.assert_array_equal(out[64:], want[64:])


# ---------------------------------------------------------------------------------------------
# races with a pending copy

def test_intrinsic_reading_a_pending_destination_faults():
    body = ("__nram__ float buf[64];\n__nram__ float two[64];\n__memcpy_async(buf, A, 256, GDRAM2NRAM);\n"
            "{}\n__bang_mul_scalar(two, buf, 2.0f, 64);\n__memcpy(out, two, 256, NRAM2GDRAM);")
    with pytest.raises(EmulationFault, match=race("__bang_mul_scalar", "src in NRAM array 'buf' \\(line 3\\)",
                                                  "dst", "GDRAM2NRAM", "__sync_io\\(\\)")):
        run_k(body.format(""))
    np.testing.assert_array_equal(run_k(body.format("__sync_io();")), 2 * np.arange(64, dtype=F32))


def test_writing_a_pending_source_faults_and_reading_it_is_fine():
    store = ("__nram__ float buf[64];\n__nram__ float two[64];\n__memcpy(buf, A, 256, GDRAM2NRAM);\n"
             "__memcpy_async(out, buf, 256, NRAM2GDRAM);\n{}\n__sync_io();")
    # a synchronous __memcpy over the source of the pending store
    with pytest.raises(EmulationFault, match=race("__memcpy", "dst \\(NRAM side of GDRAM2NRAM\\) in NRAM array "
                                                  "'buf'", "src", "NRAM2GDRAM", "__sync_io\\(\\)")):
        run_k(store.format("__memcpy(buf, A + 1, 4, GDRAM2NRAM);"))
    # an intrinsic writing it
    with pytest.raises(EmulationFault, match=race("__bang_write_zero", "dst", "src", "NRAM2GDRAM", "__sync_io\\(\\)")):
        run_k(store.format("__bang_write_zero(buf + 32, 32);"))
    # reading it (an intrinsic, another copy) is fine
    out = run_k(store.format("__bang_mul_scalar(two, buf, 2.0f, 64);\n__memcpy_async(two, buf, 256, NRAM2NRAM);"))
    np.testing.assert_array_equal(out, np.arange(64, dtype=F32))


def test_a_copy_into_a_pending_destination_faults():
    body = ("__nram__ float buf[64];\n__nram__ float b2[64];\n__memcpy_async(buf, A, 256, GDRAM2NRAM);\n{}\n"
            "__sync();\n__memcpy(out, b2, 256, NRAM2GDRAM);")
    with pytest.raises(EmulationFault, match=race("__memcpy_async", "src \\(NRAM side of NRAM2NRAM\\)", "dst",
                                                  "GDRAM2NRAM", "__sync_io\\(\\)")):
        run_k(body.format("__memcpy_async(b2, buf, 256, NRAM2NRAM);"))
    with pytest.raises(EmulationFault, match=race("__memcpy", "dst \\(NRAM side of GDRAM2NRAM\\)", "dst",
                                                  "GDRAM2NRAM", "__sync_io\\(\\)")):
        run_k(body.format("__memcpy(buf + 63, A, 4, GDRAM2NRAM);"))
    out = run_k(body.format("__memcpy(b2, A + 1, 252, GDRAM2NRAM);\nb2[63] = 7.0f;"))   # disjoint: fine
    np.testing.assert_array_equal(out, np.r_[np.arange(1, 64), 7].astype(F32))


def test_strided_copies_into_alternating_rows_do_not_conflict():
    # rows 0, 2, 4, 6 of buf from A[0:32], rows 1, 3, 5, 7 from A[32:64]: the hulls overlap, the
    # segments do not; the first as a 2-D copy, the second as a 3-D copy (2 x 2 segments)
    body = ("__nram__ float buf[9][8];\n"
            "__memcpy_async(buf[0], A, 32, GDRAM2NRAM, 64, 32, 3);\n"
            "__memcpy_async(buf[1], A + 32, 32, GDRAM2NRAM, 64, 1, 128, 1, 32, 1, 64, 1);\n"
            "{}\n__sync_io();\n__memcpy(out, buf, 256, NRAM2GDRAM);")
    A = np.arange(64, dtype=F32).reshape(8, 8)
    for between in ["", "__bang_write_zero(buf[8], 8);"]:     # row 8: no copy touches it
        out = run_k(body.format(between)).reshape(8, 8)
        np.testing.assert_array_equal(out[0::2], A[:4])
        np.testing.assert_array_equal(out[1::2], A[4:])
    # an intrinsic over a row of the second copy
    with pytest.raises(EmulationFault, match=race("__bang_write_zero", "dst in NRAM array 'buf' \\(line 3\\)", "dst",
                                                  "GDRAM2NRAM", "__sync_io\\(\\)")):
        run_k(body.format("__bang_write_zero(buf[5], 8);"))
    # a copy whose first segment (row 8) is free but whose second (row 3, stride -5 rows) is in flight
    with pytest.raises(EmulationFault, match=race("__memcpy_async", "dst", "dst", "GDRAM2NRAM", "__sync_io\\(\\)")):
        run_k(body.format("__memcpy_async(buf[8], A, 32, GDRAM2NRAM, -160, 1, 0, 0, 32, 1, 0, 0);"))
    run_k(body.format("__memcpy_async(buf[8], A, 16, GDRAM2NRAM, 16, 1, 0, 0, 16, 1, 0, 0);"))  # both in row 8


# ---------------------------------------------------------------------------------------------
# which wait completes what

LOAD_THEN = ("__nram__ float buf[64];\n__nram__ float two[64];\n__memcpy_async(buf, A, 256, GDRAM2NRAM);\n"
             "{}\n{}\n__memcpy(out, two, 256, NRAM2GDRAM);")
SCALAR_COPY = "for (int i = 0; i < 64; ++i) two[i] = buf[i];"
VECTOR_COPY = "__bang_mul_scalar(two, buf, 1.0f, 64);"


@pytest.mark.parametrize("wait", ["__sync();", "__sync_io();", "__sync_io_move_compute(true, true, false, false);",
                                  "__sync_all();", "__sync_cluster();"])
def test_waits_that_complete_an_io_copy(wait):
    np.testing.assert_array_equal(run_k(LOAD_THEN.format(wait, SCALAR_COPY)), np.arange(64, dtype=F32))
    np.testing.assert_array_equal(run_k(LOAD_THEN.format(wait, VECTOR_COPY)), np.arange(64, dtype=F32))


@pytest.mark.parametrize("wait", ["__sync_compute();", "__sync_move();", ""])
def test_waits_that_do_not_complete_an_io_copy(wait):
    out = run_k(LOAD_THEN.format(wait, SCALAR_COPY))   # stale: the 0xFF fill
    assert (out.view(np.uint32) == 0xFFFFFFFF).all()
    with pytest.raises(EmulationFault, match=race("__bang_mul_scalar", "src", "dst", "GDRAM2NRAM", "__sync_io\\(\\)")):
        run_k(LOAD_THEN.format(wait, VECTOR_COPY))


def test_sync_move_completes_on_chip_copies_and_sync_io_does_not():
    body = ("__nram__ float a[64];\n__nram__ float b[64];\n__memcpy(a, A, 256, GDRAM2NRAM);\n"
            "__memcpy_async(b, a, 256, NRAM2NRAM);\n{}\n__memcpy(out, b, 256, NRAM2GDRAM);")
    np.testing.assert_array_equal(run_k(body.format("__sync_move();")), np.arange(64, dtype=F32))
    with pytest.raises(EmulationFault, match=race("__memcpy", "src \\(NRAM side of NRAM2GDRAM\\) in NRAM array 'b'",
                                                  "dst", "NRAM2NRAM", "__sync_move\\(\\)")):
        run_k(body.format("__sync_io();"))


def test_the_source_is_read_when_the_copy_completes():
    # scalar stores cannot be intercepted: the pending store takes what the buffer holds at the wait
    body = ("__nram__ float buf[64];\n__memcpy(buf, A, 256, GDRAM2NRAM);\n"
            "__memcpy_async(out, buf, 256, NRAM2GDRAM);\nbuf[0] = 100.0f;\n{}\nbuf[1] = 200.0f;")
    want = np.arange(64, dtype=F32)
    want[0] = 100
    np.testing.assert_array_equal(run_k(body.format("__sync_io();")), want)


# ---------------------------------------------------------------------------------------------
# the end of a task, several tasks

def test_a_copy_pending_at_the_end_of_the_task_is_completed():
    body = ("__nram__ float buf[16];\nint off = taskId * 16;\n__memcpy(buf, A + off, 64, GDRAM2NRAM);\n"
            "__bang_mul_scalar(buf, buf, 2.0f, 16);\n__memcpy_async(out + off, buf, 64, NRAM2GDRAM);")
    want = 2 * np.arange(64, dtype=F32)
    np.testing.assert_array_equal(run_k(body, launch=UNION1), want)
    np.testing.assert_array_equal(run_k(body, launch={"task_dim": [4], "func_type": "BLOCK"}), want)


def test_a_stack_local_as_a_side_of_an_async_copy():
    # the helper returns with the store from its local still pending: the bytes it held at issue are
    # stored (its frame is gone by the task's end)
    helper = ("__mlu_func__ void stage(float *dst, float *src) {\n  float loc[64];\n"
              "  __memcpy(loc, src, 256, GDRAM2NRAM);\n  __memcpy_async(dst, loc, 256, NRAM2GDRAM);\n}\n")
    src = ("#include <bang.h>\n" + helper + "extern \"C\" __mlu_global__ void k(float *A, float *out) {\n"
           "  stage(out, A);\n}\n")
    A, out = np.arange(64, dtype=F32), np.zeros(64, F32)
    xpiler.run(src, [A, out], lang="bang", check=True)
    np.testing.assert_array_equal(out, A)
    # a local as the destination, waited for
    out = run_k("float loc[64];\n__memcpy_async(loc, A, 256, GDRAM2NRAM);\n__sync_io();\n"
                "__memcpy(out, loc, 256, NRAM2GDRAM);")
    np.testing.assert_array_equal(out, np.arange(64, dtype=F32))


def test_barrier_completes_the_tasks_own_copies():
    # each core loads its quarter into SRAM asynchronously; after the barrier core 0 reads all of it
    body = ("__mlu_shared__ float s[64];\n__nram__ float buf[64];\n"
            "__memcpy_async(s + coreId * 16, A + coreId * 16, 64, GDRAM2SRAM);\n__sync_cluster();\n"
            "if (coreId == 0) {{\n  __memcpy(buf, s, 256, SRAM2NRAM);\n  __memcpy(out, buf, 256, NRAM2GDRAM);\n}}")
    np.testing.assert_array_equal(run_k(body.format(), launch=UNION1), np.arange(64, dtype=F32))
