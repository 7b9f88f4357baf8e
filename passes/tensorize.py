"""Tensorize (``tensorize``): a loop nest that computes what a target intrinsic computes becomes a call.

Matching is by meaning, not by names: a loop matches when its body computes the scalar description
the intrinsic registry holds for the intrinsic, over the loop's range. For the VNNI target that is the
int8 dot product, the reduction ``vpdpbusd`` computes four products per 32-bit lane of::

    for (int w = 0; w < K; ++w)                               acc += (double)__xp_dot_s8s8(&bt[h * K],
      acc += (double)bt[h * K + w] * (double)a_row[w];   =>                                  &a_row[0], K);

``vnni.dot_s8s8`` (and ``_u8s8``, ``_u8u8``) in the registry is the sum of ``a[r] * b[r]`` over
``r < n``, exact in 64 bits; its implementation, ``__xp_dot_*`` in the C prelude, runs
``_mm512_dpbusd_epi32`` over 64 bytes at a time. Both operands must be arrays of int8 or uint8 read
at unit stride in the loop's variable; nested loops whose ranges lie end to end in both operands (the
``kx`` and ``c`` loops over one row of an NHWC window) are one dot product.

On CUDA and HIP the same match calls the same helpers, defined by ``target-prelude`` with the GPUs'
four-byte dot products (``__dp4a``; CDNA's ``__builtin_amdgcn_sdot4`` / ``udot4``) over the whole
words of aligned operands (xpiler/emitters/c_prelude.py), when the length is not a constant below 16
bytes: the 4-byte lanes of ``vpdpbusd``'s scalar description run at least as fast as the loop they
are (``_Tensorizer.worth``).

Exact: the products are the source's, their sum is exact in 64 bits. An integer accumulator receives
the sum converted to its type (the source's wrapping sum, where C defines it). A floating one (BANG's
``__bang_mlp`` and ``__bang_conv`` accumulate in double) only when every partial sum the source forms
is an integer it represents exactly: the accumulator is set to an integer constant right before the
nest, nothing else in the nest reads or writes it, and the nest's constant trip counts bound the sum
below 2^53 (double) or 2^24 (float). Anything else is left as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from xpiler import ir
from xpiler.ir.analysis import strip_parens, without_parens
from xpiler.ir.dependence import function_env
from xpiler.ir.effects import assigned_scalars, used_names, writes_memory
from xpiler.ir.types import TypeEnv, canonical_base, is_floating, is_integer

from .base import ModulePass, PassError, map_function_bodies
from .bind import module_constants
from .loop_split import body_statements, substitute
from .registry import register

TARGETS = ("vnni", "cuda", "hip", "bang")

# int8 element types by signedness; plain `char` is left alone (its signedness is the platform's)
_INT8 = {"signed char": True, "unsigned char": False}
# dot product implementations by operand signedness (a, b): (function, operands swapped)
_DOTS = {(True, True): ("__xp_dot_s8s8", False), (False, True): ("__xp_dot_u8s8", False),
         (True, False): ("__xp_dot_u8s8", True), (False, False): ("__xp_dot_u8u8", False)}
_DOT_FUNCTIONS = frozenset(f for f, _ in _DOTS.values())
# the largest |a * b| of each pair, to bound floating sums
_LARGEST_PRODUCT = {(True, True): 128 * 128, (False, True): 255 * 128, (True, False): 255 * 128,
                    (False, False): 255 * 255}
_EXACT_INTEGERS = {"double": 2 ** 53, "float": 2 ** 24}
_GPU_SHORTEST = 16   # bytes: shorter dot products of a known length stay loops on CUDA and HIP


@register
@dataclass(frozen=True)
class Tensorize(ModulePass):
    """``target``: the dialect whose intrinsics replace loop nests (``vnni``: int8 dot products by
    ``vpdpbusd``, before ``bind``; ``cuda`` / ``hip``: int8 dot products of at least 16 bytes by the
    four-byte dot instructions (``__dp4a``, ``__builtin_amdgcn_sdot4`` / ``udot4``), and fp16 GEMMs
    spread over a block's threads by WMMA / MFMA tiles, after ``bind``: passes/tensorize_simt.py;
    ``hip`` assumes CDNA's 64-lane wavefronts, and the default pipelines leave it out for
    ``wavefront=32``; ``bang``: element loops on NRAM
    become ``__memcpy``, ``__bang_write_value`` and vector intrinsics, after ``bind``:
    passes/tensorize_bang.py)."""

    name: ClassVar[str] = "tensorize"
    summary: ClassVar[str] = "loop nests computing what a target intrinsic computes become calls of it"
    target: str = "vnni"

    def apply(self, module: ir.Module) -> ir.Module:
        self.require_target(TARGETS)
        if module.dialect != self.target:
            raise PassError(f"tensorize{{target={self.target}}} applies to {self.target} programs, "
                            f"not {module.dialect}")
        constants = module_constants(module)
        if self.target == "bang":
            from .tensorize_bang import BangTensorizer
            return map_function_bodies(module, lambda f: BangTensorizer(f, function_env(module, f), constants).block(f.body)
                                       if f.kind == "kernel" else f.body)
        if self.target in ("cuda", "hip"):
            from .tensorize_simt import MFMA_TYPES, TileGemms
            module = map_function_bodies(module, lambda f: _Tensorizer(function_env(module, f), constants,
                                                                       self.target).block(f.body)
                                         if f.kind != "host" else f.body)
            out = map_function_bodies(module, lambda f: TileGemms(function_env(module, f), constants,
                                                                  self.target).kernel(f.body)
                                      if f.kind == "kernel" else f.body)
            if out == module:
                return out
            at = 0   # after the file's leading includes and comments
            while at < len(out.items) and isinstance(out.items[at], (ir.Include, ir.Comment)):
                at += 1
            if self.target == "cuda":
                added = () if any(isinstance(i, ir.Include) and i.path == "mma.h" for i in out.items) \
                    else (ir.Include("mma.h"),)
            else:
                added = (ir.Verbatim(MFMA_TYPES, "tensorize: MFMA operand types"),)
            return replace(out, items=(*out.items[:at], *added, *out.items[at:]))
        return map_function_bodies(module, lambda f: _Tensorizer(function_env(module, f), constants).block(f.body))


# ---- dot products ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Dot:
    """``acc += a[a_base + r] * b[b_base + r]`` for ``r < length``, ``loop`` the outermost loop it spans."""

    loop: ir.For
    acc: ir.Expr
    a: ir.Expr            # the array operands and the indices of their first elements
    a_index: ir.Expr
    b: ir.Expr
    b_index: ir.Expr
    signed: tuple[bool, bool]
    cast: ir.Type | None  # the type the products are computed in (None: int)
    length: ir.Expr
    trips: int | None     # the length when it is a constant

    def call(self, acc_type: ir.Type) -> ir.Stmt:
        function, swapped = _DOTS[self.signed]
        operands = [ir.UnOp("&", ir.Index(self.a, self.a_index)), ir.UnOp("&", ir.Index(self.b, self.b_index))]
        if swapped:
            operands.reverse()
        call = ir.Call(ir.Name(function), (*operands, self.length), intrinsic=f"vnni.{function[5:]}")
        return ir.ExprStmt(ir.Assign(self.acc, "+=", ir.Cast(acc_type, call)))


class _Tensorizer:
    def __init__(self, env: TypeEnv, constants: dict, target: str = "vnni"):
        self.env, self.constants, self.target = env, constants, target

    # -- walking: statements in order, so a floating accumulator's start is seen before its nest --
    def block(self, b: ir.Block) -> ir.Block:
        body, starts = [], {}
        for s in b.body:
            s = self.statement(s, starts)
            for name in list(starts):
                if name in used_names(s):
                    del starts[name]   # the nest after a start is the only one it covers
            start = _integer_start(s, self.env)
            if start is not None:
                starts[start[0]] = s, start[1]
            body.append(s)
        return replace(b, body=tuple(body))

    def statement(self, s, starts: dict):
        if isinstance(s, ir.For):
            dot = self.dot(s)
            if dot is not None and self.worth(dot):
                replaced = self.replace_dot(dot, s, starts)
                if replaced is not None:
                    return replaced
            for name, (_, value) in list(starts.items()):
                if name in used_names(s):
                    rewritten = self.floating_nest(s, name, value)
                    if rewritten is not None:
                        return rewritten
            s = replace(s, body=self.statement(s.body, {}))
            jammed = self.jam(s) if self.target == "vnni" else None
            return s if jammed is None else jammed
        if isinstance(s, ir.Block):
            return self.block(s)
        if isinstance(s, ir.If):
            return replace(s, then=self.statement(s.then, {}),
                           other=self.statement(s.other, {}) if s.other is not None else None)
        if isinstance(s, ir.While):
            return replace(s, body=self.statement(s.body, {}))
        return s

    def worth(self, dot: Dot) -> bool:
        """On GPUs a call pays only over a few words: one of 4 bytes (a ``vpdpbusd`` lane's scalar
        description) is two ``__dp4a`` and an alignment test against four multiply-adds (H100: 0.7x to
        1.05x the loop over the suite's VNNI int8 programs; BANG's 256-byte rows: 2.9x)."""
        return self.target == "vnni" or dot.trips is None or dot.trips >= _GPU_SHORTEST

    def replace_dot(self, dot: Dot, loop: ir.For, starts: dict):
        acc_type = self.env.type_of(dot.acc)
        if is_integer(acc_type) and canonical_base(acc_type.base) != "bool" and \
                not (dot.cast is not None and canonical_base(dot.cast.base) == "float"):
            return dot.call(acc_type)
        acc = _name(dot.acc)
        if is_floating(acc_type) and acc in starts:
            return self.floating_nest(loop, acc, starts[acc][1])
        return None

    def floating_nest(self, nest: ir.For, acc: str, start: int):
        """``nest`` with its dot products into the floating ``acc`` (which starts at ``start``) replaced,
        when every partial sum is an integer the type holds exactly; else None."""
        acc_type = self.env.lookup(acc).value_type if self.env.lookup(acc) else None
        limit = _EXACT_INTEGERS.get(canonical_base(acc_type.base)) if acc_type is not None else None
        if limit is None:
            return None
        found = []   # (dot, enclosing trip product)

        def walk(s, trips: int) -> bool:
            """False when ``acc`` is used other than by a dot product, or a bound is unknown."""
            if isinstance(s, ir.For):
                dot = self.dot(s)
                if dot is not None and _name(dot.acc) == acc:
                    found.append((s, dot, trips))
                    return self.worth(dot)
                trip = self.trip_count(s)
                if acc not in used_names(s):
                    return True
                if trip is None or acc in used_names(ir.Block((s.init,) if s.init else ())) \
                        or (s.cond is not None and acc in used_names(ir.ExprStmt(s.cond))):
                    return False
                return all(walk(x, trips * trip) for x in body_statements(s))
            if isinstance(s, ir.Block):
                return all(walk(x, trips) for x in s.body)
            return acc not in used_names(s)
        if not walk(nest, 1) or not found:
            return None
        bound = abs(start) + sum(_LARGEST_PRODUCT[dot.signed] * dot.trips * trips
                                 if dot.trips is not None else limit for _, dot, trips in found)
        if bound >= limit:
            return None
        replacements = {id(loop): dot.call(acc_type) for loop, dot, _ in found}

        def rebuild(s):
            if id(s) in replacements:
                return replacements[id(s)]
            if isinstance(s, ir.For):
                return replace(s, body=rebuild(s.body))
            if isinstance(s, ir.Block):
                return replace(s, body=tuple(rebuild(x) for x in s.body))
            return s
        return rebuild(nest)

    # -- four dot products sharing an operand ------------------------------------------------------
    def jam(self, loop: ir.For):
        """``loop`` over ``h`` computing one dot product per iteration, one operand the same in every
        iteration (a GEMM row against the columns of the other matrix), in steps of four: the four
        dot products first, by one ``__xp_dot4_*`` that loads the shared operand once, then the four
        iterations' other statements in order; the last ``< 4`` iterations as they were. Only
        symmetric pairs (int8 x int8, uint8 x uint8: the shared operand can take either side), and
        only when the statements after a dot product write neither operand (the dot products of later
        iterations move before them) and nothing the products read is assigned in the body."""
        c = loop.canonical()
        if c is None or self.value(c[3]) != 1 or not isinstance(loop.init, ir.Decl):
            return None
        h, start, stop, _ = c
        body = list(body_statements(loop))
        calls = [k for k, x in enumerate(body) if _dot_call(x) is not None]
        if len(calls) != 1:
            return None
        k = calls[0]
        acc, cast, call = _dot_call(body[k])
        if call.func.id not in _JAMMED:
            return None
        a, b, n = call.args
        assigned = assigned_scalars(ir.Block(tuple(body)))
        varying = [h in used_names(ir.ExprStmt(x)) for x in (a, b)]
        if varying.count(True) != 1 or h in used_names(ir.ExprStmt(n)) or h in assigned or \
                used_names(ir.ExprStmt(ir.Comma(ir.Comma(a, b), n))) & (assigned - {h}) or \
                used_names(ir.ExprStmt(stop)) & assigned or any(_jumps(x) for x in body):
            return None
        each, shared = (a, b) if varying[0] else (b, a)
        operands = {_name(_array_of(each)), _name(_array_of(shared))}
        written = _written_arrays(ir.Block(tuple(body[k + 1:])))
        if None in operands or written is None or written & operands or \
                any(writes_memory(x) for x in body[:k]):
            return None
        j, dots = ir.Name("__xp_j"), ir.Name("__xp_dots")
        moved = {h: ir.Paren(ir.BinOp("+", ir.Name(h), j))}
        per = [_bare_subscripts(substitute(x, moved)) for x in body[:k]] + \
            [ir.ExprStmt(ir.Assign(acc, "+=", ir.Cast(cast, ir.Index(dots, j))))] + \
            [_bare_subscripts(substitute(x, moved)) for x in body[k + 1:]]
        four = ir.Call(ir.Name(_JAMMED[call.func.id]), tuple(
            substitute(each, {h: ir.Paren(ir.BinOp("+", ir.Name(h), ir.Const(str(i), i)))}) if i else each
            for i in range(4)) + (shared, n, dots), intrinsic=f"vnni.{_JAMMED[call.func.id][5:]}")
        long_long = ir.Type("long long")
        steps = ir.For(None, ir.BinOp(">=", ir.BinOp("-", ir.Cast(long_long, stop), ir.Cast(long_long, ir.Name(h))),
                                        ir.Const("4", 4)),
                       ir.Assign(ir.Name(h), "+=", ir.Const("4", 4)), ir.Block((
                           ir.Decl((ir.Declarator("__xp_dots", long_long, (ir.Const("4", 4),)),)),
                           ir.ExprStmt(four),
                           ir.For(ir.Decl((ir.Declarator("__xp_j", ir.Type("int"), (), ir.Const("0", 0)),)),
                                  ir.BinOp("<", j, ir.Const("4", 4)), ir.UnOp("++", j), ir.Block(tuple(per))))))
        rest = replace(loop, init=None)
        return ir.Block((loop.init, steps, rest))

    # -- matching ---------------------------------------------------------------------------------
    def trip_count(self, loop: ir.For) -> int | None:
        c = loop.canonical()
        if c is None:
            return None
        _, start, stop, step = c
        start, stop, step = (self.value(e) for e in (start, stop, step))
        if None in (start, stop, step) or step != 1:
            return None
        return max(stop - start, 0)

    def value(self, e) -> int | None:
        return constant(e, self.constants)

    def dot(self, loop: ir.For) -> Dot | None:
        """The dot product ``loop`` computes, spanning the loops nested in it end to end, or None."""
        c = loop.canonical()
        if c is None or self.value(c[3]) != 1:
            return None
        var, start, stop, _ = c
        body = body_statements(loop)
        if len(body) != 1:
            return None
        if isinstance(body[0], ir.For):   # an outer loop over consecutive runs of an inner dot product
            inner = self.dot(body[0])
            run = inner.trips if inner is not None else None
            trips = self.trip_count(loop)
            if inner is None or run is None or trips is None or var in used_names(ir.ExprStmt(inner.acc)):
                return None
            if any(_coefficient(index, var, self.constants) != run for index in (inner.a_index, inner.b_index)):
                return None
            first = {var: start}
            return replace(inner, loop=loop, a_index=_without_zeros(substitute(inner.a_index, first)),
                           b_index=_without_zeros(substitute(inner.b_index, first)),
                           length=ir.BinOp("*", _extent(start, stop, self.value), inner.length),
                           trips=run * trips)
        update = _accumulation(body[0])
        if update is None:
            return None
        acc, a, a_index, b, b_index, cast = update
        if var in used_names(ir.ExprStmt(acc)) or var in used_names(ir.ExprStmt(ir.Comma(a, b))) \
                or used_names(ir.ExprStmt(acc)) & used_names(ir.ExprStmt(ir.Comma(a, b))):
            return None
        signed = (self.int8(a), self.int8(b))
        if None in signed or not _wide_enough(cast):
            return None
        if any(_coefficient(index, var, self.constants) != 1 for index in (a_index, b_index)):
            return None
        first = {var: start}
        return Dot(loop, acc, a, _without_zeros(substitute(a_index, first)), b,
                   _without_zeros(substitute(b_index, first)), signed, cast, _extent(start, stop, self.value),
                   self.trip_count(loop))

    def int8(self, array) -> bool | None:
        """True for an array of int8, False for uint8, None for anything else; an array of other
        elements read as bytes (``((const uint8_t *)a)[i]``, the scalar description of ``vpdpbusd``
        over 32-bit lanes) by the type it is read as."""
        array = strip_parens(array)
        if isinstance(array, ir.Cast) and array.type.pointer == 1 and isinstance(strip_parens(array.operand), ir.Name):
            t = self.env.type_of(strip_parens(array.operand))   # arrays decay to pointers
            return _INT8.get(canonical_base(array.type.base)) if t is not None and t.pointer >= 1 else None
        t = self.env.element_type(array) if isinstance(array, ir.Name) else None
        return _INT8.get(canonical_base(t.base)) if t is not None and t.pointer == 0 else None


_JAMMED = {"__xp_dot_s8s8": "__xp_dot4_s8s8", "__xp_dot_u8u8": "__xp_dot4_u8u8"}


def _dot_call(s):
    """``(acc, type, call)`` of ``acc += (T)__xp_dot_*(...)``, else None."""
    if isinstance(s, ir.ExprStmt) and isinstance(s.expr, ir.Assign) and s.expr.op == "+=" and \
            isinstance(s.expr.value, ir.Cast) and isinstance(s.expr.value.operand, ir.Call) and \
            isinstance(s.expr.value.operand.func, ir.Name) and s.expr.value.operand.func.id in _DOT_FUNCTIONS:
        return s.expr.target, s.expr.value.type, s.expr.value.operand
    return None


def _array_of(pointer):
    """``a`` of ``&a[i]``."""
    pointer = strip_parens(pointer)
    if isinstance(pointer, ir.UnOp) and pointer.op == "&" and isinstance(strip_parens(pointer.operand), ir.Index):
        return strip_parens(pointer.operand).base
    return None


def _name(e) -> str | None:
    e = strip_parens(e) if e is not None else None
    return e.id if isinstance(e, ir.Name) else None


def _written_arrays(node) -> set[str] | None:
    """Names of the arrays ``node`` stores into (``a[i] = ...``), None when a store's target is not
    an element of a named array (through a pointer expression, a member)."""
    out = set()
    for n in ir.walk(node):
        target = n.target if isinstance(n, ir.Assign) else n.operand if isinstance(n, ir.UnOp) and \
            n.op in ("++", "--") else None
        target = strip_parens(target) if target is not None else None
        if target is None or isinstance(target, ir.Name):
            continue
        while isinstance(target, ir.Index):
            target = strip_parens(target.base)
        if not isinstance(target, ir.Name):
            return None
        out.add(target.id)
    return out


def _bare_subscripts(node):
    """``a[(i + j)]`` as ``a[i + j]``."""
    return ir.rewrite(node, lambda n: replace(n, index=n.index.inner)
                      if isinstance(n, ir.Index) and isinstance(n.index, ir.Paren) else n)


def _jumps(node) -> bool:
    return any(isinstance(n, (ir.Jump, ir.Return, ir.Verbatim, ir.RawExpr)) for n in ir.walk(node))


def constant(e, constants: dict) -> int | None:
    """The value of integer expression ``e`` with the module's macros (``constants``) as their values:
    sums and products as a polynomial without variables, else what the constant folder folds."""
    poly = _polynomial(e, constants, "")
    if poly is not None and all(m == () for m in poly):
        return poly.get((), 0)
    from .constant_fold import const_value
    found = const_value(substitute(e, {k: ir.Const(str(v), v) for k, v in constants.items() if isinstance(v, int)}))
    return found[0] if found is not None and isinstance(found[0], int) else None


def _extent(start, stop, value):
    """The trip count ``stop - start`` of a unit-step loop, as the program spells it."""
    if value(start) == 0:
        return stop
    return ir.Paren(ir.BinOp("-", stop, ir.Paren(start) if isinstance(start, ir.BinOp) else start))


def _without_zeros(e):
    """``e`` without the ``+ 0`` terms substituting a loop's first value left."""
    zero = ir.Const("0", 0)

    def one(n):
        if isinstance(n, ir.BinOp) and n.op in "+-" and strip_parens(n.right) == zero:
            return n.left
        if isinstance(n, ir.BinOp) and n.op == "+" and strip_parens(n.left) == zero:
            return n.right
        if isinstance(n, ir.BinOp) and n.op == "*" and zero in (strip_parens(n.left), strip_parens(n.right)):
            return zero
        if isinstance(n, ir.Paren) and isinstance(n.inner, (ir.Name, ir.Const, ir.Index)):
            return n.inner
        return n
    return ir.rewrite(e, one)


def _integer_start(s, env: TypeEnv):
    """``(name, value)`` of ``T x = c;`` / ``x = c;`` with ``x`` a floating scalar and ``c`` an integer
    constant, else None."""
    from .constant_fold import const_value
    if isinstance(s, ir.Decl) and len(s.vars) == 1 and not s.vars[0].dims and s.vars[0].init is not None:
        name, value = s.vars[0].name, s.vars[0].init
    elif isinstance(s, ir.ExprStmt) and isinstance(s.expr, ir.Assign) and s.expr.op == "=" \
            and isinstance(strip_parens(s.expr.target), ir.Name):
        name, value = strip_parens(s.expr.target).id, s.expr.value
    else:
        return None
    var = env.lookup(name)
    if var is None or not is_floating(var.value_type):
        return None
    value = strip_parens(value)
    if isinstance(value, ir.Const) and isinstance(value.value, float) and value.value.is_integer():
        return name, int(value.value)
    found = const_value(value)
    return (name, found[0]) if found is not None and isinstance(found[0], int) else None


def _accumulation(s):
    """``(acc, a, a_index, b, b_index, cast)`` of ``acc += (T)a[i] * (T)b[j]`` (or ``acc = acc + ...``),
    ``cast`` the type both operands are converted to (None: none, C's promotion to int)."""
    if not isinstance(s, ir.ExprStmt) or not isinstance(s.expr, ir.Assign):
        return None
    e = s.expr
    if e.op == "+=":
        product = strip_parens(e.value)
    elif e.op == "=" and isinstance(strip_parens(e.value), ir.BinOp) and strip_parens(e.value).op == "+":
        total = strip_parens(e.value)
        if strip_parens(total.left) == strip_parens(e.target):
            product = strip_parens(total.right)
        elif strip_parens(total.right) == strip_parens(e.target):
            product = strip_parens(total.left)
        else:
            return None
    else:
        return None
    if not (isinstance(product, ir.BinOp) and product.op == "*"):
        return None
    operands = []
    for x in (product.left, product.right):
        x = strip_parens(x)
        cast = None
        if isinstance(x, ir.Cast):
            cast, x = x.type, strip_parens(x.operand)
        if not isinstance(x, ir.Index):
            return None
        operands.append((cast, x))
    (cast_a, a), (cast_b, b) = operands
    if cast_a != cast_b:
        return None
    return strip_parens(e.target), a.base, a.index, b.base, b.index, cast_a


def _wide_enough(cast) -> bool:
    """Products of bytes converted to ``cast`` are their exact values: no conversion (int), or one to a
    signed type of at least 32 bits or a floating one (an unsigned type would wrap negative ones)."""
    if cast is None:
        return True
    return cast.pointer == 0 and canonical_base(cast.base) in ("int", "long", "long long", "float", "double")


# ---- integer polynomials ------------------------------------------------------------------------------
def _coefficient(index, var: str, constants: dict) -> int | None:
    """The constant ``c`` with ``index == c * var + (terms free of var)``, or None when ``index`` is
    not of that form (products of ``var`` with variables, ``var`` under a division...)."""
    poly = _polynomial(index, constants, var)
    if poly is None:
        return None
    c = 0
    for monomial, k in poly.items():
        if var in monomial:
            if monomial != (var,):
                return None
            c += k
    return c


def _polynomial(e, constants: dict, var: str, depth: int = 32):
    """``e`` as ``{monomial: coefficient}`` (a monomial a sorted tuple of names; subexpressions that are
    not sums or products, such as ``x / 2``, are names of their own, ``#<the node>``, when they do
    not use ``var``), or None."""
    e = strip_parens(e)
    if depth == 0:
        return None
    if isinstance(e, ir.Const):
        return {(): e.value} if isinstance(e.value, int) and not isinstance(e.value, bool) else None
    if isinstance(e, ir.Name):
        v = constants.get(e.id)
        return {(): v} if isinstance(v, int) else {(e.id,): 1}
    if isinstance(e, ir.Cast) and is_integer(e.type):
        return _polynomial(e.operand, constants, var, depth - 1)
    if isinstance(e, ir.UnOp) and e.op in "+-" and not e.postfix:
        inner = _polynomial(e.operand, constants, var, depth - 1)
        return None if inner is None else {m: (-k if e.op == "-" else k) for m, k in inner.items()}
    if isinstance(e, ir.BinOp) and e.op in ("+", "-", "*"):
        left, right = _polynomial(e.left, constants, var, depth - 1), _polynomial(e.right, constants, var, depth - 1)
        if left is None or right is None:
            return None
        out: dict = {}
        if e.op == "*":
            for ma, ka in left.items():
                for mb, kb in right.items():
                    m = tuple(sorted(ma + mb))
                    out[m] = out.get(m, 0) + ka * kb
        else:
            out = dict(left)
            for m, k in right.items():
                out[m] = out.get(m, 0) + (k if e.op == "+" else -k)
        return {m: k for m, k in out.items() if k != 0}
    if not _pure(e) or var in used_names(ir.ExprStmt(e)):
        return None
    # the node itself names it (printing would need a dialect that spells every built-in)
    return {("#" + repr(without_parens(e)),): 1}


def _pure(e) -> bool:
    return not any(isinstance(n, (ir.Assign, ir.Call, ir.RawExpr)) or isinstance(n, ir.UnOp) and n.op in ("++", "--")
                   for n in ir.walk(e))
