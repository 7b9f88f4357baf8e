"""Loop reorder (``loop-reorder{order=[j,i]}``): permute the loops of a perfect nest (TVM's
``reorder``; interchange for two loops)::

    for (i...) for (j...) body(i, j)   ->   for (j...) for (i...) body(i, j)

``order`` lists the nest's loop variables, outermost first, in the new order; the nest is the perfect
chain of loops over exactly those variables (the ``nth`` such chain of ``function`` when given). The
bounds of every loop of the chain must not depend on the others' variables (a rectangular nest) nor
change inside it.

Legality: permuting runs the iterations of the nest in another lexicographic order. It keeps the
program's meaning unless two iterations ``p`` and ``q`` that touch a common location (one of them
writing) swap: ``p`` before ``q`` in the original order and after it in the new one. That is one
query per pair of accesses to the dependence analysis (:mod:`xpiler.ir.dependence`) with the
direction constraint ``p <_old q and q <_new p`` over the two symbolic iterations; a dependence
found is reported with the two iterations, e.g. ``A[i * 8 + j] at (i = 0, j = 1) and A[(i - 1) * 8
+ j + 1] at (i = 1, j = 0) touch the same location``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import ClassVar, Iterator

import z3

from xpiler import ir
from xpiler.ir.dependence import LoopAccesses, Obstacle

from .base import ModulePass, PassError
from .loop_split import LoopSite, body_statements, check_loop, invariant_bounds, loop_sites
from .registry import register

#: Longest chain whose permutations the schedule space lists.
MAX_SPACE_DEPTH = 3


def reorder_loops(module: ir.Module, order, *, function: str = "", nth: int = 0) -> ir.Module:
    """``module`` with the perfect nest over the variables of ``order`` permuted into that order."""
    order = _order(order)
    chains = [c for c in (perfect_chain(s, len(order)) for s in loop_sites(module)
                          if s.var in order and (not function or s.function.name == function))
              if c is not None and sorted(s.var for s in c) == sorted(order)]
    where = f" in function {function}" if function else ""
    if not chains:
        raise PassError(f"loop-reorder: no perfect nest of loops over {', '.join(sorted(order))}{where}")
    if nth >= len(chains):
        raise PassError(f"loop-reorder: there are {len(chains)} nests over {', '.join(sorted(order))}{where}, "
                        f"not {nth + 1}")
    chain = chains[nth]
    innermost = chain[-1].loop.body
    for site in chain:
        check_loop(site, "loop-reorder")
        problem = invariant_bounds(site, {s.var for s in chain} - {site.var}, innermost)
        if problem:
            raise PassError(f"loop-reorder: the bounds of the loop over `{site.var}` {problem}")
    check_permutation(chain, order)
    headers = {s.var: s.loop for s in chain}
    nest = innermost
    for var in reversed(order):
        loop = headers[var]
        nest = ir.For(loop.init, loop.cond, loop.step, nest if isinstance(nest, ir.Block) else ir.Block((nest,)),
                      loop.kind)
    return chain[0].replace(nest)


def _order(order) -> tuple[str, ...]:
    """``("j", "i")`` from a tuple or from the text ``"j,i"``."""
    names = [n.strip() for part in ((order,) if isinstance(order, str) else order) for n in str(part).split(",")]
    names = [n for n in names if n]
    if len(names) < 2 or len(set(names)) != len(names):
        raise PassError(f"loop-reorder: order lists two or more distinct loop variables, got {order!r}")
    return tuple(names)


def perfect_chain(site: LoopSite, depth: int) -> list[LoopSite] | None:
    """The ``depth`` loops from ``site`` down its perfect nest (each body exactly one canonical loop)."""
    chain = [site]
    sites = {id(s.loop): s for s in loop_sites(site.module)}
    while len(chain) < depth:
        body = body_statements(chain[-1].loop)
        if len(body) != 1 or id(body[0]) not in sites:
            return None
        chain.append(sites[id(body[0])])
    return chain


def check_permutation(chain: list[LoopSite], order: tuple[str, ...]) -> None:
    """Refuse when two dependent iterations of the nest would swap under ``order``."""
    old = [s.var for s in chain]
    try:
        accesses = LoopAccesses(chain[0].loop, env=chain[0].env)
        accesses.check_structure()
        found = accesses.conflict(lambda p, q: z3.And(_before(p, q, old), _before(q, p, order)))
    except Obstacle as reason:
        raise PassError(f"loop-reorder: {reason}") from None
    if found is not None:
        raise PassError(
            f"loop-reorder: {found.first.text} at ({_at(found.first_at, old)}) and {found.second.text} at "
            f"({_at(found.second_at, old)}) touch the same location; the order {','.join(order)} would run "
            "them the other way round")


def _before(p, q, variables) -> object:
    """z3: iteration ``p`` comes before iteration ``q`` in the lexicographic order of ``variables``."""
    cases = []
    for k, var in enumerate(variables):
        cases.append(z3.And(*[p[v] == q[v] for v in variables[:k]], p[var] < q[var]))
    return z3.Or(*cases)


def _at(values: dict, variables) -> str:
    return ", ".join(f"{v} = {values[v]}" for v in variables)


@register
@dataclass(frozen=True)
class LoopReorder(ModulePass):
    """Permute the loops of a perfect nest when no dependence forbids it."""

    name: ClassVar[str] = "loop-reorder"
    summary: ClassVar[str] = "the loops of a perfect nest change order (checked against dependences)"

    order: tuple = ()
    function: str = ""
    nth: int = 0

    def apply(self, module: ir.Module) -> ir.Module:
        return reorder_loops(module, self.order, function=self.function, nth=self.nth)

    @classmethod
    def schedule_space(cls, module) -> Iterator["LoopReorder"]:
        """Every other order of every perfect chain of 2 or 3 rectangular loops (legality is checked
        when applied)."""
        named = len([f for f in module.functions() if f.body is not None]) > 1
        seen: dict[tuple, int] = {}
        for site in loop_sites(module):
            for depth in range(2, MAX_SPACE_DEPTH + 1):
                chain = perfect_chain(site, depth)
                if chain is None or any(invariant_bounds(s, {c.var for c in chain} - {s.var}, chain[-1].loop.body)
                                        for s in chain):
                    break
                variables = [s.var for s in chain]
                key = (site.function.name, frozenset(variables))
                nth = seen[key] = seen.get(key, -1) + 1
                params = dict(function=site.function.name) if named else {}
                if nth:
                    params["nth"] = nth
                for order in itertools.permutations(variables):
                    if list(order) != variables:
                        yield cls(order=order, **params)
