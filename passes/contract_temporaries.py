"""Contract temporaries (``contract-temporaries``): ``loop-contraction`` wherever it is legal.

Detensorized vector code computes every intrinsic as its own lane loop into its own temporary
array::

    float v[16];                                    for (int i = 0; i < 16; ++i) {
    for (int i = 0; i < 16; ++i) v[i] = A[j + i];      float v = A[j + i];
    float r[16];                              ->        float r = v > 0 ? v : 0;
    for (int i = 0; i < 16; ++i) r[i] = ...v[i]...;    out[j + i] = r;
    for (int i = 0; i < 16; ++i) out[j + i] = r[i];   }

A GPU wants the right-hand side: one loop, which binds to threads like any other, with the
temporaries in registers. This pass is the default schedule of :mod:`passes.loop_contraction`: it
applies every instance of ``loop-contraction`` that ``schedule_space`` proposes and that is legal
(the pass checks legality itself, with the dependence analysis), until none applies; when none
does, two adjacent loops with the same bounds, the first of which writes a local array, are fused
(``loop-fuse{mode=siblings}``, where legal), since that may make the temporaries of both
contractible by a later loop. Before all that,
an array declaration without initialiser that sits between a producer loop and its consumer moves
above the producer (declaring earlier changes nothing when the producer does not use the name), so
that the two loops are adjacent.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import ClassVar

from xpiler import ir
from xpiler.ir.dependence import is_parallel
from xpiler.ir.effects import used_names

from .base import ModulePass, PassError, map_function_bodies
from .cleanup import names_in
from .loop_contraction import LoopContraction, arrays_written, local_arrays
from .loop_fuse import LoopFuse, next_loop
from .loop_split import find_loop, fresh
from .registry import register

#: contractions tried per module at most (each attempt may ask the dependence analysis)
ATTEMPT_LIMIT = 400


def _plain_array_decl(s) -> bool:
    return isinstance(s, ir.Decl) and "static" not in s.storage and s.scope == "local" and \
        all(v.dims and v.init is None and v.ctor_args is None for v in s.vars)


def _declarations_first(function: ir.Function) -> ir.Block:
    def block(n):
        if not isinstance(n, ir.Block):
            return n
        stmts = list(n.body)
        moved = True
        while moved:
            moved = False
            for k in range(1, len(stmts)):
                before, decl = stmts[k - 1], stmts[k]
                if isinstance(before, ir.For) and _plain_array_decl(decl) and \
                        not ({v.name for v in decl.vars} & used_names(before)):
                    stmts[k - 1], stmts[k] = decl, before
                    moved = True
        return ir.Block(tuple(stmts)) if stmts != list(n.body) else n
    return ir.rewrite(function.body, block)


def _fusions(module: ir.Module):
    """``loop-fuse{mode=siblings}`` instances whose first loop writes a local array (a temporary
    that a later loop may consume once the two are one), unless the second loop's iterations are
    independent and the first's are not: fused, the second would run in the first's order (mha's
    P V product, a parallel nest over rows and columns, became a part of the softmax's serial loop
    over rows)."""
    for candidate in LoopFuse.schedule_space(module):
        if candidate.mode != "siblings":
            continue
        site = find_loop(module, "loop-fuse", candidate.loop, candidate.function, candidate.nth)
        if arrays_written(site.loop.body) & local_arrays(site.function) and not _serialises(site):
            yield candidate


def _serialises(first) -> bool:
    try:
        second = next_loop(first, "loop-fuse")
    except PassError:
        return False
    return is_parallel(second.loop, env=second.env) and not is_parallel(first.loop, env=first.env)


def _unique_arrays(function: ir.Function) -> ir.Block:
    """The body with every local array declared under a name of its own: one declared again in
    another scope (``float a[16]`` in the loop and in the tail) is renamed over the rest of its
    scope, since contraction needs the temporary's one declaration."""
    taken = names_in(function)
    seen = {p.name for p in function.params}

    def visit(node):
        if not isinstance(node, ir.Block):
            return ir.map_children(node, visit) if isinstance(node, ir.Stmt) else node
        stmts = list(node.body)
        for k in range(len(stmts)):
            if isinstance(stmts[k], ir.Decl):
                mapping = {v.name: fresh(v.name, taken) for v in stmts[k].vars if v.dims and v.name in seen}
                if mapping:
                    stmts[k:] = [ir.rename(t, mapping) for t in stmts[k:]]
                seen.update(v.name for v in stmts[k].vars)
            stmts[k] = visit(stmts[k])
        return ir.Block(tuple(stmts))
    return visit(function.body)


def contract_temporaries(module: ir.Module) -> ir.Module:
    module = map_function_bodies(module, _unique_arrays)
    module = map_function_bodies(module, _declarations_first)
    failed: set[str] = set()  # specs that failed on the current module
    attempts = 0
    applied = True
    while applied:
        applied = False
        # contractions first; a sibling fusion only when none applies (it may make one possible)
        for candidate in itertools.chain(LoopContraction.schedule_space(module), _fusions(module)):
            key = candidate.spec()
            if key in failed:
                continue
            if attempts == ATTEMPT_LIMIT:
                return module
            attempts += 1
            try:
                module = candidate.apply(module)
            except PassError:
                failed.add(key)
                continue
            failed.clear()  # names and positions changed: earlier failures may now succeed
            applied = True
            break
    return module


@register
@dataclass(frozen=True)
class ContractTemporaries(ModulePass):
    """Merge every producer loop into its consumer and contract the temporary, where legal."""

    name: ClassVar[str] = "contract-temporaries"
    summary: ClassVar[str] = "loop-contraction applied wherever it is legal (lane loops of vector code fuse)"

    def apply(self, module: ir.Module) -> ir.Module:
        return contract_temporaries(module)
