"""Generic tree rewriting for the immutable IR."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Callable

Rewrite = Callable[[object], object]


def _is_node(value) -> bool:
    return hasattr(value, "__dataclass_fields__")


def map_children(node, fn: Rewrite):
    """A copy of ``node`` with ``fn`` applied to each direct child node (tuples element-wise)."""
    changes = {}
    for f in fields(node):
        if f.name == "loc":
            continue
        value = getattr(node, f.name)
        if isinstance(value, tuple):
            new = tuple(fn(v) if _is_node(v) else v for v in value)
            if any(a is not b for a, b in zip(new, value)):
                changes[f.name] = new
        elif _is_node(value):
            new = fn(value)
            if new is not value:
                changes[f.name] = new
    return replace(node, **changes) if changes else node


def rewrite(node, fn: Rewrite):
    """Rewrite bottom-up: children first, then ``fn`` on the rebuilt node. ``fn`` returns the node
    unchanged (the same object) when it has nothing to do."""
    return fn(map_children(node, lambda child: rewrite(child, fn)))


def rename(node, mapping: dict[str, str]):
    """Rename variables: every ``Name`` and every declared name (``Declarator``) in ``mapping``."""
    from .nodes import Declarator, Name

    def fn(n):
        if isinstance(n, Name) and n.id in mapping:
            return Name(mapping[n.id])
        if isinstance(n, Declarator) and n.name in mapping:
            return replace(n, name=mapping[n.name])
        return n
    return rewrite(node, fn)
