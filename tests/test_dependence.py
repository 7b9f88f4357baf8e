"""Dependence analysis (xpiler.ir.dependence): which loops may run their iterations concurrently, and
the one-line reason when they may not. Programs are plain sequential C, lifted as VNNI C."""

from __future__ import annotations

import glob
import os

import pytest

import xpiler
from xpiler import ir
from xpiler.ir.dependence import function_env, is_parallel, parallel_obstacle
from xpiler.ir.effects import assigned_scalars

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def loop(src: str, var: str, nth: int = 0, *, constants=None, typed: bool = True, function: str | None = None,
         delinearize: bool = False):
    """The reason (or None) for the ``nth`` loop over ``var`` in ``function`` (default: the first)."""
    module = xpiler.lift(src, source="vnni")
    fn = next(f for f in module.functions() if f.body is not None and function in (None, f.name))
    found = [n for n in ir.walk(fn.body) if isinstance(n, ir.For) and n.canonical() and n.canonical()[0] == var]
    env = function_env(module, fn) if typed else None
    reason = parallel_obstacle(found[nth], constants=constants or {}, env=env, delinearize=delinearize)
    assert is_parallel(found[nth], constants=constants or {}, env=env, delinearize=delinearize) == (reason is None)
    return reason


# ---- parallel loops ------------------------------------------------------------------------------

def test_elementwise_loop_is_parallel():
    assert loop("void f(float *a, const float *b, int n) { for (int i = 0; i < n; i++) a[i] = b[i] * 2.0f; }",
                "i") is None


def test_gemm_rows_with_private_accumulator_are_parallel():
    src = """void gemm(const float *A, const float *B, float *C) {
      for (int i = 0; i < 32; i++)
        for (int j = 0; j < 16; j++) {
          float acc = 0.0f;
          for (int k = 0; k < 64; k++) acc += A[i * 64 + k] * B[k * 16 + j];
          C[i * 16 + j] = acc;
        }
    }"""
    assert loop(src, "i") is None
    assert loop(src, "j") is None
    assert loop(src, "k") == "writes scalar `acc` declared outside the loop"


def test_guarded_tail_of_a_split_loop_is_parallel():
    src = """void f(float *y, const float *x) {
      for (int o = 0; o < 7; o++)
        for (int i = 0; i < 16; i++)
          if (o * 16 + i < 100) y[o * 16 + i] = x[o * 16 + i] + 1.0f;
    }"""
    assert loop(src, "o") is None
    assert loop(src, "i") is None


def test_tiles_of_a_matrix_with_runtime_shape_are_apart_row_by_row_and_column_by_column():
    # unit -> (batch b, column tile n0): the stores C[(b * M + m0 + s) * N + n0 + i] are the same
    # element only when the rows b * M + m0 + s and the columns n0 + i are (0 <= n0 + i < N)
    src = """void f(float *C, const float *A, int batch, int M, int N) {
      int n_tiles = (N + 63) / 64;
      for (int unit = 0; unit < batch * n_tiles; ++unit) {
        int b = unit / n_tiles;
        int n0 = (unit % n_tiles) * 64;
        int nt = N - n0 < 64 ? N - n0 : 64;
        for (int m0 = 0; m0 < M; m0 += 32) {
          int mt = M - m0 < 32 ? M - m0 : 32;
          for (int s = 0; s < mt; ++s)
            for (int i = 0; i < nt; ++i)
              C[(b * M + m0) * N + n0 + s * N + i] = A[(b * M + m0 + s) * N + n0 + i];
        }
      }
    }"""
    assert loop(src, "unit", delinearize=True) is None
    assert "the solver gave up" in loop(src, "unit")   # asked as a whole
    # a column tile one element wider than the tile step: neighbouring tiles share a column
    wide = src.replace("N - n0 < 64 ? N - n0 : 64", "N - n0 < 65 ? N - n0 : 65")
    assert loop(wide, "unit", delinearize=True) == ("C[(b * M + m0) * N + n0 + s * N + i] written in one iteration and "
                                  "written at C[(b * M + m0) * N + n0 + s * N + i] in another")


def test_pointer_aliases_declared_in_the_body_resolve_to_their_base():
    src = """void f(const float *x, float *y, int rows) {
      for (int r = 0; r < rows; r++) {
        const float *xr = x + r * 128;
        float *yr = &y[r * 128];
        for (int j = 0; j < 128; j++) yr[j] = xr[j] * xr[j];
      }
    }"""
    assert loop(src, "r") is None


def test_two_dimensional_arrays_and_private_buffers():
    src = """void f(float out[8][32], const float *in) {
      for (int i = 0; i < 8; i++) {
        float row[32];
        for (int j = 0; j < 32; j++) row[j] = in[i * 32 + j];
        for (int j = 0; j < 32; j++) out[i][j] = row[31 - j];
      }
    }"""
    assert loop(src, "i") is None


def test_tree_reduction_step_is_parallel_under_its_guard():
    src = """void f(float *s, int stride) {
      for (int t = 0; t < 128; t++)
        if (t < stride) s[t] = s[t] + s[t + stride];
    }"""
    assert loop(src, "t") is None


def test_grid_stride_loop_is_parallel_once_the_block_size_is_known():
    src = """struct dim3 { unsigned x, y, z; };
    void f(float *out, const float *in, int n, dim3 blockDim) {
      for (unsigned tx = 0; tx < blockDim.x; ++tx)
        for (int c = tx; c < n; c += blockDim.x) out[c] = in[c];
    }"""
    assert loop(src, "tx", constants={"blockDim.x": 128}) is None


def test_memcpy_ranges_of_disjoint_rows():
    src = """#include <string.h>
    void f(float *dst, const float *src) {
      for (int r = 0; r < 4; r++) memcpy(dst + r * 64, src + r * 64, 64 * sizeof(float));
      for (int r = 0; r < 4; r++) memcpy(dst + r * 32, src, 64 * sizeof(float));
    }"""
    assert loop(src, "r", 0) is None
    assert loop(src, "r", 1) == ("memcpy(dst + r * 32, src, 64 * sizeof(float)) written in one iteration and "
                                 "written at memcpy(dst + r * 32, src, 64 * sizeof(float)) in another")


def test_math_calls_are_pure_and_untyped_programs_compare_elements():
    src = """#include <math.h>
    void f(float *y, const float *x) { for (int i = 0; i < 64; i++) y[i] = expf(x[i]) + fmaxf(x[i], 0.0f); }"""
    assert loop(src, "i", typed=False) is None


def test_helper_functions_that_only_compute_are_pure():
    src = """#include <math.h>
    static float gelu(float x) { const float k = sqrtf(2.0f / 3.14159265f); return 0.5f * x * (1.0f + tanhf(k * x)); }
    static float bump(float *p) { *p += 1.0f; return *p; }
    void f(float *y, const float *x, float *c) {
      for (int i = 0; i < 64; i++) y[i] = gelu(x[i]);
      for (int i = 0; i < 64; i++) y[i] = bump(c);
    }"""
    assert loop(src, "i", 0, function="f") is None
    assert loop(src, "i", 1, function="f") == "calls unknown function bump"


FUNCTORS = """#include <math.h>
struct MaxOp {
  static float init() { return -INFINITY; }
  static float step(float acc, float v) { return fmaxf(acc, v); }
  static float finish(float acc, int) { return acc; }
};
struct AvgOp {
  static float step(float acc, float v) { return acc + v; }
  static float finish(float acc, int count) { return acc / (float)count; }
};
template <typename Op>
void pool(float *y, const float *x, int n) {
  for (int i = 0; i < n; i++) y[i] = Op::finish(Op::step(Op::init(), x[2 * i]), 2);
}
"""


def test_static_members_of_template_functors_are_pure_when_every_definition_is():
    # the kernel calls `Op::step` by its short name: every struct's `step` must only compute (an
    # unnamed parameter, as in MaxOp::finish, is fine)
    assert loop(FUNCTORS, "i", function="pool") is None
    counting = FUNCTORS.replace("struct AvgOp {", "struct AvgOp {\n  static float step(float acc, float *seen) { *seen += 1; return acc; }")
    assert loop(counting, "i", function="pool") == "calls unknown function Op::step"


# ---- loops that are not parallel -----------------------------------------------------------------

def test_prefix_sum():
    src = "void f(float *a, int n) { for (int i = 1; i < n; i++) a[i] = a[i - 1] + a[i]; }"
    assert loop(src, "i") == "a[i] written in one iteration and read at a[i - 1] in another"


def test_reduction_into_an_outer_scalar():
    src = "float f(const float *a, int n) { float sum = 0.0f; for (int i = 0; i < n; i++) sum += a[i]; return sum; }"
    assert loop(src, "i") == "writes scalar `sum` declared outside the loop"


def test_stencil_in_place():
    src = """void f(float *T) {
      for (int i = 0; i < 40; i++)
        for (int j = 0; j < 39; j++) T[i * 40 + j] = T[i * 40 + j + 1] * 0.5f;
    }"""
    assert loop(src, "i") is None   # each row stays in its iteration
    assert loop(src, "j") == "T[i * 40 + j] written in one iteration and read at T[i * 40 + j + 1] in another"


def test_writes_to_a_shared_buffer_from_every_iteration():
    src = """void f(const float *a, float *b) {
      float row[32];
      for (int i = 0; i < 8; i++) {
        for (int j = 0; j < 32; j++) row[j] = a[i * 32 + j];
        b[i] = row[0] + row[31];
      }
    }"""
    assert loop(src, "i") == "row[j] written in one iteration and written at row[j] in another"


def test_invariants_are_substituted_only_while_their_inputs_do_not_change():
    src = """void f(float *a, int m) {
      const int n = m;
      for (int i = 0; i < 8; i++) a[i + n] = a[i + m] + 1.0f;
    }"""
    assert loop(src, "i") is None   # n == m
    changed = src.replace("const int n = m;", "const int n = m; m = m + 1;")
    assert loop(changed, "i") == "a[i + n] written in one iteration and read at a[i + m] in another"


def test_control_flow_and_unknown_calls():
    assert loop("void f(float *a) { for (int i = 0; i < 8; i++) foo(a[i]); }", "i") == "calls unknown function foo"
    assert loop("void f(float *a) { for (int i = 0; i < 8; i++) { if (a[i] < 0) break; a[i] = 1; } }", "i") == \
        "breaks out of the loop"
    assert loop("int f(float *a) { for (int i = 0; i < 8; i++) if (a[i] < 0) return i; return -1; }", "i") == \
        "returns from inside the loop"
    assert loop("void f(float *a) { for (int i = 0; i < 8; i++) { a[i] = 0; i++; } }", "i") == \
        "assigns the loop variable `i` in its body"
    # a break that leaves an inner loop only is fine
    assert loop("void f(float *a) { for (int i = 0; i < 8; i++) for (int j = 0; j < 8; j++) { if (j > i) break;"
                " a[i * 8 + j] = 1; } }", "i") is None


def test_non_canonical_loop():
    module = xpiler.lift("void f(float *a) { for (int i = 8; i > 0; i--) a[i] = 0; }", source="vnni")
    down = next(n for n in ir.walk(module) if isinstance(n, ir.For))
    assert parallel_obstacle(down) == "the loop is not canonical (for (v = a; v < b; v += s))"


def test_pointer_loaded_from_memory_may_alias_anything():
    src = "void f(float **rows, float *out) { for (int i = 0; i < 4; i++) rows[i][0] = out[i]; }"
    assert loop(src, "i") == "rows[i][0] written in one iteration and read at out[i] in another"


# ---- oracles -------------------------------------------------------------------------------------

# OpenMP loops of the suite the analysis cannot prove parallel, and why (a pragma is no proof, and
# these are limits of the model: parametric AVX-512 tail masks need bit-vector reasoning, C++
# containers and helper functions that touch memory are calls it does not look into).
KNOWN_LIMITS = {
    "bmm_avx512_tail.cpp": "_mm512_mask_storeu_ps", "depthwise_conv_avx512_tail.cpp": "_mm512_mask_storeu_ps",
    "deformable_attn_avx512.cpp": "_mm512_mask_storeu_ps", "gemm_fp32_avx512_blocked.cpp": "_mm512_mask_storeu_ps",
    "layernorm_avx512_tail.cpp": "_mm512_", "rmsnorm_avx512_tail.cpp": "_mm512_",
    "bmm_u8s8_dpbusd.cpp": "calls unknown function Bp.data", "gemm_u8s8_dpbusd_tail.cpp": "calls unknown function",
    "conv2d_nchw_u8s8_im2col.cpp": "calls unknown function", "deformable_attn.cpp": "calls unknown function sample",
    "softmax_avx512_omp.cpp": "_mm512_mask_storeu_ps",
    "mha_blhd_avx512.cpp": "_mm512_mask_storeu_ps",
    "pool_nhwc_avx512.cpp": "_mm512_mask_storeu_ps",
}


def _omp_loops():
    for path in sorted(glob.glob(os.path.join(ROOT, "examples/suite/vnni/*.c*"))):
        module = xpiler.lift(open(path).read(), source="vnni")
        for fn in module.functions():
            if fn.body is None:
                continue
            for block in ir.walk(fn.body):
                if isinstance(block, ir.Block):
                    for before, s in zip(block.body, block.body[1:]):
                        if isinstance(s, ir.For) and isinstance(before, ir.Pragma) and "omp" in before.text:
                            yield pytest.param(os.path.basename(path), module, fn, s,
                                               id=f"{os.path.basename(path)}:{s.canonical()[0]}")


@pytest.mark.parametrize("name,module,fn,omp_loop", list(_omp_loops()))
def test_openmp_loops_of_the_suite_are_parallel(name, module, fn, omp_loop):
    reason = parallel_obstacle(omp_loop, env=function_env(module, fn))
    if name in KNOWN_LIMITS:
        assert reason is not None and KNOWN_LIMITS[name] in reason
    else:
        assert reason is None


def test_lowered_softmax_blocks_threads_and_tree_steps_are_parallel():
    code = xpiler.translate(open(os.path.join(ROOT, "examples/cuda/softmax.cu")).read(), to="vnni")
    module = xpiler.lift(code, source="vnni")
    fn = module.function("softmax_rows")
    env = function_env(module, fn)
    launch = {"gridDim.y": 1, "gridDim.z": 1, "blockDim.x": 128, "blockDim.y": 1, "blockDim.z": 1}
    loops = [n for n in ir.walk(fn.body) if isinstance(n, ir.For)]
    by_var = {}
    for n in loops:
        by_var.setdefault(n.canonical()[0] if n.canonical() else None, []).append(n)
    assert all(is_parallel(n, constants=launch, env=env) for n in by_var["blockIdx_x"] + by_var["threadIdx_x"])
    # the per-thread loop accumulating into the thread's scalar is sequential
    accumulating = [n for n in by_var["c"] if "local_max" in assigned_scalars(n.body)]
    assert accumulating and parallel_obstacle(accumulating[0], constants=launch, env=env) == \
        "writes scalar `local_max` declared outside the loop"
    # without the launch, blockIdx.z iterations all write the same row
    assert parallel_obstacle(by_var["blockIdx_z"][0], env=env) == \
        "out[c] written in one iteration and written at out[c] in another"
