"""Pipeline (``pipeline{target=bang}``): a chunk loop's DMA overlaps its computation.

After ``cache``, ``bind`` and ``tensorize`` a BANG kernel walks its data in chunks, each loaded into
NRAM, computed there and stored back, one after the other: the core waits for every transfer. This
pass software-pipelines such a loop in three stages over double-buffered NRAM, the way Cambricon's
own kernels do (mlu-ops' load / compute / store pipeline): in one step of the new loop the core
issues the store of chunk ``j - 2`` and the load of chunk ``j`` as ``__memcpy_async`` and computes
chunk ``j - 1``, then waits for all three (``__sync()``)::

    for (int i = a; i < n; i += s) {          __nram__ float __xp_x[2][256];  // a slot per chunk in flight
      int i_0 = i;                            __nram__ float __xp_y[2][256];
      __nram__ float __xp_x[256];             long long __xp_loads = 0, __xp_computes = 0, __xp_stores = 0;
      __nram__ float __xp_y[256];             int __xp_load = a, __xp_compute = a, __xp_store = a;
      long long __xp_n = ...;                 while (__xp_load < n || __xp_stores < __xp_loads) {
      if (__xp_n > 0)                 =>        ... flags: a chunk to load / one loaded / one computed
        __memcpy(__xp_x, &x[i_0], ...);         if (store)   { int i = __xp_store; <definitions>; <stores, async, slot __xp_stores % 2> }
      if (__xp_n > 0)                           if (load)    { int i = __xp_load; <definitions>; <loads, async, slot __xp_loads % 2> }
        __bang_mul_scalar(__xp_y, ...);         if (compute) { int i = __xp_compute; <definitions>; <compute, slot __xp_computes % 2> }
      if (__xp_n > 0)                           __sync();
        __memcpy(&y[i_0], __xp_y, ...);       }
    }

Which loops: a canonical ``for (T v = a; v < b; v += s)`` whose body (a trailing block flattened
into it) is, in this order, *definitions* (scalar declarations and assignments that touch no memory,
and the ``__nram__`` buffers of one chunk), *loads* (``__memcpy(buffer, gdram, ..., GDRAM2NRAM)``,
perhaps under an ``if`` that touches no memory), the *compute* (statements that touch nothing but the
buffers and scalars), and *stores* (``__memcpy(gdram, buffer, ..., NRAM2GDRAM)``, perhaps guarded).
It is exact when, as checked:

* the stages of different chunks touch different memory while they overlap. In one step the three
  stages work on chunks ``j - 2``, ``j - 1``, ``j``, each in its own slot of every buffer: a buffer
  only loaded or only stored has two slots (the load of ``j`` and the compute of ``j - 1``, or the
  compute of ``j - 1`` and the store of ``j - 2``, use different ones), a buffer both loaded and stored
  three, a buffer only the compute uses one. GDRAM: no array is both a load's source and a store's
  destination (distinct pointer parameters are distinct buffers, as the dependence analysis assumes:
  the host entries copy every buffer separately), so the load of chunk ``j`` cannot read what the
  store of an earlier chunk writes after it; the compute only reads GDRAM elements (``w[0]``), of
  arrays no store writes, and writes nothing there;
* every stage sees the values it saw before: the definitions touch no memory and assign only their
  own scalars, so each stage evaluates them again for its chunk's ``v``; the compute assigns none of
  them; loads and stores read only definitions, buffers and names from outside the loop;
* the stores of one chunk, in flight together, go to different arrays (nothing orders two copies
  in flight; those of different chunks are never in flight together);
* the chunks and their order are the original ones: ``a``, ``b`` and ``s`` are invariant (the body
  assigns no name they use, and they read no memory), and each stage advances its own copy of ``v`` by ``s`` from ``a`` as the
  loop did. Stores leave in the original order, one step after their compute; ``__sync()`` at the
  end of every step, and once more after the loop, waits for every transfer before a slot is reused
  and before anything after the loop reads the results;
* the doubled buffers fit in NRAM (with the kernel's other ``__nram__`` arrays, at most bind's
  ``NRAM_LIMIT``).

Loops that do not qualify stay as they are; other targets raise (not implemented). The BANG
emulation defers ``__memcpy_async`` to the waits and faults on an intrinsic or copy that touches a
transfer still in flight, so a misplaced wait shows in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from xpiler import ir
from xpiler.ir.analysis import statements, strip_parens
from xpiler.ir.dependence import function_env
from xpiler.intrinsics import REGISTRY
from xpiler.ir.effects import assigned_scalars, call_name, declared_names, is_pure_call, touches_memory, used_names
from xpiler.ir.types import TypeEnv

from .base import ModulePass, rewrite_kernels
from .bind import NRAM_LIMIT, array_bytes, buffer_bytes, module_constants
from .loop_split import const, fresh, substitute
from .registry import register

TARGETS = ("bang",)
COMPUTE_KINDS = ("vector", "reduce", "fill", "math", "convert")   # intrinsics on NRAM operands only
LL = ir.Type("long long")


@register
@dataclass(frozen=True)
class Pipeline(ModulePass):
    """``target``: whose asynchronous copies overlap the computation (``bang``: ``__memcpy_async``)."""

    name: ClassVar[str] = "pipeline"
    summary: ClassVar[str] = "a chunk loop's loads, compute and stores overlap (three stages, double-buffered)"
    target: str = "bang"

    def apply(self, module: ir.Module) -> ir.Module:
        self.require_target(TARGETS)
        constants = module_constants(module)
        return rewrite_kernels(module, lambda f: _Pipeliner(f, function_env(module, f), constants).visit)


@dataclass(frozen=True)
class _Chunk:
    """A loop body split into its stages."""

    definitions: list
    buffers: dict          # name -> Declarator (of an __nram__ array of one chunk)
    loads: list
    compute: list
    stores: list


class _Pipeliner:
    def __init__(self, f: ir.Function, env: TypeEnv, constants: dict):
        self.env, self.constants = env, constants
        self.taken = used_names(f) | declared_names(f.body) | {p.name for p in f.params}
        self.params = {p.name for p in f.params if p.type.pointer or p.dims}
        self.nram = buffer_bytes(f, constants, "nram", NRAM_LIMIT + 1)

    def visit(self, n):
        if isinstance(n, ir.For):
            return self.pipelined(n) or n
        return n

    # -- the loop ------------------------------------------------------------------------------------
    def pipelined(self, loop: ir.For) -> ir.Stmt | None:
        canon = loop.canonical()
        if canon is None or not isinstance(loop.init, ir.Decl) or len(loop.init.vars) != 1:
            return None
        var, start, stop, step = canon
        var_type = loop.init.vars[0].type
        body = _flattened(loop.body, var)
        if body is None:
            return None
        assigned = assigned_scalars(ir.Block(tuple(body)))
        if (used_names(start) | used_names(stop) | used_names(step) | {var}) & assigned \
                or any(touches_memory(e) for e in (start, stop, step)) \
                or not assigned <= declared_names(ir.Block(tuple(body))):
            return None          # the chunks would change, or a value would leave the chunk
        chunk = self.split(body, var)
        if chunk is None:
            return None
        slots = self.slots(chunk)
        if slots is None:
            return None
        return self.rewritten(var, var_type, start, stop, step, chunk, slots)

    def split(self, body: list, var: str) -> _Chunk | None:
        """The stages of a loop body, or None when it is not definitions, loads, compute, stores."""
        body = [s for s in body if not isinstance(s, ir.Comment)]
        definitions, buffers, defined = [], {}, {var}
        while body and (self.buffer(body[0]) or self.definition(body[0], defined)):
            s = body.pop(0)
            if self.buffer(s):
                buffers[s.vars[0].name] = s.vars[0]
            else:
                definitions.append(s)
                defined |= declared_names(s)
        private = declared_names(ir.Block(tuple(body)))
        loads = []
        while body and self.copy(body[0], "GDRAM2NRAM", buffers, private):
            loads.append(body.pop(0))
        stores = []
        while body and self.copy(body[-1], "NRAM2GDRAM", buffers, private):
            stores.insert(0, body.pop())
        reads = [self.computes(s, buffers) for s in body]
        if not loads or not stores or None in reads:
            return None
        if assigned_scalars(ir.Block(tuple(body))) & defined:
            return None          # a definition changed by the compute: the stores would see another value
        sources = {_root(_copy_args(s)[1]) for s in loads}.union(*reads)
        destinations = [_root(_copy_args(s)[0]) for s in stores]
        if sources & set(destinations):
            return None          # the load of a later chunk could read what an earlier store writes
        if len(set(destinations)) != len(destinations):
            return None          # two stores in flight into one array: nothing orders them
        return _Chunk(definitions, buffers, loads, body, stores)

    def slots(self, chunk: _Chunk) -> dict | None:
        """Slots per buffer (one per stage that may hold it at once), or None when they do not fit."""
        loaded = {_root(_copy_args(s)[0]) for s in chunk.loads}
        stored = {_root(_copy_args(s)[1]) for s in chunk.stores}
        slots = {b: 1 + (b in loaded) + (b in stored) for b in chunk.buffers}
        extra = 0
        for b, k in slots.items():
            size = array_bytes(chunk.buffers[b], self.constants)
            if size is None:
                return None
            extra += (k - 1) * size
        if self.nram + extra > NRAM_LIMIT:
            return None
        self.nram += extra
        return slots

    # -- classification ------------------------------------------------------------------------------
    @staticmethod
    def buffer(s) -> bool:
        return isinstance(s, ir.Decl) and s.scope == "nram" and len(s.vars) == 1 and s.vars[0].dims \
            and s.vars[0].init is None and not s.vars[0].type.pointer

    def definition(self, s, defined: set[str]) -> bool:
        """A statement that computes scalars of the chunk: no memory, assigns only its own scalars."""
        if isinstance(s, ir.Decl):
            if s.scope not in ("local", None) or any(v.dims or v.type.pointer or v.type.reference for v in s.vars):
                return False
            defined = defined | {v.name for v in s.vars}
        elif not isinstance(s, (ir.ExprStmt, ir.If)) or any(isinstance(n, ir.Decl) for n in ir.walk(s)):
            return False
        return not touches_memory(s) and not self.mentions_arrays(s) and assigned_scalars(s) <= defined

    def copy(self, s, direction: str, buffers: dict, private: set[str]) -> bool:
        """``__memcpy`` in ``direction`` between a buffer and a pointer parameter, perhaps guarded; it may
        not read ``private`` names (declared by the compute)."""
        if isinstance(s, ir.If):
            if s.other is not None or touches_memory(s.cond) or self.mentions_arrays(s.cond) \
                    or used_names(s.cond) & private:
                return False
            inner = statements(s.then)
            if len(inner) != 1:
                return False
            s = inner[0]
        args = _copy_args(s)
        if args is None or not (isinstance(strip_parens(args[3]), ir.Name) and strip_parens(args[3]).id == direction):
            return False
        nram, gdram = (args[0], args[1]) if direction == "GDRAM2NRAM" else (args[1], args[0])
        rest = [a for i, a in enumerate(args) if i not in (0, 1)]
        if _root(nram) not in buffers or _root(gdram) not in self.params or used_names(gdram) & set(buffers):
            return False
        if any(touches_memory(a) or self.mentions_arrays(a) for a in rest):
            return False
        for side in (nram, gdram):     # the offsets: scalars of the chunk or from outside
            names = used_names(side) - {_root(side)}
            if names & private or self.mentions_arrays_in(names):
                return False
        return not any(used_names(a) & private for a in rest)

    def computes(self, s, buffers: dict) -> frozenset | None:
        """The arrays outside NRAM that the compute ``s`` reads element by element (it may not write
        them, take their address or pass them on), or None when it does more than compute: waits,
        copies to or from GDRAM, ways out of the chunk, calls with effects."""
        for n in ir.walk(s):
            if isinstance(n, (ir.Barrier, ir.Return, ir.Jump, ir.Verbatim, ir.Launch)):
                return None
            if isinstance(n, ir.Call) and not is_pure_call(n) and call_name(n) not in self.env.pure_functions:
                kind = REGISTRY[n.intrinsic].kind if n.intrinsic in REGISTRY else None
                copy = _copy_args(ir.ExprStmt(n))
                if kind not in COMPUTE_KINDS and not (copy and strip_parens(copy[3]) == ir.Name("NRAM2NRAM")):
                    return None
            if isinstance(n, ir.Declarator) and (n.type.pointer or n.type.reference):
                return None
            if isinstance(n, ir.UnOp) and n.op == "*" or isinstance(n, ir.Member) and n.arrow:
                return None
        reads, local = set(), declared_names(s) | set(buffers)

        def memory(n) -> bool:
            return isinstance(n, ir.Name) and n.id not in local and self.is_array(n.id)

        def visit(n, written: bool = False) -> bool:
            if isinstance(n, ir.Assign):
                return visit(n.target, True) and visit(n.value)
            if isinstance(n, ir.UnOp) and n.op in ("++", "--", "&"):
                return visit(n.operand, True)
            if isinstance(n, ir.Index):
                base = strip_parens(n.base)
                if memory(base):
                    reads.add(base.id)
                    return not written and visit(n.index)
                return visit(n.base, written) and visit(n.index)
            if memory(n):
                return False         # a pointer outside NRAM used as a value (passed on, offset, ...)
            return all(visit(c) for c in ir.children(n))
        return frozenset(reads) if visit(s) else None

    def is_array(self, name: str) -> bool:
        var = self.env.lookup(name)
        return var is not None and var.kind not in ("function", "macro") and bool(var.type.pointer or var.dims)

    def mentions_arrays(self, e) -> bool:
        return self.mentions_arrays_in(used_names(e))

    def mentions_arrays_in(self, names) -> bool:
        return any(self.is_array(x) for x in names)

    # -- the pipelined loop --------------------------------------------------------------------------
    def rewritten(self, var, var_type, start, stop, step, chunk: _Chunk, slots: dict) -> ir.Stmt:
        names = {stage: (fresh(f"__xp_{stage}", self.taken), fresh(f"__xp_{stage}s", self.taken))
                 for stage in ("load", "compute", "store")}
        decls = [ir.Decl((replace(chunk.buffers[b], dims=(const(k),) + chunk.buffers[b].dims),), scope="nram")
                 if k > 1 else ir.Decl((chunk.buffers[b],), scope="nram") for b, k in slots.items()]
        decls.append(ir.Decl(tuple(ir.Declarator(count, LL, (), const(0)) for _, count in names.values())))
        decls.append(ir.Decl(tuple(ir.Declarator(value, var_type, (), start) for value, _ in names.values())))

        def stage(which: str, stmts: list, asynchronous: bool) -> ir.Stmt:
            value, count = names[which]
            slot = {b: ir.Index(ir.Name(b), ir.BinOp("%", ir.Name(count), const(k))) for b, k in slots.items() if k > 1}
            work = [_asynchronous(s) for s in stmts] if asynchronous else stmts
            work = _needed(chunk.definitions, work) + work
            if var in used_names(ir.Block(tuple(work))):      # the chunk's own value of the loop variable
                work.insert(0, ir.Decl((ir.Declarator(var, var_type, (), ir.Name(value)),)))
            block = ir.Block(tuple(substitute(ir.Block(tuple(work)), slot).body) +
                             (ir.ExprStmt(ir.Assign(ir.Name(value), "+=", step)),
                              ir.ExprStmt(ir.UnOp("++", ir.Name(count)))))
            return block

        (load, loads), computes, stores = names["load"], names["compute"][1], names["store"][1]
        more_loads = ir.BinOp("<", ir.Name(load), stop)
        flags = [("load", more_loads), ("compute", ir.BinOp("<", ir.Name(computes), ir.Name(loads))),
                 ("store", ir.BinOp("<", ir.Name(stores), ir.Name(computes)))]
        flag_names = {which: fresh(f"__xp_do_{which}", self.taken) for which, _ in flags}
        step_body = [ir.Decl(tuple(ir.Declarator(flag_names[w], ir.Type("int"), (), cond) for w, cond in flags))]
        # the store of j - 2, the load of j, the compute of j - 1: each in its own slots
        step_body.append(ir.If(ir.Name(flag_names["store"]), stage("store", chunk.stores, True)))
        step_body.append(ir.If(ir.Name(flag_names["load"]), stage("load", chunk.loads, True)))
        step_body.append(ir.If(ir.Name(flag_names["compute"]), stage("compute", chunk.compute, False)))
        step_body.append(_sync())
        loop = ir.While(ir.BinOp("||", more_loads, ir.BinOp("<", ir.Name(stores), ir.Name(loads))),
                        ir.Block(tuple(step_body)))
        note = ir.Comment("// pipelined: each step stores chunk j - 2, loads chunk j and computes chunk j - 1, "
                          "then waits for all three")
        return ir.Block(tuple(decls) + (note, loop, _sync()))


def _needed(definitions: list, work: list) -> list:
    """The definitions a stage's statements need (each stage evaluates only those)."""
    needed, kept = used_names(ir.Block(tuple(work))), []
    for d in reversed(definitions):
        made = {v.name for v in d.vars} if isinstance(d, ir.Decl) else assigned_scalars(d)
        if made & needed:
            kept.insert(0, d)
            needed |= used_names(d)
    return kept


def _flattened(body, var: str) -> list | None:
    """The statements of a loop body with a trailing block flattened into it (the scopes end together),
    or None when that would declare a name twice in one scope (the loop variable included: each stage
    declares it)."""
    stmts = list(statements(body))
    while stmts and isinstance(stmts[-1], ir.Block):
        stmts = stmts[:-1] + list(stmts[-1].body)
    declared = [var] + [v.name for s in stmts if isinstance(s, ir.Decl) for v in s.vars]
    return stmts if len(declared) == len(set(declared)) else None


def _copy_args(s) -> tuple | None:
    """The arguments of a ``__memcpy`` statement (any form), else None."""
    if isinstance(s, ir.If) and s.other is None and len(statements(s.then)) == 1:
        s = statements(s.then)[0]
    if not isinstance(s, ir.ExprStmt) or not isinstance(s.expr, ir.Call):
        return None
    call = s.expr
    if not (call.intrinsic or "").startswith("bang.memcpy") or "async" in call.intrinsic or len(call.args) < 4:
        return None
    return call.args


def _root(e) -> str | None:
    """The array an address points into: ``x``, ``&x[e]``, ``x + e``, ``(T *)x``."""
    e = strip_parens(e)
    if isinstance(e, ir.Cast):
        return _root(e.operand)
    if isinstance(e, ir.UnOp) and e.op == "&":
        inner = strip_parens(e.operand)
        while isinstance(inner, ir.Index):
            inner = strip_parens(inner.base)
        return inner.id if isinstance(inner, ir.Name) else None
    if isinstance(e, ir.BinOp) and e.op in ("+", "-"):
        return _root(e.left)
    return e.id if isinstance(e, ir.Name) else None


def _asynchronous(s):
    """The copy ``s`` as ``__memcpy_async`` (same arguments, same guard)."""
    def one(n):
        if isinstance(n, ir.Call) and (n.intrinsic or "").startswith("bang.memcpy"):
            return replace(n, func=ir.Name("__memcpy_async"), intrinsic=n.intrinsic.replace("memcpy", "memcpy_async", 1))
        return n
    return ir.rewrite(s, one)


def _sync() -> ir.Stmt:
    return ir.ExprStmt(ir.Call(ir.Name("__sync"), (), intrinsic="bang.sync"))
