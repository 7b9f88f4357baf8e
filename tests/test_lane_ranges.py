"""Lane ranges: an unsigned thread slot may count in 64 bits where every expression around each of
its uses (a subscript, a comparison) provably stays in [0, 2^32): the values are then the same."""

from __future__ import annotations

import textwrap

import pytest

import xpiler
from xpiler import ir
from xpiler.passes.lane_ranges import INT_MAX, _counter_bounds, wide_slots
from xpiler.passes.simd_nest import scalar_types


def function(src: str) -> ir.Function:
    module = xpiler.lift(textwrap.dedent(src).lstrip("\n"), source="vnni")
    return next(i for i in module.items if isinstance(i, ir.Function))


def slots(src: str) -> list[str]:
    f = function(src)
    chosen = wide_slots(f.body, scalar_types(f), {})
    return [v.name for n in ir.walk(f.body) if isinstance(n, ir.Decl) for v in n.vars if id(v) in chosen]


@pytest.mark.parametrize("header, bounds", [
    ("for (int off = 16; off > 0; off /= 2)", (1, 16)),       # a shuffle's halving offsets
    ("for (int m = 1; m < 32; m *= 2)", (1, 31)),             # xor masks
    ("for (int i = n; i > 0; --i)", (1, INT_MAX)),
    ("for (int i = 2; i < n; i += 3)", (2, INT_MAX)),
    ("for (int i = -4; i < 4; ++i)", None),                   # negative values
    ("for (unsigned i = 0; i < 4; ++i)", None),               # not an int counter
])
def test_a_counter_is_bounded_by_its_condition_and_the_direction_of_its_step(header, bounds):
    f = function(f"void f(float *x, int n) {{ {header} x[0] += 1.0f; }}")
    loop = next(n for n in ir.walk(f.body) if isinstance(n, ir.For))
    got = _counter_bounds(loop)
    assert (got[1] if got else None) == bounds


def test_a_counter_its_body_assigns_has_no_bounds():
    f = function("void f(float *x) { for (int i = 1; i < 8; ++i) { x[i] = 0.0f; i += 1; } }")
    assert _counter_bounds(next(n for n in ir.walk(f.body) if isinstance(n, ir.For))) is None


SHUFFLE = """
void f(float *v, const float *x, unsigned nthreads, int n) {
  for (int off = 16; off > 0; off /= 2)
    for (int t = 0; t < n; ++t) {
      unsigned tid = (unsigned)t;
      v[tid] += (tid % 32 + off < 32 && tid + off < nthreads) ? x[tid + off] : x[tid];
    }
}
"""


def test_a_shuffles_lane_arithmetic_fits_and_other_arithmetic_does_not():
    assert slots(SHUFFLE) == ["tid"]
    # below zero, unbounded, or flowing into another variable: the slot keeps its type
    assert slots(SHUFFLE.replace("x[tid + off]", "x[tid - 1]")) == []
    assert slots(SHUFFLE.replace("tid + off < nthreads", "tid + (unsigned)n < nthreads")) == []
    assert slots(SHUFFLE.replace("x[tid + off]", "x[tid * tid]")) == []
    assert slots(SHUFFLE.replace("      v[tid] +=", "      unsigned lane = tid % 32;\n      v[tid] +=")) == []
