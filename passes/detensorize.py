"""Detensorize: every intrinsic call becomes the scalar loop nest it computes.

Input is sequential C that still calls intrinsics (what loop recovery leaves: ``__bang_add(a, a, b,
n)``, ``__memcpy(dst, src, bytes, GDRAM2NRAM)``, ``__bang_mlp``, WMMA fragments, atomics, half
conversions, ``_mm512_*`` on ``__m512`` values); output is plain scalar C.

How a call is replaced (the registry's TVM-``TensorIntrin``-style scalar descriptions,
:mod:`xpiler.intrinsics`):

1. The scalar C text of the intrinsic is parsed with our frontend (cached) over its parameters.
2. Element types ``T``, ``D``, ``S``, ``F`` are inferred from the argument types
   (:mod:`xpiler.ir.types`: declarations, parameters, casts, pointer arithmetic, indexing) and
   substituted.
3. Parameters are bound to the arguments. An argument is substituted directly when that is exact:
   a constant of the parameter's type, or a variable / pointer expression (``(float *)buf + 128``)
   whose value the loop nest cannot change and that reads no memory. Otherwise it is evaluated once
   into a block-scoped temporary of the parameter's type (``const float *a = ...;``), which keeps
   C's conversion at the call. Names are renamed where they would collide.
4. The block replaces the statement. A call used as a value (``__bang_sum``, ``_mm512_reduce_add_ps``,
   ``atomicAdd``) is hoisted: the block runs before the statement and leaves the value in a
   temporary (single-expression descriptions, e.g. ``__half2float``, are inlined as expressions).
   Calls in conditionally evaluated operands (``&&``, ``||``, ``?:``) are refused rather than hoisted.
5. Exactness details: byte-based copies (``__memcpy`` sizes and strides are bytes) become element
   loops when every size divides by the element size, ``char`` loops otherwise; operands that share a
   buffer with the destination (``__bang_transpose(a, a, ...)``, ``__bang_add(buf + 1, buf, ...)``) are
   computed into a staging array first, as the emulation does; BANG reductions, activations and
   tensor intrinsics accumulate in double and round once; fused multiply-adds use ``fmaf``; AVX-512
   reductions follow GCC's order.

Values of the other models become arrays: an ``__m512`` is ``float[16]``, an ``__m512i``
``int32_t[16]`` (byte views for byte-wise intrinsics), an ``__mmask16`` a ``uint16_t``; a WMMA
fragment is one array holding its whole ``rows x cols`` tile in row-major order (``frag.x[i]`` is
``frag[i]``, ``frag.num_elements`` is ``rows * cols``: after loop recovery one sequential program
holds the warp's whole tile). Functions taking or returning vectors get pointer parameters (a result
parameter first, ``void`` result).

Calls of math functions (``expf``, ``__expf``) stay: they are plain C (with the prelude). A call of an
intrinsic without a scalar description (or of an unknown ``__bang_*``/``_mm*``/``wmma::`` function)
raises :class:`~xpiler.errors.UnsupportedError` naming it; nothing is left silently.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from typing import ClassVar

from xpiler import ir
from xpiler.errors import UnsupportedError
from xpiler.intrinsics import REGISTRY
from xpiler.intrinsics.registry import Intrinsic, Spelling
from xpiler.ir.analysis import strip_parens
from xpiler.ir.types import (MASK_TYPES, TypeEnv, canonical, canonical_base, fragment_info, integer_range,
                             is_floating, is_integer, is_pointer, literal_type, promote, same_type, sizeof,
                             unqualified, vector_info, x86_result_type)

from .base import ModulePass
from .cleanup import address_taken, assigned_names, cleanup_block, is_pure, names_in
from .constant_fold import const_value, literal
from .registry import register

TYPEVARS = ("T", "D", "S", "F")

_CMP_NAMES = ["EQ_OQ", "LT_OS", "LE_OS", "UNORD_Q", "NEQ_UQ", "NLT_US", "NLE_US", "ORD_Q", "EQ_UQ", "NGE_US",
              "NGT_US", "FALSE_OQ", "NEQ_OQ", "GE_OS", "GT_OS", "TRUE_UQ", "EQ_OS", "LT_OQ", "LE_OQ", "UNORD_S",
              "NEQ_US", "NLT_UQ", "NLE_UQ", "ORD_S", "EQ_US", "NGE_UQ", "NGT_UQ", "FALSE_OS", "NEQ_OS", "GE_OQ",
              "GT_OQ", "TRUE_US"]
#: x86 immediate-operand macros (immintrin.h) and their values.
X86_CONSTANTS = {"_MM_FROUND_TO_NEAREST_INT": 0, "_MM_FROUND_TO_NEG_INF": 1, "_MM_FROUND_TO_POS_INF": 2,
                 "_MM_FROUND_TO_ZERO": 3, "_MM_FROUND_CUR_DIRECTION": 4, "_MM_FROUND_RAISE_EXC": 0,
                 "_MM_FROUND_NO_EXC": 8, "_MM_FROUND_NINT": 0, "_MM_FROUND_FLOOR": 1, "_MM_FROUND_CEIL": 2,
                 "_MM_FROUND_TRUNC": 3, "_MM_FROUND_RINT": 4, "_MM_FROUND_NEARBYINT": 12,
                 **{f"_CMP_{n}": i for i, n in enumerate(_CMP_NAMES)}}
#: WMMA memory layouts as integers (``layout == mem_row_major`` in the descriptions).
LAYOUTS = {f"{prefix}{name}": value for prefix in ("", "wmma::", "nvcuda::wmma::")
           for name, value in (("mem_row_major", 0), ("mem_col_major", 1))}

_INTRINSIC_LIKE = re.compile(r"^(__bang_\w+|__memcpy\w*|_mm(256|512)?_\w+|(nvcuda::)?wmma::\w+|__builtin_amdgcn_\w+)$")

# Output extents of intrinsics that write a destination buffer, for staging when a source shares the
# destination's buffer (exprs over the description's parameter names); INPLACE: exact when the source is
# the destination itself.
_POOL_EXTENT = ("((height - kernel_height) / (stride_height > 0 ? stride_height : kernel_height) + 1)"
                " * ((width - kernel_width) / (stride_width > 0 ? stride_width : kernel_width) + 1) * channels")
STAGE_EXTENT = {"bang.transpose": "h * w", "bang.mlp": "height", "bang.matmul": "m * n",
                "bang.conv": "((h - kh) / sh + 1) * ((w - kw) / sw + 1) * co", "bang.reshape_filter": "n * h * w * c",
                "bang.reduce_sum": "n", "bang.argmax": "(2 * sizeof(T) + 3) / sizeof(T)",
                "bang.argmin": "(2 * sizeof(T) + 3) / sizeof(T)",
                "bang.memcpy": "size", "bang.memcpy_async": "size",
                **{f"bang.{p}": _POOL_EXTENT for p in ("sumpool", "avgpool", "maxpool", "minpool")}}
INPLACE = {"bang.reshape_filter", "bang.reduce_sum", "bang.argmax", "bang.argmin", "bang.memcpy", "bang.memcpy_async"}
for _i in REGISTRY:
    if _i.name.startswith("bang.") and _i.kind in ("vector", "convert") and _i.params[:1] == ("dst",) \
            and "n" in _i.params and _i.name not in STAGE_EXTENT:
        STAGE_EXTENT[_i.name] = "n"
        if _i.kind == "vector":
            INPLACE.add(_i.name)

#: Element type of intrinsics given an untyped (void *) buffer, as the emulation defines them.
UNTYPED_DEFAULT = {"bang.write_value": "float"}

#: x86 intrinsics whose result lanes read other lanes of their inputs (the destination must not alias).
CROSS_LANE = {"avx512.shuffle_epi8", "avx512.permutexvar_ps", "avx512.permutexvar_epi32", "avx512.broadcast_i32x4"}

# Typed forms of the byte-based copies (used when every size and stride divides by the element size).
_TYPED_MEMCPY = {
    1: ("T *dst, const T *src, int size", "for (int i = 0; i < size; ++i) dst[i] = src[i];"),
    2: ("T *dst, const T *src, int size, int dst_stride, int src_stride, int segnum",
        "for (int s = 0; s < segnum + 1; ++s) for (int i = 0; i < size; ++i)"
        " dst[s * dst_stride + i] = src[s * src_stride + i];"),
    3: ("T *dst, const T *src, int size, int dst_stride0, int dst_segnum1, int dst_stride1, int dst_segnum2,"
        " int src_stride0, int src_segnum1, int src_stride1, int src_segnum2",
        "for (int k = 0; k < src_segnum2 + 1; ++k) for (int j = 0; j < src_segnum1 + 1; ++j) {"
        " int n = k * (src_segnum1 + 1) + j; int dj = n % (dst_segnum1 + 1), dk = n / (dst_segnum1 + 1);"
        " for (int i = 0; i < size; ++i) dst[dk * dst_stride1 + dj * dst_stride0 + i] ="
        " src[k * src_stride1 + j * src_stride0 + i]; }"),
}
_BYTE_PARAMS = {"size", "dst_stride", "src_stride", "dst_stride0", "dst_stride1", "src_stride0", "src_stride1"}


# --------------------------------------------------------------------------------------------------
# Templates: parsed scalar descriptions


@dataclass(frozen=True)
class Template:
    params: tuple            # ir.Param, in declaration order
    body: tuple              # statements
    locals: frozenset        # names declared in the body
    assigned: frozenset      # names assigned as a whole in the body
    returns: bool            # the body ends with `return E;`


@functools.lru_cache(maxsize=None)
def template(signature: str, scalar: str) -> Template:
    from xpiler.frontend.lift import lift
    result = lift(f"void __xp_scalar({signature}) {{\n{scalar}\n}}", "vnni", "<scalar description>")
    if result.verbatim:
        raise UnsupportedError(f"scalar description not understood: {scalar!r} ({result.verbatim[0]})")
    fn = result.module.items[0]
    body = tuple(fn.body.body)
    local = frozenset(d.name for n in ir.walk(fn.body) if isinstance(n, ir.Decl) for d in n.vars)
    returns = bool(body) and isinstance(body[-1], ir.Return) and body[-1].value is not None
    return Template(tuple(fn.params), body, local, frozenset(assigned_names(fn.body)), returns)


def _parse_expr(text: str) -> ir.Expr:
    from xpiler.frontend.lift import lift
    fn = lift(f"void __xp_e() {{ ({text}); }}", "vnni").module.items[0]
    return strip_parens(fn.body.body[0].expr)


def _subst_types(node, types: dict[str, str]):
    """Replace element-type variables in types, casts, sizeof and template arguments."""
    def one(n):
        if isinstance(n, ir.Type):
            words = n.base.split()
            if any(w in types for w in words):
                return replace(n, base=" ".join(types.get(w, w) for w in words))
            return n
        if isinstance(n, ir.SizeOf) and n.type is None and isinstance(n.operand, ir.Paren) \
                and isinstance(n.operand.inner, ir.Name) and n.operand.inner.id in types:
            return ir.SizeOf(type=ir.Type(types[n.operand.inner.id]))
        if isinstance(n, ir.Call) and n.template_args:
            new = tuple(types.get(a, a) for a in n.template_args)
            return replace(n, template_args=new) if new != n.template_args else n
        return n
    return ir.rewrite(node, one)


def _rename(node, mapping: dict):
    """Replace Names (and declared names) per ``mapping`` (name -> str or expression)."""
    if not mapping:
        return node

    def one(n):
        if isinstance(n, ir.Name) and n.id in mapping:
            v = mapping[n.id]
            return ir.Name(v) if isinstance(v, str) else v
        if isinstance(n, ir.Declarator) and n.name in mapping and isinstance(mapping[n.name], str):
            return replace(n, name=mapping[n.name])
        return n
    return ir.rewrite(node, one)


def _pseudo(node, env: TypeEnv):
    """Expand the type-dispatched helpers of the descriptions once the types are known."""
    def one(n):
        if not (isinstance(n, ir.Call) and isinstance(n.func, ir.Name) and n.func.id.startswith("__xp_")):
            return n
        name, args = n.func.id, n.args
        targ = ir.Type(n.template_args[0]) if n.template_args else None
        if name == "__xp_from_double":
            return ir.Cast(targ, _paren(args[0])) if is_floating(targ) else n
        if name == "__xp_div":
            div = ir.BinOp("/", _paren(args[0]), _paren(args[1]))
            if is_floating(targ):
                return div
            return ir.Ternary(ir.BinOp("==", _paren(args[1]), ir.Const("0", 0)), ir.Const("0", 0), div)
        if name == "__xp_ldexp":
            c = const_value(args[1])
            return args[0] if c is not None and c[0] == 0 else ir.Call(ir.Name("ldexp"), args)
        if name == "__xp_float2half":
            c = const_value(args[1])
            return ir.Cast(ir.Type("half"), _paren(args[0])) if c is not None and c[0] == 0 else n
        return n
    return ir.rewrite(node, one)


def _paren(e):
    """The IR is a tree: the printer parenthesises by precedence, so no Paren node is needed."""
    return e


def _unsupported(message: str, node=None) -> UnsupportedError:
    snippet = None
    if node is not None:
        try:
            from xpiler.emitters.c_printer import Printer
            snippet = Printer("vnni").expr(node)[:60] if isinstance(node, ir.Expr) else None
        except Exception:  # pragma: no cover - printing is best effort here
            snippet = None
    return UnsupportedError(f"detensorize: {message}", snippet=snippet)


def _call_name(call: ir.Call) -> str:
    f = call.func
    return f.id if isinstance(f, ir.Name) else ""


# --------------------------------------------------------------------------------------------------
# Module level


@dataclass
class _FnPlan:
    """How a function with vector/fragment parameters or result is rewritten."""

    result: tuple | None            # (element type, lanes) of a vector result, else None
    result_name: str | None = None
    copied: frozenset = frozenset()  # vector parameters the body assigns: passed as `<name>_in`, copied


class _Module:
    def __init__(self, module: ir.Module):
        self.module = module
        self.env = TypeEnv.for_module(module)
        self.global_names = names_in(module)
        self.plans: dict[str, _FnPlan] = {}
        for fn in module.functions():
            plan = self.plan(fn)
            if plan is not None:
                self.plans[fn.name] = plan

    def plan(self, fn: ir.Function) -> _FnPlan | None:
        vec_ret = vector_info(fn.ret)
        special = vec_ret is not None or any(vector_info(p.type) or fragment_info(p.type) or
                                             canonical_base(p.type.base) in MASK_TYPES or p.type.base in MASK_TYPES
                                             for p in fn.params)
        if not special:
            return None
        if fragment_info(fn.ret) is not None:
            raise _unsupported(f"function {fn.name!r} returns a WMMA fragment")
        used = {p.name for p in fn.params} | (names_in(fn.body) if fn.body is not None else set())
        name = "result"
        while name in used:
            name += "_"
        copied = frozenset(p.name for p in fn.params if vector_info(p.type) is not None and fn.body is not None
                           and p.name in assigned_names(fn.body))
        return _FnPlan(vec_ret, name if vec_ret is not None else None, copied)

    def run(self) -> ir.Module:
        items = tuple(self.item(i) for i in self.module.items)
        items = tuple(ir.rewrite(i, _mask_types) for i in items)
        out = replace(self.module, items=self.tidy(items))
        self.check(out)
        return out

    def item(self, item):
        if isinstance(item, ir.ExternC):
            return replace(item, items=tuple(self.item(i) for i in item.items))
        if isinstance(item, ir.Function):
            fn = item
            if fn.body is not None:
                fn = _Function(self, fn).run()
            return self.signature(fn) if item.name in self.plans else fn
        if isinstance(item, ir.Decl):
            for d in item.vars:
                if vector_info(d.type) or fragment_info(d.type):
                    raise _unsupported(f"file-scope vector or fragment variable {d.name!r} is not supported")
        return item

    def signature(self, fn: ir.Function) -> ir.Function:
        plan = self.plans[fn.name]
        params = []
        if plan.result is not None:
            params.append(ir.Param(plan.result_name, ir.Type(plan.result[0], 1)))
        for p in fn.params:
            params.append(_param_type(p, p.name in plan.copied))
        ret = ir.Type("void") if plan.result is not None else fn.ret
        return replace(fn, params=tuple(params), ret=ret)

    def tidy(self, items):
        """Drop the headers and using-declarations only intrinsics needed, once none is left."""
        text_names = set()
        for i in items:
            for n in ir.walk(i):
                if isinstance(n, ir.Name):
                    text_names.add(n.id)
                elif isinstance(n, ir.Type):
                    text_names.update(re.findall(r"[\w:]+", n.base))
                elif isinstance(n, (ir.Verbatim, ir.RawExpr)) and "using namespace" not in n.text:
                    text_names.update(re.findall(r"[\w:]+", n.text))
        x86_left = any(re.match(r"_mm\d*_|__m\d|__mmask|_MM_|_CMP_", t) for t in text_names)
        wmma_left = any(t.startswith(("wmma::", "nvcuda::")) for t in text_names)
        out = []
        for i in items:
            if isinstance(i, ir.Include) and i.path in ("immintrin.h", "x86intrin.h", "zmmintrin.h") and not x86_left:
                continue
            if isinstance(i, ir.Include) and i.path == "mma.h" and not wmma_left:
                continue
            if isinstance(i, ir.Verbatim) and re.fullmatch(r"using\s+namespace\s+(nvcuda(::wmma)?|wmma)\s*;", i.text.strip()) \
                    and not wmma_left:
                continue
            out.append(i)
        return tuple(out)

    def check(self, module: ir.Module) -> None:
        for n in ir.walk(module):
            if isinstance(n, ir.Type) and (vector_info(ir.Type(n.base)) or fragment_info(n)):
                raise _unsupported(f"a value of type {n.base} is used in a way detensorize does not model")


def _reserved() -> set:
    from xpiler.emitters.c_prelude import ENTRIES
    from .cleanup import PURE_FUNCTIONS
    return set(ENTRIES) | PURE_FUNCTIONS | {"exp", "log", "max", "min", "abs", "sqrt", "main"}


_RESERVED = _reserved()


def _mask_types(n):
    if isinstance(n, ir.Type):
        words = n.base.split()
        if any(w in MASK_TYPES for w in words):
            return replace(n, base=" ".join(MASK_TYPES.get(w, w) for w in words))
    return n


def _param_type(p: ir.Param, copied: bool) -> ir.Param:
    info = vector_info(p.type)
    if info is not None:
        name = p.name + "_in" if copied else p.name
        return ir.Param(name, ir.Type(info[0], 1, ("const",)))
    frag = fragment_info(p.type)
    if frag is not None:
        quals = ("const",) if "const" in p.type.quals else ()
        return ir.Param(p.name, ir.Type(frag.element, 1, quals))
    return p


# --------------------------------------------------------------------------------------------------
# Functions


class _Function:
    def __init__(self, mod: _Module, fn: ir.Function):
        self.mod = mod
        self.fn = fn
        self.used = set(mod.global_names) | names_in(fn)
        self.addressed = address_taken(fn.body)
        self.assigned = assigned_names(fn.body)
        self.plan = mod.plans.get(fn.name)
        # pointer locals initialised once and never reassigned: their buffer is their initialiser's
        self.pointer_inits: dict[str, ir.Expr] = {}
        counts: dict[str, int] = {}
        for n in ir.walk(fn.body):
            if isinstance(n, ir.Declarator):
                counts[n.name] = counts.get(n.name, 0) + 1
                if n.type.pointer and not n.dims and n.init is not None:
                    self.pointer_inits[n.name] = n.init
        for name in list(self.pointer_inits):
            if counts.get(name, 0) != 1 or name in self.assigned:
                del self.pointer_inits[name]

    def fresh(self, base: str) -> str:
        base = re.sub(r"\W", "_", base) or "t"
        if base in _RESERVED:
            base += "_v"
        name, k = base, 0
        while name in self.used:
            k += 1
            name = f"{base}_{k}"
        self.used.add(name)
        return name

    # ---- the function ------------------------------------------------------------------------------
    def run(self) -> ir.Function:
        fn = self.fn
        env = self.mod.env.for_function(fn)
        prologue = []
        for p in fn.params:
            info = vector_info(p.type)
            if info is not None and self.plan is not None and p.name in self.plan.copied:
                prologue.append(ir.Decl((ir.Declarator(p.name, ir.Type(info[0]), (literal(info[1], ir.Type("int")),)),)))
                prologue.extend(self.copy(ir.Name(p.name), ir.Name(p.name + "_in"), info[1]))
        body = self.stmts(_rename_constants(fn.body.body), env.child())
        body = tuple(prologue) + tuple(body)
        if body and body[-1] == ir.Return(None) and fn.body.body and fn.body.body[-1] != ir.Return(None):
            body = body[:-1]  # the `return;` that ended a vector-returning function's last statement
        return replace(fn, body=ir.Block(tuple(body)))

    # ---- statements --------------------------------------------------------------------------------
    def stmts(self, body, env: TypeEnv) -> list:
        out = []
        for s in body:
            out.extend(self.stmt(s, env))
        return out

    def body(self, s, env: TypeEnv):
        if isinstance(s, ir.Block):
            return ir.Block(tuple(self.stmts(s.body, env.child())))
        out = self.stmt(s, env.child())
        return out[0] if len(out) == 1 and not isinstance(out[0], ir.Decl) else ir.Block(tuple(out))

    def stmt(self, s, env: TypeEnv) -> list:
        if isinstance(s, ir.Block):
            return [ir.Block(tuple(self.stmts(s.body, env.child())))]
        if isinstance(s, ir.Decl):
            return self.decl(s, env)
        if isinstance(s, ir.ExprStmt):
            return self.expr_stmt(s.expr, env)
        if isinstance(s, ir.If):
            pre, cond = self.expr(s.cond, env)
            then = self.body(s.then, env)
            other = self.body(s.other, env) if s.other is not None else None
            return pre + [replace(s, cond=cond, then=then, other=other)]
        if isinstance(s, ir.For):
            return self.for_(s, env)
        if isinstance(s, ir.While):
            pre, cond = self.expr(s.cond, env)
            body = self.body(s.body, env)
            if pre:
                if s.do_while:
                    raise _unsupported("an intrinsic call in a do-while condition is not lowered", s.cond)
                guard = ir.If(ir.UnOp("!", _paren(cond)), ir.Jump("break"))
                return [replace(s, cond=ir.Const("1", 1), body=ir.Block(tuple(pre) + (guard,) + _block_items(body)))]
            return [replace(s, cond=cond, body=body)]
        if isinstance(s, ir.Return):
            if s.value is None:
                return [s]
            if self.plan is not None and self.plan.result is not None:
                out = self.vector_into(s.value, ir.Name(self.plan.result_name), env)
                return out + [ir.Return(None)]
            pre, value = self.expr(s.value, env)
            return pre + [replace(s, value=value)]
        if isinstance(s, (ir.Verbatim,)):
            self.check_text(s.text)
            return [s]
        return [s]

    def for_(self, s: ir.For, env: TypeEnv) -> list:
        inner = env.child()
        pre_init = []
        init = s.init
        if init is not None:
            got = self.stmt(init, inner)
            init, pre_init = got[-1], got[:-1]
        pre, cond = self.expr(s.cond, inner) if s.cond is not None else ([], None)
        step_pre, step = self.expr(s.step, inner) if s.step is not None else ([], None)
        if step_pre:
            raise _unsupported("an intrinsic call in a for-loop step is not lowered", s.step)
        body = self.body(s.body, inner)
        if pre:
            guard = ir.If(ir.UnOp("!", _paren(cond)), ir.Jump("break"))
            loop = replace(s, init=init, cond=None, step=step, body=ir.Block(tuple(pre) + (guard,) + _block_items(body)))
        else:
            loop = replace(s, init=init, cond=cond, step=step, body=body)
        if pre_init:
            return [ir.Block(tuple(pre_init) + (loop,))]
        return [loop]

    def decl(self, s: ir.Decl, env: TypeEnv) -> list:
        out = []
        for d in s.vars:
            t = d.type
            frag = fragment_info(t) if not t.pointer else None
            vec = vector_info(t)
            if frag is not None:
                if d.init is not None or d.ctor_args is not None:
                    raise _unsupported(f"an initialised WMMA fragment {d.name!r} is not supported")
                dims = tuple(self.plain(x, env) for x in d.dims) + (literal(frag.size, ir.Type("int")),)
                out.append(replace(s, vars=(ir.Declarator(d.name, ir.Type(frag.element), dims),)))
                env.declare(d.name, t, d.dims)
                continue
            if vec is not None:
                dims = tuple(self.plain(x, env) for x in d.dims) + (literal(vec[1], ir.Type("int")),)
                out.append(replace(s, vars=(ir.Declarator(d.name, ir.Type(vec[0]), dims),), storage=tuple(
                    x for x in s.storage if x != "const")))
                init = strip_parens(d.init) if d.init is not None else None
                if d.ctor_args is not None or (init is not None and d.dims and
                                               not (isinstance(init, ir.InitList) and len(d.dims) == 1)):
                    raise _unsupported(f"initialising the vector array {d.name!r} this way is not supported")
                if isinstance(init, ir.InitList):
                    if len(init.items) < (const_value(d.dims[0]) or (len(init.items),))[0]:
                        out.extend(self.zero(ir.Name(d.name), vec[1], d.dims[0]))
                    for k, item in enumerate(init.items):
                        out.extend(self.vector_into(item, ir.Index(ir.Name(d.name), literal(k, ir.Type("int"))), env))
                elif init is not None:
                    out.extend(self.vector_into(d.init, ir.Name(d.name), env))
                env.declare(d.name, t, d.dims)
                continue
            if (t.pointer and (vector_info(ir.Type(t.base)) is not None)) or fragment_info(ir.Type(t.base)):
                raise _unsupported(f"pointer {d.name!r} to a vector or fragment type is not supported")
            pre, init = ([], None)
            if d.init is not None:
                direct = self.direct_value(d, env)
                if direct is not None:
                    out.append(replace(s, vars=(replace(d, init=None),)))
                    out.extend(direct)
                    env.declare(d.name, t, d.dims)
                    continue
                pre, init = self.expr(d.init, env)
            out.extend(pre)
            dims = tuple(self.plain(x, env) for x in d.dims)
            new = replace(d, init=init, dims=dims)
            if out and isinstance(out[-1], ir.Decl) and not pre and out[-1].scope == s.scope and \
                    out[-1].storage == s.storage and out[-1].vars[0].type == t and \
                    not fragment_info(out[-1].vars[0].type):
                out[-1] = replace(out[-1], vars=out[-1].vars + (new,))
            else:
                out.append(replace(s, vars=(new,)))
            env.declare(d.name, t, d.dims)
        return out

    def direct_value(self, d: ir.Declarator, env) -> list | None:
        """``T x = intrinsic(...);``: compute straight into ``x`` when that is exact."""
        call = strip_parens(d.init)
        if not (isinstance(call, ir.Call) and call.intrinsic is not None) or "const" in d.type.quals or d.dims:
            return None
        intr, spelling = self.resolve(call, env)
        if intr.scalar is None or intr.kind in ("math", "sync"):
            return None
        tpl = template(intr.signature, intr.scalar)
        if not tpl.returns or self.inlinable(intr, tpl):
            return None
        if d.name in names_in(call):
            return None
        rtype = env.type_of(call)
        if rtype is None or canonical(rtype) != canonical(d.type):
            return None
        return self.expand(call, intr, spelling, env, dest=ir.Name(d.name))

    def expr_stmt(self, e, env: TypeEnv) -> list:
        e0 = strip_parens(e)
        if isinstance(e0, ir.Call) and e0.intrinsic is not None:
            intr, spelling = self.resolve(e0, env)
            if intr.kind == "sync":
                return [ir.ExprStmt(a) for a in e0.args if not is_pure(a)]
            if intr.kind == "warp":
                raise self.no_scalar(e0, intr)
            if intr.scalar is not None and intr.kind != "math":
                result = x86_result_type(_call_name(e0))
                if vector_info(result) is not None:
                    tmp = self.fresh("unused")
                    env.declare(tmp, result)
                    decl = ir.Decl((ir.Declarator(tmp, ir.Type(vector_info(result)[0]),
                                                  (literal(vector_info(result)[1], ir.Type("int")),)),))
                    return [decl] + self.expand(e0, intr, spelling, env, dest=ir.Name(tmp))
                return self.expand(e0, intr, spelling, env, dest=None)
        if isinstance(e0, ir.Call) and _call_name(e0) in self.mod.plans:
            plan = self.mod.plans[_call_name(e0)]
            if plan.result is not None:
                tmp = self.fresh("unused")
                env.declare(tmp, self.mod.env.lookup(_call_name(e0)).type)
                decl = ir.Decl((ir.Declarator(tmp, ir.Type(plan.result[0]), (literal(plan.result[1], ir.Type("int")),)),))
                return [decl] + self.vector_into(e0, ir.Name(tmp), env)
        if isinstance(e0, ir.Assign):
            ttype = env.type_of(e0.target)
            tinfo = vector_info(ttype)
            frag = fragment_info(ttype)
            if (tinfo is not None or frag is not None) and e0.op == "=":
                pre, target = self.lvalue(e0.target, env)
                if frag is not None:
                    src_pre, src = self.lvalue(e0.value, env)
                    return pre + src_pre + self.copy(target, src, frag.size)
                return pre + self.vector_into(e0.value, target, env)
            value = strip_parens(e0.value)
            if e0.op == "=" and isinstance(value, ir.Call) and value.intrinsic is not None and \
                    isinstance(strip_parens(e0.target), ir.Name):
                name = strip_parens(e0.target).id
                intr, spelling = self.resolve(value, env)
                if intr.scalar is not None and intr.kind not in ("math", "sync") and name not in names_in(value) \
                        and name not in self.addressed:
                    tpl = template(intr.signature, intr.scalar)
                    rtype = env.type_of(value)
                    if tpl.returns and not self.inlinable(intr, tpl) and rtype is not None and \
                            canonical(rtype) == canonical(ttype) and vector_info(rtype) is None:
                        return self.expand(value, intr, spelling, env, dest=ir.Name(name))
        pre, new = self.expr(e, env)
        return pre + [ir.ExprStmt(new)]

    # ---- expressions ------------------------------------------------------------------------------
    def plain(self, e, env):
        """An expression that must not need hoisting (array extents)."""
        if e is None:
            return None
        pre, new = self.expr(e, env)
        if pre:
            raise _unsupported("an intrinsic call in an array extent is not lowered", e)
        return new

    def expr(self, e, env: TypeEnv) -> tuple[list, ir.Expr]:
        if isinstance(e, ir.Call):
            return self.call_value(e, env)
        if isinstance(e, ir.Member):
            t = env.type_of(e.base)
            frag = fragment_info(t) if t is not None and not t.pointer else None
            if frag is not None:
                if e.field_name in ("num_elements", "num_storage_elements"):
                    return [], literal(frag.size, ir.Type("int"))
                if e.field_name == "x":
                    return self.lvalue(e.base, env)
                raise _unsupported(f"fragment member {e.field_name!r} is not modelled", e)
        if isinstance(e, ir.BinOp) and e.op in ("&&", "||"):
            pre, left = self.expr(e.left, env)
            rpre, right = self.expr(e.right, env)
            if rpre:
                raise _unsupported(f"an intrinsic call in the right operand of {e.op} (evaluated conditionally) "
                                   "is not lowered", e)
            return pre, replace(e, left=left, right=right)
        if isinstance(e, ir.Ternary):
            pre, cond = self.expr(e.cond, env)
            tpre, then = self.expr(e.then, env)
            opre, other = self.expr(e.other, env)
            if tpre or opre:
                raise _unsupported("an intrinsic call in a branch of ?: (evaluated conditionally) is not lowered", e)
            return pre, replace(e, cond=cond, then=then, other=other)
        if isinstance(e, ir.Comma):
            pre, left = self.expr(e.left, env)
            rpre, right = self.expr(e.right, env)
            if rpre:
                raise _unsupported("an intrinsic call after a comma operator is not lowered", e)
            return pre, replace(e, left=left, right=right)
        if isinstance(e, ir.Cast):
            info = vector_info(ir.Type(e.type.base)) if e.type.pointer else vector_info(e.type)
            if info is not None:
                raise _unsupported(f"a cast to {e.type.base}{'*' * e.type.pointer} is not supported here", e)
        if isinstance(e, ir.Name) and e.id in LAYOUTS:
            return [], ir.Const(str(LAYOUTS[e.id]), LAYOUTS[e.id])
        if isinstance(e, ir.Call) and isinstance(e.func, ir.Paren) and isinstance(e.func.inner, ir.Name) \
                and len(e.args) == 1 and e.func.inner.id in MASK_TYPES:
            # `(__mmask16)(x)`: the grammar reads a cast to an unknown type name as a call
            return self.expr(ir.Cast(ir.Type(e.func.inner.id), e.args[0]), env)
        pre: list = []

        def child(c):
            if isinstance(c, ir.Expr):
                p, n = self.expr(c, env)
                pre.extend(p)
                return n
            return c
        new = ir.map_children(e, child)
        return pre, new

    def lvalue(self, e, env) -> tuple[list, ir.Expr]:
        """A vector/fragment variable, array element or parameter, as an array expression."""
        e0 = strip_parens(e)
        if isinstance(e0, ir.Name):
            return [], e0
        if isinstance(e0, ir.Index):
            pre, base = self.lvalue(e0.base, env)
            ipre, index = self.expr(e0.index, env)
            if not is_pure(index):
                raise _unsupported("a vector element index with side effects is not supported", e)
            return pre + ipre, ir.Index(base, index)
        if isinstance(e0, ir.Member) and e0.field_name == "x":
            return self.lvalue(e0.base, env)
        if isinstance(e0, ir.UnOp) and e0.op == "*":
            raise _unsupported("a vector value read through a pointer is not supported", e)
        raise _unsupported("a vector or fragment value of this form is not supported", e)

    def vector_array(self, e, env) -> tuple[list, ir.Expr]:
        """An array expression holding the vector value ``e`` (hoisting calls into temporaries)."""
        e0 = strip_parens(e)
        if isinstance(e0, ir.Call):
            info = vector_info(env.type_of(e0))
            if info is None:
                raise _unsupported("a vector-typed argument of unknown type", e)
            short = _call_name(e0).split("_mm512_")[-1].split("_mm_")[-1].split("_mm256_")[-1]
            short = re.sub(r"_(ps|pd|si512|si128|epi\d+|epu\d+)$", "", short) or "v"
            tmp = self.fresh(short if e0.intrinsic is not None else "v")
            env.declare(tmp, unqualified(env.type_of(e0)))
            decl = ir.Decl((ir.Declarator(tmp, ir.Type(info[0]), (literal(info[1], ir.Type("int")),)),))
            return [decl] + self.vector_into(e0, ir.Name(tmp), env), ir.Name(tmp)
        return self.lvalue(e0, env)

    def vector_into(self, e, dest, env) -> list:
        """Statements storing the vector value ``e`` into array ``dest``."""
        e0 = strip_parens(e)
        info = vector_info(env.type_of(e0))
        if isinstance(e0, ir.Call) and e0.intrinsic is not None:
            intr, spelling = self.resolve(e0, env)
            if intr.scalar is None:
                raise _unsupported(f"intrinsic {_call_name(e0)} ({intr.name}) has no scalar description", e0)
            if intr.name in CROSS_LANE and (names_in(dest) & names_in(e0)):
                return self.via_temp(e0, dest, info, env)
            return self.expand(e0, intr, spelling, env, dest=dest)
        if isinstance(e0, ir.Ternary):
            pre, cond = self.expr(e0.cond, env)
            then = self.vector_into(e0.then, dest, env)
            other = self.vector_into(e0.other, dest, env)
            return pre + [ir.If(cond, ir.Block(tuple(then)), ir.Block(tuple(other)))]
        if isinstance(e0, ir.Call) and _call_name(e0) in self.mod.plans:
            if names_in(dest) & names_in(e0):
                return self.via_temp(e0, dest, info, env)
            pre, call = self.user_call(e0, env)
            return pre + [ir.ExprStmt(replace(call, args=(dest,) + call.args))]
        if isinstance(e0, ir.Call):
            name = _call_name(e0)
            if _INTRINSIC_LIKE.match(name):
                raise _unsupported(f"unknown intrinsic {name}: no scalar semantics", e0)
            raise _unsupported(f"call of {name or 'a function'} returning a vector is not supported", e0)
        pre, src = self.lvalue(e0, env)
        if info is None:
            raise _unsupported("a vector value of unknown type", e)
        if src == dest:
            return pre
        return pre + self.copy(dest, src, info[1])

    def zero(self, array, lanes, count) -> list:
        """``array[count][lanes] = {0}``: what a short initialiser list leaves."""
        k = "k" if "k" not in names_in(array) | names_in(count) else self.fresh("k")
        i = ir.Decl((ir.Declarator(k, ir.Type("int"), (), ir.Const("0", 0)),))
        body = self.copy(ir.Index(array, ir.Name(k)), None, lanes)
        return [ir.For(i, ir.BinOp("<", ir.Name(k), count), ir.UnOp("++", ir.Name(k)), body[0])]

    def via_temp(self, call, dest, info, env) -> list:
        tmp = self.fresh("v")
        env.declare(tmp, ir.Type({("float", 16): "__m512", ("int32_t", 16): "__m512i", ("double", 8): "__m512d",
                                  ("float", 8): "__m256", ("int32_t", 8): "__m256i", ("float", 4): "__m128",
                                  ("int32_t", 4): "__m128i"}.get(tuple(info), "__m512")))
        decl = ir.Decl((ir.Declarator(tmp, ir.Type(info[0]), (literal(info[1], ir.Type("int")),)),))
        return [decl] + self.vector_into(call, ir.Name(tmp), env) + self.copy(dest, ir.Name(tmp), info[1])

    def copy(self, dest, src, n: int) -> list:
        taken = names_in(dest) | (names_in(src) if src is not None else set())
        i = "i"
        while i in taken:
            i += "_"
        value = ir.Index(src, ir.Name(i)) if src is not None else ir.Const("0", 0)
        loop = ir.For(ir.Decl((ir.Declarator(i, ir.Type("int"), (), ir.Const("0", 0)),)),
                      ir.BinOp("<", ir.Name(i), literal(n, ir.Type("int"))), ir.UnOp("++", ir.Name(i)),
                      ir.ExprStmt(ir.Assign(ir.Index(dest, ir.Name(i)), "=", value)))
        return [loop]

    def user_call(self, call: ir.Call, env) -> tuple[list, ir.Call]:
        """A call of a function whose vector/fragment parameters became pointers."""
        pre, args = [], []
        fn = next((f for f in self.mod.module.functions() if f.name == _call_name(call)), None)
        for k, a in enumerate(call.args):
            ptype = fn.params[k].type if fn is not None and k < len(fn.params) else None
            if ptype is not None and (vector_info(ptype) or fragment_info(ptype)):
                p, arr = self.vector_array(a, env) if vector_info(ptype) else self.lvalue(a, env)
            else:
                p, arr = self.expr(a, env)
            pre.extend(p)
            args.append(arr)
        return pre, replace(call, args=tuple(args))

    def call_value(self, call: ir.Call, env) -> tuple[list, ir.Expr]:
        if isinstance(call.func, ir.Paren) and isinstance(call.func.inner, ir.Name) and len(call.args) == 1 \
                and call.func.inner.id in MASK_TYPES:
            # `(__mmask16)(x)`: the grammar reads a cast to an unknown type name as a call
            return self.expr(ir.Cast(ir.Type(call.func.inner.id), call.args[0]), env)
        name = _call_name(call)
        if call.intrinsic is None:
            if name in self.mod.plans:
                plan = self.mod.plans[name]
                if plan.result is not None:
                    raise _unsupported(f"the vector result of {name}() is used where a scalar is expected", call)
                return self.user_call(call, env)
            if _INTRINSIC_LIKE.match(name):
                raise _unsupported(f"unknown intrinsic {name}: no scalar semantics", call)
            pre: list = []
            args = []
            for a in call.args:
                p, n = self.expr(a, env)
                pre.extend(p)
                args.append(n)
            return pre, replace(call, args=tuple(args))
        intr, spelling = self.resolve(call, env)
        if intr.kind == "warp":
            raise self.no_scalar(call, intr)
        if intr.kind == "math" and intr.scalar is None or intr.kind == "runtime":
            pre, args = [], []
            for a in call.args:
                p, n = self.expr(a, env)
                pre.extend(p)
                args.append(n)
            return pre, replace(call, args=tuple(args))
        if intr.scalar is None:
            raise self.no_scalar(call, intr)
        if vector_info(env.type_of(call)) is not None:
            raise _unsupported(f"the vector result of {name} is used where a scalar is expected", call)
        tpl = template(intr.signature, intr.scalar)
        if not tpl.returns:
            raise _unsupported(f"{name} has no value", call)
        if self.inlinable(intr, tpl):
            return self.inline(call, intr, spelling, tpl, env)
        rtype = self.result_type(call, intr, spelling, env)
        short = intr.name.split(".")[-1]
        short = re.sub(r"_(ps|pd|epi\d+|epu\d+)$", "", short)
        if intr.kind == "atomic":
            short = "old"
        tmp = self.fresh(short if short.isidentifier() else "value")
        env.declare(tmp, unqualified(rtype))
        decl = ir.Decl((ir.Declarator(tmp, unqualified(rtype)),))
        return [decl] + self.expand(call, intr, spelling, env, dest=ir.Name(tmp)), ir.Name(tmp)

    def no_scalar(self, call, intr) -> UnsupportedError:
        name = _call_name(call)
        if intr.kind == "warp":
            return _unsupported(f"the warp primitive {name} must be removed by loop-recovery before detensorize", call)
        if intr.kind == "sync":
            return _unsupported(f"{name} has no value in sequential code", call)
        return _unsupported(f"intrinsic {name} ({intr.name}) has no scalar semantics", call)

    def check_text(self, text: str) -> None:
        for m in re.finditer(r"\b(__bang_\w+|_mm(?:256|512)?_\w+|wmma::\w+)\s*\(", text):
            raise _unsupported(f"intrinsic {m.group(1)} inside code kept verbatim cannot be lowered")

    # ---- resolution and types ----------------------------------------------------------------------
    def resolve(self, call: ir.Call, env) -> tuple[Intrinsic, Spelling]:
        name = _call_name(call)
        intr = REGISTRY[call.intrinsic]
        candidates = [(i, s) for i in REGISTRY for s in i.spellings if s.function == name and len(s.order) == len(call.args)]
        if not candidates:
            s = REGISTRY.spelling_of(intr, name, len(call.args))
            if s is None:
                s = next((sp for sp in intr.spellings if sp.function == name), intr.spellings[0])
            return intr, s
        if len(candidates) > 1:
            fitting = [c for c in candidates if self.fits(c, call, env)]
            if fitting:
                candidates = fitting
        for i, s in candidates:
            if i.name == intr.name:
                return i, s
        return candidates[0]

    def fits(self, candidate, call, env) -> bool:
        intr, s = candidate
        if not intr.signature:
            return True
        tpl = template(intr.signature, intr.scalar or ";")
        types = {p.name: p.type for p in tpl.params}
        for pname, arg in zip(s.order, call.args):
            pt = types.get(pname)
            at = env.type_of(arg)
            if pt is None or at is None:
                continue
            if pt.pointer and not at.pointer and not vector_info(at):
                return False
            if not pt.pointer and at.pointer:
                return False
        return True

    def result_type(self, call, intr, spelling, env) -> ir.Type:
        t = env.type_of(call)
        if t is not None and t.base != "void":
            return t
        tpl = template(intr.signature, intr.scalar)
        types = self.infer_types(tpl, self.bound_args(call, intr, spelling), env, intr, call)
        tenv = TypeEnv()
        for p in tpl.params:
            tenv.declare(p.name, _subst_types(p.type, types))
        for n in ir.walk(ir.Block(tpl.body)):
            if isinstance(n, ir.Declarator):
                tenv.declare(n.name, _subst_types(n.type, types), n.dims)
        value = _pseudo(_subst_types(tpl.body[-1].value, types), tenv)
        t = tenv.type_of(value)
        if t is None:
            raise _unsupported(f"cannot infer the result type of {_call_name(call)}", call)
        return t

    def bound_args(self, call, intr, spelling) -> dict:
        return dict(zip(spelling.order, call.args))

    def infer_types(self, tpl: Template, args: dict, env, intr, call) -> dict[str, str]:
        types: dict[str, str] = {}
        for pass_pointers in (True, False):
            if not pass_pointers and intr.name in UNTYPED_DEFAULT and "T" not in types:
                types["T"] = UNTYPED_DEFAULT[intr.name]  # an untyped buffer: the value converts to the default
            for p in tpl.params:
                var = next((w for w in p.type.base.split() if w in TYPEVARS), None)
                if var is None or var in types or p.name not in args:
                    continue
                arg = args[p.name]
                if p.type.pointer and pass_pointers:
                    t = env.element_type(arg)
                    if t is None or canonical_base(t.base) == "void":
                        continue
                    types[var] = _type_text(unqualified(t))
                elif not p.type.pointer and not pass_pointers:
                    t = env.type_of(arg)
                    if t is None:
                        continue
                    types[var] = _type_text(unqualified(t))
        used = set()
        for n in ir.walk(ir.Block(tpl.body)):
            if isinstance(n, ir.Type):
                used.update(w for w in n.base.split() if w in TYPEVARS)
            elif isinstance(n, ir.Call) and n.template_args:
                used.update(a for a in n.template_args if a in TYPEVARS)
            elif isinstance(n, ir.Name) and n.id in TYPEVARS:
                used.add(n.id)
        for p in tpl.params:
            used.update(w for w in p.type.base.split() if w in TYPEVARS and p.name in args)
        missing = sorted(used - set(types))
        if missing:
            raise _unsupported(f"cannot infer the element type {missing[0]} of {_call_name(call)} from its arguments "
                               "(declare the buffers with their element types)", call)
        return types

    # ---- inlining single-expression descriptions ----------------------------------------------------
    def inlinable(self, intr, tpl: Template) -> bool:
        return len(tpl.body) == 1 and tpl.returns and not tpl.locals and \
            not any(p.type.base == "Frag" or vector_info(p.type) for p in tpl.params)

    def inline(self, call, intr, spelling, tpl, env) -> tuple[list, ir.Expr]:
        pre, args = [], {}
        for pname, a in zip(spelling.order, call.args):
            p, n = self.expr(a, env)
            pre.extend(p)
            args[pname] = n
        for pname in tpl.params:
            if pname.name not in args and pname.name in intr.defaults:
                args[pname.name] = _parse_expr(intr.defaults[pname.name])
        types = self.infer_types(tpl, args, env, intr, call)
        expr = _subst_types(tpl.body[-1].value, types)
        uses = {p.name: sum(1 for n in ir.walk(expr) if isinstance(n, ir.Name) and n.id == p.name) for p in tpl.params}
        mapping = {}
        for p in tpl.params:
            a = args[p.name]
            ptype = _subst_types(p.type, types)
            at = env.type_of(a)
            value = a if at is not None and same_type(at, ptype) else ir.Cast(unqualified(ptype), _paren(a))
            if uses[p.name] > 1 and not (isinstance(strip_parens(a), (ir.Name, ir.Const)) and is_pure(a)):
                tmp = self.fresh(p.name)
                pre.append(ir.Decl((ir.Declarator(tmp, unqualified(ptype), (), a),)))
                value = ir.Name(tmp)
            mapping[p.name] = _paren(value)
        return pre, _pseudo(_rename(expr, mapping), env)

    # ---- expansion -----------------------------------------------------------------------------------
    def expand(self, call: ir.Call, intr: Intrinsic, spelling: Spelling, env: TypeEnv, dest) -> list:
        """The statements computing ``call`` (its value, if any, assigned to ``dest``)."""
        name = _call_name(call)
        tpl = template(intr.signature, intr.scalar)
        pre: list = []
        args: dict = {}
        broadcasts: dict = {}
        params = {p.name: p for p in tpl.params}
        for pname, a in zip(spelling.order, call.args):
            p = params[pname]
            if p.type.base == "Frag":
                ap, arr = self.lvalue(a, env)
                frag = fragment_info(env.type_of(a))
                if frag is None:
                    raise _unsupported(f"argument {pname!r} of {name} is not a WMMA fragment", a)
                pre.extend(ap)
                args[pname] = (arr, frag)
                continue
            if vector_info(p.type) is not None:
                b = self.broadcast(a, env) if _only_indexed(tpl.body, pname) else None
                if b is not None:
                    pre.extend(b[0])
                    broadcasts[pname] = b[1]
                    args[pname] = b[1]
                    continue
                ap, arr = self.vector_array(a, env)
                pre.extend(ap)
                args[pname] = arr
                continue
            if p.type.pointer:
                a = _strip_vector_pointer_cast(a)
            ap, n = self.expr(a, env)
            pre.extend(ap)
            args[pname] = n
        defaults = {p: _parse_expr(intr.defaults[p]) for p in params if p not in args and p in intr.defaults}
        missing = [p for p in params if p not in args and p not in defaults]
        if missing:
            raise _unsupported(f"{name}: no argument for parameter {missing[0]!r}", call)

        # Typed copies for the byte-based DMA.
        if intr.name.startswith("bang.memcpy"):
            typed = self.typed_memcpy(intr, args, env)
            if typed is not None:
                tpl, args = typed
                params = {p.name: p for p in tpl.params}

        plain_args = {k: (v[0] if isinstance(v, tuple) else v) for k, v in args.items()}
        types = self.infer_types(tpl, plain_args, env, intr, call)
        frags = {k: v[1] for k, v in args.items() if isinstance(v, tuple)}
        if "d" in frags or any(f.use == "accumulator" for f in frags.values()):
            acc = next((f for f in frags.values() if f.use == "accumulator"), None)
            if acc is not None:
                types["ACC"] = "long long" if is_integer(ir.Type(acc.element)) else "float"

        body = ir.Block(tpl.body)
        # Defaults refer to other parameters: substitute them first.
        if defaults:
            body = _rename(body, defaults)
        body = _subst_types(body, types)
        ptypes = {p.name: _subst_types(p.type, types) for p in tpl.params}

        # Fragment members.
        def frag_members(n):
            if isinstance(n, ir.Member) and isinstance(n.base, ir.Name) and n.base.id in frags:
                f = frags[n.base.id]
                value = {"rows": f.rows, "cols": f.cols, "num_elements": f.size,
                         "row_major": int(f.layout != "col_major"), "col_major": int(f.layout == "col_major")}
                if n.field_name == "x":
                    return ir.Name(n.base.id)
                if n.field_name in value:
                    return literal(value[n.field_name], ir.Type("int"))
            if isinstance(n, ir.Name) and n.id in LAYOUTS:
                return literal(LAYOUTS[n.id], ir.Type("int"))
            return n
        body = ir.rewrite(body, frag_members)

        # Names the arguments use must not be shadowed by the description's locals.
        free = set()
        for v in plain_args.values():
            free |= names_in(v)
        if dest is not None:
            free |= names_in(dest)
        local_map = {}
        for loc in tpl.locals:
            # rename a local that would hide a name the arguments use, or (for readability) a variable
            # declared around the call
            if loc in free or (env.lookup(loc) is not None and env.lookup(loc).kind in ("local", "param")):
                local_map[loc] = self.fresh_local(loc, free | set(params) | tpl.locals)
        body = _rename(body, local_map)
        if broadcasts:  # every lane of a set1/setzero argument is the same scalar
            body = ir.rewrite(body, lambda n: broadcasts[n.base.id] if isinstance(n, ir.Index) and
                              isinstance(n.base, ir.Name) and n.base.id in broadcasts else n)

        # Bind parameters.
        decls, subst = [], {}
        stage = None
        staged_dst = self.needs_staging(intr, plain_args, env)
        for p in tpl.params:
            pname = p.name
            if pname in defaults:
                continue
            arg = plain_args[pname]
            ptype = ptypes[pname]
            if pname in broadcasts:
                continue
            if pname in frags or vector_info(p.type) is not None:
                subst[pname] = arg
                continue
            uses = sum(1 for n in ir.walk(body) if isinstance(n, ir.Name) and n.id == pname)
            if uses == 0:
                if not is_pure(arg):
                    decls.append(ir.ExprStmt(ir.Cast(ir.Type("void"), _paren(arg))))
                continue
            direct = self.direct_arg(arg, ptype, pname, tpl, env)
            if direct is not None:
                subst[pname] = direct
                continue
            tname = pname if pname not in free and pname not in local_map.values() else \
                self.fresh_local(pname, free | set(params) | tpl.locals | set(local_map.values()))
            at = env.type_of(arg)
            if ptype.pointer and at is not None and at.pointer and canonical_base(at.base) == "void" \
                    and canonical_base(ptype.base) != "void":
                arg = ir.Cast(_temp_type(ptype), arg)  # C++ converts void * only explicitly
            decls.append(ir.Decl((ir.Declarator(tname, _temp_type(ptype), (), arg),)))
            subst[pname] = ir.Name(tname)
        after = []
        if staged_dst is not None:
            extent = _rename(_subst_types(_parse_expr(STAGE_EXTENT[intr.name]), types),
                             {**{k: v for k, v in defaults.items()}})
            extent = _rename(extent, subst)
            elem = ptypes["dst"].pointee() if "dst" in ptypes else None
            elem = unqualified(elem) if elem is not None and canonical_base(elem.base) != "void" else ir.Type("char")
            stage = self.fresh_local("staged", free | set(params) | tpl.locals)
            decls.append(ir.Decl((ir.Declarator(stage, elem, (extent,)),)))
            after = self.copy(_as_pointer(subst.get("dst", plain_args["dst"]), elem, ptypes["dst"]), ir.Name(stage), 0)
            after = [replace(after[0], cond=ir.BinOp("<", ir.Name(after[0].init.vars[0].name), extent))]
            subst["dst"] = ir.Name(stage)
        if "r" not in params and dest is not None and not tpl.returns:
            subst["r"] = dest
        stmts = list(_rename(body, subst).body)
        if tpl.returns:
            value = stmts.pop().value
            if dest is not None:
                stmts.append(ir.ExprStmt(ir.Assign(dest, "=", value)))
            elif not is_pure(value):
                stmts.append(ir.ExprStmt(value))
        stmts = decls + stmts + after
        stmts = [_pseudo(s, env) for s in stmts]
        inner = env.child()
        stmts = cleanup_block(stmts, inner)
        if not stmts:
            return pre
        if any(isinstance(s, ir.Decl) for s in stmts):  # temporaries and locals stay in their own scope
            return pre + [ir.Block(tuple(stmts))]
        return pre + stmts

    def broadcast(self, e, env):
        """``(pre, scalar)`` when vector argument ``e`` is ``set1(scalar)`` / ``setzero()`` of a value the
        loop nest cannot change: lanes then read the scalar instead of a materialised array."""
        e0 = strip_parens(e)
        if not (isinstance(e0, ir.Call) and e0.intrinsic in _BROADCASTS):
            return None
        lane = _BROADCASTS[e0.intrinsic]
        if not e0.args:
            return [], ir.Const("0", 0)
        pre, value = self.expr(e0.args[0], env)
        if const_value(value) is None and not (isinstance(strip_parens(value), ir.Const) or
                                              (self.stable(value, env) and is_pure(value))):
            return None
        t = env.type_of(value)
        if t is None or canonical(t).base != canonical(ir.Type(lane)).base:
            value = ir.Cast(ir.Type(lane), value)
        return pre, value

    def fresh_local(self, base: str, avoid: set) -> str:
        name, k = base, 0
        while name in avoid or name in self.used:
            k += 1
            name = f"{base}_{k}"
        avoid.add(name)
        return name

    def direct_arg(self, arg, ptype: ir.Type, pname: str, tpl: Template, env):
        """``arg`` itself when substituting it for parameter ``pname`` is exact, else None."""
        if pname in tpl.assigned:
            return None
        a = strip_parens(arg)
        c = const_value(a, env, macros=True)
        if c is not None and not ptype.pointer:
            if is_integer(ptype):
                rng = integer_range(canonical(ptype))
                lo, hi = rng
                if lo <= c[0] <= hi and -2 ** 31 <= c[0] < 2 ** 31 and (
                        canonical(ptype).base == "int" or canonical(promote(ptype)).base == "int" and hi < 2 ** 31):
                    return arg
                return None
            if is_floating(ptype):
                limit = {"half": 2 ** 11, "float": 2 ** 24}.get(canonical(ptype).base, 2 ** 53)
                return arg if abs(c[0]) <= limit else None
            return None
        if isinstance(a, ir.Const) and is_floating(ptype):
            lt = literal_type(a)
            if lt is not None and canonical(lt) == canonical(ptype):
                return arg
            if lt is not None and canonical(lt).base == "double" and canonical(ptype).base == "float" \
                    and isinstance(a.value, float) and re.fullmatch(r"[0-9.]+(e[+-]?[0-9]+)?", a.text.lower()):
                import struct
                if struct.unpack("f", struct.pack("f", a.value))[0] == a.value:
                    return ir.Const(a.text + "f", a.value)
            return None
        if not self.stable(a, env):
            return None
        at = env.type_of(a)
        if at is None:
            return None
        if ptype.pointer:
            if not at.pointer:
                return None
            pt, et = canonical(ptype.pointee()), canonical(ir.Type(at.base, at.pointer - 1))
            if pt.base == "void" or pt == et:
                return arg
            return None
        if canonical(at) == canonical(ptype):
            return arg
        return None

    def stable(self, e, env) -> bool:
        """``e`` reads no memory and no variable the loop nest could change."""
        size = 0
        for n in ir.walk(e):
            size += 1
            if isinstance(n, (ir.Call, ir.Assign, ir.Launch, ir.RawExpr, ir.Ternary, ir.Comma)):
                return False
            if isinstance(n, ir.UnOp) and n.op in ("++", "--", "*"):
                return False
            if isinstance(n, ir.Index):
                t = env.type_of(n)
                if t is None or not t.pointer:
                    return False
            if isinstance(n, ir.Member):
                return False
            if isinstance(n, ir.Name):
                var = env.lookup(n.id)
                if var is None:
                    continue  # an enumerator or a macro constant
                if var.dims:
                    continue
                if var.kind == "macro":
                    continue
                if var.kind not in ("local", "param") or n.id in self.addressed:
                    return False
        return size <= 12

    def typed_memcpy(self, intr, args, env):
        dims = 3 if intr.name.endswith("_3d") else 2 if intr.name.endswith("_2d") else 1
        dt, st = env.element_type(args["dst"]), env.element_type(args["src"])
        if dt is None or st is None or canonical(dt) != canonical(st) or canonical_base(dt.base) == "void":
            return None
        size = sizeof(dt)
        if size is None:
            return None
        sig, text = _TYPED_MEMCPY[dims]
        tpl = template(sig, text)
        new = {}
        for p in tpl.params:
            v = args[p.name]
            if p.name in _BYTE_PARAMS:
                v = elements(v, size, env)
                if v is None:
                    return None
            new[p.name] = v
        return tpl, new

    def needs_staging(self, intr, args, env):
        if intr.name not in STAGE_EXTENT or "dst" not in args:
            return None
        dkey = self.base_of(args["dst"], env)
        if dkey is None:
            return None
        tpl = template(intr.signature, intr.scalar)
        for p in tpl.params:
            if p.name == "dst" or not p.type.pointer or p.name not in args or p.name in intr.writes:
                continue
            if self.base_of(args[p.name], env) == dkey:
                if intr.name in INPLACE and _same_expr(args[p.name], args["dst"]):
                    continue
                if intr.name in INPLACE and STAGE_EXTENT[intr.name] == "n" and self.forward_safe(args, p.name, env):
                    continue
                return "dst"
        return None

    def forward_safe(self, args, src: str, env) -> bool:
        """An element-wise loop writing ``dst[i]`` after reading ``src[i]`` is exact when the destination
        starts at or before the source in one buffer, or the two ranges are disjoint."""
        d, s_ = self.byte_offset(args["dst"], env), self.byte_offset(args[src], env)
        dt, st = env.element_type(args["dst"]), env.element_type(args[src])
        if d is None or s_ is None or dt is None or st is None or sizeof(dt) != sizeof(st) or sizeof(dt) is None:
            return False
        if d <= s_:
            return True
        n = const_value(args["n"], env, macros=True) if "n" in args else None
        return n is not None and s_ + n[0] * sizeof(st) <= d

    def byte_offset(self, e, env, depth=0):
        """Constant byte offset of pointer expression ``e`` from the start of its buffer, or None."""
        e = strip_parens(e)
        if isinstance(e, ir.Cast) and e.type.pointer:
            return self.byte_offset(e.operand, env, depth)
        if isinstance(e, ir.BinOp) and e.op in ("+", "-") and is_pointer(env.type_of(e.left)):
            base, c = self.byte_offset(e.left, env, depth), const_value(e.right, env, macros=True)
            elem = env.element_type(e.left)
            if base is None or c is None or elem is None or sizeof(elem) is None:
                return None
            return base + (c[0] if e.op == "+" else -c[0]) * sizeof(elem)
        if isinstance(e, ir.UnOp) and e.op == "&" and isinstance(strip_parens(e.operand), ir.Index):
            ix = strip_parens(e.operand)
            return self.byte_offset(ir.BinOp("+", ix.base, ix.index), env, depth)
        if isinstance(e, ir.Name):
            if e.id in self.pointer_inits and depth < 8:
                return self.byte_offset(self.pointer_inits[e.id], env, depth + 1)
            var = env.lookup(e.id)
            return 0 if var is not None and (var.dims or var.type.pointer) else None
        return None

    def base_of(self, e, env, depth=0):
        """The variable whose storage pointer expression ``e`` points into, or None."""
        e = strip_parens(e)
        while True:
            if isinstance(e, ir.Cast):
                e = strip_parens(e.operand)
            elif isinstance(e, ir.BinOp) and e.op in ("+", "-") and is_pointer(env.type_of(e.left)):
                e = strip_parens(e.left)
            elif isinstance(e, ir.BinOp) and e.op == "+" and is_pointer(env.type_of(e.right)):
                e = strip_parens(e.right)
            elif isinstance(e, ir.UnOp) and e.op == "&":
                e = strip_parens(e.operand)
                while isinstance(e, ir.Index):
                    e = strip_parens(e.base)
            elif isinstance(e, ir.Index) and is_pointer(env.type_of(e)):
                e = strip_parens(e.base)
            else:
                break
        if isinstance(e, ir.Name):
            if e.id in self.pointer_inits and depth < 8:
                inner = self.base_of(self.pointer_inits[e.id], env, depth + 1)
                return inner if inner is not None else e.id
            return e.id
        return None


# --------------------------------------------------------------------------------------------------
# Helpers


def _type_text(t: ir.Type) -> str:
    """Spelling of an element type to substitute for a type variable."""
    return t.base + " " + "*" * t.pointer if t.pointer else t.base


def _temp_type(t: ir.Type) -> ir.Type:
    t = replace(t, reference=False)
    return t


def _as_pointer(e, elem, ptype):
    if canonical_base(ptype.pointee().base) == "void":
        return ir.Cast(ir.Type(elem.base, 1), _paren(e))
    return e


def _same_expr(a, b) -> bool:
    def strip(n):
        return ir.rewrite(n, lambda x: x.inner if isinstance(x, ir.Paren) else x)
    return strip(a) == strip(b)


_BROADCASTS = {"avx512.set1_ps": "float", "avx512.setzero_ps": "float", "avx512.setzero_si512": "int",
               "avx512.set1_epi32": "int"}


def _only_indexed(body, name: str) -> bool:
    """Every use of ``name`` in ``body`` is a subscript ``name[...]``."""
    uses = sum(1 for n in ir.walk(ir.Block(body)) if isinstance(n, ir.Name) and n.id == name)
    indexed = sum(1 for n in ir.walk(ir.Block(body)) if isinstance(n, ir.Index) and n.base == ir.Name(name))
    return uses == indexed


def _block_items(s) -> tuple:
    return s.body if isinstance(s, ir.Block) else (s,)


def _strip_vector_pointer_cast(a):
    """``reinterpret_cast<const __m128i *>(p)`` passed to a byte-pointer parameter is just ``p``."""
    a0 = strip_parens(a)
    if isinstance(a0, ir.Cast) and a0.type.pointer and vector_info(ir.Type(a0.type.base)) is not None:
        return a0.operand
    return a


def _rename_constants(stmts):
    def one(n):
        if isinstance(n, ir.Name) and n.id in X86_CONSTANTS:
            return literal(X86_CONSTANTS[n.id], ir.Type("int"))
        if isinstance(n, ir.Name) and n.id in LAYOUTS:
            return literal(LAYOUTS[n.id], ir.Type("int"))
        return n
    return tuple(ir.rewrite(s, one) for s in stmts)


def elements(e, size: int, env: TypeEnv):
    """``e / size`` when ``e`` (a byte count) is provably a multiple of ``size``, as an expression."""
    if size == 1:
        return e
    e0 = strip_parens(e)
    c = const_value(e0)
    if c is not None:
        return literal(c[0] // size, ir.Type("int")) if c[0] % size == 0 else None
    if isinstance(e0, ir.SizeOf) and e0.operand is not None:
        # sizeof(array): its element count when the elements have the size
        name = strip_parens(e0.operand)
        var = env.lookup(name.id) if isinstance(name, ir.Name) else None
        if var is not None and var.dims and all(d is not None for d in var.dims) and not var.type.pointer \
                and sizeof(unqualified(var.type)) == size:
            count = var.dims[0]
            for d in var.dims[1:]:
                count = ir.BinOp("*", count, d)
            return count
    if isinstance(e0, ir.BinOp) and e0.op == "*":
        for x, y in ((e0.left, e0.right), (e0.right, e0.left)):
            y0 = strip_parens(y)
            if isinstance(y0, ir.SizeOf):
                cy = const_value(y0)
                if cy is not None and cy[0] == size:
                    return x
            cy = const_value(y0)
            if cy is not None and cy[0] % size == 0 and cy[0] >= 0:
                k = cy[0] // size
                return x if k == 1 else ir.BinOp("*", _paren(x), literal(k, ir.Type("int")))
        for x, y in ((e0.left, e0.right), (e0.right, e0.left)):
            r = elements(x, size, env)
            if r is not None:
                return ir.BinOp("*", _paren(r), _paren(y))
    if isinstance(e0, ir.BinOp) and e0.op in ("+", "-"):
        a, b = elements(e0.left, size, env), elements(e0.right, size, env)
        if a is not None and b is not None:
            return ir.BinOp(e0.op, a, _paren(b))
    return None


@register
@dataclass(frozen=True)
class Detensorize(ModulePass):
    """Replace every intrinsic call by its scalar loop nest (see the module docstring)."""

    name: ClassVar[str] = "detensorize"
    summary: ClassVar[str] = "replace intrinsic calls (BANG, WMMA, atomics, half, AVX-512/VNNI) by scalar loop nests"

    def apply(self, module: ir.Module) -> ir.Module:
        return _Module(module).run()
