"""Tensorize for BANG (``tensorize{target=bang}``): element loops on NRAM become DMA and vector calls.

After ``bind{target=bang}`` a task's buffers are ``__nram__`` arrays, and the loops that fill, combine
and drain them are still element loops. Three kinds of innermost loop ``for (int i = a; i < b; ++i)``
become intrinsic calls, each matched by the registry's scalar description (xpiler/intrinsics/bang.py):

* a **copy** ``D[d + i] = S[s + i]`` between NRAM and GDRAM (or two NRAM arrays), with one element type
  on both sides, is ``__memcpy(&D[d + a], &S[s + a], (b - a) * sizeof(T), GDRAM2NRAM)`` (the
  registry's byte copy; a count that may be zero or negative is guarded);
* a **fill** ``D[d + i] = v`` of an NRAM array, ``v`` invariant and of the element type, is
  ``__bang_write_value(&D[d + a], b - a, v)``;
* an **element-wise** body ``D[d + i] = E`` on NRAM arrays is a sequence of vector calls: ``E`` is
  covered bottom up by the descriptions ``dst[i] = f(a[i], b[i], s)`` of the vector intrinsics whose
  description is plain arithmetic (``__bang_add``, ``__bang_mul_scalar``, ``__bang_maximum``,
  ``__bang_relu``, comparisons, ...), ``+`` and ``*`` also with their operands swapped; inner results
  go to ``__nram__`` temporaries (``float`` only, constant counts: ``half`` arithmetic in C keeps the
  intermediate in ``float``, a ``half`` temporary would round it).

Exact by construction: every operand has the destination's element type (no conversion is moved),
scalar operands are invariant in the loop and of that type (an ``int`` literal only when the type
represents it exactly), and every NRAM array the body touches is touched at one offset only, so the
statements may run one after the other over the whole range (each iteration reads and writes only
its own element of every array). Intrinsics whose description calls a function (division, square
roots, the table-based activations) are never chosen: their hardware results are not the C ones.
Counts are left as the source has them: BANG 3xx rules (no 128-byte multiple required; the
emulation's strict mode checks the 2xx rules).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

from xpiler import ir
from xpiler.intrinsics import REGISTRY
from xpiler.intrinsics.registry import Intrinsic
from xpiler.ir.analysis import statements, strip_parens, without_parens
from xpiler.ir.effects import assigned_scalars, declared_names, used_names
from xpiler.ir.types import TypeEnv, canonical_base, literal_type, sizeof

from .bind import NRAM_LIMIT, array_bytes, buffer_bytes, const_value
from .detensorize import template
from .loop_split import fresh, is_const
from .tensorize_bang_matmul import MatmulNests, array_names, counted_loop

ELEMENT_TYPES = ("float", "half")
TEMPORARY_TYPES = ("float",)
_COMMUTATIVE = ("+", "*")


@dataclass(frozen=True)
class VectorOp:
    """A vector intrinsic as a pattern: ``dst[i] = expr`` over array holes ``a[i]``, scalar holes."""

    intrinsic: Intrinsic
    function: str
    order: tuple[str, ...]     # parameter names in call order
    expr: ir.Expr
    arrays: frozenset          # array operand holes (``a``, ``b``)
    scalars: frozenset         # scalar operand holes (``s``)


@functools.lru_cache(maxsize=None)
def vector_ops() -> tuple[VectorOp, ...]:
    """The registry's BANG vector intrinsics whose description is ``for (i < n) dst[i] = E;`` with
    ``E`` plain arithmetic on ``a[i]``, ``b[i]``, ``s`` and literals."""
    ops = []
    for intr in REGISTRY:
        spelling = intr.spelling("bang")
        if intr.kind != "vector" or spelling is None or intr.scalar is None:
            continue
        tpl = template(intr.signature, intr.scalar)
        if len(tpl.body) != 1 or not isinstance(tpl.body[0], ir.For):
            continue
        loop = tpl.body[0]
        body = statements(loop.body)
        if len(body) != 1 or not isinstance(body[0], ir.ExprStmt) or not isinstance(body[0].expr, ir.Assign):
            continue
        assign = body[0].expr
        if assign.op != "=" or without_parens(assign.target) != ir.Index(ir.Name("dst"), ir.Name("i")):
            continue
        expr = without_parens(assign.value)
        if any(isinstance(n, (ir.Call, ir.Cast, ir.Index)) and not _is_hole(n) for n in ir.walk(expr)):
            continue
        params = {p.name: p for p in tpl.params}
        arrays = frozenset(p for p in params if p not in ("dst", "n") and params[p].type.pointer)
        scalars = frozenset(p for p in params if p not in ("dst", "n") and not params[p].type.pointer)
        ops.append(VectorOp(intr, spelling.function, spelling.order, expr, arrays, scalars))
    # the fewest operands first: `x * x` is __bang_square, `x > 0 ? x : 0` __bang_relu
    return tuple(sorted(ops, key=lambda op: len(op.arrays) + len(op.scalars)))


def _is_hole(n) -> bool:
    return isinstance(n, ir.Index) and isinstance(n.base, ir.Name) and n.index == ir.Name("i")


def unify(pattern, expr, op: VectorOp, binding: dict) -> dict | None:
    """Holes of ``pattern`` bound to the parts of ``expr`` (the same hole to equal parts), or None."""
    if _is_hole(pattern) and pattern.base.id in op.arrays:
        return _bind(binding, pattern.base.id, expr)
    if isinstance(pattern, ir.Name) and pattern.id in op.scalars:
        return _bind(binding, pattern.id, expr)
    if isinstance(pattern, ir.Const):
        return binding if isinstance(expr, ir.Const) and _number(expr) is not None and \
            _number(expr) == _number(pattern) else None
    if type(pattern) is not type(expr):
        return None
    if isinstance(pattern, ir.BinOp):
        if pattern.op != expr.op:
            return None
        found = _unify_all((pattern.left, pattern.right), (expr.left, expr.right), op, binding)
        if found is None and pattern.op in _COMMUTATIVE:
            found = _unify_all((pattern.left, pattern.right), (expr.right, expr.left), op, binding)
        return found
    if isinstance(pattern, ir.UnOp):
        return unify(pattern.operand, expr.operand, op, binding) \
            if pattern.op == expr.op and not pattern.postfix and not expr.postfix else None
    if isinstance(pattern, ir.Ternary):
        return _unify_all((pattern.cond, pattern.then, pattern.other), (expr.cond, expr.then, expr.other), op, binding)
    return None


def _unify_all(patterns, exprs, op, binding):
    for p, e in zip(patterns, exprs):
        binding = unify(p, e, op, binding)
        if binding is None:
            return None
    return binding


def _bind(binding: dict, hole: str, expr) -> dict | None:
    if hole in binding:
        return binding if binding[hole] == expr else None
    return {**binding, hole: expr}


def _number(c: ir.Const):
    return c.value if isinstance(c.value, (int, float)) and not isinstance(c.value, bool) else None


def unit_offset(index, var: str):
    """``d`` when ``index`` is ``d + var`` (in any association) with ``d`` free of ``var``, else None."""
    index = strip_parens(index)
    if index == ir.Name(var):
        return ir.Const("0", 0)
    if isinstance(index, ir.BinOp) and index.op in ("+", "-"):
        left_has, right_has = var in used_names(index.left), var in used_names(index.right)
        if left_has and not right_has:
            inner = unit_offset(index.left, var)
            return None if inner is None else _plus(inner, index.op, index.right)
        if right_has and not left_has and index.op == "+":
            inner = unit_offset(index.right, var)
            return None if inner is None else _plus(inner, "+", index.left)
    return None


def _plus(a, op, b):
    """``a + b`` or ``a - b``, constants folded."""
    va, vb = _int(a), _int(b)
    if va is not None and vb is not None:
        return ir.Const(str(va + vb if op == "+" else va - vb), va + vb if op == "+" else va - vb)
    if vb == 0:
        return a
    if va == 0 and op == "+":
        return b
    if vb is not None and vb < 0:
        op, b = ("-" if op == "+" else "+"), ir.Const(str(-vb), -vb)
    return ir.BinOp(op, a, _paren(b) if op == "-" else b)


def _int(e) -> int | None:
    e = strip_parens(e)
    return e.value if isinstance(e, ir.Const) and isinstance(e.value, int) and not isinstance(e.value, bool) else None


# ---- the pass's work on one function ---------------------------------------------------------------

@dataclass(frozen=True)
class Array:
    name: str
    memory: str          # "nram" or "gdram"
    element: ir.Type


class BangTensorizer:
    def __init__(self, function: ir.Function, env: TypeEnv, constants: dict):
        self.env, self.function = env, function
        self.arrays = _arrays(function)
        self.array_names = array_names(function)
        self.taken = used_names(function) | declared_names(function.body)
        self.constants = constants
        self.nram_bytes = buffer_bytes(function, constants, "nram", NRAM_LIMIT)   # what the task's buffers take already
        self.matmuls = MatmulNests(self)

    def block(self, node):
        """``node`` with every matching innermost loop replaced (temporaries declared where the
        loop was)."""
        def alone(s):   # a loop that is the body of a loop or a branch, without braces
            if not isinstance(s, ir.For):
                return s
            out = self.loop(s)
            return out[0] if len(out) == 1 else ir.Block(out)

        def fn(n):
            if isinstance(n, ir.Block):
                out = []
                for s in n.body:
                    out.extend(self.loop(s) if isinstance(s, ir.For) else (s,))
                return replace(n, body=tuple(out))
            if isinstance(n, (ir.For, ir.While)):
                return replace(n, body=alone(n.body))
            if isinstance(n, ir.If):
                return replace(n, then=alone(n.then), other=alone(n.other))
            return n
        return ir.rewrite(node, fn)

    def loop(self, loop: ir.For) -> tuple:
        gemm = self.matmuls.rewrite(loop)
        if gemm is not None:
            return gemm
        counted = counted_loop(loop)
        if counted is None:
            return (loop,)
        var, start, stop = counted
        body = statements(loop.body)
        assigns = [s.expr for s in body if isinstance(s, ir.ExprStmt) and isinstance(s.expr, ir.Assign)]
        if not assigns or len(assigns) != len(body) or any(a.op != "=" for a in assigns):
            return (loop,)
        if var in assigned_scalars(loop.body) or any(not isinstance(a.target, ir.Index) for a in assigns):
            return (loop,)
        count = _plus(stop, "-", start)
        work = _Loop(self, var, start, count, assigns)
        calls = work.calls()
        return (loop,) if calls is None else tuple(calls)

    def fresh(self, base: str) -> str:
        name = fresh(base, self.taken)
        self.taken.add(name)
        return name


def _arrays(function: ir.Function) -> dict[str, Array]:
    """Arrays by name: pointer parameters (GDRAM) and ``__nram__`` arrays; a name declared twice
    with different memories or element types is left out."""
    found: dict[str, Array] = {}
    clash = set()

    def add(a: Array):
        if a.name in found and found[a.name] != a:
            clash.add(a.name)
        found[a.name] = a
    for p in function.params:
        if p.type.pointer == 1 and not p.dims and canonical_base(p.type.base) in ELEMENT_TYPES:
            add(Array(p.name, "gdram", ir.Type(canonical_base(p.type.base))))
    for n in ir.walk(function.body):
        if isinstance(n, ir.Decl):
            for v in n.vars:
                if n.scope == "nram" and len(v.dims) == 1 and v.type.pointer == 0 and \
                        canonical_base(v.type.base) in ELEMENT_TYPES:
                    add(Array(v.name, "nram", ir.Type(canonical_base(v.type.base))))
                elif v.name in found or v.name in {p.name for p in function.params}:
                    clash.add(v.name)
    return {k: v for k, v in found.items() if k not in clash}


class _Loop:
    """One candidate loop: ``var`` from ``start``, ``count`` iterations, the body's assignments."""

    def __init__(self, owner: BangTensorizer, var, start, count, assigns):
        self.owner, self.var, self.start, self.count, self.assigns = owner, var, start, count, assigns
        self.trips = const_value(count, owner.constants)   # the count when it is a constant
        self.offsets: dict[str, ir.Expr] = {}   # array -> its one offset in the body
        self.temporaries: list[ir.Decl] = []     # __nram__ arrays holding inner results

    def temporary_bytes(self) -> int:
        return sum(array_bytes(d.vars[0], self.owner.constants) for d in self.temporaries)

    def operand(self, e) -> tuple[Array, ir.Expr] | None:
        """``(array, offset)`` when ``e`` is ``X[offset + var]`` of a known array."""
        e = strip_parens(e)
        if not isinstance(e, ir.Index) or not isinstance(e.base, ir.Name) or e.base.id not in self.owner.arrays:
            return None
        offset = unit_offset(e.index, self.var)
        return None if offset is None else (self.owner.arrays[e.base.id], offset)

    def at(self, array: Array, offset) -> ir.Expr:
        """``&X[offset + start]``, the address of the first element the loop touches."""
        first = _plus(offset, "+", self.start)
        return ir.Name(array.name) if is_const(first, 0) else ir.UnOp("&", ir.Index(ir.Name(array.name), first))

    def consistent(self) -> bool:
        """Every array the body touches is touched at one offset, and everything else the body
        reads is invariant (no name it assigns, no array it writes)."""
        written = set()
        for a in self.assigns:
            found = self.operand(a.target)
            if found is None:
                return False
            written.add(found[0].name)
        for a in self.assigns:
            for n in ir.walk(a):
                if isinstance(n, ir.Index):
                    found = self.operand(n)
                    if found is None:
                        if self.var in used_names(n) or (isinstance(n.base, ir.Name) and n.base.id in written):
                            return False
                        continue
                    array, offset = found
                    if self.offsets.setdefault(array.name, without_parens(offset)) != without_parens(offset):
                        return False
        return True

    def calls(self) -> list | None:
        if not self.consistent():
            return None
        if len(self.assigns) == 1:
            copy = self.copy(self.assigns[0])
            if copy is not None:
                return copy
        out = []
        for a in self.assigns:
            stmts = self.elementwise(a)
            if stmts is None:
                return None
            out.extend(stmts)
        self.owner.nram_bytes += self.temporary_bytes()
        return self.temporaries + out

    # -- copies ------------------------------------------------------------------------------------
    def copy(self, assign: ir.Assign) -> list | None:
        dst, src = self.operand(assign.target), self.operand(assign.value)
        if dst is None or src is None or dst[0].element != src[0].element or dst[0].name == src[0].name:
            return None
        direction = {("nram", "gdram"): "GDRAM2NRAM", ("gdram", "nram"): "NRAM2GDRAM",
                     ("nram", "nram"): "NRAM2NRAM"}.get((dst[0].memory, src[0].memory))
        if direction is None:
            return None
        size = ir.BinOp("*", _paren(self.count), ir.SizeOf(type=dst[0].element))
        call = ir.Call(ir.Name("__memcpy"), (self.at(*dst), self.at(*src), size, ir.Name(direction)),
                       intrinsic="bang.memcpy")
        return [self.guarded(ir.ExprStmt(call))]

    def guarded(self, stmt) -> ir.Stmt:
        """``stmt`` when the count is a positive constant, else under ``if (count > 0)``."""
        if self.trips is not None and self.trips > 0:
            return stmt
        return ir.If(ir.BinOp(">", _paren(self.count), ir.Const("0", 0)), ir.Block((stmt,)))

    # -- fills and element-wise arithmetic -----------------------------------------------------------
    def elementwise(self, assign: ir.Assign) -> list | None:
        dst = self.operand(assign.target)
        if dst is None or dst[0].memory != "nram":
            return None
        element = dst[0].element
        value = strip_parens(assign.value)
        if self.scalar(value, element):
            call = ir.Call(ir.Name("__bang_write_value"), (self.at(*dst), self.count, value),
                           intrinsic="bang.write_value")
            return [self.guarded(ir.ExprStmt(call))]
        stmts: list = []
        if self.cover(without_parens(value), element, self.at(*dst), stmts) is None:
            return None
        return [self.guarded(s) for s in stmts]

    def scalar(self, e, element: ir.Type) -> bool:
        """``e`` is invariant in the loop, reads no memory, and has the element type (an integer
        literal only when the element type holds it exactly)."""
        if self.var in used_names(e) or any(isinstance(n, (ir.Index, ir.Call, ir.Assign)) for n in ir.walk(e)):
            return False
        if isinstance(e, ir.Const):
            t = literal_type(e)
            if t is not None and canonical_base(t.base) == element.base:
                return True
            return isinstance(e.value, int) and not isinstance(e.value, bool) and abs(e.value) <= 2048
        t = self.owner.env.type_of(e)
        return t is not None and t.pointer == 0 and canonical_base(t.base) == element.base

    def cover(self, e, element: ir.Type, dst, stmts: list) -> ir.Expr | None:
        """Calls computing ``e`` element-wise into ``dst`` (a fresh temporary when None); the address
        of the result, or None when ``e`` is not covered."""
        found = self.operand(e)
        if found is not None:
            array, offset = found
            if array.element != element or dst is not None:
                return None
            if array.memory == "nram":
                return self.at(array, offset)
            # an operand in GDRAM (the body writes only NRAM): staged into NRAM before the calls
            staged = self.temporary(element)
            if staged is not None:
                size = ir.BinOp("*", _paren(self.count), ir.SizeOf(type=element))
                stmts.append(ir.ExprStmt(ir.Call(ir.Name("__memcpy"), (staged, self.at(array, offset), size,
                                                                       ir.Name("GDRAM2NRAM")), intrinsic="bang.memcpy")))
            return staged
        for op in vector_ops():
            binding = unify(op.expr, e, op, {})
            if binding is None:
                continue
            emitted, declared = len(stmts), len(self.temporaries)
            args = {}
            for hole in op.scalars:
                if not self.scalar(binding[hole], element):
                    break
                args[hole] = binding[hole]
            else:
                for hole in sorted(op.arrays):
                    args[hole] = self.cover(binding[hole], element, None, stmts)
                    if args[hole] is None:
                        break
                else:
                    if dst is None:
                        dst = self.temporary(element)
                        if dst is None:
                            return None
                    args.update(dst=dst, n=self.count)
                    call = ir.Call(ir.Name(op.function), tuple(args[p] for p in op.order), intrinsic=op.intrinsic.name)
                    stmts.append(ir.ExprStmt(call))
                    return dst
            # this intrinsic does not cover e: forget what trying it emitted
            self.owner.taken -= {d.vars[0].name for d in self.temporaries[declared:]}
            del stmts[emitted:], self.temporaries[declared:]
        return None

    def temporary(self, element: ir.Type) -> ir.Expr | None:
        if element.base not in TEMPORARY_TYPES or self.trips is None or self.trips <= 0:
            return None
        size = self.trips * sizeof(element)
        if self.owner.nram_bytes + self.temporary_bytes() + size > NRAM_LIMIT:
            return None
        name = self.owner.fresh("__xp_v")
        self.temporaries.append(ir.Decl((ir.Declarator(name, element, (strip_parens(self.count),)),), scope="nram"))
        return ir.Name(name)


def _paren(e):
    e = strip_parens(e)
    return e if isinstance(e, (ir.Name, ir.Const)) else ir.Paren(e)
