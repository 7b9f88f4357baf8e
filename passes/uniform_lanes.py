"""Lanes that compute the same thing, run once: warp-level code lowered per lane, on the CPU.

A warp-level operation lowered to C is written per lane. WMMA's ``load_matrix_sync`` /
``mma_sync`` / ``store_matrix_sync`` become loops over the whole 16x16 tile in every lane, so the 32
lanes of a warp load, multiply and store the same tile 32 times, each writing the same values to the
same places. On a GPU that costs nothing (the lanes run together); run as a CPU loop over lanes it is
32 times the work.

A thread loop over ``x`` (a phase of a kernel split at barriers, or the SIMD loop over the joined global
index) whose body depends on ``x`` only through ``x / W`` computes the same values in every lane of a
*group* ``[k W, (k + 1) W)``. The groups' first lanes, the *leaders*, then do the work of all:

* **uniform part.** The body's leading statements ``S1`` are *uniform* when, with every ``x / W``
  and every read of a uniform per-thread array at the thread's slot (below) taken as one value per
  group, nothing in them names ``x``, the slot or a lane's own value (``int lane = x % 32;`` is a
  lane's value: a scalar declaration, no effect). With ``W`` None the group is the whole axis: the
  body does not use ``x`` at all.
* **idempotent.** No lane reads a location another lane of its group writes in ``S1``
  (:func:`group_safe` asks the dependence analysis, ``xpiler.ir.dependence``, with the two symbolic
  iterations in one group). Then each lane's ``S1`` reads what its leader's read, computes the same
  values and writes them again: running ``S1`` once per group leaves memory as ``W`` runs did.
* **the rest.** A body may go on per lane after ``S1`` (``S2``: each lane storing its share of a
  tile ``S1`` staged in shared memory). The loop becomes ``S1`` for the leaders, then ``S2`` for every
  lane (scalar declarations of ``S1`` that ``S2`` uses copied in front of it). Exact when no ``S2`` of
  a lane writes what ``S1`` of another lane of its group touches (a later lane's ``S1`` would then not
  repeat the first one's), and no ``S2`` of a lane depends on the ``S1`` of a lane of a later group
  (which now runs first).
* **per-thread arrays** of a kernel split at barriers (``float acc[__nthreads][256]``, one slot per
  thread, ``acc[__tid]``) are *uniform* when every write to them is in a uniform part at the thread's
  own slot: then every lane of a group holds the leader's values, and a read anywhere else reads the
  leader's slot, ``acc[__tid - x % W]``. Found as a fixed point (an array written outside a uniform
  part is not uniform, which may end other uniform parts earlier).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from xpiler import ir
from xpiler.ir.analysis import is_name, statements, strip_parens
from xpiler.ir.effects import assigned_scalars, is_array_decl, touches_memory, used_names

from .loop_split import statements_outside_loops

SLOT = "__tid"          # a thread's slot in the per-thread arrays of a kernel split at barriers
COUNT = "__nthreads"    # their first extent
ZERO = ir.Const("0", 0)


@dataclass(frozen=True)
class Grouping:
    """Lanes ``x`` grouped by ``x / width`` (``width`` None: all of them one group); ``arrays``: the
    uniform per-thread arrays, indexed by ``slot``."""

    var: str
    width: int | None
    slot: str = SLOT
    arrays: frozenset = frozenset()


@dataclass(frozen=True)
class Split:
    """A loop body as its uniform part ``body[:k]`` and the per-lane rest, which needs ``decls``
    (scalar declarations of the uniform part) in front of it."""

    k: int
    decls: tuple


def _group_index(e, var: str) -> int | None:
    """``W`` of ``x / W`` (``x`` possibly cast), else None."""
    e = strip_parens(e)
    if isinstance(e, ir.BinOp) and e.op == "/" and is_name(e.left, var):
        right = strip_parens(e.right)
        if isinstance(right, ir.Const) and isinstance(right.value, int) and right.value >= 2:
            return right.value
    return None


def group_widths(node, var: str) -> set[int]:
    """The ``W`` of every ``x / W`` under ``node``."""
    return {w for n in ir.walk(node) if isinstance(n, ir.Expr) for w in [_group_index(n, var)] if w}


def _hidden(node, g: Grouping):
    """``node`` with each group index and each uniform array's slot replaced by a constant: what is
    left of the lane."""
    def fn(n):
        if isinstance(n, ir.Expr) and g.width is not None and _group_index(n, g.var) == g.width:
            return ZERO
        if isinstance(n, ir.Index) and _slot_access(n, g):
            return replace(n, index=ZERO)
        return n
    return ir.rewrite(node, fn)


def _slot_access(n: ir.Index, g: Grouping) -> bool:
    base = strip_parens(n.base)
    return isinstance(base, ir.Name) and base.id in g.arrays and strip_parens(n.index) == ir.Name(g.slot)


def _pure_scalar(s) -> bool:
    return isinstance(s, ir.Decl) and not is_array_decl(s) and not touches_memory(s)


def uniform_split(body: list, g: Grouping) -> Split | None:
    """The uniform part of a lane loop's ``body`` (see the module) and what the rest needs of it;
    None when the part does no work or the rest needs more of it than scalar declarations."""
    lane = {g.var, g.slot}
    k = 0
    for s in body:
        if used_names(_hidden(s, g)) & lane:
            if not _pure_scalar(s):
                break
            lane |= {v.name for v in s.vars}   # a lane's own value, declared: not an effect
        k += 1
    while k and isinstance(body[k - 1], ir.Pragma):   # a pragma stays with the statement it is for
        k -= 1
    uniform, rest = body[:k], body[k:]
    # worth a loop of its own only with a loop in it (a tile): a lane's few statements are cheaper
    # run by every lane of a SIMD loop than their results read back from the leader's slot
    if not any(isinstance(n, (ir.For, ir.While)) for s in uniform for n in ir.walk(s)):
        return None
    # a `break` / `continue` of the lane loop would leave the leaders' loop, not the lanes'
    if any(isinstance(n, ir.Jump) for s in uniform for n in statements_outside_loops(s)):
        return None
    declared = {v.name: s for s in uniform if isinstance(s, ir.Decl) for v in s.vars}
    changed = assigned_scalars(ir.Block(tuple(uniform)))
    needed, todo = set(), list(used_names(ir.Block(tuple(rest))) & set(declared))
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        decl = declared[name]
        if not _pure_scalar(decl) or name in changed:
            return None
        needed.add(name)
        todo += list(used_names(decl) & set(declared))
    decls = tuple(s for s in uniform if isinstance(s, ir.Decl) and {v.name for v in s.vars} & needed)
    return Split(k, decls)


def group_safe(loop: ir.For, g: Grouping, split: Split, *, constants: dict, env) -> bool:
    """Whether running ``loop``'s uniform part once per group, then its rest for every lane, leaves
    memory as the loop did (the conditions of the module, asked of the dependence analysis)."""
    import z3

    from xpiler.ir.dependence import LoopAccesses, Obstacle

    k, width = split.k, g.width
    try:
        accesses = LoopAccesses(loop, constants=constants, env=env)
        accesses.check_structure()
        if accesses.scalar_writes:
            return False
        var = accesses.var

        def same_group(v1, v2):
            x1, x2 = v1[var], v2[var]
            return z3.And(x1 != x2, x1 / width == x2 / width) if width else x1 != x2

        def later_group(v1, v2):   # the second iteration in a group after the first's
            x1, x2 = v1[var], v2[var]
            return z3.And(x1 < x2, x1 / width != x2 / width)

        uniform = lambda a: a.stmt < k   # noqa: E731
        queries = [
            (same_group, lambda a, b: uniform(a) and uniform(b) and a.write and not b.write),
            (same_group, lambda a, b: not uniform(a) and a.write and uniform(b)),
        ]
        if width:
            queries.append((later_group, lambda a, b: not uniform(a) and uniform(b)))
        return all(accesses.conflict(relation, pairs) is None for relation, pairs in queries)
    except Obstacle:
        return False


def leader_loop(loop: ir.For, g: Grouping, body: list) -> ir.For:
    """``loop`` (``for (int x = 0; x < n; ++x)``) over the groups' leaders, with ``body`` (a loop of
    kind ``groups``)."""
    var, _, stop, _ = loop.canonical()
    step = ir.Const(str(g.width), g.width) if g.width else stop
    return replace(loop, step=ir.Assign(ir.Name(var), "+=", step), body=ir.Block(tuple(body)), kind="groups")


def group_indices(node, g: Grouping, index: ir.Expr):
    """``node`` with every group index ``x / W`` replaced by ``index``."""
    return ir.rewrite(node, lambda n: index if isinstance(n, ir.Expr) and _group_index(n, g.var) == g.width else n)


def leader_slots(node, g: Grouping):
    """``node`` reading each uniform array at its group leader's slot: ``a[__tid - x % W]``."""
    x = ir.Cast(ir.Type("unsigned"), ir.Name(g.var))
    offset = ir.BinOp("%", x, ir.Const(str(g.width), g.width)) if g.width else x
    lead = ir.BinOp("-", ir.Name(g.slot), offset)

    def fn(n):
        return replace(n, index=lead) if isinstance(n, ir.Index) and _slot_access(n, g) else n
    return ir.rewrite(node, fn)


# ---- kernels split at barriers -------------------------------------------------------------------
def per_thread_arrays(body: ir.Block, slot: str = SLOT) -> frozenset:
    """Arrays declared ``T a[__nthreads]...`` in ``body`` and used only as ``a[__tid]...``."""
    declared = {v.name for n in statements(body) if isinstance(n, ir.Decl) for v in n.vars
                if v.dims and v.dims[0] == ir.Name(COUNT)}
    uses = {name: 0 for name in declared}
    slots = dict(uses)
    for n in ir.walk(body):
        if isinstance(n, ir.Name) and n.id in uses:
            uses[n.id] += 1
        elif isinstance(n, ir.Index) and isinstance(strip_parens(n.base), ir.Name) and \
                strip_parens(n.base).id in slots and strip_parens(n.index) == ir.Name(slot):
            slots[strip_parens(n.base).id] += 1
    return frozenset(name for name in declared if uses[name] == slots[name])


def leader_phases(body: ir.Block, var: str, safe) -> ir.Block:
    """``body`` (a block's phases, each an ``omp simd`` loop over ``var``) with the uniform part of
    each phase run by the groups' leaders (a loop of kind ``groups``) and the per-lane rest as it was,
    uniform per-thread arrays read at the leader's slot. ``safe(loop, grouping, split)`` is
    :func:`group_safe` for the kernel."""
    phases = [loop for n in ir.walk(body) if isinstance(n, ir.Block)
              for pragma, loop in zip(n.body, n.body[1:]) if _simd_loop_over(pragma, loop, var)]
    if not phases:
        return body
    widths = group_widths(body, var)
    if len(widths) > 1:
        return body
    g = Grouping(var, next(iter(widths)) if widths else None, SLOT, per_thread_arrays(body))
    answers: dict = {}
    while True:
        splits = {}
        for loop in phases:
            split = uniform_split(statements(loop.body), g)
            if split is not None:
                key = (id(loop), split.k)
                if key not in answers:
                    answers[key] = safe(loop, g, split)
                if answers[key]:
                    splits[id(loop)] = split
        outside = _written_outside(body, splits, g.arrays)
        if not outside:
            break
        g = replace(g, arrays=g.arrays - outside)
    if not splits:
        return body
    return _rewrite_phases(body, var, splits, g)


def _simd_loop_over(pragma, loop, var: str) -> bool:
    return isinstance(pragma, ir.Pragma) and pragma.text == "omp simd" and isinstance(loop, ir.For) and \
        loop.canonical() is not None and loop.canonical()[0] == var


def _written_outside(body, splits: dict, arrays: frozenset) -> frozenset:
    """The arrays of ``arrays`` written somewhere other than a uniform part."""
    def visit(n, out: set):
        if isinstance(n, ir.For) and id(n) in splits:
            for s in statements(n.body)[splits[id(n)].k:]:
                visit(s, out)
            return
        if isinstance(n, ir.Assign) or (isinstance(n, ir.UnOp) and n.op in ("++", "--")):
            target = n.target if isinstance(n, ir.Assign) else n.operand
            while isinstance(strip_parens(target), ir.Index):
                target = strip_parens(target).base
            if isinstance(strip_parens(target), ir.Name) and strip_parens(target).id in arrays:
                out.add(strip_parens(target).id)
        for c in ir.children(n):
            visit(c, out)
    found: set = set()
    visit(body, found)
    return frozenset(found)


def _rewrite_phases(body, var: str, splits: dict, g: Grouping):
    def fn(n):
        if not isinstance(n, ir.Block):
            return n
        out, items, i = [], list(n.body), 0
        while i < len(items):
            s = items[i]
            loop = items[i + 1] if i + 1 < len(items) else None
            if isinstance(loop, ir.For) and id(loop) in splits and _simd_loop_over(s, loop, var):
                split, stmts = splits[id(loop)], statements(loop.body)
                out.append(leader_loop(loop, g, stmts[:split.k]))
                if split.k < len(stmts):
                    rest = list(split.decls) + [leader_slots(r, g) for r in stmts[split.k:]]
                    out += [s, replace(loop, body=ir.Block(tuple(rest)))]
                i += 2
                continue
            out.append(_redirect(s, var, g))
            i += 1
        return replace(n, body=tuple(out))
    return _top_down(body, fn)


def _redirect(node, var, g):
    """Phases not split read uniform arrays at the leader's slot (the loop over ``var`` they are in)."""
    if isinstance(node, ir.For) and node.canonical() is not None and node.canonical()[0] == var:
        return leader_slots(node, g)
    return node


def _top_down(node, fn):
    """``fn`` on every block, outermost first, and on into the blocks of its result (``fn`` sees the
    original loops: the split ones are recognised by identity)."""
    node = fn(node) if isinstance(node, ir.Block) else node
    if isinstance(node, ir.For) and node.kind == "groups":
        return node
    return ir.map_children(node, lambda c: _top_down(c, fn) if isinstance(c, ir.Stmt) else c)
