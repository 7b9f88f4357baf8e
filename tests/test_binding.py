"""Binding proofs (xpiler.synth.binding): a loop dealt to workers with a stride, or a loop nest
collapsed into one fused index, runs every original iteration exactly once. True claims hold (for
symbolic and concrete sizes); wrong bindings fail with a counterexample that really breaks them."""

from __future__ import annotations

import pytest

from xpiler.frontend.lift import parse_expression
from xpiler.synth.binding import (BindingError, Proof, check, prove_collapse, prove_distributed_loop, prove_grid_stride,
                                  prove_partition)


def test_grid_stride_visits_every_index_once():
    assert prove_grid_stride() == Proof(
        "for (v = 0 + w*1; v < n; v += W*1) over w in [0, W) runs every iteration of for (v = 0; v < n; v += 1) "
        "exactly once", True)
    for workers, extent in ((16, None), (None, 45), (16, 45), (1, 7)):
        assert prove_grid_stride(workers=workers, extent=extent).holds


def test_distributed_loop_with_a_start_and_a_step():
    a, b, s, W = (parse_expression(x) for x in ("a", "b", "s", "W"))
    assert prove_distributed_loop(a, b, s, W).holds
    # a BANG row loop dealt to the 16 tasks: for (r = taskId; r < 45; r += 16) is the task's share of
    # for (r = 0; r < 45; ++r)
    assert prove_distributed_loop(0, 45, 1, 16).holds
    assert prove_distributed_loop(3, parse_expression("n"), 2, parse_expression("gridDim.x * blockDim.x")) == Proof(
        "for (v = 3 + w*2; v < n; v += (gridDim.x * blockDim.x)*2) over w in [0, gridDim.x * blockDim.x) runs every "
        "iteration of for (v = 3; v < n; v += 2) exactly once", True)


def test_a_stride_one_short_visits_an_index_twice():
    proof = prove_grid_stride(workers=4, stride=3)
    assert not proof.holds and proof.claim.endswith("exactly once [injectivity fails]")
    c = proof.counterexample
    # two different (worker, round) pairs reach the same k below n
    assert (c["w"], c["j"]) != (c["w2"], c["j2"])
    assert c["w"] + 3 * c["j"] == c["w2"] + 3 * c["j2"] < c["n"]
    assert 0 <= c["w"] < 4 and 0 <= c["w2"] < 4


def test_a_stride_of_w_minus_one_never_ends_with_one_worker():
    proof = prove_grid_stride(stride=parse_expression("W - 1"))
    assert proof.claim == ("for (v = 0 + w*1; v < n; v += W - 1) over w in [0, W) runs every iteration of "
                           "for (v = 0; v < n; v += 1) exactly once [termination fails]")
    assert proof.counterexample["W"] == 1 and proof.counterexample["n"] > 0


def test_a_stride_one_too_long_misses_an_index():
    proof = prove_grid_stride(workers=4, extent=20, stride=5)
    assert proof.claim == ("for (v = 0 + w*1; v < 20; v += 5) over w in [0, 4) runs every iteration of "
                           "for (v = 0; v < 20; v += 1) exactly once [coverage fails]")
    assert proof.counterexample["i"] % 5 == 4  # no worker starts at 4 (mod 5)


def balanced(t: int, extra: str = "") -> tuple:
    """Worker ``t``'s range of ``n`` units dealt in balanced blocks (``per = n / 16``, ``rem = n % 16``:
    the first ``rem`` workers one more), as run-time expressions."""
    start = f"{t} * per + ({t} < rem ? {t} : rem)"
    return parse_expression(start), parse_expression(f"{start} + per + ({t} < rem ? 1 : 0){extra}")


def test_balanced_ranges_of_sixteen_workers_make_up_the_units_once():
    ranges = [balanced(t) for t in range(16)]
    proof = prove_partition([a for a, _ in ranges], [b for _, b in ranges])
    assert proof == Proof(
        "the ranges [0 * per + (0 < rem ? 0 : rem), 0 * per + (0 < rem ? 0 : rem) + per + (0 < rem ? 1 : 0)), ..., "
        "[15 * per + (15 < rem ? 15 : rem), 15 * per + (15 < rem ? 15 : rem) + per + (15 < rem ? 1 : 0)) of 16 workers "
        "are [0 * per + (0 < rem ? 0 : rem), 15 * per + (15 < rem ? 15 : rem) + per + (15 < rem ? 1 : 0)), each value once",
        True)


def test_a_range_one_too_long_runs_a_unit_twice():
    ranges = [balanced(t, " + 1" if t == 3 else "") for t in range(16)]
    proof = prove_partition([a for a, _ in ranges], [b for _, b in ranges])
    assert not proof.holds and proof.claim.endswith("each value once [exactly once fails]")
    c = proof.counterexample
    per, rem, v = c["per"], c["rem"], c["v"]
    starts = [t * per + (t if t < rem else rem) for t in range(16)]
    stops = [s + per + (1 if t < rem else 0) + (1 if t == 3 else 0) for t, s in enumerate(starts)]
    # the value is run by a number of workers other than the one loop over [start 0, stop 15) runs it
    assert sum(a <= v < b for a, b in zip(starts, stops)) != (starts[0] <= v < stops[-1])


def test_collapse_is_a_bijection_onto_the_box():
    assert prove_collapse([4, 3]) == Proof("f in [0, 4*3) -> (f / 3, f % 3) is a bijection onto [0, 4) x [0, 3)", True)
    assert prove_collapse([None, None, None]) == Proof(
        "f in [0, e0*e1*e2) -> (f / (e1*e2), (f / e2) % e1, f % e2) is a bijection onto [0, e0) x [0, e1) x [0, e2)",
        True)
    assert prove_collapse([2, None, 7]).holds and prove_collapse([None]).holds
    # column-major is another bijection
    f = parse_expression
    assert prove_collapse([4, 3], [f("f % 4"), f("f / 4")]).holds


def test_collapse_with_swapped_division_and_remainder_leaves_the_box():
    f = parse_expression
    proof = prove_collapse([4, 3], [f("f % 3"), f("f / 3")])
    assert proof.claim == "f in [0, 4*3) -> (f % 3, f / 3) is a bijection onto [0, 4) x [0, 3) [range fails]"
    assert 9 <= proof.counterexample["f"] < 12  # f / 3 == 3 is outside [0, 3)
    symbolic = prove_collapse([None, None], [f("f % e1"), f("f / e1")])
    assert not symbolic.holds
    c = symbolic.counterexample
    assert not (c["f"] % c["e1"] < c["e0"] and c["f"] // c["e1"] < c["e1"])


def test_check_raises_with_the_counterexample():
    assert check(prove_grid_stride()).holds
    with pytest.raises(BindingError) as error:
        check(prove_collapse([4, 3], [parse_expression("f % 3"), parse_expression("f / 3")]))
    assert str(error.value).startswith("binding not proved: f in [0, 4*3) -> (f % 3, f / 3) is a bijection onto "
                                       "[0, 4) x [0, 3) [range fails]; counterexample: f=")


def test_proofs_are_cached():
    assert prove_grid_stride() is prove_grid_stride()
    assert prove_collapse([None, None]) is prove_collapse((None, None))
