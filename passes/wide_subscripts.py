"""Wide subscripts (``wide-subscripts``): a signed ``int`` subscript sum is computed in 64 bits.

``A[row * K + ka]`` becomes ``A[(long long)(row * K) + ka]``: the first term of the sum is widened,
so the whole sum is evaluated in ``long long``. An ``int`` variable used only as a subscript (a
thread's slot, ``int __tid = (ty * (int)blockDim.x) + tx``) is declared ``long long`` the same way.

Why: gcc (12) does not recognise ``(long)(r * K + (t * 16 + tx))`` as an affine function of ``tx``:
it cannot rule out that the ``int`` sum wraps, so a load under a condition in such a loop (``ka < K ?
A[row * K + ka] : 0``, a tile loaded with its tail zeroed, a convolution's padding) is "data ref
analysis failed" and the loop stays scalar. Summed in 64 bits from the start, every term is affine.

Exact: the rewrite applies only where every term is a signed ``int`` expression (``int`` literals,
names declared ``int`` in scope, arithmetic on them, casts to ``int``). A signed sum that does not
overflow has the same value in 64 bits; one that does overflow is undefined behaviour in the source
already. Unsigned arithmetic (which wraps by definition) is left alone, and so is a variable with any
use other than a subscript (compared with an ``unsigned``, a 64-bit value would compare differently).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import ClassVar

from xpiler import ir
from xpiler.ir.analysis import only_subscripts, strip_parens
from xpiler.ir.effects import assigned_scalars, used_names
from xpiler.ir.types import ScalarsInScope, TypeEnv

from .base import ModulePass, PassError
from .cleanup import ScopedRewriter, address_taken
from .registry import register
from .simd_nest import is_signed_int

WIDE = ir.Type("long long")


def widened(index: ir.Expr, types: dict) -> ir.Expr | None:
    """``index`` with the first term of its sum cast to ``long long``, or None when ``index`` is not
    a signed ``int`` sum of two or more terms."""
    e = strip_parens(index)
    if not (isinstance(e, ir.BinOp) and e.op in "+-" and is_signed_int(e, types)):
        return None

    def widen_first(x):
        x_ = strip_parens(x)
        if isinstance(x_, ir.BinOp) and x_.op in "+-":
            return ir.BinOp(x_.op, widen_first(x_.left), x_.right)
        return ir.Cast(WIDE, x)

    return widen_first(e)


@register
@dataclass(frozen=True)
class WideSubscripts(ModulePass):
    name: ClassVar[str] = "wide-subscripts"
    summary: ClassVar[str] = "C targets: signed int subscript sums in 64 bits (affine for gcc's vectoriser)"

    def apply(self, module: ir.Module) -> ir.Module:
        if module.dialect != "vnni":
            raise PassError(f"wide-subscripts applies to C (vnni) programs, not {module.dialect}")
        return _Widener().module(module)


class _Widener(ScopedRewriter):
    def enter_function(self, f: ir.Function) -> None:
        body = f.body
        texts = " ".join(n.text for n in ir.walk(body) if isinstance(n, (ir.Verbatim, ir.RawExpr)))
        self.hidden = {name for name in used_names(body) if re.search(rf"\b{re.escape(name)}\b", texts)} \
            | assigned_scalars(body) | address_taken(body)
        self.index_only: list[set] = [set()]

    def stmts(self, body, env: TypeEnv) -> list:
        # an int variable that is only ever a subscript in its scope (a thread's slot ``__tid``) can
        # hold its value in 64 bits: no use can tell the difference
        body = list(body)
        self.index_only.append({v.name for k, s in enumerate(body) if isinstance(s, ir.Decl) for v in s.vars
                                if v.name not in self.hidden and only_subscripts(body[k + 1:], v.name)})
        try:
            return super().stmts(body, env)
        finally:
            self.index_only.pop()

    def visit_expr(self, e, env: TypeEnv, truth: bool):
        if isinstance(e, ir.Index):
            wide = widened(e.index, ScalarsInScope(env))
            if wide is not None:
                return ir.Index(e.base, wide)
        return e

    def visit_stmt(self, s, env: TypeEnv) -> list:
        if isinstance(s, ir.Decl):
            scalars = ScalarsInScope(env)
            wide = []
            for v in s.vars:
                if v.type.base == "int" and not v.type.pointer and not v.dims and v.name in self.index_only[-1] \
                        and v.init is not None and is_signed_int(v.init, scalars):
                    v = replace(v, type=replace(v.type, base=WIDE.base),
                                init=widened(v.init, scalars) or ir.Cast(WIDE, v.init))
                    env.declare(v.name, v.type)
                wide.append(v)
            s = replace(s, vars=tuple(wide))
        return [s]
