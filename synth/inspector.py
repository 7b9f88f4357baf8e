"""Extent inspectors: a buffer's exact extent computed at run time, where no closed form is derived.

The footprint analysis (:mod:`synth.footprint`) turns every access of a buffer into a term over the
parameters and iteration counters, with its path condition. When z3 cannot turn those into a closed
form (rows split by a symbolic divisor ``r / HO, r % HO``; padding guards under which the last
iteration is not the largest; the analysis budget), the terms themselves are still exact: evaluating
them over the iteration domain at run time, when the parameters are known, gives the exact maximum.

An *inspector* is that evaluation written as a host function (the inspector/executor scheme)::

    static long long __xp_extent_pool_x(long long N, long long H, ...) {
        long long end = 0;                         // bytes
        for (long long t1 = 0; t1 <= N*HO - 1; ++t1)       // a counter the index needs
            if (<path condition>) { long long e = <last byte of the access>; if (e > end) end = e; }
        return (end + 3) / 4;                      // elements
    }

It enumerates only the counters that matter. A counter the access does not depend on is dropped: its
loop runs at least once exactly when its condition holds at 0. A counter the index grows (shrinks)
with, under conditions that hold on a prefix of its values (``i < n``, ``i + 16 <= cols``), is
replaced by its largest (smallest) admitted value. What is left is usually a few outer counters (the
rows, the kernel window), so an inspector costs a fraction of the program it sizes; it runs on the
host before the device buffers are allocated, outside the device time of the entry.

Exactness is the footprint's: the same terms, the same path conditions, evaluated in 64-bit integers.
What the footprint must prove before (no access below the start of the buffer, the program's
conditions on its counters) is still proved by z3; where that fails there is no inspector.
"""

from __future__ import annotations

from xpiler import ir
from xpiler.ir.effects import used_names
from xpiler.ir.types import is_integer

from . import footprint as fp

_LONG = ir.Type("long long")


def _name(counter: str) -> str:
    return "__xp_" + counter.lstrip("@")


def _is_nonneg_fact(term, counter: str) -> bool:
    return isinstance(term, ir.BinOp) and term.op == ">=" and fp._text(term.left) == counter and fp._value(term.right) == 0


def reduce_access(access) -> tuple[list, object, list]:
    """``(loops, end, conditions)``: the counters to enumerate (``(counter, last)``, outermost first),
    the end byte of the access and the conditions under which it happens, with every other counter
    eliminated (see the module docstring)."""
    end = fp.simplify(fp.add(access.start, access.size))
    conditions = list(access.path)
    if fp._value(access.size) is None:
        conditions.append(fp.compare(">", access.size, fp.ZERO))
    explicit: list = []  # innermost first while building
    for loop in reversed(access.loops):
        c = loop.counter
        mentioned = [p for p in conditions if c in fp._counters(p) and not _is_nonneg_fact(p, c)]
        # a condition that holds for the counter's values from 0 up to a bound (c*t + rest < 0, c > 0)
        # holds for some value iff it holds at 0; its bound is the largest value it admits
        bounds = [fp._counter_bounds(p, c) for p in mentioned]
        prefix = all(b is not None for b in bounds)
        in_bounds = any(c in fp._counters(last) for _, last in explicit)
        linear = fp._linear_in(end, c) if c in fp._counters(end) else (fp.ZERO, end)
        sign = 1 if linear is not None and fp._value(linear[0]) == 0 else \
            fp._sign(linear[0]) if linear is not None else 0
        if not prefix or in_bounds or sign == 0 or (c in fp._counters(end) and not bounds):
            explicit.append((c, loop.last))
            continue
        at_zero = {c: fp.ZERO}
        others = [p for p in conditions if c not in fp._counters(p)]
        if c in fp._counters(end) and sign > 0:
            largest = None
            for last, _, _ in bounds:
                largest = last if largest is None else fp.minimum(largest, last)
            end = fp.simplify(fp._substitute(end, {c: largest}))
        else:
            end = fp.simplify(fp._substitute(end, at_zero))
        conditions = others + [fp.simplify(fp._substitute(p, at_zero)) for p in mentioned]
    conditions = [p for p in conditions if fp._value(p) != 1]
    return list(reversed(explicit)), end, conditions


def extent_inspector(name: str, function: ir.Function, accesses, elem: int) -> ir.Function:
    """A host function ``long long name(<function's scalar parameters>)`` returning the element
    count the ``accesses`` (definite ones, all of one buffer) need."""
    rename = lambda t: ir.rewrite(fp._to_c(t), lambda n: ir.Name(_name(n.id))
                                  if isinstance(n, ir.Name) and n.id.startswith("@t") else n)
    end_name, e_name = "__xp_end", "__xp_e"
    body: list = [ir.Decl((ir.Declarator(end_name, _LONG, init=fp.ZERO),))]
    for access in accesses:
        loops, end, conditions = reduce_access(access)
        update = ir.Block((
            ir.Decl((ir.Declarator(e_name, _LONG, init=rename(end)),)),
            ir.If(ir.BinOp(">", ir.Name(e_name), ir.Name(end_name)),
                  ir.ExprStmt(ir.Assign(ir.Name(end_name), "=", ir.Name(e_name)))),
        ))
        stmt = update
        if conditions:
            cond = conditions[0]
            for other in conditions[1:]:
                cond = fp.land(cond, other)
            stmt = ir.If(rename(cond), update)
        for counter, last in reversed(loops):
            var = _name(counter)
            stmt = ir.For(ir.Decl((ir.Declarator(var, _LONG, init=fp.ZERO),)),
                          ir.BinOp("<=", ir.Name(var), rename(last)), ir.UnOp("++", ir.Name(var)),
                          ir.Block((stmt,)))
        body.append(stmt)
    count = ir.BinOp("/", ir.BinOp("+", ir.Name(end_name), fp._const(elem - 1)), fp._const(elem))
    body.append(ir.Return(count))
    params = []
    used = used_names(ir.Block(tuple(body)))
    for p in function.params:
        if p.type.is_pointer or p.dims or p.name not in used:
            continue
        params.append(ir.Param(p.name, _LONG if is_integer(p.type) else p.type))
    return ir.Function(name, _LONG, tuple(params), ir.Block(tuple(body)), kind="host", quals=("static",))
