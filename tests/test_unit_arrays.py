"""``unit-arrays``: a local array of one element used only as ``x[0]`` is a scalar (TVM's per-thread
accumulators), which the SIMD passes can give one slot per lane."""

from __future__ import annotations

import textwrap

import pytest

import xpiler
from xpiler.passes.base import PassError
from xpiler.passes.registry import pipeline


def transform(src: str) -> str:
    module = xpiler.lift(textwrap.dedent(src).lstrip("\n"), source="vnni")
    for p in pipeline("unit-arrays"):
        module = p.apply(module)
    return xpiler.emit(module, "vnni")


def test_an_accumulator_of_one_element_becomes_a_scalar():
    assert transform("""
        void f(const float *x, float *y, int n) {
          float acc[1];
          float bias[1] = {2.0f};
          acc[0] = 0.0f;
          for (int i = 0; i < n; ++i)
            acc[0] = acc[0] + x[i];
          y[0] = acc[0] + bias[0];
        }
        """) == textwrap.dedent("""\
        void f(const float *x, float *y, int n) {
          float acc;
          float bias = 2.0f;
          acc = 0.0f;
          for (int i = 0; i < n; ++i)
            acc = acc + x[i];
          y[0] = acc + bias;
        }
        """)


@pytest.mark.parametrize("use", ["g(acc);", "float *p = acc;", "acc[i] = 1.0f;", "float *q = &acc[0];"])
def test_an_array_used_other_than_as_its_element_stays(use):
    src = f"""
        void g(float *p);
        void f(int i) {{
          float acc[1];
          acc[0] = 0.0f;
          {use}
        }}
        """
    assert "float acc[1];" in transform(src)


def test_unit_arrays_applies_to_c_only():
    module = xpiler.lift("__global__ void k(float *x) { float a[1]; a[0] = 1.0f; x[0] = a[0]; }", source="cuda")
    with pytest.raises(PassError, match="unit-arrays applies to C \\(vnni\\) programs, not cuda"):
        pipeline("unit-arrays")[0].apply(module)
