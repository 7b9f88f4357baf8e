"""Unit arrays (``unit-arrays``): a local array of one element, used only as ``x[0]``, is a scalar.

TVM's kernels keep each thread's accumulator in an array of one element (``float acc_local[1];
acc_local[0] = 0; ... acc_local[0] = acc_local[0] + ...``). As a per-lane value of a SIMD loop an
array cannot be expanded to one slot per lane (``simd_sink`` leaves a body declaring one unsunk), and
gcc keeps it in memory; as the scalar it is, both treat it like any other value::

    float acc_local[1];          =>     float acc_local;
    acc_local[0] = 0.0f;                acc_local = 0.0f;

Exact: every use of the array in its scope must be the element ``x[0]`` (no pointer to the array or
to its element, no other subscript, nothing in text the IR keeps unparsed); an initializer ``= {v}``
becomes ``= v``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import ClassVar

from xpiler import ir
from xpiler.ir.analysis import strip_parens

from .base import ModulePass, PassError, map_function_bodies
from .registry import register

_ZERO = ir.Const("0", 0)


@register
@dataclass(frozen=True)
class UnitArrays(ModulePass):
    name: ClassVar[str] = "unit-arrays"
    summary: ClassVar[str] = "C targets: local arrays of one element used as x[0] become scalars"

    def apply(self, module: ir.Module) -> ir.Module:
        if module.dialect != "vnni":
            raise PassError(f"unit-arrays applies to C (vnni) programs, not {module.dialect}")
        return map_function_bodies(module, lambda f: ir.rewrite(f.body, _block))


def _one(e) -> bool:
    e = strip_parens(e) if e is not None else None
    return isinstance(e, ir.Const) and e.value == 1 and not isinstance(e.value, bool)


def _element(e, name: str) -> bool:
    e = strip_parens(e)
    return isinstance(e, ir.Index) and isinstance(strip_parens(e.base), ir.Name) and \
        strip_parens(e.base).id == name and strip_parens(e.index) == _ZERO


def _only_element_zero(stmts, name: str) -> bool:
    def ok(n) -> bool:
        if isinstance(n, (ir.Verbatim, ir.RawExpr)):
            return re.search(rf"\b{re.escape(name)}\b", n.text) is None
        if isinstance(n, ir.Declarator) and n.name == name:
            return False   # declared again inside: leave both alone
        if isinstance(n, ir.UnOp) and n.op == "&" and _element(n.operand, name):
            return False   # a pointer to it: left an array
        if _element(n, name):
            return True
        if isinstance(n, ir.Name):
            return n.id != name
        return all(ok(c) for c in ir.children(n))
    return all(ok(s) for s in stmts)


def _block(node):
    if not isinstance(node, ir.Block):
        return node
    body = list(node.body)
    for k, s in enumerate(body):
        if not isinstance(s, ir.Decl) or s.storage:
            continue
        units = set()
        for v in s.vars:
            init = v.init
            if len(v.dims) == 1 and _one(v.dims[0]) and not v.type.reference and v.ctor_args is None and \
                    (init is None or isinstance(init, ir.InitList) and len(init.items) == 1) and \
                    _only_element_zero(body[k + 1:], v.name):
                units.add(v.name)
        if not units:
            continue
        body[k] = replace(s, vars=tuple(
            replace(v, dims=(), init=v.init.items[0] if v.init is not None else None) if v.name in units else v
            for v in s.vars))
        body[k + 1:] = [ir.rewrite(t, lambda n: ir.Name(strip_parens(n.base).id)
                                   if any(_element(n, u) for u in units) else n) for t in body[k + 1:]]
    return replace(node, body=tuple(body)) if body != list(node.body) else node
