"""Dead-code elimination (``dce``): remove what cannot affect what a program computes.

* ``if`` with a constant condition keeps only the branch that runs; ``while (0)``, a ``for`` whose
  condition is constantly false and a counted loop that runs zero times (``for (int j = 0; j < 0;
  ++j)``) disappear (an initialiser with side effects stays);
* statements without effect: empty blocks, expression statements with no side effect, ``if``
  statements with empty branches and a pure condition, loops with an empty body whose header only
  updates the loop's own variable;
* unused locals: a local scalar, pointer or array declared once in its function, never read, whose
  initialiser and every assignment to it (``v = e``, ``v[i] = e``) are free of side effects, goes
  with those assignments (dead buffers included);
* nested blocks are merged into the enclosing block when the names they declare are used nowhere
  else in the function (so no shadowing changes), not into a block with a label when they declare
  something (a ``goto`` may not skip an initialisation), and not right after a ``#pragma`` (an OpenMP
  structured block).

Applied until nothing changes. Side effects are judged conservatively (:func:`passes.cleanup.is_pure`:
no assignment, increment, or call of a function not known to be pure).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import ClassVar

from xpiler import ir
from xpiler.ir.analysis import strip_parens
from xpiler.ir.effects import declaration_counts
from xpiler.ir.types import INTEGER_RANK, FLOAT_RANK, canonical_base

from .base import ModulePass
from .cleanup import address_taken, is_pure
from .constant_fold import const_value, is_true_const
from .registry import register

_PLAIN = set(INTEGER_RANK) | set(FLOAT_RANK)


def _is_empty(s) -> bool:
    return isinstance(s, ir.Block) and not s.body


def _target_base(e):
    """The variable an assignment target writes (``v`` of ``v``, ``v[i]``, ``v[i][j]``), with the
    index expressions on the way."""
    indices = []
    e = strip_parens(e)
    while isinstance(e, ir.Index):
        indices.append(e.index)
        e = strip_parens(e.base)
    return (e.id, indices) if isinstance(e, ir.Name) else (None, indices)


class _Dce:
    def __init__(self, body: ir.Block):
        self.changed = False
        self.uses = Counter()
        self.declared = declaration_counts(body)
        self.addressed = address_taken(body)
        self.dead: set[str] = set()
        # Every Name occurrence; the dead-store candidates: names whose every occurrence is the base of a
        # pure assignment statement's target (or in their own declarator).
        self.store_only: dict[str, bool] = {}
        self._scan(body)
        for name, only in self.store_only.items():
            if only and self.declared[name] == 1 and name not in self.addressed:
                self.dead.add(name)

    def _scan(self, body):
        decl_types = {}
        for n in ir.walk(body):
            if isinstance(n, ir.Declarator):
                decl_types[n.name] = n
        allowed = {name for name, d in decl_types.items()
                   if d.ctor_args is None and not d.type.reference
                   and (d.type.pointer or canonical_base(d.type.base) in _PLAIN)
                   and (d.init is None or is_pure(d.init))}
        counted = Counter(n.id for n in ir.walk(body) if isinstance(n, ir.Name))
        verbatim_names = set()
        for n in ir.walk(body):
            if isinstance(n, (ir.Verbatim, ir.RawExpr)):
                import re
                verbatim_names.update(re.findall(r"[A-Za-z_]\w*", n.text))
        store_uses = Counter()
        for n in ir.walk(body):
            if isinstance(n, ir.ExprStmt) and isinstance(n.expr, ir.Assign):
                name, indices = _target_base(n.expr.target)
                if name is not None and indices and not (name in decl_types and
                                                         len(indices) <= len(decl_types[name].dims)):
                    continue  # a store through a pointer (an array's pointer element: `c[t][i] = v` of
                    #           `float *c[n]`) writes memory that outlives the pointer
                if name is not None and is_pure(n.expr.value) and all(is_pure(i) for i in indices) and \
                        not any(isinstance(m, ir.Name) and m.id == name for x in [n.expr.value, *indices]
                                for m in ir.walk(x)):
                    store_uses[name] += 1
        for name in allowed:
            if name in verbatim_names:
                continue
            self.store_only[name] = counted[name] == store_uses[name]

    # ---- statements ------------------------------------------------------------------------------
    def block(self, b: ir.Block, after_pragma=False) -> ir.Block:
        out: list = []
        # a block that declares something and sits before a label keeps its braces: a goto to the
        # label may not jump past an initialised declaration in the label's scope (C++)
        labelled = any(isinstance(s, ir.Verbatim) and s.text.rstrip().endswith(":;") for s in b.body)
        for s in b.body:
            new = self.stmt(s)
            if new is None:
                self.changed = True
                if out and isinstance(out[-1], ir.Pragma):
                    out.pop()  # the pragma applied to the statement that went away
                continue
            if isinstance(new, ir.Block) and not (out and isinstance(out[-1], ir.Pragma)) and self.can_merge(new) \
                    and not (labelled and any(isinstance(t, ir.Decl) for t in new.body)):
                self.changed = True
                out.extend(new.body)
                continue
            out.append(new)
        return ir.Block(tuple(out))

    def can_merge(self, inner: ir.Block) -> bool:
        names = {v.name for s in inner.body if isinstance(s, ir.Decl) for v in s.vars}
        if not names:
            return True
        return all(self.declared[n] == 1 and self.outside_uses.get(n, 0) == self.inside_uses(inner, n) for n in names)

    def inside_uses(self, inner, name) -> int:
        return sum(1 for n in ir.walk(inner) if isinstance(n, ir.Name) and n.id == name)

    def body(self, s):
        new = self.stmt(s)
        if new is None:
            return ir.Block(())
        return new

    def stmt(self, s):
        if isinstance(s, ir.Block):
            b = self.block(s)
            return None if not b.body else b
        if isinstance(s, ir.Decl):
            keep = [v for v in s.vars if v.name not in self.dead]
            if not keep:
                return None
            return replace(s, vars=tuple(keep)) if len(keep) != len(s.vars) else s
        if isinstance(s, ir.ExprStmt):
            if isinstance(s.expr, ir.Assign):
                name, _ = _target_base(s.expr.target)
                if name in self.dead:
                    return None
            if is_pure(s.expr):
                return None
            return s
        if isinstance(s, ir.If):
            c = is_true_const(s.cond)
            if c is True:
                return self.stmt(s.then)
            if c is False:
                return self.stmt(s.other) if s.other is not None else None
            then = self.body(s.then)
            other = self.body(s.other) if s.other is not None else None
            if other is not None and _is_empty(other):
                other = None
            if _is_empty(then) and other is None and is_pure(s.cond):
                return None
            return replace(s, then=then, other=other)
        if isinstance(s, ir.While):
            c = is_true_const(s.cond)
            if c is False:
                return self.stmt(s.body) if s.do_while else None
            return replace(s, body=self.body(s.body))
        if isinstance(s, ir.For):
            c = is_true_const(s.cond) if s.cond is not None else None
            if c is False:
                if s.init is None or (isinstance(s.init, ir.Decl) and all(v.init is None or is_pure(v.init)
                                                                          for v in s.init.vars)):
                    return None
                if isinstance(s.init, ir.ExprStmt) and is_pure(s.init.expr):
                    return None
                return ir.Block((s.init,))
            canon = s.canonical()
            if canon is not None and isinstance(s.init, ir.Decl):
                start, stop, step = (const_value(x) for x in canon[1:])
                if start is not None and stop is not None and step is not None and step[0] > 0 \
                        and start[0] >= stop[0] and is_pure(s.init.vars[0].init):
                    return None  # runs zero times
            init = self.stmt(s.init) if isinstance(s.init, ir.Decl) else s.init
            body = self.body(s.body)
            loop = replace(s, init=init, body=body)
            if _is_empty(body) and isinstance(s.init, ir.Decl) and s.cond is not None and is_pure(s.cond):
                own = {v.name for v in s.init.vars}
                step_ok = s.step is None or _only_updates(s.step, own)
                if step_ok and all(v.init is None or is_pure(v.init) for v in s.init.vars):
                    return None
            return loop
        return s


def _only_updates(step, own: set[str]) -> bool:
    for n in ir.walk(step):
        if isinstance(n, ir.Call):
            return False
        if isinstance(n, ir.Assign) or (isinstance(n, ir.UnOp) and n.op in ("++", "--")):
            target = strip_parens(n.target if isinstance(n, ir.Assign) else n.operand)
            if not (isinstance(target, ir.Name) and target.id in own):
                return False
    return True


def remove_dead(body: ir.Block) -> ir.Block:
    """``body`` (a function body) with dead code removed, to a fixed point."""
    for _ in range(20):
        d = _Dce(body)
        d.outside_uses = Counter(n.id for n in ir.walk(body) if isinstance(n, ir.Name))
        new = d.block(body)
        if not d.changed and new == body:
            return new
        body = new
    return body


def _function(item):
    if isinstance(item, ir.ExternC):
        return replace(item, items=tuple(_function(i) for i in item.items))
    if isinstance(item, ir.Function) and item.body is not None:
        return replace(item, body=remove_dead(item.body))
    return item


@register
@dataclass(frozen=True)
class Dce(ModulePass):
    """Remove dead code: constant branches, statements without effect, unused locals and buffers."""

    name: ClassVar[str] = "dce"
    summary: ClassVar[str] = "remove dead code (if (0)/if (1), empty blocks, unused locals and dead buffers)"

    def apply(self, module: ir.Module) -> ir.Module:
        return replace(module, items=tuple(_function(i) for i in module.items))
