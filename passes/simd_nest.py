"""SIMD nests for the CPU: a recovered block x thread chain made vectorisable.

``bind{target=vnni}`` runs a parallel nest as one OpenMP loop. A recovered SIMT chain (``blockIdx_z,
y, x, threadIdx_z, y, x``) collapsed that way decodes six indices per element and never vectorises.
:func:`simd_chain` rewrites the chain, exactly:

* **join** (loopy's ``join_inames``, TVM's ``fuse``): a block loop and the thread loop of its axis,
  whose variables the body uses only as ``b * T + t`` (``T`` the thread loop's extent), become one
  loop over the axis's global index ``g``, and ``b * T + t`` becomes ``(unsigned)g``;
* **order**: the block loops that were not joined first, then the axes z, y, x. Every loop of the
  chain is parallel and no bound depends on another loop of it, so any order is legal;
* **guard to bound**: the innermost loop's body ``if (x < E && c) S``, where ``x`` is the loop's
  counter (or a signed copy of it) and ``E`` a signed expression the loop does not change, becomes
  the bound ``min(n, E)``; conjuncts and scalar declarations that do not depend on the counter move
  in front of the loop (a ``return`` of the source, ``if (x >= E) goto next_thread;``, is read as
  the same guard);
* the innermost loop gets ``#pragma omp simd``, the loops around it ``omp parallel for``.

The new loops count with ``int``: gcc vectorises those, while an ``unsigned`` counter may wrap and
its addresses are then not affine. That needs every extent, joined ones included, to fit in an
``int``, which :func:`simd_chain` checks at run time: the original nest runs when they do not.
"""

from __future__ import annotations

from dataclasses import replace

from xpiler import ir
from xpiler.ir.analysis import (as_division, conjunction, conjuncts, flat_statements, is_name, only_subscripts,
                                 statements, strip_parens)
from xpiler.ir.effects import assigned_scalars, is_array_decl, touches_memory, used_names

from .delinearize import delinearized
from .lane_ranges import wide_slots
from .loop_split import statements_outside_loops
from .simd_sink import WIDTH as STRIP, group_width, in_groups, sink, strip_loop
from .uniform_lanes import Grouping, group_indices, group_widths, leader_phases, uniform_split

INT = ir.Type("int")
UNSIGNED = ir.Type("unsigned")
ULL = ir.Type("unsigned long long")
INT_MAX = 2147483647
AXES = ("z", "y", "x")


def _c(v: int) -> ir.Const:
    return ir.Const(str(v), v)


def _p(e: ir.Expr) -> ir.Expr:
    return e if isinstance(e, (ir.Name, ir.Const, ir.Paren, ir.Member, ir.Call, ir.Index)) else ir.Paren(e)


def _axis(loop: ir.For, kind: str) -> str | None:
    var = loop.canonical()[0]
    prefix = "blockIdx_" if kind == "blocks" else "threadIdx_"
    if loop.kind == kind and var.startswith(prefix) and var[len(prefix):] in AXES:
        return var[len(prefix):]
    return None



# ---- join ------------------------------------------------------------------------------------------
def _counter(e, name: str) -> bool | None:
    """True for ``name``, False for ``(int)name`` (an unsigned counter read as an int), else None."""
    e = strip_parens(e)
    if e == ir.Name(name):
        return True
    if isinstance(e, ir.Cast) and e.type == INT and strip_parens(e.operand) == ir.Name(name):
        return False
    return None


def _global_parts(e, b: str, t: str):
    """``(T, read_as_ints)`` when ``e`` is ``b * T + t`` (in any operand order, parenthesised or not;
    ``read_as_ints`` when both counters are ``(int)`` reads), else None."""
    e = strip_parens(e)
    if not (isinstance(e, ir.BinOp) and e.op == "+"):
        return None
    for prod, last in ((e.left, e.right), (e.right, e.left)):
        prod = strip_parens(prod)
        t_plain = _counter(last, t)
        if t_plain is not None and isinstance(prod, ir.BinOp) and prod.op == "*":
            l, r = strip_parens(prod.left), strip_parens(prod.right)
            for block, size in ((l, r), (r, l)):
                b_plain = _counter(block, b)
                if b_plain is not None:
                    return size, not (b_plain or t_plain)
    return None


def _global_index(e, b: str, t: str, extent) -> ir.Expr | None:
    """What ``e`` is in the joined counter ``g`` when it is ``b * T + t`` (``T`` the extent):
    ``(unsigned)g``; ``g`` itself when both counters are read as ints (``(int)b * T + (int)t``, the
    value of an int ``g`` that fits). None otherwise."""
    parts = _global_parts(e, b, t)
    if parts is None or parts[0] != strip_parens(extent):
        return None
    return ir.Name("g") if parts[1] else ir.Cast(UNSIGNED, ir.Name("g"))


def join_uses(body, b: str, t: str, extent, g: str):
    """``body`` with every ``b * T + t`` replaced by ``(unsigned)g`` (``g`` for ``(int)b * T +
    (int)t``); None when ``b`` or ``t`` is still named elsewhere (the pair cannot be joined)."""
    def fn(n):
        if isinstance(n, ir.Expr):
            joined = _global_index(n, b, t, extent)
            if joined is not None:
                return ir.rename(joined, {"g": g})
        return n
    joined = ir.rewrite(body, fn)
    return None if {b, t} & used_names(joined) else joined


def _residues_of_global(body, b: str, t: str, size: int):
    """``body`` with ``t & m`` and ``t % m`` (``t`` alone, a divisor ``m + 1`` / ``m`` of the block
    size) written as residues of the global index ``b * size + t``, which they equal (TVM simplifies
    ``(b * 1024 + t) & 255`` to ``t & 255``)."""
    def fn(n):
        residue = as_division(n) if isinstance(n, ir.BinOp) and n.op in ("&", "%") else None
        if isinstance(residue, ir.BinOp) and residue.op == "%" and _counter(n.left, t) is False:
            m = strip_parens(residue.right)
            if isinstance(m, ir.Const) and isinstance(m.value, int) and m.value > 0 and size % m.value == 0:
                total = ir.BinOp("+", ir.BinOp("*", ir.Cast(INT, ir.Name(b)), ir.Const(str(size), size)),
                                 ir.Cast(INT, ir.Name(t)))
                return replace(n, left=ir.Paren(total))
        return n
    return ir.rewrite(body, fn)


def _constant_extent(body, b: str, t: str) -> ir.Const | None:
    """The one positive constant ``C`` of the ``b * C + t`` in ``body`` (TVM's kernels spell the
    block size out: ``blockIdx.x * 1024 + threadIdx.x``), else None."""
    sizes = {parts[0] for n in ir.walk(body) if isinstance(n, ir.BinOp) and n.op == "+"
             for parts in [_global_parts(n, b, t)] if parts is not None}
    found = {c for c in sizes if isinstance(c, ir.Const) and isinstance(c.value, int) and
             not isinstance(c.value, bool) and c.value > 0}
    return next(iter(found)) if len(found) == 1 else None


# ---- return-as-goto back to a guard --------------------------------------------------------------
def _guard_form(stmts: list) -> list:
    """``{ ...; if (c) goto L; rest } L:;`` (how loop recovery spells a thread's ``return``) as
    ``...; if (!(c)) { rest }``, when that is the only jump to ``L``; else ``stmts`` unchanged.
    Declarations may come first (the thread's slot), and the jump may clear the thread's alive
    flag first (``if (c) { __alive[t] = false; goto L; }``): that store moves to the ``else``."""
    k = 0
    while k < len(stmts) and isinstance(stmts[k], ir.Decl):
        k += 1
    if len(stmts) != k + 2 or not isinstance(stmts[k], ir.Block) or not isinstance(stmts[k + 1], ir.Verbatim):
        return stmts
    label = stmts[k + 1].text.strip()
    if not label.endswith(":;"):
        return stmts
    goto = f"goto {label[:-2]};"
    inner = flat_statements(stmts[k])
    jumps = [n for n in ir.walk(stmts[k]) if isinstance(n, ir.Verbatim) and n.text.strip() == goto]
    for i, s in enumerate(inner):
        then = flat_statements(s.then) if isinstance(s, ir.If) and s.other is None else []
        gotos = [x for x in then if isinstance(x, ir.Verbatim) and x.text.strip() == goto]
        kills = then[:-1]
        if then and gotos == then[-1:] and len(jumps) == 1 and \
                all(isinstance(x, ir.ExprStmt) and _kills(x) for x in kills):
            other = ir.Block(tuple(kills)) if kills else None
            return stmts[:k] + inner[:i] + [ir.If(ir.UnOp("!", _p(s.cond)), ir.Block(tuple(inner[i + 1:])), other)]
    return stmts


# ---- guard to bound --------------------------------------------------------------------------------
def _negated_comparison(e):
    """``!(a >= b)`` as ``a < b`` (and the like), else None."""
    e = strip_parens(e)
    flip = {">=": "<", "<=": ">", "<": ">=", ">": "<="}
    if isinstance(e, ir.UnOp) and e.op == "!":
        inner = strip_parens(e.operand)
        if isinstance(inner, ir.BinOp) and inner.op in flip:
            return ir.BinOp(flip[inner.op], inner.left, inner.right)
        if isinstance(inner, ir.BinOp) and inner.op == "||":
            return ir.BinOp("&&", ir.UnOp("!", _p(inner.left)), ir.UnOp("!", _p(inner.right)))
    return None


def _split_negations(cond) -> list:
    out = []
    for c in conjuncts(cond):
        n = _negated_comparison(c)
        out += _split_negations(n) if n is not None and n != c else [c]
    return out


def scalar_types(function: ir.Function) -> dict[str, ir.Type]:
    """Name -> type of the function's scalar parameters and declarations (names declared with two
    different types, or as arrays, are left out: their type depends on the place)."""
    seen: dict = {}
    decls = [(p.name, p.type, p.dims) for p in function.params]
    decls += [(v.name, v.type, v.dims) for n in ir.walk(function.body) if isinstance(n, ir.Decl) for v in n.vars]
    for name, typ, dims in decls:
        seen.setdefault(name, set()).add(None if dims else replace(typ, quals=()))
    return {name: next(iter(ts)) for name, ts in seen.items() if len(ts) == 1 and None not in ts}


def is_signed_int(e, types: dict) -> bool:
    """``e`` is an ``int`` expression: int literals, names declared ``int``, and arithmetic on them."""
    e = strip_parens(e)
    if isinstance(e, ir.Const):
        return isinstance(e.value, int) and not isinstance(e.value, bool) and e.text.isdigit()
    if isinstance(e, ir.Name):
        t = types.get(e.id)
        return t is not None and t.base == "int" and t.pointer == 0
    if isinstance(e, ir.Cast):
        return e.type.base == "int" and e.type.pointer == 0
    if isinstance(e, ir.BinOp) and e.op in "+-*/%":
        return is_signed_int(e.left, types) and is_signed_int(e.right, types)
    if isinstance(e, ir.UnOp) and e.op == "-":
        return is_signed_int(e.operand, types)
    return False


def _copy_of(decl, g: str) -> str | None:
    """The name ``decl`` declares when it is ``int x = g`` (through casts to int/unsigned)."""
    if not isinstance(decl, ir.Decl) or len(decl.vars) != 1:
        return None
    v = decl.vars[0]
    if v.dims or v.init is None or v.type.base != "int" or v.type.pointer:
        return None
    e = strip_parens(v.init)
    while isinstance(e, ir.Cast) and e.type.base in ("int", "unsigned") and not e.type.pointer:
        e = strip_parens(e.operand)
    return v.name if e == ir.Name(g) else None


def bound_guard(g: str, extent, body: list, types: dict):
    """Guard to bound for the loop ``for (int g = 0; g < extent; ++g) body`` (``g`` in ``[0,
    INT_MAX]``). Returns ``(hoisted statements, bounds, hoisted conditions, new body)``: the loop
    becomes ``hoisted; if (conditions) for (g < min(extent, bounds...)) new body``."""
    prefix = []
    while True:
        while body and isinstance(body[0], ir.Decl):
            prefix.append(body.pop(0))
        guarded = _guard_form(body)
        if guarded is not body:
            body = guarded
        elif len(body) == 1 and isinstance(body[0], ir.Block):
            body = list(body[0].body)   # a block that ends the body: its declarations are the body's
        else:
            break
    if len(body) != 1 or not isinstance(body[0], ir.If) or body[0].other is not None:
        return [], [], [], prefix + body
    guard = body[0]
    changed = assigned_scalars(guard.then) | {g}
    # the declarations that do not depend on g, in order, move out
    dependent, hoisted, kept, copies = {g}, [], [], {g}
    for d in prefix:
        names = {v.name for v in d.vars}
        if used_names(d) & dependent or is_array_decl(d) or touches_memory(d) or names & changed:
            kept.append(d)
            dependent |= names
            if _copy_of(d, g):
                copies.add(_copy_of(d, g))
        else:
            hoisted.append(d)
    bounds, conditions, rest = [], [], []
    for c in _split_negations(guard.cond):
        c = strip_parens(c)
        names = used_names(ir.ExprStmt(c))
        if not names & dependent and not touches_memory(ir.ExprStmt(c)) and not names & changed:
            conditions.append(c)
            continue
        if isinstance(c, ir.BinOp) and c.op in ("<", ">"):
            x, e = (c.left, c.right) if c.op == "<" else (c.right, c.left)
            x = strip_parens(x)
            if isinstance(x, ir.Name) and x.id in copies and is_signed_int(e, types) and \
                    not used_names(ir.ExprStmt(e)) & (dependent | changed) and not touches_memory(ir.ExprStmt(e)):
                bounds.append(e)
                continue
        rest.append(c)
    if not bounds and not conditions and not hoisted:
        return [], [], [], prefix + body
    inner = kept + ([ir.If(conjunction(rest), guard.then)] if rest else statements(guard.then))
    return hoisted, bounds, conditions, inner


# ---- grid-stride loops -----------------------------------------------------------------------------
def grid_stride(body: list, g: str, extents: tuple, types: dict, parallel):
    """``for (int i = g; i < E; i += G) S`` as the whole body of the loop over the joined index ``g``
    in ``[0, G)`` (``G`` the grid's threads on the axis, ``S`` not naming ``g``) visits every ``i`` of
    ``[0, E)`` once when ``G > 0``: returns ``(i, E, S)``, the loop ``for (int i = 0; i < E; ++i) S``
    replacing both, when the loop's iterations are independent (their order changes). None
    otherwise."""
    while len(body) == 1 and isinstance(body[0], ir.Block):
        body = list(body[0].body)
    # scalar declarations before the loop (`int stride = blockDim.x * gridDim.x;`) go with its body
    pre = []
    while body and isinstance(body[0], ir.Decl) and not is_array_decl(body[0]) and not touches_memory(body[0]):
        pre.append(body.pop(0))
    if len(body) != 1 or not isinstance(body[0], ir.For):
        return None
    loop = body[0]
    values = {v.name: v.init for d in pre for v in d.vars if v.init is not None}
    if g in used_names(ir.Block(tuple(pre))) or set(values) & (assigned_scalars(loop.body) | used_names(loop.init)):
        return None
    canon = loop.canonical()
    if canon is None or not isinstance(loop.init, ir.Decl) or loop.init.vars[0].type.base != "int":
        return None
    var, start, stop, step = canon
    start = strip_parens(start)
    while isinstance(start, ir.Cast) and start.type.base in ("int", "unsigned"):
        start = strip_parens(start.operand)
    b, t = (strip_parens(e) for e in extents)
    step = strip_parens(step)
    if isinstance(step, ir.Name) and step.id in values:
        step = strip_parens(values[step.id])
    # a bound held in a declaration of the prelude (`const int total = N * C;`): its value
    ints = {v.name: v.init for d in pre for v in d.vars if v.init is not None and v.type.base == "int" and
            not v.type.pointer and is_signed_int(v.init, types)}
    stop = ir.rewrite(stop, lambda n: _p(ints[n.id]) if isinstance(n, ir.Name) and n.id in ints else n)
    if set(values) & used_names(ir.ExprStmt(stop)):
        return None
    if start != ir.Name(g) or not is_signed_int(stop, types) or not (
            isinstance(step, ir.BinOp) and step.op == "*" and
            {repr(strip_parens(step.left)), repr(strip_parens(step.right))} == {repr(b), repr(t)}):
        return None
    if g in used_names(loop.body) or var in assigned_scalars(loop.body) or not parallel(loop):
        return None
    return var, stop, ir.Block(tuple(pre + statements(loop.body)))


# ---- the chain ------------------------------------------------------------------------------------
def _int_loop(var: str, stop, body: list, kind: str) -> ir.For:
    return ir.For(ir.Decl((ir.Declarator(var, INT, init=_c(0)),)), ir.BinOp("<", ir.Name(var), stop),
                  ir.UnOp("++", ir.Name(var)), ir.Block(tuple(body)), kind=kind)


def _as_int(e) -> ir.Expr:
    return e if isinstance(e, ir.Cast) and e.type == INT else ir.Cast(INT, _p(e))


def simd_chain(loops: list, body: ir.Block, types: dict, fresh, parallel=None,
               constants: dict | None = None, groups=None) -> tuple[ir.Expr, list] | None:
    """``(fits, statements)``: the statements run the perfect parallel chain ``loops`` (outermost
    first, innermost body ``body``) as an OpenMP-parallel nest whose innermost loop is a SIMD loop,
    valid when ``fits`` holds (every extent fits in an int). None when the chain is not a recovered
    block x thread nest or nothing would vectorise. ``types``: declared types of the function's
    names; ``fresh(name)``: a name unused in the function; ``parallel(loop)``: whether a loop's
    iterations are independent (for grid-stride loops, :func:`grid_stride`); ``constants``: values of
    names (macros); ``groups``: as for :func:`simd_threads` (warp-level code whose lanes compute alike
    runs once per warp)."""
    recovered = 0
    while recovered < len(loops) and loops[recovered].kind in ("blocks", "threads"):
        recovered += 1
    if recovered < len(loops):   # loops of the source inside the recovered ones: part of the body
        inner_loop = replace(loops[-1], body=body)
        for lp in reversed(loops[recovered:-1]):
            inner_loop = replace(lp, body=ir.Block((inner_loop,)))
        loops, body = loops[:recovered], ir.Block((inner_loop,))
    canon = [lp.canonical() for lp in loops]
    if any(c is None or strip_parens(c[1]) != _c(0) or strip_parens(c[3]) != _c(1) for c in canon):
        return None
    blocks = {_axis(lp, "blocks"): lp for lp in loops if _axis(lp, "blocks")}
    threads = {_axis(lp, "threads"): lp for lp in loops if _axis(lp, "threads")}
    if len(threads) + len(blocks) != len(loops) or "x" not in threads:
        return None
    stmts: ir.Stmt = body
    outer, inner = [], []     # (counter, extent) of the new loops, outermost first
    checks = []               # extents that must fit in an int
    launched = []             # block sizes the joined counters assume
    joined_any = False
    products: dict = {}       # joined counter -> (block extent, thread extent)
    for axis in AXES:
        b, t = blocks.get(axis), threads.get(axis)
        if t is None:
            if b is not None:
                outer.append(b.canonical()[::2])
            continue
        tvar, _, tstop, _ = t.canonical()
        if b is not None:
            bvar, _, bstop, _ = b.canonical()
            g = fresh(f"global_{axis}")
            joined = join_uses(stmts, bvar, tvar, tstop, g)
            size = _constant_extent(stmts, bvar, tvar) if joined is None else None
            if size is not None:   # a block size spelled out: joined where the launch has it
                joined = join_uses(_residues_of_global(stmts, bvar, tvar, size.value), bvar, tvar, size, g)
                if joined is not None:
                    launched.append(ir.BinOp("==", ir.Cast(ULL, _p(tstop)), ir.Const(f"{size.value}u", size.value)))
                    tstop = size
            if joined is not None:
                stmts, joined_any = joined, True
                product = ir.BinOp("*", ir.Cast(ULL, _p(bstop)), _p(tstop))
                inner.append((g, ir.Cast(INT, ir.Paren(product))))
                products[g] = (bstop, tstop)
                checks.append(product)
                continue
            outer.append((bvar, bstop))   # not joined: it stays a loop over blocks, outside
        inner.append((tvar, tstop))
    if not joined_any:
        return None
    axes = outer + inner
    originals = {c[0] for c in canon}
    checks += [ir.Cast(ULL, _p(ext)) for var, ext in axes if var in originals]

    def unsigned_uses(n):   # the loop variables were unsigned: their uses keep that type
        if isinstance(n, ir.Name) and n.id in originals:
            return ir.Cast(UNSIGNED, n)
        if isinstance(n, ir.Cast) and n.type == INT and isinstance(n.operand, ir.Cast) and \
                n.operand.type == UNSIGNED and isinstance(n.operand.operand, ir.Name):
            return n.operand.operand   # (int)(unsigned)v of an int counter v is v
        return n
    stmts = ir.rewrite(stmts, unsigned_uses)
    inner_var, inner_stop = axes[-1]
    fits = conjunction(launched + [ir.BinOp("<=", c, ir.Const(f"{INT_MAX}u", INT_MAX)) for c in checks])
    if inner_var in products and groups is not None and parallel is not None:
        grouped = _warps_of_chain(axes, statements(stmts), products[inner_var], types, fresh, parallel, constants,
                                  groups)
        if grouped is not None:
            return fits, [_relabel(s) for s in grouped]
    positive = []
    if inner_var in products and parallel is not None:
        strided = grid_stride(statements(stmts), inner_var, products[inner_var], types, parallel)
        if strided is not None:
            inner_var, inner_stop, stmts = strided
            positive = [ir.BinOp(">", axes[-1][1], _c(0))]
    hoisted, bounds, conditions, inner_body = bound_guard(inner_var, inner_stop, statements(stmts), types)
    conditions = positive + conditions
    pre: list = list(hoisted)
    stop = _as_int(inner_stop)
    if bounds:
        end = fresh("end")
        pre.append(ir.Decl((ir.Declarator(end, INT, init=stop),)))
        for e in bounds:
            pre.append(ir.If(ir.BinOp("<", _p(e), ir.Name(end)), ir.ExprStmt(ir.Assign(ir.Name(end), "=", e))))
        stop = ir.Name(end)
    # a body with loops: the lanes below them (gcc vectorises an outer loop only around one loop)
    def lanes(var, extent, stmts):
        return sink(var, extent, stmts, fresh, lambda e: is_signed_int(e, types), constants) or \
            [ir.Pragma("omp simd"), _int_loop(var, extent, stmts, "vector")]
    nest: list = lanes(inner_var, stop, inner_body)
    # a flat index decoded with divisions: the nest of its digits, the lanes over the innermost one
    copies = [inner_var] + [c for c in (_copy_of(d, inner_var) for d in inner_body) if c]
    for index, trips, divide in ((i, t, d) for d in (False, True) for i in copies for t in [stop] + bounds):
        decoded = delinearized(inner_var, stop, trips, inner_body, index, fresh, lanes, divide)
        if decoded is not None:
            nest = [ir.If(decoded[0], ir.Block(tuple(decoded[1])), ir.Block(tuple(nest)))]
            break
    if conditions:
        nest = [ir.If(conjunction(conditions), ir.Block(tuple(nest)))]
    nest = pre + nest
    for var, ext in reversed(axes[:-1]):
        nest = [_int_loop(var, _as_int(ext), nest, "parallel")]
    if len(axes) > 1:
        nest = [ir.Pragma("omp parallel for" + (f" collapse({len(axes) - 1})" if len(axes) > 2 else ""))] + nest
    return fits, [_relabel(s) for s in nest]


def _warps_of_chain(axes: list, body: list, product: tuple, types: dict, fresh, parallel, constants, groups):
    """The chain's statements when its innermost (joined) loop's body depends on the global index
    ``g`` only through ``g / W`` and the lanes of a group may run it once (:mod:`.uniform_lanes`):
    a loop over the groups ``w`` in ``[0, ceil(G / W))``, ``g / W`` read as ``w``, among the
    parallel loops; its own loops vectorised. None otherwise."""
    var, stop = axes[-1]
    while True:   # a thread's `return` as the guard it is
        guarded = _guard_form(body)
        if guarded is not body:
            body = guarded
        elif len(body) == 1 and isinstance(body[0], ir.Block):
            body = list(body[0].body)
        else:
            break
    widths = group_widths(ir.Block(tuple(body)), var)
    if len(widths) != 1:
        return None
    grouping = Grouping(var, next(iter(widths)))
    split = uniform_split(body, grouping)
    if split is None or split.k < len(body) or not groups(_int_loop(var, stop, body, "vector"), grouping, split):
        return None
    width, group = grouping.width, fresh("group_x")
    blocks, threads = product
    count = ir.BinOp("*", ir.Cast(ULL, _p(blocks)), _p(threads))
    count = ir.Cast(INT, ir.Paren(ir.BinOp("/", ir.Paren(ir.BinOp("+", count, _c(width - 1))), _c(width))))
    index = ir.Cast(UNSIGNED, ir.Name(group))
    stmts = vectorised(group_indices(ir.Block(tuple(body)), grouping, index), parallel, fresh, types, constants)
    nest: list = [_int_loop(group, count, statements(stmts), "parallel")]
    for v, ext in reversed(axes[:-1]):
        nest = [_int_loop(v, _as_int(ext), nest, "parallel")]
    return [ir.Pragma("omp parallel for" + (f" collapse({len(axes)})" if len(axes) > 1 else ""))] + nest


def _relabel(node):
    """The labels a thread's ``return`` jumps to, renamed: the original nest keeps its own."""
    def fn(n):
        if isinstance(n, ir.Verbatim) and "__next_thread" in n.text:
            return replace(n, text=n.text.replace("__next_thread", "__next_simd_thread"))
        return n
    return ir.rewrite(node, fn)


# ---- thread loops of a block (kernels with barriers) ----------------------------------------------
class _SignedIndices:
    """Index arithmetic of recovered counters in ``int``.

    A recovered counter is unsigned, and so is ``blockIdx_x * TILE + tx``: gcc cannot prove such an
    index does not wrap, so it is not affine in the SIMD loop's counter and nothing vectorises. An
    expression built with ``+`` and ``*`` from counters, ``blockDim`` / ``gridDim`` members,
    non-negative constants and ``int`` copies of such expressions has its largest value at the upper
    corner of the counters' ranges; when that corner fits in an ``int`` (checked at run time, in
    ``double``, once per kernel), computing it in ``int`` gives the same value. Rewritten where the
    value is used as an ``int`` (an ``int`` declaration, an array index, a cast to ``int``)."""

    def __init__(self, stops: dict, constants: dict, assigned: set, indices: set, copyable: set):
        self.stops = stops            # counter -> its extent (an upper bound of its values)
        self.constants = constants
        self.assigned = assigned
        self.indices = indices        # declarations (ids) of unsigned variables used only as array indices
        self.values: set = set()      # declarations (ids) of unsigned variables whose uses fit in 64 bits
        # names whose every declaration is the same scalar with the same initializer, none outside:
        # wherever such a name is used, it holds that value, whatever scope it was declared in
        self.copyable = copyable
        self.copies: dict = {}        # int variable -> the corner of the expression it holds
        self.corners: list = []       # corners that must fit in an int

    def corner(self, e):
        """The expression's value at the upper corner (a double expression), or None when ``e`` is
        not such an index expression."""
        e = strip_parens(e)
        if isinstance(e, ir.Cast) and e.type == UNSIGNED and isinstance(e.operand, ir.Name) and e.operand.id in self.stops:
            return ir.Cast(ir.Type("double"), _p(self.stops[e.operand.id]))
        if isinstance(e, ir.Name) and e.id in self.copies:
            return self.copies[e.id]
        if isinstance(e, ir.Member) and isinstance(e.base, ir.Name) and e.base.id in ("blockDim", "gridDim"):
            return ir.Cast(ir.Type("double"), e)
        if isinstance(e, ir.Const) or (isinstance(e, ir.Name) and e.id in self.constants):
            from .bind import const_value
            v = const_value(e, self.constants)
            return _c(v) if v is not None and v >= 0 else None
        if isinstance(e, ir.BinOp) and e.op in "+*":
            a, b = self.corner(e.left), self.corner(e.right)
            return None if a is None or b is None else ir.BinOp(e.op, _p(a), _p(b))
        return None

    def signed(self, e):
        """``e`` computed in int (``corner(e)`` is not None)."""
        def fn(n):
            if isinstance(n, ir.Cast) and n.type == UNSIGNED and isinstance(n.operand, ir.Name) and n.operand.id in self.stops:
                return n.operand
            if isinstance(n, ir.Member) and isinstance(n.base, ir.Name) and n.base.id in ("blockDim", "gridDim"):
                return ir.Cast(INT, n)
            return n
        return ir.rewrite(e, fn)

    def rewrite(self, e):
        corner = self.corner(e)
        if corner is None or isinstance(strip_parens(e), (ir.Const, ir.Name, ir.Member)):
            return e, None
        self.corners.append(corner)
        return self.signed(e), corner

    def statement(self, s):
        """``s`` with its int-valued index expressions in int (declarations in order, so that a
        copy is known before its uses)."""
        if isinstance(s, ir.Decl) and len(s.vars) == 1 and not s.vars[0].dims and s.vars[0].init is not None:
            v = s.vars[0]
            as_index = v.type.base == "unsigned" and id(v) in self.indices and self.corner(v.init) is not None
            as_value = v.type.base == "unsigned" and id(v) in self.values and self.corner(v.init) is not None
            if (v.type.base == "int" or as_index or as_value) and not v.type.pointer and v.name not in self.assigned \
                    and v.name in self.copyable:
                if as_index:   # only ever an index: the same element, counted in int
                    v = replace(v, type=replace(v.type, base="int"))
                init, corner = self.rewrite(v.init)
                if corner is None:
                    corner = self.corner(v.init)
                    if as_value:   # lane_ranges took the slot to be at most INT_MAX: checked at run time
                        self.corners.append(corner)
                if corner is not None:
                    self.copies[v.name] = corner
                init = self.expressions(init)
                if as_value:   # lane arithmetic that fits (lane_ranges): the same values in 64 bits
                    from .wide_subscripts import widened   # wide_subscripts imports this module
                    wide = ir.Type("long long")
                    init = widened(init, {name: INT for name in self.stops}) or ir.Cast(wide, init)
                    v = replace(v, type=replace(v.type, base=wide.base))
                return replace(s, vars=(replace(v, init=init),))
        if isinstance(s, (ir.Decl, ir.ExprStmt, ir.If, ir.Return)) or not hasattr(s, "__dataclass_fields__"):
            return self.expressions(s)
        return ir.map_children(s, lambda c: self.statement(c) if isinstance(c, ir.Stmt) else self.expressions(c))

    def expressions(self, node):
        def fn(n):
            if isinstance(n, ir.Index):
                index, corner = self.rewrite(n.index)
                return replace(n, index=index) if corner is not None else n
            if isinstance(n, ir.Cast) and n.type == INT and not n.type.pointer:
                operand, corner = self.rewrite(n.operand)
                return replace(n, operand=operand) if corner is not None else n
            return n
        return ir.rewrite(node, fn)


def _index_only_declarations(node) -> set[int]:
    """The declarators (their ids) of scalars whose every use in their scope is an array's subscript
    (``s[__tid]``). Decided per declaration: a thread's slot ``__tid`` is declared in every phase
    of a kernel, and a phase that also does arithmetic with it (a shuffle's lane) keeps its type
    without holding back the others."""
    return {id(v) for block in ir.walk(node) if isinstance(block, ir.Block)
            for k, s in enumerate(block.body) if isinstance(s, ir.Decl)
            for v in s.vars if not v.dims and only_subscripts(block.body[k + 1:], v.name)}


def _thread_loops(node) -> list:
    return [n for n in ir.walk(node) if isinstance(n, ir.For) and n.kind == "threads"]


# ---- threads known alive ---------------------------------------------------------------------------
ALIVE = "__alive"   # loop recovery's flag of a thread that has not returned (kernels split at barriers)


def _alive_flag(e) -> bool:
    e = strip_parens(e)
    return isinstance(e, ir.Index) and is_name(e.base, ALIVE)


def _kills(node) -> bool:
    """Whether ``node`` clears a thread's alive flag (a ``return`` before a barrier)."""
    return any(isinstance(n, ir.Assign) and _alive_flag(n.target) and n.value != ir.Const("true", True)
               for n in ir.walk(node))


def alive_at_entry(body: ir.Block) -> ir.Block:
    """``body`` (a block's phases) without the test of the alive flag in the phases no thread can
    have returned before: those after the one that sets every flag and up to the first that clears
    one, at the top level (not in a loop, whose next trip would follow that one). The test is true
    there; without it a phase's loads and stores are not masked by a flag (gcc cannot vectorise a
    masked load of a struct's field, a thread's ``float4``)."""
    out, state = [], "before"
    for s in body.body:
        if isinstance(s, ir.For) and s.kind == "threads":
            if state == "before" and all(isinstance(n, ir.Assign) and _alive_flag(n.target)
                                         for n in ir.walk(s) if isinstance(n, ir.Assign)) and \
                    any(isinstance(n, ir.Assign) for n in ir.walk(s)):
                out.append(s)
                state = "alive"
                continue
            if state == "alive":
                out.append(ir.rewrite(s, _untested))
                state = "done" if _kills(s) else state
                continue
        elif state == "alive" and _kills(s):
            state = "done"
        out.append(s)
    return replace(body, body=tuple(out))


def _untested(n):
    if isinstance(n, ir.If) and n.other is None:
        parts = conjuncts(n.cond)
        if parts and _alive_flag(parts[0]):
            return n.then if len(parts) == 1 else replace(n, cond=conjunction(parts[1:]))
    return n


def _copyable(body, outer: set) -> set[str]:
    """Names declared in ``body`` only (not in ``outer``), always as the same scalar ``int`` /
    ``unsigned`` with the same initializer."""
    decls: dict = {}
    for n in ir.walk(body):
        if isinstance(n, ir.Decl):
            for v in n.vars:
                decls.setdefault(v.name, []).append(v)
    return {name for name, vs in decls.items() if name not in outer and all(
        not v.dims and v.init is not None and not v.type.pointer and v.type.base in ("int", "unsigned")
        and v.init == vs[0].init and v.type == vs[0].type for v in vs)}


def simd_threads(loops: list, body: ir.Block, constants: dict, outer: set = frozenset(), parallel=None,
                 fresh=None, types: dict | None = None, groups=None) -> tuple[ir.Expr, list] | None:
    """``(fits, statements)`` for a parallel chain of block loops whose body has thread loops (a
    kernel split at barriers): every recovered loop counts with ``int``, the innermost thread loops
    of the x axis get ``#pragma omp simd``, and index arithmetic of counters is in int
    (:class:`_SignedIndices`). Valid when ``fits`` holds; None when there is nothing to do.
    ``outer``: the names declared outside ``body`` (parameters, the function's other declarations).
    With ``parallel`` and ``fresh`` (as for :func:`simd_chain`), a SIMD loop whose body holds loops
    and whose iterations are independent is sunk below them (:func:`sink_simd_loops`). With
    ``groups`` (:func:`~.uniform_lanes.group_safe` for the kernel), the part of a phase every lane of
    a warp computes alike runs once per warp (:mod:`.uniform_lanes`)."""
    threads = _thread_loops(body)
    canon = [lp.canonical() for lp in loops] + [t.canonical() for t in threads]
    if not threads or any(c is None or strip_parens(c[1]) != _c(0) or strip_parens(c[3]) != _c(1) for c in canon):
        return None
    if any(lp.kind != "blocks" for lp in loops):
        return None
    stops = {c[0]: c[2] for c in canon}
    if any(strip_parens(c[2]) != strip_parens(stops[c[0]]) for c in canon):
        return None   # a counter name with two different extents
    body = alive_at_entry(body)
    signed = _SignedIndices(stops, constants, assigned_scalars(body) - set(stops), set(),
                            _copyable(body, set(outer)))

    def counters(n):   # the counters were unsigned: their uses (not the loop headers) keep that type
        if isinstance(n, ir.For) and n.kind == "threads":
            return replace(n, body=counters(n.body))
        if isinstance(n, ir.Name):
            return ir.Cast(UNSIGNED, n) if n.id in stops else n
        return ir.map_children(n, counters)

    def loops_in_int(n):
        if isinstance(n, ir.Block):
            out = []
            for s in n.body:
                if isinstance(s, ir.For) and s.kind == "threads" and s.canonical()[0] == "threadIdx_x" and \
                        not _thread_loops(s.body) and not _jumps_out(s.body):
                    out.append(ir.Pragma("omp simd"))
                out.append(s)
            n = replace(n, body=tuple(out))
        if isinstance(n, ir.For) and n.kind == "threads":
            var, _, stop, _ = n.canonical()
            return _int_loop(var, _as_int(stop), statements(n.body), n.kind)
        return n
    fast = ir.rewrite(counters(body), loops_in_int)
    if groups is not None:
        fast = leader_phases(fast, "threadIdx_x", groups)
    signed.indices = _index_only_declarations(fast)
    signed.values = wide_slots(fast, types or {}, constants)
    fast = signed.statement(fast)
    if parallel is not None and fresh is not None:
        fast = sink_simd_loops(fast, parallel, fresh, lambda e: is_signed_int(e, types or {}), constants)
        fast = _vectorised_groups(fast, parallel, fresh, types or {}, constants)
    nest: list = list(fast.body)
    for lp in reversed(loops):
        var, _, stop, _ = lp.canonical()
        nest = [_int_loop(var, _as_int(stop), nest, "parallel")]
    nest = [ir.Pragma("omp parallel for" + (f" collapse({len(loops)})" if len(loops) > 1 else ""))] + nest
    checks = [ir.BinOp("<=", ir.Cast(ULL, _p(stops[c[0]])), ir.Const(f"{INT_MAX}u", INT_MAX)) for c in canon]
    checks += [ir.BinOp("<=", c, ir.Const(f"{INT_MAX}.0", float(INT_MAX))) for c in signed.corners]
    unique = []
    for c in checks:
        if c not in unique:
            unique.append(c)
    return conjunction(unique), [_relabel(s) for s in nest]


def vectorised(body, parallel, fresh, types: dict, constants: dict | None = None):
    """``body``, which runs as one iteration of a parallel loop, with its own loops vectorised: its
    deepest independent loops around loops sunk below them (:func:`sink_parallel_nests`), its
    innermost independent loops and sums SIMD loops (:func:`simd_inner_loops`)."""
    body = sink_parallel_nests(body, parallel, fresh, lambda e: is_signed_int(e, types), constants)
    return simd_inner_loops(body, parallel, types)


def _vectorised_groups(node, parallel, fresh, types: dict, constants: dict):
    """The loops over groups of lanes (:mod:`.uniform_lanes`) with their own loops vectorised: a
    group runs a whole tile, whose independent loops become SIMD lanes."""
    def fn(n):
        if isinstance(n, ir.For) and n.kind == "groups":
            return replace(n, body=vectorised(n.body, parallel, fresh, types, constants), kind="serial")
        return n
    return ir.rewrite(node, fn)


def _int_counter_from_zero(loop: ir.For):
    """``(var, start, stop, step)`` of ``for (int var = 0; var < stop; ++var)``, else None."""
    canon = loop.canonical()
    if canon is None or strip_parens(canon[1]) != _c(0) or strip_parens(canon[3]) != _c(1) or \
            not isinstance(loop.init, ir.Decl) or loop.init.vars[0].type != INT:
        return None
    return canon


def sink_simd_loops(node, parallel, fresh, signed=lambda e: False, constants: dict | None = None):
    """``node`` with each ``omp simd`` loop over ``[0, n)`` whose body holds loops run as strips of
    lanes sunk below those loops (:func:`~.simd_sink.sink`), where its iterations are independent
    (``parallel(loop)``). A thread's ``return`` (``if (c) goto next;``) is read as ``if (!c)``."""
    if isinstance(node, ir.Block):
        out, body = [], list(node.body)
        i = 0
        while i < len(body):
            s = body[i]
            loop = body[i + 1] if i + 1 < len(body) else None
            if isinstance(s, ir.Pragma) and s.text == "omp simd" and isinstance(loop, ir.For):
                canon = _int_counter_from_zero(loop)
                sunk, guarded = None, _guard_form(statements(loop.body))
                group = group_width(canon[0], guarded, constants or {}) if canon is not None else None

                def in_strips(body: list, width: int):
                    # the lanes of one strip (run together, strips one after another) independent
                    if not parallel(strip_loop(canon[0], body, width, PROBE)):
                        return None
                    start = fresh("strip")
                    return sink(canon[0], canon[2], [ir.rename(x, {PROBE: start}) for x in body], fresh, signed,
                                constants, strip=(start, width))
                if group is not None:
                    # lanes of a strip of one warp are independent where lanes of the whole loop
                    # need not be (a lane's share of a row: j = x % 64, j += 64)
                    sunk = in_strips(in_groups(canon[0], guarded, group, PROBE, constants or {}), group)
                if sunk is None and canon is not None:
                    if parallel(replace(loop, body=ir.Block(tuple(guarded)))):
                        sunk = sink(canon[0], canon[2], guarded, fresh, signed, constants)
                    elif group is None and _lane_shares(canon[0], guarded):
                        # lanes of one strip may be independent where those of the whole loop are
                        # not (a thread's share j = x, j += 128 of a block launched with 128)
                        sunk = in_strips(guarded, STRIP)
                out += sunk if sunk is not None else [s, loop]
                i += 2
                continue
            out.append(sink_simd_loops(s, parallel, fresh, signed, constants))
            i += 1
        return replace(node, body=tuple(out))
    if isinstance(node, (ir.For, ir.If, ir.While)):
        return ir.map_children(node, lambda c: sink_simd_loops(c, parallel, fresh, signed, constants)
                               if isinstance(c, ir.Stmt) else c)
    return node


PROBE = "__xp_strip_probe"   # a strip's start while its lanes' independence is asked


def _lane_shares(var: str, body: list) -> bool:
    """Whether a loop of ``body`` that starts at a value of the lane ``var`` (a thread's share of a
    row, ``for (j = x; j < n; j += 128)``) holds a loop (each step a dot product: sinking pays for its
    strip's bookkeeping; measured, a share of one statement per step ran slower sunk)."""
    lane = {var}
    for n in ir.walk(ir.Block(tuple(body))):
        if isinstance(n, ir.Declarator) and n.init is not None and used_names(ir.ExprStmt(n.init)) & lane:
            lane.add(n.name)
    return any(isinstance(n, ir.For) and n.init is not None and used_names(n.init) & (lane - _own(n)) and
               any(isinstance(m, ir.For) for m in ir.walk(n.body)) for n in ir.walk(ir.Block(tuple(body))))


def _own(loop: ir.For) -> set:
    return {d.name for d in loop.init.vars} if isinstance(loop.init, ir.Decl) else set()


def sink_parallel_nests(node, parallel, fresh, signed=lambda e: False, constants: dict | None = None):
    """``node`` with the deepest independent loops over ``[0, n)`` whose bodies hold loops (the
    channel loop around a pooling window of a detensorized ``__bang_maxpool``) run as strips of
    lanes sunk below those loops (:func:`~.simd_sink.sink`). Loops already bound (OpenMP's) and
    loops around an independent one (which is vectorised itself) are left alone."""
    return _sink_nests(node, parallel, fresh, signed, constants or {})[0]


def _sink_nests(node, parallel, fresh, signed, constants) -> tuple:
    if isinstance(node, ir.Block):
        out, any_sunk, marked = [], False, False
        for s in node.body:
            if isinstance(s, ir.Pragma):
                out.append(s)
                marked = s.text.startswith("omp")
                continue
            if marked:
                out.append(s)
            else:
                new, sunk = _sink_nests(s, parallel, fresh, signed, constants)
                out.append(new)
                any_sunk |= sunk
            marked = False
        return replace(node, body=tuple(out)), any_sunk
    if isinstance(node, ir.For):
        body, claimed = _sink_nests(node.body, parallel, fresh, signed, constants)
        node = replace(node, body=body)
        if claimed:   # an independent loop inside runs as SIMD lanes, itself or sunk
            return node, True
        if node.kind != "serial" or not parallel(node):
            return node, False
        canon = _int_counter_from_zero(node)
        if canon is not None:
            stmts = sink(canon[0], canon[2], statements(node.body), fresh, signed, constants)
            if stmts is not None:
                return ir.Block(tuple(stmts)), True
        return node, True
    if isinstance(node, (ir.If, ir.While)):
        sunk_any = False

        def visit(c):
            nonlocal sunk_any
            if not isinstance(c, ir.Stmt):
                return c
            new, sunk = _sink_nests(c, parallel, fresh, signed, constants)
            sunk_any |= sunk
            return new
        return ir.map_children(node, visit), sunk_any
    return node, False


def _jumps_out(node) -> bool:
    """``break`` / ``continue`` of the loop itself (an OpenMP SIMD loop may not have them)."""
    return any(isinstance(n, ir.Jump) for s in statements(node) for n in statements_outside_loops(s))


# ---- innermost loops -------------------------------------------------------------------------------
def simd_inner_loops(node, parallel, types: dict | None = None, inside: bool = False):
    """``node`` with ``#pragma omp simd`` before every innermost loop (no loop inside) that counts an
    ``int`` and whose iterations are independent (``parallel(loop)``), outside SIMD loops already
    marked: the element loops of detensorized BANG intrinsics, the tails of lane loops. gcc at -O2
    vectorises such a loop only when told. A loop that only sums into scalars besides (``s += e``,
    ``s = fmaf(a, b, s)``) gets ``omp simd reduction(+: s)``: the sum is reassociated, as OpenMP's
    reduction clause (and BANG's own ``__bang_reduce_sum``, a tree) does. ``types``: the declared
    types of the function's scalars (no reductions without them)."""
    if isinstance(node, ir.Block):
        out, marked = [], False
        for s in node.body:
            if isinstance(s, ir.Pragma):
                marked = s.text.startswith("omp simd") or s.text.startswith("omp parallel for simd")
                out.append(s)
                continue
            pragma = _simd_pragma(s, parallel, types) if isinstance(s, ir.For) and not marked and not inside else None
            if pragma is not None:
                out += [pragma, s]
            else:
                out.append(simd_inner_loops(s, parallel, types, inside or (marked and isinstance(s, ir.For))))
            marked = False
        return replace(node, body=tuple(out))
    pragma = _simd_pragma(node, parallel, types) if isinstance(node, ir.For) and not inside else None
    if pragma is not None:
        return ir.Block((pragma, node))
    if isinstance(node, (ir.For, ir.If, ir.While)):
        return ir.map_children(node, lambda c: simd_inner_loops(c, parallel, types, inside) if isinstance(c, ir.Stmt) else c)
    return node


def _simd_pragma(loop: ir.For, parallel, types) -> ir.Pragma | None:
    """The SIMD pragma for an innermost loop: independent iterations, or a sum into scalars."""
    if not _simd_candidate(loop):
        return None
    if parallel(loop):
        return ir.Pragma("omp simd")
    if types is None:
        return None
    from .block_reduce import find_reduction, reads_only
    red = find_reduction(loop, 1, lambda target: types.get(target.id) if isinstance(target, ir.Name) else None)
    if red is None or red.lane is not None or any(
            a.op != "+" or not isinstance(a.target, ir.Name) or a.type.base not in ("float", "double")
            for a in red.accumulations):
        return None
    if not parallel(reads_only(red)[0]):
        return None
    names = sorted({a.target.id for a in red.accumulations})
    return ir.Pragma(f"omp simd reduction(+: {', '.join(names)})")


def _simd_candidate(loop: ir.For) -> bool:
    canon = loop.canonical()
    if canon is None or not isinstance(loop.init, ir.Decl) or loop.init.vars[0].type.base != "int":
        return False
    return not any(isinstance(n, (ir.For, ir.While)) for n in ir.walk(loop.body))
