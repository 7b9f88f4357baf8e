"""z3 solvers whose answers do not depend on the clock.

z3's own strategy for nonlinear integer problems (what ``z3.Solver()`` and ``SolverFor("QF_NIA")``
run on them) gives its SMT core two seconds of *wall time* (``try_for``) before it turns to nlsat. A
query that takes about that long was then decided one way on an idle machine and another under
load, or simply in another process: the same footprint query was seen to cost 5.9M resource units
in one run and to run out of 20M in the next. Every answer xpiler's analyses take from z3 decides
what code they emit, so they use this solver instead: z3's preprocessing, then the SMT core, with
no timer anywhere in the strategy. The work it may do is bounded by a resource limit (``rlimit``,
counted in z3's deterministic units), which callers set; a wall-clock timeout, if a caller sets one,
is only a safety net far above what the resource limit allows.
"""

from __future__ import annotations

import z3

# simplify and solve-eqs as z3's QF_NIA preamble runs them; then the SMT core (which handles
# linear and nonlinear integer arithmetic, the latter incompletely)
_STEPS = ("simplify", "propagate-values", "solve-eqs", "smt")


def solver(ctx: z3.Context | None = None) -> z3.Solver:
    """A solver over ``ctx`` (z3's main context by default) whose outcome depends only on the
    assertions and the resource limit."""
    ctx = ctx if ctx is not None else z3.main_ctx()
    return z3.Then(*_STEPS, ctx=ctx).solver()
