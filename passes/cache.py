"""Cache (``cache{target=bang}``): a thread loop's operands go through NRAM, a chunk at a time.

A SIMT kernel lowered to C keeps its threads as the innermost loop of each block, one element per
thread; raised to BANG as it is, every element is a scalar access to GDRAM. The loop is what a
BANG programmer writes as one chunk: load the operands of all its elements into NRAM, compute there,
store the results. This pass (TVM's ``cache_read`` / ``cache_write`` on that loop) stages them::

    for (unsigned tx = 0; tx < 128; ++tx) {     {
      int i = bx * 128 + tx;                       int i_0 = bx * 128;
      if (i < n)                                   float __xp_x[128];
        y[i] = x[i] * 2.0f;                        float __xp_y[128];
    }                                              long long __xp_n = 128;
                                         =>        if (((long long)(n) - (long long)(i_0)) < __xp_n)
                                                     __xp_n = (long long)(n) - (long long)(i_0);
                                                   for (int __xp_r = 0; __xp_r < __xp_n; ++__xp_r)
                                                     __xp_x[__xp_r] = x[(i_0) + __xp_r];
                                                   for (int __xp_r = 0; __xp_r < __xp_n; ++__xp_r)
                                                     __xp_y[__xp_r] = __xp_x[__xp_r] * 2.0f;
                                                   for (int __xp_r = 0; __xp_r < __xp_n; ++__xp_r)
                                                     y[(i_0) + __xp_r] = __xp_y[__xp_r];
                                                 }

``bind{target=bang}`` then puts the buffers in ``__nram__`` and ``tensorize{target=bang}`` turns the
copy loops into ``__memcpy`` and the element loop, where it is plain arithmetic, into vector calls.

Which loops: a recovered thread loop (``For.kind == "threads"``: its iterations are independent by
provenance) that is innermost, runs from 0 to a constant extent (the chunk, at most ``MAX_CHUNK``),
and whose body is pure scalar definitions, then either the work or one ``if`` (no ``else``) around it;
or whose body is definitions and one loop: a loop over the parts of a fused axis (moved outside the
chunk) or a grid-stride loop (a loop over chunks). Exact when, as checked:

* every element touches every array at ``offset + tx`` (offsets free of ``tx``; the definitions
  substituted to see it), or at a place free of ``tx``; an array written is touched at one offset
  only (its element, perhaps read first: one buffer loaded, updated and stored) and read nowhere
  else, so loading all elements' operands first, then computing, then storing gives what element
  after element gave;
* every store is a statement of the work itself (not under a condition of its own), so the chunk's
  result buffer holds a value for every element it stores;
* the guard is a conjunction of conditions free of ``tx`` (the chunk runs or not) and of ``L < R`` /
  ``L <= R`` (or mirrored) compared in a signed integer type with ``L = L0 + tx``: those hold for a
  prefix of the elements, whose length is ``R - L0`` (computed in ``long long`` from the definitions
  at ``tx = 0``, which the original evaluated too);
* nothing else touches memory: no pointer dereferences or address-of, calls only of pure functions
  (the registry's math and conversions, or the module's functions that touch no memory), no loops,
  jumps or barriers, and the body assigns only scalars it declares.

Indices are assumed not to wrap, as everywhere in binding (``offset + tx`` is the element's index in
the index's own type). Loops that do not qualify stay as they are; other targets raise (not
implemented).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import ClassVar

from xpiler import ir
from xpiler.ir.analysis import conjuncts, conjunction, statements, strip_parens, without_parens
from xpiler.ir.dependence import function_env
from xpiler.ir.effects import (assigned_scalars, declaration_counts, declared_names, header_names, is_pure_call,
                               touches_memory, used_names)
from xpiler.ir.types import TypeEnv, arithmetic, is_integer, is_unsigned, sizeof

from .base import ModulePass, rewrite_kernels
from .bind import const_value, module_constants
from .loop_split import counted_loop, fresh, substitute
from .registry import register
from .tensorize_bang import unit_offset as element_offset

TARGETS = ("bang",)
MAX_CHUNK = 4096               # elements: a thread loop longer than this is left alone
BUFFER_BYTES = 128 * 1024      # NRAM the buffers of one loop may take (of 512 KB; bind counts the total)

LL = ir.Type("long long")
_MIRRORED = {">": "<", ">=": "<="}


@register
@dataclass(frozen=True)
class Cache(ModulePass):
    """``target``: where the buffers live (``bang``: NRAM, before ``bind{target=bang}``)."""

    name: ClassVar[str] = "cache"
    summary: ClassVar[str] = "a thread loop's operands staged through on-chip buffers, a chunk per loop"
    target: str = "bang"

    def apply(self, module: ir.Module) -> ir.Module:
        self.require_target(TARGETS)
        constants = module_constants(module)
        functions = {i.name: i for i in module.items if isinstance(i, ir.Function) and i.body is not None}
        return rewrite_kernels(module, lambda f: _Stager(f, function_env(module, f), constants, functions).visit)


@dataclass(frozen=True)
class _Access:
    array: str
    offset: ir.Expr        # the index at tx = 0, in the loop's own names (definitions not substituted)
    written: bool
    read: bool


class _Stager:
    def __init__(self, f: ir.Function, env: TypeEnv, constants: dict, functions: dict):
        self.f, self.env, self.constants, self.functions = f, env, constants, functions
        self.taken = used_names(f) | declared_names(f.body) | {p.name for p in f.params}
        self.pointers = {p.name: p.type for p in f.params if p.type.pointer == 1 and not p.dims}
        # scalars declared once and never assigned: what they hold wherever they are seen
        counts, assigned = declaration_counts(f.body), assigned_scalars(f.body)
        self.invariants = {v.name: v.init for n in ir.walk(f.body) if isinstance(n, ir.Decl) and self.definition(n)
                           for v in n.vars if counts[v.name] == 1 and v.name not in assigned}

    def visit(self, n):
        if isinstance(n, ir.For) and n.kind == "threads":
            staged = self.stage(n)
            if staged is not None:
                return staged
        return n

    # -- the loop ------------------------------------------------------------------------------------
    def stage(self, loop: ir.For) -> ir.Stmt | None:
        canon = loop.canonical()
        if canon is None or not isinstance(loop.init, ir.Decl) or len(loop.init.vars) != 1:
            return None
        var, start, stop, step = canon
        extent = const_value(stop, self.constants)
        if const_value(start, {}) != 0 or const_value(step, {}) != 1 or extent is None or not 1 < extent <= MAX_CHUNK:
            return None
        stmts = [s for s in statements(loop.body) if not isinstance(s, ir.Comment)]
        defs = []
        while stmts and self.definition(stmts[0]):
            defs.append(stmts.pop(0))
        if len(stmts) == 1 and isinstance(stmts[0], ir.For):
            return self.interchanged(loop, defs, stmts[0])
        if any(isinstance(n, (ir.For, ir.While, ir.Jump, ir.Return, ir.Barrier, ir.Verbatim, ir.Launch, ir.RawExpr))
               for n in ir.walk(loop.body)) or var in assigned_scalars(loop.body):
            return None
        guard = None
        if len(stmts) == 1 and isinstance(stmts[0], ir.If) and stmts[0].other is None:
            guard, stmts = stmts[0].cond, [s for s in statements(stmts[0].then) if not isinstance(s, ir.Comment)]
        work = ir.Block(tuple(stmts))
        names = {v.name for d in defs for v in d.vars}
        if (names | used_names(ir.Block(tuple(defs)))) & assigned_scalars(work) or \
                not assigned_scalars(work) <= declared_names(work):
            return None
        values = self.values(defs)
        accesses = self.accesses(work, defs, var, values, extent)
        if not accesses or not any(a.written for a in accesses.values()):
            return None
        bounds = self.bounds(guard, var, values)
        if bounds is None:
            return None
        return self.staged(loop, var, extent, defs, work, values, accesses, *bounds)

    def interchanged(self, loop: ir.For, defs: list, inner: ir.For) -> ir.Stmt | None:
        """``for (tx) { defs; for (o) body }`` staged as ``for (o) <for (tx) { defs; body }, staged>``
        when the inner loop's header reads neither ``tx`` nor the definitions (TVM's kernels loop over
        the parts of a fused axis inside each thread). The threads are independent, so their
        iterations of ``o`` may run in any interleaving, each thread's in its own order."""
        canon = inner.canonical()
        if canon is None or not isinstance(inner.init, ir.Decl) or len(inner.init.vars) != 1 or \
                canon[0] in assigned_scalars(inner.body):
            return None
        if header_names(inner) & ({loop.canonical()[0]} | {v.name for d in defs for v in d.vars}):
            return self.grid_stride(loop, defs, inner)
        staged = self.stage(replace(loop, body=ir.Block(tuple(defs) + tuple(statements(inner.body)))))
        return None if staged is None else replace(inner, body=ir.Block((staged,)))

    def grid_stride(self, loop: ir.For, defs: list, inner: ir.For) -> ir.Stmt | None:
        """A thread's grid-stride loop ``for (i = b + tx; i < n; i += s)`` (``s > 0``; ``n``, ``s``
        free of ``tx``) staged as ``for (j = b; j < n; j += s) <for (tx) { defs; i = j + tx; if (i < n)
        body }, staged>``: step ``k`` of every thread is element ``b + k s + tx``, and a thread whose
        element is past ``n`` has no more steps (the sequence increases), nor any thread before it in
        a later step."""
        var = loop.canonical()[0]
        i, start, stop, step = inner.canonical()
        cond = strip_parens(inner.cond)
        values = self.values(defs)
        start, stop, step = (ir.rewrite(substitute(e, values), _without_zeros) for e in (start, stop, step))
        if not isinstance(cond, ir.BinOp) or cond.op != "<" or strip_parens(cond.left) != ir.Name(i) or \
                var in used_names(stop) | used_names(step) or not self.positive(step):
            return None
        base = unit_offset(start, var)
        if base is None:
            return None
        itype = inner.init.vars[0].type
        j = fresh(f"{i}_chunk", self.taken)
        element = ir.Decl((ir.Declarator(i, itype, (), ir.BinOp("+", ir.Name(j), ir.Name(var))),))
        staged = self.stage(replace(loop, body=ir.Block(tuple(defs) + (element, ir.If(
            ir.BinOp("<", ir.Name(i), ir.Paren(stop)), ir.Block(tuple(statements(inner.body))))))))
        if staged is None:
            return None
        return ir.For(ir.Decl((ir.Declarator(j, itype, (), ir.rewrite(base, _without_zeros)),)),
                      ir.BinOp("<", ir.Name(j), ir.Paren(stop)), ir.Assign(ir.Name(j), "+=", ir.Paren(step)),
                      ir.Block((staged,)))

    def positive(self, e, seen: frozenset = frozenset()) -> bool:
        """``e`` is above zero: a positive constant, a grid or block extent of the launch (a kernel
        whose grid has an empty axis runs no thread), or a product of such."""
        e = strip_parens(e)
        value = const_value(e, self.constants)
        if value is not None:
            return value > 0
        if isinstance(e, ir.Member) and e.field_name in ("x", "y", "z") and \
                strip_parens(e.base) in (ir.Name("gridDim"), ir.Name("blockDim")):
            return True
        if isinstance(e, ir.Cast) and is_integer(e.type):
            return self.positive(e.operand, seen)
        if isinstance(e, ir.Name) and e.id in self.invariants and e.id not in seen:
            return self.positive(self.invariants[e.id], seen | {e.id})
        return isinstance(e, ir.BinOp) and e.op == "*" and self.positive(e.left, seen) and self.positive(e.right, seen)

    def definition(self, s) -> bool:
        """A declaration of scalars computed without touching memory."""
        return isinstance(s, ir.Decl) and not s.storage and all(
            not v.dims and not v.type.pointer and not v.type.reference and v.init is not None and v.ctor_args is None
            for v in s.vars) and not touches_memory(s)

    @staticmethod
    def values(defs) -> dict:
        """Each definition's value with the earlier ones substituted (to read indices through them)."""
        values: dict[str, ir.Expr] = {}
        for d in defs:
            for v in d.vars:
                values[v.name] = ir.Paren(substitute(v.init, values))
        return values

    # -- what the body touches -------------------------------------------------------------------------
    def accesses(self, work: ir.Block, defs: list, var: str, values: dict, extent: int) -> dict | None:
        """``(array, offset) -> _Access`` for every array element the body touches at ``offset + var``
        (None when the body does something this pass does not stage)."""
        stores = {id(strip_parens(s.expr.target)) for s in work.body
                  if isinstance(s, ir.ExprStmt) and isinstance(s.expr, ir.Assign) and s.expr.op == "="
                  and isinstance(strip_parens(s.expr.target), ir.Index)}
        found: dict = {}
        invariant = set()   # arrays read at a place free of ``var``
        for n in ir.walk(ir.Block(tuple(defs) + work.body)):
            if isinstance(n, ir.UnOp) and n.op in ("*", "&") or isinstance(n, ir.Member) and n.arrow:
                return None
            target = n.target if isinstance(n, ir.Assign) else \
                n.operand if isinstance(n, ir.UnOp) and n.op in ("++", "--") else None
            if target is not None and not isinstance(strip_parens(target), ir.Name) and \
                    id(strip_parens(target)) not in stores:
                return None    # a store under a condition, a compound store, a member of an element
            if isinstance(n, ir.Call) and not self.pure(n):
                return None
            if not isinstance(n, ir.Index):
                continue
            base = strip_parens(n.base)
            if not isinstance(base, ir.Name) or base.id not in self.pointers or touches_memory(n.index):
                return None
            key = self.key(n, var, values)
            if key is None:
                if id(n) in stores or var in used_names(substitute(n.index, values)):
                    return None
                invariant.add(base.id)
                continue
            offset = substitute(n.index, {var: ir.Const("0", 0)})
            known = found.get(key, _Access(base.id, offset, False, False))
            found[key] = replace(known, written=known.written or id(n) in stores,
                                 read=known.read or id(n) not in stores)
        # an array written is touched at one place per element: its own element, read before it
        # is written if at all (then one buffer is loaded, updated and stored)
        places = Counter(a.array for a in found.values())
        if any(a.written and (places[a.array] > 1 or a.array in invariant) for a in found.values()):
            return None
        sizes = [sizeof(self.element(a.array)) for a in found.values()]
        if None in sizes or sum(sizes) * extent > BUFFER_BYTES:
            return None
        return found

    @staticmethod
    def key(n: ir.Index, var: str, values: dict):
        """``(array, offset)`` of an element at ``offset + var`` (None when not of that form)."""
        offset = unit_offset(substitute(n.index, values), var)
        return None if offset is None else (strip_parens(n.base).id, without_parens(offset))

    def pure(self, call: ir.Call) -> bool:
        if is_pure_call(call):
            return True
        f = strip_parens(call.func)
        callee = self.functions.get(f.id) if isinstance(f, ir.Name) else None
        return callee is not None and callee.kind != "kernel" and not touches_memory(callee.body) and \
            not any(p.type.pointer or p.dims or p.type.reference for p in callee.params)

    def element(self, array: str) -> ir.Type:
        """The element type of a pointer parameter, unqualified (a buffer's type)."""
        return ir.Type(self.pointers[array].base)

    # -- the guard -------------------------------------------------------------------------------------
    def bounds(self, guard, var: str, values: dict):
        """``(whole, limits)``: the conditions free of ``var`` and the ``(L, R, inclusive)`` that bound
        the prefix of elements that run; None when the guard has another form."""
        if guard is None:
            return [], []
        whole, limits = [], []
        for atom in conjuncts(guard):
            if touches_memory(atom):
                return None
            if var not in used_names(substitute(atom, values)):
                whole.append(atom)
                continue
            atom = strip_parens(atom)
            if not isinstance(atom, ir.BinOp) or atom.op not in ("<", "<=", ">", ">="):
                return None
            left, op, right = (atom.left, atom.op, atom.right) if atom.op in ("<", "<=") else \
                (atom.right, _MIRRORED[atom.op], atom.left)
            compared = arithmetic(self.env.type_of(left), self.env.type_of(right))
            if not is_integer(compared) or is_unsigned(compared):
                return None
            if var in used_names(substitute(right, values)) or unit_offset(substitute(left, values), var) is None:
                return None
            limits.append((left, right, op == "<="))
        return whole, limits

    # -- the staged chunk ------------------------------------------------------------------------------
    def staged(self, loop: ir.For, var: str, extent: int, defs: list, work: ir.Block, values: dict,
               accesses: dict, whole: list, limits: list) -> ir.Block:
        zero = {var: ir.Const("0", 0)}
        first = {v.name: fresh(f"{v.name}_0", self.taken) for d in defs for v in d.vars}
        at_zero = {name: ir.Name(new) for name, new in first.items()}

        def at_first(e):   # ``e`` for the chunk's first element, in the names declared for it
            return substitute(ir.rewrite(substitute(e, zero), _without_zeros), at_zero)
        out: list = []
        for d in defs:
            out.append(replace(d, vars=tuple(replace(v, name=first[v.name], init=at_first(v.init)) for v in d.vars)))
        buffers = {key: fresh(f"__xp_{a.array}", self.taken) for key, a in accesses.items()}
        for key, a in accesses.items():
            out.append(ir.Decl((ir.Declarator(buffers[key], self.element(a.array), (ir.Const(str(extent), extent),)),)))
        count = fresh("__xp_n", self.taken)
        if limits or whole:
            out.append(ir.Decl((ir.Declarator(count, LL, (), ir.Const(str(extent), extent)),)))
        for left, right, inclusive in limits:
            bound = ir.BinOp("-", ir.Cast(LL, ir.Paren(at_first(right))), ir.Cast(LL, ir.Paren(at_first(left))))
            if inclusive:
                bound = ir.BinOp("+", bound, ir.Const("1", 1))
            out.append(ir.If(ir.BinOp("<", ir.Paren(bound), ir.Name(count)),
                             ir.Block((ir.ExprStmt(ir.Assign(ir.Name(count), "=", bound)),))))
        if whole:
            out.append(ir.If(ir.UnOp("!", ir.Paren(at_first(conjunction(whole)))),
                             ir.Block((ir.ExprStmt(ir.Assign(ir.Name(count), "=", ir.Const("0", 0))),))))
        # the element loops count in int (``tensorize{target=bang}`` reads only signed counters): the
        # chunk is at most MAX_CHUNK long, and the thread index is its value in the loop's own type
        r = fresh("__xp_r", self.taken)

        def each(*body):
            stop = ir.Name(count) if limits or whole else ir.Const(str(extent), extent)
            return counted_loop(r, ir.Type("int"), stop, ir.Block(body))

        def element(a):   # ``X[first offset + r]``
            return ir.Index(ir.Name(a.array), ir.BinOp("+", ir.Paren(at_first(a.offset)), ir.Name(r)))

        def buffer(key):
            return ir.Index(ir.Name(buffers[key]), ir.Name(r))
        for key, a in accesses.items():
            if a.read:
                out.append(each(ir.ExprStmt(ir.Assign(buffer(key), "=", element(a)))))
        work = self.buffered(work, var, values, buffers, ir.Name(r))
        live = used_names(work)
        kept = []
        for d in reversed(defs):   # the definitions the buffered work still uses
            if {v.name for v in d.vars} & live:
                kept.insert(0, d)
                live |= used_names(d)
        thread = (ir.Decl((ir.Declarator(var, loop.init.vars[0].type, (), ir.Cast(loop.init.vars[0].type, ir.Name(r))),)),) \
            if var in live else ()
        out.append(each(*thread, *kept, *work.body))
        for key, a in accesses.items():
            if a.written:
                out.append(each(ir.ExprStmt(ir.Assign(element(a), "=", buffer(key)))))
        return ir.Block(tuple(out))

    def buffered(self, work: ir.Block, var: str, values: dict, buffers: dict, at: ir.Expr) -> ir.Block:
        """``work`` reading and writing the chunk's buffers (at ``at``) instead of the arrays."""
        def fn(n):
            if isinstance(n, ir.Index) and isinstance(strip_parens(n.base), ir.Name) and \
                    strip_parens(n.base).id in self.pointers:
                key = self.key(n, var, values)
                if key in buffers:
                    return ir.Index(ir.Name(buffers[key]), at)
            return n
        return ir.rewrite(work, fn)


def _without_zeros(n):
    """``n`` with the terms the element index 0 left folded: ``a + 0``, ``0 + a``, ``a - 0``, ``a * 0``,
    ``(int)0``, ``(0)``."""
    def zero(e):
        e = strip_parens(e)
        return isinstance(e, ir.Const) and e.value == 0 and not isinstance(e.value, bool)
    if isinstance(n, ir.Paren) and isinstance(n.inner, (ir.Const, ir.Name, ir.Paren)):
        return n.inner
    if isinstance(n, ir.Cast) and is_integer(n.type) and zero(n.operand):
        return ir.Const("0", 0)
    if isinstance(n, ir.BinOp):
        if n.op in ("+", "-") and zero(n.right):
            return n.left
        if n.op == "+" and zero(n.left):
            return n.right
        if n.op == "*" and (zero(n.left) or zero(n.right)):
            return ir.Const("0", 0)
    return n


def unit_offset(index, var: str):
    """``d`` when ``index`` is ``d + var`` (in any association, ``var`` perhaps converted to another
    integer type: ``(int)threadIdx_x``) with ``d`` free of ``var``, else None."""
    def uncast(n):
        if isinstance(n, ir.Cast) and is_integer(n.type) and strip_parens(n.operand) == ir.Name(var):
            return ir.Name(var)
        return n
    return element_offset(ir.rewrite(index, uncast), var)
