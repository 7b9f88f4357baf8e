"""Inlining device functions into the kernels that call them.

Loop recovery must see every barrier, warp primitive and parallel built-in of a kernel, including
those inside ``__device__`` / ``__mlu_func__`` helpers (a warp-reduction helper is the typical case).
This pass inlines such helpers at their call sites: arguments bind to renamed parameters in a new
block, the helper's locals are renamed apart, and ``return v;`` becomes an assignment of the call's
result (an early return jumps to the end of the inlined block). Helpers that use none of these stay
functions.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import ClassVar

from xpiler import ir
from xpiler.errors import UnsupportedError

from .base import ModulePass
from .loop_recovery import _has_sync, _rewrite_top_down
from .registry import register

MAX_DEPTH = 16


def _parallel(function: ir.Function) -> bool:
    """Does ``function`` use anything loop recovery must see?"""
    return _has_sync(function.body) or any(
        isinstance(n, ir.Builtin) or isinstance(n, ir.Decl) and n.scope not in ("local",) for n in ir.walk(function.body))


class _Inliner:
    def __init__(self, callees: dict[str, ir.Function], propagate: bool = False):
        self.callees = callees
        self.counter = itertools.count()
        # substitute arguments that are names or literals for the parameters the callee never
        # assigns, rather than binding copies (a pointer stays the caller's pointer: host code
        # later maps the entry's pointers to device memory by name)
        self.propagate = propagate

    def block(self, block: ir.Block, depth: int) -> ir.Block:
        out: list[ir.Stmt] = []
        for s in block.body:
            out.extend(self.stmt(s, depth))
        return ir.Block(tuple(out))

    def stmt(self, s, depth: int) -> list[ir.Stmt]:
        if isinstance(s, ir.Block):
            return [self.block(s, depth)]
        if isinstance(s, ir.If):
            self.refuse_in(s.cond, "an if condition")
            return [replace(s, then=self.single(s.then, depth), other=self.single(s.other, depth) if s.other else None)]
        if isinstance(s, ir.For):
            for part, what in ((s.cond, "a loop condition"), (s.step, "a loop step")):
                self.refuse_in(part, what)
            if s.init is not None and self.calls(s.init):
                raise UnsupportedError("a call of an inlined device function in a for-loop initializer is not supported")
            return [replace(s, body=self.single(s.body, depth))]
        if isinstance(s, ir.While):
            self.refuse_in(s.cond, "a loop condition")
            return [replace(s, body=self.single(s.body, depth))]
        calls = self.calls(s)
        if not calls:
            return [s]
        if depth > MAX_DEPTH:
            raise UnsupportedError(f"device functions nested deeper than {MAX_DEPTH} calls (recursion?)")
        before: list[ir.Stmt] = []
        replaced = {}
        for call in calls:
            result, stmts = self.expand(call, depth)
            before.extend(stmts)
            if result is not None:
                replaced[id(call)] = result
        if isinstance(s, ir.ExprStmt) and any(s.expr is c for c in calls):
            return before  # the statement is the call (void, or its value unused)
        if any(id(c) not in replaced for c in calls):
            raise UnsupportedError(f"the value of void function {calls[0].func.id!r} is used")
        return before + [_rewrite_top_down(s, lambda n: replaced.get(id(n), n))]

    def single(self, s, depth):
        if s is None:
            return None
        out = self.stmt(s, depth)
        return out[0] if len(out) == 1 else ir.Block(tuple(out))

    def calls(self, node) -> list[ir.Call]:
        return [n for n in ir.walk(node) if isinstance(n, ir.Call) and isinstance(n.func, ir.Name)
                and n.func.id in self.callees]

    def refuse_in(self, expr, where: str):
        if expr is not None and self.calls(expr):
            raise UnsupportedError(f"a call of device function {self.calls(expr)[0].func.id!r} in {where} cannot be "
                                   "inlined; assign it to a variable first")

    def expand(self, call: ir.Call, depth: int) -> tuple[ir.Expr | None, list[ir.Stmt]]:
        callee = self.callees[call.func.id]
        if len(call.args) != len(callee.params):
            raise UnsupportedError(f"call of {callee.name} with {len(call.args)} arguments; it takes {len(callee.params)}")
        k = next(self.counter)
        suffix = f"_{callee.name}{k}"
        local = {p.name for p in callee.params} | {v.name for n in ir.walk(callee.body) if isinstance(n, ir.Decl) for v in n.vars}
        rename = {name: name + suffix for name in local}
        body = ir.rename(callee.body, rename)
        direct = {}
        if self.propagate:
            from xpiler.ir.effects import assigned_scalars
            changed = assigned_scalars(callee.body)
            direct = {rename[p.name]: arg for p, arg in zip(callee.params, call.args)
                      if p.name not in changed and isinstance(arg, (ir.Name, ir.Const))
                      and not any(isinstance(n, ir.UnOp) and n.op == "&" and n.operand == ir.Name(p.name)
                                  for n in ir.walk(callee.body))}
            body = ir.rewrite(body, lambda n: direct[n.id] if isinstance(n, ir.Name) and n.id in direct else n)
        binds = tuple(ir.Decl((ir.Declarator(rename[p.name], replace(p.type, ptr_quals=()), p.dims, arg),))
                      for p, arg in zip(callee.params, call.args) if rename[p.name] not in direct)
        result_name = f"__ret{suffix}"
        void = callee.ret.base == "void" and not callee.ret.pointer
        label = f"__end{suffix}"
        statements = list(body.body)
        while statements and isinstance(statements[-1], ir.Comment):
            statements.pop()
        early = [n for s in statements[:-1] for n in ir.walk(s) if isinstance(n, ir.Return)]
        if statements and isinstance(statements[-1], ir.Return):
            last = statements.pop()
            tail = [] if void or last.value is None else [ir.ExprStmt(ir.Assign(ir.Name(result_name), "=", last.value))]
        else:
            tail = []
        if early:
            if _has_sync(body):
                raise UnsupportedError(f"device function {callee.name} returns early and synchronises; not supported")

            def ret(n):
                if isinstance(n, ir.Return):
                    parts = [] if n.value is None else [ir.ExprStmt(ir.Assign(ir.Name(result_name), "=", n.value))]
                    return ir.Block(tuple(parts) + (ir.Verbatim(f"goto {label};", "early return of an inlined function"),))
                return n
            statements = [ir.rewrite(s, ret) for s in statements]
        inner = self.block(ir.Block(binds + tuple(statements) + tuple(tail)), depth + 1)
        out: list[ir.Stmt] = []
        if not void:
            out.append(ir.Decl((ir.Declarator(result_name, replace(callee.ret, quals=(), ptr_quals=())),)))
        out.append(inner)
        if early:
            out.append(ir.Verbatim(f"{label}:;", "end of an inlined function"))
        return (None if void else ir.Name(result_name)), out


def _inline_everywhere(module: ir.Module, inliner: _Inliner) -> ir.Module:
    """``module`` with every call of the inliner's callees inlined, and the callees removed."""
    def item(i):
        if isinstance(i, ir.Function) and i.body is not None and i.name not in inliner.callees:
            return replace(i, body=inliner.block(i.body, 0))
        if isinstance(i, ir.ExternC):
            return replace(i, items=tuple(x for x in (item(y) for y in i.items) if x is not None))
        if isinstance(i, ir.Function) and i.name in inliner.callees:
            return None
        return i
    return replace(module, items=tuple(x for x in (item(i) for i in module.items) if x is not None))


@register
@dataclass(frozen=True)
class InlineDevice(ModulePass):
    """Inline device functions that synchronise, shuffle or read parallel built-ins."""

    name: ClassVar[str] = "inline-device"
    summary: ClassVar[str] = "inline device helpers that loop recovery must see into their callers"

    def apply(self, module: ir.Module) -> ir.Module:
        functions = [f for f in module.functions() if f.body is not None]
        callees = {f.name: f for f in functions if f.kind == "device" and _parallel(f)}
        if not callees:
            return module
        # inlined everywhere; its parallel built-ins have no meaning on their own
        return _inline_everywhere(module, _Inliner(callees))


def _has_openmp(function: ir.Function) -> bool:
    return any(isinstance(n, ir.Pragma) and n.text.split()[:1] == ["omp"] for n in ir.walk(function.body))


@register
@dataclass(frozen=True)
class InlineParallel(ModulePass):
    """Inline host helpers that hold an OpenMP parallel loop into the entries that call them."""

    name: ClassVar[str] = "inline-parallel"
    summary: ClassVar[str] = "inline helpers with an OpenMP loop into their callers (their loops become kernels)"

    def apply(self, module: ir.Module) -> ir.Module:
        # A helper called from an entry would become one device function run by one thread; inlined,
        # its parallel loop is the entry's, which outline and bind map onto the GPU. Arguments that
        # are constants at a call (the kind of pooling) become constants of that copy.
        return _inline_called_helpers(module, _has_openmp)


def _inline_called_helpers(module: ir.Module, wanted) -> ir.Module:
    """``module`` with the helpers (host functions, not ``extern "C"``) for which ``wanted(f)`` holds
    inlined wherever another function calls them, arguments substituted."""
    functions = [f for f in module.functions() if f.body is not None]
    callees = {f.name: f for f in functions if f.kind == "host" and not f.extern_c and wanted(f)}
    called = {n.func.id for f in functions for n in ir.walk(f.body)   # helpers of helpers too
              if isinstance(n, ir.Call) and isinstance(n.func, ir.Name) and n.func.id != f.name}
    callees = {name: f for name, f in callees.items() if name in called}
    if not callees:
        return module
    return _inline_everywhere(module, _Inliner(callees, propagate=True))


@register
@dataclass(frozen=True)
class InlineVector(ModulePass):
    """Inline helpers of vector code (functions over lanes: ``exp512_ps``) into their callers."""

    name: ClassVar[str] = "inline-vector"
    summary: ClassVar[str] = "inline helpers holding lane loops into their callers (their lanes become the caller's)"

    def apply(self, module: ir.Module) -> ir.Module:
        # A helper's lane loops are opaque at the call: the loop around the call cannot be proved
        # parallel, and the helper runs in one thread. Inlined, its lanes fuse with the caller's.
        from .lanes_outward import lane_loops
        return _inline_called_helpers(module, lambda f: bool(lane_loops(f.body)) and not _has_openmp(f))
