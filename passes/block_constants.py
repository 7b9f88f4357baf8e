"""Block constants (``block-constants``): a lowered kernel's block shape becomes the constant its callers
pass.

Loop recovery turns a SIMT kernel into ``static void K(params, dim3 gridDim, dim3 blockDim, ...)``
whose thread loops run to ``blockDim.x`` and whose values that live across a barrier are arrays of
``__nthreads = blockDim.x * blockDim.y * blockDim.z`` elements: variable-length arrays, and trip
counts no later pass can read. When every call of the (static: no other translation unit calls it)
function passes the same constant shape, ``dim3(256)`` or a local ``dim3 block(TILE, TILE)`` that is
never changed, that shape is the only one the function ever runs with::

    dim3 block(16, 16);                         static void K(float *x, dim3 gridDim, ...) {
    K(x, dim3(grid), dim3(block), 0);    =>       unsigned __nthreads = 256;
                                                  float acc[256];
                                                  for (unsigned threadIdx_y = 0; threadIdx_y < 16; ...

``blockDim.x/y/z`` become the constants, the parameter and its arguments go, and so do array extents
that read a local set once to a constant (``__nthreads``). A function called with different or
unknown shapes, whose name is used other than by calling it, or that uses ``blockDim`` as a whole
keeps its parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from xpiler import ir
from xpiler.ir.analysis import strip_parens
from xpiler.ir.effects import declaration_counts, declared_names
from xpiler.ir.types import canonical_base

from .base import ModulePass
from .bind import const_value, module_constants
from .registry import register

AXES = ("x", "y", "z")
# integer types whose values hold any block extent as written (no wrap of `char t = 300`)
_WIDE_INTEGERS = ("int", "unsigned", "unsigned int", "long", "unsigned long", "long long",
                  "unsigned long long", "size_t")


@register
@dataclass(frozen=True)
class BlockConstants(ModulePass):
    name: ClassVar[str] = "block-constants"
    summary: ClassVar[str] = "a static function's blockDim parameter becomes the constant shape every call passes"

    def apply(self, module: ir.Module) -> ir.Module:
        constants = module_constants(module)
        functions = [i for i in module.items if isinstance(i, ir.Function) and i.body is not None]
        for f in functions:
            at = next((k for k, p in enumerate(f.params) if p.name == "blockDim" and p.type.base == "dim3"
                       and not p.type.pointer), None)
            if at is None or "static" not in f.quals:
                continue
            shape = _called_shape(module, functions, f.name, at, constants)
            if shape is None or _whole_uses(f.body) or "blockDim" in declared_names(f.body):
                continue
            module = _specialise(module, f.name, at, shape, constants)
        return module


def _called_shape(module, functions, name: str, at: int, constants: dict):
    """The one ``(x, y, z)`` every call of ``name`` passes at argument ``at``, or None."""
    shapes = set()
    calls = 0
    for caller in functions:
        known = _constant_locals(caller.body, constants)
        for n in ir.walk(caller.body):
            if isinstance(n, ir.Call) and n.func == ir.Name(name):
                calls += 1
                shapes.add(_shape(n.args[at], caller, known) if at < len(n.args) else None)
    names = sum(1 for n in ir.walk(module) if isinstance(n, ir.Name) and n.id == name)
    if calls == 0 or names != calls or len(shapes) != 1:   # a name used but not called: a pointer
        return None
    return shapes.pop()


def _shape(e, caller: ir.Function, constants: dict):
    """``(x, y, z)`` of a ``dim3`` argument: ``dim3(a, b, c)`` of constants, an integer constant, or
    a local ``dim3`` initialised with constants and never changed (``constants``: macros and the
    caller's constant locals)."""
    e = strip_parens(e)
    if isinstance(e, ir.Call) and e.func == ir.Name("dim3"):
        if len(e.args) == 1:
            inner = _shape(e.args[0], caller, constants)
            if inner is not None:
                return inner
        return _constant_shape(e.args, constants)
    if isinstance(e, ir.Name):
        decl = _only_declaration(caller, e.id)
        if decl is None or decl.type.base != "dim3" or decl.type.pointer or _changed(caller.body, e.id):
            return None
        args = decl.ctor_args
        if args is None and decl.init is not None:
            init = strip_parens(decl.init)
            args = init.args if isinstance(init, ir.Call) and init.func == ir.Name("dim3") else None
        return None if args is None else _constant_shape(args, constants)
    value = const_value(e, constants)
    return None if value is None else (value, 1, 1)


def _constant_shape(args, constants: dict):
    values = [const_value(a, constants) for a in args]
    if len(values) > 3 or None in values or any(v <= 0 for v in values):
        return None
    return tuple(values) + (1,) * (3 - len(values))


def _only_declaration(function: ir.Function, name: str):
    if declaration_counts(function.body)[name] != 1 or any(p.name == name for p in function.params):
        return None
    return next(v for v in ir.walk(function.body) if isinstance(v, ir.Declarator) and v.name == name)


def _root(e):
    e = strip_parens(e)
    while isinstance(e, (ir.Member, ir.Index)):
        e = strip_parens(e.base)
    return e.id if isinstance(e, ir.Name) else None


def _changed(body, name: str) -> bool:
    """``name`` (or a member or element of it) is assigned, incremented or has its address taken."""
    for n in ir.walk(body):
        if isinstance(n, ir.Assign) and _root(n.target) == name:
            return True
        if isinstance(n, ir.UnOp) and n.op in ("++", "--", "&") and _root(n.operand) == name:
            return True
    return False


def _whole_uses(body) -> bool:
    """``blockDim`` used other than as ``blockDim.x/y/z`` read."""
    members = {id(n.base) for n in ir.walk(body) if isinstance(n, ir.Member) and n.field_name in AXES
               and strip_parens(n.base) == ir.Name("blockDim")}
    return any(isinstance(n, ir.Name) and n.id == "blockDim" and id(n) not in members for n in ir.walk(body)) \
        or _changed(body, "blockDim")


def _specialise(module: ir.Module, name: str, at: int, shape, constants: dict) -> ir.Module:
    values = dict(zip(AXES, shape))

    def member(n):
        if isinstance(n, ir.Member) and n.field_name in AXES and strip_parens(n.base) == ir.Name("blockDim"):
            v = values[n.field_name]
            return ir.Const(str(v), v)
        return n

    def call(n):
        if isinstance(n, ir.Call) and n.func == ir.Name(name):
            return replace(n, args=n.args[:at] + n.args[at + 1:])
        return n

    def item(i):
        if isinstance(i, ir.Function) and i.name == name and i.body is not None:
            body = ir.rewrite(i.body, member)
            body = _constant_extents(body, constants)
            i = replace(i, params=i.params[:at] + i.params[at + 1:], body=body)
        return ir.rewrite(i, call) if isinstance(i, ir.Function) and i.body is not None else i
    return replace(module, items=tuple(item(i) for i in module.items))


def _constant_locals(body, constants: dict) -> dict:
    """``constants`` and the scalars ``body`` declares once, with a constant initial value, and never
    changes (in declaration order, so one may be computed from another)."""
    known = dict(constants)
    counts = declaration_counts(body)
    inits = [(v.name, v.init) for v in ir.walk(body) if isinstance(v, ir.Declarator) and not v.dims
             and not v.type.pointer and v.init is not None and canonical_base(v.type.base) in _WIDE_INTEGERS]
    for name, init in inits:
        value = const_value(init, known)
        if counts[name] == 1 and value is not None and not _changed(body, name):
            known[name] = value
    return known


def _constant_extents(body, constants: dict):
    """Array extents that read locals set once to a constant (``__nthreads``) become the value."""
    known = _constant_locals(body, constants)

    def extent(d):
        if d is None or const_value(d, constants) is not None:
            return d   # as written: a literal or the program's macro
        value = const_value(d, known)
        return d if value is None else ir.Const(str(value), value)

    def fn(n):
        if isinstance(n, ir.Declarator) and n.dims:
            return replace(n, dims=tuple(extent(d) for d in n.dims))
        return n
    return ir.rewrite(body, fn)
