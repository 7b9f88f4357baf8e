"""Footprint analysis (xpiler.synth.footprint): how many elements of each pointer parameter a function
accesses, exactly, or a FootprintError naming the buffer and the cause. Programs in, counts and
expressions (as C) out; and over the whole suite, the counts at the manifest's parameter values are
the manifest's buffer sizes."""

from __future__ import annotations

import functools
import math

import pytest

import xpiler
from xpiler import suite
from xpiler.emitters.c_printer import Printer
from xpiler.errors import TranslationError
from xpiler.oracle.bang import default_launch
from xpiler.synth import footprint as footprint_module
from xpiler.synth.footprint import FootprintError, footprint


def extents(src: str, function: str, pointers=None, **constants) -> dict[str, str]:
    """The footprint of every (or the listed) pointer parameter of ``function``, printed as C."""
    module = xpiler.lift(src, source="vnni")
    f = module.function(function)
    pointers = pointers or [p.name for p in f.params if p.type.is_pointer or p.dims]
    result = footprint(f, pointers, constants=constants, module=module)
    return {name: Printer("vnni").expr(count) for name, count in result.items()}


def refusal(src: str, function: str, pointer: str, **constants) -> str:
    module = xpiler.lift(src, source="vnni")
    with pytest.raises(FootprintError) as error:
        footprint(module.function(function), [pointer], constants=constants, module=module)
    return str(error.value)


TILED_GEMM = """
extern "C" void matmul(float *A, float *B, float *T) {
  for (int ax0 = 0; ax0 < 100; ++ax0)
    for (int ax1_outer = 0; ax1_outer < 3; ++ax1_outer)
      for (int ax1_inner = 0; ax1_inner < 16; ++ax1_inner)
        if (ax1_outer * 16 + ax1_inner < 40) {
          T[ax0 * 40 + ax1_outer * 16 + ax1_inner] = 0.0f;
          for (int k = 0; k < 300; ++k)
            T[ax0 * 40 + ax1_outer * 16 + ax1_inner] += A[ax0 * 300 + k] * B[k * 40 + ax1_outer * 16 + ax1_inner];
        }
}"""


def test_a_guard_on_a_partial_tile_limits_the_extent():
    # 3 tiles of 16 columns would reach column 47; the guard stops at 39
    assert extents(TILED_GEMM, "matmul") == {"A": "30000", "B": "12000", "T": "4000"}


TASK_ROWS = """
#define ROWS 45
#define COLS 25
static void copy_rows(float *A, float *T, unsigned taskDimX, int union_job) {
  for (unsigned taskId = 0; taskId < taskDimX; ++taskId) {
    int clusterId = union_job ? taskId / 4 : 0;
    int coreId = taskId % 4;
    for (int r = clusterId * 4 + coreId; r < ROWS; r += 16)
      for (int i = 0; i < COLS; ++i)
        T[r * COLS + i] = A[r * COLS + i];
  }
}"""


def test_rows_dealt_to_tasks_with_a_stride_and_a_start_that_depends_on_the_task():
    assert extents(TASK_ROWS, "copy_rows", taskDimX=16, union_job=1) == {"A": "1125", "T": "1125"}
    # 4 tasks of one cluster take rows 0-3, 16-19 and 32-35 only: row 35 is the last
    assert extents(TASK_ROWS, "copy_rows", taskDimX=4, union_job=0) == {"A": "900", "T": "900"}


def test_memcpy_through_an_alias_touches_the_bytes_it_copies():
    src = """#include <string.h>
void window(float *dst, const float *src, int n, int off) {
  const float *s = src + off;
  memcpy(dst, s, n * sizeof(float));
}"""
    assert extents(src, "window") == {"dst": "n", "src": "n + off"}
    assert extents(src, "window", n=10, off=5) == {"dst": "10", "src": "15"}


def test_char_accesses_count_the_elements_they_touch_in_part():
    src = """void bytes(float *p, float *q, int n) {
  for (int i = 0; i < n; ++i) {
    ((char *)p)[4 * i + 3] = 0;
    ((char *)q)[i] = 0;
  }
}"""
    assert extents(src, "bytes") == {"p": "n", "q": "(n + 3) / 4"}
    assert extents(src, "bytes", n=10) == {"p": "10", "q": "3"}


def test_local_sizes_with_integer_division():
    src = """void conv1d(const float *x, const float *w, float *y, int L, int K, int S) {
  const int LO = (L - K) / S + 1;
  for (int o = 0; o < LO; ++o) {
    float acc = 0.0f;
    for (int k = 0; k < K; ++k)
      acc += x[o * S + k] * w[k];
    y[o] = acc;
  }
}"""
    # stride 2 over 10 inputs with a window of 3: the last window ends at x[8]
    assert extents(src, "conv1d", L=10, K=3, S=2) == {"x": "9", "w": "3", "y": "4"}
    assert extents(src, "conv1d") == {"x": "(L - K) / S * S + K", "w": "K", "y": "(L - K) / S + 1"}
    # symbolic, S == 0 is not an input of the program; known, it is refused
    assert refusal(src, "conv1d", "x", L=10, K=3, S=0) == (
        "conv1d: the extent of x cannot be derived exactly: its parameter values break what the program needs: "
        "(L - K) / S divides by a non-zero value")


def test_unsigned_arithmetic_must_not_wrap_around():
    src = "void f(float *y, unsigned n) { for (unsigned i = 0; i < n - 1; ++i) y[i] = 0; }"
    assert extents(src, "f", n=5) == {"y": "4"}
    assert extents(src, "f") == {"y": "n - 1"}  # for n >= 1
    assert refusal(src, "f", "y", n=0) == ("f: the extent of y cannot be derived exactly: its parameter values "
                                          "break what the program needs: n - 1 does not wrap around")


DIM3_ADD = """
static void add(const float *A, float *C, dim3 gridDim, dim3 blockDim) {
  for (unsigned bx = 0; bx < gridDim.x; ++bx)
    for (unsigned tx = 0; tx < blockDim.x; ++tx) {
      int i = bx * blockDim.x + tx;
      if (i < 1000)
        C[i] = A[i];
    }
}"""


def test_dim3_members_as_constants_or_symbols():
    assert extents(DIM3_ADD, "add", **{"gridDim.x": 4, "blockDim.x": 256}) == {"A": "1000", "C": "1000"}
    assert extents(DIM3_ADD, "add", **{"gridDim.x": 3, "blockDim.x": 256}) == {"A": "768", "C": "768"}
    min_of = "blockDim.x * gridDim.x < 1000 ? blockDim.x * gridDim.x : 1000"
    assert extents(DIM3_ADD, "add") == {"A": min_of, "C": min_of}


def test_a_vector_loop_with_a_scalar_tail_covers_every_column():
    src = """void sgemv(const float *A, const float *x, float *y, int M, int K) {
  for (int i = 0; i < M; ++i) {
    const float *a = A + (long)i * K;
    float acc = 0.0f;
    int k = 0;
    for (; k + 16 <= K; k += 16)
      for (int j = 0; j < 16; ++j)
        acc += a[k + j] * x[k + j];
    for (; k < K; ++k)
      acc += a[k] * x[k];
    y[i] = acc;
  }
}"""
    assert extents(src, "sgemv") == {"A": "K * M", "x": "K", "y": "M"}
    assert extents(src, "sgemv", M=3, K=40) == {"A": "120", "x": "40", "y": "3"}


def test_an_avx512_tail_mask_limits_the_last_block():
    src = """#include <stdint.h>
extern "C" void relu(const float *A, float *out, int n) {
  const int full = n / 16 * 16;
  for (int i = 0; i < full; i += 16)
    for (int j = 0; j < 16; ++j)
      out[i + j] = A[i + j] > 0 ? A[i + j] : 0;
  if (full < n) {
    const uint16_t k = (uint16_t)((1u << (n - full)) - 1);
    for (int j = 0; j < 16; ++j)
      if ((k >> j) & 1)
        out[full + j] = A[full + j] > 0 ? A[full + j] : 0;
  }
}"""
    assert extents(src, "relu", n=1000) == {"A": "1000", "out": "1000"}
    assert extents(src, "relu") == {"A": "n", "out": "n"}


def test_pointers_passed_to_a_function_of_the_module_are_followed():
    src = """static void row_copy(const float *x, float *y, int n) {
  for (int j = 0; j < n; j++) y[j] = x[j];
}
void rows(float *input, float *output) {
  for (int i = 0; i < 5; i++)
    row_copy(input + i * 128, output + i * 128, 100);
}"""
    assert extents(src, "rows") == {"input": "612", "output": "612"}


def test_array_parameters_are_indexed_by_rows():
    src = "void f(float A[100][40], float B[][8]) { for (int i = 0; i < 10; ++i) for (int j = 0; j < 40; ++j) " \
          "A[i][j] = B[i][j % 8]; }"
    assert extents(src, "f") == {"A": "400", "B": "80"}


def test_a_buffer_never_accessed_needs_no_element():
    assert extents("void f(float *x, float *y, int n) { for (int i = 0; i < n; ++i) y[i] = 0; }", "f") == \
        {"x": "0", "y": "n"}


def test_a_possible_access_inside_the_definite_extent_is_exact():
    src = "void f(const float *x, float *y) { for (int i = 0; i < 8; ++i) { y[i + 1] = 0; if (x[i] > 0) y[i] = 1; } }"
    assert extents(src, "f") == {"x": "8", "y": "9"}


ERRORS = """
void helper(float *, int);
void gather(const float *x, const int *idx, float *y, int n) { for (int i = 0; i < n; ++i) y[i] = x[idx[i]]; }
void escape(float *x, int n) { helper(x, n); }
void shift(const float *x, float *y, int n) { for (int i = 0; i < n; ++i) y[i] = x[i - 1]; }
void loop(float *x, int n) { int i = 0; while (i < n) { x[i] = 0; ++i; } }
void relu_mask(const float *x, float *y, int n) { for (int i = 0; i < n; ++i) if (x[i] > 0) y[i] = 1; }
void spill(const float *x, float *y) { for (int i = 0; i < 8; ++i) { y[i] = 0; if (x[i] > 0) y[i + 1] = 1; } }
"""


def test_refusals_name_the_buffer_and_the_cause():
    assert refusal(ERRORS, "gather", "x") == ("gather: the extent of x cannot be derived exactly: the index depends "
                                              "on a value read from memory (idx[i]): x[idx[i]]")
    assert extents(ERRORS, "gather", ["idx", "y"]) == {"idx": "n", "y": "n"}
    assert refusal(ERRORS, "escape", "x") == ("escape: the extent of x cannot be derived exactly: the pointer "
                                              "escapes: passed to helper: helper(x, n)")
    assert refusal(ERRORS, "shift", "x", n=8) == ("shift: the extent of x cannot be derived exactly: the access "
                                                  "x[i - 1] may use a negative index")
    assert refusal(ERRORS, "loop", "x") == ("loop: the extent of x cannot be derived exactly: accessed in a while "
                                            "loop (not analysed): while (i < n)")
    assert refusal(ERRORS, "relu_mask", "y") == (
        "relu_mask: the extent of y cannot be derived exactly: it is only possibly accessed (it is guarded by a "
        "condition on a value read from memory (x[i])): y[i]")
    assert refusal(ERRORS, "spill", "y") == (
        "spill: the extent of y cannot be derived exactly: the access y[i + 1] may reach beyond what the definite "
        "accesses reach (it only possibly happens: it is guarded by a condition on a value read from memory (x[i]))")
    with pytest.raises(FootprintError) as error:
        footprint(xpiler.lift(ERRORS, source="vnni").function("loop"), ["n"])
    assert str(error.value) == "loop: n is not a pointer parameter"
    assert isinstance(error.value, TranslationError)


# --------------------------------------------------------------------------------------------------
# The whole suite: every VNNI program (after detensorize) and every BANG program lowered to C, at the
# manifest's parameter values. A BANG program's bare kernel is analysed with its launch; a program with
# a host entry through that entry's copies.

# Programs that touch less than the whole buffer: the pooling windows do not reach the last rows (and
# columns) of the input. (rows that are read) * (row length) or up to the last element read.
PARTIAL = {
    # 112 x 112 x 64, window 3, stride 2: the last window covers rows and columns 108-110
    ("vnni/maxpool_nhwc_avx512.cpp", "input"): (110 * 112 + 110 + 1) * 64,
    # 56 x 56 x 64, window 3, stride 2: rows and columns up to 54
    ("vnni/minpool_fused.cpp:min_pool2d", "data"): (54 * 56 + 54 + 1) * 64,
    # the BANG pooling copies whole input rows: rows 0-110 of 112, 0-54 of 56, 0-11 of 13
    ("bang/pool_nhwc.mlu:maxpool_nhwc_kernel@1x55x55x64", "x"): 111 * 112 * 64,
    ("bang/pool_nhwc.mlu:avgpool_nhwc_kernel@2x27x27x24", "x"): (56 + 55) * 56 * 24,
    ("bang/pool_nhwc.mlu:minpool_nhwc_kernel@1x27x27x64", "x"): 55 * 56 * 64,
    ("bang/pool_nhwc.mlu:minpool_nhwc_kernel@3x6x6x40", "x"): (2 * 13 + 12) * 13 * 40,
}

# Buffers whose extent is not derivable, with the start of the cause.
REFUSED = {
    ("vnni/deformable_attn.cpp:ms_deform_attn", "value"): "the index depends on a value read from memory "
                                                          "(level_start_index[l])",
    ("vnni/deformable_attn_avx512.cpp:ms_deform_attn_forward@2x150x256", "value"):
        "accessed through a pointer the analysis cannot follow (a value read from memory (level_start_index[l])",
    ("vnni/deformable_attn_avx512.cpp:ms_deform_attn_forward@2x150x256", "attn_weight"):
        "it is only possibly accessed (it runs after a data-dependent continue, break or return)",
    ("vnni/deformable_attn_avx512.cpp:ms_deform_attn_forward@1x200x8x40", "value"):
        "accessed through a pointer the analysis cannot follow (a value read from memory (level_start_index[l])",
    ("vnni/deformable_attn_avx512.cpp:ms_deform_attn_forward@1x200x8x40", "attn_weight"):
        "it is only possibly accessed (it runs after a data-dependent continue, break or return)",
    ("vnni/deformable_attn_fused.cpp:deformable_attention", "value"): "the index depends on the result of floorf",
    **{("bang/deform_attn.mlu:ms_deform_attn_forward_kernel@" + shape, "value"):
       "accessed through a pointer the analysis cannot follow (a value read from memory (starts[l])"
       for shape in ("1x100x256", "2x150x256", "1x200x512")},
}

# detensorize refuses this program (an intrinsic in code kept verbatim): analysed as written, its
# intrinsics are calls the pointers escape into
UNLOWERED = "pool_nhwc_avx512.cpp"


@functools.lru_cache(maxsize=None)
def lowered(dialect: str, file: str, launch_key: str | None) -> xpiler.ir.Module:
    entry = next(e for e in suite.entries(dialect) if e.file == file)
    if dialect == "vnni":
        if file == UNLOWERED:
            return xpiler.lift(entry.source, source="vnni")
        code = xpiler.translate(entry.source, to="vnni", source="vnni", pipeline="detensorize")
    else:
        launch = next(e.launch for e in suite.entries(dialect) if e.file == file and str(e.launch) == launch_key)
        # the lowered program as raising to a device sees it: its device mirrors kept and its
        # subscripts and loops as written (dce, unit-arrays, tensorize, elide-mirrors, wide-subscripts, simd-jam,
        # simd-unswitch, lane-bounds and byte-flags run only for the vnni target, and a kernel reading the caller's array directly
        # has task-count-dependent loops the analysis does not always follow)
        pipeline = xpiler.api.lower_and_raise("bang", "vnni", program=xpiler.parse(entry.source, source="bang"),
                                              launch=launch)
        for cpu_only in ("dce", "unit-arrays", "tensorize{target=vnni}", "elide-mirrors", "wide-subscripts", "simd-jam", "simd-unswitch",
                         "lane-bounds", "byte-flags"):
            pipeline = pipeline.replace(f",{cpu_only}", "")
        code = xpiler.translate(entry.source, to="vnni", source="bang", launch=launch, pipeline=pipeline)
    return xpiler.lift(code, source="vnni")


def analysed(entry) -> tuple[xpiler.ir.Function, dict]:
    """The function whose footprint sizes the entry's buffers, with the constants of the call."""
    module = lowered(entry.dialect, entry.file, str(entry.launch) if entry.dialect == "bang" else None)
    constants = {a.name: a.value for a in entry.args if a.role == "scalar"}
    host = module.function(entry.entry)
    kernel_name = entry.entry.removesuffix("_kernel")
    if entry.dialect == "bang" and entry.entry.endswith("_kernel") and \
            any(f.name == kernel_name and f.body is not None for f in module.functions()):
        # the bare kernel of a generated K_kernel entry, with its launch
        launch = entry.launch
        task_dim, func_type = (launch["task_dim"], launch["func_type"]) if launch else \
            default_launch(entry.source, kernel_name)
        constants.update(taskDimX=task_dim[0], taskDimY=task_dim[1], taskDimZ=task_dim[2],
                         union_job=int(func_type != "BLOCK"))
        kernel = module.function(kernel_name)
        names = dict(zip([p.name for p in host.params], [p.name for p in kernel.params]))
        return kernel, {names.get(k, k): v for k, v in constants.items()}
    return host, constants


def suite_outcomes() -> dict:
    """(entry id, buffer) -> element count or the refusal's cause, for every buffer of the suite."""
    outcomes = {}
    for entry in suite.entries("vnni") + suite.entries("bang"):
        function, constants = analysed(entry)
        module = lowered(entry.dialect, entry.file, str(entry.launch) if entry.dialect == "bang" else None)
        # the manifest lists the arguments in parameter order (a bare kernel's come first)
        pointers = {a.name: p.name for a, p in zip(entry.args, function.params) if a.role != "scalar"}
        try:
            counts = footprint(function, list(pointers.values()), constants=constants, module=module)
        except FootprintError:
            counts = {}
            for name in pointers.values():
                try:
                    counts[name] = footprint(function, [name], constants=constants, module=module)[name]
                except FootprintError as error:
                    counts[name] = str(error).split("cannot be derived exactly: ", 1)[1]
        for a in entry.args:
            if a.role == "scalar":
                continue
            count = counts[pointers[a.name]]
            outcomes[(entry.id, a.name)] = count if isinstance(count, str) else count.value
    return outcomes


def test_the_suite_buffers_are_the_footprints_at_the_manifest_sizes():
    outcomes = suite_outcomes()
    expected = {}
    for entry in suite.entries("vnni") + suite.entries("bang"):
        for a in entry.args:
            if a.role != "scalar":
                expected[(entry.id, a.name)] = PARTIAL.get((entry.id, a.name), math.prod(a.shape))
    refused = {key: cause for key, cause in outcomes.items() if isinstance(cause, str)}
    unlowered = {key: cause for key, cause in refused.items() if key[0].startswith(f"vnni/{UNLOWERED}")}
    assert len(unlowered) == 16 and all(cause.startswith("the pointer escapes: passed to _mm512_mask_")
                                        for cause in unlowered.values())
    assert {key: cause[:len(REFUSED.get(key, ""))] for key, cause in refused.items() if key not in unlowered} == \
        REFUSED
    counted = {key: value for key, value in outcomes.items() if not isinstance(value, str)}
    assert counted == {key: value for key, value in expected.items() if key not in refused}
    assert len(counted) == 486 and len(refused) == 16 + 9


DEALT_CHUNKS = """
extern "C" void scale(const float *x, float *y, int n) {
  for (unsigned taskIdX = 0; taskIdX < 16; ++taskIdX) {
    unsigned taskId = taskIdX;
    int clusterId = taskId / 4, coreId = taskId % 4;
    for (int i = (clusterId * 4 + coreId) * 256; i < n; i += 16 * 256) {
      int len = n - i < 256 ? n - i : 256;
      for (int j = 0; j < len; ++j) y[i + j] = 2.0f * x[i + j];
    }
  }
}"""


def test_chunks_dealt_round_robin_to_tasks_cover_a_symbolic_size_exactly():
    # task t takes chunks t, t + 16, ...: together the chunks 0, 1, 2, ... up to n
    assert extents(DEALT_CHUNKS, "scale") == {"x": "n", "y": "n"}
    assert extents(DEALT_CHUNKS, "scale", n=5000) == {"x": "5000", "y": "5000"}


def test_a_tail_mask_built_under_a_guard_limits_the_last_block():
    src = """#include <stdint.h>
extern "C" void copy(const float *A, float *out, int n) {
  const int full = n / 64 * 64;
  const uint64_t k = (n - full) ? (((uint64_t)1 << (n - full)) - 1) : 0;
  for (int i = 0; i < full; ++i) out[i] = A[i];
  for (int j = 0; j < 64; ++j)
    if ((k >> j) & 1)
      out[full + j] = A[full + j];
}"""
    assert extents(src, "copy") == {"A": "n", "out": "n"}


# --------------------------------------------------------------------------------------------------
# Extent inspectors: where no closed form is derived, the exact extent computed at run time.

ROWS_BY_DIVISOR = """
extern "C" void pool_rows(const float *x, float *y, int N, int H, int W, int K, int S) {
  int HO = (H - K) / S + 1;
  for (int r = 0; r < N * HO; ++r) {
    int n = r / HO, oh = r % HO;
    for (int kh = 0; kh < K; ++kh)
      for (int w = 0; w < W; ++w)
        y[r * W + w] += x[(n * H + oh * S + kh) * W + w];
  }
}"""

PADDED_TAPS = """
extern "C" void taps(const float *x, const float *w, float *y, int H, int HO, int K, int S, int P) {
  for (int oh = 0; oh < HO; ++oh)
    for (int kh = 0; kh < K; ++kh) {
      int ih = oh * S - P + kh;
      if (ih >= 0 && ih < H)
        y[oh] += w[kh] * x[ih];
    }
}"""


def inspected(src: str, function: str, pointer: str):
    module = xpiler.lift(src, source="vnni")
    found: list = []
    counts = footprint(module.function(function), [pointer], module=module, inspectors=found)
    return counts[pointer], found


def run_inspector(inspector, call, **values) -> int:
    """The inspector's result at ``values``, compiled and run like any program."""
    import numpy as np
    params = ", ".join(f"long long {p.name}" for p in inspector.params)
    src = ("\n".join(Printer("vnni").function(inspector)) + f'\nextern "C" void probe(long long *out, {params}) '
           f"{{ out[0] = {Printer('vnni').expr(call)}; }}\n")
    out = np.zeros(1, dtype=np.int64)
    xpiler.run(src, [out] + [values[p.name] for p in inspector.params], entry="probe", lang="vnni")
    return int(out[0])


def padded_taps_reach(H, HO, K, S, P) -> int:
    """The largest index of x PADDED_TAPS reads, + 1, by running its loops."""
    return max((oh * S - P + kh + 1 for oh in range(HO) for kh in range(K) if 0 <= oh * S - P + kh < H), default=0)


def test_rows_split_by_a_symbolic_divisor_get_a_closed_form_or_out_of_budget_an_inspector(monkeypatch):
    # z3 bounds r / HO and r % HO over symbolic sizes (the last row): an exact closed form
    closed = extents(ROWS_BY_DIVISOR, "pool_rows", ["x"])["x"]
    shapes = ((2, 9, 3, 3, 2), (1, 10, 4, 3, 3), (3, 7, 2, 2, 2), (2, 5, 1, 5, 1))
    for N, H, W, K, S in shapes:
        HO = (H - K) // S + 1
        expected = ((N - 1) * H + (HO - 1) * S + K - 1) * W + W
        assert eval(closed.replace("/", "//"), dict(N=N, H=H, W=W, K=K, S=S)) == expected  # all terms >= 0
    # where z3 cannot decide the maximum (its resource budget runs out), the same exact terms
    # are evaluated at run time instead
    def undecided(solver, name, accesses):
        raise solver.fail(name, "z3 could not decide the largest end (as when its budget runs out)")
    monkeypatch.setattr(footprint_module._Solver, "symbolic", undecided)
    assert "z3 could not decide" in refusal(ROWS_BY_DIVISOR, "pool_rows", "x")
    call, found = inspected(ROWS_BY_DIVISOR, "pool_rows", "x")
    [inspector] = found
    assert Printer("vnni").expr(call) == "__xp_extent_pool_rows_x(N, H, W, K, S)"
    # only the row counter is enumerated: the window and the columns are at their last values
    assert sum(isinstance(n, xpiler.ir.For) for n in xpiler.ir.walk(inspector.body)) == 1
    for N, H, W, K, S in shapes:
        HO = (H - K) // S + 1
        expected = ((N - 1) * H + (HO - 1) * S + K - 1) * W + W
        assert run_inspector(inspector, call, N=N, H=H, W=W, K=K, S=S) == expected


def test_the_outcome_depends_on_z3_resources_not_on_the_clock(monkeypatch):
    # a machine 20 times slower (a clock that runs 20 times faster) derives the same closed form: only
    # z3's resource counts decide, never the time a query took
    closed = extents(ROWS_BY_DIVISOR, "pool_rows", ["x"])["x"]
    real = footprint_module.time.monotonic
    start = real()
    monkeypatch.setattr(footprint_module.time, "monotonic", lambda: start + 20 * (real() - start))
    assert extents(ROWS_BY_DIVISOR, "pool_rows", ["x"])["x"] == closed
    # and a budget spent is a refusal that says so (an inspector may still size the buffer)
    monkeypatch.setattr(footprint_module.time, "monotonic", real)
    monkeypatch.setattr(footprint_module, "BUDGET_RLIMIT", 1000)
    assert refusal(ROWS_BY_DIVISOR, "pool_rows", "x") == \
        "pool_rows: the extent of x cannot be derived exactly: deriving it takes more than the analysis budget"


def test_padding_guards_whose_last_tap_is_not_the_largest_are_sized_by_an_inspector():
    # at H=4, HO=2, K=3, S=3, P=1 the last output row's taps 4 and 5 are padding: x[3] is the last read
    call, [inspector] = inspected(PADDED_TAPS, "taps", "x")
    for H, HO, K, S, P in ((4, 2, 3, 3, 1), (8, 4, 3, 2, 1), (5, 5, 3, 1, 1), (12, 2, 12, 1, 7), (3, 1, 5, 1, 0)):
        assert run_inspector(inspector, call, H=H, HO=HO, K=K, S=S, P=P) == padded_taps_reach(H, HO, K, S, P)


def test_no_inspector_where_the_accesses_are_not_followed():
    # a data-dependent index stays a refusal: there are no terms to evaluate
    module = xpiler.lift(ERRORS, source="vnni")
    found: list = []
    with pytest.raises(FootprintError, match="value read from memory"):
        footprint(module.function("gather"), ["x"], module=module, inspectors=found)
    assert found == []


CACHED_HEADS = """
extern "C" void heads(const float *K, const float *Q, float *out, int units, int blocks, int L) {
  float k_w[4096];
  int loaded = -1;
  for (int u = 0; u < units; ++u) {
    int bh = u / blocks;
    if (bh != loaded) {
      for (int i = 0; i < L; ++i) k_w[i] = K[bh * L + i];
      loaded = bh;
    }
    out[u] = Q[u] * k_w[u % L];
  }
}"""


def test_a_tile_reloaded_when_its_key_changes_is_read_for_every_key():
    # bh takes every value up to (units - 1) / blocks, each loaded at its first unit
    assert extents(CACHED_HEADS, "heads", ["K"]) == {"K": "(units - 1) / blocks * L + L"}
    assert extents(CACHED_HEADS, "heads", ["K"], units=10, blocks=4, L=8) == {"K": "24"}


def test_a_cached_access_that_depends_on_the_loop_otherwise_is_only_possible():
    src = CACHED_HEADS.replace("K[bh * L + i]", "K[u * L + i]")
    assert "it is loaded into a cache keyed by" in refusal(src, "heads", "K")
