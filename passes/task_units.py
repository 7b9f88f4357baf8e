"""Task units (``task-units``): a BANG kernel's units of work, dealt to its tasks in turn, become one
loop over the units.

BANG programs deal their work to a fixed number of tasks (16: four clusters of four cores), each
task taking every 16th unit. Lowered to sequential C, that is a loop over the tasks around a
strided loop over each task's units::

    for (unsigned taskIdZ = 0; taskIdZ < taskDimZ; ++taskIdZ)            // dim = {16, 1, 1}
      for (unsigned taskIdY = 0; ...)                                    // UNION1
        for (unsigned taskIdX = 0; ...) {
          unsigned taskId = ...;                                    int n_tiles = (N + NT - 1) / NT;
          int clusterId = union_job ? taskId / 4 : 0;         =>    for (int unit = 0; unit < batch * n_tiles; ++unit) {
          int coreId = taskId % 4;                                    unsigned taskIdX = unit % 16, ...;
          float c_blk[MT * NT];                                       float c_blk[MT * NT];
          int n_tiles = (N + NT - 1) / NT;                            ...
          for (int unit = clusterId * 4 + coreId; unit < batch * n_tiles; unit += 16) {
            ...

On a GPU the tasks become 16 blocks, most of the machine idle; one loop over the units binds to as
many blocks (or threads) as there are units.

**When.** Every call of the function passes the same constant task dimensions and function type
(``cnrtDim3_t dim = {16, 1, 1}`` never changed, ``CNRT_FUNC_TYPE_UNION1``). The last statement of
the task body is a loop ``for (int u = s; u < n; u += T)``, ``T`` a constant, whose start (and
bound) are evaluated for every task ``t`` (its linear index ``(taskIdZ * DY + taskIdY) * DX +
taskIdX``, ``D`` tasks). Three ways of dealing the units are recognised:

* *cyclic*: the start is ``c * t`` and ``T = c * D``: the units are ``0, c, 2c, ...`` below ``n``
  (which must not depend on the task), the task ``(u / c) % D``;
* *blocks*: the start is ``L * t`` and every task takes ``L / T`` units, the last ones fewer or none
  (``first = task * 128; for (r = first; r < first + 128; ++r)``, bounds constant): one loop over
  ``0, T, 2T, ...`` below the last task's end, the task ``u / L``;
* *pairs* (otherwise, bounds constant): task ``t`` takes ``k_t`` units ``s + j * T`` (``m0 = task *
  4; for (i = 0; i < 4; ++i)``): one loop over the pairs ``(t, j)``, ``j`` below the most any task
  takes, the unit declared in the body and, where some task takes fewer, run under ``u < n``;
* *ranges* (bounds sized at run time, ``T = 1``): task ``t`` takes ``[s_t, e_t)``, each an expression
  of values the same in every task once the task's own are substituted (``per = units / taskDim``;
  ``u0 = t * per + (t < rem ? t : rem)``), and z3 proves the ranges in order make up ``[s_0, e_15)``,
  each unit once (:func:`xpiler.synth.binding.prove_partition`): one loop over that range. A unit's
  task is then not known: nothing the units run may read it. An ``unsigned`` value in a bound (C
  compares the other side as unsigned) is refused.

Before the checks, a unit loop is put in the form they follow: a task's *memo* of what it loaded for
its last unit (``if (bh != loaded) { load K of head bh; loaded = bh; }``) goes when the load is a
function of its key (:mod:`passes.task_memos`: every unit loads), and views into arrays (``float *s =
s_blk + i * L``) are read through the arrays (:mod:`passes.views`).

**Tiles of a unit.** A flattened unit whose last statement walks tiles (``for (m0 = 0; m0 < M; m0
+= 32)``, a loop with loops inside, bounds of its own) has the tiles join the units: one loop over the
pairs (unit, tile), the count of tiles computed at run time, under the same conditions (its prologue
light, nothing carried from one tile to the next, the pairs proved independent).

A task that returns early (``if (task >= rows) return;`` before its units, lowered to a jump to the
end of the task) keeps its condition: the rest of the task's statements run under ``!(cond)`` in
every unit (the condition may not touch memory).

**Exact.** Tasks are independent (what the task loops mean); the new loop keeps each task's units
in their order and interleaves those of different tasks. What a task keeps across its units is the
one thing that could differ, since the statements before the unit loop (the task's *prologue*) now
run once per unit:

* a prologue scalar must not be assigned in the unit loop (it would carry a value from one unit to
  the next);
* a prologue array the prologue fills (a filter preloaded into NRAM) must be read-only in the unit
  loop, and the prologue may read only such arrays and parameters the unit loop does not write (so
  running it again gives the same values);
* a prologue array the unit loop writes (a staging buffer) must have every element a unit reads
  written earlier in the same unit: each read ``X[e]`` is proved by z3 to lie in the box of an
  earlier write, a nest of counted loops around ``X[w] = v`` (``w`` a mixed radix of its counters,
  or ``X[w] = v`` alone), under the loop bounds and conditions around the read and the values of the
  function's integers declared once and never assigned.

The coverage proofs also know an index chosen among a loop's counters (an argmax: ``m = 0; for (i =
1; i < L; ++i) if (...) m = i;`` keeps ``m`` at 0 or in ``[1, L)``), a loop over tiles with the loop
over a tile's elements (``for (l0 = 0; l0 < L; l0 += 256) { int vc = L - l0 < 256 ? L - l0 : 256;
for (i = 0; i < vc; ++i) ... l0 + i ...}`` stores every element of ``[0, L)``), and that an extent
the same in every unit (a parameter ``D``) may be taken positive where every store into the array
in the task is in a loop counted from 0 below it (otherwise nothing is ever stored into it, and a
read in the source sees an element never written: no value to keep).

The loop is flattened only when the prologue does at most the work of one unit (statements counted
with loops' trips; it now runs once per unit: a task computing a product and storing it element by
element stays), and when the dependence analysis proves its units independent (otherwise
``bind`` would have to run them one after another: one block, where the tasks gave sixteen). Where
the analysis cannot prove it, the units' copies through small local arrays are forwarded (as
``forward-copies`` does for large ones) and it is asked again: mha's output block, stored row by row
into ``O`` in place of a flat copy of ``o_blk``, is the unit's own rows.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import ClassVar

import z3

from xpiler import ir
from xpiler.ir.analysis import statements, strip_parens
from xpiler.ir.effects import (assigned_scalars, declaration_counts, declared_names, is_array_decl, is_pure_call, touches_memory,
                               used_names)
from xpiler.ir.transform import rename

from .base import ModulePass, map_function_bodies
from .bind import const_value, is_task_loop, module_constants
from .block_constants import _changed, _constant_locals
from .cleanup import assigned_outside_headers
from .forward_copies import (PROOF_RLIMIT, _Atoms, _Function, _box_chain, _digits, _in_box, _radix, forward_copies, int_macros,
                             written_address)
from .loop_split import body_statements, const, fresh, substitute
from .registry import register
from .task_memos import accessed_address, without_memos, written_roots
from .views import views_as_subscripts

#: launches with more tasks than this are not enumerated (the start of each task is evaluated)
TASK_LIMIT = 4096
TASK_DIMS = ("taskDimX", "taskDimY", "taskDimZ", "union_job")
U = ir.Type("unsigned")


# --------------------------------------------------------------------------------------------------
# The launch every call passes


def _launch(module: ir.Module, f: ir.Function, constants: dict) -> dict | None:
    """``{taskDimX: DX, taskDimY: DY, taskDimZ: DZ, union_job: 0/1}`` when every call of ``f`` passes
    those constants (and ``f`` is called, only called, and static), else None."""
    names = [p.name for p in f.params]
    if "static" not in f.quals or any(n not in names for n in TASK_DIMS):
        return None
    at = [names.index(n) for n in TASK_DIMS]
    seen, calls = set(), 0
    for caller in (i for i in module.functions() if i.body is not None):
        known = _caller_constants(caller, constants)
        for n in ir.walk(caller.body):
            if isinstance(n, ir.Call) and n.func == ir.Name(f.name):
                calls += 1
                seen.add(tuple(const_value(n.args[k], known) if k < len(n.args) else None for k in at))
    uses = sum(1 for n in ir.walk(module) if isinstance(n, ir.Name) and n.id == f.name)
    if calls == 0 or uses != calls or len(seen) != 1:
        return None
    values = seen.pop()
    if None in values or any(v <= 0 for v in values[:3]):
        return None
    return dict(zip(TASK_DIMS, values))


def _caller_constants(caller: ir.Function, constants: dict) -> dict:
    """The caller's constant scalars, and ``dim.x`` ... of a ``cnrtDim3_t dim = {16, 1, 1}`` declared
    once and never changed."""
    known = _constant_locals(caller.body, constants)
    counts = declaration_counts(caller.body)
    for d in ir.walk(caller.body):
        if isinstance(d, ir.Declarator) and d.type.base == "cnrtDim3_t" and not d.type.pointer and \
                isinstance(d.init, ir.InitList) and counts[d.name] == 1 and not _changed(caller.body, d.name):
            for axis, value in zip("xyz", d.init.items):
                v = const_value(value, known)
                if v is not None:
                    known[f"{d.name}.{axis}"] = v
    return known


# --------------------------------------------------------------------------------------------------
# The task nest


@dataclass(frozen=True)
class _Cyclic:
    """Task ``t`` takes the units ``c * t``, ``c * t + c * D``, ... below the bound: together the
    units ``0, c, 2c, ...`` below it (a loop over them, the task ``(u / c) % D``)."""

    scale: int


@dataclass(frozen=True)
class _Blocked:
    """Task ``t`` takes the units ``L * t``, ``L * t + s``, ... of its own block of ``L``: together
    ``0, s, 2s, ...`` below ``end`` (a loop over them, the task ``u / L``)."""

    length: int
    step: int
    end: int


@dataclass(frozen=True)
class _Collapsed:
    """Task ``t`` takes ``trips[t]`` units ``start + k * s`` (a start not proportional to the task:
    ``m0 = taskId * 4; for (i = 0; i < 4; ++i)``): a loop over the pairs (task, k), ``k < n`` the
    most any task takes, ``guarded`` when some task takes fewer."""

    trips: int
    guarded: bool


@dataclass(frozen=True)
class _Ranges:
    """Task ``t`` takes the units ``[s_t, e_t)``, sized at run time, ranges proved to make up ``[s_0,
    e_last)`` each unit once (balanced ranges: ``n / 16`` units each, one more for the first ``n %
    16``): a loop over them. A unit's task is not known: the units must not ask for it."""

    low: ir.Expr
    high: ir.Expr


@dataclass(frozen=True)
class _TaskNest:
    prologue: tuple           # the task body's statements before the unit loop
    units: ir.For             # for (int u = s; u < n; u += T)
    var: str
    stop: ir.Expr
    form: _Cyclic | _Blocked | _Collapsed | _Ranges
    tasks: tuple              # (DX, DY, DZ)
    # a task's early exits (``if (c) return;``, lowered to a jump to the end of the task): the number
    # of prologue statements before each, and its condition
    exits: tuple = ()


def _task_nest(stmt, launch: dict, env: dict, int_names: set) -> _TaskNest | None:
    loops = []
    s = stmt
    for var in ("taskIdZ", "taskIdY", "taskIdX"):
        if not (isinstance(s, ir.For) and is_task_loop(s) and s.canonical() and s.canonical()[0] == var):
            return None
        loops.append(s)
        inner = body_statements(s)
        s = inner[0] if len(inner) == 1 and var != "taskIdX" else ir.Block(tuple(inner))
    for loop, dim in zip(loops, ("taskDimZ", "taskDimY", "taskDimX")):
        _, start, stop, step = loop.canonical()
        if const_value(start, {}) != 0 or const_value(step, {}) != 1 or strip_parens(stop) != ir.Name(dim):
            return None
    stmts = [x for x in s.body if not isinstance(x, ir.Comment)]
    stmts, exits = _early_exits(stmts)
    stmts = _spliced(stmts)
    if stmts is None or not stmts or not isinstance(stmts[-1], ir.For) or stmts[-1].canonical() is None or \
            not isinstance(stmts[-1].init, ir.Decl):
        return None
    units, prologue = stmts[-1], tuple(stmts[:-1])
    if any(touches_memory(c) or assigned_scalars(ir.ExprStmt(c)) for _, c in exits):
        return None
    var, start, stop, step = units.canonical()
    if ({var} | used_names(stop)) & assigned_scalars(units.body):
        return None
    dx, dy, dz = launch["taskDimX"], launch["taskDimY"], launch["taskDimZ"]
    count = dx * dy * dz
    stride = const_value(step, env)
    if count > TASK_LIMIT or stride is None or stride <= 0:
        return None
    starts, stops = [], []
    for z, y, x in itertools.product(range(dz), range(dy), range(dx)):
        values = dict(env, taskIdZ=z, taskIdY=y, taskIdX=x)
        for d in prologue:
            if isinstance(d, ir.Decl):
                for v in d.vars:
                    if v.init is not None and not v.dims:
                        value = const_value(v.init, values)
                        if value is not None:
                            values[v.name] = value
        starts.append(const_value(start, values))
        stops.append(const_value(stop, values))
    form = _units_form(starts, stops, stride, count)
    if form is None and stride == 1 and not exits:
        form = _ranges_form(prologue, start, stop, launch, env, int_names)
    return None if form is None else _TaskNest(prologue, units, var, stop, form, (dx, dy, dz), exits)


def _ranges_form(prologue: tuple, start, stop, launch: dict, env: dict, int_names: set) -> _Ranges | None:
    """Each task's ``[start, stop)`` as an expression of what is the same for every task (the task's
    own values substituted), when z3 proves that the tasks' ranges in order make up the first task's
    start to the last task's stop, each unit once."""
    from xpiler.synth.binding import BindingError, prove_partition
    varying, decls = {"taskIdX", "taskIdY", "taskIdZ"}, []
    for s in prologue:
        if isinstance(s, ir.Decl) and not is_array_decl(s):
            for v in s.vars:
                if v.init is not None and used_names(v.init) & varying:
                    varying.add(v.name)
                    decls.append(v)
    if assigned_scalars(ir.Block(tuple(s for s in prologue if not isinstance(s, ir.Decl)))) & varying:
        return None
    # names of the same value in every task may stay; constants only where C computes them as ints
    shared = {k: v for k, v in env.items() if k in int_names and isinstance(v, int)}
    lows, highs = [], []
    for z, y, x in itertools.product(*(range(launch[d]) for d in ("taskDimZ", "taskDimY", "taskDimX"))):
        values = dict(env, taskIdZ=z, taskIdY=y, taskIdX=x)
        mapping = {}
        for v in decls:
            init = _folded(substitute(v.init, mapping), shared)
            value = const_value(init, values)
            if value is not None:
                values[v.name] = value
                mapping[v.name] = const(value) if v.name in int_names else ir.Cast(v.type, const(value))
            elif v.name in int_names:
                mapping[v.name] = ir.Paren(init)
            else:
                return None
        low, high = (_folded(substitute(e, mapping), shared) for e in (start, stop))
        bounds = ir.Block((ir.ExprStmt(low), ir.ExprStmt(high)))
        names = used_names(bounds)
        if names & varying or not names <= int_names or any(isinstance(n, ir.Cast) for n in ir.walk(bounds)) or \
                touches_memory(bounds):
            return None   # a task's own value left, an unsigned one (C converts the other side) or a load
        lows.append(low)
        highs.append(high)
    try:
        proved = prove_partition(lows, highs).holds
    except BindingError:
        return None
    return _Ranges(lows[0], highs[-1]) if proved else None


def _folded(e, constants: dict):
    """``e`` with its constant parts computed (``0 * per + (0 < rem ? 0 : rem)`` is ``rem > 0 ? 0 :
    rem``... as far as literals go: constants, ``0 *``, ``+ 0``, a constant condition)."""
    def fold(n):
        if isinstance(n, ir.Expr) and not isinstance(n, ir.Const):
            value = const_value(n, constants)
            if value is not None and not any(isinstance(m, ir.Cast) for m in ir.walk(n)):
                return const(value)
        if isinstance(n, ir.Paren) and isinstance(n.inner, (ir.Const, ir.Name, ir.Paren)):
            return n.inner
        if isinstance(n, ir.Ternary):
            c = const_value(n.cond, constants)
            if c is not None and not any(isinstance(m, ir.Cast) for m in ir.walk(n.cond)):
                return n.then if c else n.other
        if isinstance(n, ir.BinOp) and n.op in ("+", "-", "*"):
            a, b = const_value(n.left, {}), const_value(n.right, {})
            if n.op == "*" and 0 in (a, b):
                return const(0)
            if n.op == "*" and a == 1:
                return n.right
            if n.op in ("*", "-") and b == (1 if n.op == "*" else 0):
                return n.left
            if n.op == "+" and a == 0:
                return n.right
            if n.op == "+" and b == 0:
                return n.left
        return n
    return ir.rewrite(e, fold)


def _early_exits(stmts: list) -> tuple[list | None, tuple]:
    """A task body ``{ {...; if (c) goto end; ...} end:; }`` (a task's ``return`` lowered) as its
    statements without the jumps, and ``(statements before, c)`` for each; ``(None, ())`` when the
    end is reached another way."""
    if not stmts or not _is_label(stmts[-1]):
        return stmts, ()
    label = stmts[-1].text[:-2]
    inner = _spliceable(stmts[:-2], stmts[-2]) if len(stmts) >= 2 else None
    if inner is None:
        return None, ()
    kept, exits = list(stmts[:-2]), []
    for x in inner:
        if isinstance(x, ir.If) and x.other is None and _jumps_to(x.then, label):
            exits.append((len(kept), x.cond))
        else:
            kept.append(x)
    if any(isinstance(n, ir.Verbatim) and label in n.text for x in kept for n in ir.walk(x)):
        return None, ()   # a jump from somewhere else
    return kept, tuple(exits)


def _spliced(stmts: list | None) -> list | None:
    """The statements with a block that ends them spliced in (an inlined helper's body: ``{ int Ho =
    ...; for (r = ...) ... }``), while its names do not clash with those declared before it."""
    while stmts:
        inner = _spliceable(stmts[:-1], stmts[-1])
        if inner is None:
            break
        stmts = stmts[:-1] + inner
    return stmts


def _spliceable(before: list, block) -> list | None:
    """The statements of ``block`` (comments dropped) when it is a block that may be spliced after
    ``before``: None when it is not a block or declares a name ``before`` declares."""
    if not isinstance(block, ir.Block):
        return None
    outer = {d.name for x in before for d in ir.walk(x) if isinstance(d, ir.Declarator)}
    inner = [x for x in block.body if not isinstance(x, ir.Comment)]
    if outer & {d.name for x in inner for d in ir.walk(x) if isinstance(d, ir.Declarator)}:
        return None
    return inner


def _is_label(s) -> bool:
    return isinstance(s, ir.Verbatim) and s.text.endswith(":;") and s.text[:-2].isidentifier()


def _jumps_to(s, label: str) -> bool:
    body = statements(s)
    return len(body) == 1 and isinstance(body[0], ir.Verbatim) and body[0].text == f"goto {label};"


def _units_form(starts: list, stops: list, stride: int, count: int):
    """How the tasks (in linear order) share the units, from each task's start and bound (None where
    not constant) and the unit loop's step; None when no form fits."""
    if None in starts:
        return None
    if stride % count == 0 and starts == [stride // count * t for t in range(count)]:
        return _Cyclic(stride // count)
    if None in stops:
        return None
    trips = [_trips(start, stop, stride) for start, stop in zip(starts, stops)]
    most = max(trips)
    if most == 0:
        return None
    length, end, ended = most * stride, 0, False
    for t, (first, n) in enumerate(zip(starts, trips)):
        if n == 0:
            ended = True
        elif ended or first != end or first != length * t:
            break
        else:
            end, ended = first + n * stride, n < most
    else:
        return _Blocked(length, stride, end)
    return _Collapsed(most, any(n != most for n in trips))


# --------------------------------------------------------------------------------------------------
# Whether it pays


#: trips assumed for a loop whose count is not a constant (in the prologue and the units alike)
UNKNOWN_TRIPS = 64


def _trips(start: int, stop: int, step: int) -> int:
    """How many times ``for (v = start; v < stop; v += step)`` runs (``step`` > 0)."""
    return max(0, -((start - stop) // step))


def _prologue_is_light(prologue: tuple, units: ir.For, env: dict) -> bool:
    """Whether the task's prologue does at most the work of one unit. Flattened, the prologue runs
    once per unit: a task that computes a GEMM and then stores it element by element (the store
    loop its "units") would compute it once per element."""
    return _work(ir.Block(prologue), env) <= _work(units.body, env)


def _work(node, env: dict) -> int:
    """Statements executed, loops counted by their trips (:data:`UNKNOWN_TRIPS` where not constant)."""
    if isinstance(node, ir.For):
        canonical = node.canonical()
        trips = None
        if canonical is not None:
            _, start, stop, step = canonical
            a, b, c = (const_value(x, env) for x in (start, stop, step))
            if None not in (a, b, c) and c > 0:
                trips = _trips(a, b, c)
        return (UNKNOWN_TRIPS if trips is None else trips) * max(1, _work(node.body, env))
    if isinstance(node, ir.Block):
        return sum(_work(s, env) for s in node.body)
    if isinstance(node, ir.If):
        return max(_work(node.then, env), _work(node.other, env) if node.other is not None else 0)
    if isinstance(node, ir.While):
        return UNKNOWN_TRIPS * max(1, _work(node.body, env))
    return 0 if isinstance(node, (ir.Comment, ir.Decl)) and not touches_memory(node) else 1


# --------------------------------------------------------------------------------------------------
# What a task keeps across its units


def _per_task_state_safe(statements_before: tuple, units: ir.For, fn: _Function, facts: _Facts, outer: set[str],
                         ctx) -> bool:
    """Whether running the prologue (``statements_before`` the unit loop) once per unit computes what
    running it once per task did."""
    body = units.body
    prologue = ir.Block(statements_before)
    scalars, arrays = set(), set()
    for d in statements_before:
        if isinstance(d, ir.Decl):
            (arrays if is_array_decl(d) else scalars).update(v.name for v in d.vars)
    if any(isinstance(n, (ir.Jump, ir.Return, ir.Verbatim, ir.Barrier)) for n in ir.walk(ir.Block(statements_before + (body,)))):
        return False
    if (used_names(body) | used_names(prologue)) & outer:
        return False  # storage of the whole function (a cluster's SRAM): shared between tasks
    if assigned_scalars(body) & scalars:
        return False
    filled = set()
    for s in statements_before:
        if isinstance(s, ir.Decl) and not any(v.init is not None and touches_memory(v.init) for v in s.vars):
            continue
        if isinstance(s, ir.Comment):
            continue
        written = written_roots(s, fn)
        if written is None or not written <= arrays:
            return False
        local = {d.name for d in ir.walk(s) if isinstance(d, ir.Declarator)}
        if assigned_scalars(s) - local:
            return False
        filled |= written
    written_in_body = written_roots(body, fn)
    if written_in_body is None:
        return False
    for s in statements_before:  # what the prologue reads, the units leave alone
        for n in ir.walk(s):
            address = accessed_address(n)
            if address is not None:
                root = fn.root(address)
                if root is None or root in written_in_body or (root in arrays and root not in filled):
                    return False
            if isinstance(n, ir.Call) and not is_pure_call(n):
                return False
    for name in arrays:
        if name in filled:
            if name in written_in_body or not _only_indexed(body, name):
                return False
        elif name in written_in_body or name in used_names(body):
            if not _only_indexed(body, name) or \
                    not _reads_covered(body, name, fn, facts, ctx, ir.Block(statements_before + (units,))):
                return False
    return True


def _only_indexed(node, name: str) -> bool:
    """``name`` appears only as ``name[e]``, or as the target ``((T *)name)[e] = v`` of a plain
    assignment (a store of other bytes, which reads nothing): no address of it escapes."""
    allowed = set()
    for n in ir.walk(node):
        if isinstance(n, ir.Index) and strip_parens(n.base) == ir.Name(name):
            allowed.add(id(strip_parens(n.base)))
        elif isinstance(n, ir.Assign) and n.op == "=" and isinstance(strip_parens(n.target), ir.Index):
            base = strip_parens(strip_parens(n.target).base)
            if isinstance(base, ir.Cast) and strip_parens(base.operand) == ir.Name(name):
                allowed.add(id(strip_parens(base.operand)))
    return all(id(n) in allowed for n in ir.walk(node) if isinstance(n, ir.Name) and n.id == name)


# --------------------------------------------------------------------------------------------------
# Reads covered by earlier writes of the same unit


@dataclass(frozen=True)
class _Box:
    """The elements ``w(c)`` a nest wrote, ``c`` in the box of its counters (none: one element)."""

    counters: tuple
    extents: tuple            # Poly per counter
    index: ir.Expr
    # per extent: the same in every unit (parameters, the task's values)
    invariant: tuple = ()


class _Coverage:
    """Every read ``X[e]`` of a statement list lies in an element an earlier statement wrote."""

    def __init__(self, name: str, fn: _Function, facts: "_Facts", ctx, per_unit: frozenset, task):
        self.name, self.fn, self.ctx, self.stable = name, fn, ctx, facts.stable
        self.atoms = _Atoms(fn.int_names)
        # names a unit declares; the bounds every store into the array in the task is counted below
        self.per_unit = per_unit
        self.store_bounds = _store_bounds(task, name, fn, self.atoms, fn.constants)
        # facts true everywhere: the values of the macros and of the stable integers
        self.known = [z3.Int(macro, ctx) == fn.constants[macro] for macro in fn.int_names - set(fn.declared)
                      if isinstance(fn.constants.get(macro), int)]
        for declared, init in facts.declarations:
            value = self.term(init)
            if value is not None:
                self.known.append(z3.Int(declared, ctx) == value)

    def term(self, e):
        """``e`` as a z3 integer term (C's truncating ``/`` and ``%`` by positive constants), or None."""
        e = strip_parens(e)
        if isinstance(e, ir.Const):
            v = const_value(e, {})
            return z3.IntVal(v, self.ctx) if v is not None else None
        if isinstance(e, ir.Name):
            if e.id in self.fn.constants and e.id not in self.fn.declared:
                return z3.IntVal(self.fn.constants[e.id], self.ctx)
            return z3.Int(e.id, self.ctx) if e.id in self.fn.int_names else None
        if isinstance(e, ir.UnOp) and e.op == "-" and not e.postfix:
            a = self.term(e.operand)
            return None if a is None else -a
        if isinstance(e, ir.Ternary):
            c, a, b = self.condition(e.cond), self.term(e.then), self.term(e.other)
            return None if c is None or a is None or b is None else z3.If(c, a, b)
        if isinstance(e, ir.BinOp) and e.op in ("+", "-", "*", "/", "%"):
            a, b = self.term(e.left), self.term(e.right)
            if a is None or b is None:
                return None
            if e.op in ("+", "-", "*"):
                return a + b if e.op == "+" else a - b if e.op == "-" else a * b
            divisor = const_value(e.right, self.fn.constants)
            if divisor is None or divisor <= 0:
                return None
            quotient = z3.If(a >= 0, a / divisor, -((-a) / divisor))
            return quotient if e.op == "/" else a - quotient * divisor
        return None

    def condition(self, e):
        e = strip_parens(e)
        if isinstance(e, ir.BinOp) and e.op in ("&&", "||"):
            a, b = self.condition(e.left), self.condition(e.right)
            if a is None or b is None:
                return None
            return z3.And(a, b) if e.op == "&&" else z3.Or(a, b)
        if isinstance(e, ir.UnOp) and e.op == "!":
            a = self.condition(e.operand)
            return None if a is None else z3.Not(a)
        if isinstance(e, ir.BinOp) and e.op in ("<", "<=", ">", ">=", "==", "!="):
            a, b = self.term(e.left), self.term(e.right)
            if a is None or b is None:
                return None
            return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}[e.op]
        return None

    # -- the walk ---------------------------------------------------------------------------------
    def block(self, stmts, facts: tuple, boxes: tuple) -> tuple | None:
        """The boxes known after ``stmts`` (a block runs all its statements), or None when a read is
        not covered."""
        for k, s in enumerate(stmts):
            if isinstance(s, ir.Block):
                boxes = self.block(s.body, facts, boxes)
                if boxes is None:
                    return None
                continue
            taken = self.decided(s, facts)
            if taken is not None:   # a branch every unit takes alike (an inlined helper's mode)
                if not self.reads_covered(s.cond, facts, boxes):
                    return None
                branch = s.then if taken else s.other
                boxes = self.block(statements(branch) if branch is not None else [], facts, boxes)
                if boxes is None:
                    return None
                continue
            if not self.statement(s, facts, boxes):
                return None
            box = self.box(s)
            if box is not None:
                boxes = boxes + (box,)
            if isinstance(s, ir.Decl):
                facts = self.shadowing(facts, {v.name for v in s.vars}) + self.chosen(s, stmts[k + 1:])
        return boxes

    def decided(self, s, facts) -> bool | None:
        """For an ``if`` on values the same in every unit: True when its condition always holds, False
        when it never does; else None."""
        if not isinstance(s, ir.If) or used_names(s.cond) - self.stable:
            return None
        c = self.condition(s.cond)
        if c is None:
            return None
        return True if self.proved(facts, [c]) else False if self.proved(facts, [z3.Not(c)]) else None

    def chosen(self, decl: ir.Decl, rest) -> tuple:
        """What is known of an index chosen among loop counters (an argmax: ``int m = 0; for (i = 1; i
        < L; ++i) if (...) m = i;``): ``m`` is its initial value or in the range of a loop whose
        counter it took (every assignment ``m = i`` in that loop, the bounds' names stable)."""
        if len(decl.vars) != 1 or decl.vars[0].init is None or decl.vars[0].name not in self.fn.int_names:
            return ()
        name, init = decl.vars[0].name, decl.vars[0].init
        first = self.term(init)
        if first is None or used_names(init) - self.stable:
            return ()
        options, names = [z3.Int(name, self.ctx) == first], set(used_names(init)) | {name}
        scope = ir.Block(tuple(rest))
        taken = [n for n in ir.walk(scope) if isinstance(n, ir.Assign) and strip_parens(n.target) == ir.Name(name)]
        if any(isinstance(n, ir.UnOp) and n.op in ("++", "--", "&") and strip_parens(n.operand) == ir.Name(name)
               for n in ir.walk(scope)) or name in assigned_scalars(scope) and not taken:
            return ()   # changed another way (or through its address)
        for assign in taken:
            loop = next((n for n in ir.walk(scope) if isinstance(n, ir.For) and n.canonical() is not None and
                         any(m is assign for m in ir.walk(n.body)) and
                         strip_parens(assign.value) == ir.Name(n.canonical()[0])), None)
            if assign.op != "=" or loop is None:
                return ()
            var, start, stop, step = loop.canonical()
            low, high = self.term(start), self.term(stop)
            if low is None or high is None or const_value(step, {}) is None or const_value(step, {}) <= 0 or \
                    var in assigned_scalars(loop.body) or (used_names(start) | used_names(stop)) - self.stable:
                return ()
            value = z3.Int(name, self.ctx)
            options.append(z3.And(low <= value, value < high))
            names |= used_names(start) | used_names(stop)
        return ((frozenset(names), z3.Or(*options)),)

    @staticmethod
    def shadowing(facts, declared):
        return tuple(f for f in facts if not f[0] & declared)

    def statement(self, s, facts, boxes) -> bool:
        if isinstance(s, ir.For):
            parts = [p for p in (s.init, s.cond, s.step) if p is not None]
            if not all(self.reads_covered(p, facts, boxes) for p in parts):
                return False
            canon = s.canonical()
            if canon is not None:
                facts = self.shadowing(facts, {canon[0]})
                var, start, stop, step = canon
                if var in self.fn.int_names and const_value(step, {}) is not None and const_value(step, {}) > 0 \
                        and var not in assigned_scalars(s.body):
                    v, lo, hi = z3.Int(var, self.ctx), self.term(start), self.term(stop)
                    names = frozenset(used_names(start) | used_names(stop) | {var})
                    if lo is not None and hi is not None and not names & (set(assigned_scalars(s.body)) - {var}):
                        facts = facts + ((names, lo <= v), (names, v < hi))
            elif isinstance(s.init, ir.Decl):
                facts = self.shadowing(facts, {v.name for v in s.init.vars})
            return self.block(body_statements(s), facts, boxes) is not None
        if isinstance(s, ir.If):
            if not self.reads_covered(s.cond, facts, boxes):
                return False
            c = self.condition(s.cond)
            names = frozenset(used_names(s.cond))
            stable = not names - self.stable
            then = facts + (((names, c),) if c is not None and stable else ())
            other = facts + (((names, z3.Not(c)),) if c is not None and stable else ())
            return self.block(statements(s.then), then, boxes) is not None and \
                (s.other is None or self.block(statements(s.other), other, boxes) is not None)
        if isinstance(s, ir.While):
            return self.reads_covered(s.cond, facts, boxes) and \
                self.block(statements(s.body), facts, boxes) is not None
        return self.reads_covered(s, facts, boxes)

    def reads_covered(self, node, facts, boxes) -> bool:
        written = {id(strip_parens(n.target)) for n in ir.walk(node) if isinstance(n, ir.Assign) and n.op == "="}
        for n in ir.walk(node):
            if isinstance(n, ir.Index) and strip_parens(n.base) == ir.Name(self.name) and id(n) not in written:
                if not any(self.inside(n.index, box, facts) for box in reversed(boxes)):
                    return False
        return True

    def inside(self, index, box: _Box, facts) -> bool:
        atoms = self.atoms
        e, w = atoms.poly(index), atoms.poly(box.index)
        if e is None or w is None:
            return False
        if not box.counters:
            claims = [atoms.z3(e, self.ctx) == atoms.z3(w, self.ctx)]
        else:
            radix = _radix(box.index, box.counters, box.extents, atoms)
            if radix is None:
                return False
            if self.proved(facts, _in_box(_digits(e, radix), box.extents, atoms, self.ctx)):
                return True
            if radix.offset:
                return False
            # a dense radix (no offset) covers [0, product of the extents) whole, when none is empty.
            # An extent the same in every unit may be assumed positive when every store into the
            # array in the task is in a loop counted from 0 below it: otherwise no unit ever stores
            # into the array, and the source, reading it, reads elements never written (an
            # uninitialised array: no value to keep)
            size = z3.IntVal(1, self.ctx)
            for x in box.extents:
                size = size * atoms.z3(x, self.ctx)
            value = atoms.z3(e, self.ctx)
            claims, assumed = [value >= 0, value < size], []
            for x, invariant in zip(box.extents, box.invariant or (False,) * len(box.extents)):
                (assumed if invariant and _poly_key(x) in self.store_bounds else claims).append(atoms.z3(x, self.ctx) > 0)
            facts = facts + tuple((frozenset(), a) for a in assumed)
        return self.proved(facts, claims)

    def proved(self, facts, claims) -> bool:
        solver = z3.Solver(ctx=self.ctx)
        solver.set("rlimit", PROOF_RLIMIT)
        solver.add(*self.known, *(f for _, f in facts), *self.atom_meanings())
        solver.add(z3.Not(z3.And(*claims)))
        return solver.check() == z3.unsat

    def atom_meanings(self) -> list:
        """What the atoms kept whole (``#(W - 2) / 2``) stand for, where that can be said."""
        out = []
        for key, e in self.atoms.exprs.items():
            if key.startswith("#"):
                t = self.term(e)
                if t is not None:
                    out.append(z3.Int(key, self.ctx) == t)
        return out

    def box(self, s) -> _Box | None:
        """The elements of ``X`` statement ``s`` writes for sure, when it is a nest of counted loops
        around ``X[w] = v`` (or that assignment alone), whose names keep their values."""
        writes = [n for n in ir.walk(s) if isinstance(n, ir.ExprStmt) and isinstance(n.expr, ir.Assign)
                  and n.expr.op == "=" and isinstance(strip_parens(n.expr.target), ir.Index)
                  and strip_parens(strip_parens(n.expr.target).base) == ir.Name(self.name)]
        if not writes or any(isinstance(n, (ir.Jump, ir.Return, ir.Verbatim)) for n in ir.walk(s)):
            return None
        for write in writes:
            index = strip_parens(write.expr.target).index
            if write is s:
                counters, extents = (), ()
            else:
                chain = _box_chain(s, write) or _tiled_chain(s, write, self.fn.constants)
                if chain is None:
                    continue
                counters, extents, *tiled = chain
                if tiled:
                    self.atoms.int_names = self.atoms.int_names | set(counters)
                    index = substitute(index, tiled[0])
                    stored = self.atoms.poly(index)
                    if stored is None or any(used_names(self.atoms.exprs[a]) & tiled[1] for mono in stored for a in mono):
                        continue   # an element's counter not only in tile + element
                    index = self.atoms.expr(stored)
            polys = tuple(self.atoms.poly(x) for x in extents)
            names = used_names(index) | {n for x in extents for n in used_names(x)}
            if None in polys or (names - set(counters)) - self.stable or touches_memory(index):
                continue
            extent_names = [used_names(x) for x in extents]
            return _Box(tuple(counters), polys, index, tuple(not n & (self.per_unit | set(counters)) for n in extent_names))
        return None


def _store_bounds(task, name: str, fn: _Function, atoms: _Atoms, constants: dict) -> frozenset:
    """The bounds ``n`` (as polynomial keys) such that every store into ``name`` in ``task`` lies in a
    loop ``for (v = c; v < n; v += s)``, ``c >= 0`` and ``s > 0`` constants, ``v`` left alone; none
    for an array declared with values (its elements are written without a store)."""
    if any(isinstance(n, ir.Declarator) and n.name == name and (n.init is not None or n.ctor_args is not None)
           for n in ir.walk(task)):
        return frozenset()
    common = None

    def walk(node, bounds: frozenset):
        nonlocal common
        if isinstance(node, ir.For):
            for part in (node.init, node.cond, node.step):
                walk(part, bounds)
            canon = node.canonical()
            if canon is not None and canon[0] not in assigned_scalars(node.body):
                start, step = const_value(canon[1], constants), const_value(canon[3], constants)
                stop = atoms.poly(canon[2])
                if start is not None and start >= 0 and step is not None and step > 0 and stop is not None:
                    bounds = bounds | {_poly_key(stop)}
            walk(node.body, bounds)
            return
        address = written_address(node)
        if address is not None and fn.root(address) == name:
            common = bounds if common is None else common & bounds
        for child in ir.children(node):
            walk(child, bounds)
    walk(task, frozenset())
    return common or frozenset()


def _poly_key(p) -> frozenset:
    return frozenset(p.items())


def _tiled_chain(stmt, write, constants: dict) -> tuple[list, list, dict, set] | None:
    """Like :func:`_box_chain`, where a loop over tiles and the loop over a tile's elements count one
    element: ``for (t = 0; t < N; t += S) { int n = N - t < S ? N - t : S; ... for (i = 0; i < n;
    ++i) ... }`` (``S`` a positive constant, ``N`` not changed) walks ``c = t + i`` over ``[0, N)``, each
    once: the counters (``c`` for ``i``, none for ``t``), their extents, ``t -> c - i`` and the ``i``
    (which must then be gone from the stored index)."""
    counters, extents, tiles, whole, inner = [], [], {}, {}, set()
    taken = used_names(stmt) | declared_names(stmt)
    s = stmt
    while True:
        canon = s.canonical() if isinstance(s, ir.For) else None
        if canon is None or not isinstance(s.init, ir.Decl) or canon[0] in assigned_scalars(s.body):
            return None
        var, start, stop, step = canon
        body = body_statements(s)
        size = const_value(step, constants)
        if const_value(start, constants) != 0 or size is None or size <= 0:
            return None
        if size == 1 and isinstance(strip_parens(stop), ir.Name) and strip_parens(stop).id in tiles:
            tile, extent = tiles.pop(strip_parens(stop).id)
            element = fresh(var, taken)
            counters.append(element)
            extents.append(extent)
            whole[tile] = ir.Paren(ir.BinOp("-", ir.Name(element), ir.Name(var)))
            inner.add(var)
        elif size == 1:
            counters.append(var)
            extents.append(stop)
        else:
            n = _tile_size(body, var, stop, size, constants)
            if n is None or used_names(stop) & assigned_scalars(s.body):
                return None
            tiles[n] = (var, stop)
        if any(b is write for b in body):
            break
        holding = [b for b in body if any(n is write for n in ir.walk(b))]
        if len(holding) != 1:
            return None
        s = holding[0]
    if tiles or not whole:
        return None
    return counters, extents, whole, inner


def _tile_size(body, var: str, stop, size: int, constants: dict) -> str | None:
    """``n`` of a tile loop's first statement ``int n = N - t < S ? N - t : S`` (never assigned)."""
    first = next((b for b in body if not isinstance(b, ir.Comment)), None)
    if not isinstance(first, ir.Decl) or len(first.vars) != 1 or first.vars[0].init is None:
        return None
    n, init = first.vars[0].name, strip_parens(first.vars[0].init)
    rest = ir.Block(tuple(b for b in body if b is not first))
    left = ir.BinOp("-", strip_parens(stop), ir.Name(var))
    if n in assigned_scalars(rest) or not isinstance(init, ir.Ternary):
        return None
    cond = strip_parens(init.cond)
    if isinstance(cond, ir.BinOp) and cond.op in ("<", "<=") and _same(cond.left, left) and \
            const_value(cond.right, constants) == size and _same(init.then, left) and \
            const_value(init.other, constants) == size:
        return n
    return None


def _same(a, b) -> bool:
    return ir.rewrite(a, strip_parens) == ir.rewrite(b, strip_parens)


@dataclass(frozen=True)
class _Facts:
    """What holds everywhere in a function: which integers keep one value wherever they are in scope
    (declared once, a loop counter in its header, and never assigned elsewhere; macros), and the
    values of those declared with an initialiser (not loop counters: theirs is the first value)."""

    stable: frozenset
    declarations: tuple        # (name, initialiser)

    @classmethod
    def of(cls, f: ir.Function, fn: _Function) -> "_Facts":
        assigned = assigned_outside_headers(f.body)
        stable = frozenset(n for n in fn.int_names if fn.declared[n] <= 1 and n not in assigned)
        counters = {v.name for n in ir.walk(f.body) if isinstance(n, ir.For) and isinstance(n.init, ir.Decl)
                    for v in n.init.vars}
        return cls(stable, tuple((name, d.init) for name, d in fn.locals.items()
                                 if name in stable and name not in counters and d.init is not None and not d.dims
                                 and used_names(d.init) <= stable))


def _reads_covered(body, name: str, fn: _Function, facts: _Facts, ctx, task) -> bool:
    """Whether every read of ``name`` in a unit's ``body`` lies in what the unit stored before
    (``task``: the task's statements, where the array lives)."""
    coverage = _Coverage(name, fn, facts, ctx, frozenset(declared_names(body)), task)
    return coverage.block(statements(body), (), ()) is not None


# --------------------------------------------------------------------------------------------------
# The rewrite


def _flattened(nest: _TaskNest, declared_outside: set[str]) -> list | None:
    """``[hoisted declarations..., for (int u = 0; u < n; u += c) {...}]``."""
    dx, dy, dz = nest.tasks
    count = dx * dy * dz
    form = nest.form
    task_vars = {"taskIdX", "taskIdY", "taskIdZ"}
    # prologue scalars computed from neither the task nor memory, never assigned in the task: before
    # the loop (the loop's bound may use them)
    # (before the first early exit: a later one may divide by what the exit rules out)
    hoisted, kept, varying = [], [], set(task_vars)
    assigned = assigned_scalars(ir.Block(nest.prologue + (nest.units,)))
    first_exit = nest.exits[0][0] if nest.exits else len(nest.prologue)
    for position, s in enumerate(nest.prologue):
        if isinstance(s, ir.Decl) and not is_array_decl(s) and not touches_memory(s) and position < first_exit and \
                not used_names(s) & varying and not {v.name for v in s.vars} & (assigned | declared_outside):
            hoisted.append(s)
        else:
            kept.append((position, s))
            if isinstance(s, ir.Decl):
                varying |= {v.name for v in s.vars}
    if isinstance(form, _Cyclic) and used_names(nest.stop) & varying:
        return None
    if isinstance(form, _Ranges):
        kept = _without_task(kept, nest.units)
        bounds = used_names(ir.Block((ir.ExprStmt(form.low), ir.ExprStmt(form.high))))
        hoisted_names = {v.name for d in hoisted for v in d.vars}
        if kept is None or bounds & (declared_names(ir.Block(nest.prologue)) - hoisted_names):
            return None
    var = nest.var
    if any(isinstance(s, ir.Decl) and var in {v.name for v in s.vars} for _, s in kept):
        return None  # the prologue declares the unit's name for the units: another variable
    task = ir.Block(nest.prologue + (nest.units,))
    taken = used_names(task) | declared_names(task)
    # the loop's variable: the unit itself, or (collapsed) the pair of task and trip
    loop_var = fresh("unit", taken) if isinstance(form, _Collapsed) else var
    taken.add(loop_var)
    index = ir.Name(loop_var)
    if isinstance(form, _Cyclic):
        linear = ir.Paren(ir.BinOp("%", _over(index, form.scale), const(count)))
        stop, step = nest.stop, form.scale
    elif isinstance(form, _Blocked):
        linear, stop, step = _over(index, form.length), const(form.end), form.step
    elif isinstance(form, _Collapsed):
        linear, stop, step = _over(index, form.trips), const(count * form.trips), 1
    else:   # ranges: the unit's task is not known (and not asked for)
        linear, stop, step = None, form.high, 1
    ids = [] if linear is None else [("taskIdX", linear if dx == count else ir.BinOp("%", linear, const(dx))),
           ("taskIdY", const(0) if dy == 1 else ir.BinOp("%", ir.BinOp("/", linear, const(dx)), const(dy))),
           ("taskIdZ", const(0) if dz == 1 else ir.BinOp("/", linear, const(dx * dy)))]
    ids = [ir.Decl((ir.Declarator(name, U, (), value if isinstance(value, ir.Const) else
                                  ir.Cast(U, ir.Paren(strip_parens(value)))),)) for name, value in ids]
    # a prologue loop's own counter may be the loop's or the unit's name: it gets another (the loop's
    # body must not assign its variable; the unit, declared in the body, is then declared once)
    for name in dict.fromkeys((loop_var, var)):
        kept = [(p, rename(s, {name: fresh(name, taken)})) if not isinstance(s, ir.Decl) and
                name in declared_names(s) else (p, s) for p, s in kept]
    units = statements(nest.units.body)
    if isinstance(form, _Collapsed):
        # the task's k-th unit, run when below the task's own bound
        _, start, _, unit_step = nest.units.canonical()
        value = _kth_unit(ir.BinOp("%", index, const(form.trips)), start, unit_step)
        unit = replace(nest.units.init, vars=tuple(replace(v, init=value) for v in nest.units.init.vars))
        if form.guarded:
            units = [ir.If(ir.BinOp("<", ir.Name(var), ir.Paren(nest.stop)), ir.Block(tuple(units)))]
        units = [unit] + units
    first = form.low if isinstance(form, _Ranges) else const(0)
    init = ir.Decl((ir.Declarator(loop_var, nest.units.init.vars[0].type, (), const(0)),)) \
        if isinstance(form, _Collapsed) else \
        replace(nest.units.init, vars=tuple(replace(v, init=first) for v in nest.units.init.vars))
    # the rest of the task after an early exit runs when its condition is false
    body = units
    marks = sorted([(p, 1, s) for p, s in kept] + [(p, 0, c) for p, c in nest.exits], key=lambda m: m[:2])
    for _, is_stmt, item in reversed(marks):
        body = [item] + body if is_stmt else [ir.If(ir.UnOp("!", ir.Paren(item)), ir.Block(tuple(body)))]
    body = ids + body
    # the units are independent (proved before this loop is kept): a loop of the kernel's blocks
    loop = replace(nest.units, init=init, cond=ir.BinOp("<", index, stop),
                   step=ir.UnOp("++", index, postfix=False) if step == 1 else ir.Assign(index, "+=", const(step)),
                   body=ir.Block(tuple(body)), kind="blocks")
    return hoisted + [loop]


def _without_task(kept: list, units: ir.For) -> list | None:
    """The kept prologue statements without the task's own scalars (its ids, the bounds of its range)
    where nothing else reads them; None when something does (the units' task is not known)."""
    varying = {"taskIdX", "taskIdY", "taskIdZ"}
    for _, s in kept:
        if isinstance(s, ir.Decl) and not is_array_decl(s) and used_names(s) & varying:
            varying |= {v.name for v in s.vars}
    while True:
        read = used_names(units.body)
        for _, s in kept:
            read |= {n for v in s.vars for n in used_names(v)} - {v.name for v in s.vars} \
                if isinstance(s, ir.Decl) else used_names(s)
        dead = [(p, s) for p, s in kept if isinstance(s, ir.Decl) and not is_array_decl(s) and
                {v.name for v in s.vars} <= varying and not {v.name for v in s.vars} & read and
                not touches_memory(s)]
        if not dead:
            break
        kept = [m for m in kept if m not in dead]
    return None if used_names(ir.Block(tuple(s for _, s in kept) + (units.body,))) & varying else kept


def _kth_unit(k, start, step):
    """``start + k * step``: the ``k``-th value of a loop's variable (no ``0 +``, no ``* 1``)."""
    wrap = lambda e: ir.Paren(e) if isinstance(e, (ir.BinOp, ir.Ternary)) else e
    offset = k if const_value(step, {}) == 1 else ir.BinOp("*", wrap(k), wrap(step))
    return offset if const_value(start, {}) == 0 else ir.BinOp("+", wrap(start), offset)


def _over(index, divisor: int):
    return index if divisor == 1 else ir.BinOp("/", index, const(divisor))


def _inner_units(loop: ir.For, env: dict, fn: _Function, facts: _Facts, outer: set[str], ctx) -> ir.For | None:
    """A loop over units ``for (u = 0; u < U; ++u) { prologue...; for (v = a; v < b; v += s) body }``
    whose last loop has bounds of its own (none from the unit, its prologue or its body): one loop
    over the pairs ``(u, k)``, ``k`` below the inner loop's trips ``T = (b - a + s - 1) / s``, under
    the same conditions as the units of tasks (the prologue light and nothing carried from one
    iteration of the inner loop to the next), when the inner loop is one of tiles (its body has
    loops of its own). A unit of bmm (a batch, a column tile) walks its row tiles: the row tiles
    become units too."""
    canonical = loop.canonical()
    stmts = [x for x in statements(loop.body) if not isinstance(x, ir.Comment)]
    if canonical is None or const_value(canonical[1], {}) != 0 or const_value(canonical[3], {}) != 1 or \
            not stmts or not isinstance(stmts[-1], ir.For) or stmts[-1].canonical() is None or \
            not isinstance(stmts[-1].init, ir.Decl):
        return None
    inner, prologue = stmts[-1], tuple(stmts[:-1])
    if not any(isinstance(n, ir.For) for n in ir.walk(inner.body)):
        return None   # a loop over elements: they stay the unit's (on a GPU, a block's threads)
    var, start, stop, step = inner.canonical()
    stride = const_value(step, env)
    header = used_names(ir.Block((ir.ExprStmt(start), ir.ExprStmt(stop))))
    declared = {d.name for x in prologue for d in ir.walk(x) if isinstance(d, ir.Declarator)}
    if stride is None or stride <= 0 or header & (declared | {canonical[0], var}) or \
            header & assigned_scalars(loop.body):
        return None
    if not _prologue_is_light(prologue, inner, env) or not _per_task_state_safe(prologue, inner, fn, facts, outer, ctx):
        return None
    taken = used_names(loop) | declared_names(loop)
    pair = ir.Name(fresh(canonical[0], taken))
    span = ir.BinOp("-", ir.Paren(stop), ir.Paren(start)) if const_value(start, {}) != 0 else stop
    trips = ir.Paren(ir.BinOp("/", ir.BinOp("+", ir.Paren(span), const(stride - 1)), const(stride))) \
        if stride != 1 else ir.Paren(span)
    units = ir.Paren(canonical[2])
    count = ir.Ternary(ir.BinOp(">", trips, const(0)), ir.BinOp("*", units, trips), const(0))
    value = _kth_unit(ir.BinOp("%", pair, trips), start, const(stride))
    unit_decl = replace(loop.init, vars=tuple(replace(v, init=ir.BinOp("/", pair, trips)) for v in loop.init.vars))
    inner_decl = replace(inner.init, vars=tuple(replace(v, init=value) for v in inner.init.vars))
    body = [unit_decl] + list(prologue) + [inner_decl] + list(statements(inner.body))
    return replace(loop, init=ir.Decl((ir.Declarator(pair.id, loop.init.vars[0].type, (), const(0)),)),
                   cond=ir.BinOp("<", pair, ir.Paren(count)), step=ir.UnOp("++", pair, postfix=False),
                   body=ir.Block(tuple(body)))


def _independent(flat: list, module: ir.Module, f: ir.Function, env: dict) -> bool:
    from xpiler.ir.dependence import function_env, is_parallel
    return is_parallel(flat[-1], constants=env, delinearize=True,
                       env=function_env(module, replace(f, body=ir.Block(tuple(flat)))))


def _forwarded(flat: list, f: ir.Function, macros: frozenset, constants: dict) -> ir.For:
    """The loop of units with the copies through its small local arrays forwarded too."""
    body = forward_copies(replace(f, body=ir.Block(tuple(flat))), macros, constants, larger_than=0)
    return body.body[-1]


def task_units(module: ir.Module, f: ir.Function, launch: dict, constants: dict, macros: frozenset) -> ir.Block:
    """``f``'s body with its task nests flattened where that is exact and the units independent."""
    env = dict(constants, **launch)
    env.update(_constant_locals(f.body, env))
    ctx = z3.Context()
    fn = _Function(f, macros, constants, 0)
    facts = _Facts.of(f, fn)
    top = f.body.body
    outer = {v.name for s in top if isinstance(s, ir.Decl) and is_array_decl(s) for v in s.vars}
    declared_outside = {v.name for s in top if isinstance(s, ir.Decl) for v in s.vars} | {p.name for p in f.params}
    out, changed = [], False
    for s in top:
        nest = _task_nest(s, launch, env, fn.int_names)
        if nest is not None:
            # what a task kept loaded for its next unit, loaded by every unit
            reloaded = without_memos(nest.prologue, nest.units, fn)
            if reloaded is not None:
                nest = replace(nest, prologue=reloaded[0], units=reloaded[1])
            # and its rows (``float *s = s_blk + i * L``) read through their arrays, whose reads the
            # checks follow
            nest = replace(nest, units=views_as_subscripts(nest.units, fn))
        flat = None
        if nest is not None and _prologue_is_light(nest.prologue, nest.units, env) and \
                _per_task_state_safe(nest.prologue, nest.units, fn, facts, outer, ctx):
            flat = _flattened(nest, declared_outside)
        if flat is not None and not _independent(flat, module, f, env):
            # a unit's result staged in a small buffer and then stored (mha's o_blk): stored in place,
            # the stores are the unit's own rows, which the analysis can follow
            flat = flat[:-1] + [_forwarded(flat, f, macros, constants)]
            if not _independent(flat, module, f, env):
                flat = None
        if flat is None:
            out.append(s)
            continue
        # the units' own loop of row tiles (say) joins them where that is exact and independent
        while True:
            pairs = _inner_units(flat[-1], env, fn, facts, outer, ctx)
            if pairs is None or not _independent(flat[:-1] + [pairs], module, f, env):
                break
            flat = flat[:-1] + [pairs]
        out += flat
        declared_outside |= {v.name for d in flat[:-1] for v in d.vars}
        changed = True
    return ir.Block(tuple(out)) if changed else f.body


@register
@dataclass(frozen=True)
class TaskUnits(ModulePass):
    """Units of work dealt to a lowered BANG kernel's tasks (in turn, in blocks, counted per task, or
    in ranges sized at run time) become one loop over the units (see the module)."""

    name: ClassVar[str] = "task-units"
    summary: ClassVar[str] = "a BANG kernel's units of work dealt to its tasks become one loop over the units"

    def apply(self, module: ir.Module) -> ir.Module:
        constants, macros = module_constants(module), int_macros(module)

        def body(f: ir.Function) -> ir.Block:
            launch = _launch(module, f, constants)
            return f.body if launch is None else task_units(module, f, launch, constants, macros)
        return map_function_bodies(module, body)
