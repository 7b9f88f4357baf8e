"""Elide device mirrors: on the CPU, a kernel reads and writes the caller's arrays directly.

Lowered host code keeps the source's device buffers: ``d = malloc(S); memcpy(d, h, S); kernel(d);
memcpy(h, d, S); free(d)``. On a CPU target each call then allocates fresh pages (and faults them in)
and copies every input and output once more, which costs more than an element-wise kernel itself.

A mirror ``d`` is *elided* (``d = h``, its copies and ``free`` dropped) when, in one host function's
top-level statements:

* ``d`` is allocated once, ``d = (T *)malloc(S)``, and otherwise named only by ``memcpy(d, h, S)``
  before its first kernel call, ``memcpy(h, d, S)`` after its last one (the same ``S``, the same host
  array ``h``, a parameter the function never assigns), ``free(d)``, and as an argument of calls to the
  program's own functions;
* the mirror of an input (copied in, never out) is never written by the kernels that take it (a
  ``const`` pointer parameter, or one only read through ``p[i]``);
* no ``return`` that can be taken lies between its first kernel call and its copy back.

Mirrors are distinct buffers, so the kernel never sees one array through two of them. The caller's
arrays may overlap (an in-place call); where an elided array is written and another elided array is
read or written, a run-time check decides: when their byte ranges overlap, the mirror is kept
(``d = direct ? (T *)h : (T *)malloc(S)``, its copies and ``free`` under ``if (!direct)``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from xpiler import ir
from xpiler.ir.analysis import strip_parens
from xpiler.ir.effects import assigned_scalars, call_name, used_names

from .base import ModulePass, PassError, map_function_bodies
from .bind import const_value
from .registry import register

# error codes of the runtimes that lowered host code compares with
_SUCCESS = {"cudaSuccess": 0, "hipSuccess": 0, "CNRT_RET_SUCCESS": 0, "cnrtSuccess": 0}


@dataclass
class _Mirror:
    name: str
    alloc: int                 # statement index of the allocation
    type: ir.Type | None       # pointer type of the mirror
    size: ir.Expr
    copy_in: int | None = None
    copy_out: int | None = None
    host: str | None = None
    frees: tuple = ()
    calls: tuple = ()          # statement indices of calls that take it

    @property
    def written(self) -> bool:
        return self.copy_out is not None


def _call_stmt(s, name: str | None = None) -> ir.Call | None:
    if isinstance(s, ir.ExprStmt) and isinstance(s.expr, ir.Call) and (name is None or call_name(s.expr) == name):
        return s.expr
    return None


def _allocation(s) -> tuple[str, ir.Type | None, ir.Expr] | None:
    """``d = (T *)malloc(S)`` as ``(d, T *, S)``."""
    if not (isinstance(s, ir.ExprStmt) and isinstance(s.expr, ir.Assign) and s.expr.op == "="):
        return None
    target, value = strip_parens(s.expr.target), strip_parens(s.expr.value)
    typ = None
    if isinstance(value, ir.Cast) and value.type.pointer:
        typ, value = value.type, strip_parens(value.operand)
    if isinstance(target, ir.Name) and isinstance(value, ir.Call) and call_name(value) == "malloc" and len(value.args) == 1:
        return target.id, typ, value.args[0]
    return None


def _names_of(e) -> set[str]:
    return used_names(ir.ExprStmt(e))


def read_only(function: ir.Function, index: int) -> bool:
    """The pointer parameter ``index`` of ``function`` is never written through: it points to
    ``const``, or the body names it only as ``p[i]`` read."""
    if index >= len(function.params):
        return False
    param = function.params[index]
    if param.type.pointer and "const" in param.type.quals:
        return True
    name = param.name
    reads = 0
    targets = set()
    for n in ir.walk(function.body):
        if isinstance(n, ir.Assign):
            targets.add(id(strip_parens(n.target)))
        elif isinstance(n, ir.UnOp) and n.op in ("++", "--", "&"):
            targets.add(id(strip_parens(n.operand)))
    for n in ir.walk(function.body):
        if isinstance(n, ir.Index) and strip_parens(n.base) == ir.Name(name):
            if id(n) in targets:
                return False
            reads += 1
    total = sum(1 for n in ir.walk(function.body) if isinstance(n, ir.Name) and n.id == name)
    return total == reads and name not in assigned_scalars(function.body)


class _Elider:
    def __init__(self, module: ir.Module, f: ir.Function):
        self.functions = {g.name: g for g in module.functions() if g.body is not None}
        self.f = f
        self.stmts = list(f.body.body)
        self.params = {p.name for p in f.params if p.type.pointer or p.dims}
        self.assigned = assigned_scalars(f.body)
        # names whose value is the same wherever they are in scope: never assigned after their declaration
        declared = {p.name for p in f.params} | {v.name for s in self.stmts if isinstance(s, ir.Decl) for v in s.vars}
        self.stable = declared - self.assigned
        env = dict(_SUCCESS)
        for s in self.stmts:
            if isinstance(s, ir.Decl):
                for v in s.vars:
                    if v.init is not None and not v.dims and v.name not in self.assigned:
                        value = const_value(v.init, env)
                        if value is not None:
                            env[v.name] = value
        self.env = env

    def mirrors(self) -> list[_Mirror]:
        found: dict[str, _Mirror] = {}
        rejected: set[str] = set()
        for i, s in enumerate(self.stmts):
            alloc = _allocation(s)
            if alloc is not None:
                name, typ, size = alloc
                if name in found:
                    rejected.add(name)
                found[name] = _Mirror(name, i, typ, size)
        for i, s in enumerate(self.stmts):
            names = used_names(s)
            for name, m in found.items():
                if i != m.alloc and name in names and not self.use(m, i, s):
                    rejected.add(name)
        out = []
        for name, m in found.items():
            if name in rejected or not m.calls or (m.copy_in is None and m.copy_out is None):
                continue
            if m.copy_in is not None and m.copy_in > min(m.calls):
                continue
            if m.copy_out is not None and (m.copy_out < max(m.calls) or self.may_return(min(m.calls), m.copy_out)):
                continue
            if m.copy_out is None and not all(self.kernel_reads_only(self.stmts[c], name) for c in m.calls):
                continue
            if not _names_of(m.size) <= self.stable or m.host in self.assigned:
                continue
            out.append(m)
        return out

    def use(self, m: _Mirror, i: int, s) -> bool:
        """Record one statement naming the mirror; False when the use is not one elision allows."""
        copy = _call_stmt(s, "memcpy")
        if copy is not None and len(copy.args) == 3:
            dst, src, size = (strip_parens(a) for a in copy.args)
            if size != strip_parens(m.size):
                return False
            if dst == ir.Name(m.name) and isinstance(src, ir.Name) and src.id in self.params and m.copy_in is None:
                if m.host not in (None, src.id):
                    return False
                m.copy_in, m.host = i, src.id
                return True
            if src == ir.Name(m.name) and isinstance(dst, ir.Name) and dst.id in self.params and m.copy_out is None:
                if m.host not in (None, dst.id):
                    return False
                m.copy_out, m.host = i, dst.id
                return True
            return False
        free = _call_stmt(s, "free")
        if free is not None and len(free.args) == 1 and strip_parens(free.args[0]) == ir.Name(m.name):
            m.frees += (i,)
            return True
        call = _call_stmt(s)
        if call is not None and call_name(call) in self.functions and \
                all(strip_parens(a) == ir.Name(m.name) or m.name not in _names_of(a) for a in call.args):
            m.calls += (i,)
            return True
        return False

    def kernel_reads_only(self, s, name: str) -> bool:
        call = _call_stmt(s)
        callee = self.functions[call_name(call)]
        return all(read_only(callee, k) for k, a in enumerate(call.args) if strip_parens(a) == ir.Name(name))

    def may_return(self, start: int, end: int) -> bool:
        for s in self.stmts[start:end]:
            if isinstance(s, ir.If) and const_value(s.cond, self.env) == 0:
                continue   # a check of an error code that is constant: never taken
            if any(isinstance(n, ir.Return) for n in ir.walk(s)):
                return True
        return False

    def run(self) -> ir.Function | None:
        mirrors = sorted(self.mirrors(), key=lambda m: m.alloc)
        if not mirrors:
            return None
        replaced: dict[int, list] = {}
        direct: list[tuple[_Mirror, str | None]] = []
        for m in mirrors:
            # ranges to check: the earlier elided arrays this one conflicts with (one of the two written)
            conflicts = [(o, flag) for o, flag in direct if o.written or m.written]
            flag = None
            host = ir.Cast(m.type, ir.Name(m.host)) if m.type else ir.Name(m.host)
            if conflicts:
                flag = f"__xp_direct_{m.name}"
                cond = None
                for o, oflag in conflicts:
                    term = _disjoint(m, o)
                    if oflag is not None:
                        term = ir.BinOp("||", ir.UnOp("!", ir.Name(oflag)), ir.Paren(term))
                    cond = ir.Paren(term) if cond is None else ir.BinOp("&&", cond, ir.Paren(term))
                replaced[m.alloc] = [
                    ir.Decl((ir.Declarator(flag, ir.Type("int"), init=cond),)),
                    replace(self.stmts[m.alloc], expr=replace(self.stmts[m.alloc].expr, value=ir.Ternary(
                        ir.Name(flag), host, self.stmts[m.alloc].expr.value)))]
                for i in (m.copy_in, m.copy_out, *m.frees):
                    if i is not None:
                        replaced[i] = [ir.If(ir.UnOp("!", ir.Name(flag)), self.stmts[i])]
            else:
                replaced[m.alloc] = [replace(self.stmts[m.alloc], expr=replace(self.stmts[m.alloc].expr, value=host))]
                for i in (m.copy_in, m.copy_out, *m.frees):
                    if i is not None:
                        replaced[i] = []
            direct.append((m, flag))
        body = []
        for i, s in enumerate(self.stmts):
            body += replaced.get(i, [s])
        return replace(self.f, body=replace(self.f.body, body=tuple(body)))


def _disjoint(a: _Mirror, b: _Mirror) -> ir.Expr:
    """``[h_a, h_a + S_a)`` and ``[h_b, h_b + S_b)`` do not overlap (byte pointers compared: the
    arrays stay pointers, which analyses of the C, such as the footprint, follow)."""
    def addr(m):
        return ir.Cast(ir.Type("char", 1, ("const",)), ir.Name(m.host))

    def end(m):
        return ir.BinOp("+", addr(m), ir.Paren(m.size))
    return ir.BinOp("||", ir.BinOp("<=", end(a), addr(b)), ir.BinOp("<=", end(b), addr(a)))


@register
@dataclass(frozen=True)
class ElideMirrors(ModulePass):
    name: ClassVar[str] = "elide-mirrors"
    summary: ClassVar[str] = "CPU targets: kernels use the caller's arrays, not malloc'd device mirrors"

    def apply(self, module: ir.Module) -> ir.Module:
        if module.dialect != "vnni":
            raise PassError(f"elide-mirrors applies to C (vnni) programs, not {module.dialect}")
        return map_function_bodies(module, lambda f: (_Elider(module, f).run() or f).body)
