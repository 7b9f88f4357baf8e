"""SIMD jam (``simd-jam``): unroll-and-jam of a parallel loop around a SIMD loop with one inner loop.

A GPU thread block computes one output per thread; on the CPU its rows become a loop around a SIMD
loop over its columns, and each SIMD iteration runs the thread's dot product::

    for (int ty = 0; ty < ny; ++ty) {              {
    #pragma omp simd                                 int ty = 0;
      for (int tx = 0; tx < nx; ++tx) {              for (; ny - ty >= 4; ty += 4) {
        long long tid = ty * nx + tx;                #pragma omp simd
        for (int k = 0; k < 16; ++k)                   for (int tx = 0; tx < nx; ++tx) {
          acc[tid] += As[ty][k] * Bs[k][tx];             long long tid_0 = (ty + 0) * nx + tx; ... tid_3
      }                                   ->             float acc_0 = acc[tid_0]; ... acc_3
    }                                                    for (int k = 0; k < 16; ++k) {
                                                           acc_0 += As[ty + 0][k] * Bs[k][tx]; ... acc_3
                                                         }
                                                         acc[tid_0] = acc_0; ... acc[tid_3] = acc_3;
                                                       }
                                                     }
                                                     for (; ty < ny; ++ty) { ...the SIMD loop as it was... }
                                                   }

One row per SIMD iteration is one chain of dependent multiply-adds: the loop runs at the latency of
an FMA, not at its throughput. Four rows are four independent chains sharing the loads of ``Bs``
(TVM's ``unroll`` + ``compute_at``, loopy's ``split_iname`` + ``join`` of the inner loops).

Applies to a loop ``for (int y = 0; y < n; ++y)`` (``n`` a signed ``int`` it does not change) whose
body is exactly ``#pragma omp simd`` and a loop, whose body in turn is straight-line code around
exactly one loop (the *inner* loop: its header does not depend on ``y`` nor on the body's locals, its
body is assignments). The same when the inner loop is itself the SIMD loop, a reduction into the
row's scalars (``double s = 0; #pragma omp simd reduction(+: s) for (p ...) s += a[p] * b[y][p];``,
a detensorized matmul's dot products): four rows' reductions are one SIMD loop, ``reduction(+: s_0,
s_1, s_2, s_3)``, sharing the loads that do not depend on the row. Then:

* **legal**: the ``y`` loop is parallel (:func:`~xpiler.ir.dependence.parallel_obstacle`: no two
  iterations touch a location one of them writes), so its iterations may interleave in any order
  that keeps each iteration's own order: the straight-line code before the inner loop of rows
  ``y .. y+3``, their inner loops fused (iteration ``k`` of each row in turn), then the code after;
* **accumulators**: a location the inner loop assigns with a subscript it does not change
  (``acc[tid]``) is held in a scalar across it, when every access to that array in the inner loop is
  that same location (distinct arrays and pointer parameters do not overlap: the dependence model's
  assumption); otherwise the loop is left as it was;
* the rows that do not fill a group of four run the loop as it was.
"""

from __future__ import annotations

import re

from dataclasses import dataclass, replace
from typing import ClassVar

from xpiler import ir
from xpiler.ir.analysis import statements, strip_parens
from xpiler.ir.dependence import parallel_obstacle
from xpiler.ir.effects import assigned_scalars, declared_names, free_names
from xpiler.ir.types import ScalarsInScope, TypeEnv

from .base import ModulePass, PassError
from .cleanup import ScopedRewriter, names_in
from .loop_split import fresh
from .registry import register
from .simd_nest import is_signed_int

ROWS = 4
REDUCTION = re.compile(r"omp simd reduction\(([+*]|max|min):\s*(\w+(?:\s*,\s*\w+)*)\)")


@register
@dataclass(frozen=True)
class SimdJam(ModulePass):
    name: ClassVar[str] = "simd-jam"
    summary: ClassVar[str] = "C targets: unroll-and-jam of a parallel loop around a SIMD loop with one inner loop"
    rows: int = ROWS

    def apply(self, module: ir.Module) -> ir.Module:
        if module.dialect != "vnni":
            raise PassError(f"simd-jam applies to C (vnni) programs, not {module.dialect}")
        if self.rows < 2:
            raise PassError(f"simd-jam: rows must be at least 2, got {self.rows}")
        return _Jammer(self.rows).module(module)


class _Jammer(ScopedRewriter):
    def __init__(self, rows: int):
        super().__init__()
        self.rows = rows

    def enter_function(self, f: ir.Function) -> None:
        self.taken = names_in(f)

    def stmts(self, body, env: TypeEnv) -> list:
        out = super().stmts(body, env)
        jammed = []
        for k, s in enumerate(out):
            got = None
            if isinstance(s, ir.For) and not (k > 0 and isinstance(out[k - 1], ir.Pragma)):
                got = unroll_and_jam(s, self.rows, env, self.taken)
            jammed.append(got if got is not None else s)
        return jammed

    def body(self, s, env: TypeEnv):
        out = super().body(s, env)
        if isinstance(out, ir.For):  # a loop that is the whole body of another (``for i for j``)
            return unroll_and_jam(out, self.rows, env, self.taken) or out
        return out



def _loops_or_jumps(node) -> bool:
    return any(isinstance(n, (ir.For, ir.While, ir.Jump, ir.Return, ir.Verbatim, ir.Pragma, ir.Barrier))
               for n in ir.walk(node))


def unroll_and_jam(outer: ir.For, rows: int, env: TypeEnv, taken: set) -> ir.Block | None:
    """The jammed form of ``outer`` (see the module), or None when it does not apply."""
    canonical = outer.canonical()
    if canonical is None or not isinstance(outer.init, ir.Decl):
        return None
    y, start, stop, step = canonical
    y_type = outer.init.vars[0].type
    if not (y_type.base == "int" and not y_type.pointer and strip_parens(start) == ir.Const("0", 0)
            and strip_parens(step) == ir.Const("1", 1) and is_signed_int(stop, ScalarsInScope(env))
            and not ({y} | assigned_scalars(outer.body)) & free_names(stop)):
        return None
    inside = statements(outer.body)
    if y in declared_names(outer.body):
        return None  # a nested declaration of the same name: shifting `y` would change it too
    if len(inside) == 2 and isinstance(inside[0], ir.Pragma) and inside[0].text == "omp simd" \
            and isinstance(inside[1], ir.For) and inside[1].canonical() is not None:
        # a SIMD loop whose iterations run the inner loop
        pragma, simd = inside
        if y in free_names(ir.Block((simd.init, ir.ExprStmt(simd.cond), ir.ExprStmt(simd.step)))):
            return None
        body = statements(simd.body)

        def wrap(jammed: list) -> ir.Block:
            return ir.Block((pragma, replace(simd, body=ir.Block(tuple(jammed)))))
    else:
        # the inner loop is itself the SIMD loop, a reduction into the row's scalars
        body = inside

        def wrap(jammed: list) -> ir.Block:
            return ir.Block(tuple(jammed))
    loops = [k for k, s in enumerate(body) if any(isinstance(n, (ir.For, ir.While)) for n in ir.walk(s))]
    if len(loops) != 1 or not isinstance(body[loops[0]], ir.For):
        return None
    pre, inner, post = body[:loops[0]], body[loops[0]], body[loops[0] + 1:]
    marks = []  # the inner loop's pragmas (``#pragma unroll``, ``omp simd reduction(+: s)``) go with it
    while pre and isinstance(pre[-1], ir.Pragma) and (not pre[-1].text.startswith("omp")
                                                      or REDUCTION.fullmatch(pre[-1].text)):
        marks.insert(0, pre.pop())
    if body is inside and not any(REDUCTION.fullmatch(m.text) for m in marks):
        return None
    locals_ = declared_names(ir.Block(tuple(pre + post)))
    if any(_loops_or_jumps(s) for s in pre + post) or inner.canonical() is None:
        return None
    k_var = inner.canonical()[0]
    header = ir.Block((inner.init, ir.ExprStmt(inner.cond), ir.ExprStmt(inner.step)))
    work = statements(inner.body)
    if (free_names(header) & (locals_ | {y})) or not work or k_var in locals_ \
            or not all(isinstance(s, ir.ExprStmt) and isinstance(s.expr, ir.Assign) for s in work) \
            or any(_loops_or_jumps(s) for s in work):
        return None
    accumulators = _accumulators(work, k_var, env)
    if accumulators is None or not (accumulators or assigned_scalars(ir.Block(tuple(work))) & locals_):
        return None  # nothing accumulates across the inner loop: no chain to break
    if parallel_obstacle(outer, env=env) is not None:
        return None

    def row(u: int, node):
        """``node`` for row ``y + u``: ``y`` shifted, the body's locals renamed."""
        shifted = ir.rewrite(node, lambda n: ir.BinOp("+", n, ir.Const(str(u), u)) if n == ir.Name(y) else n)
        return ir.rename(shifted, names[u])

    names = [{name: fresh(f"{name}_{u}", taken) for name in sorted(locals_)} for u in range(rows)]
    held = [[(location, fresh(f"{_root(location)}_{u}", taken), element) for location, element in accumulators]
            for u in range(rows)]
    loads, fused, stores = [], [], []
    for u in range(rows):
        for location, scalar, element in held[u]:
            loads.append(ir.Decl((ir.Declarator(scalar, element, init=row(u, location)),)))
            stores.append(ir.ExprStmt(ir.Assign(row(u, location), "=", ir.Name(scalar))))
        scalars = {row(u, location): ir.Name(scalar) for location, scalar, _ in held[u]}
        fused += [ir.rewrite(row(u, s), lambda n: scalars.get(n, n) if isinstance(n, ir.Index) else n) for s in work]
    marks = [_reduction_of_rows(m, names) for m in marks]
    jam_body = ([row(u, s) for u in range(rows) for s in pre] + loads
                + marks + [replace(inner, body=ir.Block(tuple(fused)))] + stores
                + [row(u, s) for u in range(rows) for s in post])
    counter = ir.Decl((ir.Declarator(y, y_type, init=start),))
    groups = ir.For(None, ir.BinOp(">=", ir.BinOp("-", stop, ir.Name(y)), ir.Const(str(rows), rows)),
                    ir.Assign(ir.Name(y), "+=", ir.Const(str(rows), rows)), wrap(jam_body), kind=outer.kind)
    rest = replace(outer, init=None)
    return ir.Block((counter, groups, rest))


def _reduction_of_rows(mark: ir.Pragma, names: list) -> ir.Pragma:
    """``omp simd reduction(op: s)`` of the fused loop: every row's copy of ``s``."""
    found = REDUCTION.fullmatch(mark.text)
    if found is None:
        return mark
    op, scalars = found.group(1), [x.strip() for x in found.group(2).split(",")]
    return ir.Pragma(f"omp simd reduction({op}: {', '.join(n[x] if x in n else x for n in names for x in scalars)})")


def _root(location) -> str:
    while isinstance(location, ir.Index):
        location = location.base
    return strip_parens(location).id


def _accumulators(work: list, k_var: str, env: TypeEnv):
    """``[(location, element type)]`` of the array elements the inner loop assigns at a subscript it
    does not change; None when one of them cannot be held in a scalar."""
    changing = assigned_scalars(ir.Block(tuple(work))) | {k_var}
    found: dict = {}
    for s in work:
        target = strip_parens(s.expr.target)
        if isinstance(target, ir.Name):
            continue
        if not isinstance(target, ir.Index):
            return None
        location, depth = target, 0
        while isinstance(location, ir.Index):
            if free_names(location.index) & changing:
                return None
            location, depth = location.base, depth + 1
        location = strip_parens(location)
        var = env.lookup(location.id) if isinstance(location, ir.Name) else None
        if var is None:
            return None
        if var.dims:
            if depth != len(var.dims):
                return None
            element = replace(var.type, quals=())
        elif var.type.pointer >= depth:
            element = replace(var.type, pointer=var.type.pointer - depth, quals=())
        else:
            return None
        found[target] = element
    roots = {_root(t) for t in found}
    # every use of an accumulator array is one of its held locations
    for root in roots:
        uses = [n for n in ir.walk(ir.Block(tuple(work))) if isinstance(n, ir.Name) and n.id == root]
        held = [n for n in _maximal_indexes(ir.Block(tuple(work))) if _root(n) == root]
        if len(uses) != len(held) or any(h not in found for h in held):
            return None
    return list(found.items())


def _maximal_indexes(node) -> list:
    """Subscript chains ``a[i][j]`` not nested in a larger chain (``a[i]`` of ``a[i][j]`` is not one)."""
    out = []

    def visit(n, in_chain: bool):
        if isinstance(n, ir.Index):
            if not in_chain:
                out.append(n)
            visit(n.base, True)
            visit(n.index, False)
            return
        for c in ir.children(n):
            visit(c, False)
    visit(node, False)
    return out
