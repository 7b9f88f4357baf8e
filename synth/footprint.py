"""Footprint analysis: how many elements of each pointer parameter a function accesses.

A translated program's host entry copies every pointer parameter to device memory, so it needs each
buffer's element count: the largest index the function accesses, plus one. :func:`footprint` derives
it exactly, as an IR expression over the function's other scalar parameters, or raises
:class:`FootprintError` naming the buffer and the cause. It never over- or under-estimates.

How:

1. *Symbolic execution* of the body (:class:`_Tracer`). Integer values are *terms*: IR expressions
   over the symbolic parameters and one iteration counter ``@tN`` per loop; a loop
   ``for (v = a; v < b; v += s)`` binds ``v`` to ``a + s*@tN`` under ``@tN >= 0 && a + s*@tN < b``.
   Locals are replaced by their values as the execution goes, so ``const int HO = (H + 2*P - K)/S + 1``
   or ``int base = taskId*128000 + i*8192`` disappear into the terms; an ``if`` merges the values of its
   branches with ``?:``. Pointers are (parameter, byte offset, element size), which follows aliases
   (``const float *xc = x + off``) and casts (``(char *)p``). Every access -- ``p[e]``, ``*(p + e)``,
   ``memcpy``/``memset`` of ``n`` bytes -- records its byte range and its *path condition*: the loop
   constraints and the ``if`` / ``?:`` / ``&&`` / ``continue`` guards it runs under.
   Values read from memory, floating-point values and variables a loop changes are *opaque*. An index
   or a loop bound that depends on one makes the extent of the buffer unknowable (data-dependent); a
   guard that depends on one (or a ``break``) turns the access into a *possible* one, which must stay
   inside what the definite accesses reach. Functions of the module the pointers are passed to are
   executed in place; a pointer parameter passed to an unknown call or stored to memory escapes: its
   extent is unknowable.
2. *Solving* with z3 over unbounded integers (C's truncating ``/`` and ``%`` encoded exactly).
   With every parameter the accesses depend on known, the extent is the maximum of (byte offset +
   size) over each access's path condition: a model, then galloping and bisection with incremental
   satisfiability checks, which end in a proof that nothing lies above. With some parameters
   symbolic, a candidate closed form comes from evaluating each access at its last iteration
   (innermost loop first; a loop's last iteration is bounded by its condition and by the guards on
   its counter), simplified where z3 proves the simpler form equal (``min(16*ceil(n/16), n)`` is
   ``n``); the candidate is then *proved* an upper bound of every access for all parameter values
   and *checked* to be reached at sampled parameter values.
   Either way no access may start below the buffer, and possible accesses may not exceed the extent.

Assumptions, the program's own: no signed overflow (values converted to unsigned types are proved
non-negative, narrowing conversions proved in range), no division by zero, shift counts in range,
loops terminate; symbolic parameters are non-negative. A symbolic result is exact for every parameter
value at which the buffer is accessed at all (where nothing is accessed its value is unspecified).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import random
import re
import time
from dataclasses import dataclass, replace
from typing import Iterable, Mapping

import z3

from xpiler import ir
from xpiler.errors import TranslationError
from xpiler.ir.analysis import strip_parens
from xpiler.ir.polynomial import Poly, add as _padd, mul as _pmul
from xpiler.ir.types import (TypeEnv, canonical_base, integer_range, is_floating, is_integer,
                             is_unsigned, sizeof)
from xpiler.passes.cleanup import address_taken


class FootprintError(TranslationError):
    """The extent of a buffer cannot be derived exactly (data-dependent index, pointer escapes, ...)."""


# z3's deterministic resource limits, for one query (a few seconds of CPU at most; a proof attempted
# while simplifying gets a tenth) and for one call in all (two queries that run out): a query that runs
# out is a refusal (or a simplification not made), never a guess. No clock decides anything, so the
# machine's load does not either. (Not yet reproducible between processes: the same query text near
# its limit is decided in one run and not in another, BANG bmm_matmul's B and C; the terms probably
# reach z3 in an order that depends on object addresses. Both outcomes are exact.)
QUERY_RLIMIT = 20_000_000
BUDGET_RLIMIT = 40_000_000
# ... for the proof, before an inspector is built, that no access starts below its buffer.
INSPECTOR_RLIMIT = 10_000_000
# A wall-clock bound far above what the budgets take (z3 spends 2-10 s on a query that runs out): a net
# against a solver stuck between two resource checks, not a limit that decides outcomes.
SAFETY_DEADLINE_S = 120.0
# Random parameter points (besides all-1, 2, 3, 7) at which a symbolic extent must be reached.
SAMPLES = 12
SAMPLE_RANGE = (0, 12)


# --------------------------------------------------------------------------------------------------
# Terms: IR expressions over symbols (parameters, ``gridDim.x``, iteration counters ``@tN``) with
# integer constants, ``+ - * / %`` (C semantics), comparisons, ``&& || !``, ``?:`` and the pseudo-calls
# ``@fdiv``/``@fmod`` (floor division and modulo by a power of two: shifts and masks), ``@pow2(r)``
# (``1 << r``) and ``@lowmask(r)`` (``(1 << r) - 1``, 0 for ``r <= 0``: what AVX-512 tail masks are built
# from).
# The constructors fold constants so that known parameters vanish from the terms.

_BOOL_OPS = {"<", "<=", ">", ">=", "==", "!=", "&&", "||"}


def _const(value: int) -> ir.Const:
    return ir.Const(str(value), int(value))


ZERO, ONE = _const(0), _const(1)


def _value(t) -> int | None:
    if isinstance(t, ir.Const) and isinstance(t.value, int) and not isinstance(t.value, bool):
        return t.value
    return None


# Results of the pure functions on terms, by term identity (each entry keeps its term alive, so an id
# is never reused while cached); emptied after every footprint query.
_MEMO: list[dict] = []


def _memoized(fn):
    cache: dict = {}
    _MEMO.append(cache)

    @functools.wraps(fn)
    def wrapper(t):
        hit = cache.get(id(t))
        if hit is None:
            hit = cache[id(t)] = (t, fn(t))
        return hit[1]
    return wrapper


def _pseudo(name: str, *args) -> ir.Call:
    return ir.Call(ir.Name(name), tuple(args))


def _is_pseudo(t, name: str) -> bool:
    return isinstance(t, ir.Call) and isinstance(t.func, ir.Name) and t.func.id == name


def _tdiv(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def add(a, b):
    va, vb = _value(a), _value(b)
    if va is not None and vb is not None:
        return _const(va + vb)
    if va == 0:
        return b
    if vb == 0:
        return a
    return ir.BinOp("+", a, b)


def sub(a, b):
    va, vb = _value(a), _value(b)
    if va is not None and vb is not None:
        return _const(va - vb)
    if vb == 0:
        return a
    if vb == 1 and _is_pseudo(a, "@pow2"):
        return lowmask(a.args[0])
    if a == b:
        return ZERO
    return ir.BinOp("-", a, b)


def mul(a, b):
    va, vb = _value(a), _value(b)
    if va is not None and vb is not None:
        return _const(va * vb)
    if va == 0 or vb == 0:
        return ZERO
    if va == 1:
        return b
    if vb == 1:
        return a
    return ir.BinOp("*", a, b)


def neg(a):
    va = _value(a)
    return _const(-va) if va is not None else ir.UnOp("-", a)


def cdiv(a, b):
    va, vb = _value(a), _value(b)
    if va is not None and vb:
        return _const(_tdiv(va, vb))
    if vb == 1:
        return a
    return ir.BinOp("/", a, b)


def cmod(a, b):
    va, vb = _value(a), _value(b)
    if va is not None and vb:
        return _const(va - vb * _tdiv(va, vb))
    if vb == 1:
        return ZERO
    return ir.BinOp("%", a, b)


def fdiv(a, b):
    va, vb = _value(a), _value(b)
    if va is not None and vb:
        return _const(va // vb)
    if vb == 1:
        return a
    if _is_pseudo(a, "@lowmask") and vb is not None and vb > 0 and vb & (vb - 1) == 0:
        return lowmask(sub(a.args[0], _const(vb.bit_length() - 1)))  # (2^r - 1) >> k == 2^(r - k) - 1
    return _pseudo("@fdiv", a, b)


def fmod(a, b):
    va, vb = _value(a), _value(b)
    if va is not None and vb:
        return _const(va % vb)
    if vb == 1:
        return ZERO
    if _is_pseudo(a, "@lowmask") and vb is not None and vb > 0 and vb & (vb - 1) == 0:
        # the low k bits of 2^r - 1 are 2^min(r, k) - 1
        return lowmask(minimum(a.args[0], _const(vb.bit_length() - 1)))
    return _pseudo("@fmod", a, b)


def pow2(r):
    vr = _value(r)
    return _const(2 ** vr) if vr is not None and vr >= 0 else _pseudo("@pow2", r)


def lowmask(r):
    """``2^r - 1`` with ``r`` low bits set (none when ``r <= 0``)."""
    vr = _value(r)
    return _const(2 ** max(vr, 0) - 1) if vr is not None else _pseudo("@lowmask", r)


def compare(op: str, a, b):
    va, vb = _value(a), _value(b)
    if va is not None and vb is not None:
        return ONE if {"<": va < vb, "<=": va <= vb, ">": va > vb, ">=": va >= vb, "==": va == vb,
                       "!=": va != vb}[op] else ZERO
    return ir.BinOp(op, a, b)


def land(a, b):
    va, vb = _value(a), _value(b)
    if va is not None:
        return _truth(b) if va else ZERO
    if vb is not None:
        return _truth(a) if vb else ZERO
    return ir.BinOp("&&", a, b)


def lor(a, b):
    va, vb = _value(a), _value(b)
    if va is not None:
        return ONE if va else _truth(b)
    if vb is not None:
        return ONE if vb else _truth(a)
    return ir.BinOp("||", a, b)


def lnot(a):
    va = _value(a)
    if va is not None:
        return ZERO if va else ONE
    if isinstance(a, ir.UnOp) and a.op == "!":
        return _truth(a.operand)
    if isinstance(a, ir.BinOp) and a.op in ("<", "<=", ">", ">=", "==", "!="):
        return ir.BinOp({"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}[a.op], a.left, a.right)
    return ir.UnOp("!", a)


def _truth(a):
    """``a`` as a truth value (0 or 1)."""
    va = _value(a)
    if va is not None:
        return ONE if va else ZERO
    if _is_bool(a):
        return a
    return ir.BinOp("!=", a, ZERO)


def _is_bool(t) -> bool:
    return (isinstance(t, ir.BinOp) and t.op in _BOOL_OPS) or (isinstance(t, ir.UnOp) and t.op == "!")


def ite(c, a, b):
    vc = _value(c)
    if vc is not None:
        return a if vc else b
    if a == b:
        return a
    if _is_pseudo(a, "@lowmask") and _value(b) == 0 and isinstance(c, ir.BinOp) and c.op in ("!=", ">") and \
            c.left == a.args[0] and _value(c.right) == 0:
        return a  # r ? (1 << r) - 1 : 0, a tail mask built with a guard: the mask is 0 for r == 0 anyway
    return ir.Ternary(c, a, b)


def minimum(a, b):
    if isinstance(a, ir.Ternary) and a.cond == ir.BinOp("<", a.then, b) and a.other == b:
        return a  # min(min(x, b), b)
    return ite(compare("<", a, b), a, b)


def maximum(a, b):
    if isinstance(a, ir.Ternary) and a.cond == ir.BinOp(">", a.then, b) and a.other == b:
        return a
    return ite(compare(">", a, b), a, b)


def _parts(t) -> tuple:
    """The sub-terms of a term."""
    if isinstance(t, ir.BinOp):
        return t.left, t.right
    if isinstance(t, ir.UnOp):
        return (t.operand,)
    if isinstance(t, ir.Ternary):
        return t.cond, t.then, t.other
    if isinstance(t, ir.Call):
        return t.args
    return ()


def _rebuild(t, parts: tuple):
    if isinstance(t, ir.BinOp):
        return ir.BinOp(t.op, *parts)
    if isinstance(t, ir.UnOp):
        return ir.UnOp(t.op, parts[0])
    if isinstance(t, ir.Ternary):
        return ir.Ternary(*parts)
    return ir.Call(t.func, parts)


def _map(t, fn, memo: dict | None = None):
    """Rewrite a term bottom-up: ``fn`` on every node after its parts (shared sub-terms once)."""
    memo = {} if memo is None else memo
    hit = memo.get(id(t))
    if hit is not None:
        return hit[1]
    parts = _parts(t)
    new_parts = tuple(_map(p, fn, memo) for p in parts)
    node = t if all(a is b for a, b in zip(parts, new_parts)) else _rebuild(t, new_parts)
    result = fn(node)
    memo[id(t)] = (t, result)
    return result


def _substitute(term, mapping: dict):
    """``term`` with symbols replaced (``mapping``: symbol key -> term), constants folded."""
    if not mapping:
        return term
    return _refold(_map(term, lambda n: mapping.get(_symbol_key(n), n) if _symbol_key(n) else n))


def _subterms(t):
    """Every sub-term of a term, outermost first."""
    stack = [t]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(_parts(n)))


def _refold(t):
    """Rebuild a term through the folding constructors (after a substitution made parts constant)."""
    if isinstance(t, ir.BinOp):
        a, b = _refold(t.left), _refold(t.right)
        return {"+": add, "-": sub, "*": mul, "/": cdiv, "%": cmod, "&&": land, "||": lor}.get(
            t.op, lambda x, y: compare(t.op, x, y))(a, b)
    if isinstance(t, ir.UnOp):
        inner = _refold(t.operand)
        return neg(inner) if t.op == "-" else lnot(inner)
    if isinstance(t, ir.Ternary):
        return ite(_refold(t.cond), _refold(t.then), _refold(t.other))
    if isinstance(t, ir.Call) and isinstance(t.func, ir.Name) and t.func.id.startswith("@"):
        args = [_refold(a) for a in t.args]
        name = t.func.id
        if name == "@fdiv":
            return fdiv(*args)
        if name == "@fmod":
            return fmod(*args)
        if name == "@pow2":
            return pow2(*args)
        return lowmask(*args)
    return t


def _symbol_key(t) -> str | None:
    if isinstance(t, ir.Name) and (not t.id.startswith("@") or t.id.startswith("@t")):
        return t.id
    if isinstance(t, ir.Member) and isinstance(t.base, ir.Name):
        return f"{t.base.id}.{t.field_name}"
    return None


def _symbols(term) -> set[str]:
    return {k for n in _subterms(term) if (k := _symbol_key(n)) is not None}


def _counters(term) -> set[str]:
    return {k for k in _symbols(term) if k.startswith("@t")}


@_memoized
def _text(t) -> str:
    """A canonical C-like spelling of a term (keys of atoms, messages)."""
    if isinstance(t, ir.Const):
        return t.text
    if isinstance(t, ir.Name):
        return t.id
    if isinstance(t, ir.Member):
        return f"{_text(t.base)}.{t.field_name}"
    if isinstance(t, ir.BinOp):
        return f"({_text(t.left)} {t.op} {_text(t.right)})"
    if isinstance(t, ir.UnOp):
        return f"{t.op}{_text(t.operand)}"
    if isinstance(t, ir.Ternary):
        return f"({_text(t.cond)} ? {_text(t.then)} : {_text(t.other)})"
    if isinstance(t, ir.Call):
        return f"{_text(t.func)}({', '.join(_text(a) for a in t.args)})"
    return repr(t)


def _evaluate(t, point: dict, memo: dict | None = None) -> int:
    """The value of a term at a point (symbol key -> int); ZeroDivisionError on a division by zero."""
    memo = {} if memo is None else memo
    hit = memo.get(id(t))
    if hit is None:
        hit = memo[id(t)] = (t, _evaluate_node(t, point, memo))
    return hit[1]


def _evaluate_node(t, point: dict, memo: dict) -> int:
    v = _value(t)
    if v is not None:
        return v
    key = _symbol_key(t)
    if key is not None:
        return point[key]
    if isinstance(t, ir.Ternary):
        return _evaluate(t.then if _evaluate(t.cond, point, memo) else t.other, point, memo)
    if isinstance(t, ir.BinOp) and t.op in ("&&", "||"):
        a = _evaluate(t.left, point, memo)
        if (t.op == "&&") != bool(a):
            return int(bool(a))
        return int(bool(_evaluate(t.right, point, memo)))
    args = [_evaluate(p, point, memo) for p in _parts(t)]
    if isinstance(t, ir.UnOp):
        return -args[0] if t.op == "-" else int(not args[0])
    if isinstance(t, ir.Call):
        name = t.func.id
        if name == "@fdiv":
            return args[0] // args[1]
        if name == "@fmod":
            return args[0] % args[1]
        if not args[0] < 64:
            raise ValueError(f"shift by {args[0]}")
        if name == "@pow2":
            if args[0] < 0:
                raise ValueError(f"shift by {args[0]}")
            return 2 ** args[0]
        return 2 ** max(args[0], 0) - 1
    a, b = args
    if t.op in ("/", "%"):
        q = _tdiv(a, b)
        return q if t.op == "/" else a - b * q
    if t.op == "<<" and not 0 <= b < 64:
        raise ValueError(f"shift by {b}")
    return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "<<": lambda: a << b, "<": lambda: int(a < b),
            "<=": lambda: int(a <= b), ">": lambda: int(a > b), ">=": lambda: int(a >= b),
            "==": lambda: int(a == b), "!=": lambda: int(a != b)}[t.op]()


def _nonneg(t) -> bool:
    """True when ``t`` is non-negative by its form (symbols are non-negative parameters or counters)."""
    v = _value(t)
    if v is not None:
        return v >= 0
    if _symbol_key(t) is not None or _is_bool(t):
        return True
    if isinstance(t, ir.BinOp) and t.op in ("+", "*", "/", "%"):
        return _nonneg(t.left) and _nonneg(t.right)
    if isinstance(t, ir.Ternary):
        return _nonneg(t.then) and _nonneg(t.other)
    if isinstance(t, ir.Call):
        return t.func.id in ("@pow2", "@lowmask", "@fmod") or (t.func.id == "@fdiv" and _nonneg(t.args[0]))
    return False


# --------------------------------------------------------------------------------------------------
# Polynomials over atoms: sums of products of symbols and non-polynomial subterms. They normalise
# candidate extents ((N - 1)*K + (K - 1) + 1 is N*K) and expose how a condition depends on a counter.



def _poly(t, atoms: dict) -> Poly:
    """The polynomial of a term (not to be mutated); its atoms are added to ``atoms`` by key."""
    poly, own_atoms = _poly_and_atoms(t)
    atoms.update(own_atoms)
    return poly


@_memoized
def _poly_and_atoms(t) -> tuple[Poly, dict]:
    atoms: dict = {}
    return _build_poly(t, atoms), atoms


def _build_poly(t, atoms: dict) -> Poly:
    v = _value(t)
    if v is not None:
        return {(): v} if v else {}
    if isinstance(t, ir.BinOp) and t.op in ("+", "-"):
        a, b = _poly(t.left, atoms), _poly(t.right, atoms)
        return _padd(a, b, 1 if t.op == "+" else -1)
    if isinstance(t, ir.BinOp) and t.op == "*":
        return _pmul(_poly(t.left, atoms), _poly(t.right, atoms))
    if isinstance(t, ir.UnOp) and t.op == "-":
        return {m: -c for m, c in _poly(t.operand, atoms).items()}
    if _symbol_key(t) is None:
        t = _simplify_atom(t)
        v = _value(t)
        if v is not None:
            return {(): v} if v else {}
        if isinstance(t, (ir.BinOp, ir.UnOp)) and t.op in ("+", "-", "*"):
            return _poly(t, atoms)
    key = _text(t)
    atoms[key] = t
    return {(key,): 1}


def _from_poly(p: Poly, atoms: dict):
    """The term of a polynomial, highest degree first: ``N * K - 1``."""
    order = sorted(p.items(), key=lambda mc: (-len(mc[0]), mc[1] < 0, mc[0]))
    result = None
    for monomial, c in order:
        product = None
        for key in monomial:
            product = atoms[key] if product is None else mul(product, atoms[key])
        magnitude = abs(c)
        if product is None:
            product = _const(magnitude)
        elif magnitude != 1:
            product = mul(_const(magnitude), product)
        if result is None:
            result = product if c > 0 else neg(product)
        else:
            result = add(result, product) if c > 0 else sub(result, product)
    return ZERO if result is None else result


@_memoized
def simplify(t):
    """Normalise a term: polynomial parts collected, exact divisions by constants done, constant
    conditions folded."""
    atoms: dict = {}
    if isinstance(t, ir.BinOp) and t.op in ("+", "-", "*") or isinstance(t, ir.UnOp) and t.op == "-":
        p = _poly(t, atoms)
        choices = [m for m in p if len(m) == 1 and isinstance(atoms[m[0]], ir.Ternary)]
        if choices and len(p) > 1 and len({_text(atoms[m[0]].cond) for m in choices}) == 1 and not _counters(t):
            # a + k*(c ? x : y) + l*(c ? u : v) is c ? a + k*x + l*u : a + k*y + l*v, which often folds
            # (to min(a + k*x, a + k*y)); not with loop counters, whose conditions must stay linear
            cond = atoms[choices[0][0]].cond
            rest = _from_poly({m: c for m, c in p.items() if m not in choices}, atoms)
            then, other = rest, rest
            for m in choices:
                then = add(then, mul(_const(p[m]), atoms[m[0]].then))
                other = add(other, mul(_const(p[m]), atoms[m[0]].other))
            return ite(cond, simplify(then), simplify(other))
        return _from_poly(p, atoms)
    return _simplify_atom(t)


def _simplify_atom(t):
    if isinstance(t, ir.BinOp) and t.op in ("/", "%"):
        a, b = simplify(t.left), simplify(t.right)
        vb = _value(b)
        if vb:
            atoms: dict = {}
            p = _poly(a, atoms)
            if all(c % vb == 0 for c in p.values()):  # exact division, whatever the signs
                return _from_poly({m: c // vb for m, c in p.items()}, atoms) if t.op == "/" else ZERO
        return cdiv(a, b) if t.op == "/" else cmod(a, b)
    if isinstance(t, ir.BinOp) and t.op in _BOOL_OPS:
        a, b = simplify(t.left), simplify(t.right)
        if t.op in ("&&", "||"):
            return land(a, b) if t.op == "&&" else lor(a, b)
        atoms = {}
        d = _padd(_poly(a, atoms), _poly(b, atoms), -1)
        if all(m == () for m in d):
            return compare(t.op, _const(d.get((), 0)), ZERO)
        # a - b op 0 as (the positive part of a - b) op (its negative part, negated)
        return compare(t.op, _from_poly({m: c for m, c in d.items() if c > 0}, atoms),
                       _from_poly({m: -c for m, c in d.items() if c < 0}, atoms))
    if isinstance(t, ir.UnOp) and t.op == "!":
        return lnot(simplify(t.operand))
    if isinstance(t, ir.Ternary):
        return ite(simplify(t.cond), simplify(t.then), simplify(t.other))
    if isinstance(t, ir.Call) and t.func.id.startswith("@"):
        return _refold(replace(t, args=tuple(simplify(a) for a in t.args)))
    return t


def _linear_in(term, counter: str):
    """``(c, rest)`` with ``term == c*counter + rest`` where neither ``c`` nor ``rest`` mentions the
    counter, else None."""
    atoms: dict = {}
    p = _poly(term, atoms)
    coefficient: Poly = {}
    rest: Poly = {}
    for m, c in p.items():
        n = m.count(counter)
        if n == 0:
            if any(counter in _counters(atoms[k]) for k in m):
                return None
            rest[m] = c
        elif n == 1:
            others = tuple(k for k in m if k != counter)
            if any(counter in _counters(atoms[k]) for k in others):
                return None
            coefficient[others] = coefficient.get(others, 0) + c
        else:
            return None
    coefficient = {m: c for m, c in coefficient.items() if c}
    return _from_poly(coefficient, atoms), _from_poly(rest, atoms)


def _sign(t) -> int:
    """1 or -1 when ``t`` is positive or negative by its form (symbols non-negative, a symbolic
    coefficient of a loop counter non-zero), else 0."""
    v = _value(t)
    if v is not None:
        return (v > 0) - (v < 0)
    atoms: dict = {}
    p = _poly(t, atoms)
    if all(all(_nonneg(atoms[k]) for k in m) for m in p):
        if all(c > 0 for c in p.values()):
            return 1
        if all(c < 0 for c in p.values()):
            return -1
    return 0


# --------------------------------------------------------------------------------------------------
# z3 encoding of terms (unbounded integers; C's truncating division; booleans as 0/1 where used as
# integers)


class _Z3:
    def __init__(self, ctx: z3.Context):
        self.ctx = ctx
        self.vars: dict[str, z3.ArithRef] = {}
        self.memo: dict[int, z3.ExprRef] = {}

    def var(self, key: str) -> z3.ArithRef:
        if key not in self.vars:
            self.vars[key] = z3.Int(key, self.ctx)
        return self.vars[key]

    def int(self, t) -> z3.ArithRef:
        e = self._encode(t)
        return z3.If(e, z3.IntVal(1, self.ctx), z3.IntVal(0, self.ctx)) if z3.is_bool(e) else e

    def bool(self, t) -> z3.BoolRef:
        e = self._encode(t)
        return e if z3.is_bool(e) else e != 0

    def _encode(self, t):
        found = self.memo.get(id(t))
        if found is not None:
            return found[1]
        e = self._build(t)
        self.memo[id(t)] = (t, e)  # keep ``t`` alive so its id stays unique
        return e

    def _build(self, t):
        v = _value(t)
        if v is not None:
            return z3.IntVal(v, self.ctx)
        key = _symbol_key(t)
        if key is not None:
            return self.var(key)
        if isinstance(t, ir.BinOp):
            if t.op in ("&&", "||"):
                a, b = self.bool(t.left), self.bool(t.right)
                return z3.And(a, b) if t.op == "&&" else z3.Or(a, b)
            a, b = self.int(t.left), self.int(t.right)
            if t.op == "+":
                return a + b
            if t.op == "-":
                return a - b
            if t.op == "*":
                return a * b
            if t.op in ("/", "%"):
                q = _z3_tdiv(a, b, _nonneg(t.left), _value(t.right))
                return q if t.op == "/" else a - b * q
            return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}[t.op]
        if isinstance(t, ir.UnOp):
            return -self.int(t.operand) if t.op == "-" else z3.Not(self.bool(t.operand))
        if isinstance(t, ir.Ternary):
            a, b = self._encode(t.then), self._encode(t.other)
            if z3.is_bool(a) != z3.is_bool(b):
                a, b = self.int(t.then), self.int(t.other)
            return z3.If(self.bool(t.cond), a, b)
        if isinstance(t, ir.Call):
            name, args = t.func.id, [self.int(a) for a in t.args]
            if name == "@fdiv":
                return args[0] / args[1]  # z3's division is floor division for positive divisors
            if name == "@fmod":
                return args[0] % args[1]
            if name == "@pow2":
                power = z3.IntVal(2 ** 64, self.ctx)  # out of range: excluded by the shift-count assumption
                for k in reversed(range(64)):
                    power = z3.If(args[0] == k, z3.IntVal(2 ** k, self.ctx), power)
                return power
            mask = z3.IntVal(2 ** 64 - 1, self.ctx)
            for k in reversed(range(1, 64)):
                mask = z3.If(args[0] == k, z3.IntVal(2 ** k - 1, self.ctx), mask)
            return z3.If(args[0] <= 0, z3.IntVal(0, self.ctx), mask)
        raise AssertionError(f"not a term: {t!r}")


def _z3_tdiv(a, b, a_nonneg: bool, b_const: int | None):
    """C's ``a / b`` (truncation toward zero) from z3's Euclidean division."""
    if b_const is not None and b_const > 0:
        return a / b if a_nonneg else z3.If(a >= 0, a / b, -((-a) / b))
    return z3.If(b > 0, z3.If(a >= 0, a / b, -((-a) / b)), z3.If(a >= 0, -(a / -b), (-a) / -b))


# --------------------------------------------------------------------------------------------------
# Values of the symbolic execution


@dataclass(frozen=True)
class Int:
    """An integer (or truth) value."""

    term: object
    unsigned: bool = False


@dataclass(frozen=True)
class Pointer:
    """A pointer into parameter ``root`` (None: local memory) at ``offset`` bytes, to elements of
    ``elem`` bytes (None: unknown, ``void *``); ``dims`` are the extents of an array pointee
    (``float (*)[40]`` of a parameter ``float A[100][40]``)."""

    root: str | None
    offset: object
    elem: int | None
    dims: tuple = ()

    @property
    def stride(self) -> object:
        """Bytes between consecutive pointees."""
        size = _const(self.elem or 0)
        for d in self.dims:
            size = mul(size, d)
        return size


@dataclass(frozen=True)
class Opaque:
    """A value the analysis does not follow (read from memory, floating-point, changed by a loop...);
    ``roots`` are the parameters it may point into."""

    reason: str
    roots: frozenset = frozenset()


@dataclass(frozen=True)
class Record:
    """A struct parameter (``dim3 gridDim``): its integer members are constants or symbols."""

    name: str


@dataclass
class _Var:
    value: object
    type: ir.Type | None
    dims: tuple = ()


@dataclass(frozen=True)
class _Loop:
    """A loop's iteration counter and its last value (a term over outer counters and parameters, valid
    when the loop runs at least once), for the candidate."""

    counter: str
    last: object


@dataclass(frozen=True)
class _Access:
    root: str
    start: object        # first byte
    size: object         # bytes
    path: tuple          # truth terms
    loops: tuple         # _Loop, outermost first
    maybe: str | None    # why it only possibly happens (data-dependent guard, break), None: definite
    node: object         # the access as written

    @functools.cached_property
    def text(self) -> str:
        return _c(self.node)

    @functools.cached_property
    def key(self) -> tuple:
        """Accesses with the same key touch the same bytes (``T[i] += ...`` reads and writes)."""
        return _text(self.start), _text(self.size), tuple(_text(p) for p in self.path), self.maybe


@dataclass(frozen=True)
class _Condition:
    """A condition (``why``) the program needs at a path: no division by zero, shift counts in range,
    loops that end, and what the model over unbounded integers needs (no unsigned wrap-around, values
    that fit their narrow types). On parameters only, it restricts them (the values that break it are
    not the program's inputs); on loop counters, it must be proved."""

    path: tuple
    cond: object
    why: str


_UNKNOWN_EXIT = object()  # control may leave through a continue/return under a data-dependent condition
_MISSING = object()
_COPIES = {"memcpy", "memmove", "__builtin_memcpy", "__builtin_memmove", "std::memcpy", "std::memmove"}
_SETS = {"memset", "__builtin_memset", "std::memset"}
_MIN_MAX = {"min": minimum, "max": maximum, "std::min": minimum, "std::max": maximum}


def _c(node) -> str:
    """An expression as C, for messages (built-ins as their names: ``gridDim.x``)."""
    from xpiler.emitters.c_printer import Printer
    named = ir.rewrite(node, lambda n: ir.Name(n.name + (f".{n.axis}" if n.axis else ""))
                       if isinstance(n, ir.Builtin) else n)
    return Printer("vnni").expr(named)


# --------------------------------------------------------------------------------------------------
# Symbolic execution


class _Tracer:
    """Executes a function body symbolically and records every access to its pointer parameters."""

    def __init__(self, function: ir.Function, constants: Mapping[str, int], module: ir.Module | None):
        self.function = function
        self.accesses: list[_Access] = []
        self.errors: dict[str, str] = {}
        self.conditions: list[_Condition] = []
        self.path: tuple = ()
        self.loops: tuple = ()
        self.maybe: str | None = None
        self.counter = itertools.count()
        self.constants = dict(constants)
        self.types = TypeEnv.for_module(module) if module is not None else TypeEnv()
        self.address_taken = address_taken(function.body) if function.body is not None else set()
        self.env: dict[str, _Var] = {}
        self.summaries: dict = {}
        self.returned: str | None = None  # set after a loop that may return: the rest only possibly runs
        self.tags: set[str] = set()        # variables the enclosing loops use as cache tags (cache_tags)
        self.cache_key = None              # (key term, counters outside) inside an `if (key != tag)`
        self.calls: list[str] = []        # the functions being executed, outermost first
        self.functions = {f.name: f for f in module.functions() if f.body is not None} if module else {}
        self.identity_macros = set()
        if module is not None:
            self._globals(module)
        self.globals = dict(self.env)
        self.pointers = set()
        for p in function.params:
            self.env[p.name] = _Var(self._parameter(p), p.type, p.dims)

    def _globals(self, module: ir.Module) -> None:
        """``const int N = 64;`` at file scope: a constant the accesses may use; ``#define CHECK(x) (x)``:
        a macro that is its argument."""
        for item in module.items:
            if isinstance(item, ir.Define):
                found = re.fullmatch(r"(\w+)\((\w+)\)\s*(\(\s*\2\s*\)|\2)\s*", item.text)
                if found:
                    self.identity_macros.add(found.group(1))
            if isinstance(item, ir.Decl) and ("const" in item.vars[0].type.quals or "constexpr" in item.storage):
                for d in item.vars:
                    if d.init is not None and not d.dims and is_integer(d.type):
                        value = self.ev(d.init)
                        if isinstance(value, Int) and _value(value.term) is not None:
                            self.env[d.name] = _Var(value, d.type)

    def _parameter(self, p: ir.Param):
        t = p.type
        if t.is_pointer or p.dims:
            self.pointers.add(p.name)
            if t.is_pointer and p.dims:
                return Opaque(f"{p.name} is an array of pointers", frozenset({p.name}))
            pointee = t.pointee() if t.is_pointer else t
            # float A[100][40]: a pointer to rows of 40 (the first extent is the buffer's, unknown)
            dims = tuple(self.ev(d) if d is not None else Opaque("an array extent left out") for d in p.dims[1:])
            if not all(isinstance(d, Int) and _value(d.term) is not None for d in dims):
                return Opaque(f"{p.name} has an array extent that is not a constant", frozenset({p.name}))
            return Pointer(p.name, ZERO, sizeof(pointee) if not pointee.is_pointer else 8, tuple(d.term for d in dims))
        if p.name in self.constants:
            return Int(_const(self.constants[p.name]), is_unsigned(t))
        if is_integer(t):
            return Int(ir.Name(p.name), is_unsigned(t))
        if is_floating(t):
            return Opaque(f"floating-point parameter {p.name}")
        return Record(p.name)

    # ---- recording -------------------------------------------------------------------------------
    def error(self, roots, reason: str) -> None:
        for root in roots:
            if root is not None:
                self.errors.setdefault(root, reason)

    def access(self, pointer, start, size, node) -> None:
        """An access of ``size`` bytes at byte ``start`` of ``pointer``'s buffer."""
        if isinstance(pointer, Opaque):
            self.error(pointer.roots, f"accessed through a pointer the analysis cannot follow ({pointer.reason}): "
                                      f"{_c(node)}")
            return
        if not isinstance(pointer, Pointer) or pointer.root is None:
            return
        if isinstance(start, Opaque) or isinstance(size, Opaque):
            cause = start if isinstance(start, Opaque) else size
            self.error([pointer.root], f"the index depends on {cause.reason}: {_c(node)}")
            return
        if pointer.elem is None:
            self.error([pointer.root], f"accessed through a pointer of unknown element size: {_c(node)}")
            return
        maybe = self.maybe or self.returned
        if self.cache_key is not None and maybe is None:
            maybe = self.keyed(start, size)
        self.accesses.append(_Access(pointer.root, start, size, self.path, self.loops, maybe, node))

    def keyed(self, start, size) -> str | None:
        """Inside ``if (key != tag) { ...; tag = key; }`` (see :meth:`cache_tags`) an access happens at
        the first iteration with each key value, so over the loop it touches what it would touch at
        every iteration, provided it depends on the iterations only through the key; else it is only
        a possible access (the reason)."""
        key, outer, depth = self.cache_key
        placeholder = ir.Name("@key")
        for t in (start, size) + self.path[depth:]:
            if _counters(_map(t, lambda n: placeholder if _text(n) == _text(key) else n)) & outer:
                return f"it is loaded into a cache keyed by {_text(key)} but depends on the loop otherwise"
        return None

    def require(self, cond, why: str) -> None:
        """A condition the program (or its model over unbounded integers) needs here, unless it is
        true by its form."""
        if not _value(cond):
            self.conditions.append(_Condition(self.path, cond, why))

    def escape(self, value, how: str) -> None:
        roots = {value.root} if isinstance(value, Pointer) else value.roots if isinstance(value, Opaque) else set()
        self.error(roots & self.pointers, f"the pointer escapes: {how}")

    # ---- statements ------------------------------------------------------------------------------
    def run(self) -> "_Tracer":
        self.block(self.function.body.body)  # a return at the top ends the function: its exit is moot
        return self

    def block(self, stmts) -> object:
        """Execute statements in a scope; returns the condition under which control left the block
        early (``continue``, ``break``, ``return``)."""
        saved: dict[str, object] = {}
        outer_path, outer_maybe = self.path, self.maybe
        exits = ZERO
        for s in stmts:
            if isinstance(s, ir.Decl):
                for d in s.vars:
                    saved.setdefault(d.name, self.env.get(d.name, _MISSING))
            e = self.stmt(s)
            if e is _UNKNOWN_EXIT:
                self.maybe = self.maybe or "it runs after a data-dependent continue, break or return"
                exits = _UNKNOWN_EXIT
            elif _value(e) != 0:
                if exits is not _UNKNOWN_EXIT:
                    exits = lor(exits, e)
                if _value(e) == 1:
                    break  # unreachable rest
                self.path = self.path + (lnot(e),)
        self.path, self.maybe = outer_path, outer_maybe
        for name, old in saved.items():
            if old is _MISSING:
                self.env.pop(name, None)
            else:
                self.env[name] = old
        return exits

    def stmt(self, s) -> object:
        if isinstance(s, ir.Block):
            return self.block(s.body)
        if isinstance(s, ir.Decl):
            self.decl(s)
        elif isinstance(s, ir.ExprStmt):
            self.ev(s.expr)
        elif isinstance(s, ir.If):
            return self.if_stmt(s)
        elif isinstance(s, ir.For):
            self.for_loop(s)
        elif isinstance(s, ir.While):
            self.while_loop(s)
        elif isinstance(s, ir.Return):
            if s.value is not None:
                value = self.ev(s.value)
                self.escape(value, "returned")
            return ONE
        elif isinstance(s, ir.Jump):
            return ONE
        elif isinstance(s, (ir.Verbatim, ir.Function)):
            roots = self.roots_in(s)
            self.error(roots, f"used in code the IR does not model: {getattr(s, 'text', '')[:60]!r}")
        return ZERO

    def decl(self, d: ir.Decl) -> None:
        for v in d.vars:
            if v.dims:
                for extent in v.dims:
                    if extent is not None:
                        self.ev(extent)
                value = Pointer(None, ZERO, sizeof(v.type))
            elif v.ctor_args is not None:
                for a in v.ctor_args:
                    self.escape(self.ev(a), f"passed to the constructor of {v.name}")
                value = Opaque(f"{v.name} is an object")
            elif v.init is None:
                value = Opaque(f"{v.name} is uninitialised")
            else:
                value = self.convert(self.ev(v.init), v.type, v.init)
            if v.name in self.address_taken and not v.dims:
                value = Opaque(f"the address of {v.name} is taken",
                               value.roots if isinstance(value, Opaque) else
                               frozenset({value.root}) - {None} if isinstance(value, Pointer) else frozenset())
            self.env[v.name] = _Var(value, v.type, v.dims)

    def if_stmt(self, s: ir.If) -> object:
        keyed = self.cache_test(s)
        if keyed is not None:
            return self.cached_block(s, keyed)
        cond = self.truth(s.cond)
        before = dict(self.env)
        outer_path, outer_maybe = self.path, self.maybe
        if isinstance(cond, Opaque):
            self.maybe = self.maybe or f"it is guarded by a condition on {cond.reason}"
            then_exit = self.stmt(s.then)
            then_env, self.env = self.env, dict(before)
            else_exit = self.stmt(s.other) if s.other is not None else ZERO
            self.maybe = outer_maybe
            self.merge(None, before, then_env, self.env)
            exits = (ZERO if _value(then_exit) == 0 and _value(else_exit) == 0 else _UNKNOWN_EXIT)
            return exits
        c = cond.term
        self.path = outer_path + (c,)
        then_exit = self.stmt(s.then) if _value(c) != 0 else ZERO
        then_env, self.env = self.env, dict(before)
        self.path = outer_path + (lnot(c),)
        else_exit = self.stmt(s.other) if s.other is not None and _value(c) != 1 else ZERO
        self.path = outer_path
        self.merge(c, before, then_env, self.env)
        if then_exit is _UNKNOWN_EXIT or else_exit is _UNKNOWN_EXIT:
            return _UNKNOWN_EXIT
        return lor(land(c, then_exit), land(lnot(c), else_exit))

    def cache_tags(self, loop: ir.For, changed: set) -> set[str]:
        """The loop's *cache tags*: variables holding a negative constant before the loop that the
        loop assigns only as ``tag = key`` at the top level of ``if (key != tag) { ... }`` (a tile
        reloaded when its key changes: mha's K and V per head). Every key value the loop takes is
        loaded at its first occurrence, so the accesses in such a block, if they depend on the loop
        only through the key, touch over the loop what they would touch at every iteration."""
        tags = set()
        for name in changed:
            var = self.env.get(name)
            if var is None or not isinstance(var.value, Int) or (_value(var.value.term) or 0) >= 0:
                continue
            assigns = [n for n in ir.walk(loop.body) if isinstance(n, (ir.Assign, ir.UnOp)) and
                       _assigned_name(n) == name]
            keyed = [a for n in ir.walk(loop.body) if isinstance(n, ir.If) for a in self.cache_guard(n, name)]
            if assigns and len(assigns) == len(keyed) and all(any(a is k for k in keyed) for a in assigns):
                tags.add(name)
        return tags

    @staticmethod
    def cache_guard(s: ir.If, tag: str) -> tuple:
        """``(the assignment tag = key,)`` when ``s`` is ``if (key != tag) { ...; tag = key; ... }``
        with no else branch and no early exit, else ()."""
        cond = strip_parens(s.cond)
        if s.other is not None or not isinstance(cond, ir.BinOp) or cond.op != "!=":
            return ()
        left, right = strip_parens(cond.left), strip_parens(cond.right)
        key = left if right == ir.Name(tag) else right if left == ir.Name(tag) else None
        body = s.then.body if isinstance(s.then, ir.Block) else (s.then,)
        if key is None or any(isinstance(n, (ir.Jump, ir.Return)) for n in ir.walk(s.then)):
            return ()
        for stmt in body:
            e = strip_parens(stmt.expr) if isinstance(stmt, ir.ExprStmt) else None
            if isinstance(e, ir.Assign) and e.op == "=" and strip_parens(e.target) == ir.Name(tag) and \
                    strip_parens(e.value) == key:
                return (e,)
        return ()

    def cache_test(self, s: ir.If):
        """The key's value when ``s`` tests a cache tag of an enclosing loop, else None."""
        for tag in self.tags:
            found = self.cache_guard(s, tag)
            if found:
                key = self.ev(found[0].value)
                if isinstance(key, Int) and self.cache_key is None:
                    return key.term
        return None

    def cached_block(self, s: ir.If, key) -> object:
        # the key must differ from the tag's initial (negative) value: it does when it is not negative
        self.require(compare(">=", key, ZERO), f"the cache key {_c(strip_parens(s.cond))} is not negative")
        before = dict(self.env)
        self.cache_key = (key, {loop.counter for loop in self.loops}, len(self.path))
        try:
            self.stmt(s.then)
        finally:
            self.cache_key = None
        then_env, self.env = self.env, before
        self.merge(None, before, then_env, dict(before))
        return ZERO

    def merge(self, cond, before: dict, then_env: dict, else_env: dict) -> None:
        merged = {}
        for name, old in before.items():
            a, b = then_env.get(name, old), else_env.get(name, old)
            if a is b or a.value == b.value:
                merged[name] = a
                continue
            va, vb = a.value, b.value
            if cond is None:
                value = Opaque(f"{name}, which a data-dependent branch assigns", _roots(va) | _roots(vb))
            elif isinstance(va, Int) and isinstance(vb, Int):
                value = Int(ite(cond, va.term, vb.term), va.unsigned or vb.unsigned)
            elif isinstance(va, Pointer) and isinstance(vb, Pointer) and (va.root, va.elem, va.dims) == \
                    (vb.root, vb.elem, vb.dims):
                value = Pointer(va.root, ite(cond, va.offset, vb.offset), va.elem, va.dims)
            else:
                value = Opaque(f"{name}, which the branches of an if set differently", _roots(va) | _roots(vb))
            merged[name] = _Var(value, old.type, old.dims)
        self.env = merged

    def havoc(self, names, why: str) -> None:
        for name in names:
            var = self.env.get(name)
            if var is not None and not isinstance(var.value, Record):
                self.env[name] = _Var(Opaque(f"{name}, which {why}", _roots(var.value)), var.type, var.dims)

    def summary(self, node) -> _Summary:
        return _summarize(node, self.summaries)

    def roots_in(self, node) -> set[str]:
        """Parameters a statement may access: those its names may point into."""
        roots = set()
        for name in self.summary(node).names:
            var = self.env.get(name)
            if var is not None:
                roots |= _roots(var.value)
        return roots & self.pointers

    def for_loop(self, loop: ir.For) -> None:
        saved = {}
        if isinstance(loop.init, ir.Decl):
            saved = {d.name: self.env.get(d.name, _MISSING) for d in loop.init.vars}
        if loop.init is not None:
            self.stmt(loop.init)
        body = self.summary(loop.body)
        changed = (body.assigned | (self.summary(loop.step).assigned if loop.step is not None else frozenset())) \
            - body.declared
        header = self.loop_header(loop, changed)
        if isinstance(header, str):
            roots = self.roots_in(loop)
            self.error(roots, f"accessed in a loop the analysis cannot follow ({header}): for ({_c_header(loop)})")
            self.havoc(changed, "a loop changes")
        else:
            self.affine_loop(loop, changed, *header)
        for name, old in saved.items():
            if old is _MISSING:
                self.env.pop(name, None)
            else:
                self.env[name] = old

    def loop_header(self, loop: ir.For, changed: set):
        """``(var, step)`` of a loop stepping one integer variable by a loop-invariant amount, else the
        reason it is not one."""
        step = strip_parens(loop.step) if loop.step is not None else None
        var = delta = None
        if isinstance(step, ir.UnOp) and step.op in ("++", "--") and isinstance(strip_parens(step.operand), ir.Name):
            var, delta = strip_parens(step.operand).id, Int(_const(1 if step.op == "++" else -1))
        elif isinstance(step, ir.Assign) and isinstance(strip_parens(step.target), ir.Name):
            var = strip_parens(step.target).id
            value = strip_parens(step.value)
            if step.op in ("+=", "-="):
                delta = self.ev_invariant(step.value, changed - {var})
                if isinstance(delta, Int) and step.op == "-=":
                    delta = Int(neg(delta.term))
            elif step.op == "=" and isinstance(value, ir.BinOp) and value.op in ("+", "-") and \
                    strip_parens(value.left) == ir.Name(var):
                delta = self.ev_invariant(value.right, changed - {var})
                if isinstance(delta, Int) and value.op == "-":
                    delta = Int(neg(delta.term))
            elif step.op == "=" and isinstance(value, ir.BinOp) and value.op == "+" and \
                    strip_parens(value.right) == ir.Name(var):
                delta = self.ev_invariant(value.left, changed - {var})
        if var is None or delta is None:
            return f"the step {_c(loop.step) if loop.step is not None else '(none)'} is not v += c"
        if isinstance(delta, Opaque):
            return f"the step depends on {delta.reason}"
        if not isinstance(delta, Int):
            return "the step is not an integer"
        current = self.env.get(var)
        if current is None or not isinstance(current.value, Int):
            return f"{var} is not an integer variable with a known start"
        if loop.cond is None:
            return "it has no condition"
        body = self.summary(loop.body)
        if var in body.assigned - body.declared:
            return f"the body changes {var}"
        return var, delta.term

    def ev_invariant(self, expr, changed: set):
        """Evaluate a loop-invariant expression at loop entry (an opaque value if it reads a variable
        the loop changes)."""
        if self.summary(expr).names & changed:
            return Opaque(f"{', '.join(sorted(self.summary(expr).names & changed))}, which the loop changes")
        return self.ev(expr)

    def dealt_counter(self, start, step):
        """For a loop that deals iterations round-robin to the iterations of an enclosing loop
        (``for (i = taskId*C; i < n; i += T*C)`` inside ``taskId = 0 .. T-1``): ``(outer counter, T,
        C, the start without C*taskId)``, else None. The two counters together take every value
        ``u = taskId + T*k`` exactly once, so the accesses are those of one loop ``i = rest + C*u``."""
        vstep = _value(step)
        if vstep is None or vstep <= 0:
            return None
        # clusterId * 4 + coreId is taskId / 4 * 4 + taskId % 4: x % c is x - c * (x / c)
        start = simplify(_map(start, lambda t: sub(t.left, mul(t.right, cdiv(t.left, t.right)))
                              if isinstance(t, ir.BinOp) and t.op == "%" and _value(t.right) else t))
        for outer in reversed(self.loops):
            trips = _value(outer.last)
            if trips is None or outer.counter not in _counters(start):
                continue
            linear = _linear_in(start, outer.counter)
            if linear is None:
                return None
            c, rest = linear
            if _value(c) is not None and _value(c) > 0 and _value(c) * (trips + 1) == vstep:
                return outer.counter, trips + 1, c, rest
            return None
        return None

    def affine_loop(self, loop: ir.For, changed: set, var: str, step) -> None:
        start_var = self.env[var]
        start = start_var.value.term
        index = next(self.counter)
        counter = ir.Name(f"@t{index}")
        tags = self.cache_tags(loop, changed - {var})
        self.havoc(changed - {var}, "a loop changes")
        dealt = self.dealt_counter(simplify(start), step)
        saved = (dict(self.env), self.path) if dealt is not None else None
        if dealt is None:
            value = simplify(add(start, mul(step, counter)))
        else:  # one loop over u = outer + trips*k, inside which the outer counter is u % trips
            outer, trips, c, rest = dealt
            self.substitute_counter(outer, cmod(counter, _const(trips)))
            value = simplify(add(rest, mul(c, counter)))
        self.env[var] = _Var(Int(value, start_var.value.unsigned), start_var.type)
        outer_path = self.path
        cond = self.truth(loop.cond)
        bounds = None if isinstance(cond, Opaque) else _counter_bounds(cond.term, counter.id)
        if bounds is None:
            if saved is not None:
                self.env, self.path = saved
            self.env[var] = start_var
            roots = self.roots_in(loop)
            reason = (f"its condition depends on {cond.reason}" if isinstance(cond, Opaque)
                      else f"its condition {_c(loop.cond)} does not bound {var} monotonically")
            self.error(roots, f"accessed in a loop the analysis cannot follow ({reason}): for ({_c_header(loop)})")
            self.havoc(changed, "a loop changes")
            return
        last, needs, condition = bounds
        for term, why in needs:
            self.require(term, why)
        outer_loops, outer_maybe = self.loops, self.maybe
        self.path = outer_path + (compare(">=", counter, ZERO), condition)
        self.loops = outer_loops + (_Loop(counter.id, last),)
        outer_tags, self.tags = self.tags, self.tags | tags
        body = self.summary(loop.body)
        exits_early = body.breaks or body.returns
        if exits_early:
            self.maybe = self.maybe or f"the loop for ({_c_header(loop)}) may end early (break/return)"
        self.stmt(loop.body)
        self.path, self.loops, self.maybe, self.tags = outer_path, outer_loops, outer_maybe, outer_tags
        if body.returns:
            self.returned = self.returned or f"it runs after a loop that may return: for ({_c_header(loop)})"
        if saved is not None:  # back to the outer counter: what the loop does not change is as before it
            self.env, self.path = saved
        self.havoc(changed - {var}, "a loop changes")
        runs = _substitute(condition, {counter.id: ZERO})
        if dealt is not None:
            self.env[var] = _Var(Opaque(f"{var} after a loop dealt round-robin"), start_var.type)
        elif exits_early:
            self.env[var] = _Var(Opaque(f"{var} after a loop that may break"), start_var.type)
        else:
            final = add(start, mul(step, add(last, ONE)))
            self.env[var] = _Var(Int(simplify(ite(runs, final, start)), start_var.value.unsigned), start_var.type)

    def substitute_counter(self, counter: str, term) -> None:
        """Every value and path condition written with ``counter`` rewritten with ``term`` for it."""
        mapping = {counter: term}
        for name, v in self.env.items():
            if isinstance(v.value, Int) and counter in _counters(v.value.term):
                self.env[name] = _Var(Int(simplify(_substitute(v.value.term, mapping)), v.value.unsigned), v.type, v.dims)
            elif isinstance(v.value, Pointer) and counter in _counters(v.value.offset):
                self.env[name] = _Var(replace(v.value, offset=simplify(_substitute(v.value.offset, mapping))),
                                      v.type, v.dims)
        self.path = tuple(_substitute(t, mapping) for t in self.path)

    def while_loop(self, loop: ir.While) -> None:
        changed = self.summary(loop).assigned - self.summary(loop.body).declared
        roots = self.roots_in(loop)
        self.error(roots, f"accessed in a while loop (not analysed): while ({_c(loop.cond)})")
        self.havoc(changed, "a while loop changes")

    # ---- expressions -----------------------------------------------------------------------------
    def truth(self, expr):
        """A condition: Int of a truth term, or Opaque."""
        value = self.ev(expr)
        if isinstance(value, Int):
            return Int(_truth(value.term))
        if isinstance(value, Pointer):
            return Int(ONE) if value.root is not None else Opaque("a pointer comparison")
        return value if isinstance(value, Opaque) else Opaque("a non-integer condition")

    def ev(self, e):
        """Evaluate an expression: its value, recording its accesses."""
        e = strip_parens(e)
        method = getattr(self, "ev_" + type(e).__name__, None)
        if method is None:
            roots = self.roots_in(e)
            self.error(roots, f"used in an expression the analysis does not model: {_c(e)}")
            return Opaque(f"an expression the analysis does not model ({type(e).__name__})")
        return method(e)

    def ev_Const(self, e: ir.Const):
        if isinstance(e.value, bool):
            return Int(ONE if e.value else ZERO)
        if isinstance(e.value, int):
            return Int(_const(e.value), "u" in e.text.lower())
        if e.text.startswith("'") and len(e.text) == 3:
            return Int(_const(ord(e.text[1])))
        return Opaque(f"the literal {e.text}")

    def ev_Name(self, e: ir.Name):
        var = self.env.get(e.id)
        if var is not None:
            return var.value
        known = self.types.lookup(e.id)
        if known is not None and known.kind == "macro" and isinstance(known.value, int):
            return Int(_const(known.value))
        return Opaque(f"the name {e.id}")

    def ev_Member(self, e: ir.Member):
        base = strip_parens(e.base)
        if isinstance(base, ir.Name) and not e.arrow:
            var = self.env.get(base.id)
            if var is not None and isinstance(var.value, Record):
                key = f"{base.id}.{e.field_name}"
                if key in self.constants:
                    return Int(_const(self.constants[key]), True)
                return Int(ir.Member(ir.Name(base.id), e.field_name), True)
        value = self.ev(e.base)
        self.escape(value, f"a member of it is read: {_c(e)}")
        return Opaque(f"the member {_c(e)}")

    def ev_Builtin(self, e: ir.Builtin):
        key = e.name + (f".{e.axis}" if e.axis else "")
        if key in self.constants:
            return Int(_const(self.constants[key]), True)
        var = self.env.get(e.name)
        if e.axis and var is not None and isinstance(var.value, Record):  # a dim3 parameter named gridDim
            return Int(ir.Member(ir.Name(e.name), e.axis), True)
        return Opaque(f"the parallel built-in {key}")

    def ev_SizeOf(self, e: ir.SizeOf):
        t = e.type
        if t is None:
            operand = strip_parens(e.operand) if e.operand is not None else None
            if isinstance(operand, ir.Name) and operand.id in self.env:
                var = self.env[operand.id]
                size = sizeof(var.type)
                for d in var.dims:
                    size = None if size is None or d is None or _value(self.ev(d).term if isinstance(
                        self.ev(d), Int) else None) is None else size * _value(self.ev(d).term)
                t_size = size
            elif isinstance(operand, ir.Name):
                t_size = sizeof(ir.Type(operand.id))
            else:
                t_size = None
        else:
            t_size = sizeof(t)
        return Int(_const(t_size), True) if t_size is not None else Opaque(f"the size {_c(e)}")

    def ev_Cast(self, e: ir.Cast):
        return self.convert(self.ev(e.operand), e.type, e)

    def convert(self, value, t: ir.Type, node):
        """``value`` converted to type ``t`` (C conversion)."""
        if t.reference:
            return value
        if t.is_pointer:
            if isinstance(value, Pointer):
                pointee = t.pointee()
                return Pointer(value.root, value.offset, sizeof(pointee) if not pointee.is_pointer else 8)
            if isinstance(value, Int) and _value(value.term) == 0:
                return Pointer(None, ZERO, None)
            return value if isinstance(value, Opaque) else Opaque(f"an integer converted to a pointer: {_c(node)}")
        if isinstance(value, Record):
            return value
        if is_integer(t):
            if isinstance(value, Pointer):
                self.escape(value, f"converted to an integer: {_c(node)}")
                return Opaque(f"a pointer converted to an integer: {_c(node)}")
            if not isinstance(value, Int):
                return value if isinstance(value, Opaque) and "floating" not in value.reason else \
                    Opaque(f"a floating-point value: {_c(node)}") if not isinstance(value, Opaque) else value
            return self.integer_conversion(value, t, node)
        if is_floating(t):
            return Opaque(f"a floating-point value: {_c(node)}")
        if canonical_base(t.base) == "void":
            return value
        return value if isinstance(value, Opaque) else Opaque(f"a value of type {t.base}: {_c(node)}")

    def integer_conversion(self, value: Int, t: ir.Type, node) -> Int:
        base = canonical_base(t.base)
        if base == "bool":
            return Int(_truth(value.term))
        lo, hi = integer_range(t)
        term = value.term
        if isinstance(term, ir.Ternary):  # (T)(c ? a : b) is c ? (T)a : (T)b: per-vector masks
            then = self.integer_conversion(Int(term.then, value.unsigned), t, node)
            other = self.integer_conversion(Int(term.other, value.unsigned), t, node)
            return Int(ite(term.cond, then.term, other.term), lo == 0)
        if lo == 0 and _is_pseudo(term, "@lowmask") and hi < 2 ** 63:
            return Int(fmod(term, _const(hi + 1)), True)
        v = _value(term)
        if v is not None:
            if not lo <= v <= hi:
                span = hi - lo + 1
                v = (v - lo) % span + lo  # C's modular conversion (GCC's for signed targets)
            return Int(_const(v), lo == 0)
        if lo == 0 and hi >= 2 ** 32 - 1:  # unsigned int, unsigned long: the value is not negative
            if not _nonneg(term):
                self.require(compare(">=", term, ZERO), f"{_c(node)} fits in {t.base}")
        elif hi < 2 ** 31 - 1:  # char, short: the value fits (int and long: no overflow, assumed)
            self.require(land(compare(">=", term, _const(lo)), compare("<=", term, _const(hi))),
                         f"{_c(node)} fits in {t.base}")
        return Int(term, lo == 0)

    def ev_UnOp(self, e: ir.UnOp):
        if e.op in ("++", "--"):
            return self.assign(e.operand, "+=" if e.op == "++" else "-=", ir.Const("1", 1), e, postfix=e.postfix)
        if e.op == "*":
            pointer = self.ev(e.operand)
            return self.load(pointer, ZERO, e)
        if e.op == "&":
            return self.address(e.operand, e)
        value = self.ev(e.operand)
        if e.op == "!":
            if isinstance(value, Int):
                return Int(lnot(_truth(value.term)))
            if isinstance(value, Pointer):
                return Int(ZERO) if value.root is not None else Opaque("a pointer test")
            return value
        if not isinstance(value, Int):
            self.escape(value, f"used in {_c(e)}")
            return value if isinstance(value, Opaque) else Opaque(f"{_c(e)}")
        if e.op == "-":
            if value.unsigned:
                self.require(compare("==", value.term, ZERO), f"{_c(e)} does not wrap around")
            return Int(neg(value.term), value.unsigned)
        if e.op == "+":
            return value
        return Opaque(f"the bitwise complement {_c(e)}")

    def address(self, operand, node):
        """``&operand``."""
        operand = strip_parens(operand)
        if isinstance(operand, ir.Index):
            base, index = self.ev(operand.base), self.ev(operand.index)
            return self.offset(base, index, node)
        if isinstance(operand, ir.UnOp) and operand.op == "*":
            return self.ev(operand.operand)
        if isinstance(operand, ir.Name):
            var = self.env.get(operand.id)
            if var is not None and isinstance(var.value, (Pointer, Opaque)) and _roots(var.value):
                self.escape(var.value, f"its address is taken: {_c(node)}")
            return Pointer(None, ZERO, sizeof(var.type) if var is not None else None)
        self.ev(operand)
        return Pointer(None, ZERO, None)

    def offset(self, pointer, index, node):
        """``pointer + index``."""
        if isinstance(pointer, Pointer) and isinstance(index, Int):
            if pointer.elem is None and pointer.root is not None:
                return Opaque(f"arithmetic on a pointer of unknown element size: {_c(node)}", frozenset({pointer.root}))
            step = pointer.stride
            inner_dims = pointer.dims
            return Pointer(pointer.root, add(pointer.offset, mul(index.term, step)), pointer.elem, inner_dims)
        if isinstance(pointer, Pointer):
            return Opaque(f"{index.reason if isinstance(index, Opaque) else 'a non-integer offset'} ({_c(node)})",
                          frozenset({pointer.root}) - {None})
        return pointer if isinstance(pointer, Opaque) else Opaque(f"{_c(node)}")

    def load(self, pointer, index_term, node):
        """Read ``pointer[index]``: the access, and the (opaque) value read, or the sub-array."""
        if isinstance(pointer, Pointer) and pointer.dims:
            return Pointer(pointer.root, add(pointer.offset, mul(index_term, pointer.stride)), pointer.elem,
                           pointer.dims[1:])
        if isinstance(pointer, Pointer):
            start = add(pointer.offset, mul(index_term, _const(pointer.elem or 0)))
            self.access(pointer, start, _const(pointer.elem or 0), node)
        elif isinstance(pointer, Opaque):
            self.access(pointer, None, None, node)
        return Opaque(f"a value read from memory ({_c(node)})")

    def ev_Index(self, e: ir.Index):
        base = self.ev(e.base)
        index = self.ev(e.index)
        if isinstance(index, Int):
            return self.load(base, index.term, e)
        if isinstance(base, Pointer) and base.root is not None:
            cause = index.reason if isinstance(index, Opaque) else "a pointer"
            self.error([base.root], f"the index depends on {cause}: {_c(e)}")
        elif isinstance(base, Opaque):
            self.access(base, None, None, e)
        return Opaque(f"a value read from memory ({_c(e)})")

    def ev_BinOp(self, e: ir.BinOp):
        if e.op in ("&&", "||"):
            left = self.truth(e.left)
            outer_path, outer_maybe = self.path, self.maybe
            if isinstance(left, Opaque):
                self.maybe = self.maybe or f"it is guarded by a condition on {left.reason}"
                self.truth(e.right)
                self.maybe = outer_maybe
                return left
            guard = left.term if e.op == "&&" else lnot(left.term)
            self.path = outer_path + (guard,)
            right = self.truth(e.right) if _value(guard) != 0 else Int(ZERO)
            self.path = outer_path
            if isinstance(right, Opaque):
                return right
            return Int(land(left.term, right.term) if e.op == "&&" else lor(left.term, right.term))
        a, b = self.ev(e.left), self.ev(e.right)
        return self.binary(e.op, a, b, e)

    def binary(self, op: str, a, b, node):
        if e_pointer := (isinstance(a, Pointer) or isinstance(b, Pointer)):
            if op == "+" and isinstance(b, Pointer) and not isinstance(a, Pointer):
                a, b = b, a
            if op in ("+", "-") and isinstance(a, Pointer) and not isinstance(b, Pointer):
                if isinstance(b, Int) and op == "-":
                    b = Int(neg(b.term))
                return self.offset(a, b, node)
        if isinstance(a, Opaque) or isinstance(b, Opaque) or e_pointer or not (isinstance(a, Int) and isinstance(b, Int)):
            roots = _roots(a) | _roots(b)
            if op in ("+", "-") or not roots:
                reason = next((v.reason for v in (a, b) if isinstance(v, Opaque)), f"the value {_c(node)}")
                return Opaque(reason, frozenset(roots))
            return Opaque(f"a pointer comparison ({_c(node)})")
        unsigned = a.unsigned or b.unsigned
        x, y = a.term, b.term
        if unsigned and op in ("/", "%", "<", "<=", ">", ">=", "-"):
            for v in (a, b):
                if not v.unsigned and not _nonneg(v.term):
                    self.require(compare(">=", v.term, ZERO), f"{_c(node)}: the signed operand is not negative")
        if op == "+":
            return Int(add(x, y), unsigned)
        if op == "-":
            if unsigned and not _nonneg(sub(x, y)):
                self.require(compare(">=", x, y), f"{_c(node)} does not wrap around")
            return Int(sub(x, y), unsigned)
        if op == "*":
            return Int(mul(x, y), unsigned)
        if op in ("/", "%"):
            self.require(compare("!=", y, ZERO), f"{_c(node)} divides by a non-zero value")
            return Int(cdiv(x, y) if op == "/" else cmod(x, y), unsigned)
        if op in ("<", "<=", ">", ">=", "==", "!="):
            return Int(compare(op, x, y))
        if op in ("<<", ">>"):
            self.require(land(compare(">=", y, ZERO), compare("<", y, _const(64 if unsigned else 32))),
                         f"{_c(node)}: the shift count is in range")
            if op == "<<":
                if _value(x) == 1:
                    return Int(pow2(y), unsigned)
                vy = _value(y)
                if vy is not None:
                    return Int(mul(x, _const(2 ** vy)), unsigned)
                return Opaque(f"the shift {_c(node)}")
            return Int(_shift_right(x, y), unsigned)
        if op == "&":
            vy, vx = _value(y), _value(x)
            if vx is not None and vy is None:
                x, y, vx, vy = y, x, vy, vx
            if vy is not None and vy >= 0 and (vy + 1) & vy == 0:  # a mask of the low bits
                if _is_pseudo(x, "@lowmask") and vy == 1:
                    return Int(compare(">", x.args[0], ZERO), unsigned)
                return Int(fmod(x, _const(vy + 1)), unsigned)
            if vx is not None and vy is not None:
                return Int(_const(vx & vy), unsigned)
        if op in ("|", "^"):
            vx, vy = _value(x), _value(y)
            if vx is not None and vy is not None:
                return Int(_const(vx | vy if op == "|" else vx ^ vy), unsigned)
        return Opaque(f"the bitwise operation {_c(node)}")

    def ev_Ternary(self, e: ir.Ternary):
        cond = self.truth(e.cond)
        outer_path, outer_maybe = self.path, self.maybe
        if isinstance(cond, Opaque):
            self.maybe = self.maybe or f"it is guarded by a condition on {cond.reason}"
            a, b = self.ev(e.then), self.ev(e.other)
            self.maybe = outer_maybe
            if isinstance(a, Int) and isinstance(b, Int) and a.term == b.term:
                return a
            return Opaque(f"a choice on {cond.reason}", frozenset(_roots(a) | _roots(b)))
        c = cond.term
        self.path = outer_path + (c,)
        a = self.ev(e.then) if _value(c) != 0 else None
        self.path = outer_path + (lnot(c),)
        b = self.ev(e.other) if _value(c) != 1 else None
        self.path = outer_path
        if a is None or b is None:
            return a if b is None else b
        if isinstance(a, Int) and isinstance(b, Int):
            return Int(ite(c, a.term, b.term), a.unsigned or b.unsigned)
        if isinstance(a, Pointer) and isinstance(b, Pointer) and (a.root, a.elem, a.dims) == (b.root, b.elem, b.dims):
            return Pointer(a.root, ite(c, a.offset, b.offset), a.elem, a.dims)
        reason = next((v.reason for v in (a, b) if isinstance(v, Opaque)), f"a choice between pointers ({_c(e)})")
        return Opaque(reason, frozenset(_roots(a) | _roots(b)))

    def ev_Comma(self, e: ir.Comma):
        self.ev(e.left)
        return self.ev(e.right)

    def ev_Assign(self, e: ir.Assign):
        return self.assign(e.target, e.op, e.value, e)

    def assign(self, target, op: str, value_expr, node, postfix: bool = False):
        target = strip_parens(target)
        value = self.ev(value_expr)
        if isinstance(target, ir.Name):
            var = self.env.get(target.id)
            if var is None:
                self.escape(value, f"stored to {target.id}")
                return value
            new = value if op == "=" else self.binary(op[:-1], var.value, value, node)
            if var.type is not None and not var.dims:
                new = self.convert(new, var.type, node)
            if target.id in self.address_taken:
                new = Opaque(f"the address of {target.id} is taken", frozenset(_roots(new)))
            old = var.value
            self.env[target.id] = _Var(new, var.type, var.dims)
            return old if postfix else new
        # a store to memory: the access, and the stored value must not be a parameter pointer
        self.escape(value, f"stored to memory: {_c(node)}")
        if isinstance(target, ir.Index):
            base, index = self.ev(target.base), self.ev(target.index)
            if isinstance(index, Int):
                self.load(base, index.term, target)
            elif isinstance(base, Pointer) and base.root is not None:
                cause = index.reason if isinstance(index, Opaque) else "a pointer"
                self.error([base.root], f"the index depends on {cause}: {_c(target)}")
            elif isinstance(base, Opaque):
                self.access(base, None, None, target)
        elif isinstance(target, ir.UnOp) and target.op == "*":
            self.load(self.ev(target.operand), ZERO, target)
        else:
            self.ev(target)
        return Opaque(f"a value stored to memory ({_c(node)})")

    def ev_Call(self, e: ir.Call):
        name = e.func.id if isinstance(e.func, ir.Name) else None
        args = [self.ev(a) for a in e.args]
        if name in _COPIES or name in _SETS:
            size = args[2] if len(args) == 3 else Opaque("a call with an unexpected argument count")
            for position, pointer in enumerate(args[:2] if name in _COPIES else args[:1]):
                if isinstance(pointer, Pointer):
                    if isinstance(size, Int):
                        self.access(pointer, pointer.offset, size.term, e)
                    elif pointer.root is not None:
                        self.error([pointer.root], f"{name} copies a number of bytes that depends on "
                                                   f"{size.reason if isinstance(size, Opaque) else 'a pointer'}: {_c(e)}")
                else:
                    self.access(pointer, None, None, e)
            if isinstance(size, Int) and not _nonneg(size.term):
                self.require(compare(">=", size.term, ZERO), f"{_c(e)} copies a non-negative size")
            if name in _SETS:
                self.escape(args[1], f"passed to {name}")
            return args[0] if isinstance(args[0], (Pointer, Opaque)) else Opaque(f"the result of {name}")
        if name in _MIN_MAX and len(args) == 2 and all(isinstance(a, Int) for a in args):
            return Int(_MIN_MAX[name](args[0].term, args[1].term), args[0].unsigned or args[1].unsigned)
        if name in self.identity_macros and len(args) == 1:
            return args[0]
        callee = self.functions.get(name)
        if callee is not None and any(_roots(a) for a in args):
            return self.call(callee, args, e)
        for a in args:
            self.escape(a, f"passed to {_c(e.func)}: {_c(e)}")
        return Opaque(f"the result of {_c(e.func)}")

    def call(self, callee: ir.Function, args: list, node):
        """Execute a function of the module that receives pointers, with its parameters bound to the
        arguments (at the caller's path)."""
        if callee.name in self.calls or len(callee.params) != len(args):
            for a in args:
                self.escape(a, f"passed to {callee.name}, which the analysis cannot follow: {_c(node)}")
            return Opaque(f"the result of {callee.name}")
        caller_env, caller_returned = self.env, self.returned
        self.env, self.returned = dict(self.globals), None
        self.calls.append(callee.name)
        self.address_taken |= address_taken(callee.body)
        for p, value in zip(callee.params, args):
            if p.type.reference:
                value = Opaque(f"{p.name} is a reference", _roots(value))
            elif not p.dims:
                value = self.convert(value, p.type, node)
            self.env[p.name] = _Var(value, p.type, p.dims)
        self.block(callee.body.body)
        self.calls.pop()
        self.env, self.returned = caller_env, caller_returned
        for p, a in zip(callee.params, node.args):
            if p.type.reference and isinstance(strip_parens(a), ir.Name):
                self.havoc([strip_parens(a).id], f"{callee.name} may change through a reference")
        return Opaque(f"the result of {callee.name}")

    def ev_InitList(self, e: ir.InitList):
        for item in e.items:
            self.escape(self.ev(item), f"stored in an initialiser list: {_c(e)}")
        return Opaque("an initialiser list")

    def ev_Launch(self, e: ir.Launch):
        for a in e.args:
            self.escape(self.ev(a), f"passed to the launch of {_c(e.kernel)}")
        return Opaque("a launch")

    def ev_RawExpr(self, e: ir.RawExpr):
        self.error(self.roots_in(e), f"used in code the IR does not model: {e.text[:60]!r}")
        return Opaque(f"code the IR does not model ({e.text[:40]!r})")


def _assigned_name(n) -> str | None:
    """The variable an assignment or ``++``/``--`` writes, when it is a plain name."""
    target = n.target if isinstance(n, ir.Assign) else n.operand if n.op in ("++", "--") else None
    target = strip_parens(target) if target is not None else None
    return target.id if isinstance(target, ir.Name) else None


def _shift_right(x, y):
    """``x >> y``: floor division by ``2^y`` (GCC's arithmetic shift for negative ``x``)."""
    vy = _value(y)
    if vy is not None:
        return fdiv(x, _const(2 ** vy))
    if _is_pseudo(x, "@lowmask"):
        return lowmask(sub(x.args[0], y))
    return _pseudo("@fdiv", x, pow2(y))


def _roots(value) -> frozenset:
    if isinstance(value, Pointer):
        return frozenset({value.root}) - {None}
    if isinstance(value, Opaque):
        return value.roots
    return frozenset()


@dataclass(frozen=True)
class _Summary:
    """What a statement or expression mentions: every identifier, the variables it assigns as a whole
    (``x = ...``, ``x++``, ``&x``), those it declares; whether it returns, and breaks out of its own
    loop."""

    names: frozenset
    assigned: frozenset
    declared: frozenset
    returns: bool
    breaks: bool


@functools.lru_cache(maxsize=None)
def _node_fields(cls) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.name != "loc")


def _children(node) -> list:
    out = []
    for name in _node_fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, tuple):
            out.extend(v for v in value if hasattr(v, "__dataclass_fields__"))
        elif hasattr(value, "__dataclass_fields__"):
            out.append(value)
    return out


def _summarize(node, memo: dict) -> _Summary:
    hit = memo.get(id(node))
    if hit is not None:
        return hit[1]
    parts = [_summarize(c, memo) for c in _children(node)]
    names = set().union(*(p.names for p in parts))
    assigned = set().union(*(p.assigned for p in parts))
    declared = set().union(*(p.declared for p in parts))
    returns = isinstance(node, ir.Return) or any(p.returns for p in parts)
    # a break inside a nested loop ends that loop only
    breaks = (isinstance(node, ir.Jump) and node.kind == "break") or \
        (not isinstance(node, (ir.For, ir.While)) and any(p.breaks for p in parts))
    if isinstance(node, ir.Name):
        names.add(node.id)
    elif isinstance(node, ir.Declarator):
        names.add(node.name)
        declared.add(node.name)
    elif isinstance(node, (ir.Verbatim, ir.RawExpr)):
        names.update(re.findall(r"[A-Za-z_]\w*", node.text))
    target = node.target if isinstance(node, ir.Assign) else \
        node.operand if isinstance(node, ir.UnOp) and node.op in ("++", "--", "&") else None
    if isinstance(strip_parens(target), ir.Name):
        assigned.add(strip_parens(target).id)
    summary = _Summary(frozenset(names), frozenset(assigned), frozenset(declared), returns, breaks)
    memo[id(node)] = (node, summary)
    return summary


def _c_header(loop: ir.For) -> str:
    init = ""
    if isinstance(loop.init, ir.Decl) and loop.init.vars and loop.init.vars[0].init is not None:
        init = f"{loop.init.vars[0].name} = {_c(loop.init.vars[0].init)}"
    elif isinstance(loop.init, ir.ExprStmt):
        init = _c(loop.init.expr)
    parts = [init, _c(loop.cond) if loop.cond is not None else "", _c(loop.step) if loop.step is not None else ""]
    return "; ".join(parts)


def _counter_bounds(cond, counter: str):
    """For a loop condition (a truth term over the loop's counter): ``(last, needs, cond)`` where
    ``last`` is the counter's last value when the loop runs at least once and ``needs`` the
    conditions (term, why) for the loop to terminate; None when the condition is not a conjunction of
    comparisons of an expression linear in the counter that holds for small counter values only
    (then the iteration domain is not an interval)."""
    parts = _conjuncts(cond)
    lasts, needs, conjuncts = [], [], []
    for part in parts:
        if not (isinstance(part, ir.BinOp) and part.op in ("<", "<=", ">", ">=", "!=")):
            return None
        linear = _linear_in(sub(part.left, part.right), counter)
        if linear is None:
            return None
        c, rest = linear
        sign = _sign(c)
        op = part.op
        if _value(c) == 0 or sign == 0:
            if counter not in _counters(part):
                conjuncts.append(part)  # a condition that does not change from one iteration to the next
                continue
            return None
        if op == "!=":
            if abs(_value(c) or 0) != 1:
                return None
            # v != b with unit steps runs while v < b (or v > b); it must not start past b
            op = "<" if sign > 0 else ">"
            needs.append((compare("<=" if sign > 0 else ">=", rest, ZERO), f"{_text(part)} is reached"))
        if (sign > 0) != (op in ("<", "<=")):
            return None
        if _value(c) is None:
            needs.append((compare(">" if sign > 0 else "<", c, ZERO), "the loop step is not zero"))
        magnitude = c if sign > 0 else neg(c)
        # c*t + rest < 0  <=>  t <= (-rest - 1) / c   (c > 0; -rest - 1 >= 0 when the loop runs)
        if sign > 0:
            numerator = sub(neg(rest), ONE) if op == "<" else neg(rest)
        else:
            numerator = sub(rest, ONE) if op == ">" else rest
        lasts.append(simplify(cdiv(simplify(numerator), magnitude)))
        conjuncts.append(compare(op, simplify(add(mul(c, ir.Name(counter)), rest)), ZERO))
    if not lasts:
        return None
    last = lasts[0]
    for other in lasts[1:]:
        last = minimum(last, other)
    condition = conjuncts[0]
    for other in conjuncts[1:]:
        condition = land(condition, other)
    return last, needs, condition


def _conjuncts(t) -> list:
    if isinstance(t, ir.BinOp) and t.op == "&&":
        return _conjuncts(t.left) + _conjuncts(t.right)
    return [t]


# --------------------------------------------------------------------------------------------------
# Solving


class _Solver:
    """The z3 side of one footprint query: parameter assumptions, obligations, maxima and proofs."""

    def __init__(self, tracer: _Tracer, function: ir.Function, budget: int):
        self.tracer = tracer
        self.budget = budget  # z3 resources (rlimit units) for all the queries
        self.deadline = time.monotonic() + SAFETY_DEADLINE_S
        self.function = function
        # A context of its own: in z3's one global context, what earlier queries built changes how
        # hard queries near their limits end (decided or not), so a footprint depended on what the
        # process had translated before.
        self.ctx = z3.Context()
        self.z = _Z3(self.ctx)
        symbols = set()
        for a in tracer.accesses:
            for t in (a.start, a.size) + a.path:
                symbols |= _symbols(t)
        for c in tracer.conditions:
            for t in (c.cond,) + c.path:
                symbols |= _symbols(c.cond) | set().union(*(_symbols(p) for p in c.path))
        self.parameters = sorted(s for s in symbols if not s.startswith("@"))
        # symbolic parameters are non-negative; the program's conditions on parameters (a division
        # by S, a loop step) exclude the values that break them wherever the parameters reach the code
        # (the guards on parameters only); those on iteration counters must be proved
        self.assumptions = [self.z.var(p) >= 0 for p in self.parameters]
        self.obligations: list[_Condition] = []
        self.restrictions: list[_Condition] = []
        for c in tracer.conditions:
            if not _counters(c.cond):
                guards = [self.z.bool(p) for p in c.path if not _counters(p)]
                self.assumptions.append(z3.Implies(z3.And(*guards, self.ctx), self.z.bool(c.cond)))
                self.restrictions.append(c)
            else:
                self.obligations.append(c)
        self._checked = False
        self.spent = 0       # z3 resources used so far (rlimit units)
        self.counted = 0     # z3's resource counter of the context at the last check
        self.root = ""       # the buffer being sized, for messages of the simplifications
        self.decided: dict[str, object] = {}  # conditions fold() decided, by text

    def path(self, a: _Access) -> list:
        constraints = [self.z.bool(p) for p in a.path]
        if _value(a.size) is None or _value(a.size) <= 0:
            constraints.append(self.z.int(a.size) > 0)
        return constraints

    def end(self, a: _Access):
        return self.z.int(a.start) + self.z.int(a.size)

    def check(self, root: str, s: z3.Solver, rlimit: int = QUERY_RLIMIT):
        """``s.check()`` with at most ``rlimit`` z3 resources, within what is left of the call's budget."""
        left = self.budget - self.spent
        if left <= 0 or time.monotonic() > self.deadline:
            raise self.fail(root, "deriving it takes more than the analysis budget")
        s.set("rlimit", min(rlimit, left))
        s.set("timeout", max(1, int((self.deadline - time.monotonic()) * 1000)))
        result = s.check()
        statistics = s.statistics()
        if "rlimit count" in statistics.keys():  # the context's counter, cumulative
            count = statistics.get_key_value("rlimit count")
            self.spent += count - self.counted
            self.counted = count
        if result == z3.unknown and self.spent >= self.budget:
            raise self.fail(root, "deriving it takes more than the analysis budget")
        return result

    def solver(self, *constraints) -> z3.Solver:
        s = z3.SolverFor("QF_NIA", ctx=self.ctx) if self.parameters else z3.Solver(ctx=self.ctx)
        s.add(*self.assumptions, *constraints)
        return s

    def fail(self, root: str, reason: str):
        return FootprintError(f"{self.function.name}: the extent of {root} cannot be derived exactly: {reason}")

    def feasible(self, root: str, what, *constraints) -> bool:
        """Whether the constraints have a solution; ``what`` (a function giving the question, for the
        message) when z3 cannot tell."""
        result = self.check(root, self.solver(*constraints))
        if result == z3.unknown:
            raise self.fail(root, f"z3 could not decide {what()}")
        return result == z3.sat

    def check_obligations(self, root: str) -> None:
        """The parameters can satisfy the program's conditions on them (known values: do), and its
        conditions on loop counters hold."""
        if self._checked:
            return
        if not self.feasible(root, lambda: "whether any parameter values meet the program's conditions"):
            whys = "; ".join(dict.fromkeys(c.why for c in self.restrictions))
            raise self.fail(root, f"its parameter values break what the program needs: {whys}")
        for c in self.obligations:
            if self.feasible(root, lambda c=c: f"whether {c.why}", *[self.z.bool(p) for p in c.path],
                             z3.Not(self.z.bool(c.cond))):
                raise self.fail(root, f"the analysis assumes that {c.why}, which does not always hold")
        self._checked = True

    def check_bounds(self, root: str, accesses: list[_Access], extent, definite_checked: bool = False) -> None:
        """No access starts below the buffer, none (possible ones included; definite ones unless
        ``definite_checked``) ends past ``extent``."""
        self.check_starts(root, accesses)
        for a in accesses:
            if definite_checked and a.maybe is None:
                continue
            if self.feasible(root, lambda a=a: f"whether {a.text} stays below {_text(extent)}", *self.path(a),
                             self.end(a) > self.z.int(extent)):
                if a.maybe is not None and not self.parameters:
                    raise self.fail(root, f"the access {a.text} may reach beyond what the definite accesses reach "
                                          f"(it only possibly happens: {a.maybe})")
                raise self.fail(root, f"the access {a.text} may reach beyond {_text(extent)}")

    def check_starts(self, root: str, accesses: list[_Access]) -> None:
        """No access starts below the buffer."""
        for a in accesses:
            if self.feasible(root, lambda a=a: f"whether {a.text} starts below the buffer", *self.path(a),
                             self.z.int(a.start) < 0):
                raise self.fail(root, f"the access {a.text} may use a negative index")

    # ---- all parameters known --------------------------------------------------------------------
    def maximum(self, root: str, accesses: list[_Access], fixed=()) -> int | None:
        """The largest end byte over the definite accesses (None when none runs)."""
        best = None
        for a in accesses:
            if a.maybe is None:
                found = self.largest(root, a, list(fixed) + self.path(a), self.end(a), best)
                if found is not None:
                    best = found
        return best

    def largest(self, root: str, a: _Access, constraints: list, objective, floor: int | None) -> int | None:
        """The maximum of ``objective`` under ``constraints`` when it exceeds ``floor`` (None when it
        does not, or the constraints are unsatisfiable): a model, then galloping and bisection with
        incremental satisfiability checks (z3's optimiser is much slower on the divisions and
        remainders of fused loop indices)."""
        s = self.solver(*constraints)

        def above(bound: int) -> int | None:
            s.push()
            s.add(objective >= bound)
            result = self.check(root, s)
            value = s.model().eval(objective).as_long() if result == z3.sat else None
            s.pop()
            if result == z3.unknown:
                raise self.fail(root, f"z3 could not maximise the index of {a.text}")
            return value

        low = above(floor + 1 if floor is not None else -2 ** 80)
        if low is None:
            return None
        step = 1
        while (found := above(low + step)) is not None:
            low, step = found, step * 2
            if step > 2 ** 80:
                raise self.fail(root, f"the index of {a.text} is unbounded")
        high = low + step - 1  # objective < low + step
        while low < high:
            middle = (low + high + 1) // 2
            found = above(middle)
            if found is None:
                high = middle - 1
            else:
                low = found
        return low

    # ---- symbolic parameters ---------------------------------------------------------------------
    def candidate(self, a: _Access, conditioned: bool):
        """The end byte of ``a`` at its last iteration (innermost loop first; the first iteration of
        a loop the index decreases with); ``conditioned``: when that point satisfies the access's path
        condition, else 0 (the access is taken not to happen)."""
        end = simplify(add(a.start, a.size))
        path = list(a.path) + ([compare(">", a.size, ZERO)] if _value(a.size) is None else [])
        for loop in reversed(a.loops):
            linear = _linear_in(end, loop.counter)
            first = linear is not None and _sign(linear[0]) < 0
            point = {loop.counter: ZERO if first else self.bounded_last(path, loop)}
            end = self.fold(simplify(_substitute(end, point)))
            path = [_substitute(p, point) for p in path]
        if not conditioned:
            return end
        runs = ONE
        for p in path:
            runs = land(runs, simplify(p))
        return self.fold(simplify(ite(runs, end, ZERO)))

    def bounded_last(self, path: list, loop: _Loop):
        """The loop's last counter value, tightened by the guards on the counter in ``path`` (where the
        inner loops' counters are already replaced)."""
        last = loop.last
        for guard in path:
            if loop.counter not in _counters(guard) or not isinstance(guard, ir.BinOp):
                continue
            bounds = _counter_bounds(guard, loop.counter)
            if bounds is None:
                continue
            if _text(bounds[0]) != _text(loop.last):  # a guard, not the loop's own condition
                last = minimum(last, bounds[0])
        return last

    def fold(self, t):
        """Fold the ``?:`` of a term whose condition the assumptions decide."""
        if isinstance(t, ir.Ternary):
            cond = simplify(t.cond)
            if _value(cond) is None and not _counters(cond):
                key = _text(cond)
                if key not in self.decided:
                    self.decided[key] = ONE if self.proves(self.z.bool(cond)) else \
                        ZERO if self.proves(z3.Not(self.z.bool(cond))) else cond
                cond = self.decided[key]
            if _value(cond) is not None:
                return self.fold(t.then if _value(cond) else t.other)
            return ite(cond, self.fold(t.then), self.fold(t.other))
        if isinstance(t, (ir.BinOp, ir.UnOp, ir.Call)):
            return simplify(_rebuild(t, tuple(self.fold(p) for p in _parts(t))))
        return t

    def prune(self, t):
        """Replace a ``?:`` of ``t`` by one of its branches while the whole stays provably equal (the
        last iteration of a tail loop is often the same for every parameter value, in another form:
        ``min(16*ceil(n/16), n)`` is ``n``)."""
        # first the whole term: one of its alternatives may be the value wherever it matters
        for leaf in sorted(_alternatives(t), key=lambda x: len(_text(x))):
            if _value(leaf) != 0 and self.agree(t, leaf) and \
                    self.proves(z3.Implies(self.z.int(t) > 0, self.z.int(leaf) == self.z.int(t)), QUERY_RLIMIT):
                return leaf
        kept: set[str] = set()  # ?: that must stay
        while True:
            for choice in _ternaries(t):
                if _text(choice) in kept:
                    continue
                # equal wherever the buffer is accessed (t > 0 there); elsewhere the value is unspecified
                replaced = next((r for branch in (choice.then, choice.other)
                                 if self.agree(t, r := simplify(_replace(t, choice, branch))) and
                                 self.proves(z3.Implies(self.z.int(t) > 0, self.z.int(r) == self.z.int(t)))), None)
                if replaced is not None:
                    t = replaced
                    break
                kept.add(_text(choice))
            else:
                return t

    def agree(self, t, other) -> bool:
        """A quick test before a proof that ``other`` equals ``t`` where ``t > 0``: at a few points."""
        rng = random.Random(1)
        for _ in range(8):
            point = {p: rng.randint(*SAMPLE_RANGE) for p in self.parameters}
            try:
                value = _evaluate(t, point)
                if value > 0 and _evaluate(other, point) != value:
                    return False
            except (ZeroDivisionError, ValueError, KeyError):
                continue
        return True

    def proves(self, claim, rlimit: int = QUERY_RLIMIT // 10) -> bool:
        return self.check(self.root, self.solver(z3.Not(claim)), rlimit) == z3.unsat

    def symbolic(self, root: str, accesses: list[_Access]):
        self.root = root
        return self.closed_form(root, accesses)

    def closed_form(self, root: str, accesses: list[_Access]):
        """A closed form of the extent: the candidate from the accesses' last iterations, and if that
        fails, the one that also asks whether each access's last iteration runs at all."""
        if all(a.maybe is not None for a in accesses):
            raise self.fail(root, f"it is only possibly accessed ({accesses[0].maybe}): {accesses[0].text}")
        refusal = None
        for conditioned in (False, True):
            candidates = []
            for a in accesses:
                if a.maybe is None:
                    c = self.candidate(a, conditioned)
                    if _counters(c):
                        raise self.fail(root, f"no closed form for {a.text}: {_text(c)} depends on a loop counter")
                    if all(_text(c) != _text(o) for o in candidates):
                        candidates.append(c)
            # keep the candidates no other one provably dominates; the extent is their maximum
            kept: list = []
            for c in candidates:
                if any(self.proves(self.z.int(k) >= self.z.int(c)) for k in kept):
                    continue
                kept = [k for k in kept if not self.proves(self.z.int(c) >= self.z.int(k))] + [c]
            extent = kept[0]
            for other in kept[1:]:
                extent = self.fold(maximum(extent, other))
            extent = self.prune(extent)
            try:
                self.check_bounds(root, accesses, extent)
                self.check_samples(root, accesses, extent)
                return extent
            except FootprintError as error:
                refusal = refusal or error
        raise refusal

    def check_samples(self, root: str, accesses: list[_Access], extent) -> None:
        """The candidate (already proved an upper bound) is reached by some access at sampled
        parameter values where the buffer is accessed."""
        rng = random.Random(0)
        definite = [a for a in accesses if a.maybe is None]
        checked = 0
        points = [{p: v for p in self.parameters} for v in (1, 2, 3, 7)]
        points += [{p: rng.randint(*SAMPLE_RANGE) for p in self.parameters} for _ in range(SAMPLES)]
        for point in points:
            fixed = [self.z.var(p) == v for p, v in point.items()]
            try:
                value = _evaluate(extent, point)
            except (ZeroDivisionError, ValueError):
                continue  # outside the program's assumptions (a division by zero)
            if self.check(root, self.solver(*fixed)) != z3.sat:
                continue
            if any(self.feasible(root, lambda a=a, value=value: f"whether {a.text} reaches {value} bytes",
                                 *fixed, *self.path(a), self.end(a) >= value) for a in definite):
                checked += 1
                continue
            if not any(self.feasible(root, lambda a=a: f"whether {a.text} runs", *fixed, *self.path(a))
                       for a in definite):
                continue  # nothing accessed at this point
            shown = ", ".join(f"{p}={v}" for p, v in point.items())
            raise self.fail(root, f"the candidate {_text(extent)} is not attained at {shown} "
                                  f"(the exact maximum is {self.maximum(root, accesses, fixed)} bytes)")
        if checked < 3:
            raise self.fail(root, "too few sampled parameter values access it to check a closed form")


def _ternaries(t) -> list:
    """The ``?:`` of a term, outermost first."""
    return [n for n in _subterms(t) if isinstance(n, ir.Ternary)]


def _alternatives(t, cap: int = 32) -> list:
    """The forms a term takes for each choice of its ``?:`` (up to ``cap`` of them), simplified."""
    if isinstance(t, ir.Ternary):
        found = _alternatives(t.then, cap) + _alternatives(t.other, cap)
    elif isinstance(t, ir.BinOp) and t.op in ("+", "-", "*", "/", "%"):
        found = [simplify(ir.BinOp(t.op, a, b)) for a in _alternatives(t.left, cap)
                 for b in _alternatives(t.right, cap)]
    elif isinstance(t, ir.UnOp) and t.op == "-":
        found = [simplify(neg(a)) for a in _alternatives(t.operand, cap)]
    else:
        return [t]
    unique = list({_text(a): a for a in found}.values())
    return unique[:cap]


def _replace(t, old, new):
    return _map(t, lambda n: new if n is old else n)


def _to_c(t):
    """A term as a C expression over the parameters."""
    def fn(n):
        if isinstance(n, ir.Call) and isinstance(n.func, ir.Name) and n.func.id.startswith("@"):
            name, args = n.func.id, n.args
            if name in ("@fdiv", "@fmod") and _nonneg(args[0]):
                return ir.BinOp("/" if name == "@fdiv" else "%", args[0], args[1])
            m = _value(args[1]) if len(args) > 1 else None
            if name in ("@fdiv", "@fmod") and m is not None and m > 0 and m & (m - 1) == 0:
                # floor division and modulo by 2^k of a possibly negative value: a shift and a mask
                # (two's complement, arithmetic right shift, as the source's own shifts and masks)
                return ir.BinOp(">>", args[0], _const(m.bit_length() - 1)) if name == "@fdiv" else \
                    ir.BinOp("&", args[0], _const(m - 1))
            if name == "@pow2":
                return ir.BinOp("<<", ONE, args[0])
            if name == "@lowmask":
                return ir.Ternary(ir.BinOp(">", args[0], ZERO), ir.BinOp("-", ir.BinOp("<<", ONE, args[0]), ONE), ZERO)
            raise FootprintError(f"no C expression for {_text(n)}")
        return n
    return ir.rewrite(t, fn)


def _elements(extent_bytes, elem: int):
    """Bytes to elements, rounding up (an element touched in part counts)."""
    if isinstance(extent_bytes, ir.Ternary):
        return ite(extent_bytes.cond, _elements(extent_bytes.then, elem), _elements(extent_bytes.other, elem))
    v = _value(extent_bytes)
    if v is not None:
        return _const(-(-v // elem))
    atoms: dict = {}
    p = _poly(extent_bytes, atoms)
    if all(c % elem == 0 for c in p.values()):
        return _from_poly({m: c // elem for m, c in p.items()}, atoms)
    return simplify(cdiv(add(extent_bytes, _const(elem - 1)), _const(elem)))


def footprint(function: ir.Function, pointers: Iterable[str], *, constants: Mapping[str, int] = {},
              module: ir.Module | None = None, inspectors: list | None = None) -> dict[str, ir.Expr]:
    """For each pointer parameter name in ``pointers``: the element count (max accessed index + 1) it
    needs, as an IR expression over the *other* scalar parameters of ``function`` (an ``ir.Const`` when
    everything is known). ``constants`` gives known integer values of some scalar parameters (keys
    ``n``, ``taskDimX``, and ``gridDim.x`` for a member of a struct parameter; keys that name no
    parameter are ignored) and ``module`` supplies object-like integer ``#define``s and global
    ``const`` ints (and the functions the pointers are passed to). Exact: the result equals the true
    maximum index + 1 over the iteration domain; otherwise :class:`FootprintError` names the buffer and
    the cause (one buffer that cannot be sized fails the call: ask per buffer for the others). A buffer
    never accessed needs 0. A symbolic result holds for the non-negative parameter values the program
    accepts (no division by zero, no unsigned wrap-around, ...) at which the buffer is accessed.

    ``inspectors``: where no closed form is found for a buffer whose accesses the analysis follows
    (z3 cannot decide, the candidate is not reached, the budget runs out), append an *extent inspector*
    (:mod:`synth.inspector`) to this list and give the buffer's count as a call to it over the
    function's scalar parameters: exact too, computed at run time.
    """
    if function.body is None:
        raise FootprintError(f"{function.name}: a declaration without a body")
    pointers = list(pointers)
    params = {p.name: p for p in function.params}
    for name in pointers:
        if name not in params or not (params[name].type.is_pointer or params[name].dims):
            raise FootprintError(f"{function.name}: {name} is not a pointer parameter")
    try:
        return _footprint(function, pointers, params, constants, module, inspectors)
    finally:
        for cache in _MEMO:
            cache.clear()


def _footprint(function, pointers, params, constants, module, inspectors) -> dict[str, ir.Expr]:
    tracer = _Tracer(function, constants, module).run()
    solver = _Solver(tracer, function, BUDGET_RLIMIT)
    result = {}
    for name in pointers:
        if name in tracer.errors:
            raise solver.fail(name, tracer.errors[name])
        accesses = list({a.key: a for a in tracer.accesses if a.root == name}.values())
        if not accesses:
            result[name] = ZERO
            continue
        solver.check_obligations(name)
        param = params[name]
        pointee = param.type.pointee() if param.type.is_pointer else param.type
        elem = sizeof(pointee) if not pointee.is_pointer else 8
        if elem is None:
            raise solver.fail(name, f"the size of its element type {pointee.base} is unknown")
        try:
            if not any(_symbols(t) - _counters(t) for a in accesses for t in (a.start, a.size) + a.path):
                if all(a.maybe is not None for a in accesses):
                    raise solver.fail(name, f"it is only possibly accessed ({accesses[0].maybe}): {accesses[0].text}")
                best = solver.maximum(name, accesses)
                if best is None:
                    result[name] = ZERO
                    continue
                solver.check_bounds(name, accesses, _const(best), definite_checked=True)
                extent = _const(best)
            else:
                extent = solver.symbolic(name, accesses)
        except FootprintError as error:
            if inspectors is None or not _inspectable(tracer, function, accesses):
                raise
            result[name] = _inspected(function, name, accesses, elem, inspectors, error)
            continue
        result[name] = _to_c(_elements(extent, elem))
    return result


def _inspectable(tracer: _Tracer, function: ir.Function, accesses: list[_Access]) -> bool:
    """Whether an inspector gives the exact extent: every access is definite (a possible one would
    have to be proved inside the others) and provably starts at or after the buffer."""
    if any(a.maybe is not None for a in accesses):
        return False
    solver = _Solver(tracer, function, INSPECTOR_RLIMIT)
    try:
        solver.check_starts(accesses[0].root, accesses)
    except FootprintError:
        return False
    return True


def _inspected(function, name, accesses, elem, inspectors: list, error: FootprintError) -> ir.Expr:
    from .inspector import extent_inspector
    helper = f"__xp_extent_{function.name}_{name}"
    try:
        inspector = extent_inspector(helper, function, accesses, elem)
    except FootprintError as why:
        raise FootprintError(f"{error} (and no run-time inspector: {why})") from None
    # one list may collect the inspectors of several calls: the same one is shared, a different one
    # of the same name (another call site of a wrapper) gets a fresh name
    taken = {f.name: f for f in inspectors}
    for suffix in itertools.count(2):
        if inspector.name not in taken:
            inspectors.append(inspector)
            break
        if taken[inspector.name] == inspector:
            break
        inspector = replace(inspector, name=f"{helper}_{suffix}")
    return ir.Call(ir.Name(inspector.name), tuple(ir.Name(p.name) for p in inspector.params))
