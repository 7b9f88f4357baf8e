"""The platform-agnostic loop passes: loop-split, loop-fuse, loop-reorder, loop-expansion and
loop-contraction. Each test is a specification: a small C program in, the printed program out, the
transformed program run on random inputs against the original (every array compared in full), and
the error a request the pass must refuse gets."""

from __future__ import annotations

import itertools
import os
import textwrap

import numpy as np
import pytest

import xpiler
from xpiler.passes.base import PassError
from xpiler import suite
from xpiler.passes.registry import make, pipeline

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOOP_PASSES = ("loop-split", "loop-fuse", "loop-reorder", "loop-expansion", "loop-contraction")


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def transform(spec: str, src: str) -> str:
    module = xpiler.lift(dedent(src), source="vnni")
    for p in pipeline(spec):
        module = p.apply(module)
    return xpiler.emit(module, "vnni")


def same_results(before: str, after: str, *args):
    """Both programs, run natively on copies of the same random inputs, leave the same arrays (every
    element; within a few ulps, because GCC contracts ``a * b + c`` into FMAs differently in
    differently shaped loops)."""
    rng = np.random.default_rng(7)
    inputs = [rng.standard_normal(a).astype(np.float32) if isinstance(a, tuple) else a for a in args]
    first = [x.copy() if isinstance(x, np.ndarray) else x for x in inputs]
    second = [x.copy() if isinstance(x, np.ndarray) else x for x in inputs]
    xpiler.run(dedent(before), first, lang="vnni")
    xpiler.run(after, second, lang="vnni")
    for x, y in zip(first, second):
        if isinstance(x, np.ndarray):
            np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-6)


def refused(spec: str, src: str) -> str:
    with pytest.raises(PassError) as error:
        transform(spec, src)
    return str(error.value)


# ---- loop-split ----------------------------------------------------------------------------------

SCALE = """
    #define N 100
    void scale(float *y, const float *x) {
      for (int i = 0; i < N; i++) y[i] = x[i] * 2.0f;
    }
"""


def test_split_with_a_guarded_tail():
    out = transform("loop-split{loop=i factor=16}", SCALE)
    assert out == dedent("""
        #define N 100

        void scale(float *y, const float *x) {
          for (int i_outer = 0; i_outer < 7; ++i_outer) {
            for (int i_inner = 0; i_inner < 16; ++i_inner) {
              if (i_outer * 16 + i_inner < N)
                y[i_outer * 16 + i_inner] = x[i_outer * 16 + i_inner] * 2.0f;
            }
          }
        }
    """)
    same_results(SCALE, out, (100,), (100,))


def test_split_of_a_divisible_loop_needs_no_guard():
    out = transform("loop-split{loop=i factor=25}", SCALE)
    assert "if" not in out and "i_outer < 4" in out and "i_outer * 25 + i_inner" in out
    same_results(SCALE, out, (100,), (100,))


STRIDED = """
    void odd(float *a, int n) {
      for (int j = 3; j < n; j += 2) a[j] += 1.0f;
    }
"""


def test_split_of_a_loop_with_start_step_and_unknown_bound():
    out = transform("loop-split{loop=j factor=8}", STRIDED)
    assert out == dedent("""
        void odd(float *a, int n) {
          for (int j_outer = 0; j_outer < ((n - 2) / 2 + 7) / 8; ++j_outer) {
            for (int j_inner = 0; j_inner < 8; ++j_inner) {
              if (3 + (j_outer * 8 + j_inner) * 2 < n)
                a[3 + (j_outer * 8 + j_inner) * 2] += 1.0f;
            }
          }
        }
    """)
    for n in (0, 2, 3, 4, 20, 37, 64):
        same_results(STRIDED, out, (64,), n)


def test_split_refusals():
    assert refused("loop-split{loop=k factor=4}", SCALE) == \
        "loop-split: no canonical loop over `k` (for (int k = a; k < b; k += s))"
    assert refused("loop-split{loop=i factor=1}", SCALE) == \
        "loop-split: the factor must be an integer of at least 2, got 1"
    assert refused("loop-split{loop=i factor=4 nth=1}", SCALE) == "loop-split: there are 1 loops over `i`, not 2"
    assert refused("loop-split{loop=i factor=4}", "void f(float *a) { int i; for (i = 0; i < 8; i++) a[i] = 0; }") \
        == "loop-split: the loop over `i` does not declare its variable (its value after the loop would change)"
    assert refused("loop-split{loop=i factor=4}", "void f(float *a) { for (int i = 0; i < 8; i++) { a[i] = 0; i++; } }") \
        == "loop-split: the loop over `i` assigns its variable in its body"


def test_split_schedule_space():
    module = xpiler.lift(dedent(SCALE + STRIDED), source="vnni")
    specs = [p.spec() for p in make("loop-split").schedule_space(module)]
    assert specs == ["loop-split{loop=i factor=4}", "loop-split{loop=i factor=8}", "loop-split{loop=i}",
                     "loop-split{loop=i factor=32}", "loop-split{loop=i factor=64}"]


# ---- loop-fuse: collapsing a nest --------------------------------------------------------------------

BIAS = """
    void bias(float *y, const float *x, const float *b) {
      for (int i = 0; i < 32; i++)
        for (int j = 0; j < 16; j++) y[i * 16 + j] = x[i * 16 + j] + b[j];
    }
"""


def test_fuse_a_perfect_nest():
    out = transform("loop-fuse{loop=i}", BIAS)
    assert out == dedent("""
        void bias(float *y, const float *x, const float *b) {
          for (int i_j_fused = 0; i_j_fused < 512; ++i_j_fused) {
            y[i_j_fused / 16 * 16 + i_j_fused % 16] = x[i_j_fused / 16 * 16 + i_j_fused % 16] + b[i_j_fused % 16];
          }
        }
    """)
    same_results(BIAS, out, (512,), (512,), (16,))


RAGGED = """
    void ragged(float *y, int rows, int cols) {
      for (int r = 0; r < rows; r++)
        for (int c = 1; c < cols; c += 2) y[r * cols + c] = r - c;
    }
"""


def test_fuse_a_nest_with_unknown_trip_counts_and_a_step():
    out = transform("loop-fuse{loop=r}", RAGGED)
    assert out == dedent("""
        void ragged(float *y, int rows, int cols) {
          if (rows > 0) {
            for (int r_c_fused = 0; r_c_fused < rows * (cols / 2); ++r_c_fused) {
              y[r_c_fused / (cols / 2) * cols + (1 + r_c_fused % (cols / 2) * 2)] = r_c_fused / (cols / 2) - (1 + r_c_fused % (cols / 2) * 2);
            }
          }
        }
    """)
    for rows, cols in ((4, 9), (3, 1), (0, 5), (-2, -3), (5, 8)):
        same_results(RAGGED, out, (64,), rows, cols)


def test_fuse_refusals():
    assert refused("loop-fuse{loop=i}", "void f(float *a) { for (int i = 0; i < 8; i++) for (int j = 0; j < i; j++)"
                   " a[i * 8 + j] = 0; }") == "loop-fuse: the bounds of the inner loop over `j` depend on `i`"
    assert refused("loop-fuse{loop=i}", "void f(float *a) { for (int i = 0; i < 8; i++) { a[i] = 0;"
                   " for (int j = 0; j < 8; j++) a[i * 8 + j] = 1; } }") == \
        "loop-fuse: the loop over `i` is not a perfect nest (its body is not one loop)"
    assert refused("loop-fuse{loop=i mode=inner}", BIAS) == "loop-fuse: mode is one of nest, siblings, got 'inner'"


# ---- loop-fuse: merging adjacent loops ---------------------------------------------------------------

SIBLINGS = """
    void two(float *a, float *c, const float *b, int n) {
      for (int i = 0; i < n; i++) a[i] = b[i] + 1.0f;
      for (int j = 0; j < n; j++) c[j] = a[j] * 2.0f;
    }
"""


def test_fuse_siblings():
    out = transform("loop-fuse{loop=i mode=siblings}", SIBLINGS)
    assert out == dedent("""
        void two(float *a, float *c, const float *b, int n) {
          for (int i = 0; i < n; i++) {
            a[i] = b[i] + 1.0f;
            c[i] = a[i] * 2.0f;
          }
        }
    """)
    same_results(SIBLINGS, out, (40,), (40,), (40,), 40)


def test_fuse_siblings_reading_behind_is_legal_and_reading_ahead_is_not():
    behind = SIBLINGS.replace("a[j] * 2.0f", "(j > 0 ? a[j - 1] : 0.0f)")
    out = transform("loop-fuse{loop=i mode=siblings}", behind)
    same_results(behind, out, (40,), (40,), (40,), 40)
    ahead = SIBLINGS.replace("a[j] * 2.0f", "a[j + 1]")
    assert refused("loop-fuse{loop=i mode=siblings}", ahead) == \
        ("loop-fuse: a[i + 1] of the second loop (i = 0) would run before a[i] of the first loop (i = 1), and they "
         "touch the same location")


def test_fuse_siblings_refusals():
    assert refused("loop-fuse{loop=i mode=siblings}", SIBLINGS.replace("j < n", "j < n - 1")) == \
        "loop-fuse: the loops over `i` and `j` have different bounds (n and n - 1)"
    assert refused("loop-fuse{loop=j mode=siblings}", SIBLINGS) == "loop-fuse: the loop over `j` is not followed by a loop"
    reduction = """
        void norm(float *a, const float *b, int n) {
          float s = 0.0f;
          for (int i = 0; i < n; i++) s += b[i];
          for (int j = 0; j < n; j++) a[j] = b[j] / s;
        }
    """
    assert refused("loop-fuse{loop=i mode=siblings}", reduction) == \
        "loop-fuse: s of the second loop (i = 0) would run before s of the first loop (i = 1), and they touch the same location"
    assert refused("loop-fuse{loop=i mode=siblings}", SIBLINGS.replace("a[i] = b[i] + 1.0f;", "{ if (b[i] < 0) continue; a[i] = 1; }")) \
        == "loop-fuse: the first loop contains `continue`"


# ---- loop-reorder ----------------------------------------------------------------------------------

GEMM = """
    void gemm(const float *A, const float *B, float *C) {
      for (int i = 0; i < 8; i++)
        for (int k = 0; k < 12; k++)
          for (int j = 0; j < 6; j++) C[i * 6 + j] += A[i * 12 + k] * B[k * 6 + j];
    }
"""


def test_reorder_a_gemm_nest():
    out = transform("loop-reorder{order=[i,j,k]}", GEMM)
    assert out == dedent("""
        void gemm(const float *A, const float *B, float *C) {
          for (int i = 0; i < 8; i++) {
            for (int j = 0; j < 6; j++) {
              for (int k = 0; k < 12; k++) {
                C[i * 6 + j] += A[i * 12 + k] * B[k * 6 + j];
              }
            }
          }
        }
    """)
    # the sums run in the same order (k innermost or not, each C element adds k = 0, 1, ... in turn)
    same_results(GEMM, out, (96,), (72,), (48,))
    same_results(GEMM, transform('loop-reorder{order="k,j,i"}', GEMM), (96,), (72,), (48,))


def test_split_and_reorder_tile_a_gemm():
    spec = "loop-split{loop=i factor=4},loop-split{loop=j factor=3},loop-reorder{order=[i_outer,j_outer,i_inner,k,j_inner]}"
    out = transform(spec, GEMM)
    assert out == dedent("""
        void gemm(const float *A, const float *B, float *C) {
          for (int i_outer = 0; i_outer < 2; ++i_outer) {
            for (int j_outer = 0; j_outer < 2; ++j_outer) {
              for (int i_inner = 0; i_inner < 4; ++i_inner) {
                for (int k = 0; k < 12; k++) {
                  for (int j_inner = 0; j_inner < 3; ++j_inner) {
                    C[(i_outer * 4 + i_inner) * 6 + (j_outer * 3 + j_inner)] += A[(i_outer * 4 + i_inner) * 12 + k] * B[k * 6 + (j_outer * 3 + j_inner)];
                  }
                }
              }
            }
          }
        }
    """)
    same_results(GEMM, out, (96,), (72,), (48,))


WAVEFRONT = """
    void sweep(float *A) {
      for (int i = 1; i < 8; i++)
        for (int j = 0; j < 7; j++) A[i * 8 + j] = A[(i - 1) * 8 + j + 1] * 0.5f;
    }
"""


def test_reorder_refused_by_a_dependence_it_would_reverse():
    assert refused("loop-reorder{order=[j,i]}", WAVEFRONT) == (
        "loop-reorder: A[i * 8 + j] at (i = 1, j = 1) and A[(i - 1) * 8 + j + 1] at (i = 2, j = 0) touch the same "
        "location; the order j,i would run them the other way round")
    diagonal = WAVEFRONT.replace("j = 0; j < 7", "j = 1; j < 8").replace("j + 1]", "j - 1]")
    out = transform("loop-reorder{order=[j,i]}", diagonal)
    same_results(diagonal, out, (64,))


def test_reorder_refusals():
    assert refused("loop-reorder{order=[j,x]}", GEMM) == "loop-reorder: no perfect nest of loops over j, x"
    assert refused("loop-reorder{order=[j]}", GEMM) == \
        "loop-reorder: order lists two or more distinct loop variables, got ('j',)"
    triangle = "void t(float *a) { for (int i = 0; i < 8; i++) for (int j = 0; j < i; j++) a[i * 8 + j] = 1; }"
    assert refused("loop-reorder{order=[j,i]}", triangle) == "loop-reorder: the bounds of the loop over `j` depend on `i`"


def test_reorder_schedule_space():
    module = xpiler.lift(dedent(GEMM), source="vnni")
    specs = [p.spec() for p in make("loop-reorder").schedule_space(module)]
    assert specs == ["loop-reorder{order=[k,i]}", "loop-reorder{order=[i,j,k]}", "loop-reorder{order=[k,i,j]}",
                     "loop-reorder{order=[k,j,i]}", "loop-reorder{order=[j,i,k]}", "loop-reorder{order=[j,k,i]}",
                     "loop-reorder{order=[j,k]}"]


# ---- loop-expansion ----------------------------------------------------------------------------------

FISSION = """
    void fission(float *a, float *b, float *c, const float *x) {
      for (int i = 1; i < 64; i++) {
        float t = x[i] * 2.0f;
        a[i] = t + 1.0f;
        b[i] = b[i - 1] + a[i];
        c[i] = t * b[i];
      }
    }
"""


def test_expansion_at_a_given_statement_expands_the_scalar_it_cuts():
    out = transform("loop-expansion{loop=i at=[2]}", FISSION)
    assert out == dedent("""
        void fission(float *a, float *b, float *c, const float *x) {
          float t_arr[63];
          for (int i = 1; i < 64; i++) {
            t_arr[i - 1] = x[i] * 2.0f;
            a[i] = t_arr[i - 1] + 1.0f;
          }
          for (int i = 1; i < 64; i++) {
            b[i] = b[i - 1] + a[i];
            c[i] = t_arr[i - 1] * b[i];
          }
        }
    """)
    same_results(FISSION, out, (64,), (64,), (64,), (64,))


def test_expansion_by_default_cuts_wherever_legal():
    out = transform("loop-expansion{loop=i}", FISSION)
    assert out.count("for (int i = 1; i < 64; i++)") == 4
    same_results(FISSION, out, (64,), (64,), (64,), (64,))


SWAP = """
    void swap(float *a, float *b, int n) {
      for (int i = 1; i < n; i++) {
        a[i] = b[i - 1];
        b[i] = a[i] * 2.0f;
      }
    }
"""


def test_expansion_refused_by_a_backward_dependence():
    assert refused("loop-expansion{loop=i at=[1]}", SWAP) == (
        "loop-expansion: b[i] (i = 1) must run before b[i - 1] (i = 2), which touches the same location, and the "
        "split would run it after")
    assert refused("loop-expansion{loop=i}", SWAP) == (
        "loop-expansion: the statements of the loop over `i` depend on each other across iterations; no split is legal")


def test_expansion_refusals():
    unknown = FISSION.replace("i < 64", "i < n").replace("const float *x)", "const float *x, int n)")
    assert refused("loop-expansion{loop=i at=[1]}", unknown) == (
        "loop-expansion: `t` is defined in one loop and used in another, and the trip count of the loop over `i` "
        "is not a constant (it would size the array holding it)")
    assert refused("loop-expansion{loop=i at=[2]}", FISSION.replace("i < 64", "i < 100000")) == (
        "loop-expansion: `t` is defined in one loop and used in another, and the loop over `i` has 99999 iterations "
        "(at most 65536 are expanded)")
    # by default a scalar that cannot be expanded keeps all its users in one loop: here the whole body
    assert refused("loop-expansion{loop=i}", unknown) == (
        "loop-expansion: the statements of the loop over `i` depend on each other across iterations; no split is legal")
    assert refused("loop-expansion{loop=i at=[3]}", "void f(float *a) { for (int i = 0; i < 8; i++) { a[i] = 0; a[i] += 1; } }") \
        == "loop-expansion: `at` lists statements 1 to 1 where new loops start, got (3,)"
    assert refused("loop-expansion{loop=i}", "void f(float *a) { for (int i = 0; i < 8; i++) { if (a[i] < 0) break; a[i] = 1; } }") \
        == "loop-expansion: the body of the loop over `i` contains `break`"


# ---- loop-contraction --------------------------------------------------------------------------------

PRODUCER_CONSUMER = """
    #include <math.h>
    void pc(float *y, const float *x) {
      float T[64];
      for (int i = 0; i < 64; i++) {
        float v = x[i];
        T[i] = expf(v) + 1.0f;
      }
      for (int j = 0; j < 64; j++) {
        float v = T[j] * 2.0f;
        y[j] = v / T[j];
      }
    }
"""


def test_contraction_of_an_elementwise_temporary():
    out = transform("loop-contraction{loop=i}", PRODUCER_CONSUMER)
    assert out == dedent("""
        #include <math.h>

        void pc(float *y, const float *x) {
          for (int i = 0; i < 64; i++) {
            float v = x[i];
            float T = expf(v) + 1.0f;
            float v_1 = T * 2.0f;
            y[i] = v_1 / T;
          }
        }
    """)
    same_results(PRODUCER_CONSUMER, out, (64,), (64,))


def test_contraction_refusals():
    reversed_read = PRODUCER_CONSUMER.replace("T[j] * 2.0f", "T[63 - j] * 2.0f")
    assert refused("loop-contraction{loop=i}", reversed_read) == \
        "loop-contraction: `T` is accessed at T[63 - i], not only at the element T[i] the producer writes"
    halves = PRODUCER_CONSUMER.replace("T[i] =", "T[i / 2] =").replace("T[j]", "T[j / 2]")
    assert refused("loop-contraction{loop=i}", halves) == \
        "loop-contraction: two iterations write the same element T[i / 2] (i = 0 and 1)"
    kept = PRODUCER_CONSUMER.replace("y[j] = v / T[j];", "y[j] = v / T[j];\n      }\n      {\n        y[0] = T[3];")
    assert refused("loop-contraction{loop=i}", kept) == "loop-contraction: `T` is used outside the two loops"
    assert refused("loop-contraction{loop=i}", SIBLINGS) == "loop-contraction: `a` is a parameter of two, used outside the loops"


# A serial loop over rows (each row shifted by a running offset) before an independent product over
# them (mha's softmax, then P V): fused, the product's rows would run in the serial loop's order.
SERIAL_THEN_PARALLEL = """
    void f(float *o, const float *x, const float *w) {
      float s[8 * 16];
      float m[1];
      for (int i = 0; i < 8; i++) {
        m[0] = i == 0 ? 0.0f : m[0] + x[i * 16];
        for (int j = 0; j < 16; j++) s[i * 16 + j] = x[i * 16 + j] - m[0];
      }
      for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++) {
          float acc = 0.0f;
          for (int p = 0; p < 16; p++) acc += s[i * 16 + p] * w[j * 16 + p];
          o[i * 4 + j] = acc;
        }
    }
"""


def test_contract_temporaries_does_not_fuse_an_independent_loop_into_a_serial_one():
    out = transform("contract-temporaries", SERIAL_THEN_PARALLEL)
    assert out.count("for (int i = 0; i < 8; i++)") == 2
    assert transform("loop-fuse{loop=i mode=siblings}", SERIAL_THEN_PARALLEL).count("for (int i = 0;") == 1  # legal
    same_results(SERIAL_THEN_PARALLEL, out, (32,), (128,), (64,))


# ---- every instance of every schedule space is exact ----------------------------------------------

@pytest.mark.parametrize("program", ["gemm_fused.cpp", "rmsnorm_fused.cpp", "softmax_rows.c", "bmm_omp.cpp",
                                     "conv2d_nchw_fused.cpp", "maxpool_fused.cpp", "layernorm_fused.cpp"])
def test_schedule_spaces_on_suite_programs(program):
    """The first instances of each loop pass's schedule space on a suite program: each either is
    refused with a PassError or computes what the program computes (at the suite's tolerance)."""
    entry = next(e for e in suite.load_manifest("vnni").programs if e.file == program)
    src = open(os.path.join(ROOT, "examples/suite/vnni", program)).read()
    module = xpiler.lift(src, source="vnni")
    inputs = suite.make_args(entry)
    expected = [a.copy() if isinstance(a, np.ndarray) else a for a in inputs]
    xpiler.run(src, expected, lang="vnni", entry=entry.entry)
    applied = 0
    for name in LOOP_PASSES:
        for instance in itertools.islice(make(name).schedule_space(module), 3):
            try:
                out = xpiler.emit(instance.apply(module), "vnni")
            except PassError:
                continue
            got = [a.copy() if isinstance(a, np.ndarray) else a for a in inputs]
            xpiler.run(out, got, lang="vnni", entry=entry.entry)
            for x, y in zip(expected, got):
                if isinstance(x, np.ndarray):
                    np.testing.assert_allclose(y, x, rtol=1e-5, atol=1e-5, err_msg=instance.spec())
            applied += 1
    assert applied > 0
