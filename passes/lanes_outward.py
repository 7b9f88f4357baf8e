"""Lanes outward (``lanes-outward``): the lane loops of vector code become one loop around the code.

Detensorized vector code runs every vector operation as its own loop over the lanes, inside the
loops of the algorithm (a pooling window, a reduction over taps)::

    float m[16];                                    for (int l = 0; l < 16; ++l) {
    for (int i = 0; i < 16; ++i) m[i] = -FLT_MAX;     float m;
    for (int kh = 0; kh < 3; ++kh)                    m = -FLT_MAX;
      for (int kw = 0; kw < 3; ++kw)          ->      for (int kh = 0; kh < 3; ++kh)
        for (int i = 0; i < 16; ++i)                    for (int kw = 0; kw < 3; ++kw)
          m[i] = max(m[i], p[kh][kw][i]);                 m = max(m, p[kh][kw][l]);
    for (int i = 0; i < 16; ++i) y[i] = m[i];         y[l] = m;
                                                    }

On the left a GPU can hand out only the outer loops; on the right the lanes are one more parallel
loop of the nest (one thread per lane, coalesced) and the vector temporaries are registers.

A block is rewritten when it holds at least two *lane loops* (``for (int i = 0; i < L; ++i)``, the
same constant ``L >= 8``, with no such loop inside) at any depth, and:

* each lane loop assigns no scalar declared outside it (a horizontal reduction ``s += v[i]`` couples
  the lanes: refused);
* it is not a function's body (its loops become kernels of their own: a vector loop over
  independent chunks and its masked tail stay apart, the chunks the parallel loop);
* the new loop over the lanes, with the block's arrays declared outside it (shared by the lanes, as
  they were), has no dependence between two lanes (:func:`xpiler.ir.dependence.parallel_obstacle`).

Then running the block once per lane gives the same result as running each vector operation over all
lanes in turn: within a lane the statements keep their order, and the lanes touch disjoint data.
Code outside the lane loops (scalar declarations, loop headers) runs once per lane, which the
dependence check allows only when it writes nothing shared. Afterwards an array of the block used only
at ``[l]`` becomes a scalar of the lane. Blocks are visited innermost first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from xpiler import ir
from xpiler.ir.dependence import assuming, function_env, parallel_obstacle, range_guard
from xpiler.ir.effects import assigned_scalars, declared_names

from .base import ModulePass, map_function_bodies
from .cleanup import names_in
from .loop_split import const, constant_length, fresh, name, substitute
from .registry import register
from .scalar_replace import elements_as_scalars, used_only_at


#: the shortest loop taken for the lanes of a vector (8 x 32-bit is AVX; narrower loops are more
#: likely a window of taps)
MIN_LANES = 8


def lane_length(s) -> int | None:
    """``L`` when ``s`` is ``for (int i = 0; i < L; ++i)`` with a constant ``L >= MIN_LANES``."""
    length = constant_length(s)
    return length if length is not None and length >= MIN_LANES else None


def lane_loops(node) -> list[ir.For]:
    """The lane loops under ``node``: loops ``for (int i = 0; i < L; ++i)`` with no such loop inside
    (the loop of a vector operation; a constant loop around them, like the taps of a window, is
    not one)."""
    if lane_length(node) and not any(lane_length(n) for n in ir.walk(node.body)):
        return [node]
    if isinstance(node, (ir.Expr, ir.Declarator)) or not hasattr(node, "__dataclass_fields__"):
        return []
    found = []
    ir.map_children(node, lambda child: found.extend(lane_loops(child)) or child)
    return found


class _Lanes:
    def __init__(self, module: ir.Module, function: ir.Function):
        self.env = function_env(module, function)
        self.taken = names_in(function)

    def visit(self, node, ranges: tuple):
        """Blocks innermost first; ``ranges`` are the guards ``start <= v && v < stop`` of the
        enclosing canonical loops, which the dependence check may assume."""
        if isinstance(node, ir.For):
            guard = range_guard(node)
            inner = ranges + (guard,) if guard is not None else ranges
            return ir.map_children(node, lambda c: self.visit(c, inner if c is node.body else ranges))
        if isinstance(node, ir.Block):
            return self.block(ir.map_children(node, lambda c: self.visit(c, ranges)), ranges)
        return ir.map_children(node, lambda c: self.visit(c, ranges)) if isinstance(node, ir.Stmt) else node

    def block(self, node, ranges: tuple):
        loops = [l for s in node.body for l in lane_loops(s)]
        lengths = {lane_length(l) for l in loops}
        if len(loops) < 2 or len(lengths) != 1:
            return node
        for l in loops:
            if assigned_scalars(l.body) - declared_names(l.body):
                return node
        lane = fresh("lane", self.taken)
        ids = {id(l) for l in loops}
        arrays: list[ir.Decl] = []  # declared outside the lane loops: shared by the lanes

        def inline(n):
            if isinstance(n, ir.For) and id(n) in ids:
                var = n.canonical()[0]
                return substitute(n.body, {var: name(lane)})
            if isinstance(n, ir.Block):
                kept = []
                for s in n.body:
                    if isinstance(s, ir.Decl) and any(v.dims for v in s.vars):
                        arrays.append(s)
                    else:
                        kept.append(inline(s))
                return ir.Block(tuple(kept))
            return ir.map_children(n, inline) if isinstance(n, ir.Stmt) else n
        rest = inline(node).body
        hoisted = [v for d in arrays for v in d.vars]
        if any(v.init is not None or v.ctor_args is not None or not v.dims for v in hoisted) or \
                len({v.name for v in hoisted}) != len(hoisted) or \
                any(isinstance(n, ir.Declarator) and n.name in {v.name for v in hoisted} for n in ir.walk(ir.Block(rest))):
            return node  # hoisting would change which declaration a name means
        loop = ir.For(ir.Decl((ir.Declarator(lane, ir.Type("int"), (), const(0)),)),
                      ir.BinOp("<", name(lane), const(lengths.pop())), ir.UnOp("++", name(lane)), ir.Block(rest))
        if parallel_obstacle(assuming(loop, ranges), env=self.env) is not None:
            return node
        return ir.Block(tuple(self.scalarize(arrays, loop, lane)))

    def scalarize(self, arrays: list, loop: ir.For, lane: str) -> list:
        """The block: arrays used only at ``[lane]`` become scalars declared at the top of the lane
        loop (every element belongs to one lane, which is the only one to read it)."""
        kept, scalars = [], []
        for decl in arrays:
            for v in decl.vars:
                if len(v.dims) == 1 and v.init is None and used_only_at(loop, v.name, lane):
                    scalars.append(v)
                else:
                    kept.append(ir.Decl((v,), decl.scope, decl.storage))
        body = elements_as_scalars(loop.body, {v.name for v in scalars})
        declared = tuple(ir.Decl((ir.Declarator(v.name, v.type),)) for v in scalars)
        return kept + [ir.For(loop.init, loop.cond, loop.step, ir.Block(declared + body.body), loop.kind)]


def lanes_outward(module: ir.Module) -> ir.Module:
    def body(f: ir.Function) -> ir.Block:
        if not lane_loops(f.body):
            return f.body
        lanes = _Lanes(module, f)  # the function's own block is left to outline: its loops are kernels
        return ir.Block(tuple(lanes.visit(s, ()) for s in f.body.body))
    return map_function_bodies(module, body)


@register
@dataclass(frozen=True)
class LanesOutward(ModulePass):
    """The lane loops of a block become one loop around the block, where the lanes are independent."""

    name: ClassVar[str] = "lanes-outward"
    summary: ClassVar[str] = "lane loops of vector code become one loop around it (lanes independent)"

    def apply(self, module: ir.Module) -> ir.Module:
        return lanes_outward(module)
