"""Wide subscripts (``wide-subscripts``): a signed ``int`` subscript sum is computed in 64 bits.

``A[row * K + ka]`` becomes ``A[(long long)(row * K) + ka]``: the first term of the sum is widened,
so the whole sum is evaluated in ``long long``.

Why: gcc (12) does not recognise ``(long)(r * K + (t * 16 + tx))`` as an affine function of ``tx``:
it cannot rule out that the ``int`` sum wraps, so a load under a condition in such a loop (``ka < K ?
A[row * K + ka] : 0``, a tile loaded with its tail zeroed, a convolution's padding) is "data ref
analysis failed" and the loop stays scalar. Summed in 64 bits from the start, every term is affine.

Exact: the rewrite applies only where every term is a signed ``int`` expression (``int`` literals,
names declared ``int`` once in the function, arithmetic on them, casts to ``int``). A signed sum that
does not overflow has the same value in 64 bits; one that does overflow is undefined behaviour in the
source already. Unsigned arithmetic (which wraps by definition) is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from xpiler import ir
from xpiler.ir.analysis import strip_parens

from .base import ModulePass, PassError, map_function_bodies
from .registry import register
from .simd_nest import is_signed_int, scalar_types

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

        def body(function: ir.Function):
            types = scalar_types(function)

            def visit(n):
                if isinstance(n, ir.Index):
                    wide = widened(n.index, types)
                    if wide is not None:
                        return ir.Index(n.base, wide)
                return n
            return ir.rewrite(function.body, visit)
        return map_function_bodies(module, body)
