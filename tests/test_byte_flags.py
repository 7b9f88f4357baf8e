"""``byte-flags``: local ``bool`` arrays of C code are held as ``unsigned char`` (gcc vectorises masked
loads and stores whose mask comes from bytes, not from ``bool``), every store a truth value."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

import xpiler
from xpiler.passes.base import PassError
from xpiler.passes.registry import pipeline


def transform(src: str) -> str:
    module = xpiler.lift(textwrap.dedent(src).lstrip("\n"), source="vnni")
    for p in pipeline("byte-flags"):
        module = p.apply(module)
    return xpiler.emit(module, "vnni")


FLAGS = """
    void f(const float *v, float *out, int n) {
      bool alive[64];
      bool pred[64];
      bool kept[64];
      for (int t = 0; t < n; ++t) {
        alive[t] = true;
        pred[t] = v[t] > 0.0f;
        kept[t] = (int)v[t];
      }
      for (int t = 0; t < n; ++t)
        if (alive[t] && pred[t])
          out[t] = v[t] + kept[t];
    }
    """


def test_bool_arrays_become_bytes_and_stores_that_are_not_truth_values_are_cast_to_bool():
    assert transform(FLAGS) == textwrap.dedent("""\
        void f(const float *v, float *out, int n) {
          unsigned char alive[64];
          unsigned char pred[64];
          unsigned char kept[64];
          for (int t = 0; t < n; ++t) {
            alive[t] = true;
            pred[t] = v[t] > 0.0f;
            kept[t] = (bool)((int)v[t]);
          }
          for (int t = 0; t < n; ++t)
            if (alive[t] && pred[t])
              out[t] = v[t] + kept[t];
        }
        """)


def test_the_bytes_compute_what_the_bools_did():
    code = "#include <stdbool.h>\n" + transform(FLAGS)
    v = np.array([0.5, -1.0, 2.7, 0.0, 300.0, -0.2], np.float32)
    out = np.zeros(6, np.float32)
    xpiler.run(code, [v, out, 6], entry="f", lang="vnni")
    # kept = (bool)(int)v: 2.7 -> 1, 300 -> 1 (an unsigned char would have kept 300 % 256 = 44)
    np.testing.assert_array_equal(out, np.array([0.5, 0.0, 2.7 + 1.0, 0.0, 301.0, 0.0], np.float32))


@pytest.mark.parametrize("use", [
    "g(flags);",                 # passed whole to a call
    "g2(flags[0]);",             # an element passed to a call: an overload may tell the types apart
    "flags[1] |= n > 2;",        # updated in place
    "bool *p = &flags[0];",      # its address taken
    "bool *q = flags;",          # decays to a pointer
])
def test_an_array_used_other_than_element_by_element_stays_bool(use):
    src = f"""
        void g(bool *f);
        void g2(bool b);
        void f(int n) {{
          bool flags[4];
          flags[0] = n > 1;
          {use}
        }}
        """
    assert "unsigned char" not in transform(src)


def test_byte_flags_applies_to_c_only():
    module = xpiler.lift("__global__ void k(float *x) { bool f[2]; f[0] = true; x[0] = f[0]; }", source="cuda")
    with pytest.raises(PassError, match="byte-flags applies to C \\(vnni\\) programs, not cuda"):
        pipeline("byte-flags")[0].apply(module)
