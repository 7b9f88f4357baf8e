"""Scalar replacement (``scalar-replace``): an array that each iteration of a loop uses as one variable.

Vector code keeps an accumulator per lane in an array declared outside the loops (a register
block of a GEMM); once the lanes are the outer loop, each lane touches only its own element::

    float acc[16];                              for (int l = 0; l < 16; ++l) {
    for (int j = 0; j < 8; ++j)                   float acc;
      for (int l = 0; l < 16; ++l) {        ->    acc = 0;
        acc[l] = 0;                                for (int k = 0; k < K; ++k) acc += a[k] * b[k][l];
        for (int k = 0; k < K; ++k)               y[l] = acc;
          acc[l] += a[k] * b[k][l];             }
        y[l] = acc[l];
      }

The array becomes a scalar of the loop ``l`` when every use of it is ``acc[l]`` inside that loop
(``l`` its variable, never assigned there) and the first statement of the loop's body that names it
assigns ``acc[l]`` from a value that does not read it. Then in every iteration the element is written
before it is read, and no iteration reads what another wrote: a variable per iteration is the same
program. Besides the registers it saves, the array no longer stands between the loops around it and
the parallel nest (bind collapses only perfectly nested loops).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from xpiler import ir
from xpiler.ir.analysis import strip_parens
from xpiler.ir.effects import assigned_scalars

from .base import ModulePass, map_function_bodies
from .registry import register


def name_uses(node, name: str) -> int:
    """How often ``name`` appears under ``node``."""
    return sum(isinstance(n, ir.Name) and n.id == name for n in ir.walk(node))


def element_accesses(node, name: str) -> list[ir.Index]:
    """The elements ``name[...]`` under ``node``."""
    return [n for n in ir.walk(node) if isinstance(n, ir.Index) and strip_parens(n.base) == ir.Name(name)]


def used_only_at(node, name: str, index: str) -> bool:
    """Every use of the array ``name`` under ``node`` is the element ``name[index]``."""
    accesses = element_accesses(node, name)
    return name_uses(node, name) == len(accesses) and all(strip_parens(a.index) == ir.Name(index) for a in accesses)


def elements_as_scalars(node, names: set[str]):
    """``node`` with every element ``a[...]`` of an array in ``names`` read as the scalar ``a``."""
    def element(n):
        if isinstance(n, ir.Index) and isinstance(strip_parens(n.base), ir.Name) and strip_parens(n.base).id in names:
            return strip_parens(n.base)
        return n
    return ir.rewrite(node, element)


def _replaceable_in(loop: ir.For, name: str, total: int) -> bool:
    canon = loop.canonical()
    if canon is None or canon[0] in assigned_scalars(loop.body):
        return False
    accesses = element_accesses(loop.body, name)
    if len(accesses) != total or any(strip_parens(a.index) != ir.Name(canon[0]) for a in accesses):
        return False
    first = loop.body
    while isinstance(first, ir.Block):    # a nested block runs unconditionally: look inside
        first = next(s for s in first.body if name_uses(s, name))
    return isinstance(first, ir.ExprStmt) and isinstance(first.expr, ir.Assign) and first.expr.op == "=" and \
        strip_parens(first.expr.target) in accesses and name_uses(first.expr.value, name) == 0


def scalar_replace_body(body: ir.Block) -> ir.Block:
    decls = {}
    for n in ir.walk(body):
        if isinstance(n, ir.Declarator):
            decls.setdefault(n.name, []).append(n)
    for name, found in decls.items():
        (v,) = found if len(found) == 1 else (None,)
        if v is None or len(v.dims) != 1 or v.init is not None or v.ctor_args is not None:
            continue
        total = name_uses(body, name)
        if total == 0 or total != len(element_accesses(body, name)):
            continue                # unused (dce's to remove), or the array itself is used (passed, aliased)
        loop = next((n for n in ir.walk(body) if isinstance(n, ir.For) and _replaceable_in(n, name, total)), None)
        if loop is None:
            continue

        def fn(n, loop=loop, v=v):
            if n is loop:
                inner = elements_as_scalars(loop.body, {v.name})
                stmts = inner.body if isinstance(inner, ir.Block) else (inner,)
                return replace(loop, body=ir.Block((ir.Decl((ir.Declarator(v.name, v.type),)),) + tuple(stmts)))
            if isinstance(n, ir.Block):
                kept = []
                for s in n.body:
                    if isinstance(s, ir.Decl) and any(d is v for d in s.vars):
                        if len(s.vars) == 1:
                            continue
                        s = replace(s, vars=tuple(d for d in s.vars if d is not v))
                    kept.append(s)
                return ir.Block(tuple(kept)) if len(kept) != len(n.body) or any(a is not b for a, b in zip(kept, n.body)) else n
            return n
        return scalar_replace_body(ir.rewrite(body, fn))
    return body


@register
@dataclass(frozen=True)
class ScalarReplace(ModulePass):
    """An array that each iteration of a loop uses as one variable becomes a scalar of the loop."""

    name: ClassVar[str] = "scalar-replace"
    summary: ClassVar[str] = "arrays used as one element per loop iteration become scalars of the loop"

    def apply(self, module: ir.Module) -> ir.Module:
        return map_function_bodies(module, lambda f: scalar_replace_body(f.body))
