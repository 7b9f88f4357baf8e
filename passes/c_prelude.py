"""Add the C prelude a lowered program needs (xpiler/emitters/c_prelude.py): standard headers and
the small definitions of what it keeps from its source dialect (``half``, ``dim3``, ``__expf``...)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from xpiler import ir
from xpiler.emitters.c_prelude import with_prelude
from xpiler.ir.types import canonical

from .base import ModulePass, PassError
from .cleanup import ScopedRewriter
from .registry import register


@register
@dataclass(frozen=True)
class CPrelude(ModulePass):
    """``vector_math``: the math functions the program calls that glibc's libmvec vectorises
    (``expf``, ``tanhf``, ``exp``, ...) are declared ``simd``, so that calls in SIMD loops use the
    vector variants (within 4 ulp; ``vector_math=false`` keeps libm's scalar results bit for bit)."""

    name: ClassVar[str] = "c-prelude"
    summary: ClassVar[str] = "add the headers and definitions a sequential C program needs"
    vector_math: bool = True

    def apply(self, module: ir.Module) -> ir.Module:
        if module.dialect != "vnni":
            raise PassError(f"c-prelude applies to C (vnni) programs, not {module.dialect}")
        if self.vector_math:
            module = _CheaperExactMath().module(module)
        return with_prelude(module, vector_math=self.vector_math)


class _CheaperExactMath(ScopedRewriter):
    """Two spellings gcc 12 turns into calls, as the same values without them:

    * ``ldexp(x, c)`` with a constant ``c`` is ``x * 2^c`` (a literal): one correctly rounded product, as
      ldexp is, whenever ``2^c`` is a normal number of ``x``'s type (double: -1022..1023; float, for
      ``ldexpf`` and C++'s float ``ldexp``: -126..127). libm's ldexp is a call gcc neither inlines nor
      vectorises (BANG's fixed-point scalings of ``__bang_mlp`` results: 2048 calls in gemm_mlp_int8
      took half its time);
    * ``(double)h`` of a ``_Float16`` value is ``(double)__xp_half_to_float(h)``: the same value (both
      conversions are exact), but gcc 12 converts a ``_Float16`` to double by a libgcc call
      (``__extendhfdf2``), and folds ``(double)(float)h`` back into it; the prelude's helper is one
      ``vcvtph2ps``. BANG's fp16 ``__bang_matmul`` reads its operands as ``(double)a[i]``: two calls
      per product, 60% of gemm_matmul_half's time in a profile."""

    def visit_expr(self, e, env, truth):
        if isinstance(e, ir.Cast) and canonical(e.type) == ir.Type("double"):
            t = env.type_of(e.operand)
            if t is not None and not t.pointer and canonical(t).base in ("_Float16", "half", "__half"):
                return replace(e, operand=ir.Call(ir.Name("__xp_half_to_float"), (e.operand,)))
            return e
        if not (isinstance(e, ir.Call) and isinstance(e.func, ir.Name) and e.func.id in ("ldexp", "ldexpf")
                and len(e.args) == 2):
            return e
        from .constant_fold import const_value
        c, t = const_value(e.args[1], env), env.type_of(e.args[0])
        if c is None or not isinstance(c[0], int) or t is None or t.pointer:
            return e
        kind = canonical(t).base
        if kind not in ("float", "double") or (e.func.id == "ldexpf" and kind != "float"):
            return e
        low, high = (-126, 127) if kind == "float" else (-1022, 1023)
        if not low <= c[0] <= high:
            return e
        x = e.args[0] if isinstance(e.args[0], (ir.Name, ir.Const, ir.Paren, ir.Call, ir.Index)) else ir.Paren(e.args[0])
        power = ir.Const(f"0x1p{c[0]}" + ("f" if kind == "float" else ""), 2.0 ** c[0])
        return ir.Paren(ir.BinOp("*", x, power))


@register
@dataclass(frozen=True)
class TargetPrelude(ModulePass):
    """The headers and definitions a raised CUDA, HIP or BANG program needs."""

    name: ClassVar[str] = "target-prelude"
    summary: ClassVar[str] = "add the runtime headers and device-callable definitions a raised program needs"

    def apply(self, module: ir.Module) -> ir.Module:
        if module.dialect not in ("cuda", "hip", "bang"):
            raise PassError(f"target-prelude applies to cuda, hip or bang programs, not {module.dialect}")
        from xpiler.emitters.c_prelude import with_target_prelude
        return with_target_prelude(module, module.dialect)
