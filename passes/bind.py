"""Bind: map the loops of sequential device functions onto a target's parallelism.

Input: sequential C after ``outline`` (device functions have ``kind="kernel"``; their block or task
loops carry ``For.kind == "blocks"``, thread loops ``"threads"``). Each device function becomes a
target kernel and each call of it from host code a launch.

**The parallel nest.** A device function whose body is scalar declarations followed by one loop has
a *parallel nest*: the longest perfect chain of loops, from the outermost, whose iterations are
independent (recovered block/task loops by provenance, other loops proved by
:mod:`xpiler.ir.dependence`) and whose bounds do not depend on the outer loops of the chain. The
chain is collapsed into one index ``f`` in ``[0, N)`` (``N`` the product of the trip counts) and
``f`` is distributed over the target's workers by a stride loop, which covers every iteration exactly
once for any number of workers (proved in :mod:`xpiler.synth.binding`):

* ``cuda`` / ``hip``, *flat*: one thread per iteration, ``f = blockIdx.x * blockDim.x + threadIdx.x``
  striding by the grid; the body runs sequentially in its thread.
* ``cuda`` / ``hip``, *block*: one block per iteration, when the body keeps buffers (NRAM tiles,
  per-thread arrays of a recovered SIMT block) or has thread loops of its own. The body is raised at
  block level: its buffers become ``__shared__`` (or per-block global scratch beyond 48 KB), its
  parallel loops are distributed over the block's threads and followed by ``__syncthreads()`` (but
  a loop over a few rows, each reduced, runs its rows one after another, each reduced by all the
  threads, where a cost model says so: at run time where the sizes are known only then),
  statements that only compute scalars run redundantly in every thread, and the remaining
  statements run in thread 0 followed by a barrier (the scalars they write become ``__shared__``).
  Also block mode: a body that reduces a row lying along memory which neighbouring iterations would
  read rows apart (a GEMV), where a cost model says so; where the sizes are the call's, both
  versions under a test the kernel and its grid make at run time (``Binder.reduces_strided_rows``).
* ``bang``: iterations over tasks, ``for (f = taskId; f < N; f += taskDim)``, the body sequential in
  its task (buffers up to the NRAM capacity in ``__nram__``); UNION1 over 4 clusters x 4 cores.
* ``vnni``: ``#pragma omp parallel for collapse(k)`` on the chain, in place.

A device function without a parallel nest runs in one block (cuda/hip, raised at block level) or
one task (bang); when its last loop alone has one, the statements before it are a kernel of their
own launched first (:func:`split_prologues`; cuda, hip, bang). Host calls become launches whose grid is computed from the call's arguments;
scratch buffers (per-block buffers beyond shared memory) are kept from one call to the next
(``__xpiler_scratch(slot, bytes)``, :mod:`xpiler.emitters.c_prelude`: grown when a call needs more,
one per host thread and device, released when the process ends; a ``cudaDeviceReset`` between calls
invalidates it), since allocating and freeing them around every launch costs more than a small
kernel runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar

from xpiler import ir
from xpiler.errors import UnsupportedError
from xpiler.ir.analysis import is_name, strip_parens
from xpiler.ir.transform import rename
from xpiler.ir.effects import (assigned_scalars, call_name, declared_names, free_names, header_names, is_array_decl,
                               touches_memory, used_names, writes_memory)

from .base import ModulePass, PassError
from .block_reduce import (MIN_ITERATIONS, Reduction, combined, find_reduction, identity, partial_update, reads_only,
                           scalarize_lane_arrays)
from .host_raise import EntryRaiser
from .loop_split import fresh
from .registry import register
from .uniform_lanes import group_safe
from .simd_nest import scalar_types, simd_chain, simd_threads, vectorised

SIMT_TARGETS = ("cuda", "hip")
SHARED_LIMIT = 48 * 1024          # static shared memory per block without opt-in (conventions)
NRAM_LIMIT = 512 * 1024 - 8 * 1024  # reference/bang.md, minus room for the compiler's own use
FLAT_ARRAY_LIMIT = 1024           # bytes of arrays a thread may keep in local memory in flat mode
FLAT_SCRATCH_BLOCKS = 256         # grid cap of a flat kernel with per-thread global scratch (its size)

# Names the recovered sequential code uses that are built-ins of a target (renamed in kernels).
TARGET_BUILTINS = {
    "cuda": {"gridDim", "blockDim", "threadIdx", "blockIdx", "warpSize"},
    "hip": {"gridDim", "blockDim", "threadIdx", "blockIdx", "warpSize"},
    "bang": {"taskId", "taskIdX", "taskIdY", "taskIdZ", "taskDim", "taskDimX", "taskDimY", "taskDimZ",
             "clusterId", "clusterDim", "coreId", "coreDim"},
    "vnni": set(),
}

_SIZES = {"char": 1, "signed char": 1, "unsigned char": 1, "int8_t": 1, "uint8_t": 1, "bool": 1,
          "short": 2, "unsigned short": 2, "int16_t": 2, "uint16_t": 2, "half": 2, "__half": 2, "_Float16": 2,
          "int": 4, "unsigned": 4, "unsigned int": 4, "float": 4, "int32_t": 4, "uint32_t": 4,
          "long": 8, "unsigned long": 8, "long long": 8, "size_t": 8, "double": 8, "int64_t": 8, "uint64_t": 8}


# ---- small IR builders -------------------------------------------------------------------------------
def _n(id_: str) -> ir.Name:
    return ir.Name(id_)


def _c(value: int) -> ir.Const:
    return ir.Const(str(value), value)


def _bin(op, a, b) -> ir.BinOp:
    return ir.BinOp(op, _p(a), _p(b))


def _p(e):
    return ir.Paren(e) if isinstance(e, (ir.BinOp, ir.Ternary, ir.Assign)) else e


def _decl(name, typ, init=None, scope="local", dims=()) -> ir.Decl:
    return ir.Decl((ir.Declarator(name, typ, dims, init),), scope=scope)


def _sync(target: str) -> ir.Stmt:
    return ir.Barrier("block", "__syncthreads") if target in SIMT_TARGETS else ir.Barrier("all", "__sync_all")


LL = ir.Type("long long")


def _builtin(name, axis=None) -> ir.Builtin:
    return ir.Builtin(name, axis)


def const_value(e, env: dict) -> int | None:
    """The integer value of ``e`` when it is built from literals and names bound in ``env``."""
    e = strip_parens(e)
    if isinstance(e, ir.Const):
        return e.value if isinstance(e.value, int) and not isinstance(e.value, bool) else None
    if isinstance(e, ir.Name):
        v = env.get(e.id)
        return v if isinstance(v, int) else None
    if isinstance(e, ir.Member) and isinstance(strip_parens(e.base), ir.Name):
        v = env.get(f"{strip_parens(e.base).id}.{e.field_name}")
        return v if isinstance(v, int) else None
    if isinstance(e, ir.Cast):
        return const_value(e.operand, env)
    if isinstance(e, ir.SizeOf) and e.type is not None and not e.type.pointer:
        return _SIZES.get(" ".join(e.type.quals[:0] + (e.type.base,)))
    if isinstance(e, ir.UnOp) and e.op == "-" and not e.postfix:
        v = const_value(e.operand, env)
        return -v if v is not None else None
    if isinstance(e, ir.BinOp):
        a, b = const_value(e.left, env), const_value(e.right, env)
        if a is None or b is None:
            return None
        if e.op == "+":
            return a + b
        if e.op == "-":
            return a - b
        if e.op == "*":
            return a * b
        if e.op == "/" and b:
            return int(a / b)
        if e.op == "%" and b:
            return a - int(a / b) * b
        if e.op == "<<":
            return a << b
        if e.op == ">>":
            return a >> b
        if e.op in ("<", "<=", ">", ">=", "==", "!="):
            return int({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}[e.op])
    if isinstance(e, ir.Ternary):
        c = const_value(e.cond, env)
        if c is not None:
            return const_value(e.then if c else e.other, env)
    if isinstance(e, ir.Call) and call_name(e) == "__xpiler_union_job" and len(e.args) == 1:
        v = const_value(e.args[0], env)
        return int(v != 1) if v is not None else None
    return None


def substitute(node, mapping: dict[str, ir.Expr]):
    """``node`` with every ``Name`` in ``mapping`` replaced by its (parenthesised) expression."""
    def fn(n):
        if isinstance(n, ir.Name) and n.id in mapping:
            return _p(mapping[n.id])
        return n
    return ir.rewrite(node, fn)


def initializer_values(decls, exclude=frozenset()) -> dict[str, ir.Expr]:
    """``name -> initialiser`` of the scalars ``decls`` declare (not those in ``exclude``), earlier
    names substituted, so that a value can be computed where those declarations are not in scope."""
    values: dict[str, ir.Expr] = {}
    for d in decls:
        for v in d.vars:
            if v.init is not None and not v.dims and v.name not in exclude:
                values[v.name] = substitute(v.init, values)
    return values


def type_bytes(t: ir.Type) -> int | None:
    if t.pointer:
        return 8
    return _SIZES.get(t.base)


def module_constants(module: ir.Module) -> dict:
    """Integer ``#define`` values and CNRT function-type names (for sizes and trip counts)."""
    from xpiler.frontend.lift import parse_expression
    env: dict = {"CNRT_FUNC_TYPE_BLOCK": 1, "CNRT_FUNC_TYPE_UNION1": 4, "CNRT_FUNC_TYPE_UNION2": 8,
                 "CNRT_FUNC_TYPE_UNION4": 16, "CNRT_FUNC_TYPE_UNION8": 32, "cnrtFuncTypeBlock": 1,
                 "cnrtFuncTypeUnion1": 4, "cnrtFuncTypeUnion2": 8, "cnrtFuncTypeUnion4": 16}
    for item in module.items:
        if isinstance(item, ir.Define):
            parts = item.text.split(None, 1)
            if len(parts) == 2 and "(" not in parts[0]:
                try:
                    v = const_value(parse_expression(parts[1]), env)
                except Exception:  # a macro that is not an expression
                    v = None
                if v is not None:
                    env[parts[0]] = v
        elif isinstance(item, ir.Decl):
            for var in item.vars:
                if var.init is not None and not var.dims and "const" in var.type.quals + item.storage:
                    v = const_value(var.init, env)
                    if v is not None:
                        env[var.name] = v
    return env


# ---- the parallel nest ------------------------------------------------------------------------------
@dataclass
class Nest:
    pre: list                      # scalar statements before the nest (every worker runs them)
    loops: list                    # the chain, outermost first
    body: ir.Block                 # the body of the innermost loop of the chain
    trips: list                    # trip count of each loop (expressions over the function's names)

    @property
    def count(self) -> ir.Expr:
        total = None
        for t in self.trips:
            total = t if total is None else _bin("*", total, t)
        return total


class ParallelLoops:
    """Which loops may run their iterations concurrently: recovered block/task/thread loops and
    OpenMP loops by provenance, the others by :mod:`xpiler.ir.dependence`. Answers are remembered per
    loop node, since block-level raising asks about the same loops repeatedly (and each answer may
    cost z3 queries)."""

    def __init__(self, constants: dict, module_variables: frozenset = frozenset()):
        self.constants = constants
        # Variables of the whole program: lowering made per-core storage declared at file scope (BANG
        # NRAM) one variable, so iterations that use one are not independent, whatever their provenance.
        self.module_variables = module_variables
        self.answers: dict = {}  # id (and ids of the loops around) -> (the loop, kept alive; answer)
        # the types of the function whose loops are asked about (its parameters' element sizes: a
        # row written through a byte pointer, ``((uint8_t *)(C + i * 32))[b]``, is then a byte range),
        # when the caller sets it; None: parameters are compared in elements
        self.env = None

    def enter(self, module: ir.Module, f: ir.Function) -> None:
        """The loops asked about next are ``f``'s: its types are known to the analysis."""
        from xpiler.ir.dependence import function_env
        self.env = function_env(module, f)

    def independent(self, loop: ir.For) -> bool:
        """The dependence analysis's answer, with the function's types when known. Both forms are
        sound and each proves loops the other cannot (typed, a byte view of an int32 row is a byte
        range; untyped, names are compared in elements without the integer ranges of their types),
        so a loop either proves independent is."""
        from xpiler.ir.dependence import is_parallel
        return is_parallel(loop, constants=self.constants) or \
            (self.env is not None and is_parallel(loop, constants=self.constants, env=self.env))

    def __call__(self, loop: ir.For, within: tuple[ir.For, ...] = ()) -> bool:
        """``within``: the canonical loops around ``loop``, whose ranges the check may assume."""
        if free_names(loop.body) & self.module_variables:
            return False
        if loop.kind in ("blocks", "threads", "parallel"):
            return True
        from xpiler.ir.dependence import assuming, range_guard
        known = self.answers.get(id(loop))
        if known is None or known[0] is not loop:
            known = (loop, self.independent(loop))
            self.answers[id(loop)] = known
        if known[1] or not within:
            return known[1]
        # again, assuming the ranges of the loops around (a harder query, so asked only now)
        key = (id(loop), tuple(id(w) for w in within))
        guarded = self.answers.get(key)
        if guarded is None or guarded[0] is not loop:
            checked = assuming(loop, (g for g in (range_guard(w, self.constants) for w in within) if g is not None))
            guarded = (loop, self.independent(checked), within)  # within: kept alive
            self.answers[key] = guarded
        return guarded[1]


def trip_count(start, stop, step) -> ir.Expr:
    if const_value(start, {}) == 0 and const_value(step, {}) == 1:
        return _p(stop)
    span = _bin("-", stop, start)
    if const_value(step, {}) == 1:
        return _p(span)
    return _bin("/", _bin("+", span, _bin("-", step, _c(1))), step)


def find_nest(f: ir.Function, parallel: ParallelLoops, *, interchange: bool = False) -> Nest | None:
    """The parallel nest of ``f`` (None when it has none). ``interchange``: a loop whose iterations
    depend on each other (a reduction over ``k``) with an independent loop inside continues the chain
    through that loop, interchanged (:func:`reduction_inward`): for a GPU, more threads."""
    stmts = list(f.body.body)
    pre = []
    while stmts and not touches_memory(stmts[0]) and not isinstance(stmts[0], ir.For) and \
            isinstance(stmts[0], (ir.Decl, ir.Comment)):
        pre.append(stmts.pop(0))
    if len(stmts) != 1 or not isinstance(stmts[0], ir.For):
        return None
    loops, trips = [], []
    node = stmts[0]
    outer_vars: set[str] = set()
    while isinstance(node, ir.For):
        canon = node.canonical()
        if canon is None or not isinstance(node.init, ir.Decl):
            break
        var, start, stop, step = canon
        if used_names(ir.Block((ir.ExprStmt(start), ir.ExprStmt(stop), ir.ExprStmt(step)))) & (
                outer_vars | assigned_scalars(node.body)):
            break
        if var in assigned_scalars(node.body) or not parallel(node, tuple(loops)):
            inward = reduction_inward(node, parallel, tuple(loops)) if interchange and loops else None
            if inward is None:
                break
            node = inward
            continue
        loops.append(node)
        trips.append(trip_count(start, stop, step))
        outer_vars.add(var)
        body = node.body if isinstance(node.body, ir.Block) else ir.Block((node.body,))
        inner = [s for s in body.body if not isinstance(s, ir.Comment)]
        sunk = sink_scalars(inner)
        if sunk is None and interchange:
            sunk = sink_private_arrays(inner, parallel, tuple(loops))
        if sunk is not None:
            node = sunk
            continue
        break
    if not loops:
        return None
    last = loops[-1]
    return Nest(pre, loops, last.body if isinstance(last.body, ir.Block) else ir.Block((last.body,)), trips)


def sink_scalars(stmts: list) -> ir.For | None:
    """The loop of ``[scalar declarations..., loop]`` with the declarations moved to the top of its
    body, when that computes the same: they read no memory, the loop's header does not use them,
    and its body assigns neither them nor what they read (so every iteration recomputes the values
    they had). None when ``stmts`` is not of that form."""
    if not stmts or not isinstance(stmts[-1], ir.For) or stmts[-1].canonical() is None:
        return None
    loop, decls = stmts[-1], stmts[:-1]
    if not decls:
        return loop
    if not all(isinstance(d, ir.Decl) and not is_array_decl(d) and not touches_memory(d) for d in decls):
        return None
    names = {v.name for d in decls for v in d.vars}
    changed = assigned_scalars(loop.body)
    if names & header_names(loop) or (names | used_names(ir.Block(tuple(decls)))) & changed:
        return None
    body = loop.body.body if isinstance(loop.body, ir.Block) else (loop.body,)
    return replace(loop, body=ir.Block(tuple(decls) + tuple(body)))


def reduction_inward(loop: ir.For, parallel: ParallelLoops, within: tuple) -> ir.For | None:
    """``for (k) { scalar declarations; for (j) body }`` as ``for (j) for (k) { declarations; body }``
    when that computes the same and the new outer loop has independent iterations (None otherwise).

    The declarations may read memory (``float a = A[i * K + k]``): they are evaluated once per
    ``(j, k)`` instead of once per ``k``. That is exact when the ``j`` loop of the result is independent
    (the dependence analysis, over the whole new body): an iteration ``j`` then touches nothing another
    iteration writes, so its reads (the declarations' included) see what they saw before, and its own
    iterations over ``k`` run in their old order. The ``j`` loop's header must not use ``k``, the
    declarations or anything the loop body assigns, and the body must not assign what the declarations
    read or declare."""
    if loop.canonical() is None or not isinstance(loop.init, ir.Decl) or loop.canonical()[0] in assigned_scalars(loop.body):
        return None
    stmts = [s for s in _stmts(loop.body) if not isinstance(s, ir.Comment)]
    if not stmts or not isinstance(stmts[-1], ir.For):
        return None
    inner, decls = stmts[-1], stmts[:-1]
    canon = inner.canonical()
    if canon is None or not isinstance(inner.init, ir.Decl) or canon[0] in assigned_scalars(inner.body):
        return None
    if not all(isinstance(d, ir.Decl) and not is_array_decl(d) and not writes_memory(d) for d in decls):
        return None
    names = {v.name for d in decls for v in d.vars}
    header = ir.Block(tuple(ir.ExprStmt(e) for e in canon[1:]))
    if used_names(header) & (names | {loop.canonical()[0]} | assigned_scalars(loop.body)):
        return None
    read = used_names(ir.Block(tuple(decls)))
    if canon[0] in read or (names | read) & assigned_scalars(inner.body):
        return None
    if body_arrays(inner.body) or has_thread_loops(inner.body):
        return None
    swapped = replace(inner, body=ir.Block((replace(loop, body=ir.Block(tuple(decls) + tuple(_stmts(inner.body)))),)))
    return swapped if parallel(swapped, within) else None


def sink_private_arrays(stmts: list, parallel: ParallelLoops, within: tuple) -> ir.For | None:
    """The loop of ``[declarations..., loop]`` with the declarations moved into its body, where some
    are small arrays (a vector accumulator ``float acc[7 * 16]`` of detensorized code, each lane
    ``acc[v * 16 + lane]``): exact when the loop's iterations are independent with the arrays declared
    outside it (no iteration reads what another wrote in them), as they have no initial values and
    nothing after the loop reads them. Scalars as in :func:`sink_scalars`. None otherwise."""
    if not stmts or not isinstance(stmts[-1], ir.For):
        return None
    decls = stmts[:-1]
    arrays = [d for d in decls if isinstance(d, ir.Decl) and is_array_decl(d)]
    if not arrays or any(v.init is not None for d in arrays for v in d.vars):
        return None
    sizes = [array_bytes(v, parallel.constants) for d in arrays for v in d.vars]
    if None in sizes or sum(sizes) > FLAT_ARRAY_LIMIT:
        return None
    names = {v.name for d in arrays for v in d.vars}
    scalars = [d for d in decls if d not in arrays]
    if names & used_names(ir.Block(tuple(scalars))):
        return None
    loop = sink_scalars(scalars + [stmts[-1]])
    if loop is None or not parallel(stmts[-1], within):
        return None
    arrays, body = lane_slices(arrays, loop, parallel.constants)
    return replace(loop, body=ir.Block(tuple(arrays) + tuple(body)))


def lane_slices(arrays: list, loop: ir.For, constants: dict) -> tuple[list, list]:
    """The declarations and the body of ``loop`` (over ``lane`` in ``[0, m)``) with each array of
    ``m * s`` elements used only as ``x[lane + m * e]`` made ``x[e]`` of ``s`` elements: one
    iteration's slice (registers, rather than a thread-local copy of every lane's elements). Exact:
    ``lane + m * e`` is one-to-one in ``e`` for each lane."""
    var, start, stop, step = loop.canonical()
    width = const_value(stop, constants)
    body = ir.Block(tuple(_stmts(loop.body)))
    if const_value(start, {}) != 0 or const_value(step, {}) != 1 or not width or width < 2:
        return arrays, list(body.body)
    out = []
    for decl in arrays:
        for v in decl.vars:
            size = const_value(v.dims[0], constants) if len(v.dims) == 1 and v.dims[0] is not None else None
            slices = {}
            for n in ir.walk(body):
                if isinstance(n, ir.Index) and is_name(n.base, v.name):
                    slices[id(n)] = _lane_slice(n.index, var, width)
            uses = sum(isinstance(n, ir.Name) and n.id == v.name for n in ir.walk(body))
            if size is None or size % width or uses != len(slices) or None in slices.values():
                out.append(ir.Decl((v,), decl.scope, decl.storage))
                continue

            def compact(n, name=v.name):
                if isinstance(n, ir.Index) and is_name(n.base, name):
                    return ir.Index(n.base, _lane_slice(n.index, var, width))
                return n
            body = ir.rewrite(body, compact)
            out.append(ir.Decl((replace(v, dims=(_c(size // width),)),), decl.scope, decl.storage))
    return out, list(body.body)


def _lane_slice(subscript, lane: str, width: int):
    """``e`` where ``subscript`` is ``lane + width * e`` (in any order; ``e`` 0 for ``lane`` alone)."""
    sub = strip_parens(subscript)
    if isinstance(sub, ir.Name) and sub.id == lane:
        return _c(0)
    if not (isinstance(sub, ir.BinOp) and sub.op == "+"):
        return None
    for a, b in ((sub.left, sub.right), (sub.right, sub.left)):
        if isinstance(strip_parens(a), ir.Name) and strip_parens(a).id == lane:
            b = strip_parens(b)
            if isinstance(b, ir.BinOp) and b.op == "*":
                for x, y in ((b.left, b.right), (b.right, b.left)):
                    if const_value(y, {}) == width and lane not in used_names(ir.ExprStmt(x)):
                        return x
            value = const_value(b, {})
            if value is not None and value % width == 0:
                return _c(value // width)
    return None


def decode(nest: Nest, index: ir.Expr) -> list:
    """Declarations of the chain's loop variables from the collapsed index."""
    out = []
    inner_product = None
    for loop, trip in reversed(list(zip(nest.loops, nest.trips))):
        var, start, _, step = loop.canonical()
        q = index if inner_product is None else _bin("/", index, inner_product)
        k = _bin("%", q, trip) if loop is not nest.loops[0] else q
        value = k if const_value(step, {}) == 1 else _bin("*", k, step)
        if const_value(start, {}) != 0:
            value = _bin("+", start, value)
        typ = loop.init.vars[0].type
        out.append(_decl(var, typ, ir.Cast(typ, _p(value))))
        inner_product = trip if inner_product is None else _bin("*", inner_product, trip)
    return list(reversed(out))


# ---- arrays -----------------------------------------------------------------------------------------
RESIDENT_BLOCKS = 1024   # blocks of 256 threads a GPU of the H100's size runs at once (132 SMs x 8)
TREE_STEPS = 16          # steps of a block's reduction tree, its barriers included, in the models below


def reductions_test(rows: ir.Expr, length: ir.Expr, threads: int, tree: int, blocks: int = 1) -> ir.Expr:
    """``(long long)rows * (length / threads + tree) < blocks * length``: the cost test, made when the
    kernel runs, of reducing ``rows`` rows of ``length`` elements each by a block's threads (a share
    of the row, then a tree of ``tree`` steps), ``blocks`` blocks at once, against walking each row
    in one thread."""
    per_row = _bin("+", _bin("/", length, _c(threads)), _c(tree))
    budget = length if blocks == 1 else _bin("*", _c(blocks), length)
    return _bin("<", _bin("*", ir.Cast(LL, _p(rows)), per_row), budget)


def blocks_pay(rows: int, length: int, threads: int) -> bool:
    """Whether ``rows`` reductions of ``length`` elements run sooner one per block (each thread
    ``length / threads`` elements, then a tree of barriers: :data:`TREE_STEPS` more) than one per thread
    (``length`` steps, each thread alone, a wave of threads at a time): a cost model in steps of
    one load, for a GPU that runs :data:`RESIDENT_BLOCKS` blocks at once."""
    waves_of_blocks = rows / RESIDENT_BLOCKS
    waves_of_threads = max(1.0, rows / (RESIDENT_BLOCKS * threads))
    return waves_of_blocks * (length / threads + TREE_STEPS) < waves_of_threads * length


def blocks_pay_expr(rows: ir.Expr, length: ir.Expr, threads: int) -> ir.Expr:
    """:func:`blocks_pay` as a condition the kernel evaluates: ``rows * (length / threads + 16) <
    RESIDENT_BLOCKS * length`` in ``long long`` (it holds only for fewer rows than a wave of threads,
    so the wave count of one thread per row is 1 wherever it holds)."""
    return reductions_test(rows, ir.Cast(LL, _p(length)), threads, TREE_STEPS, RESIDENT_BLOCKS)


SYMBOLIC = "symbolic"   # a stride that is a multiple of a value known only at run time


def _address(e: ir.Index, values: dict, local: set, depth: int = 8):
    """The element offset ``e`` reads from the start of its array, as an expression, with the
    pointers and scalars the body defines once (``values``) written out; None for arrays in
    ``local`` (private to the iteration) or a base that is not a pointer plus offsets."""
    base, offset = strip_parens(e.base), e.index
    while depth > 0:
        depth -= 1
        if isinstance(base, ir.Cast) and base.type.is_pointer:
            base = strip_parens(base.operand)
        elif isinstance(base, ir.BinOp) and base.op == "+":
            base, offset = strip_parens(base.left), _bin("+", base.right, offset)
        elif isinstance(base, ir.Name) and base.id in values and base.id not in local:
            base = strip_parens(values[base.id])
        else:
            break
    if not isinstance(base, ir.Name) or base.id in local:
        return None
    return substitute(offset, values)


def _stride(offset, var: str, constants: dict):
    """How far ``offset`` moves when ``var`` grows by one: an int, :data:`SYMBOLIC` (a multiple of
    names: ``i * K``), or None (not linear in ``var``)."""
    from .tensorize import _polynomial
    poly = _polynomial(offset, constants, var)
    if poly is None:
        return None
    terms = {m: k for m, k in poly.items() if var in m}
    if any(m.count(var) > 1 for m in terms):
        return None
    if any(m != (var,) for m in terms):
        return SYMBOLIC
    return terms.get((var,), 0)


def array_bytes(decl_var: ir.Declarator, env: dict) -> int | None:
    size = type_bytes(decl_var.type)
    if size is None:
        return None
    for d in decl_var.dims:
        v = const_value(d, env) if d is not None else None
        if v is None:
            return None
        size *= v
    return size


def buffer_bytes(function: ir.Function, constants: dict, scope: str, capacity: int) -> int:
    """Bytes of the arrays of memory ``scope`` (``nram``, ``wram``) ``function`` declares; an array of
    unknown size counts as the whole ``capacity``."""
    total = 0
    for n in ir.walk(function.body):
        if isinstance(n, ir.Decl) and n.scope == scope:
            for v in n.vars:
                size = array_bytes(v, constants)
                total += capacity if size is None else size
    return total


def body_arrays(node) -> list[ir.Declarator]:
    return [v for n in ir.walk(node) if isinstance(n, ir.Decl) for v in n.vars if v.dims]


def is_task_loop(loop: ir.For) -> bool:
    """A loop over the tasks of a lowered BANG kernel (loop recovery's ``taskIdZ/Y/X`` loops)."""
    canon = loop.canonical()
    return loop.kind == "threads" and canon is not None and canon[0] in ("taskIdX", "taskIdY", "taskIdZ")


def has_thread_loops(node) -> bool:
    return any(isinstance(n, ir.For) and n.kind == "threads" for n in ir.walk(node))


# ---- block-level raising (cuda/hip) -----------------------------------------------------------------
class BlockRaiser:
    """Raise a sequential body to the threads of one block (see the module docstring)."""

    def __init__(self, target: str, parallel: ParallelLoops, f: ir.Function, threads: int):
        self.target = target
        self.parallel = parallel
        self.threads = threads
        self.shared_arrays: list[ir.Declarator] = []
        self.shared_scalars: dict[str, ir.Type] = {}
        self.taken = used_names(f) | declared_names(f)
        # declared types, for the partials of reductions: name -> (type, array dimensions)
        self.types = {p.name: (p.type, len(p.dims)) for p in f.params}
        self.types.update({v.name: (v.type, len(v.dims)) for n in ir.walk(f.body) if isinstance(n, ir.Decl)
                           for v in n.vars})
        self.reductions: dict = {}   # id -> (the loop, kept alive; its Reduction or None)

    def fresh(self, name: str) -> str:
        return fresh(name, self.taken)

    def tid(self):
        return _builtin("threadIdx", "x")

    def run(self, stmts, outer: dict[str, ir.Type]) -> list:
        """Raise ``stmts`` (``outer``: the scalars visible from outside, e.g. the function's
        parameters). Which scalars must be shared is only known once nested statements are seen, so
        the raising repeats until that set is stable."""
        while True:
            before = dict(self.shared_scalars)
            self.shared_arrays = []
            out = self.raise_block(stmts, outer)
            if self.shared_scalars == before:
                return out

    def raise_block(self, stmts, outer: dict[str, ir.Type]) -> list:
        stmts = self.unique_arrays(list(stmts))
        scalars = {**outer, **self.block_scalars(stmts)}
        modes = [self.mode(s, scalars) for s in stmts]
        # Scalars written by thread 0 must be visible to all threads: shared, and then written by
        # thread 0 only everywhere.
        changed = True
        while changed:
            changed = False
            for i, s in enumerate(stmts):
                if modes[i] == "single":
                    for v in (assigned_scalars(s) | self.decl_names(s)) & set(scalars):
                        if v not in self.shared_scalars:
                            self.shared_scalars[v] = scalars[v]
                            changed = True
            for i, s in enumerate(stmts):
                if modes[i] in ("redundant", "distribute", "choose") and (assigned_scalars(s) | self.decl_names(s)) & set(self.shared_scalars):
                    modes[i] = "single"
                    changed = True
        out = []
        for s, mode in zip(stmts, modes):
            out.extend(self.emit(s, mode, scalars))
        return out

    def unique_arrays(self, stmts: list) -> list:
        """Arrays of the block all live at the top of the kernel: one declared again in another scope
        (``float v[16]`` in both branches) gets a fresh name over the rest of its own scope."""
        for i, s in enumerate(stmts):
            if isinstance(s, ir.Decl) and is_array_decl(s):
                hoisted = {a.name for a in self.shared_arrays} | {a.name for t in stmts[:i] if isinstance(t, ir.Decl)
                                                                  for a in t.vars}
                mapping = {v.name: self.fresh(v.name) for v in s.vars if v.name in hoisted}
                if mapping:
                    stmts[i:] = [rename(t, mapping) for t in stmts[i:]]
        return stmts

    @staticmethod
    def decl_names(s) -> set[str]:
        return {v.name for v in s.vars} if isinstance(s, ir.Decl) else set()

    @staticmethod
    def block_scalars(stmts) -> dict[str, ir.Type]:
        return {v.name: v.type for s in stmts if isinstance(s, ir.Decl) for v in s.vars if not v.dims}

    def mode(self, s, scalars) -> str:
        if isinstance(s, ir.Decl):
            if is_array_decl(s):
                return "array"
            return "redundant" if not writes_memory(s) else "single"
        if isinstance(s, (ir.Comment, ir.Pragma)):
            return "redundant"
        if isinstance(s, ir.For) and s.canonical() is not None and s.kind != "blocks" and \
                s.canonical()[0] not in assigned_scalars(s.body) and self.parallel(s) and \
                not any(isinstance(n, ir.Jump) for n in ir.walk(s.body)):
            if self.chunked(s):
                return "recurse"
            rows = self.few_reduced_rows(s, scalars)
            return "recurse" if rows is True else "distribute" if rows is False else "choose"
        if isinstance(s, ir.For) and self.reduction(s, scalars) is not None:
            return "reduce"
        if isinstance(s, ir.For) and self.interchanged(s) is not None:
            return "interchange"
        if not writes_memory(s) and not any(isinstance(n, ir.Decl) and is_array_decl(n) for n in ir.walk(s)):
            return "recurse" if self.holds_reduction(s, scalars) else "redundant"
        if isinstance(s, (ir.For, ir.If, ir.Block, ir.While)) and self.nested_work(s):
            return "recurse"
        return "single"

    def reduction(self, s: ir.For, scalars) -> Reduction | None:
        """The loop as a block reduction (:mod:`block_reduce`), when it is long enough and legal."""
        known = self.reductions.get(id(s))
        if known is not None and known[0] is s:
            return known[1]
        red = None
        canon = s.canonical()
        if canon is not None and s.kind != "blocks":
            trips = const_value(trip_count(*canon[1:]), {})
            if trips is None or trips * 16 >= MIN_ITERATIONS:
                red = find_reduction(s, self.threads, lambda target: self.type_of(target, scalars))
        if red is not None and trips is not None and trips * red.length < MIN_ITERATIONS:
            red = None
        if red is not None:
            loop, lane = reads_only(red)
            if not self.parallel(loop) or (lane is not None and not self.parallel(lane, (loop,))):
                red = None
        self.reductions[id(s)] = (s, red)
        return red

    def chunked(self, s: ir.For) -> bool:
        """A loop over chunks whose body walks its chunk in a loop of its own (``for (i = ...; i < n;
        i += 256) { len = min(256, n - i); for (j = 0; j < len; ++j) ... }``), with bounds that keep
        the two from collapsing: the chunk's elements, not the chunks, are the threads (consecutive
        threads read consecutive elements), the chunks run one after another."""
        body = [t for t in _stmts(s.body) if not isinstance(t, ir.Comment)]
        if not body or not isinstance(body[-1], ir.For) or body[-1].canonical() is None or \
                not all(isinstance(t, ir.Decl) and not is_array_decl(t) for t in body[:-1]):
            return False
        inner = body[-1]
        if not isinstance(inner.init, ir.Decl) or (len(body) == 1 and self.collapsible(inner, [s])):
            return False
        trips = const_value(trip_count(*inner.canonical()[1:]), {})
        return (trips is None or trips >= 32) and inner.canonical()[0] not in assigned_scalars(inner.body) and \
            self.parallel(inner, (s,))

    def few_reduced_rows(self, s: ir.For, scalars):
        """A loop over rows, each reduced by a loop the block's threads can share (``for (i = 0; i <
        nr; ++i) { s = 0; for (k = 0; k < cols; ++k) s += ...; ... }``, ``nr`` the rows of a tile):
        True when its rows should run one after another, each reduced by all the threads, rather
        than a few threads walking a whole row each; False when not; or the condition that decides
        it at run time. A row reduced by the block costs its share of the row and the tree's
        barriers, a row walked by one thread the whole row: with at most a quarter of the block of
        rows, the rows run in turn unless the row length is a constant too short to pay for the
        barriers; with more rows, or a count known at run time only, and a row length known at run
        time only, ``rows * (length / threads + 2 log2(threads)) < length`` decides."""
        rows_expr = trip_count(*s.canonical()[1:])
        rows = self.upper_bound(rows_expr)
        inner = dict(scalars)
        if isinstance(s.init, ir.Decl):
            inner.update({v.name: v.type for v in s.init.vars})
        stmts = _stmts(s.body)
        inner.update(self.block_scalars(stmts))
        barriers = 2 * self.threads.bit_length()
        for t in stmts:
            if not isinstance(t, ir.For) or self.reduction(t, inner) is None:
                continue
            length_expr = trip_count(*t.canonical()[1:])
            length = self.upper_bound(length_expr)
            if rows is not None and rows <= self.threads // 4:
                if length is None or rows * (-(-length // self.threads) + barriers) < length:
                    return True
                continue
            if length is None and not used_names(length_expr) & (declared_names(s) | assigned_scalars(s)) \
                    and not touches_memory(length_expr):
                return reductions_test(rows_expr, length_expr, self.threads, barriers)
        return False

    def upper_bound(self, e, depth: int = 0) -> int | None:
        """A constant no smaller than ``e`` (an ``int`` expression), where the constants, the values of
        the function's invariant integers (the dependence analysis's: declared once, never assigned)
        and the minimums written as ternaries (``a < b ? a : b``) give one."""
        e = strip_parens(e)
        value = const_value(e, self.parallel.constants)
        if value is not None or depth > 8:
            return value
        values = self.parallel.env.invariants if self.parallel.env is not None else {}
        if isinstance(e, ir.Name) and e.id in values:
            return self.upper_bound(values[e.id], depth + 1)
        if isinstance(e, ir.BinOp) and e.op == "-":
            # min(b + c, x) - b <= c (a chunk's length: e = i + 32 < N ? i + 32 : N; e - i)
            left, right = strip_parens(e.left), strip_parens(e.right)
            if isinstance(left, ir.Name) and left.id in values:
                left = strip_parens(values[left.id])
            branches = [strip_parens(b) for b in (left.then, left.other)] if isinstance(left, ir.Ternary) else [left]
            bounds = [self.upper_bound(b.right, depth + 1) for b in branches
                      if isinstance(b, ir.BinOp) and b.op == "+" and strip_parens(b.left) == right]
            bounds = [b for b in bounds if b is not None]
            if bounds and isinstance(left, ir.Ternary) and self.is_min(left):
                return min(bounds)
            return max(bounds) if bounds and len(bounds) == len(branches) else None
        if isinstance(e, ir.Ternary):
            if self.is_min(e):
                bounds = [b for b in (self.upper_bound(e.then, depth + 1), self.upper_bound(e.other, depth + 1))
                          if b is not None]
                return min(bounds) if bounds else None   # the smaller of the two
            a, b = self.upper_bound(e.then, depth + 1), self.upper_bound(e.other, depth + 1)
            return None if a is None or b is None else max(a, b)
        return None

    @staticmethod
    def is_min(e: ir.Ternary) -> bool:
        """``a < b ? a : b`` (or ``a > b ? b : a``, ``<=``, ``>=``)."""
        cond = strip_parens(e.cond)
        if not isinstance(cond, ir.BinOp) or cond.op not in ("<", "<=", ">", ">="):
            return False
        low, high = (cond.left, cond.right) if cond.op in ("<", "<=") else (cond.right, cond.left)
        return strip_parens(low) == strip_parens(e.then) and strip_parens(high) == strip_parens(e.other)

    def holds_reduction(self, s, scalars) -> bool:
        """A block (or if) whose statements include a loop the block's threads can reduce: raised
        statement by statement rather than run whole by every thread."""
        if not isinstance(s, (ir.Block, ir.If)):
            return False
        stmts = _stmts(s) if isinstance(s, ir.Block) else _stmts(s.then) + (_stmts(s.other) if s.other else [])
        inner = {**scalars, **self.block_scalars(stmts)}
        return any(isinstance(t, ir.For) and self.reduction(t, inner) is not None for t in stmts)

    def interchanged(self, s: ir.For) -> ir.For | None:
        """``for j { for l { S } }`` as ``for l { for j { S } }`` when the loops over ``l`` are
        independent there: then every thread runs its ``l`` through all ``j``, and the barrier after
        each ``j`` (distributing the inner loop in place) is gone. Legal because no two instances of
        ``S`` with different ``l`` depend on each other, and each ``l`` still sees its ``j`` in order."""
        known = self.reductions.get(("interchange", id(s)))
        if known is not None and known[0] is s:
            return known[1]
        out = None
        body = [t for t in _stmts(s.body) if not isinstance(t, ir.Comment)]
        canon = s.canonical()
        if canon is not None and isinstance(s.init, ir.Decl) and s.kind != "blocks" and len(body) == 1 and \
                isinstance(body[0], ir.For) and canon[0] not in assigned_scalars(s.body) and \
                not any(isinstance(n, (ir.Jump, ir.Return, ir.Barrier)) for n in ir.walk(s.body)):
            inner = body[0]
            inner_canon = inner.canonical()
            if inner_canon is not None and isinstance(inner.init, ir.Decl) and inner.kind != "blocks" and \
                    inner_canon[0] not in assigned_scalars(inner.body):
                header = lambda loop: used_names(ir.Block((ir.ExprStmt(loop.cond), ir.ExprStmt(loop.step), loop.init)))
                if not header(inner) & ({canon[0]} | assigned_scalars(inner.body)) and inner_canon[0] not in header(s):
                    candidate = replace(inner, body=ir.Block((replace(s, body=inner.body),)), kind="serial")
                    if self.parallel(candidate):
                        out = candidate
        self.reductions[("interchange", id(s))] = (s, out)
        return out

    def type_of(self, target: ir.Expr, scalars) -> ir.Type | None:
        if isinstance(target, ir.Name):
            return scalars.get(target.id)
        base = strip_parens(target.base)
        typ, dims = self.types.get(base.id, (None, 0)) if isinstance(base, ir.Name) else (None, 0)
        if typ is None or (not dims and not typ.pointer):
            return None
        return ir.Type(typ.base) if dims == 1 or (not dims and typ.pointer == 1) else None

    def nested_work(self, s) -> bool:
        """Worth recursing: a uniform construct with parallel loops inside."""
        for n in ir.walk(s):
            if n is not s and isinstance(n, ir.For) and n.canonical() is not None and (
                    n.kind == "threads" or self.parallel(n)):
                return isinstance(s, (ir.Block, ir.If)) or (
                    isinstance(s, ir.For) and s.canonical() is not None and
                    s.canonical()[0] not in assigned_scalars(s.body))
        return False

    def emit(self, s, mode, scalars) -> list:
        sync = _sync(self.target)
        if mode == "array":
            out = []
            for v in s.vars:
                self.shared_arrays.append(v)
                if v.init is not None:
                    raise UnsupportedError(f"bind: initialised block-level array {v.name} is not supported")
            return out
        if mode == "redundant":
            # every thread reads what it needs; a barrier before anyone overwrites it (write after read)
            return [s, sync] if touches_memory(s) else [s]
        if mode == "distribute":
            return [self.distribute(s), sync]
        if mode == "reduce":
            return [self.reduce(self.reduction(s, scalars))]
        if mode == "choose":   # rows in turn or rows over the threads, decided at run time
            return [ir.If(self.few_reduced_rows(s, scalars), ir.Block(tuple(self.emit(s, "recurse", scalars))),
                          ir.Block(tuple(self.emit(s, "distribute", scalars))))]
        if mode == "interchange":
            return [self.distribute(self.interchanged(s)), sync]
        if mode == "recurse":
            if isinstance(s, ir.Block):
                return [ir.Block(tuple(self.raise_block(s.body, scalars)))]
            if isinstance(s, ir.If):
                then = ir.Block(tuple(self.raise_block(_stmts(s.then), scalars)))
                other = ir.Block(tuple(self.raise_block(_stmts(s.other), scalars))) if s.other is not None else None
                return [replace(s, then=then, other=other)]
            if isinstance(s, ir.For):
                inner = dict(scalars)
                if isinstance(s.init, ir.Decl):
                    inner.update({v.name: v.type for v in s.init.vars})
                return [replace(s, body=ir.Block(tuple(self.raise_block(_stmts(s.body), inner))), kind="serial")]
        # single: thread 0, then a barrier; declarations of shared scalars become assignments
        if isinstance(s, ir.Decl):
            assigns = [ir.ExprStmt(ir.Assign(_n(v.name), "=", v.init)) for v in s.vars if v.init is not None]
            body = ir.Block(tuple(assigns))
        else:
            body = s if isinstance(s, ir.Block) else ir.Block((s,))
        return [ir.If(_bin("==", self.tid(), _c(0)), body), sync]

    def reduce(self, red: Reduction) -> ir.Block:
        """The reduction over the block's threads (:mod:`block_reduce`)."""
        tid, sync = self.tid(), _sync(self.target)
        partials = [self.fresh("__xp_part") for _ in red.accumulations]
        out: list = [_decl(p, acc.type, identity(acc)) for acc, p in zip(red.accumulations, partials)]
        update = {id(acc.stmt): partial_update(acc, p) for acc, p in zip(red.accumulations, partials)}
        body = [update.get(id(s), s) for s in red.body]
        loops, trips = [red.loop], [trip_count(*red.loop.canonical()[1:])]
        if red.lane is not None:
            body = scalarize_lane_arrays(list(red.arrays), body, red.lane.canonical()[0])
            loops.append(red.lane)
            trips.append(_c(red.length))
        nest = Nest([], loops, ir.Block(()), trips)
        index = self.fresh("__xp_t")
        out.append(ir.For(_decl(index, LL, ir.Cast(LL, tid)), _bin("<", _n(index), nest.count),
                          ir.Assign(_n(index), "+=", _builtin("blockDim", "x")),
                          ir.Block(tuple(decode(nest, _n(index))) + tuple(body)), "serial"))
        for acc, p in zip(red.accumulations, partials):
            tree = self.fresh("__xp_red")
            self.shared_arrays.append(ir.Declarator(tree, acc.type, (_c(self.threads),)))
            mine, width = ir.Index(_n(tree), tid), self.fresh("__xp_w")
            out += [ir.ExprStmt(ir.Assign(mine, "=", _n(p))), sync]
            step = ir.If(_bin("<", tid, _n(width)), ir.ExprStmt(ir.Assign(
                mine, "=", combined(acc, mine, ir.Index(_n(tree), _bin("+", tid, _n(width)))))))
            out.append(ir.For(_decl(width, ir.Type("int"), _c(self.threads // 2)), _bin(">=", _n(width), _c(acc.lanes)),
                              ir.Assign(_n(width), "/=", _c(2)), ir.Block((step, sync))))
            if acc.lanes > 1:      # lane i's total is in tree[i]
                var, typ = red.lane.canonical()[0], red.lane.init.vars[0].type
                result = ir.Block((_decl(var, typ, ir.Cast(typ, tid)),
                                   ir.ExprStmt(ir.Assign(acc.target, "=", combined(acc, acc.target, mine)))))
                out.append(ir.If(_bin("<", tid, _c(acc.lanes)), result))
            else:
                total = ir.ExprStmt(ir.Assign(acc.target, "=", combined(acc, acc.target, ir.Index(_n(tree), _c(0)))))
                if isinstance(acc.target, ir.Name) and acc.target.id not in self.shared_scalars:
                    out.append(total)     # every thread updates its copy of the scalar
                else:
                    out.append(ir.If(_bin("==", tid, _c(0)), ir.Block((total,))))
            out.append(sync)
        return ir.Block(tuple(out))

    def collapsible(self, inner: ir.For, chain: list) -> bool:
        """``inner`` (the only loop of the chain's last body) can join the chain: its own bounds, not
        changed by the chain, and iterations independent (checked under the chain's ranges)."""
        canon = inner.canonical()
        if canon is None or not isinstance(inner.init, ir.Decl) or inner.kind == "blocks":
            return False
        var, start, stop, step = canon
        header = used_names(ir.Block((ir.ExprStmt(start), ir.ExprStmt(stop), ir.ExprStmt(step))))
        outer = {c.canonical()[0] for c in chain}
        if header & (outer | assigned_scalars(chain[0].body)) or var in assigned_scalars(inner.body) or \
                any(isinstance(n, ir.Jump) for n in ir.walk(inner.body)):
            return False
        return self.parallel(inner, tuple(chain))

    def distribute(self, loop: ir.For) -> ir.For:
        """``for (v = a; v < b; v += s)`` over the block's threads. Thread loops of a recovered block,
        and the independent loops perfectly nested in a parallel loop (output rows x columns x
        channels of a convolution), are collapsed first so that every thread of the block gets work."""
        chain = [loop]
        node = loop
        while True:
            body = [t for t in _stmts(node.body) if not isinstance(t, ir.Comment)]
            if len(body) == 1 and isinstance(body[0], ir.For) and body[0].kind == "threads" and \
                    body[0].canonical() is not None and loop.kind == "threads":
                node = body[0]
                chain.append(node)
                continue
            inner = sink_scalars(body) if loop.kind != "threads" else None
            if inner is not None and self.collapsible(inner, chain):
                node = inner
                chain.append(node)
                continue
            break
        if len(chain) == 1:
            var, start, stop, step = loop.canonical()
            typ = loop.init.vars[0].type
            first = ir.Cast(typ, _bin("+", start, _bin("*", self.tid(), step))) \
                if const_value(start, {}) != 0 or const_value(step, {}) != 1 else ir.Cast(typ, self.tid())
            stride = _bin("*", _builtin("blockDim", "x"), step) if const_value(step, {}) != 1 else _builtin("blockDim", "x")
            return ir.For(_decl(var, typ, first), loop.cond, ir.Assign(_n(var), "+=", stride), loop.body, "serial")
        trips = [trip_count(*c.canonical()[1:]) for c in chain]
        nest = Nest([], chain, chain[-1].body if isinstance(chain[-1].body, ir.Block) else ir.Block((chain[-1].body,)),
                    trips)
        index = self.fresh("__xp_t")
        body = ir.Block(tuple(decode(nest, _n(index))) + nest.body.body)
        return ir.For(_decl(index, LL, ir.Cast(LL, self.tid())), _bin("<", _n(index), nest.count),
                      ir.Assign(_n(index), "+=", _builtin("blockDim", "x")), body, "serial")


def flatten_arrays(node, arrays: dict[str, tuple]):
    """``a[i][j]`` -> ``a[i * d1 + j]`` for the arrays of ``arrays`` (name -> extents), now pointers;
    a partial index ``a[i]`` (a row) becomes the address ``a + i * d1``."""
    def chain(e):
        indices = []
        while isinstance(e, ir.Index):
            indices.append(e.index)
            e = strip_parens(e.base)
        return e, list(reversed(indices))

    def fn(n):
        if isinstance(n, ir.Index):
            base, indices = chain(n)
            if isinstance(base, ir.Name) and base.id in arrays:
                dims = arrays[base.id]
                flat = None
                for k, idx in enumerate(indices):
                    stride = None
                    for d in dims[k + 1:]:
                        stride = d if stride is None else _bin("*", stride, d)
                    term = idx if stride is None else _bin("*", idx, stride)
                    flat = term if flat is None else _bin("+", flat, term)
                if len(indices) == len(dims):
                    return ir.Index(base, flat)
                return ir.Paren(_bin("+", base, flat))
        return n

    def outer(n):
        # rewrite only maximal index chains: an Index whose base chain is handled as a whole
        if isinstance(n, ir.Index):
            base, _ = chain(n)
            if isinstance(base, ir.Name) and base.id in arrays:
                return fn(ir.Index(*_rebuild(n, outer)))
        return ir.map_children(n, outer) if hasattr(n, "__dataclass_fields__") else n
    return outer(node)


def _rebuild(n: ir.Index, outer):
    """The chain's base and indices with the index expressions themselves rewritten."""
    return (ir.map_children(n.base, lambda c: c) if not isinstance(n.base, ir.Index) else ir.Index(*_rebuild(n.base, outer)),
            outer(n.index))


def _stmts(s) -> list:
    if s is None:
        return []
    return list(s.body) if isinstance(s, ir.Block) else [s]


# ---- the pass ---------------------------------------------------------------------------------------
@dataclass
class Plan:
    """How host code launches a raised kernel: expressions over the kernel's own parameters."""

    grid: ir.Expr | None           # SIMT grid (x); None for bang
    block: int
    scratch: list = field(default_factory=list)   # (param name, element type, elements per block)
    task_dim: int = 16
    func_type: str = "UNION1"


class Binder:
    def __init__(self, module: ir.Module, target: str, threads: int):
        self.module = module
        self.target = target
        self.threads = threads
        self.constants = module_constants(module)
        variables = frozenset(v.name for item in module.items if isinstance(item, ir.Decl) and
                              "const" not in item.storage for v in item.vars if "const" not in v.type.quals)
        self.parallel = ParallelLoops(self.constants, variables)
        self.plans: dict[str, Plan] = {}
        self.scratch_slots: dict[str, int] = {}   # a launch's scratch buffer -> its kept memory's slot

    def kernel(self, f: ir.Function) -> ir.Function:
        clashes = TARGET_BUILTINS[self.target] & (used_names(f) | declared_names(f) | {p.name for p in f.params})
        if clashes:
            f = ir.rename(f, {c: f"src_{c}" for c in clashes})
            f = replace(f, params=tuple(replace(p, name=f"src_{p.name}") if p.name in clashes else p for p in f.params))
        if self.target == "vnni":
            return self.openmp(f)
        if self.target == "bang":
            return self.bang(f, find_nest(f, self.parallel))
        self.parallel.enter(self.module, f)
        return self.simt(f, find_nest(f, self.parallel, interchange=True))

    # -- vnni ------------------------------------------------------------------------------------------
    def openmp(self, f: ir.Function) -> ir.Function:
        nest = find_nest(f, self.parallel)
        if nest is None:
            return replace(f, kind="host")
        from xpiler.ir.dependence import function_env
        env = function_env(self.module, f)   # one walk of the function for both questions below
        independent, groups, types = self.independent(f, env), self.lane_groups(env), scalar_types(f)
        taken = used_names(f) | declared_names(f) | {p.name for p in f.params}

        def new_name(name: str) -> str:
            return fresh(f"__xp_{name}", taken)
        # the chain rebuilt (declarations between its loops were sunk inwards), its deepest
        # independent loops around loops sunk below them, its innermost independent loops SIMD
        first = replace(nest.loops[-1], body=vectorised(nest.body, independent, new_name, types, self.constants))
        for outer in reversed(nest.loops[:-1]):
            first = replace(outer, body=ir.Block((first,)))
        pragma = ir.Pragma("omp parallel for" + (f" collapse({len(nest.loops)})" if len(nest.loops) > 1 else ""))
        chain: tuple = (pragma, first)
        simd = simd_chain(nest.loops, nest.body, types, new_name, independent, self.constants, groups) or \
            simd_threads(nest.loops, nest.body, self.constants,
                         {p.name for p in f.params} | declared_names(ir.Block(tuple(nest.pre))) |
                         set(self.parallel.module_variables), independent, new_name, types, groups)
        if simd is not None:  # the SIMD form, when its counters fit in an int; the chain as it was else
            fits, stmts = simd
            chain = (ir.If(fits, ir.Block(tuple(stmts)), ir.Block(chain)),)
        return replace(f, body=replace(f.body, body=tuple(nest.pre) + chain), kind="host")

    def independent(self, f: ir.Function, env=None):
        """Whether a loop of ``f`` has independent iterations, the program's own pure functions
        known (a grid-stride loop calling a helper such as ``gelu_tanh``). ``env``: ``f``'s
        :func:`~xpiler.ir.dependence.function_env`, when the caller has it."""
        from xpiler.ir.dependence import function_env, is_parallel
        env = env or function_env(self.module, f)
        answers: dict = {}   # the SIMD passes ask about the same loop more than once

        def independent(loop: ir.For) -> bool:
            if loop not in answers:
                answers[loop] = is_parallel(loop, constants=self.constants, env=env)
            return answers[loop]
        return independent

    def lane_groups(self, env):
        """Whether the lanes of a group may run a loop's uniform part once (:mod:`.uniform_lanes`);
        ``env``: the function's :func:`~xpiler.ir.dependence.function_env`."""
        return lambda loop, grouping, split: group_safe(loop, grouping, split, constants=self.constants, env=env)

    # -- bang ------------------------------------------------------------------------------------------
    def bang(self, f: ir.Function, nest: Nest | None) -> ir.Function:
        quals = ("__mlu_global__",)
        if nest is None:
            self.plans[f.name] = Plan(None, 1, task_dim=1, func_type="BLOCK")
            return replace(f, quals=quals, kind="kernel", body=self.nram(f.body))
        index = "__xp_f"
        body = ir.Block(tuple(decode(nest, _n(index))) + nest.body.body)
        loop = ir.For(_decl(index, LL, ir.Cast(LL, _builtin("taskId"))), _bin("<", _n(index), nest.count),
                      ir.Assign(_n(index), "+=", _builtin("taskDim")), self.nram(body), "parallel:taskId")
        self.plans[f.name] = Plan(None, 1)
        return replace(f, quals=quals, kind="kernel", body=ir.Block(tuple(nest.pre) + (loop,)))

    def nram(self, body):
        """Arrays of a task go to NRAM while they fit (they are the task's private buffers)."""
        total = 0

        def fn(n):
            nonlocal total
            if isinstance(n, ir.Decl) and is_array_decl(n) and n.scope == "local" and not n.storage:
                sizes = [array_bytes(v, self.constants) for v in n.vars]
                if all(s is not None for s in sizes) and total + sum(sizes) <= NRAM_LIMIT and \
                        all(v.init is None for v in n.vars):
                    total += sum(sizes)
                    return replace(n, scope="nram")
            return n
        return ir.rewrite(body, fn)

    # -- cuda / hip ------------------------------------------------------------------------------------
    def simt(self, f: ir.Function, nest: Nest | None) -> ir.Function:
        if nest is None:
            return self.simt_block(f, nest)
        mode = self.block_mode(f, nest)
        if mode is True:
            return self.simt_block(f, nest)
        if mode is False:
            return self.simt_flat(f, nest)
        return self.simt_choice(f, nest, mode)

    def simt_choice(self, f: ir.Function, nest: Nest, condition: ir.Expr) -> ir.Function:
        """Both kernels in one, ``if (condition) {one block per iteration} else {one thread per
        iteration}`` after the prologue (the condition reads only parameters and the prologue's
        scalars: every thread takes the same branch, so the block's barriers stay whole), and a grid
        for each under the same condition. Where the two differ in more than their loop (scratch
        buffers, parameters the block version copies to shared memory), one block per iteration."""
        flat = self.simt_flat(f, nest)
        flat_plan = self.plans[f.name]
        block = self.simt_block(f, nest)
        block_plan = self.plans[f.name]
        pre = tuple(flat.body.body[:-1])
        blocks_pre = block.body.body[len(block.body.body) - 1 - len(pre):-1]
        if flat_plan.scratch or block_plan.scratch or flat.params != block.params or blocks_pre != pre:
            return block
        chosen = ir.If(condition, ir.Block((block.body.body[-1],)), ir.Block((flat.body.body[-1],)))
        grid = ir.Ternary(self.inline_pre(condition, nest.pre), block_plan.grid, flat_plan.grid)
        self.plans[f.name] = replace(block_plan, grid=grid)
        return replace(block, body=ir.Block(block.body.body[:-1] + (chosen,)))

    def simt_flat(self, f: ir.Function, nest: Nest) -> ir.Function:
        """One thread per iteration of the nest (the kernel and its plan)."""
        quals = ("__global__",)
        threads = self.threads
        index = "__xp_f"
        gid = _bin("+", _bin("*", ir.Cast(LL, _builtin("blockIdx", "x")), _builtin("blockDim", "x")),
                   _builtin("threadIdx", "x"))
        stride = _bin("*", ir.Cast(LL, _builtin("gridDim", "x")), _builtin("blockDim", "x"))
        inner, scratch = self.thread_scratch(nest.body, gid, threads, nest.pre)
        body = ir.Block(tuple(decode(nest, _n(index))) + inner.body)
        loop = ir.For(_decl(index, LL, gid), _bin("<", _n(index), nest.count),
                      ir.Assign(_n(index), "+=", stride), body, "parallel:thread")
        grid = _bin("/", _bin("+", nest.count, _c(threads - 1)), _c(threads))
        if scratch:  # every thread of the grid has its scratch: a grid of at most FLAT_SCRATCH_BLOCKS
            grid = ir.Ternary(_bin(">", grid, _c(FLAT_SCRATCH_BLOCKS)), _c(FLAT_SCRATCH_BLOCKS), grid)
        params = f.params + tuple(ir.Param(name, ir.Type(typ.base, 1, typ.quals)) for name, typ, _ in scratch)
        self.plans[f.name] = Plan(self.inline_pre(grid, nest.pre), threads, scratch=scratch)
        return replace(f, quals=quals, kind="kernel", params=params, body=ir.Block(tuple(nest.pre) + (loop,)))

    def simt_block(self, f: ir.Function, nest: Nest | None) -> ir.Function:
        """One block per iteration of the nest, or the whole function in one block (the kernel and
        its plan)."""
        quals = ("__global__",)
        threads = self.threads
        raiser = BlockRaiser(self.target, self.parallel, f, threads)
        scalar_params = {p.name: p.type for p in f.params if not p.type.is_pointer and not p.dims}
        if nest is None:
            body = raiser.run(f.body.body, scalar_params)
            grid = _c(1)
            pre = []
        else:
            index = "__xp_b"
            inner = raiser.run(nest.body.body, {**scalar_params, **BlockRaiser.block_scalars(nest.pre)})
            # buffer extents may name scalars of the block (``float m[__nthreads]``): their values
            values = initializer_values((s for s in nest.body.body if isinstance(s, ir.Decl)),
                                        exclude=assigned_scalars(nest.body))
            raiser.shared_arrays = [replace(v, dims=tuple(substitute(d, values) if d is not None else d
                                                          for d in v.dims)) for v in raiser.shared_arrays]
            body_block = ir.Block(tuple(decode(nest, _n(index))) + tuple(inner) + (_sync(self.target),))
            loop = ir.For(_decl(index, LL, ir.Cast(LL, _builtin("blockIdx", "x"))), _bin("<", _n(index), nest.count),
                          ir.Assign(_n(index), "+=", _builtin("gridDim", "x")), body_block, "parallel:block")
            body = list(nest.pre) + [loop]
            grid = nest.count
            pre = nest.pre
        # sizes may name scalars the prologue computes (taskDim): written over the parameters
        sizes_pre = pre if nest is not None else [s for s in f.body.body if isinstance(s, ir.Decl)]
        decls, scratch = self.shared_storage(raiser, f, sizes_pre)
        if raiser.flatten:
            body = [flatten_arrays(s, raiser.flatten) for s in body]
        shared_params = [p for p in f.params if p.name in raiser.shared_scalars]
        if shared_params:  # a parameter thread 0 updates: a shared copy of it, under its name
            f = replace(f, params=tuple(replace(p, name=f"{p.name}__arg") if p in shared_params else p for p in f.params))
            copy = ir.Block(tuple(ir.ExprStmt(ir.Assign(_n(p.name), "=", _n(f"{p.name}__arg"))) for p in shared_params))
            decls += [ir.If(_bin("==", _builtin("threadIdx", "x"), _c(0)), copy), _sync(self.target)]
        params = f.params + tuple(ir.Param(name, ir.Type(typ.base, 1, typ.quals)) for name, typ, _ in scratch)
        self.plans[f.name] = Plan(self.inline_pre(grid, pre), threads, scratch=[
            (name, typ, count) for name, typ, count in scratch])
        return replace(f, quals=quals, kind="kernel", params=params, body=ir.Block(tuple(decls) + tuple(body)))

    def block_mode(self, f: ir.Function, nest: Nest):
        """Block mode for bodies with thread loops or large constant buffers, and for rows that are
        reduced and mapped (normalisations, softmax); a body whose only large buffers have a size
        known at run time (a per-iteration scratch row ``float s[L]``) runs one thread per
        iteration, each with its slice of a global scratch buffer. Rows reduced along memory that one
        thread per iteration would read apart: :meth:`reduces_strided_rows` (True, False or the
        condition under which a block per iteration pays)."""
        if has_thread_loops(nest.body):
            return True
        # one raiser for both row checks: it remembers the reductions it has found
        raiser = BlockRaiser(self.target, self.parallel, f, self.threads)
        scalars = {**{p.name: p.type for p in f.params if not p.type.is_pointer and not p.dims},
                   **BlockRaiser.block_scalars(nest.pre), **BlockRaiser.block_scalars(nest.body.body)}
        if self.reduces_rows(nest, raiser, scalars):
            return True
        if any(is_task_loop(loop) or loop.kind == "blocks" for loop in nest.loops) and \
                self.has_parallel_loop(nest.body):
            # a task of a BANG program (or a unit of its work, task-units) spreads its chunk over its
            # core's vector lanes: its loops over elements are the block's threads (one thread per
            # task would leave most of a GPU idle, one per unit would walk its chunk alone)
            return True
        total = 0
        for v in body_arrays(nest.body):
            size = array_bytes(v, self.constants)
            if size is None:
                if v.init is not None or any(d is None for d in v.dims):
                    return True
                continue
            total += size
        return total > FLAT_ARRAY_LIMIT or self.reduces_strided_rows(f, nest, raiser, scalars)

    def reduces_rows(self, nest: Nest, raiser: "BlockRaiser", scalars: dict) -> bool:
        """The body reduces a long row and maps one (a loop the block can reduce, and a long parallel
        loop): in one thread per iteration, each thread would walk its own row (neither coalesced nor
        enough threads when rows are few); in a block, the row's elements are the threads. ``raiser``
        and ``scalars``: a block raiser of the function and the scalars of the nest's body."""
        reduces = maps = False
        for s in nest.body.body:
            canon = s.canonical() if isinstance(s, ir.For) else None
            if canon is None or not isinstance(s.init, ir.Decl):
                continue
            trips = const_value(trip_count(*canon[1:]), {})
            if trips is not None and trips < MIN_ITERATIONS:
                continue
            if canon[0] not in assigned_scalars(s.body) and self.parallel(s):
                maps = True
            elif raiser.reduction(s, scalars) is not None:
                reduces = True
        return reduces and maps

    def reduces_strided_rows(self, f: ir.Function, nest: Nest, raiser: "BlockRaiser", scalars: dict):
        """The body reduces a row that lies along memory, and neighbouring iterations of the nest read
        rows apart (a GEMV, ``y[i] = sum_k A[i * K + k] * x[k]``, or a norm's sum of squares): in one
        thread per iteration, the threads of a warp would each walk their own row, every load a
        separate transaction, and rows are often too few to fill the GPU; in a block, the row's
        elements are the threads, read together. A GEMM's ``sum_k A[i * K + k] * B[k * N + j]``, whose
        neighbouring iterations (``j``, ``j + 1``) read neighbouring elements, stays one thread per
        iteration (coalesced, and reductions per element would multiply the barriers). Whether the
        block pays is :func:`blocks_pay`'s model: True or False where the row count and the row length
        are known before the call, else the condition (an expression over the kernel's parameters and
        its prologue's scalars) under which it does, for :meth:`simt` to test when the kernel runs."""
        last = nest.loops[-1].canonical()
        if last is None:
            return False
        step = const_value(last[3], self.constants)
        if step is None or step == 0:
            return False
        var = last[0]
        values = initializer_values((s for s in nest.body.body if isinstance(s, ir.Decl)),
                                    exclude=assigned_scalars(nest.body))
        local = {v.name for v in body_arrays(nest.body)}
        rows = const_value(nest.count, self.constants)
        for s in nest.body.body:
            red = raiser.reduction(s, scalars) if isinstance(s, ir.For) and s.canonical() is not None and \
                isinstance(s.init, ir.Decl) else None
            if red is None or not self.read_apart(s, var, step, values, local):
                continue
            length = _bin("*", substitute(trip_count(*s.canonical()[1:]), values), _c(red.length))
            trips = const_value(length, self.constants)
            if rows is not None and trips is not None:
                if blocks_pay(rows, trips, self.threads):
                    return True
                continue
            # decided when the kernel runs, where the sizes are its parameters or the prologue's
            choice = blocks_pay_expr(nest.count, length, self.threads)
            known = {p.name for p in f.params} | {v.name for d in nest.pre if isinstance(d, ir.Decl) for v in d.vars}
            return choice if free_names(choice) <= known else True
        return False

    def read_apart(self, loop: ir.For, var: str, step: int, values: dict, local: set) -> bool:
        """Some read of ``loop`` walks memory at a unit stride along ``loop`` or a loop inside it, and
        steps more than one element (or a run-time multiple) when ``var`` steps by ``step``."""
        along = [loop.canonical()[0]] + [n.canonical()[0] for n in ir.walk(loop.body)
                                         if isinstance(n, ir.For) and n.canonical() is not None]
        for n in ir.walk(loop.body):
            address = _address(n, values, local) if isinstance(n, ir.Index) else None
            if address is None:
                continue
            across = _stride(address, var, self.constants)
            if across is not None and (across == SYMBOLIC or abs(across * step) > 1) and \
                    any(_stride(address, v, self.constants) in (1, -1) for v in along):
                return True
        return False

    def has_parallel_loop(self, body: ir.Block) -> bool:
        return any(isinstance(n, ir.For) and n.canonical() is not None and isinstance(n.init, ir.Decl)
                   and n.canonical()[0] not in assigned_scalars(n.body) and self.parallel(n) for n in ir.walk(body))

    def thread_scratch(self, body: ir.Block, gid, threads: int, pre: list):
        """``T v[n]`` with ``n`` known at run time only -> ``T *v = scratch_v + thread * n``: the body
        (rewritten) and the scratch buffers ``(param, type, elements per block)``."""
        scratch, flatten = [], {}

        def fn(n):
            if not isinstance(n, ir.Decl) or len(n.vars) != 1 or not n.vars[0].dims or \
                    array_bytes(n.vars[0], self.constants) is not None:
                return n
            v = n.vars[0]
            count = None
            for d in v.dims:
                count = d if count is None else _bin("*", _p(count), _p(d))
            name = f"__xp_scratch_{v.name}"
            scratch.append((name, v.type, _bin("*", _c(threads), _p(self.inline_pre(count, pre)))))
            if len(v.dims) > 1:
                flatten[v.name] = v.dims
            pointer = ir.Type(v.type.base, v.type.pointer + 1, v.type.quals)
            return _decl(v.name, pointer, _bin("+", _n(name), _bin("*", _p(gid), _p(count))))
        body = ir.rewrite(body, fn)
        if flatten:
            body = flatten_arrays(body, flatten)
        return body, scratch

    def shared_storage(self, raiser: BlockRaiser, f: ir.Function, pre: list):
        """``__shared__`` declarations for the block's buffers and scalars; per-block global scratch
        for buffers whose size is not constant or that do not fit in static shared memory."""
        decls, scratch = [], []
        flatten: dict[str, tuple] = {}
        total = 0
        for v in raiser.shared_arrays:
            size = array_bytes(v, self.constants)
            if size is not None and total + size <= SHARED_LIMIT:
                total += size
                decls.append(ir.Decl((replace(v, init=None),), scope="shared"))
                continue
            count = None
            for d in v.dims:
                count = d if count is None else _bin("*", count, d)
            count = self.inline_pre(count, pre)
            name = f"__xp_scratch_{v.name}"
            scratch.append((name, v.type, count))
            pointer = ir.Type(v.type.base, v.type.pointer + 1, v.type.quals)
            offset = _bin("*", ir.Cast(LL, _builtin("blockIdx", "x")), count)
            if len(v.dims) > 1:
                flatten[v.name] = v.dims
            decls.append(_decl(v.name, pointer, _bin("+", _n(name), offset)))
        raiser.flatten = flatten
        for name, typ in raiser.shared_scalars.items():
            decls.append(ir.Decl((ir.Declarator(name, ir.Type(typ.base, typ.pointer, tuple(
                q for q in typ.quals if q != "const"))),), scope="shared"))
        return decls, scratch

    @staticmethod
    def inline_pre(expr, pre) -> ir.Expr:
        """``expr`` with the scalars the prologue declares replaced by their initialisers (so that the
        host can compute it from the call's arguments)."""
        return substitute(expr, initializer_values(s for s in pre if isinstance(s, ir.Decl)))

    # -- launches --------------------------------------------------------------------------------------
    def host(self, f: ir.Function, kernels: dict[str, ir.Function]) -> ir.Function:
        def fn(n):
            if isinstance(n, ir.Block):
                out = []
                for s in n.body:
                    out.extend(self.launch(s, kernels) if self.is_call_stmt(s, kernels) else [s])
                return replace(n, body=tuple(out)) if len(out) != len(n.body) or any(
                    a is not b for a, b in zip(out, n.body)) else n
            return n
        return ir.rewrite(f, fn)

    @staticmethod
    def is_call_stmt(s, kernels) -> bool:
        return isinstance(s, ir.ExprStmt) and isinstance(s.expr, ir.Call) and call_name(s.expr) in kernels

    def launch(self, s: ir.ExprStmt, kernels) -> list:
        call = s.expr
        kernel = kernels[call_name(call)]
        plan = self.plans[kernel.name]
        params = kernel.params[:len(call.args)]
        mapping = {p.name: a for p, a in zip(params, call.args)}
        if self.target == "bang":
            dim = f"__xp_dim_{kernel.name}"
            return [
                ir.Decl((ir.Declarator(dim, ir.Type("cnrtDim3_t"), init=ir.InitList((_c(plan.task_dim), _c(1), _c(1)))),)),
                ir.ExprStmt(ir.Launch(_n(kernel.name), (_n(dim), _n(f"CNRT_FUNC_TYPE_{plan.func_type}"), _n("__xp_queue")),
                                      call.args, template_args=call.template_args)),
                ir.ExprStmt(ir.Call(_n("cnrtQueueSync"), (_n("__xp_queue"),))),
            ]
        out = []
        args = list(call.args)
        grid = self.grid_expr(substitute(plan.grid, mapping))
        grid_name = f"__xp_grid_{kernel.name}"
        out.append(_decl(grid_name, LL, grid))
        for name, typ, count in plan.scratch:
            # kept from one call to the next (c_prelude's __xpiler_scratch): allocating and freeing
            # it around the launch cost more than the small kernels run
            buf = f"{name}_{kernel.name}"
            slot = self.scratch_slots.setdefault(buf, len(self.scratch_slots))
            elems = _bin("*", _n(grid_name), substitute(count, mapping))
            pointer = ir.Type(typ.base, typ.pointer + 1, tuple(q for q in typ.quals if q != "const"))
            out.append(_decl(buf, pointer, ir.Cast(pointer, ir.Call(_n("__xpiler_scratch"), (
                _c(slot), _bin("*", elems, ir.SizeOf(type=ir.Type(typ.base, typ.pointer))))))))
            args.append(_n(buf))
        out.append(ir.ExprStmt(ir.Launch(_n(kernel.name), (ir.Call(_n("dim3"), (ir.Cast(ir.Type("unsigned"), _n(grid_name)),)),
                                                             ir.Call(_n("dim3"), (_c(plan.block),))), tuple(args),
                                  template_args=call.template_args)))
        return [ir.Block(tuple(out))]

    @staticmethod
    def grid_expr(count) -> ir.Expr:
        """Blocks to launch: the iteration count clamped to [1, 65535 * 32]: the stride loop covers the
        rest, and an empty launch is not allowed."""
        clamped = ir.Ternary(_bin("<", count, _c(1)), _c(1), ir.Ternary(_bin(">", count, _c(2097120)), _c(2097120), count))
        return clamped


def split_prologues(module: ir.Module, parallel: ParallelLoops, *, interchange: bool = True) -> ir.Module:
    """Each device function without a parallel nest whose last statement alone has one, split in two:
    ``<name>_prologue`` (the statements before) and ``<name>`` (that loop), every host call of it
    then a call of both in order (a GPU would otherwise run the whole function in one block: packing
    an int8 GEMM's B, then every row one by one). Exact: the launches run in order on one stream, and
    the loop uses nothing the prologue declares or assigns (a scalar parameter the prologue updates
    would reach the loop's kernel unchanged). Only where each call's arguments have no side effects
    (they are evaluated twice)."""
    split: dict[str, str] = {}
    items = []
    for item in module.items:
        parts = _prologue_split(item, module, parallel, interchange) if isinstance(item, ir.Function) and item.kind == "kernel" \
            and item.body is not None else None
        if parts is None:
            items.append(item)
            continue
        items.extend(parts)
        split[item.name] = parts[0].name
    if not split:
        return module

    def split_call(n) -> bool:
        return isinstance(n, ir.Call) and call_name(n) in split
    callers = [item for item in items if isinstance(item, ir.Function) and item.kind != "kernel"]
    calls = [n for item in callers for n in ir.walk(item) if split_call(n)]
    statements = [n for item in callers for n in ir.walk(item) if isinstance(n, ir.ExprStmt) and split_call(n.expr)]
    if len(calls) != len(statements) or any(touches_memory(a) or _has_effects(a) for c in calls for a in c.args):
        return module  # a call inside an expression, or arguments with effects: kept whole

    def fn(n):
        if isinstance(n, ir.ExprStmt) and split_call(n.expr):
            return ir.Block((ir.ExprStmt(replace(n.expr, func=ir.Name(split[call_name(n.expr)]))), n))
        return n
    return replace(module, items=tuple(ir.rewrite(item, fn) if any(item is c for c in callers) else item
                                       for item in items))


def _has_effects(e) -> bool:
    return any(isinstance(n, (ir.Assign, ir.Call)) or (isinstance(n, ir.UnOp) and n.op in ("++", "--"))
               for n in ir.walk(e))


def _prologue_split(f: ir.Function, module: ir.Module, parallel: ParallelLoops,
                    interchange: bool) -> tuple[ir.Function, ir.Function] | None:
    parallel.enter(module, f)
    if find_nest(f, parallel, interchange=interchange) is not None:
        return None
    stmts = [s for s in f.body.body if not isinstance(s, ir.Comment)]
    if len(stmts) < 2 or not isinstance(stmts[-1], ir.For):
        return None
    head = ir.Block(tuple(stmts[:-1]))
    # what the loop would see of the prologue: its declarations, and the parameters it assigns (by
    # value: each kernel gets its own copy)
    top = {v.name for d in stmts[:-1] if isinstance(d, ir.Decl) for v in d.vars}
    scoped = declared_names(head) - top   # loop counters and block locals (a parameter's name: shadowing)
    assigned = assigned_scalars(head)
    visible = top | (assigned - scoped) | (assigned & scoped & {p.name for p in f.params})
    if visible & used_names(stmts[-1]) or \
            any(isinstance(n, (ir.Return, ir.Verbatim)) for n in ir.walk(head)):
        return None
    loop = replace(f, body=ir.Block((stmts[-1],)))
    if find_nest(loop, parallel, interchange=interchange) is None:
        return None
    taken = {item.name for item in module.items if isinstance(item, ir.Function)}
    return replace(f, name=fresh(f"{f.name}_prologue", taken), body=head), loop


def bind_module(module: ir.Module, target: str, threads: int = 256) -> ir.Module:
    binder = Binder(module, target, threads)
    if target in SIMT_TARGETS or target == "bang":   # (OpenMP runs a prologue in the calling thread)
        module = split_prologues(module, binder.parallel, interchange=target != "bang")
        binder.module = module
    kernels = {f.name: f for f in module.functions() if f.kind == "kernel" and f.body is not None}
    device_helpers = _device_helpers(module, kernels)
    items = []
    raised = {}
    for item in module.items:
        if isinstance(item, ir.Function) and item.name in kernels and item.body is not None:
            new = binder.kernel(item)
            if target in SIMT_TARGETS:
                new = global_memory_calls(new)
            raised[item.name] = new
            items.append(new)
        elif isinstance(item, ir.Function) and item.name in device_helpers and target != "vnni":
            qual = ("__host__", "__device__") if target in SIMT_TARGETS else ("__mlu_func__",)
            items.append(replace(item, quals=tuple(q for q in item.quals if q != "static") + qual, kind="device"))
        else:
            items.append(item)
    if target in SIMT_TARGETS:
        items = device_globals(items, set(raised) | device_helpers)
    out = []
    for item in items:
        if isinstance(item, ir.Function) and item.kind == "host" and item.body is not None and item.name not in raised \
                and target != "vnni":
            item = binder.host(item, raised)
            if item.extern_c:
                raiser = EntryRaiser(item, target, kernels, module, binder.constants)
                item = raiser.rewrite()
                out.extend(raiser.inspectors)
        out.append(item)
    return replace(module, items=tuple(out), dialect=target)


def device_globals(items: list, device: set[str]) -> list:
    """File-scope variables only device code uses (a BANG program's file-scope ``__nram__`` buffer,
    lowered to a plain global) become ``__device__`` variables: device code cannot touch host
    globals (nvcc: "identifier is undefined in device code")."""
    functions = [i for i in items if isinstance(i, ir.Function) and i.body is not None]
    on_device = set().union(*(used_names(f.body) for f in functions if f.name in device))
    on_host = set().union(*(used_names(f.body) for f in functions if f.name not in device))
    out = []
    for item in items:
        if isinstance(item, ir.Decl) and item.scope == "local" and "const" not in item.vars[0].type.quals and \
                "constexpr" not in item.storage and "extern" not in item.storage and \
                all(v.name in on_device and v.name not in on_host for v in item.vars):
            item = replace(item, scope="global")
        out.append(item)
    return out


def global_memory_calls(f: ir.Function) -> ir.Function:
    """``std::memcpy`` / ``std::memset`` -> ``memcpy`` / ``memset`` in a kernel: HIP's device versions
    live in the global namespace only (hipcc rejects the std:: ones as host functions)."""
    def fn(n):
        if isinstance(n, ir.Call) and call_name(n) in ("std::memcpy", "std::memset"):
            return replace(n, func=_n(call_name(n).removeprefix("std::")))
        return n
    return ir.rewrite(f, fn)


def _device_helpers(module: ir.Module, kernels: dict) -> set[str]:
    """Functions of the program that device code calls (transitively)."""
    functions = {f.name: f for f in module.functions() if f.body is not None}
    found: set[str] = set()
    todo = list(kernels.values())
    while todo:
        f = todo.pop()
        for n in ir.walk(f.body):
            if isinstance(n, ir.Call):
                name = call_name(n)
                if name in functions and name not in kernels and name not in found:
                    found.add(name)
                    todo.append(functions[name])
    return found


@register
@dataclass(frozen=True)
class Bind(ModulePass):
    """Device functions become target kernels (loops bound to threads, blocks or tasks), their calls
    launches; for vnni, OpenMP on the parallel nest."""

    name: ClassVar[str] = "bind"
    summary: ClassVar[str] = "map parallel loops of device functions onto threads/blocks, tasks or OpenMP"
    target: str = "cuda"
    threads: int = 256

    def apply(self, module: ir.Module) -> ir.Module:
        if module.dialect != "vnni":
            raise PassError(f"bind applies to sequential C (after outline), not {module.dialect}")
        if self.target not in ("cuda", "hip", "bang", "vnni"):
            raise PassError(f"bind: unknown target {self.target!r}")
        if self.threads < 32 or self.threads > 1024 or self.threads % 32:
            raise PassError(f"bind: threads must be a multiple of 32 in [32, 1024], got {self.threads}")
        return bind_module(module, self.target, self.threads)

    @classmethod
    def schedule_space(cls, module):
        for threads in (64, 128, 256, 512):
            yield cls(threads=threads)
