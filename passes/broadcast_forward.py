"""Broadcast forwarding (``broadcast-forward``): an array filled with one value is that value.

Vector code keeps constants in registers set once before its loops (``_mm512_set1_ps(0.5f)``,
``_mm512_setzero_ps()``); detensorize makes each of them an array filled by a lane loop::

    float half[16];                                  // gone
    for (int i = 0; i < 16; ++i) half[i] = 0.5f;     // gone
    ...
    y[i] = v[i] * half[i];                    ->     y[i] = v[i] * (float)0.5f;

The array is then a shared buffer that every later loop reads, which makes those loops look like
they need it staged (a block with shared memory, or one worker) when each iteration only needs the
value. The array is forwarded when:

* it is a local array of one known length, declared once, without an initialiser;
* it is written by exactly one statement, ``for (int i = 0; i < N; ++i) T[i] = e;`` covering the
  whole array, later in the block of its declaration;
* ``e`` reads no memory, does not depend on ``i``, and every variable it reads is assigned nowhere in
  the function (so it has the same value wherever the array is read);
* every other use of the array is a read ``T[k]``, in the statements after the filling loop in that
  block.

Each read becomes ``(type)(e)``, with the array's element type, so arithmetic keeps its type.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import ClassVar

from xpiler import ir
from xpiler.ir.analysis import strip_parens
from xpiler.ir.effects import assigned_scalars, declaration_counts, touches_memory, used_names

from .base import ModulePass, map_function_bodies
from .constant_fold import int_value
from .registry import register


def _fill(stmt, name: str, length: int):
    """``e`` when ``stmt`` is ``for (int i = 0; i < length; ++i) name[i] = e;``, else None."""
    if not isinstance(stmt, ir.For) or stmt.canonical() is None:
        return None
    var, start, stop, step = stmt.canonical()
    if (int_value(start), int_value(stop), int_value(step)) != (0, length, 1):
        return None
    body = stmt.body.body if isinstance(stmt.body, ir.Block) else (stmt.body,)
    if len(body) != 1 or not isinstance(body[0], ir.ExprStmt):
        return None
    e = body[0].expr
    if not (isinstance(e, ir.Assign) and e.op == "=" and isinstance(strip_parens(e.target), ir.Index)):
        return None
    target = strip_parens(e.target)
    if strip_parens(target.base) != ir.Name(name) or strip_parens(target.index) != ir.Name(var):
        return None
    if var in used_names(e.value) or name in used_names(e.value) or touches_memory(e.value):
        return None
    return e.value


def _only_reads(stmts, name: str) -> bool:
    """Every occurrence of ``name`` in ``stmts`` is the base of an index that is read."""
    bases = 0
    for s in stmts:
        for n in ir.walk(s):
            if isinstance(n, ir.Assign) and isinstance(strip_parens(n.target), ir.Index) and \
                    strip_parens(strip_parens(n.target).base) == ir.Name(name):
                return False
            if isinstance(n, ir.UnOp) and n.op in ("++", "--", "&") and name in used_names(n.operand):
                return False
            if isinstance(n, ir.Index) and strip_parens(n.base) == ir.Name(name):
                bases += 1
    uses = sum(1 for s in stmts for n in ir.walk(s) if isinstance(n, ir.Name) and n.id == name)
    return uses == bases


def _forward_in_block(block: ir.Block, declared: Counter, assigned: set) -> ir.Block:
    stmts = list(block.body)
    k = 0
    while k < len(stmts):
        s = stmts[k]
        if isinstance(s, ir.Decl) and len(s.vars) == 1 and declared.get(s.vars[0].name) == 1:
            v = s.vars[0]
            length = int_value(v.dims[0]) if len(v.dims) == 1 and v.dims[0] is not None else None
            if length and v.init is None and v.ctor_args is None and "static" not in s.storage:
                for w in range(k + 1, len(stmts)):
                    value = _fill(stmts[w], v.name, length)
                    if value is not None:
                        break
                    if v.name in used_names(stmts[w]):
                        value = None
                        break
                else:
                    value = None
                if value is not None and not (used_names(value) & assigned) and \
                        _only_reads(stmts[w + 1:], v.name):
                    element = replace(v.type, quals=(), ptr_quals=())
                    forwarded = ir.Cast(element, ir.Paren(value))

                    def read(n, name=v.name, forwarded=forwarded):
                        if isinstance(n, ir.Index) and strip_parens(n.base) == ir.Name(name):
                            return forwarded
                        return n
                    stmts = stmts[:k] + stmts[k + 1:w] + [ir.rewrite(t, read) for t in stmts[w + 1:]]
                    continue
        k += 1
    return ir.Block(tuple(stmts)) if stmts != list(block.body) else block


def forward_broadcasts(function: ir.Function) -> ir.Block:
    declared = declaration_counts(function.body) + Counter(p.name for p in function.params)
    assigned = assigned_scalars(function.body)

    def block(n):
        return _forward_in_block(n, declared, assigned) if isinstance(n, ir.Block) else n
    return ir.rewrite(function.body, block)


@register
@dataclass(frozen=True)
class BroadcastForward(ModulePass):
    """Arrays filled with one loop-invariant value are replaced by that value where they are read."""

    name: ClassVar[str] = "broadcast-forward"
    summary: ClassVar[str] = "an array filled with one invariant value is read as that value"

    def apply(self, module: ir.Module) -> ir.Module:
        return map_function_bodies(module, forward_broadcasts)
