"""Loop recovery: parallel kernels become sequential C functions.

A SIMT kernel ``K(params)`` becomes ``void K(params, dim3 gridDim, dim3 blockDim, unsigned
dynamic_shared_bytes)`` whose body loops over the blocks of the grid and, inside each block, over
its threads; a BANG kernel becomes ``void K(params, unsigned taskDimX, unsigned taskDimY, unsigned
taskDimZ, int union_job)`` looping over its tasks. The built-ins (``threadIdx.x``, ``taskId``,
``clusterId``, ...) become the loop variables or values derived from them.

**Barriers** (``__syncthreads``, ``__sync_cluster``, ``__sync_all``) split the thread loop: every
thread runs the code before a barrier before any thread runs the code after it, which is one legal
schedule of the parallel program, so a race-free kernel computes the same result. A barrier inside a
loop or a conditional turns that statement inside out: the loop runs once per block and each piece of
its body between barriers gets its own thread loop. Values a thread computes before a barrier and
uses after it are *expanded* into arrays indexed by the thread (``v`` becomes ``v[__tid]``).

**Warp primitives** exchange values between lanes at one point of the program. A statement that
shuffles is split the same way: one thread loop stores every lane's operand, the next reads the
lane the primitive names (``__shfl_down_sync(m, v, d)`` reads lane ``lane + d`` of the same warp when
that is inside the ``width`` segment, else its own value): the sequential meaning of the primitive.
Warp votes (``__ballot_sync``, ``__any_sync``, ``__all_sync``) and the MFMA matrix-core builtins
(wavefront-collective) are lowered the same way through prelude functions.

Control flow around barriers must be uniform in CUDA and BANG (a barrier that only some threads
reach is undefined behaviour), so a loop that contains one is evaluated once per block, with
per-thread values in its header read from thread 0. A conditional whose condition varies between
threads is *predicated* instead: the condition is stored per thread, and every thread loop inside it
runs only the threads for which it held. A ``return`` in a thread skips the rest of that thread (an
``__alive`` flag guards the thread loops after a barrier).

Memory scopes become C storage: ``__shared__`` arrays are declared once per block (inside the block
loop), NRAM/WRAM/LDRAM arrays once per task (expanded like values when they live across a barrier),
SRAM (``__mlu_shared__``) once per cluster.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import ClassVar

from xpiler import ir
from xpiler.errors import UnsupportedError
from xpiler.intrinsics import REGISTRY
from xpiler.ir.analysis import strip_parens
from xpiler.ir.effects import declared_names, used_names

from .base import ModulePass, PassError
from .registry import register

U = ir.Type("unsigned")
INT = ir.Type("int")

WARP_EXCHANGE = {"shfl", "shfl_down", "shfl_up", "shfl_xor", "ballot", "any", "all", "activemask"}
PURE_KINDS = {"math", "convert"}


def _name(x: str) -> ir.Name:
    return ir.Name(x)


def _const(v: int) -> ir.Const:
    return ir.Const(str(v), v)


def _member(base: str, field: str) -> ir.Member:
    return ir.Member(_name(base), field)


def _decl(name: str, typ: ir.Type, init=None, dims=()) -> ir.Decl:
    return ir.Decl((ir.Declarator(name, typ, tuple(dims), init),))


def _loop(var: str, extent: ir.Expr, body: ir.Stmt, kind: str = "serial") -> ir.For:
    return ir.For(_decl(var, U, _const(0)), ir.BinOp("<", _name(var), extent), ir.UnOp("++", _name(var)),
                  body if isinstance(body, ir.Block) else ir.Block((body,)), kind)


def _is_warp_call(node) -> bool:
    if not isinstance(node, ir.Call) or node.intrinsic is None:
        return False
    return node.intrinsic in WARP_EXCHANGE or node.intrinsic.startswith("mfma.")


def _has_sync(node) -> bool:
    return any(isinstance(n, ir.Barrier) and n.scope in ("block", "cluster", "all") or _is_warp_call(n)
               for n in ir.walk(node))


def _has_barrier(node) -> bool:
    return any(isinstance(n, ir.Barrier) and n.scope in ("block", "cluster", "all") for n in ir.walk(node))


def _assigned_names(node) -> set[str]:
    """Names written (``x = ...``, ``x += ...``, ``x++``) or whose address is taken under ``node``."""
    out = set()
    for n in ir.walk(node):
        if isinstance(n, ir.Assign) and isinstance(strip_parens(n.target), ir.Name):
            out.add(strip_parens(n.target).id)
        elif isinstance(n, ir.UnOp) and n.op in ("++", "--", "&") and isinstance(strip_parens(n.operand), ir.Name):
            out.add(strip_parens(n.operand).id)
    return out


@dataclass
class Domain:
    """The parallel domain of a kernel: the thread (task) loop variables, outermost first, with
    their extents; the number of threads; the warp size for lane arithmetic."""

    loops: tuple[tuple[str, ir.Expr], ...]
    count: ir.Expr            # number of threads (tasks) in the domain
    warp: int | None          # lanes per warp, None when the model has no warps (BANG)
    thread_builtins: frozenset[str]  # built-in names that vary per thread


class Sequentializer:
    """Builds the sequential body of one parallel region (a block's threads or a launch's tasks)."""

    def __init__(self, domain: Domain, kernel: ir.Function, prologue):
        self.domain = domain
        self.prologue = prologue          # statements at the top of every thread loop body (derived ids)
        self.counter = itertools.count()
        self.reassigned = _assigned_names(kernel.body)
        self.types = declared_types(kernel)
        # Parameters and block-level memory (shared arrays, SRAM) read the same in every thread.
        self.uniform: set[str] = {p.name for p in kernel.params} | {
            v.name for n in ir.walk(kernel.body) if isinstance(n, ir.Decl) and n.scope in ("shared", "sram")
            for v in n.vars}
        self.block_decls: list[ir.Stmt] = []   # expanded arrays, exchange buffers (top of the region)
        self.needs_alive = False
        self.uses_tid = False
        self.expanded: dict[str, tuple[ir.Type, tuple]] = {}
        self.remat: dict[str, ir.Decl] = {}

    # ---- classification ------------------------------------------------------------------------
    def invariant(self, expr) -> bool:
        """True when ``expr`` has the same value in every thread at one point of the program."""
        for n in ir.walk(expr):
            if isinstance(n, ir.Builtin) and (n.name + (f".{n.axis}" if n.axis else "")) in self.domain.thread_builtins:
                return False
            if isinstance(n, ir.Name) and n.id not in self.uniform and n.id in self.types:
                return False
            if _is_warp_call(n):
                return False
            if isinstance(n, ir.Call):
                if n.intrinsic is None or REGISTRY[n.intrinsic].kind not in PURE_KINDS:
                    if not (isinstance(n.func, ir.Name) and n.func.id in _PURE_FUNCTIONS):
                        return False
            if isinstance(n, (ir.Assign,)) or isinstance(n, ir.UnOp) and n.op in ("++", "--"):
                return False
        return True

    def rematerializable(self, s: ir.Decl) -> bool:
        """A per-thread value computed from thread indices and uniform values only (no memory read,
        never reassigned): each thread loop that needs it recomputes it."""
        if len(s.vars) != 1 or s.scope != "local":
            return False
        v = s.vars[0]
        if v.init is None or v.dims or v.ctor_args is not None or v.name in self.reassigned or v.type.pointer:
            return False
        for n in ir.walk(v.init):
            if isinstance(n, (ir.Index, ir.Call, ir.Assign, ir.Member)) or isinstance(n, ir.UnOp) and n.op in ("*", "++", "--"):
                return False
            if isinstance(n, ir.Name) and n.id in self.types and n.id not in self.uniform and n.id not in self.remat:
                return False
        return True

    def uniform_decl(self, s) -> bool:
        return (isinstance(s, ir.Decl) and s.scope == "local" and all(
            v.init is not None and v.ctor_args is None and not v.dims and v.name not in self.reassigned
            and self.invariant(v.init) for v in s.vars))

    # ---- the transformation ----------------------------------------------------------------------
    def run(self, body: ir.Block) -> list[ir.Stmt]:
        # A thread that returns before a later barrier must sit out the thread loops after it.
        stmts = list(body.body)
        returns = [i for i, s in enumerate(stmts) if any(isinstance(n, ir.Return) for n in ir.walk(s))]
        syncs = [i for i, s in enumerate(stmts) if _has_sync(s) or isinstance(s, ir.Barrier)]
        if returns and syncs and (returns[0] < syncs[-1] or any(_has_sync(stmts[i]) for i in returns)):
            self.needs_alive = True
        out = self.seq(stmts, guard=None)
        if self.needs_alive:
            self.block_decls.insert(0, _decl("__alive", ir.Type("bool"), dims=(self.domain.count,)))
            self.needs_alive = False  # the initialising loop itself is not guarded
            init = self.thread_loop([ir.ExprStmt(ir.Assign(self.at("__alive"), "=", ir.Const("true", True)))], None)
            self.needs_alive = True
            out = [init] + out
        return out

    def value_type(self, expr) -> ir.Type:
        """The type of the value ``expr`` computes (for exchange buffers)."""
        typ = value_type(strip_parens(expr), self.types)
        if typ is None:
            raise UnsupportedError(f"cannot tell the type of the warp-primitive operand {_printed(expr)!r}")
        return typ

    def fresh(self, name: str) -> str:
        for k in itertools.count(2):
            candidate = f"{name}_{k}"
            if candidate not in self.types and candidate not in self.expanded and candidate not in self.remat:
                self.types[candidate] = self.types.get(name, (INT, ()))
                return candidate

    def expand(self, variables, decl: ir.Decl):
        """Per-thread variables that live across a split become arrays indexed by the thread."""
        for v in variables:
            if v.name in self.expanded:
                raise UnsupportedError(f"variable {v.name!r} is declared twice in a kernel with barriers; "
                                       "rename one of them")
            if v.ctor_args is not None or isinstance(v.init, ir.InitList) and not v.dims and v.type.pointer:
                raise UnsupportedError(f"per-thread variable {v.name!r} with a constructor lives across a barrier; "
                                       "this is not supported")
            if v.type.pointer:  # `const float *p`: the pointee stays const, the pointer itself may not
                typ = replace(v.type, ptr_quals=tuple(q for q in v.type.ptr_quals if q != "const"))
            else:
                typ = replace(v.type, quals=tuple(q for q in v.type.quals if q != "const"))
            self.expanded[v.name] = (typ, v.dims)
            self.block_decls.append(_decl(v.name, typ, dims=(self.domain.count,) + tuple(v.dims)))

    def at(self, name: str) -> ir.Index:
        self.uses_tid = True
        return ir.Index(_name(name), _name("__tid"))

    def seq(self, stmts: list, guard) -> list[ir.Stmt]:
        """Sequentialize a statement list; ``guard`` is the per-thread predicate (or None)."""
        out: list[ir.Stmt] = []
        current: list[ir.Stmt] = []

        def flush():
            if current:
                out.append(self.thread_loop(list(current), guard))
                current.clear()

        stmts = [part for s in stmts for part in _split_decl(s)]
        splits = [i for i, s in enumerate(stmts) if isinstance(s, ir.Barrier) and s.scope != "warp" or _has_sync(s)]
        for i, s in enumerate(stmts):
            if isinstance(s, ir.Decl) and not (not current and guard is None and self.uniform_decl(s)):
                later = [j for j in splits if j >= i]
                if later:
                    used = {n.id for rest in stmts[later[0]:] for n in ir.walk(rest) if isinstance(n, ir.Name)}
                    crossing = [v for v in s.vars if v.name in used]
                    taken = [v.name for v in crossing if v.name in self.expanded or v.name in self.remat]
                    if taken:  # the same name in another phase of the kernel: give this one its own
                        renames = {name: self.fresh(name) for name in taken}
                        stmts[i:] = [ir.rename(x, renames) for x in stmts[i:]]
                        s = stmts[i]
                        crossing = [v for v in s.vars if renames.get(v.name, v.name) in
                                    {renames.get(u, u) for u in used}]
                    if crossing and self.rematerializable(s):
                        self.remat[crossing[0].name] = s  # recomputed where used: cheaper than an array
                    else:
                        self.expand(crossing, s)
            if isinstance(s, ir.Barrier) and s.scope in ("block", "cluster", "all"):
                flush()
                continue
            if isinstance(s, ir.Barrier):  # __syncwarp: lanes of a warp run in lock step here
                continue
            if not current and guard is None and self.uniform_decl(s):
                out.append(s)
                self.uniform.update(v.name for v in s.vars)
                continue
            if not _has_sync(s):
                current.append(s)
                continue
            flush()
            out.extend(self.sync_statement(s, guard))
        flush()
        return out

    def sync_statement(self, s, guard) -> list[ir.Stmt]:
        if isinstance(s, ir.Block):
            return [ir.Block(tuple(self.seq(list(s.body), guard)))]
        if isinstance(s, ir.If):
            if guard is None and self.invariant(s.cond):
                then = ir.Block(tuple(self.seq(_body(s.then), None)))
                other = ir.Block(tuple(self.seq(_body(s.other), None))) if s.other is not None else None
                return [ir.If(s.cond, then, other)]
            # Predicate: store the condition per thread, run each branch under it.
            pred = f"__pred{next(self.counter)}"
            self.block_decls.append(_decl(pred, ir.Type("bool"), dims=(self.domain.count,)))
            store = self.thread_loop([ir.ExprStmt(ir.Assign(_name(pred), "=", ir.Cast(ir.Type("bool"), ir.Paren(s.cond))))],
                                     guard, expand_refs={pred})
            out = [store] + self.seq(_body(s.then), _and(guard, _name(pred)))
            if s.other is not None:
                out += self.seq(_body(s.other), _and(guard, ir.UnOp("!", _name(pred))))
            return out
        if isinstance(s, ir.For):
            init, body = s.init, _body(s.body)
            if isinstance(init, ir.Decl):
                self.uniform.update(v.name for v in init.vars)
            header = [x for x in (s.cond, s.step) if x is not None]
            if isinstance(init, ir.ExprStmt):
                header.append(init.expr)
            self.check_header(header + ([v.init for v in init.vars if v.init is not None] if isinstance(init, ir.Decl) else []), s)
            return [ir.For(self.thread0(init), self.thread0(s.cond), self.thread0(s.step),
                           ir.Block(tuple(self.seq(body, guard))), s.kind)]
        if isinstance(s, ir.While):
            self.check_header([s.cond], s)
            return [ir.While(self.thread0(s.cond), ir.Block(tuple(self.seq(_body(s.body), guard))), s.do_while)]
        if isinstance(s, (ir.ExprStmt, ir.Decl, ir.Return)):
            if _has_barrier(s):
                raise UnsupportedError("a barrier inside an expression is not supported")
            return self.exchange(s, guard)
        raise UnsupportedError(f"a {type(s).__name__} statement containing a barrier or warp primitive is not supported")

    def check_header(self, exprs, stmt):
        for e in exprs:
            for n in ir.walk(e):
                if isinstance(n, ir.Builtin) and (n.name + (f".{n.axis}" if n.axis else "")) in self.domain.thread_builtins:
                    raise UnsupportedError(
                        "a loop whose bounds depend on the thread index contains a barrier or warp primitive; "
                        "loop recovery needs such loops to be uniform")

    def thread0(self, node):
        """Per-thread values in the header of a hoisted loop are read from thread 0 (the header is
        uniform in a well-defined program: all threads must reach the same barriers)."""
        if node is None:
            return None
        # Recomputed values are substituted by their definitions (then thread indices become 0).
        for _ in range(len(self.remat)):
            if not any(isinstance(n, ir.Name) and n.id in self.remat for n in ir.walk(node)):
                break
            node = ir.rewrite(node, lambda n: ir.Paren(self.remat[n.id].vars[0].init)
                              if isinstance(n, ir.Name) and n.id in self.remat else n)
        node = _ThreadZero(self).rewrite(node)
        if self.expanded:
            node = ir.rewrite(node, lambda n: ir.Index(n, _const(0)) if isinstance(n, ir.Name) and n.id in self.expanded else n)
        return node

    # ---- warp exchange ---------------------------------------------------------------------------
    def exchange(self, s, guard) -> list[ir.Stmt]:
        """Split a statement that calls warp primitives: store operands, then compute with the
        values the primitive reads from other lanes."""
        stores: list[ir.Stmt] = []
        replaced: dict[int, ir.Expr] = {}
        for call in [n for n in ir.walk(s) if _is_warp_call(n)]:
            if any(_is_warp_call(inner) for inner in ir.walk(call) if inner is not call):
                raise UnsupportedError("nested warp primitives in one expression are not supported")
            buf = f"__xch{next(self.counter)}"
            replaced[id(call)] = self.exchange_read(call, buf, stores)
        first = self.thread_loop(stores, guard)
        rewritten = _replace_nodes(s, replaced)
        second = self.thread_loop([rewritten], guard)
        return [first, second]

    def exchange_read(self, call: ir.Call, buf: str, stores: list) -> ir.Expr:
        intrinsic = REGISTRY[call.intrinsic]
        spelled = REGISTRY.spelling_of(intrinsic, call.func.id, len(call.args))
        args = dict(zip(spelled.order, call.args)) if spelled else {}
        warp = self.domain.warp or 32
        lane = ir.BinOp("%", _name("__tid"), _const(warp))
        base = ir.BinOp("-", _name("__tid"), ir.Paren(lane))
        self.uses_tid = True
        name = intrinsic.name
        if name.startswith("mfma."):
            return self.mfma(call, buf, stores)
        if name in ("ballot", "any", "all", "activemask"):
            pred = args.get("predicate", ir.Const("1", 1))
            self.block_decls.append(_decl(buf, ir.Type("bool"), dims=(self.domain.count,)))
            stores.append(ir.ExprStmt(ir.Assign(self.at(buf), "=", ir.Cast(ir.Type("bool"), ir.Paren(pred)))))
            fn = {"ballot": "__xpiler_ballot", "any": "__xpiler_any", "all": "__xpiler_all",
                  "activemask": "__xpiler_ballot"}[name]
            count = ir.BinOp("-", self.domain.count, ir.Paren(base))
            return ir.Call(_name(fn), (ir.BinOp("+", _name(buf), ir.Paren(base)),
                                       ir.Call(_name("min"), (ir.Cast(U, _const(warp)), ir.Cast(U, ir.Paren(count))))))
        var = args["var"]
        width = args.get("width", _const(warp))
        self.block_decls.append(_decl(buf, self.value_type(var), dims=(self.domain.count,)))
        stores.append(ir.ExprStmt(ir.Assign(self.at(buf), "=", var)))
        w = ir.Paren(width)
        if name == "shfl":
            src = ir.BinOp("+", ir.BinOp("*", ir.Paren(ir.BinOp("/", lane, w)), w),
                           ir.Paren(ir.BinOp("%", ir.Paren(args["src_lane"]), w)))
            index = ir.BinOp("+", ir.Paren(base), ir.Paren(src))
        elif name == "shfl_down":
            delta = ir.Paren(args["delta"])
            ok = ir.BinOp("<", ir.BinOp("+", ir.Paren(ir.BinOp("%", lane, w)), delta), w)
            index = ir.Ternary(ok, ir.BinOp("+", _name("__tid"), delta), _name("__tid"))
        elif name == "shfl_up":
            delta = ir.Paren(args["delta"])
            ok = ir.BinOp(">=", ir.Paren(ir.BinOp("%", lane, w)), delta)
            index = ir.Ternary(ok, ir.BinOp("-", _name("__tid"), delta), _name("__tid"))
        else:  # shfl_xor: a later segment of `width` lanes is out of reach (own value)
            src = ir.BinOp("^", lane, ir.Paren(args["lane_mask"]))
            limit = ir.BinOp("+", ir.BinOp("*", ir.Paren(ir.BinOp("/", lane, w)), w), w)
            index = ir.Ternary(ir.BinOp("<", ir.Paren(src), ir.Paren(limit)), ir.BinOp("+", ir.Paren(base), ir.Paren(src)),
                               _name("__tid"))
        # Lanes past the end of a partial warp do not exist: reading one gives the own value. Two
        # reads under a condition rather than one read at a chosen lane: each subscript is then an
        # affine function of the thread, which a vectoriser loads (the chosen lane was a gather).
        own = ir.Index(_name(buf), _name("__tid"))
        if isinstance(index, ir.Ternary) and index.other == _name("__tid"):
            exists = ir.BinOp("&&", index.cond, ir.BinOp("<", ir.Paren(index.then), self.domain.count))
            return ir.Paren(ir.Ternary(exists, ir.Index(_name(buf), index.then), own))
        return ir.Paren(ir.Ternary(ir.BinOp("<", ir.Paren(index), self.domain.count), ir.Index(_name(buf), index), own))

    def mfma(self, call: ir.Call, buf: str, stores: list) -> ir.Expr:
        shape = call.intrinsic.split(".", 1)[1]
        a, b, c = call.args[0], call.args[1], call.args[2]
        for suffix, value in (("a", a), ("b", b), ("c", c)):
            self.block_decls.append(_decl(f"{buf}{suffix}", self.value_type(value), dims=(self.domain.count,)))
            stores.append(ir.ExprStmt(ir.Assign(self.at(f"{buf}{suffix}"), "=", value)))
        self.uses_tid = True
        lane = ir.BinOp("%", _name("__tid"), _const(64))
        base = ir.BinOp("-", _name("__tid"), ir.Paren(lane))
        args = tuple(ir.BinOp("+", _name(f"{buf}{s}"), ir.Paren(base)) for s in "abc") + (lane,)
        return ir.Call(_name(f"__xpiler_mfma_f32_{shape}"), args)

    # ---- thread loops ----------------------------------------------------------------------------
    def thread_loop(self, stmts: list, guard, expand_refs=frozenset()) -> ir.Stmt:
        body = [_lower_decl(x, self.expanded) for x in stmts]
        if self.domain.warp and any(isinstance(n, ir.Call) and n.func == _name("__lane_id") for x in body for n in ir.walk(x)):
            self.uses_tid = True  # HIP's __lane_id(): the lane of this thread in its wavefront
            lane = ir.Paren(ir.BinOp("%", _name("__tid"), _const(self.domain.warp)))
            body = [ir.rewrite(x, lambda n: lane if isinstance(n, ir.Call) and n.func == _name("__lane_id") else n)
                    for x in body]
        if self.remat:
            used = {n.id for x in body for n in ir.walk(x) if isinstance(n, ir.Name)}
            declared = {v.name for x in body if isinstance(x, ir.Decl) for v in x.vars}
            need = [name for name in self.remat if name in used and name not in declared]
            # a recomputed value may use other recomputed values: take their definitions too
            for name in list(self.remat):
                if name in need:
                    deps = {n.id for n in ir.walk(self.remat[name]) if isinstance(n, ir.Name)}
                    need += [d for d in self.remat if d in deps and d not in need and d not in declared]
            body = [self.remat[name] for name in self.remat if name in need] + body
        names = set(expand_refs) | set(self.expanded)
        if names:
            body = [_ExpandNames(names, self).rewrite(x) for x in body]
        label = f"__next_thread{next(self.counter)}"
        returns = any(isinstance(n, ir.Return) for s in body for n in ir.walk(s))
        if returns:
            body = [_Returns(label, self).rewrite(x) for x in body]
        inner: list[ir.Stmt] = [ir.Block(tuple(body))] if returns else body
        conditions = [c for c in (_name("__alive") if self.needs_alive else None, guard) if c is not None]
        if self.needs_alive:
            conditions[0] = self.at("__alive")
        if conditions:
            cond = conditions[0] if len(conditions) == 1 else ir.BinOp("&&", conditions[0], conditions[1])
            inner = [ir.If(_guard_at(cond, self), ir.Block(tuple(inner)))]
        if returns:
            inner.append(ir.Verbatim(f"{label}:;", "label ending a thread's work"))
        node: ir.Stmt = ir.Block(tuple(self.prologue()) + tuple(inner))
        for var, extent in reversed(self.domain.loops):
            node = _loop(var, extent, node, kind="threads")
        return node


class _ThreadZero:
    def __init__(self, seq: Sequentializer):
        self.seq = seq

    def rewrite(self, node):
        def fn(n):
            if isinstance(n, ir.Builtin):
                key = n.name + (f".{n.axis}" if n.axis else "")
                if key in self.seq.domain.thread_builtins:
                    return _const(0)
            return n
        return ir.rewrite(node, fn)


class _ExpandNames:
    """Rewrites ``name`` to ``name[__tid]`` for per-thread arrays, respecting inner declarations that
    shadow the name."""

    def __init__(self, names: set[str], seq: Sequentializer):
        self.names, self.seq = names, seq

    def rewrite(self, node, shadowed: frozenset = frozenset()):
        if isinstance(node, ir.Name):
            if node.id in self.names and node.id not in shadowed:
                self.seq.uses_tid = True
                return ir.Index(node, _name("__tid"))
            return node
        if isinstance(node, ir.Block):
            out, local = [], set(shadowed)
            for s in node.body:
                out.append(self.rewrite(s, frozenset(local)))
                if isinstance(s, ir.Decl):
                    local.update(v.name for v in s.vars)
            return ir.Block(tuple(out))
        if isinstance(node, ir.For) and isinstance(node.init, ir.Decl):
            init = self.rewrite(node.init, shadowed)
            inner = shadowed | {v.name for v in node.init.vars}
            return replace(node, init=init, cond=self.rewrite(node.cond, inner) if node.cond is not None else None,
                           step=self.rewrite(node.step, inner) if node.step is not None else None,
                           body=self.rewrite(node.body, inner))
        if isinstance(node, ir.Declarator):
            return ir.map_children(node, lambda c: self.rewrite(c, shadowed))
        return ir.map_children(node, lambda c: self.rewrite(c, shadowed))


class _Returns:
    """``return;`` in a thread body ends that thread's work (and marks it dead past barriers)."""

    def __init__(self, label: str, seq: Sequentializer):
        self.label, self.seq = label, seq

    def rewrite(self, node):
        def fn(n):
            if isinstance(n, ir.Return):
                if n.value is not None:
                    raise UnsupportedError("a kernel cannot return a value")
                goto = ir.Verbatim(f"goto {self.label};", "end of this thread's work")
                if self.seq.needs_alive:
                    return ir.Block((ir.ExprStmt(ir.Assign(self.seq.at("__alive"), "=", ir.Const("false", False))), goto))
                return ir.Block((goto,))
            return n
        return ir.rewrite(node, fn)


def _guard_at(cond, seq: Sequentializer):
    """Predicate arrays in a guard are read at the current thread."""
    def fn(n):
        if isinstance(n, ir.Name) and n.id.startswith("__pred"):
            seq.uses_tid = True
            return ir.Index(n, _name("__tid"))
        return n
    return ir.rewrite(cond, fn)


def _and(a, b):
    return b if a is None else ir.BinOp("&&", a, b)


def _body(s) -> list:
    if s is None:
        return []
    return list(s.body) if isinstance(s, ir.Block) else [s]


def _replace_nodes(node, replaced: dict[int, ir.Expr]):
    def fn(n):
        return replaced.get(id(n), n)
    # Identity-keyed replacement must see the original nodes: rewrite top-down.
    return _rewrite_top_down(node, fn)


def _rewrite_top_down(node, fn):
    new = fn(node)
    if new is not node:
        return new
    return ir.map_children(node, lambda c: _rewrite_top_down(c, fn))


def _printed(expr) -> str:
    from xpiler.emitters import Printer
    return Printer("cuda").expr(expr)


_PURE_FUNCTIONS = {"min", "max", "fminf", "fmaxf", "expf", "sqrtf", "rsqrtf", "logf", "powf", "tanhf", "fabsf",
                   "__expf", "__fdividef", "floorf", "ceilf", "sizeof"}


def declared_types(function: ir.Function) -> dict[str, tuple[ir.Type, tuple]]:
    """Name -> (type, array dims) of the parameters and every declaration in ``function``."""
    table = {p.name: (p.type, p.dims) for p in function.params}
    for n in ir.walk(function.body):
        if isinstance(n, ir.Decl):
            for v in n.vars:
                table.setdefault(v.name, (v.type, v.dims))
    return table


_FLOAT_TYPES = ("double", "float", "half", "__half", "_Float16")


def value_type(expr, types: dict) -> ir.Type | None:
    """A small type inference for the operands of warp primitives."""
    if isinstance(expr, ir.Paren):
        return value_type(expr.inner, types)
    if isinstance(expr, ir.Name) and expr.id in types:
        typ, dims = types[expr.id]
        return ir.Type(typ.base, typ.pointer, (), ()) if not dims else None
    if isinstance(expr, ir.Index):
        base = strip_parens(expr.base)
        if isinstance(base, ir.Name) and base.id in types:
            typ, dims = types[base.id]
            if dims:
                return ir.Type(typ.base, typ.pointer) if len(dims) == 1 else None
            return ir.Type(typ.base, typ.pointer - 1) if typ.pointer else None
        inner = value_type(base, types)
        return ir.Type(inner.base, inner.pointer - 1) if inner is not None and inner.pointer else None
    if isinstance(expr, ir.Cast):
        return replace(expr.type, quals=(), ptr_quals=())
    if isinstance(expr, ir.Const):
        text = expr.text.lower()
        if isinstance(expr.value, float):
            return ir.Type("float" if text.endswith("f") else "double")
        return ir.Type("unsigned" if "u" in text else "int")
    if isinstance(expr, ir.Builtin):
        return U
    if isinstance(expr, ir.BinOp):
        if expr.op in ("<", "<=", ">", ">=", "==", "!=", "&&", "||"):
            return ir.Type("bool")
        left, right = value_type(expr.left, types), value_type(expr.right, types)
        if left is None or right is None:
            return None
        for t in _FLOAT_TYPES:
            if t in (left.base, right.base):
                return ir.Type(t)
        return left
    if isinstance(expr, ir.Ternary):
        return value_type(expr.then, types)
    if isinstance(expr, ir.UnOp) and expr.op in ("-", "+", "~"):
        return value_type(expr.operand, types)
    if isinstance(expr, ir.Call) and isinstance(expr.func, ir.Name) and expr.func.id.endswith("f"):
        return ir.Type("float")
    return None


def _lower_decl(stmt, expanded: dict):
    """A declaration of an expanded variable becomes an assignment of its initializer (or nothing)."""
    if not isinstance(stmt, ir.Decl) or not any(v.name in expanded for v in stmt.vars):
        return stmt
    kept = tuple(v for v in stmt.vars if v.name not in expanded)
    assigns = tuple(a for v in stmt.vars if v.name in expanded and v.init is not None for a in _init_assigns(v))
    parts = ((replace(stmt, vars=kept),) if kept else ()) + assigns
    return parts[0] if len(parts) == 1 else ir.Block(parts) if parts else ir.Block(())


# ---- SIMT ---------------------------------------------------------------------------------------

SIMT_THREAD_BUILTINS = frozenset({"threadIdx.x", "threadIdx.y", "threadIdx.z"})
AXES = ("z", "y", "x")


def _simt_builtins(node, warp: int):
    def fn(n):
        if isinstance(n, ir.Builtin) and n.axis is not None:
            if n.name in ("threadIdx", "blockIdx"):
                return _name(f"{n.name}_{n.axis}")
            return _member(n.name, n.axis)
        if isinstance(n, ir.Name) and n.id == "warpSize":
            return _const(warp)
        return n
    return ir.rewrite(node, fn)


def _hoist_scoped(body: ir.Block, scopes: set[str]) -> tuple[list[ir.Decl], ir.Block]:
    """Remove declarations of the given memory scopes from anywhere in ``body``; return them."""
    found: list[ir.Decl] = []

    def fn(n):
        if isinstance(n, ir.Block):
            kept = []
            for s in n.body:
                if isinstance(s, ir.Decl) and s.scope in scopes:
                    found.append(s)
                else:
                    kept.append(s)
            return ir.Block(tuple(kept)) if len(kept) != len(n.body) else n
        return n
    return found, ir.rewrite(body, fn)


def recover_simt(kernel: ir.Function, warp: int) -> ir.Function:
    """The sequential form of a CUDA/HIP kernel (see the module docstring)."""
    shared, body = _hoist_scoped(kernel.body, {"shared"})
    count = ir.BinOp("*", ir.BinOp("*", _member("blockDim", "x"), _member("blockDim", "y")), _member("blockDim", "z"))
    domain = Domain(tuple((f"threadIdx_{a}", _member("blockDim", a)) for a in AXES),
                    count=_name("__nthreads"), warp=warp,
                    thread_builtins=SIMT_THREAD_BUILTINS)
    tid = _decl("__tid", U, ir.BinOp("+", ir.BinOp("*", ir.Paren(ir.BinOp("+", ir.BinOp("*", _name("threadIdx_z"), _member("blockDim", "y")),
                                                                           _name("threadIdx_y"))), _member("blockDim", "x")),
                                    _name("threadIdx_x")))
    seq = Sequentializer(domain, replace(kernel, body=body), prologue=lambda: [tid] if seq_uses(seq) else [])
    region = seq.run(body)
    block_body: list[ir.Stmt] = []
    for d in shared:
        block_body.append(_shared_storage(d))
    if seq.block_decls or seq.uses_tid:
        block_body.append(_decl("__nthreads", U, count))
    block_body += seq.block_decls + region
    node: ir.Stmt = ir.Block(tuple(block_body))
    for axis in reversed(AXES):
        node = _loop(f"blockIdx_{axis}", _member("gridDim", axis), node, kind="blocks")
    params = kernel.params + (ir.Param("gridDim", ir.Type("dim3")), ir.Param("blockDim", ir.Type("dim3")),
                              ir.Param("dynamic_shared_bytes", U))
    new_body = _simt_builtins(ir.Block((node,)), warp)
    return ir.Function(kernel.name, kernel.ret, params, new_body, kind="host", quals=("static",), template=kernel.template, loc=kernel.loc)


def seq_uses(seq: Sequentializer) -> bool:
    return seq.uses_tid or bool(seq.expanded) or seq.needs_alive


def _shared_storage(d: ir.Decl) -> ir.Decl:
    """``__shared__ T a[N];`` -> ``T a[N];`` per block; ``extern __shared__ T a[];`` is sized by the
    launch's dynamic shared memory."""
    if "extern" in d.storage:
        v = d.vars[0]
        size = ir.BinOp("/", _name("dynamic_shared_bytes"), ir.SizeOf(type=ir.Type(v.type.base)))
        dims = (ir.BinOp("+", size, _const(1)),) + tuple(v.dims[1:])
        return ir.Decl((replace(v, dims=dims),), "local", tuple(s for s in d.storage if s != "extern"))
    return replace(d, scope="local", storage=tuple(s for s in d.storage if s not in ("static",)))


# ---- BANG ---------------------------------------------------------------------------------------

BANG_TASK_BUILTINS = frozenset({"taskId", "taskIdX", "taskIdY", "taskIdZ", "clusterId", "coreId"})


def _private_core_storage(module: ir.Module, kernel: ir.Function) -> ir.Function:
    """``kernel`` with the file-scope ``__nram__`` / ``__wram__`` buffers it uses declared in its own
    body. Those memories belong to one core: every task has its own (a task runs on one core, and the
    tasks the same core runs one after another each load what they use), so in the sequential form
    each task gets a buffer of its own, like an ``__nram__`` local, rather than one shared by all."""
    used = {n.id for n in ir.walk(kernel.body) if isinstance(n, ir.Name)}
    private = tuple(ir.Decl((v,), i.scope) for i in module.items if isinstance(i, ir.Decl) and i.scope in ("nram", "wram")
                    for v in i.vars if v.name in used)
    if not private:
        return kernel
    return replace(kernel, body=ir.Block(private + kernel.body.body))


def _drop_unused_core_storage(module: ir.Module) -> ir.Module:
    """File-scope ``__nram__`` / ``__wram__`` buffers that no function uses any more (each kernel has
    its own, :func:`_private_core_storage`)."""
    used = set()
    for f in module.functions():
        if f.body is not None:
            used |= used_names(f.body) - declared_names(f.body)

    def keep(i):
        if isinstance(i, ir.Decl) and i.scope in ("nram", "wram"):
            kept = tuple(v for v in i.vars if v.name in used)
            return replace(i, vars=kept) if kept else None
        return i
    return replace(module, items=tuple(x for x in (keep(i) for i in module.items) if x is not None))


def recover_bang(kernel: ir.Function) -> ir.Function:
    """The sequential form of a BANG kernel: tasks loop over taskIdZ/Y/X (see the module docstring)."""
    sram, body = _hoist_scoped(kernel.body, {"sram"})
    body = ir.rewrite(body, lambda n: replace(n, scope="local") if isinstance(n, ir.Decl) and n.scope in ("nram", "wram", "ldram") else n)
    domain = Domain((("taskIdZ", _name("taskDimZ")), ("taskIdY", _name("taskDimY")), ("taskIdX", _name("taskDimX"))),
                    count=_name("taskDim"), warp=None, thread_builtins=BANG_TASK_BUILTINS)
    prologue = [
        _decl("taskId", U, ir.BinOp("+", ir.BinOp("*", ir.Paren(ir.BinOp("+", ir.BinOp("*", _name("taskIdZ"), _name("taskDimY")),
                                                                          _name("taskIdY"))), _name("taskDimX")), _name("taskIdX"))),
        _decl("__tid", U, _name("taskId")),
        _decl("clusterId", INT, ir.Ternary(_name("union_job"), ir.BinOp("/", _name("taskId"), _const(4)), _const(0))),
        _decl("coreId", INT, ir.BinOp("%", _name("taskId"), _const(4))),
    ]
    seq = Sequentializer(domain, replace(kernel, body=body), prologue=lambda: list(prologue))
    region = seq.run(body)
    top: list[ir.Stmt] = [
        _decl("taskDim", U, ir.BinOp("*", ir.BinOp("*", _name("taskDimX"), _name("taskDimY")), _name("taskDimZ"))),
        _decl("clusterDim", INT, ir.Ternary(_name("union_job"), ir.BinOp("/", _name("taskDim"), _const(4)), _const(0))),
        ir.Decl((ir.Declarator("coreDim", INT, (), _const(4)),), "local", ("const",)),
    ]
    clusters = ir.Ternary(_name("union_job"), ir.BinOp("/", _name("taskDim"), _const(4)), _const(1))
    sram_names = set()
    for d in sram:
        for v in d.vars:
            sram_names.add(v.name)
            top.append(_decl(v.name, v.type, dims=(clusters,) + tuple(v.dims)))
    top += seq.block_decls + region
    new_body = ir.Block(tuple(top))
    if sram_names:  # per-cluster storage: `s` means `s[clusterId]`
        new_body = ir.rewrite(new_body, lambda n: ir.Index(n, _name("clusterId")) if isinstance(n, ir.Name) and n.id in sram_names else n)
    new_body = ir.rewrite(new_body, lambda n: _name(n.name) if isinstance(n, ir.Builtin) and n.axis is None else n)
    params = kernel.params + tuple(ir.Param(n, U) for n in ("taskDimX", "taskDimY", "taskDimZ")) + (ir.Param("union_job", INT),)
    return ir.Function(kernel.name, kernel.ret, params, new_body, kind="host", quals=("static",), template=kernel.template, loc=kernel.loc)


# ---- the pass -----------------------------------------------------------------------------------

@register
@dataclass(frozen=True)
class LoopRecovery(ModulePass):
    """Parallel kernels become sequential C functions (SIMT threads and blocks, BANG tasks)."""

    name: ClassVar[str] = "loop-recovery"
    summary: ClassVar[str] = "parallel built-ins become loops; barriers split them; warp primitives exchange through arrays"
    warp: int = 0  # lanes per warp; 0: the dialect's (CUDA 32, HIP 64)

    def apply(self, module: ir.Module) -> ir.Module:
        if module.dialect not in ("cuda", "hip", "bang"):
            raise PassError(f"loop-recovery applies to cuda, hip and bang programs, not {module.dialect}")
        warp = self.warp or (64 if module.dialect == "hip" else 32)
        recover = (lambda k: recover_bang(_private_core_storage(module, k))) if module.dialect == "bang" else \
            (lambda k: recover_simt(k, warp))

        def item(i):
            if isinstance(i, ir.Function) and i.kind == "kernel" and i.body is not None:
                return recover(i)
            if isinstance(i, ir.ExternC):
                return replace(i, items=tuple(item(x) for x in i.items))
            return i
        module = replace(module, items=tuple(item(i) for i in module.items))
        return _drop_unused_core_storage(module) if module.dialect == "bang" else module


def _split_decl(s) -> list:
    """``int a = 1, b = a;`` -> ``int a = 1; int b = a;`` (the same meaning, one variable each)."""
    if isinstance(s, ir.Decl) and len(s.vars) > 1:
        return [replace(s, vars=(v,)) for v in s.vars]
    return [s]


def _init_assigns(v: ir.Declarator) -> tuple:
    """Assignments giving an expanded variable its initial value (its declaration became an array)."""
    if not isinstance(v.init, ir.InitList):
        return (ir.ExprStmt(ir.Assign(_name(v.name), "=", v.init)),)
    from xpiler.emitters import Printer, type_name
    if not v.dims:  # an aggregate or vector value: `T{...}`
        text = type_name(replace(v.type, quals=())) + Printer("vnni").expr(v.init)
        return (ir.ExprStmt(ir.Assign(_name(v.name), "=", ir.RawExpr(text, "braced value"))),)
    # Zero everything, then the listed elements (C fills the rest of a braced list with zeros).
    out = [ir.ExprStmt(ir.Call(_name("memset"), (_name(v.name), _const(0), ir.SizeOf(operand=_name(v.name)))))]

    def assign(target, init, depth):
        for i, item in enumerate(init.items):
            element = ir.Index(target, _const(i))
            if isinstance(item, ir.InitList):
                if depth + 1 >= len(v.dims):
                    raise UnsupportedError(f"the initializer of the per-thread array {v.name!r} is not supported")
                assign(element, item, depth + 1)
            elif not (isinstance(item, ir.Const) and item.value == 0):
                out.append(ir.ExprStmt(ir.Assign(element, "=", item)))
    assign(_name(v.name), v.init, 0)
    return tuple(out)
