"""Outline: split sequential C into host code and device functions, the first step of raising.

Raising to a device dialect (CUDA, HIP, BANG) runs every statement that touches memory on the
device, so that the host entry only computes scalars, launches and moves data (conventions.md: the
entry takes host pointers and manages device memory itself). This pass marks that split in C:

* functions recovered from kernels (their block or task loops carry ``For.kind == "blocks"``)
  become ``kind="kernel"``: each call of one from a host entry is a launch;
* in a host entry, every maximal run of statements that touch memory (loops over buffers, stores)
  and is not a launch, an allocation or a copy becomes a new function ``<entry>_device<n>`` of kind
  ``kernel``, called in its place; its parameters are the run's free variables (arrays and
  pointers by address, scalars by value).

A run starts a new device function at every top-level loop, so that each loop nest can be bound
on its own; statements that write a scalar the host needs later make the rest of the run one
function (the scalar stays on the device), and a scalar the host reads after the device wrote it
is refused: that program needs a device-to-host scalar copy this pass does not make yet.
The output is still runnable C: the new functions are plain calls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import ClassVar

from xpiler import ir
from xpiler.errors import UnsupportedError
from xpiler.ir.analysis import omp_collapse, statements
from xpiler.ir.effects import (assigned_scalars, call_name, declared_names, free_names, is_pure_call,
                               touches_memory, used_names)

from .base import ModulePass, PassError
from .registry import register

# Host-side memory management kept in the entry (host-raise maps them to the target's runtime).
HOST_CALLS = frozenset({"malloc", "calloc", "free", "memcpy", "memset", "memmove"})


def is_recovered_kernel(f: ir.Function) -> bool:
    return f.body is not None and any(isinstance(n, ir.For) and n.kind in ("blocks", "threads") for n in ir.walk(f.body))


def kernel_names(module: ir.Module) -> set[str]:
    return {f.name for f in module.functions() if f.kind == "kernel" and f.body is not None}


class _Outliner:
    def __init__(self, module: ir.Module, entry: ir.Function, kernels: set[str]):
        self.module = module
        self.entry = entry
        self.kernels = kernels
        self.new_functions: list[ir.Function] = []
        self.launched = False  # a launch of a recovered kernel was seen
        self.types: dict[str, tuple[ir.Type, tuple]] = {p.name: (p.type, p.dims) for p in entry.params}
        self.globals = {f.name for f in module.functions()} | {i.name for i in module.items if isinstance(i, ir.Define)}
        for item in module.items:
            if isinstance(item, ir.Decl):
                self.globals |= {v.name for v in item.vars}

    # ---- classification --------------------------------------------------------------------------
    def is_host_statement(self, s) -> bool:
        """Scalar computation, declarations without memory access, launches, allocations, copies."""
        if isinstance(s, ir.Decl):
            return not any(v.init is not None and touches_memory(v.init) and not self.is_host_call(v.init)
                           and not self.reads_inputs(v, v.init) for v in s.vars)
        if isinstance(s, ir.ExprStmt):
            return self.is_host_call(s.expr) or not touches_memory(s.expr)
        if isinstance(s, (ir.Return, ir.Comment, ir.Pragma, ir.Jump, ir.Verbatim)):
            return True
        return not touches_memory(s)

    def reads_inputs(self, var: ir.Declarator, e) -> bool:
        """A scalar computed from the entry's read-only inputs (``const T *`` parameters) before any
        device code ran (``taps = w[0] | w[1] << 8``): the host reads its own copy, as the source did."""
        if self.device_started or var.dims or var.type.pointer:
            return False
        inputs = {p.name for p in self.entry.params if p.type.pointer == 1 and "const" in p.type.quals}
        for n in ir.walk(e):
            if isinstance(n, ir.Call) and not is_pure_call(n):
                return False
            if isinstance(n, ir.Index) and not (isinstance(ir.analysis.strip_parens(n.base), ir.Name) and
                                                ir.analysis.strip_parens(n.base).id in inputs):
                return False
            if isinstance(n, (ir.Assign, ir.Launch)) or isinstance(n, ir.UnOp) and n.op in ("*", "++", "--", "&"):
                return False
        return True

    @property
    def device_started(self) -> bool:
        return bool(self.new_functions) or self.launched

    def is_host_call(self, e) -> bool:
        e = ir.analysis.strip_parens(e)
        if isinstance(e, ir.Call) and len(e.args) == 1 and (call_name(e) or "").endswith("_CHECK"):
            return self.is_host_call(e.args[0])  # CNRT_CHECK(call), CUDA_CHECK(call)
        if isinstance(e, ir.Cast):
            e = ir.analysis.strip_parens(e.operand)
        if isinstance(e, ir.Assign) and e.op == "=":
            return self.is_host_call(e.value)
        if isinstance(e, ir.Call):
            name = call_name(e)
            return name in HOST_CALLS or name in self.kernels
        return False

    @staticmethod
    def device_values(run) -> set[str]:
        region = ir.Block(tuple(run))
        return assigned_scalars(region) | {v.name for t in run if isinstance(t, ir.Decl) for v in t.vars}

    def carries(self, run, rest) -> bool:
        """The run writes a scalar that what follows reads (``i`` of a vector loop and its tail loop):
        they stay in one device function."""
        written = self.device_values(run)
        return bool(written & set().union(*(used_names(t) for t in rest)))

    def contains_launch(self, s) -> bool:
        return any(isinstance(n, ir.Call) and (call_name(n) in self.kernels or call_name(n) in HOST_CALLS)
                   for n in ir.walk(s))

    # ---- the walk --------------------------------------------------------------------------------
    def block(self, stmts: tuple, later_uses) -> tuple:
        out: list = []
        run: list = []

        def flush(index):
            if run:
                after = set().union(*(used_names(s) for s in stmts[index:])) | later_uses
                out.extend(self.outline(list(run), after))
                run.clear()

        for i, s in enumerate(stmts):
            if isinstance(s, ir.Decl):
                for v in s.vars:
                    self.types[v.name] = (v.type, v.dims)
            if run and not self.contains_launch(s) and used_names(s) & self.device_values(run):
                run.append(s)  # scalar code that reads what the device computed runs there too
            elif self.is_host_statement(s):
                flush(i)
                out.append(s)
            elif self.contains_launch(s):
                flush(i)
                self.launched = True
                rest = set().union(*(used_names(t) for t in stmts[i + 1:])) | later_uses
                out.append(self.host_control(s, rest))
            else:
                if isinstance(s, ir.For) and run and not self.carries(run, stmts[i:]):
                    flush(i)
                run.append(s)
        flush(len(stmts))
        return tuple(out)

    def host_control(self, s, later_uses):
        """A host statement around launches (a loop over layers, an ``if``): outline inside it."""
        uses = later_uses | used_names(s)  # a loop may run its body again
        if isinstance(s, ir.Block):
            return replace(s, body=self.block(s.body, later_uses))
        if isinstance(s, ir.For):
            body = s.body if isinstance(s.body, ir.Block) else ir.Block((s.body,))
            return replace(s, body=replace(body, body=self.block(body.body, uses)))
        if isinstance(s, ir.If):
            def branch(b):
                if b is None:
                    return None
                b = b if isinstance(b, ir.Block) else ir.Block((b,))
                return replace(b, body=self.block(b.body, later_uses))
            return replace(s, then=branch(s.then), other=branch(s.other))
        if isinstance(s, ir.While):
            body = s.body if isinstance(s.body, ir.Block) else ir.Block((s.body,))
            return replace(s, body=replace(body, body=self.block(body.body, uses)))
        raise UnsupportedError(f"outline: device code mixed with launches in a {type(s).__name__} statement "
                               f"of {self.entry.name} is not supported")

    def outline(self, run: list, after: set[str]) -> list:
        name = f"{self.entry.name}_device{len(self.new_functions)}"
        region = ir.Block(tuple(run))
        top_level = {v.name for t in run if isinstance(t, ir.Decl) for v in t.vars}
        scoped = declared_names(region) - top_level  # loop counters and block locals die with the run
        written = ((assigned_scalars(region) - scoped) | top_level) & set(self.types)
        escaping = sorted(v for v in written if v in after and not self.types[v][1])
        if escaping:
            raise UnsupportedError(f"outline: {self.entry.name} computes scalar(s) {', '.join(escaping)} in code "
                                   f"that touches memory and uses them afterwards on the host; moving a scalar "
                                   f"back from the device is not supported")
        params = []
        for var in sorted(free_names(region)):
            if var in self.globals or var not in self.types:
                continue
            typ, dims = self.types[var]
            if not typ.pointer and not dims and ("<" in typ.base or "::" in typ.base):
                raise UnsupportedError(f"outline: device code of {self.entry.name} uses {var} of the C++ type "
                                       f"{typ.base}; only scalars, arrays and pointers can move to the device")
            if dims:  # a local array of the entry: passed by address
                typ = replace(typ, pointer=typ.pointer + len(dims) if len(dims) == 1 else typ.pointer + 1)
                if len(dims) > 1:
                    raise UnsupportedError(f"outline: multi-dimensional local array {var} of {self.entry.name} "
                                           f"used by device code is not supported")
            params.append(ir.Param(var, replace(typ, quals=tuple(q for q in typ.quals if q != "static"))))
        function = ir.Function(name, ir.Type("void"), tuple(params), region, kind="kernel", quals=("static",))
        self.new_functions.append(function)
        return [ir.ExprStmt(ir.Call(ir.Name(name), tuple(ir.Name(p.name) for p in params)))]


def entry_names(module: ir.Module) -> set[str]:
    """The host entries: ``extern "C"`` functions, else (plain C input) the non-static functions no
    other function calls."""
    entries = {f.name for f in module.host_entries}
    if entries:
        return entries
    called = {call_name(n) for f in module.functions() if f.body is not None for n in ir.walk(f.body)
              if isinstance(n, ir.Call)}
    return {f.name for f in module.functions() if f.body is not None and f.kind == "host"
            and "static" not in f.quals and f.name not in called}


def openmp_loops(body):
    """A loop under ``#pragma omp parallel for`` (plain, ``collapse(n)`` or ``schedule(...)``) is
    parallel: OpenMP already requires its iterations to be independent. The pragma goes (the target
    says how the loop runs); loops with other clauses (reductions, private copies) stay serial."""
    def fn(n):
        if not isinstance(n, ir.Block):
            return n
        out, changed = [], False
        for i, s in enumerate(n.body):
            nxt = n.body[i + 1] if i + 1 < len(n.body) else None
            if isinstance(s, ir.Pragma) and s.text.split()[:1] == ["omp"]:
                changed = True
                m = re.fullmatch(r"omp\s+parallel\s+for((?:\s+(?:collapse\(\s*\d+\s*\)|schedule\([^)]*\)))*)\s*",
                                 s.text.strip())
                if m and isinstance(nxt, ir.For):
                    out.append(("mark", omp_collapse(m.group(1)) or 1))
                continue
            if out and isinstance(out[-1], tuple):
                depth = out.pop()[1]
                s = _mark_parallel(s, depth)
            out.append(s)
        out = [s for s in out if not isinstance(s, tuple)]
        return replace(n, body=tuple(out)) if changed else n
    return ir.rewrite(body, fn)


_OMP_FOR = re.compile(r"omp\s+for((?:\s+(?:collapse\(\s*\d+\s*\)|schedule\([^)]*\)))*)\s*")


def openmp_regions(body):
    """``#pragma omp parallel { <declarations> #pragma omp for ... for (...) {...} }`` is
    ``#pragma omp parallel for ...`` with the declarations inside the (innermost collapsed) loop's
    body: a variable declared in the region is private to a thread, and since which iterations a
    thread runs is unspecified, an iteration may only read what it wrote itself; one copy per
    iteration is the same program. Regions with anything else (other statements, clauses on the
    ``parallel``) are left alone."""
    def fn(n):
        if not isinstance(n, ir.Block):
            return n
        out, changed = [], False
        stmts = list(n.body)
        i = 0
        while i < len(stmts):
            s, nxt = stmts[i], stmts[i + 1] if i + 1 < len(stmts) else None
            region = _region_loop(nxt) if isinstance(s, ir.Pragma) and \
                re.fullmatch(r"omp\s+parallel\s*", s.text.strip()) else None
            if region is None:
                out.append(s)
                i += 1
                continue
            decls, clauses, loop = region
            out += [ir.Pragma(f"omp parallel for{clauses}".rstrip()),
                    _privatize(loop, decls, omp_collapse(clauses) or 1)]
            changed = True
            i += 2
        return replace(n, body=tuple(out)) if changed else n
    return ir.rewrite(body, fn)


def _region_loop(block):
    """``(declarations, clauses of the omp for, the loop)`` of a region made of declarations and
    one ``#pragma omp for`` loop, else None."""
    if not isinstance(block, ir.Block):
        return None
    stmts = [s for s in block.body if not isinstance(s, ir.Comment)]
    if len(stmts) < 2 or not isinstance(stmts[-1], ir.For) or not isinstance(stmts[-2], ir.Pragma):
        return None
    m = _OMP_FOR.fullmatch(stmts[-2].text.strip())
    decls = stmts[:-2]
    if m is None or not all(isinstance(d, ir.Decl) and d.scope == "local" and not d.storage and
                            all(v.init is None or not _calls(v.init) for v in d.vars) and
                            all(not _calls(a) for v in d.vars for a in v.ctor_args or ()) for d in decls):
        return None
    return decls, m.group(1), stmts[-1]


def _calls(e) -> bool:
    return any(isinstance(n, ir.Call) for n in ir.walk(e))


def _privatize(loop: ir.For, decls: list, depth: int) -> ir.For:
    if depth > 1:
        inner = [s for s in statements(loop.body) if not isinstance(s, ir.Comment)]
        if len(inner) == 1 and isinstance(inner[0], ir.For):
            return replace(loop, body=ir.Block((_privatize(inner[0], decls, depth - 1),)))
    return replace(loop, body=ir.Block(tuple(decls) + tuple(statements(loop.body))))


_VECTOR = re.compile(r"(?:std::)?vector<\s*([A-Za-z_][\w ]*?)\s*>")


def loop_vectors(body):
    """``std::vector<T> v(n)`` / ``v(n, 0)`` declared inside a loop and used only as ``v[i]`` and
    ``v.data()`` becomes a local array ``T v[n]`` set to zero (what the vector's constructor does):
    per-iteration scratch that bind gives each block (device code cannot construct a vector)."""
    def fn(n):
        if not isinstance(n, ir.For):
            return n
        return replace(n, body=_arrays_for_vectors(n.body))
    return ir.rewrite(body, fn)


def _indexed_vectors(stmts: list):
    """``(position, declaration, declarator, the statements after it, element type)`` of each
    ``std::vector`` declared in ``stmts`` and used after it only as ``v[i]`` / ``v.data()``."""
    for i, s in enumerate(stmts):
        v = _vector_decl(s)
        rest = ir.Block(tuple(stmts[i + 1:]))
        if v is not None and _indexed_only(rest, v.name):
            yield i, s, v, rest, ir.Type(_VECTOR.fullmatch(v.type.base).group(1))


def _arrays_for_vectors(body):
    stmts = statements(body)
    for i, s, v, rest, elem in _indexed_vectors(stmts):
        size = v.ctor_args[0]
        array = replace(s, vars=(ir.Declarator(v.name, elem, dims=(size,)),))
        k = f"__xp_{v.name}_i"
        zero = ir.For(ir.Decl((ir.Declarator(k, ir.Type("int"), init=ir.Const("0", 0)),)),
                      ir.BinOp("<", ir.Name(k), size), ir.UnOp("++", ir.Name(k)),
                      ir.ExprStmt(ir.Assign(ir.Index(ir.Name(v.name), ir.Name(k)), "=", ir.Const("0", 0))))
        rest = ir.rewrite(rest, lambda n, name=v.name: ir.Name(name) if _is_data_call(n, name) else n)
        return _arrays_for_vectors(ir.Block(tuple(stmts[:i]) + (array, zero) + tuple(rest.body)))
    return body if isinstance(body, ir.Block) else ir.Block(tuple(stmts))


def _vector_decl(s):
    """The declarator of ``std::vector<T> v(n)`` / ``v(n, 0)``, else None."""
    if not (isinstance(s, ir.Decl) and len(s.vars) == 1):
        return None
    v = s.vars[0]
    args = v.ctor_args or ()
    if _VECTOR.fullmatch(v.type.base) is None or v.type.pointer or v.type.reference or v.dims or \
            v.init is not None or len(args) not in (1, 2) or (len(args) == 2 and not _is_zero_literal(args[1])):
        return None
    return v


def _indexed_only(rest, name: str) -> bool:
    """``name`` is used in ``rest`` only as ``name[i]`` and ``name.data()`` (not ``name.size()``, not
    passed by reference, ...)."""
    data_calls = [n for n in ir.walk(rest) if _is_data_call(n, name)]
    indexed = [n for n in ir.walk(rest) if isinstance(n, ir.Index) and n.base == ir.Name(name)]
    uses = [n for n in ir.walk(rest) if n == ir.Name(name)]
    return len(uses) == len(data_calls) + len(indexed)


def vector_buffers(body: ir.Block) -> ir.Block:
    """``std::vector<T> v(n)`` / ``v(n, 0)`` declared at the top level of an entry and used only as
    ``v[i]`` and ``v.data()`` becomes ``T *v = (T *)calloc(n, sizeof(T))``, freed before every
    return and at the end: a buffer device code can take (host-raise makes it device memory).
    Vectors used any other way are left alone (outline then refuses them, naming the type)."""
    stmts = list(body.body)
    for i, s, v, rest, elem in _indexed_vectors(stmts):
        calloc = ir.Cast(replace(elem, pointer=1), ir.Call(ir.Name("calloc"), (v.ctor_args[0], ir.SizeOf(type=elem))))
        decl = replace(s, vars=(ir.Declarator(v.name, replace(elem, pointer=1), init=calloc),))
        free = ir.ExprStmt(ir.Call(ir.Name("free"), (ir.Name(v.name),)))

        def fn(n, name=v.name, free=free):
            if _is_data_call(n, name):
                return ir.Name(name)
            if isinstance(n, ir.Block):
                body_ = []
                for t in n.body:
                    body_ += [free, t] if isinstance(t, ir.Return) else [t]
                return replace(n, body=tuple(body_)) if len(body_) != len(n.body) else n
            if isinstance(n, (ir.If, ir.For, ir.While)):  # `if (bad) return;` without braces
                return ir.map_children(n, lambda c: ir.Block((free, c)) if isinstance(c, ir.Return) else c)
            return n
        rest = ir.rewrite(rest, fn)
        tail = list(rest.body)
        if not (tail and isinstance(tail[-1], ir.Return)):
            tail.append(free)
        return vector_buffers(replace(body, body=tuple(stmts[:i]) + (decl,) + tuple(tail)))
    return body


def _is_zero_literal(e) -> bool:
    e = e.operand if isinstance(e, ir.Cast) else e
    return isinstance(e, ir.Const) and e.value == 0


def _is_data_call(n, name: str) -> bool:
    return isinstance(n, ir.Call) and not n.args and isinstance(n.func, ir.Member) and \
        n.func.field_name == "data" and n.func.base == ir.Name(name) and not n.func.arrow


def flat_local_arrays(body: ir.Block) -> ir.Block:
    """Multi-dimensional local arrays of an entry become one-dimensional (``a[i][j]`` ->
    ``a[i * d1 + j]``), so that device code can take them by address."""
    from .bind import flatten_arrays
    arrays = {v.name: v.dims for n in ir.walk(body) if isinstance(n, ir.Decl) for v in n.vars
              if len(v.dims) > 1 and all(d is not None for d in v.dims)}
    if not arrays:
        return body
    body = flatten_arrays(body, arrays)

    def fn(n):
        if isinstance(n, ir.Declarator) and n.name in arrays and len(n.dims) > 1 and n.init is None:
            size = n.dims[0]
            for d in n.dims[1:]:
                size = ir.BinOp("*", _paren(size), _paren(d))
            return replace(n, dims=(size,))
        return n
    return ir.rewrite(body, fn)


def _paren(e):
    return e if isinstance(e, (ir.Name, ir.Const, ir.Paren)) else ir.Paren(e)


def _mark_parallel(loop: ir.For, depth: int) -> ir.For:
    if depth > 1:
        inner = [s for s in statements(loop.body) if not isinstance(s, ir.Comment)]
        if len(inner) == 1 and isinstance(inner[0], ir.For):
            loop = replace(loop, body=ir.Block((_mark_parallel(inner[0], depth - 1),)))
    return replace(loop, kind="parallel")



def outline_module(module: ir.Module) -> ir.Module:
    items = [replace(i, kind="kernel") if isinstance(i, ir.Function) and is_recovered_kernel(i) else i
             for i in module.items]
    module = replace(module, items=tuple(items))
    kernels = kernel_names(module)
    entries = entry_names(module)
    out = []
    for item in module.items:
        if isinstance(item, ir.Function) and item.name in entries and item.body is not None and item.kind == "host":
            body = loop_vectors(vector_buffers(openmp_loops(openmp_regions(item.body))))
            item = replace(item, extern_c=True, body=flat_local_arrays(body))
            outliner = _Outliner(module, item, kernels)
            body = outliner.block(item.body.body, set())
            out.extend(outliner.new_functions)
            out.append(replace(item, body=replace(item.body, body=body)))
        elif isinstance(item, ir.ExternC):
            raise UnsupportedError("outline: extern \"C\" blocks with several functions are not supported yet")
        else:
            out.append(item)
    return replace(module, items=tuple(out))


@register
@dataclass(frozen=True)
class Outline(ModulePass):
    """Host entries keep scalars, launches and copies; code that touches memory moves into kernels."""

    name: ClassVar[str] = "outline"
    summary: ClassVar[str] = "split sequential C into host code and device functions (before bind)"

    def apply(self, module: ir.Module) -> ir.Module:
        if module.dialect != "vnni":
            raise PassError(f"outline applies to sequential C (vnni), not {module.dialect}")
        if not entry_names(module):
            raise PassError("outline: the program has no host entry (an extern \"C\" or non-static function)")
        return outline_module(module)
