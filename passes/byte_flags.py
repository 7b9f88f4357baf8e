"""Byte flags (``byte-flags``): local ``bool`` arrays of C targets are held as ``unsigned char``.

Recovered kernels keep a flag per thread: whether it is still running (``bool __alive[n]``), a
branch's condition kept across a barrier (``bool __pred7[n]``), a thread's local ``bool`` expanded
to one per thread. Every phase then reads them as the mask of its statements::

    bool __pred7[__nthreads];                 unsigned char __pred7[__nthreads];
    ...                                 =>    ...
    #pragma omp simd                          #pragma omp simd
    for (int x = 0; x < n; ++x)               for (int x = 0; x < n; ++x)
      if (__pred7[x]) v[x] += w[x];             if (__pred7[x]) v[x] += w[x];

Why: gcc (12) does not vectorise a loop whose masked loads or stores take their mask from a ``bool``
array ("no vectype for stmt: .MASK_LOAD"); from an ``unsigned char`` array it does (AVX-512 masked
loads and stores). A phase of predicated statements otherwise runs one thread at a time.

Exact: a ``bool`` holds 0 or 1, and so does the byte as long as every store into it is a truth value,
so every store that is not already one (a comparison, ``!``, ``&&``, ``||``, ``true`` / ``false``, a
cast to ``bool``, another such flag) is cast to ``bool`` first. The rewrite applies to an array only
where every use is an element, read or assigned with ``=``: not one whose address is taken, that is
passed whole or as an element to a call (an overload may tell ``bool`` from ``unsigned char``),
updated in place (``|=``, ``++``), or named in code the IR keeps as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import ClassVar

from xpiler import ir
from xpiler.ir.analysis import strip_parens

from .base import ModulePass, PassError, map_function_bodies
from .registry import register

BYTE = "unsigned char"
_TRUTH_OPS = ("<", "<=", ">", ">=", "==", "!=", "&&", "||")


@register
@dataclass(frozen=True)
class ByteFlags(ModulePass):
    name: ClassVar[str] = "byte-flags"
    summary: ClassVar[str] = "C targets: local bool arrays as unsigned char (gcc vectorises masks loaded from bytes)"

    def apply(self, module: ir.Module) -> ir.Module:
        if module.dialect != "vnni":
            raise PassError(f"byte-flags applies to C (vnni) programs, not {module.dialect}")
        return map_function_bodies(module, lambda f: ir.rewrite(f.body, _block))


def _block(node):
    if not isinstance(node, ir.Block):
        return node
    body = list(node.body)
    for k, s in enumerate(body):
        if not isinstance(s, ir.Decl):
            continue
        flags = {v.name: len(v.dims) for v in s.vars if _is_bool_array(v)}
        flags = {name: depth for name, depth in flags.items() if _only_elements(body[k + 1:], name, depth)}
        if not flags:
            continue
        body[k] = replace(s, vars=tuple(replace(v, type=replace(v.type, base=BYTE)) if v.name in flags else v
                                        for v in s.vars))
        body[k + 1:] = [ir.rewrite(t, lambda n: _truth_stores(n, flags)) for t in body[k + 1:]]
    return replace(node, body=tuple(body)) if body != list(node.body) else node


def _is_bool_array(v: ir.Declarator) -> bool:
    t = v.type
    return t.base == "bool" and not t.pointer and not t.reference and bool(v.dims) and v.init is None \
        and v.ctor_args is None


def _element_of(e, name: str) -> int | None:
    """How many subscripts ``e`` applies to the array ``name`` (``x[i][j]``: 2), or None."""
    depth, e = 0, strip_parens(e)
    while isinstance(e, ir.Index):
        depth, e = depth + 1, strip_parens(e.base)
    return depth if isinstance(e, ir.Name) and e.id == name else None


def _only_elements(stmts, name: str, depth: int) -> bool:
    """Whether every use of the array ``name`` in ``stmts`` is a whole element (``depth`` subscripts),
    read, or assigned with ``=``, and none is a call's argument, an operand of ``&`` / ``++`` / ``--``,
    a compound assignment's target, or in text the IR does not parse."""

    def ok(n) -> bool:
        if isinstance(n, (ir.Verbatim, ir.RawExpr)):
            return re.search(rf"\b{re.escape(name)}\b", n.text) is None
        if isinstance(n, ir.Decl) and any(v.name == name for v in n.vars):
            return False                                    # shadowed: leave both alone
        if isinstance(n, ir.Index) and _element_of(n, name) is not None:
            if _element_of(n, name) != depth:
                return False
            e = n
            while isinstance(e, ir.Index):
                if not ok(e.index):
                    return False
                e = strip_parens(e.base)
            return True
        if isinstance(n, ir.Name):
            return n.id != name
        if isinstance(n, ir.Assign) and n.op != "=" and _element_of(n.target, name) is not None:
            return False
        if isinstance(n, ir.UnOp) and n.op in ("&", "++", "--") and _element_of(n.operand, name) is not None:
            return False
        if isinstance(n, ir.Call) and any(_element_of(a, name) is not None for a in n.args):
            return False
        if isinstance(n, ir.SizeOf) and n.operand is not None and _element_of(n.operand, name) is not None:
            return False
        return all(ok(c) for c in ir.children(n))

    return all(ok(s) for s in stmts)


def _truth_stores(n, flags: dict):
    if isinstance(n, ir.Assign) and n.op == "=" and _element_of(n.target, _root(n.target)) is not None \
            and _root(n.target) in flags and not _is_truth(n.value, flags):
        return replace(n, value=ir.Cast(ir.Type("bool"), ir.Paren(n.value)))
    return n


def _root(e) -> str | None:
    e = strip_parens(e)
    while isinstance(e, ir.Index):
        e = strip_parens(e.base)
    return e.id if isinstance(e, ir.Name) else None


def _is_truth(e, flags: dict) -> bool:
    """Whether ``e`` is always 0 or 1: a comparison, a logical operator, ``true`` / ``false``, a cast
    to ``bool``, or an element of another flag."""
    e = strip_parens(e)
    if isinstance(e, ir.BinOp):
        return e.op in _TRUTH_OPS
    if isinstance(e, ir.UnOp):
        return e.op == "!"
    if isinstance(e, ir.Const):
        return e.text in ("true", "false", "0", "1")
    if isinstance(e, ir.Cast):
        return e.type.base == "bool" and not e.type.pointer
    if isinstance(e, ir.Index):
        return _root(e) in flags and _element_of(e, _root(e)) == flags[_root(e)]
    return False
