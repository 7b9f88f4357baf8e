"""Block reductions: a loop that only accumulates, spread over the threads of a block.

In block mode (:mod:`bind`) a loop whose iterations are independent is distributed over the block's
threads. A loop whose iterations depend on each other only through *accumulations*::

    s = s + e;    s += e;    s = fmaf(a, b, s);    s = fmaxf(s, e);    s = fminf(e, s);

into a scalar, or into an element whose index does not change with the loop (``ss[i]`` in the lane
loop of vector code), is a reduction: each thread accumulates its iterations into a private partial
(``0``, ``-INFINITY`` or ``INFINITY`` first), the partials meet in a tree in shared memory, and the
result is combined into the accumulator once::

    for (j = 0; j < n; ++j)              float p = 0;
      s += x[j] * x[j];            ->    for (j = threadIdx.x; j < n; j += blockDim.x) p += x[j] * x[j];
                                         red[threadIdx.x] = p;  __syncthreads();
                                         for (w = T / 2; w >= 1; w /= 2) {
                                           if (threadIdx.x < w) red[threadIdx.x] = red[threadIdx.x] + red[threadIdx.x + w];
                                           __syncthreads();
                                         }
                                         s = s + red[0];  __syncthreads();

The loop may hold one lane loop ``for (int i = 0; i < L; ++i)`` (``L`` a power of two dividing the
block): the pairs ``(j, i)`` are collapsed and every thread keeps one lane (``i = threadIdx.x % L``,
the stride being a multiple of ``L``), so the tree stops at ``L`` partials, one per lane.

Legality: the loop with every accumulation replaced by a read of what it adds has independent
iterations (checked by the caller's dependence test), the accumulator is named nowhere else in the
loop, and its index uses neither the loop's variable nor anything the loop assigns. Maxima and minima
come out exact; sums are reassociated (as an OpenMP ``reduction`` clause does), which changes their
rounding within the suite's tolerances.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from xpiler import ir
from xpiler.ir.analysis import strip_parens
from xpiler.ir.effects import assigned_scalars, declared_names, is_array_decl, used_names

from .loop_split import constant_length
from .scalar_replace import elements_as_scalars, used_only_at

#: the functions an accumulation may use, and what they reduce with
REDUCING_CALLS = {"fmaf": "+", "fma": "+", "fmaxf": "max", "fmax": "max", "fminf": "min", "fmin": "min"}
#: accumulator types a partial can have
NUMERIC = {"float", "double", "int", "long", "long long", "unsigned", "unsigned int", "int32_t", "int64_t"}
#: a loop shorter than this is left to one thread (the tree would cost more than it saves)
MIN_ITERATIONS = 64


@dataclass(frozen=True)
class Accumulation:
    stmt: ir.ExprStmt             # the statement in the loop's body
    target: ir.Expr               # the accumulator: a name or an element
    op: str                       # "+", "max" or "min"
    combine: str | None           # the function that combines two partials (None: ``+``)
    type: ir.Type                 # of the partial
    lanes: int                    # partials left after the tree (L when the element is per lane, else 1)


@dataclass(frozen=True)
class Reduction:
    loop: ir.For
    lane: ir.For | None           # the lane loop collapsed with it
    arrays: tuple                 # array declarations of the loop's body, around the lane loop
    body: tuple                   # the statements one (j, i) iteration runs after them
    accumulations: tuple[Accumulation, ...]

    @property
    def length(self) -> int:
        return constant_length(self.lane) if self.lane is not None else 1


def _stmts(s) -> list:
    return [t for t in (s.body if isinstance(s, ir.Block) else (s,)) if not isinstance(t, ir.Comment)]


def _mentions(node, target: ir.Expr) -> int:
    return sum(1 for n in ir.walk(node) if isinstance(n, ir.Expr) and strip_parens(n) == target)


def accumulation(s, loop_names: set[str], lane: str | None, types) -> Accumulation | None:
    """``s`` as an accumulation, or None. ``loop_names``: names the loop declares or assigns (the
    accumulator's index must not use them, the lane variable excepted); ``types(target)``: its type."""
    if not isinstance(s, ir.ExprStmt) or not isinstance(s.expr, ir.Assign):
        return None
    a = s.expr
    target = strip_parens(a.target)
    if isinstance(target, ir.Index):
        base = strip_parens(target.base)
        if not isinstance(base, ir.Name) or (used_names(ir.ExprStmt(target.index)) - {lane}) & loop_names:
            return None
    elif not isinstance(target, ir.Name) or target.id in loop_names:
        return None
    value = strip_parens(a.value)
    op, combine = None, None
    if a.op == "+=" and _mentions(value, target) == 0:
        op = "+"
    elif a.op == "=" and isinstance(value, ir.BinOp) and value.op == "+" and \
            target in (strip_parens(value.left), strip_parens(value.right)) and _mentions(value, target) == 1:
        op = "+"
    elif a.op == "=" and isinstance(value, ir.Call) and isinstance(value.func, ir.Name) and \
            value.func.id.removeprefix("std::") in REDUCING_CALLS and _mentions(value, target) == 1:
        args = [strip_parens(x) for x in value.args]
        op = REDUCING_CALLS[value.func.id.removeprefix("std::")]
        if op == "+" and (len(args) != 3 or args[2] != target):
            return None
        if op != "+":
            if len(args) != 2 or target not in args:
                return None
            combine = value.func.id
    if op is None:
        return None
    typ = types(target)
    if typ is None or typ.pointer or typ.base not in NUMERIC or (op != "+" and typ.base not in ("float", "double")):
        return None
    per_lane = lane is not None and isinstance(target, ir.Index) and lane in used_names(ir.ExprStmt(target.index))
    return Accumulation(s, target, op, combine, ir.Type(typ.base), 1 if not per_lane else 0)


def find_reduction(loop: ir.For, threads: int, types) -> Reduction | None:
    """The reduction ``loop`` computes (its legality still to be checked: :func:`reads_only`), or None."""
    canon = loop.canonical()
    if threads & (threads - 1) or canon is None or not isinstance(loop.init, ir.Decl) or loop.kind == "blocks" or \
            canon[0] in assigned_scalars(loop.body) or any(isinstance(n, (ir.Jump, ir.Return, ir.Barrier))
                                                          for n in ir.walk(loop.body)):
        return None
    stmts = _stmts(loop.body)
    arrays = []
    while stmts and isinstance(stmts[0], ir.Decl) and is_array_decl(stmts[0]) and \
            all(v.init is None and v.ctor_args is None for v in stmts[0].vars):
        arrays.append(stmts.pop(0))
    lane = None
    if len(stmts) == 1 and isinstance(stmts[0], ir.For):
        length = constant_length(stmts[0])
        if length and length & (length - 1) == 0 and threads % length == 0 and \
                stmts[0].canonical()[0] not in assigned_scalars(stmts[0].body):
            lane = stmts[0]
    if lane is None:
        arrays, body = [], _stmts(loop.body)
    else:
        body = _stmts(lane.body)
    lane_var = lane.canonical()[0] if lane is not None else None
    accumulated = {strip_parens(s.expr.target).id for s in body if isinstance(s, ir.ExprStmt) and
                   isinstance(s.expr, ir.Assign) and isinstance(strip_parens(s.expr.target), ir.Name)}
    loop_names = declared_names(loop.body) | (assigned_scalars(loop.body) - accumulated) | {canon[0]}
    found = []
    for s in body:
        acc = accumulation(s, loop_names - ({lane_var} if lane_var else set()), lane_var, types)
        if acc is not None:
            found.append(replace(acc, lanes=constant_length(lane) if acc.lanes == 0 else 1))
    if not found:
        return None
    # every accumulator is named only by its own statement
    for acc in found:
        base = strip_parens(acc.target.base) if isinstance(acc.target, ir.Index) else acc.target
        if sum(isinstance(n, ir.Name) and n.id == base.id for n in ir.walk(loop.body)) != \
                sum(isinstance(n, ir.Name) and n.id == base.id for n in ir.walk(acc.stmt)):
            return None
    return Reduction(loop, lane, tuple(arrays), tuple(body), tuple(found))


def reads_only(red: Reduction) -> tuple[ir.For, ir.For | None]:
    """The loop (and its lane loop) with each accumulation replaced by a read of what it adds: the
    iterations of these must be independent for the reduction to be legal."""
    ids = {id(a.stmt): a for a in red.accumulations}

    def fn(n):
        acc = ids.get(id(n))
        if acc is None:
            return n
        a = n.expr
        value = a.value if a.op == "+=" else _replace_expr(a.value, acc.target, ir.Const("0", 0))
        return ir.ExprStmt(value)
    lane = None
    if red.lane is not None:
        lane = replace(red.lane, body=ir.Block(tuple(fn(s) for s in _stmts(red.lane.body))))
        body = tuple(lane if s is red.lane else s for s in _stmts(red.loop.body))
    else:
        body = tuple(fn(s) for s in _stmts(red.loop.body))
    return replace(red.loop, body=ir.Block(body)), lane


def _replace_expr(node, old: ir.Expr, new: ir.Expr):
    return ir.rewrite(node, lambda n: new if isinstance(n, ir.Expr) and strip_parens(n) == old else n)


def identity(acc: Accumulation) -> ir.Expr:
    if acc.op == "+":
        return ir.Const("0", 0)
    return ir.UnOp("-", ir.Name("INFINITY")) if acc.op == "max" else ir.Name("INFINITY")


def combined(acc: Accumulation, left: ir.Expr, right: ir.Expr) -> ir.Expr:
    if acc.combine is None:
        return ir.BinOp("+", left, right)
    return ir.Call(ir.Name(acc.combine), (left, right))


def partial_update(acc: Accumulation, partial: str) -> ir.Stmt:
    """The accumulation, into the thread's partial."""
    return _replace_expr(acc.stmt, acc.target, ir.Name(partial))


def scalarize_lane_arrays(arrays: list, body: list, lane: str) -> list:
    """Arrays of one (j, i) iteration used only at ``[lane]`` become scalars (registers)."""
    block = ir.Block(tuple(body))
    out = []
    scalars = set()
    for decl in arrays:
        for v in decl.vars:
            if len(v.dims) == 1 and used_only_at(block, v.name, lane):
                scalars.add(v.name)
                out.append(ir.Decl((ir.Declarator(v.name, v.type),)))
            else:
                out.append(ir.Decl((v,), decl.scope, decl.storage))
    return out + list(elements_as_scalars(block, scalars).body)
