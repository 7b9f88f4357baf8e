"""A custom xpiler pass living outside the xpiler package.

Install this folder (``pip install examples/custom_pass``) and the pass is found through the
``xpiler.passes`` entry point:

    xpiler passes                                      # lists strip-comments
    xpiler translate k.cu --to hip --pipeline 'strip-comments{keep_license=true},simt-port{target=hip}'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from xpiler import ir
from xpiler.passes.base import ModulePass


@dataclass(frozen=True)
class StripComments(ModulePass):
    """Remove comments; with ``keep_license`` the comments before the first item (the licence block) stay."""

    name: ClassVar[str] = "strip-comments"
    summary: ClassVar[str] = "remove comments (optionally keeping the leading licence block)"
    keep_license: bool = False

    def apply(self, module: ir.Module) -> ir.Module:
        def drop(node):
            if isinstance(node, ir.Block):
                kept = tuple(s for s in node.body if not isinstance(s, ir.Comment))
                return node if len(kept) == len(node.body) else ir.Block(kept)
            return node

        items, leading = [], self.keep_license
        for item in module.items:
            if isinstance(item, ir.Comment):
                if leading:
                    items.append(item)
                continue
            leading = False
            items.append(item)
        return ir.rewrite(ir.Module(module.dialect, tuple(items), module.filename), drop)
