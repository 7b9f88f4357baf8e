"""The clean-up passes: constant-fold, dce, simplify-index. Each is exact: a program in, the program
out as text, and the same numbers from both when they run."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

import xpiler
from xpiler.passes.constant_fold import ConstantFold
from xpiler.passes.dce import Dce
from xpiler.passes.registry import make
from xpiler.passes.simplify_index import SimplifyIndex


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def apply(pass_, src: str) -> str:
    return xpiler.emit(pass_.apply(xpiler.lift(src, source="vnni")), "vnni")


def same_results(before: str, after: str, make_args):
    """Both programs, run natively on the same inputs, write the same outputs."""
    a, b = make_args(), make_args()
    xpiler.run(before, a, lang="vnni")
    xpiler.run(after, b, lang="vnni")
    for x, y in zip(a, b):
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y)


# ---- constant-fold ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("expr, folded", [
    ("(3 + 4) * 2 - 7 / 2", "11"),
    ("-7 / 2", "-3"),                      # division truncates toward zero
    ("-7 % 3", "-1"),                      # the remainder takes the dividend's sign
    ("7 % -3", "1"),
    ("7u - 8u", "4294967295u"),            # unsigned arithmetic wraps
    ("-1 + 0u", "4294967295u"),            # usual arithmetic conversions
    ("0x7fffffff + 1", None),              # signed overflow is undefined: left alone
    ("1 << 31", None),                     # shifting into the sign bit: undefined
    ("1u << 31", "2147483648u"),
    ("1 << 32", None),                     # shift by the width
    ("10 / 0", None),                      # division by zero
    ("-2147483647 - 1", "-2147483647 - 1"),  # INT_MIN has no literal
    ("128 / sizeof(float)", "32UL"),       # sizeof is an unsigned long
    ("(int)3000000000u", "-1294967296"),   # conversion to a signed type (GCC wraps)
    ("(unsigned char)300", None),          # narrow types keep their cast
    ("1.0f + 2.0f", None),                 # no floating-point folding
    ("2 > 1", None),                       # a comparison is a bool in C++: only folded as a condition
])
def test_integer_constants_fold_as_c_computes_them(expr, folded):
    out = apply(ConstantFold(), f"long f() {{ return {expr}; }}")
    body = out.split("return ", 1)[1].split(";", 1)[0]
    assert body == (folded if folded is not None else expr)


FOLD = """
void f(int *out, float *y, int n) {
  const int W = 16;
  int k = (3 + 4) * 2 - 7 / 2;
  out[0] = k * W + n;
  out[1] = 128 / sizeof(float);
  if (2 > 1 && n > 0)
    out[2] = n % 5;
  y[0] = 1 ? 2 : 3.5;
  y[1] = 0 ? 2.5f : 3.5f;
  y[2] = 1.0f / 3.0f;
}
"""


def test_constant_fold_before_and_after():
    after = apply(ConstantFold(), FOLD)
    assert after == dedent("""
    void f(int *out, float *y, int n) {
      const int W = 16;
      int k = 11;
      out[0] = 176 + n;
      out[1] = 32UL;
      if (n > 0)
        out[2] = n % 5;
      y[0] = 1 ? 2 : 3.5;
      y[1] = 3.5f;
      y[2] = 1.0f / 3.0f;
    }
    """)  # `1 ? 2 : 3.5` is a double: choosing the int branch would change its type
    same_results(FOLD, after, lambda: [np.zeros(3, np.int32), np.zeros(3, np.float32), 7])


# ---- dce -------------------------------------------------------------------------------------------------

DCE = """
void f(float *a, int n) {
  float unused = 2.0f;
  float scratch[16];
  for (int i = 0; i < 16; ++i)
    scratch[i] = a[i] * 2;
  float *p = a + 1;
  p[0] = 7;
  if (0) {
    a[0] = 1;
  } else {
    a[1] = 2;
  }
  if (1) {
    int q = n + 1;
    a[q] = 3;
  }
  while (0)
    a[2] = 4;
  for (int j = 0; j < n; ++j) {
  }
  {
  }
  n;
  {
    int t = n * 2;
    a[t] = 5;
  }
  #pragma omp parallel for
  for (int j = 0; j < 0; ++j)
    a[j] = 0;
  a[3] = a[4];
}
"""


def test_dce_before_and_after():
    after = apply(Dce(), DCE)
    # The dead buffer and its stores go; stores through a pointer stay (they write memory).
    assert after == dedent("""
    void f(float *a, int n) {
      float *p = a + 1;
      p[0] = 7;
      a[1] = 2;
      int q = n + 1;
      a[q] = 3;
      int t = n * 2;
      a[t] = 5;
      a[3] = a[4];
    }
    """)
    same_results(DCE, after, lambda: [np.arange(32, dtype=np.float32), 3])


def test_dce_removes_a_warp_vote_nobody_reads_and_the_votes_it_read():
    # loop recovery's emulation of `mask = __activemask()` for shuffles that ignore their mask
    src = """
    void f(float *a, unsigned n) {
      bool votes[64];
      unsigned mask[64];
      for (unsigned t = 0; t < n; ++t)
        votes[t] = (bool)(1);
      for (unsigned t = 0; t < n; ++t)
        mask[t] = __xpiler_ballot(votes + (t - t % 32), 32);
      for (unsigned t = 0; t < n; ++t)
        a[t] = 1.0f;
    }"""
    assert apply(Dce(), dedent(src)) == dedent("""
    void f(float *a, unsigned n) {
      for (unsigned t = 0; t < n; ++t)
        a[t] = 1.0f;
    }
    """)


def test_dce_keeps_stores_through_the_pointers_an_array_holds():
    # a thread's output pointer kept across a barrier: `c[t][i] = v` writes through c[t]
    src = """
    void f(float *out, int n) {
      float *c[4];
      for (int t = 0; t < 4; ++t)
        c[t] = out + t * n;
      for (int t = 0; t < 4; ++t)
        c[t][0] = 1.0f;
    }"""
    assert apply(Dce(), dedent(src)) == dedent(src).lstrip("\n") + "\n"


def test_dce_keeps_blocks_whose_names_would_clash():
    src = """
    void f(float *a) {
      int t = 1;
      {
        int t = 2;
        a[t] = 1;
      }
      a[t] = 2;
    }"""
    assert apply(Dce(), dedent(src)) == dedent(src) + "\n"


def test_dce_keeps_the_braces_a_goto_must_not_jump_into():
    # merged, `int t = n * 2;` would sit between the goto and its label: a C++ compile error
    src = """
    void f(float *a, int n) {
      if (n == 0)
        goto done;
      {
        int t = n * 2;
        a[t] = 1;
      }
      done:;
    }"""
    assert apply(Dce(), dedent(src)) == dedent(src) + "\n"


# ---- simplify-index ----------------------------------------------------------------------------------------

INDEX = """
void f(float *a, const float *b, int n, int m) {
  for (int i = 0; i < n; ++i) {
    a[(i * 1) + 0] = b[((i + 1) + 2)];
    a[4 + i - 4 + n * m] = *(b + (i + 3));
    a[n * m + ((int)i) + 2 * n] = (b + 2 * n)[i + 1];
  }
  for (unsigned t = 0; t < 8; ++t)
    a[(int)t] = b[(int)t] + 1.0f;
}
"""


def test_simplify_index_before_and_after():
    after = apply(SimplifyIndex(), INDEX)
    assert after == dedent("""
    void f(float *a, const float *b, int n, int m) {
      for (int i = 0; i < n; ++i) {
        a[i] = b[i + 3];
        a[i + n * m] = b[i + 3];
        a[n * m + i + 2 * n] = b[2 * n + i + 1];
      }
      for (int t = 0; t < 8; ++t)
        a[t] = b[t] + 1.0f;
    }
    """)
    same_results(INDEX, after, lambda: [np.zeros(64, np.float32), np.arange(64, dtype=np.float32), 3, 4])


def test_float_identities_are_not_simplified():
    src = "void f(float *a, float x) { a[0] = x + 0; a[1] = x * 1; }"
    assert apply(SimplifyIndex(), src) == apply(SimplifyIndex(), apply(SimplifyIndex(), src))
    assert "x + 0" in apply(SimplifyIndex(), src)  # -0.0f + 0 is +0.0f


def test_the_cleanup_passes_are_registered():
    assert [make(n).name for n in ("constant-fold", "dce", "simplify-index")] == ["constant-fold", "dce",
                                                                                  "simplify-index"]
