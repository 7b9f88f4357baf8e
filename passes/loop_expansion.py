"""Loop expansion (``loop-expansion{loop=i}``): loop fission, the statements of one loop body
distributed over several loops with the same header::

    for (i...) { S0(i); S1(i); S2(i); }   ->   for (i...) S0(i);  for (i...) { S1(i); S2(i); }

``at=[k, ...]`` gives the statements (0-based, top level of the body) where a new loop starts; by
default the body is cut wherever that is legal, keeping the statements in their order (maximal
distribution without reordering statements).

Legality: after the split every iteration of an earlier group runs before any iteration of a later
group, so a split is legal when no statement of a later group, in iteration ``v1``, touches a location
that a statement of an earlier group touches in a later iteration ``v2 > v1`` (one of them writing):
a *backward* loop-carried dependence, asked of :mod:`xpiler.ir.dependence` with the direction
``v1 < v2``. The default split merges the statements between the two ends of every backward
dependence into one group.

Scalars declared at the top of the body and used by a later group are *expanded*: ``float t = e;``
becomes ``t_arr[k] = e;`` with ``float t_arr[N]`` declared before the loops, ``k`` the iteration
number and ``N`` the trip count, which must then be a known constant of at most
:data:`EXPANSION_LIMIT` (otherwise the statements stay together by default, and an explicit ``at``
is refused). A body that leaves an iteration early
(``continue``, ``break``, ``return``) is not split.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Iterator

from xpiler import ir
from xpiler.ir.dependence import LoopAccesses, Obstacle

from .base import ModulePass, PassError
from .cleanup import assigned_names, names_in
from .loop_split import (LoopSite, body_statements, const, find_loop, fresh, is_const, jumps_out, loop_params,
                         loop_sites, name, trip_count)
from .registry import register

#: Most iterations a scalar is expanded over (its array lives on the stack).
EXPANSION_LIMIT = 1 << 16


def expand_loop(module: ir.Module, var: str, at=(), *, function: str = "", nth: int = 0) -> ir.Module:
    """``module`` with the body of the loop over ``var`` distributed over several loops."""
    site = find_loop(module, "loop-expansion", var, function, nth)
    stmts = body_statements(site.loop)
    if len(stmts) < 2:
        raise PassError(f"loop-expansion: the body of the loop over `{var}` is a single statement")
    escape = jumps_out(stmts)
    if escape:
        raise PassError(f"loop-expansion: the body of the loop over `{var}` {escape}")
    trips = site.value(trip_count(site))
    groups = _explicit_groups(at, len(stmts)) if at else _maximal_groups(site, stmts, trips)
    _check_cuts(stmts, groups)
    if len(groups) < 2:
        raise PassError(f"loop-expansion: the statements of the loop over `{var}` depend on each other across "
                        "iterations; no split is legal")
    crossing = _crossing(stmts, groups)
    fixed = [n for n, expandable in crossing.items() if not expandable]
    if fixed:
        raise PassError(f"loop-expansion: the array `{fixed[0]}` is defined in one loop and used in another")
    crossing = list(crossing)
    if crossing and trips is None:
        raise PassError(f"loop-expansion: `{crossing[0]}` is defined in one loop and used in another, and the trip "
                        f"count of the loop over `{var}` is not a constant (it would size the array holding it)")
    if crossing and trips > EXPANSION_LIMIT:
        raise PassError(f"loop-expansion: `{crossing[0]}` is defined in one loop and used in another, and the "
                        f"loop over `{var}` has {trips} iterations (at most {EXPANSION_LIMIT} are expanded)")
    arrays, expanded, origin = _expand_scalars(site, stmts, crossing, trips)
    problem = _backward_dependence(site, expanded, origin, groups)
    if problem:
        raise PassError(f"loop-expansion: {problem}")
    loops = [ir.For(site.loop.init, site.loop.cond, site.loop.step,
                    ir.Block(tuple(s for s, k in zip(expanded, origin) if a <= k < b)), site.loop.kind)
             for a, b in groups]
    return site.replace(*arrays, *loops)


def _explicit_groups(at, count: int) -> list[tuple[int, int]]:
    cuts = sorted(set(at if isinstance(at, (tuple, list)) else (at,)))
    if any(not isinstance(k, int) or not 0 < k < count for k in cuts):
        raise PassError(f"loop-expansion: `at` lists statements 1 to {count - 1} where new loops start, got {at!r}")
    bounds = [0, *cuts, count]
    return list(zip(bounds, bounds[1:]))


def _check_cuts(stmts, groups) -> None:
    for a, _ in groups[1:]:
        if isinstance(stmts[a - 1], ir.Pragma):
            raise PassError(f"loop-expansion: statement {a - 1} is a pragma of statement {a}; they stay together")


def _maximal_groups(site: LoopSite, stmts, trips) -> list[tuple[int, int]]:
    """Contiguous groups: statements joined by a backward dependence (or, when scalars cannot be
    expanded, by a scalar) stay together with everything between them."""
    # a pragma belongs to the statement after it
    joined = [(k, k + 1) for k, s in enumerate(stmts[:-1]) if isinstance(s, ir.Pragma)]
    expandable = []
    for local, can_expand in _crossing(stmts, [(k, k + 1) for k in range(len(stmts))]).items():
        if can_expand and trips is not None and trips <= EXPANSION_LIMIT:
            expandable.append(local)
        else:
            users = [k for k, s in enumerate(stmts) if local in names_in(s)]
            joined.append((min(users), max(users)))
    _, expanded, origin = _expand_scalars(site, stmts, expandable, trips)
    accesses = _accesses(site, expanded)
    for late in range(len(stmts)):
        for early in range(late):
            if any(a <= early and late <= b for a, b in joined):
                continue   # already together
            try:
                found = accesses.conflict(lambda v1, v2: v1[site.var] < v2[site.var],
                                          lambda a, b: origin[a.stmt] == late and origin[b.stmt] == early)
            except Obstacle:   # undecided: as good as a dependence
                found = True
            if found is not None:
                joined.append((early, late))
    group_of = list(range(len(stmts)))
    for early, late in joined:
        for k in range(early, late + 1):
            group_of[k] = group_of[early]
    groups, start = [], 0
    for k in range(1, len(stmts) + 1):
        if k == len(stmts) or group_of[k] != group_of[k - 1]:
            groups.append((start, k))
            start = k
    return groups


def _crossing(stmts, groups) -> dict[str, bool]:
    """Names declared at the top of the body by one group and used by another, and whether each can
    be expanded (a scalar or pointer, not an array or reference)."""
    out = {}
    for a, b in groups:
        for s in stmts[a:b]:
            if isinstance(s, ir.Decl):
                for v in s.vars:
                    if any(v.name in names_in(t) for t in stmts[:a] + stmts[b:]):
                        out[v.name] = not v.dims and not v.type.reference
    return out


def _expand_scalars(site: LoopSite, stmts, scalars: list[str], trips) -> tuple[list, list, list]:
    """``(declarations of the arrays, statements with the scalars turned into array elements, the
    position in ``stmts`` each statement comes from)`` (a declaration may become several
    statements, or none)."""
    if not scalars:
        return [], list(stmts), list(range(len(stmts)))
    taken = site.names()
    arrays = {s: fresh(f"{s}_arr", taken) for s in scalars}
    k = name(site.var) if is_const(site.start, 0) else ir.BinOp("-", name(site.var), site.start)
    if not is_const(site.step, 1):
        k = ir.BinOp("/", k, site.step)
    element = {s: ir.Index(name(a), k) for s, a in arrays.items()}
    declarations, out, origin = [], [], []
    for position, s in enumerate(stmts):
        if isinstance(s, ir.Decl) and any(v.name in element for v in s.vars):
            kept = []
            for v in s.vars:
                if v.name not in element:
                    kept.append(replace(v, init=_elements(v.init, element)) if v.init is not None else v)
                    continue
                if kept:
                    out.append(replace(s, vars=tuple(kept)))
                    origin.append(position)
                    kept = []
                declarations.append(ir.Decl((ir.Declarator(arrays[v.name], _assignable(v.type), (const(trips),)),)))
                if v.init is not None:
                    out.append(ir.ExprStmt(ir.Assign(element[v.name], "=", _elements(v.init, element))))
                    origin.append(position)
            if kept:
                out.append(replace(s, vars=tuple(kept)))
                origin.append(position)
        else:
            out.append(_elements(s, element))
            origin.append(position)
    return declarations, out, origin


def _assignable(t: ir.Type) -> ir.Type:
    """The type of an array element assigned after its declaration: no top-level ``const``."""
    if t.pointer:
        return replace(t, ptr_quals=tuple(q for q in t.ptr_quals if q != "const"))
    return replace(t, quals=tuple(q for q in t.quals if q != "const"))


def _elements(node, element: dict):
    def one(n):
        return element[n.id] if isinstance(n, ir.Name) and n.id in element else n
    return ir.rewrite(node, one)


def _accesses(site: LoopSite, stmts) -> LoopAccesses:
    loop = ir.For(site.loop.init, site.loop.cond, site.loop.step, ir.Block(tuple(stmts)), site.loop.kind)
    try:
        accesses = LoopAccesses(loop, env=site.env)
        accesses.check_structure()
    except Obstacle as reason:
        raise PassError(f"loop-expansion: {reason}") from None
    return accesses


def _backward_dependence(site: LoopSite, stmts, origin, groups) -> str | None:
    group_of = [next(g for g, (a, b) in enumerate(groups) if a <= k < b) for k in origin]
    try:
        found = _accesses(site, stmts).conflict(lambda v1, v2: v1[site.var] < v2[site.var],
                                                lambda a, b: group_of[a.stmt] > group_of[b.stmt])
    except Obstacle as reason:
        return str(reason)
    if found is None:
        return None
    var = site.var
    return (f"{found.first.text} ({var} = {found.first_at[var]}) must run before {found.second.text} "
            f"({var} = {found.second_at[var]}), which touches the same location, and the split would run it after")


@register
@dataclass(frozen=True)
class LoopExpansion(ModulePass):
    """Distribute the statements of a loop body over several loops (fission) when legal."""

    name: ClassVar[str] = "loop-expansion"
    summary: ClassVar[str] = "a loop body is distributed over several loops (fission), scalars expanded to arrays"

    loop: str = ""
    at: tuple = ()
    function: str = ""
    nth: int = 0

    def apply(self, module: ir.Module) -> ir.Module:
        return expand_loop(module, self.loop, self.at, function=self.function, nth=self.nth)

    @classmethod
    def schedule_space(cls, module) -> Iterator["LoopExpansion"]:
        """The maximal distribution of every loop whose body has several statements."""
        for site in loop_sites(module):
            if len(body_statements(site.loop)) > 1 and isinstance(site.loop.init, ir.Decl) \
                    and site.var not in assigned_names(site.loop.body):
                yield cls(**loop_params(site))
