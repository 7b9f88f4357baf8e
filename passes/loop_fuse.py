"""Loop fusion (``loop-fuse``), in its two forms.

``loop-fuse{loop=i}`` collapses a perfect nest into one loop over the product of the trip counts
(TVM's ``fuse``; what OpenMP's ``collapse(2)`` does)::

    for (int i = a; i < b; i += s)            for (int i_j_fused = 0; i_j_fused < N * M; ++i_j_fused)
      for (int j = c; j < d; j += t)    ->      body(a + i_j_fused / M * s, c + i_j_fused % M * t)
        body(i, j)

with ``N`` and ``M`` the trip counts. The iterations run in the same order, so collapsing is legal
whenever the inner loop's bounds do not depend on ``i`` and do not change inside the nest. When
neither trip count is known to be non-negative, the fused loop is guarded by ``N > 0`` (two negative
counts would otherwise multiply into a positive one).

``loop-fuse{loop=i mode=siblings}`` merges the loop over ``i`` with the loop that follows it in the
same block when both have the same bounds::

    for (i...) A(i);  for (j...) B(j);   ->   for (i...) { A(i); B(i); }

Legal when no iteration of ``B`` depends on a *later* iteration of ``A``: the fused loop runs
``B(v1)`` before ``A(v2)`` for ``v1 < v2``, the original the other way round. That is asked of the
dependence analysis (:mod:`xpiler.ir.dependence`) with the two bodies as the two statements of one
loop body and the direction ``v1 < v2``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Iterator

from xpiler import ir
from xpiler.ir.dependence import LoopAccesses, Obstacle

from .base import ModulePass, PassError
from .cleanup import declared_in, names_in
from .loop_split import (LoopSite, body_statements, check_loop, const, counted_loop, find_loop, fresh, invariant_bounds,
                         iteration_value, jumps_out, loop_params, loop_sites, mul, name, printed, substitute,
                         trip_count)
from .registry import register

MODES = ("nest", "siblings")


def fuse_nest(module: ir.Module, var: str, *, function: str = "", nth: int = 0) -> ir.Module:
    """``module`` with the perfect nest under the loop over ``var`` collapsed into one loop."""
    outer = find_loop(module, "loop-fuse", var, function, nth)
    inner = _inner_loop(outer)
    problem = invariant_bounds(inner, {outer.var}, outer.loop.body)
    if problem:
        raise PassError(f"loop-fuse: the bounds of the inner loop over `{inner.var}` {problem}")
    n, m = trip_count(outer), trip_count(inner)
    fused = fresh(f"{outer.var}_{inner.var}_fused", outer.names())
    index = name(fused)
    body = substitute(inner.loop.body, {outer.var: iteration_value(outer, ir.BinOp("/", index, m)),
                                        inner.var: iteration_value(inner, ir.BinOp("%", index, m))})
    known_n, known_m = outer.value(n), inner.value(m)
    extent = const(known_n * known_m) if known_n is not None and known_m is not None else mul(n, m)
    loop = counted_loop(fused, outer.var_type(), extent, body, joint_kind(outer.loop, inner.loop))
    if known_n is None and known_m is None:
        return outer.replace(ir.If(ir.BinOp(">", n, const(0)), ir.Block((loop,))))
    return outer.replace(loop)


def joint_kind(a: ir.For, b: ir.For) -> str:
    """How a loop made of ``a`` and ``b`` executes: their common kind (``blocks`` loops fused stay
    ``blocks``), else ``serial``."""
    return a.kind if a.kind == b.kind else "serial"


def _inner_loop(outer: LoopSite) -> LoopSite:
    body = body_statements(outer.loop)
    if len(body) != 1 or not isinstance(body[0], ir.For):
        raise PassError(f"loop-fuse: the loop over `{outer.var}` is not a perfect nest (its body is not one loop)")
    inner = next((s for s in loop_sites(outer.module) if s.loop is body[0]), None)
    if inner is None:
        raise PassError(f"loop-fuse: the loop inside the loop over `{outer.var}` is not canonical")
    return check_loop(inner, "loop-fuse")


def fuse_siblings(module: ir.Module, var: str, *, function: str = "", nth: int = 0) -> ir.Module:
    """``module`` with the loop over ``var`` and the loop after it merged into one (same bounds)."""
    first = find_loop(module, "loop-fuse", var, function, nth)
    second = next_loop(first, "loop-fuse")
    body1, body2 = sibling_bodies(first, second, "loop-fuse")
    fused = ir.For(first.loop.init, first.loop.cond, first.loop.step, ir.Block((body1, body2)),
                   joint_kind(first.loop, second.loop))
    check_fusion(first, fused, "loop-fuse")
    return first.replace(ir.For(fused.init, fused.cond, fused.step, merge_blocks(body1, body2), fused.kind),
                         remove=second.loop)


def next_loop(first: LoopSite, pass_name: str) -> LoopSite:
    found = first.following()
    block, position = found if found is not None else (None, 0)
    following = block.body[position + 1] if block is not None and position + 1 < len(block.body) else None
    if not isinstance(following, ir.For):
        raise PassError(f"{pass_name}: the loop over `{first.var}` is not followed by a loop")
    second = next((s for s in loop_sites(first.module) if s.loop is following), None)
    if second is None:
        raise PassError(f"{pass_name}: the loop after the loop over `{first.var}` is not canonical")
    return check_loop(second, pass_name)


def sibling_bodies(first: LoopSite, second: LoopSite, pass_name: str) -> tuple[ir.Block, ir.Block]:
    """The two bodies over the first loop's variable, after checking the bounds are the same."""
    for what, a, b in (("start", first.start, second.start), ("bound", first.stop, second.stop),
                       ("step", first.step, second.step)):
        if printed(a) != printed(b):
            raise PassError(f"{pass_name}: the loops over `{first.var}` and `{second.var}` have different "
                            f"{what}s ({printed(a)} and {printed(b)})")
    problem = invariant_bounds(second, set(), first.loop.body)
    if problem:
        raise PassError(f"{pass_name}: the bounds of the loop over `{second.var}` {problem}")
    body2 = second.loop.body
    if second.var != first.var:
        if first.var in names_in(body2):
            raise PassError(f"{pass_name}: the loop over `{second.var}` uses the name `{first.var}`")
        body2 = ir.rename(body2, {second.var: first.var})
    as_block = (lambda b: b if isinstance(b, ir.Block) else ir.Block((b,)))
    return as_block(first.loop.body), as_block(body2)


def check_fusion(first: LoopSite, fused: ir.For, pass_name: str) -> None:
    """Refuse unless running the second body of ``fused`` (statement 1) right after the first
    (statement 0) in every iteration keeps every dependence of the two loops."""
    escape = jumps_out(fused.body.body[0].body)
    if escape:
        raise PassError(f"{pass_name}: the first loop {escape}")
    try:
        accesses = LoopAccesses(fused, env=first.env)
        accesses.check_structure()
        found = accesses.conflict(lambda v1, v2: v1[first.var] < v2[first.var],
                                  lambda a, b: a.stmt == 1 and b.stmt == 0)
    except Obstacle as reason:
        raise PassError(f"{pass_name}: {reason}") from None
    if found is not None:
        later, earlier = found.first_at[first.var], found.second_at[first.var]
        raise PassError(f"{pass_name}: {found.first.text} of the second loop ({first.var} = {later}) would run "
                        f"before {found.second.text} of the first loop ({first.var} = {earlier}), and they "
                        "touch the same location")


def merge_blocks(first: ir.Block, second: ir.Block) -> ir.Block:
    """One block of both statement lists when no name the first declares is used by the second."""
    if declared_in(first.body) & names_in(second):
        return ir.Block((first, second))
    return ir.Block(first.body + second.body)


@register
@dataclass(frozen=True)
class LoopFuse(ModulePass):
    """Collapse a perfect nest into one loop, or merge a loop with the next one (``mode=siblings``)."""

    name: ClassVar[str] = "loop-fuse"
    summary: ClassVar[str] = "a perfect nest becomes one loop (or two adjacent loops merge: mode=siblings)"

    loop: str = ""
    mode: str = "nest"
    function: str = ""
    nth: int = 0

    def apply(self, module: ir.Module) -> ir.Module:
        if self.mode not in MODES:
            raise PassError(f"loop-fuse: mode is one of {', '.join(MODES)}, got {self.mode!r}")
        fuse = fuse_nest if self.mode == "nest" else fuse_siblings
        return fuse(module, self.loop, function=self.function, nth=self.nth)

    @classmethod
    def schedule_space(cls, module) -> Iterator["LoopFuse"]:
        """Every loop whose body is one loop, and every loop followed by a loop with the same bounds
        (legality is checked when applied)."""
        for site in loop_sites(module):
            body = body_statements(site.loop)
            if len(body) == 1 and isinstance(body[0], ir.For) and body[0].canonical() is not None:
                yield cls(**loop_params(site))
            found = site.following()
            if found is not None and found[1] + 1 < len(found[0].body):
                following = found[0].body[found[1] + 1]
                if isinstance(following, ir.For) and following.canonical() is not None and \
                        [printed(e) for e in following.canonical()[1:]] == \
                        [printed(e) for e in (site.start, site.stop, site.step)]:
                    yield cls(mode="siblings", **loop_params(site))
