"""Loop normalization (``loop-normalize``): counted loops in the canonical form the binders map.

Vector code walks arrays with a counter that outlives its loop, so that a masked tail can start where
the loop stopped::

    int i = 0;                                   int i = 0;
    for (; i + 16 <= n; i += 16)                 int i_trips = n - 15 - i > 0 ? (n - 15 - i + 15) / 16 : 0;
      body(i);                          ->       for (int i_k = 0; i_k < i_trips; ++i_k)
    tail(i);                                       body(i + 16 * i_k);
                                                 i = i + 16 * i_trips;
                                                 tail(i);

The loop on the left assigns a variable the code after it reads, so no iteration can run apart from
the others; on the right the trip count is computed first, the loop is canonical (``bind`` can hand
its iterations out) and the counter gets its final value after it. Exact for:

* an integer counter declared before the loop, initialised there (``i = e``) or not at all;
* a step ``i += s``, ``i = i + s``, ``++i`` or ``i++`` with ``s`` a positive constant;
* a condition that is a conjunction of upper bounds on ``i`` (``i < U``, ``i + c <= U``, ``U > i``,
  ...) with ``U`` neither reading memory nor assigned in the body;
* a body that neither assigns the counter nor leaves early (``break``, ``continue``, ``return``).

A loop that declares its counter (``for (int i = a; i + c <= U; i += s)``) only has its condition
rewritten to ``i < U - c + 1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from xpiler import ir
from xpiler.ir.analysis import loop_increment, strip_parens
from xpiler.ir.effects import assigned_scalars, declared_names, touches_memory, used_names
from xpiler.ir.types import INTEGER_RANK, canonical_base

from .base import ModulePass, map_function_bodies
from .cleanup import names_in
from .constant_fold import int_value
from .loop_split import const, fresh, jumps_out, name, substitute
from .registry import register


def _plus(a: ir.Expr, k: int) -> ir.Expr:
    if k == 0:
        return a
    return ir.BinOp("+" if k > 0 else "-", a, const(abs(k)))


def _offset(e, var: str) -> int | None:
    """``c`` when ``e`` is ``var``, ``var + c`` or ``var - c`` (``c`` a constant), else None."""
    e = strip_parens(e)
    if e == ir.Name(var):
        return 0
    if isinstance(e, ir.BinOp) and e.op in ("+", "-") and strip_parens(e.left) == ir.Name(var):
        c = int_value(e.right)
        return None if c is None else (c if e.op == "+" else -c)
    if isinstance(e, ir.BinOp) and e.op == "+" and strip_parens(e.right) == ir.Name(var):
        return int_value(e.left)
    return None


def upper_bounds(cond, var: str) -> list[ir.Expr] | None:
    """``[U1, U2, ...]`` with ``cond`` equivalent to ``var < U1 && var < U2 ...``, else None."""
    cond = strip_parens(cond)
    if isinstance(cond, ir.BinOp) and cond.op == "&&":
        left, right = upper_bounds(cond.left, var), upper_bounds(cond.right, var)
        return None if left is None or right is None else left + right
    if not isinstance(cond, ir.BinOp) or cond.op not in ("<", "<=", ">", ">="):
        return None
    small, large, strict = (cond.left, cond.right, cond.op == "<") if cond.op in ("<", "<=") else \
        (cond.right, cond.left, cond.op == ">")
    c = _offset(small, var)
    if c is None or var in used_names(large):
        return None
    # var + c < L  <=>  var < L - c;   var + c <= L  <=>  var < L - c + 1
    return [_plus(ir.Paren(large) if isinstance(strip_parens(large), ir.BinOp) else large, -c + (0 if strict else 1))]


def _step(step, var: str) -> int | None:
    increment = loop_increment(step, var)
    return None if increment is None else int_value(increment)


class _Normalizer:
    def __init__(self, function: ir.Function):
        self.types = {p.name: p.type for p in function.params if not p.dims}
        for n in ir.walk(function.body):
            if isinstance(n, ir.Declarator) and not n.dims:
                self.types.setdefault(n.name, n.type)
        self.taken = names_in(function)

    def counter(self, loop: ir.For) -> tuple[str, ir.Expr | None] | None:
        """``(var, start)`` of a loop whose counter lives outside it (start None: no initialiser)."""
        init = loop.init
        if init is None:
            step = strip_parens(loop.step) if loop.step is not None else None
            target = step.operand if isinstance(step, ir.UnOp) else getattr(step, "target", None)
            target = strip_parens(target) if target is not None else None
            return (target.id, None) if isinstance(target, ir.Name) else None
        if isinstance(init, ir.ExprStmt) and isinstance(init.expr, ir.Assign) and init.expr.op == "=" \
                and isinstance(strip_parens(init.expr.target), ir.Name):
            return strip_parens(init.expr.target).id, init.expr.value
        return None

    def legal(self, loop: ir.For, var: str, bounds) -> bool:
        body = loop.body.body if isinstance(loop.body, ir.Block) else (loop.body,)
        changed = assigned_scalars(loop.body)
        return var not in changed and var not in declared_names(loop.body) and jumps_out(body) is None and \
            all(not touches_memory(u) and not (used_names(u) & changed) for u in bounds)

    def loop(self, loop: ir.For, local: bool) -> tuple[list, dict] | None:
        """The statements replacing ``loop``, and the renaming for the statements after it (when
        ``local``, the counter is declared in the same block: its final value gets a name of its own,
        so that every scalar stays assigned once, which the host side's sizes rely on)."""
        if loop.cond is None:
            return None
        if isinstance(loop.init, ir.Decl):  # counter local to the loop: only the condition
            if len(loop.init.vars) != 1 or loop.canonical() is not None:
                return None
            var = loop.init.vars[0].name
            bounds = upper_bounds(loop.cond, var)
            step = _step(loop.step, var)
            if bounds is None or len(bounds) != 1 or not self.legal(loop, var, bounds) or step is None or step <= 0:
                return None
            return [ir.For(loop.init, ir.BinOp("<", name(var), bounds[0]), loop.step, loop.body, loop.kind)], {}
        found = self.counter(loop)
        if found is None:
            return None
        var, start = found
        typ = self.types.get(var)
        step = _step(loop.step, var)
        bounds = upper_bounds(loop.cond, var)
        if typ is None or typ.pointer or canonical_base(typ.base) not in INTEGER_RANK or step is None or \
                step <= 0 or bounds is None or not self.legal(loop, var, bounds):
            return None
        typ = ir.Type(typ.base)
        out, first = [], var
        if start is not None:
            if local:
                first = fresh(var, self.taken)
                out.append(ir.Decl((ir.Declarator(first, typ, (), start),)))
            else:
                out.append(ir.ExprStmt(ir.Assign(name(var), "=", start)))
        bounds = [substitute(u, {var: name(first)}) for u in bounds]
        trips = []
        for u in bounds:   # (U - i > 0) ? (U - i + s - 1) / s : 0
            span = ir.BinOp("-", u, name(first))
            count = span if step == 1 else ir.BinOp("/", _plus(span, step - 1), const(step))
            trips.append(ir.Ternary(ir.BinOp(">", span, const(0)), count, const(0)))
        trip = trips[0]
        for t in trips[1:]:
            trip = ir.Ternary(ir.BinOp("<", trip, t), trip, t)
        trip_name, k = fresh(f"{var}_trips", self.taken), fresh(f"{var}_k", self.taken)
        out.append(ir.Decl((ir.Declarator(trip_name, typ, (), trip),)))
        at = ir.Paren(ir.BinOp("+", name(first), name(k) if step == 1 else ir.BinOp("*", const(step), name(k))))
        body = substitute(loop.body, {var: at})
        out.append(ir.For(ir.Decl((ir.Declarator(k, typ, (), const(0)),)), ir.BinOp("<", name(k), name(trip_name)),
                          ir.UnOp("++", name(k)), body if isinstance(body, ir.Block) else ir.Block((body,)),
                          loop.kind))
        advance = name(trip_name) if step == 1 else ir.BinOp("*", const(step), name(trip_name))
        if not local:
            out.append(ir.ExprStmt(ir.Assign(name(var), "+=", advance)))
            return out, {}
        last = fresh(var, self.taken)
        out.append(ir.Decl((ir.Declarator(last, typ, (), ir.BinOp("+", name(first), advance)),)))
        return out, {var: last}

    def block(self, node):
        if not isinstance(node, ir.Block):
            return node
        stmts, rest, changed = [], list(node.body), False
        while rest:
            s = rest.pop(0)
            counter = self.counter(s) if isinstance(s, ir.For) and not isinstance(s.init, ir.Decl) else None
            local = counter is not None and any(isinstance(t, ir.Decl) and counter[0] in {v.name for v in t.vars}
                                                for t in stmts)
            new = self.loop(s, local) if isinstance(s, ir.For) else None
            if new is None:
                stmts.append(s)
                continue
            replacement, renaming = new
            stmts.extend(replacement)
            rest = [ir.rename(t, renaming) for t in rest] if renaming else rest
            changed = True
        return ir.Block(tuple(stmts)) if changed else node


def normalize_loops(function: ir.Function) -> ir.Block:
    return ir.rewrite(function.body, _Normalizer(function).block)


@register
@dataclass(frozen=True)
class LoopNormalize(ModulePass):
    """Counted loops whose counter outlives them, or whose condition is not ``i < U``, become
    canonical loops (a trip count computed first, the counter's final value assigned after)."""

    name: ClassVar[str] = "loop-normalize"
    summary: ClassVar[str] = "counted loops with a live-out counter or an offset bound become canonical"

    def apply(self, module: ir.Module) -> ir.Module:
        return map_function_bodies(module, normalize_loops)
