"""Mask bounds (``mask-bounds``): a lane test of a prefix mask becomes a comparison.

A masked vector tail keeps its first ``w`` lanes with the mask ``(1u << w) - 1``; detensorized, every
masked lane asks the mask's bit::

    const uint16_t k = (uint16_t)((1u << w) - 1);          const uint16_t k = ...;
    for (int i = 0; i < 16; ++i)                     ->    for (int i = 0; i < 16; ++i)
      if ((k >> i) & 1) y[j + i] = c[i];                     if (i < w) y[j + i] = c[i];

Both say the same wherever the left-hand side is defined (the shift needs ``0 <= w < 32``): for
``i`` in ``[0, bits)`` (``bits`` the width of the mask's type), bit ``i`` of ``(1u << w) - 1``
truncated to ``bits`` bits is set exactly when ``i < w``. The right-hand side is what the dependence
analysis understands (``y[j + i]`` stays below ``j + w``), so masked stores stop looking like they
may overlap. Rewritten when:

* the mask is a local declared once, never assigned, initialised with ``(1u << e) - 1`` or ``(1 <<
  e) - 1`` (optionally cast to an unsigned type), ``e`` reading no memory and only names that
  nothing assigns but loop headers (so ``e`` means the same at the test);
* the bit index ``i`` is the variable of an enclosing loop ``for (int i = 0; i < L; ++i)`` with
  ``L`` at most the mask's width.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from xpiler import ir
from xpiler.ir.analysis import strip_parens
from xpiler.ir.effects import declaration_counts, touches_memory, used_names

from .base import ModulePass, map_function_bodies
from .cleanup import assigned_outside_headers
from .constant_fold import int_value
from .loop_split import constant_length
from .registry import register

WIDTHS = {"uint8_t": 8, "unsigned char": 8, "uint16_t": 16, "unsigned short": 16, "uint32_t": 32,
          "unsigned": 32, "unsigned int": 32, "int": 31}


def _prefix_length(e) -> tuple[ir.Expr, int] | None:
    """``(e, width)`` when ``e`` is ``[(T)]((1u << e) - 1)``."""
    e = strip_parens(e)
    width = 32
    if isinstance(e, ir.Cast):
        if e.type.pointer or e.type.base not in WIDTHS:
            return None
        width = WIDTHS[e.type.base]
        e = strip_parens(e.operand)
    if not (isinstance(e, ir.BinOp) and e.op == "-" and int_value(e.right) == 1):
        return None
    shift = strip_parens(e.left)
    if not (isinstance(shift, ir.BinOp) and shift.op == "<<" and int_value(shift.left) == 1):
        return None
    one = strip_parens(shift.left)
    width = min(width, 32 if isinstance(one, ir.Const) and "u" in one.text.lower() else 31)
    return shift.right, width


def bound_masks(function: ir.Function) -> ir.Block:
    declared = declaration_counts(function.body)
    assigned = assigned_outside_headers(function.body)
    masks = {}
    for n in ir.walk(function.body):
        if isinstance(n, ir.Declarator) and declared[n.name] == 1 and n.name not in assigned and not n.dims \
                and n.init is not None and not n.type.pointer:
            found = _prefix_length(n.init)
            if found and not touches_memory(found[0]) and not (used_names(found[0]) & assigned):
                width = min(found[1], WIDTHS.get(n.type.base, 0))
                if width:
                    masks[n.name] = (found[0], width)
    if not masks:
        return function.body

    def visit(n, lanes: dict):
        if isinstance(n, ir.For):
            length = constant_length(n)
            inner = lanes if length is None else {**lanes, n.canonical()[0]: length}
            return ir.map_children(n, lambda c: visit(c, inner if c is n.body else lanes))
        if isinstance(n, ir.BinOp) and n.op == "&" and int_value(n.right) == 1:
            shifted = strip_parens(n.left)
            if isinstance(shifted, ir.BinOp) and shifted.op == ">>" and isinstance(strip_parens(shifted.left), ir.Name) \
                    and isinstance(strip_parens(shifted.right), ir.Name):
                mask, bit = strip_parens(shifted.left).id, strip_parens(shifted.right).id
                if mask in masks and bit in lanes and lanes[bit] <= masks[mask][1]:
                    return ir.Paren(ir.BinOp("<", ir.Name(bit), ir.Paren(masks[mask][0])))
        return ir.map_children(n, lambda c: visit(c, lanes)) if hasattr(n, "__dataclass_fields__") else n
    return visit(function.body, {})


@register
@dataclass(frozen=True)
class MaskBounds(ModulePass):
    """``(k >> i) & 1`` of a prefix mask ``k = (1u << w) - 1`` becomes ``i < w`` (for lane indices)."""

    name: ClassVar[str] = "mask-bounds"
    summary: ClassVar[str] = "lane tests of prefix masks ((k >> i) & 1, k = (1u << w) - 1) become i < w"

    def apply(self, module: ir.Module) -> ir.Module:
        return map_function_bodies(module, bound_masks)
