"""What statements read, write and declare: the facts the raising passes split and bind programs by.

Names, not locations: a statement *writes* a scalar when it assigns the name, and *touches memory*
when it indexes, dereferences or passes a pointer to a call with effects. Calls of intrinsics whose
kind is pure (math, conversions) have no effects; unknown calls are assumed to have them.
"""

from __future__ import annotations

from collections import Counter

from .analysis import strip_parens
from .nodes import (Assign, Block, Call, Decl, Declarator, ExprStmt, For, Index, Member, Name, UnOp, walk)

# C library functions without side effects on memory.
PURE_FUNCTIONS = frozenset("""
    expf exp exp2f exp2 logf log log2f log2 log10f log10 sqrtf sqrt rsqrtf powf pow fabsf fabs abs labs
    fmaxf fmax fminf fmin max min tanhf tanh tanf tan sinf sin cosf cos erff erf erfcf floorf floor ceilf ceil
    roundf round truncf trunc rintf rint nearbyintf nearbyint ldexpf ldexp frexpf fmaf fma fmodf fmod
    isnan isinf isfinite signbit copysignf copysign __expf __logf __powf __fdividef __frcp_rn __fsqrt_rn
    __xpiler_union_job dim3 sizeof __float2half __half2float __float2half_rn __int2half_rn __hadd __hsub __hmul
    __hdiv __xp_from_double __xp_to_fix __xp_float2half __xp_lane16 __hmax __hmin __hgt __hlt __hge __hle __heq
""".split())


def call_name(call: Call) -> str | None:
    f = strip_parens(call.func)
    return f.id if isinstance(f, Name) else None


def is_pure_call(call: Call) -> bool:
    name = call_name(call)
    if name is not None and name.removeprefix("std::") in PURE_FUNCTIONS:  # std::sqrt is sqrt
        return True
    if call.intrinsic is not None:
        from ..intrinsics import REGISTRY
        intrinsic = REGISTRY[call.intrinsic]
        return intrinsic.kind in ("math", "convert") and not intrinsic.writes
    return False


def declared_names(node) -> set[str]:
    """Names declared anywhere under ``node`` (declarations and loop variables)."""
    return {n.name for n in walk(node) if isinstance(n, Declarator)}


def declaration_counts(node) -> Counter:
    """How many times each name is declared under ``node`` (a name declared once has one meaning)."""
    return Counter(n.name for n in walk(node) if isinstance(n, Declarator))


def used_names(node) -> set[str]:
    """Names read or written anywhere under ``node``."""
    return {n.id for n in walk(node) if isinstance(n, Name)}


def free_names(node) -> set[str]:
    """Names used under ``node`` that it does not declare (variables, functions, macros)."""
    return used_names(node) - declared_names(node)


def _address_of_name(e) -> bool:
    e = strip_parens(e)
    return isinstance(e, UnOp) and e.op == "&" and isinstance(strip_parens(e.operand), Name)


def _assigned_root(target) -> str | None:
    target = strip_parens(target)
    if isinstance(target, UnOp) and target.op == "*" and _address_of_name(target.operand):
        return strip_parens(strip_parens(target.operand).operand).id  # *(&x) is x
    return target.id if isinstance(target, Name) else None


def header_names(loop: For) -> set[str]:
    """Names a ``for`` loop's header (initialisation, condition, step) uses."""
    return used_names(Block(tuple(ExprStmt(e) for e in (loop.cond, loop.step) if e is not None) +
                            ((loop.init,) if loop.init is not None else ())))


def assigned_scalars(node) -> set[str]:
    """Names assigned as a whole (``x = ...``, ``x += ...``, ``x++``) under ``node``."""
    out = set()
    for n in walk(node):
        if isinstance(n, Assign):
            root = _assigned_root(n.target)
            if root:
                out.add(root)
        elif isinstance(n, UnOp) and n.op in ("++", "--"):
            root = _assigned_root(n.operand)
            if root:
                out.add(root)
    return out


def touches_memory(node) -> bool:
    """True when ``node`` reads or writes memory through an index or a pointer, or calls something
    with effects."""
    for n in walk(node):
        if isinstance(n, Index):
            return True
        if isinstance(n, UnOp) and n.op == "*" and not _address_of_name(n.operand):
            return True
        if isinstance(n, Member) and n.arrow:
            return True
        if isinstance(n, Call) and not is_pure_call(n):
            return True
    return False


def writes_memory(node) -> bool:
    """True when ``node`` stores through an index or pointer, or calls something with effects."""
    for n in walk(node):
        if isinstance(n, Assign) and _assigned_root(n.target) is None:
            return True
        if isinstance(n, UnOp) and n.op in ("++", "--") and _assigned_root(n.operand) is None:
            return True
        if isinstance(n, Call) and not is_pure_call(n):
            return True
    return False


def is_array_decl(decl: Decl) -> bool:
    return any(v.dims for v in decl.vars)
