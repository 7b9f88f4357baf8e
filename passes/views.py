"""Views into arrays read as the arrays: ``float *s = s_blk + i * L; ... s[k] ...`` is ``s_blk[i * L +
k]`` (used by ``task-units``, whose per-unit checks follow an array only through its subscripts).

A view is a local pointer declared ``T *p = A + e`` (or ``= A``), ``A`` an array of ``T``, never
assigned, used only as ``p[k]``; the names of ``e`` keep their values for as long as ``p`` is in
scope. Then ``p[k]`` is ``A[e + k]`` by the definition of subscripting, and the declaration goes.
"""

from __future__ import annotations

from dataclasses import replace

from xpiler import ir
from xpiler.ir.analysis import strip_parens
from xpiler.ir.effects import assigned_scalars
from xpiler.ir.types import canonical

from .forward_copies import _Function


def views_as_subscripts(node, fn: _Function):
    """``node`` with every view declared in its blocks read through its array."""
    def block(b: ir.Block) -> ir.Block:
        stmts = list(b.body)
        k = 0
        while k < len(stmts):
            view = _view(stmts[k], stmts[k + 1:], fn)
            if view is None:
                k += 1
                continue
            name, array, offset = view

            def through(n):
                if isinstance(n, ir.Index) and strip_parens(n.base) == ir.Name(name):
                    index = n.index if offset is None else ir.BinOp("+", _operand(offset, "+-*/%"), _operand(n.index, "*/%"))
                    return replace(n, base=array, index=index)
                return n
            stmts = stmts[:k] + [ir.rewrite(s, through) for s in stmts[k + 1:]]
        return replace(b, body=tuple(stmts))
    return ir.rewrite(node, lambda n: block(n) if isinstance(n, ir.Block) else n)


def _view(s, rest: list, fn: _Function) -> tuple[str, ir.Name, ir.Expr | None] | None:
    """``(p, A, e)`` of a view ``T *p = A + e`` declared by ``s`` and used so in ``rest``."""
    if not isinstance(s, ir.Decl) or len(s.vars) != 1:
        return None
    d = s.vars[0]
    if d.dims or d.type.pointer != 1 or d.init is None or d.ctor_args is not None:
        return None
    init = strip_parens(d.init)
    array, offset = (init.left, init.right) if isinstance(init, ir.BinOp) and init.op == "+" else (init, None)
    array = strip_parens(array)
    if not isinstance(array, ir.Name) or fn.declared[array.id] != 1:
        return None
    element = fn.element_type(array.id)
    pointee = replace(d.type, pointer=0, quals=(), ptr_quals=())
    if element is None or canonical(element) != canonical(pointee) or \
            (array.id not in fn.params and not fn.locals[array.id].dims):
        return None
    scope = ir.Block(tuple(rest))
    changed = assigned_scalars(scope)
    if d.name in changed or array.id in changed or (offset is not None and _names(offset) & changed):
        return None
    if offset is not None and any(isinstance(n, (ir.Index, ir.Call, ir.Assign)) or
                                  isinstance(n, ir.UnOp) and n.op in ("*", "++", "--") for n in ir.walk(offset)):
        return None   # the offset must be a value: no loads, calls or effects
    uses = [n for n in ir.walk(scope) if isinstance(n, ir.Name) and n.id == d.name]
    subscripted = {id(strip_parens(n.base)) for n in ir.walk(scope) if isinstance(n, ir.Index)}
    if any(id(n) not in subscripted for n in uses) or \
            any(isinstance(n, ir.Declarator) and n.name in _names(offset) | {d.name, array.id} for n in ir.walk(scope)):
        return None   # another use of the pointer, or a name of it declared again
    return d.name, array, offset


def _operand(e, binds_tighter: str):
    """``e`` as an operand of ``+`` (parenthesised unless an atom or an operator in ``binds_tighter``)."""
    e = strip_parens(e)
    if isinstance(e, (ir.Name, ir.Const, ir.Index, ir.Call)) or isinstance(e, ir.BinOp) and e.op in binds_tighter:
        return e
    return ir.Paren(e)


def _names(e) -> set[str]:
    return set() if e is None else {n.id for n in ir.walk(e) if isinstance(n, ir.Name)}
