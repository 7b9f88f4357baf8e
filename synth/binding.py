"""Binding proofs: a loop distributed over parallel workers, or a loop nest collapsed into one fused
index, still runs every original iteration exactly once.

The raising passes bind loops to threads and tasks in two ways, and both are checked here with z3:

* *distribution* (grid-stride / round-robin): worker ``w`` of ``W`` runs
  ``for (v = a + w*s; v < b; v += W*s)`` in place of ``for (v = a; v < b; v += s)``;
  :func:`prove_distributed_loop` (and :func:`prove_grid_stride`, its ``for (k = w; k < n; k += W)``
  case) proves that the workers' iterations are iterations of the loop (soundness), that no iteration
  runs twice (injectivity) and that none is missed (coverage);
* *collapse*: a box ``e0 x e1 x ... `` becomes one index ``f`` in ``[0, e0*e1*...)`` and
  ``(f / (e1*e2*...), ..., (f / e_last) % e_{n-2}, f % e_last)`` recovers the original indices;
  :func:`prove_collapse` proves every index in range and the map injective, hence (both sides have
  ``e0*e1*...`` points) a bijection onto the box.

Encoding: unbounded z3 integers with explicit bounds, C's truncating ``/`` and ``%``. Every value the
program holds (bounds, steps, the loop variable) is a 32-bit ``int``: it lies in ``[-2**31, 2**31)``,
and the loop variable's last increment does not overflow (``b + W*s < 2**31``); a collapsed box has
fewer than ``2**31`` points. Symbolic quantities (None, or names in IR expressions) range over all
values these bounds allow; a worker count is at least 1, a step and an extent at least 1.

Each claim is one z3 query per part (termination, soundness, injectivity, coverage; range and
injectivity for a collapse); results are cached (:func:`functools.lru_cache`). With the usual stride
``W*s`` the worker and round of an iteration are ``i % W`` and ``i / W``, which makes every part
quantifier-free; another stride (the binding under test is wrong, or unusual) is checked pairwise for
injectivity and, for coverage, over the workers (a counterexample is first sought among at most
:data:`SMALL_WORKERS` workers when their number is symbolic, then a quantified proof is tried). A
collapsed index's injectivity is its recomposition ``f == sum(index_k * stride_k)``, with the lemma
``f / (e*X) == (f / X) / e`` (proved once) instantiated at each stride.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Sequence

import z3

from xpiler import ir
from xpiler.errors import TranslationError

INT_MIN, INT_MAX = -2 ** 31, 2 ** 31 - 1
# z3's deterministic resource limit for one part of a claim (about a second of CPU at most); a part it
# cannot decide makes the claim unproved.
QUERY_RLIMIT = 10_000_000
# Worker counts tried for a counterexample before a quantified proof (other strides, symbolic W).
SMALL_WORKERS = 8


class BindingError(TranslationError):
    """A parallel binding does not run the original iterations exactly once."""


@dataclass(frozen=True)
class Proof:
    """The outcome of checking ``claim``: ``holds``, or a ``counterexample`` (variable -> value) that
    breaks it (None when z3 could not decide)."""

    claim: str
    holds: bool
    counterexample: dict | None = None


def check(proof: Proof) -> Proof:
    """``proof`` when it holds, else :class:`BindingError` with the counterexample."""
    if not proof.holds:
        found = (", ".join(f"{k}={v}" for k, v in proof.counterexample.items())
                 if proof.counterexample is not None else "z3 could not decide it")
        raise BindingError(f"binding not proved: {proof.claim}; counterexample: {found}")
    return proof


# --------------------------------------------------------------------------------------------------
# Expressions: ints, or IR expressions over named integer variables (``n``, ``gridDim.x``)


class _Vars:
    """The z3 integers of the names a claim mentions, with their ranges."""

    def __init__(self):
        self.vars: dict[str, z3.ArithRef] = {}
        self.bounds: list = []

    def var(self, name: str, low: int = INT_MIN, high: int = INT_MAX) -> z3.ArithRef:
        if name not in self.vars:
            self.vars[name] = v = z3.Int(name)
            self.bounds += [v >= low, v <= high]
        return self.vars[name]

    def expr(self, e) -> z3.ArithRef:
        """An int, or an IR integer expression (``+ - * / %``, unary ``-``, casts, parentheses)."""
        if isinstance(e, int):
            return z3.IntVal(e)
        if isinstance(e, ir.Paren):
            return self.expr(e.inner)
        if isinstance(e, ir.Cast):
            return self.expr(e.operand)
        if isinstance(e, ir.Const) and isinstance(e.value, int) and not isinstance(e.value, bool):
            return z3.IntVal(e.value)
        if isinstance(e, ir.Name):
            return self.var(e.id)
        if isinstance(e, ir.Member) and isinstance(e.base, ir.Name):
            return self.var(f"{e.base.id}.{e.field_name}", 0)  # dim3 members are unsigned
        if isinstance(e, ir.Builtin):
            return self.var(e.name + (f".{e.axis}" if e.axis else ""), 0)
        if isinstance(e, ir.UnOp) and e.op == "-":
            return -self.expr(e.operand)
        if isinstance(e, ir.BinOp) and e.op in ("+", "-", "*", "/", "%"):
            a, b = self.expr(e.left), self.expr(e.right)
            if e.op == "+":
                return a + b
            if e.op == "-":
                return a - b
            if e.op == "*":
                return a * b
            q = c_div(a, b)
            return q if e.op == "/" else a - b * q
        if isinstance(e, ir.Ternary):
            return z3.If(self.cond(e.cond), self.expr(e.then), self.expr(e.other))
        if isinstance(e, (ir.BinOp, ir.UnOp)) and e.op in _CONDITIONS:
            return z3.If(self.cond(e), z3.IntVal(1), z3.IntVal(0))
        raise BindingError(f"not an integer expression the binding proofs handle: {e!r}")

    def cond(self, e) -> z3.BoolRef:
        """A C condition: comparisons, ``&& || !``, or an integer (true when not zero)."""
        while isinstance(e, ir.Paren):
            e = e.inner
        if isinstance(e, ir.UnOp) and e.op == "!":
            return z3.Not(self.cond(e.operand))
        if isinstance(e, ir.BinOp) and e.op in ("&&", "||"):
            a, b = self.cond(e.left), self.cond(e.right)
            return z3.And(a, b) if e.op == "&&" else z3.Or(a, b)
        if isinstance(e, ir.BinOp) and e.op in _COMPARISONS:
            return _COMPARISONS[e.op](self.expr(e.left), self.expr(e.right))
        return self.expr(e) != 0


_COMPARISONS = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
                ">=": lambda a, b: a >= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b}
_CONDITIONS = frozenset(_COMPARISONS) | {"&&", "||", "!"}


def c_div(a, b):
    """C's ``a / b`` (truncation toward zero) from z3's Euclidean division."""
    return z3.If(b > 0, z3.If(a >= 0, a / b, -((-a) / b)), z3.If(a >= 0, -(a / -b), (-a) / -b))


def _text(e) -> str:
    if isinstance(e, int):
        return str(e)
    from xpiler.emitters.c_printer import Printer
    named = ir.rewrite(e, lambda n: ir.Name(n.name + (f".{n.axis}" if n.axis else "")) if isinstance(n, ir.Builtin) else n)
    return Printer("vnni").expr(named)


def _factor(e) -> str:
    """The text of ``e`` as a factor of a product."""
    text = _text(e)
    return text if isinstance(e, (int, ir.Name, ir.Const, ir.Member, ir.Builtin)) else f"({text})"


def _first_violation(vars_: _Vars, assumptions: list, parts: list[tuple]):
    """The first part (name, claim[, extra assumptions]) with a model of the assumptions that breaks
    it: (name, model), or (name, None) when z3 cannot decide; None when every part holds."""
    for name, claim, *extra in parts:
        s = z3.Solver()
        s.set("rlimit", QUERY_RLIMIT)
        s.add(*vars_.bounds, *assumptions, *(extra[0] if extra else ()), z3.Not(claim))
        result = s.check()
        if result == z3.unknown:
            # nonlinear: z3 may give up on the unbounded problem (how soon depends on the terms its
            # context has seen); a model with small values is as good a counterexample
            s.add(*[v <= 64 for v in vars_.vars.values()])
            result = s.check()
            if result != z3.sat:
                return name, None
        if result == z3.sat:
            return name, s.model()
    return None


def _proof(claim: str, violation, shown: dict) -> Proof:
    if violation is None:
        return Proof(claim, True)
    part, model = violation
    if model is None:
        return Proof(f"{claim} [{part}: undecided]", False)
    values = {name: model.eval(v, model_completion=True).as_long() for name, v in shown.items()}
    return Proof(f"{claim} [{part} fails]", False, values)


# --------------------------------------------------------------------------------------------------
# Distribution over workers


def prove_distributed_loop(start, stop, step, workers, *, stride=None) -> Proof:
    """Worker ``w`` in ``[0, workers)`` running ``for (v = start + w*step; v < stop; v += stride)``
    (``stride`` default ``workers*step``) together run exactly the iterations of
    ``for (v = start; v < stop; v += step)``, each once. Arguments are ints or IR expressions
    (their names are symbolic ``int`` values); the step and the worker count are at least 1."""
    return _distributed(start, stop, step, workers, stride)


@functools.lru_cache(maxsize=None)
def _distributed(start, stop, step, workers, stride) -> Proof:
    vars_ = _Vars()
    a, b, s, W = (vars_.expr(e) for e in (start, stop, step, workers))
    D = vars_.expr(stride) if stride is not None else W * s
    stride_text = _text(stride) if stride is not None else f"{_factor(workers)}*{_factor(step)}"
    claim = (f"for (v = {_text(start)} + w*{_text(step)}; v < {_text(stop)}; v += {stride_text}) over w in "
             f"[0, {_text(workers)}) runs every iteration of for (v = {_text(start)}; v < {_text(stop)}; "
             f"v += {_text(step)}) exactly once")
    # the program's values are ints; the step and worker count positive; v never overflows
    assumptions = [s >= 1, W >= 1, W <= INT_MAX, W * s <= INT_MAX, D <= INT_MAX, D >= INT_MIN,
                   b + z3.If(D > 0, D, 0) <= INT_MAX]
    i, w, j, w2, j2 = z3.Ints("i w j w2 j2")

    def visited(w_, j_):  # the j-th iteration of worker w: its value, and whether it runs
        v = a + w_ * s + j_ * D
        return v, z3.And(w_ >= 0, w_ < W, j_ >= 0, v < b)

    # a stride equal to W*s (written otherwise) has the proofs of the default one
    usual = stride is None or _first_violation(vars_, assumptions, [("stride", D == W * s)]) is None
    v1, runs1 = visited(w, j)
    v2, runs2 = visited(w2, j2)
    original = a + i * s
    parts = [
        ("termination", z3.Or(D > 0, a + W * s >= b)),
        ("soundness", z3.Implies(runs1, z3.And(v1 >= a, (v1 - a) % s == 0))),
    ]
    if usual:
        # worker w's j-th iteration is iteration w + j*W of the loop, from which w and j come back
        t = w + j * W
        parts.append(("injectivity", z3.Implies(runs1, z3.And(t % W == w, t / W == j))))
    else:
        parts.append(("injectivity", z3.Implies(z3.And(runs1, runs2, v1 == v2), z3.And(w == w2, j == j2))))
    # coverage: iteration i is run by worker i % W as its (i / W)-th iteration (when the stride is
    # W*s; otherwise, with a constant worker count, some worker must run it)
    is_iteration = z3.And(i >= 0, original < b)
    if usual:
        witness = visited(i % W, i / W)
        parts.append(("coverage", z3.Implies(is_iteration, z3.And(witness[1], witness[0] == original))))
    elif isinstance(_value_of(workers), int):
        covered = [z3.And(original - a - k * s >= 0, (original - a - k * s) % D == 0) for k in range(_value_of(workers))]
        parts.append(("coverage", z3.Implies(z3.And(is_iteration, D > 0), z3.Or(*covered))))
    else:
        # a counterexample among a few workers first (the quantified claim is hard for z3 to refute)
        covered = [z3.And(k < W, original - a - k * s >= 0, (original - a - k * s) % D == 0)
                   for k in range(SMALL_WORKERS)]
        parts.append(("coverage", z3.Implies(z3.And(is_iteration, D > 0), z3.Or(*covered)), [W <= SMALL_WORKERS]))
        k = z3.Int("k")
        covered = z3.Exists([k], z3.And(k >= 0, k < W, original - a - k * s >= 0, (original - a - k * s) % D == 0))
        parts.append(("coverage", z3.Implies(z3.And(is_iteration, D > 0), covered)))
    violation = _first_violation(vars_, assumptions, parts)
    # the counterexample: the program's values and the iterations the failing part speaks of
    relevant = {"termination": {}, "soundness": {"w": w, "j": j}, "coverage": {"i": i},
                "injectivity": {"w": w, "j": j} if usual else {"w": w, "j": j, "w2": w2, "j2": j2}}
    return _proof(claim, violation, {**vars_.vars, **relevant[violation[0]]} if violation else {})


def _value_of(e):
    if isinstance(e, int):
        return e
    while isinstance(e, ir.Paren):
        e = e.inner
    if isinstance(e, ir.Const) and isinstance(e.value, int) and not isinstance(e.value, bool):
        return e.value
    return None


def prove_grid_stride(*, workers: int | None = None, extent: int | None = None, stride=None) -> Proof:
    """Workers ``w`` in ``[0, W)`` running ``for (k = w; k < n; k += W)`` visit every ``k`` in
    ``[0, n)`` exactly once; ``W`` and ``n`` symbolic when None. ``stride`` replaces the increment
    ``W`` (to check another binding)."""
    W = workers if workers is not None else ir.Name("W")
    n = extent if extent is not None else ir.Name("n")
    return _distributed(0, n, 1, W, stride)


# --------------------------------------------------------------------------------------------------
# Ranges of workers


def prove_partition(starts: Sequence, stops: Sequence) -> Proof:
    """Worker ``t`` running ``for (v = starts[t]; v < stops[t]; ++v)`` (``t`` in order) together run
    exactly ``for (v = starts[0]; v < stops[-1]; ++v)``, each value once. Bounds are IR expressions
    over named ``int`` values (ternaries and comparisons allowed) computed without overflow."""
    return _partition(tuple(starts), tuple(stops))


@functools.lru_cache(maxsize=None)
def _partition(starts: tuple, stops: tuple) -> Proof:
    if not starts or len(starts) != len(stops):
        raise BindingError("prove_partition: one start and one stop per worker")
    vars_ = _Vars()
    lows, highs = [vars_.expr(e) for e in starts], [vars_.expr(e) for e in stops]
    claim = (f"the ranges [{_text(starts[0])}, {_text(stops[0])}), ..., [{_text(starts[-1])}, "
             f"{_text(stops[-1])}) of {len(starts)} workers are [{_text(starts[0])}, {_text(stops[-1])}), "
             f"each value once")
    # the bounds are ints: a program computing one out of range has no defined behaviour
    assumptions = [z3.And(x >= INT_MIN, x <= INT_MAX) for x in lows + highs]
    v = z3.Int("v")
    runs = z3.Sum([z3.If(z3.And(lo <= v, v < hi), 1, 0) for lo, hi in zip(lows, highs)])
    parts = [("exactly once", runs == z3.If(z3.And(lows[0] <= v, v < highs[-1]), 1, 0))]
    violation = _first_violation(vars_, assumptions, parts)
    return _proof(claim, violation, {**vars_.vars, "v": v} if violation else {})


# --------------------------------------------------------------------------------------------------
# Collapse of a loop nest


def prove_collapse(extents: Sequence[int | None], indices: Sequence[ir.Expr] | None = None, *,
                   fused: str = "f") -> Proof:
    """The fused index ``f`` in ``[0, e0*e1*...)`` mapped to ``(f / (e1*e2*...), ..., f % e_last)``
    is a bijection onto the box ``[0, e0) x [0, e1) x ...``. An extent of None is symbolic (named
    ``e<k>``, at least 1); the box has fewer than ``2**31`` points. ``indices`` replaces the
    decomposition (IR expressions over ``fused`` and the ``e<k>`` names) to check another binding."""
    return _collapse(tuple(extents), tuple(indices) if indices is not None else None, fused)


@functools.lru_cache(maxsize=None)
def _collapse(extents: tuple, indices: tuple | None, fused: str) -> Proof:
    if not extents:
        raise BindingError("prove_collapse: no extents")
    vars_ = _Vars()
    sizes = [z3.IntVal(e) if e is not None else vars_.var(f"e{k}", 1) for k, e in enumerate(extents)]
    names = [str(e) if e is not None else f"e{k}" for k, e in enumerate(extents)]
    f = vars_.var(fused, 0)
    strides = [z3.IntVal(1)]  # row-major: stride_k = e_{k+1} * stride_{k+1}
    for e in reversed(sizes[1:]):
        strides.insert(0, e * strides[0])
    total = sizes[0] * strides[0]
    if indices is None:
        decomposed = [f / strides[0]] + [(f / strides[k]) % sizes[k] for k in range(1, len(sizes))]
        def product(ns):
            return ns[0] if len(ns) == 1 else f"({'*'.join(ns)})"
        shown_indices = [f"{fused} / {product(names[1:])}" if len(names) > 1 else fused] + \
            [f"({fused} / {product(names[k + 1:])}) % {names[k]}" if k + 1 < len(names) else f"{fused} % {names[k]}"
             for k in range(1, len(names))]
    else:
        if len(indices) != len(extents):
            raise BindingError(f"prove_collapse: {len(indices)} indices for {len(extents)} extents")
        decomposed = [vars_.expr(e) for e in indices]
        shown_indices = [_text(e) for e in indices]
    claim = (f"{fused} in [0, {'*'.join(names)}) -> ({', '.join(shown_indices)}) is a bijection onto "
             f"{' x '.join(f'[0, {n})' for n in names)}")
    assumptions = [total <= INT_MAX, f < total]
    in_box = z3.And(*[z3.And(x >= 0, x < e) for x, e in zip(decomposed, sizes)])
    # injective: for the row-major decomposition the indices recompose f (with the nested-division
    # lemma instantiated at each stride, z3 proves it for symbolic extents); otherwise no two fused
    # indices have the same image
    if indices is None:
        recomposed = sum((x * st for x, st in zip(decomposed, strides)), z3.IntVal(0))
        if not _nested_division():
            return Proof(f"{claim} [injectivity: undecided]", False)
        assumptions += [f / (e * st) == (f / st) / e for e, st in zip(sizes[1:], strides[1:])]
        parts = [("range", in_box), ("injectivity", recomposed == f)]
        shown = {fused: f, **{k: v for k, v in vars_.vars.items() if k != fused}}
    else:
        g = z3.Int(f"{fused}2")
        other = [z3.substitute(x, (f, g)) for x in decomposed]
        parts = [("range", in_box),
                 ("injectivity", z3.Implies(z3.And(g >= 0, g < total, *[x == y for x, y in zip(decomposed, other)]),
                                            f == g))]
        shown = {fused: f, f"{fused}2": g, **{k: v for k, v in vars_.vars.items() if k != fused}}
    violation = _first_violation(vars_, assumptions, parts)
    if violation is not None and violation[0] == "range":
        shown.pop(f"{fused}2", None)
    return _proof(claim, violation, shown)


@functools.lru_cache(maxsize=None)
def _nested_division() -> bool:
    """``f / (e*X) == (f / X) / e`` for ``f >= 0`` and ``e, X >= 1``, proved once."""
    f, e, x = z3.Ints("f e X")
    s = z3.Solver()
    s.set("rlimit", QUERY_RLIMIT)
    s.add(f >= 0, e >= 1, x >= 1, z3.Not(f / (e * x) == (f / x) / e))
    return s.check() == z3.unsat
