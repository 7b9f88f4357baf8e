"""Unique names (``unique-names``): every local a function declares in a block has a name of its own.

Inlining and lowering leave functions where one name is declared several times in different
blocks: two ``float *dst`` aimed at different buffers, a loop counter ``s`` and a ``double s``
accumulator. The analyses that follow a name to what it holds (the buffer a pointer points into, the
value an integer keeps) then have to give up on it. This pass renames such declarations, scope by
scope, so that::

    { float *dst = pad + off;  ... dst[i] = ... }          { float *dst = pad + off;  ... dst[i] = ... }
    { float *dst = y + off;    ... dst[i] = ... }    =>    { float *dst_1 = y + off;  ... dst_1[i] = ... }

**What is renamed.** A declaration statement (not a loop's own counter) whose name is already
declared earlier in the function (a parameter, or a declaration met before in source order), and
a loop counter whose name some declaration statement of the function also declares. Loop counters
reused from loop to loop (``for (int i ...)`` again and again) keep their names: each is scoped to
its loop, which is how every analysis reads them. A new name is the old one with the first free
suffix ``_1``, ``_2``, ... (free in the whole module). Names that appear in source the IR keeps as
text (``Verbatim``) are left alone.

**Exact.** A renamed declaration and every use in its scope (the rest of its block; a loop's
header and body) change together; C's scope of a declarator starts at the declarator, so its
initializer is renamed too. A declaration in that scope that declares the name again is renamed
with it and, being a repeat itself, renamed once more when it is met.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from dataclasses import dataclass
from typing import ClassVar

from xpiler import ir
from xpiler.ir.transform import rename
from xpiler.ir.types import TypeEnv

from .base import ModulePass, map_function_bodies
from .loop_split import fresh
from .registry import register


class _Renamer:
    def __init__(self, function: ir.Function, taken: set[str]):
        self.taken = taken
        self.seen = {p.name for p in function.params}
        self.statement_names = Counter(v.name for n in ir.walk(function.body) if isinstance(n, ir.Decl)
                                       for v in n.vars) - Counter(_counter_names(function.body))
        self.textual = {w for n in ir.walk(function.body) if isinstance(n, ir.Verbatim)
                        for w in re.findall(r"[A-Za-z_]\w*", n.text)}

    def block(self, stmts: tuple) -> tuple:
        out, rest = [], list(stmts)
        while rest:
            s = rest.pop(0)
            if isinstance(s, ir.Decl):
                mapping = self.declare(s.vars, repeat=lambda name: name in self.seen)
                if mapping:
                    s = rename(s, mapping)
                    rest = [rename(x, mapping) for x in rest]
                out.append(s)
            else:
                out.append(self.statement(s))
        return tuple(out)

    def declare(self, declarators, repeat) -> dict[str, str]:
        mapping = {}
        for v in declarators:
            if repeat(v.name) and v.name not in self.textual:
                mapping[v.name] = fresh(v.name, self.taken)
            self.seen.add(mapping.get(v.name, v.name))
        return mapping

    def statement(self, s):
        if isinstance(s, ir.Block):
            return dataclasses.replace(s, body=self.block(s.body))
        if isinstance(s, ir.For) and isinstance(s.init, ir.Decl):
            mapping = self.declare(s.init.vars, repeat=lambda name: self.statement_names[name] > 0)
            if mapping:
                s = rename(s, mapping)
            return dataclasses.replace(s, body=self.statement(s.body))
        if isinstance(s, ir.Stmt):
            changes = {f.name: self.statement(getattr(s, f.name)) for f in dataclasses.fields(s)
                       if isinstance(getattr(s, f.name), ir.Stmt)}
            return dataclasses.replace(s, **changes) if changes else s
        return s


def _counter_names(body) -> list[str]:
    return [v.name for n in ir.walk(body) if isinstance(n, ir.For) and isinstance(n.init, ir.Decl)
            for v in n.init.vars]


def unique_names(function: ir.Function, taken: set[str]) -> ir.Block:
    """``function``'s body with its repeated local declarations renamed (see the module)."""
    return _Renamer(function, taken).statement(function.body)


@register
@dataclass(frozen=True)
class UniqueNames(ModulePass):
    """Local declarations that repeat a name get names of their own (see the module)."""

    name: ClassVar[str] = "unique-names"
    summary: ClassVar[str] = "a local declared again in another block gets a name of its own"

    def apply(self, module: ir.Module) -> ir.Module:
        taken = {n.id for n in ir.walk(module) if isinstance(n, ir.Name)} | \
            {d.name for d in ir.walk(module) if isinstance(d, ir.Declarator)} | set(TypeEnv.for_module(module).names)
        return map_function_bodies(module, lambda f: unique_names(f, taken))
