"""Add the C prelude a lowered program needs (xpiler/emitters/c_prelude.py): standard headers and
the small definitions of what it keeps from its source dialect (``half``, ``dim3``, ``__expf``...)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from xpiler import ir
from xpiler.emitters.c_prelude import with_prelude

from .base import ModulePass, PassError
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
        return with_prelude(module, vector_math=self.vector_math)


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
