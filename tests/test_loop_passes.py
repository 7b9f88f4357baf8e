"""The platform-agnostic loop passes: loop-split, loop-fuse, loop-reorder, loop-expansion and
loop-contraction. Each test is a specification: a small C program in, the printed program out, the
transformed program run on random inputs against the original (every array compared in full), and
the error a request the pass must refuse gets."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

import xpiler
from xpiler.passes.base import PassError
from xpiler.passes.registry import make, pipeline


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def transform(spec: str, src: str) -> str:
    module = xpiler.lift(dedent(src), source="vnni")
    for p in pipeline(spec):
        module = p.apply(module)
    return xpiler.emit(module, "vnni")


def same_results(before: str, after: str, *args):
    """Both programs, run natively on copies of the same random inputs, leave the same arrays."""
    rng = np.random.default_rng(7)
    inputs = [rng.standard_normal(a).astype(np.float32) if isinstance(a, tuple) else a for a in args]
    first = [x.copy() if isinstance(x, np.ndarray) else x for x in inputs]
    second = [x.copy() if isinstance(x, np.ndarray) else x for x in inputs]
    xpiler.run(dedent(before), first, lang="vnni")
    xpiler.run(after, second, lang="vnni")
    for x, y in zip(first, second):
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y)


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
          for (int j_outer = 0; j_outer < ((n - 3 + 1) / 2 + 7) / 8; ++j_outer) {
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
