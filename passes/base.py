"""What a pass is, and how passes are named, registered and written down.

A pass is a small frozen dataclass (the model is xDSL's ``ModulePass``): a ``name``, parameters as
dataclass fields, and ``apply(module) -> module``, a pure function of the IR (the IR is immutable, so
a pass cannot modify its input by accident). A pass can enumerate its meaningful instances for a
program (``schedule_space``), which is what the tuner searches.

Passes are written down as spec strings, the same in Python, on the command line and in dumps::

    loop-recovery,detensorize,loop-split{loop=i factor=16}

A spec names the pass and its non-default parameters (``key=value`` separated by spaces or commas;
values are ints, floats, ``true``/``false``, or strings, quoted when they contain spaces). Printing a
pass and parsing the text back gives an equal pass, so pipelines can be printed and replayed.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import ClassVar, Iterator

from xpiler import ir
from xpiler.errors import XpilerError


class PassError(XpilerError):
    """A bad pass spec, an unknown pass or parameter, or a pass that cannot apply to a program."""


@dataclass(frozen=True)
class ModulePass:
    """Base of passes. Subclasses are frozen dataclasses with a class attribute ``name``."""

    name: ClassVar[str] = ""
    #: one line for `xpiler passes` and error messages
    summary: ClassVar[str] = ""

    def apply(self, module):
        raise NotImplementedError(f"pass {self.name!r} does not implement apply()")

    def require_target(self, implemented: tuple[str, ...]) -> None:
        """Raise for a ``target`` parameter this pass has no implementation for (yet)."""
        if self.target not in implemented:
            raise PassError(f"{self.name}: target {self.target!r} is not implemented (implemented: "
                            f"{', '.join(implemented)})")

    @classmethod
    def schedule_space(cls, module) -> Iterator["ModulePass"]:
        """The instances of this pass worth trying on ``module`` (default: the default instance)."""
        yield cls()

    # ---- spec strings ------------------------------------------------------------------------
    def spec(self) -> str:
        params = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            default = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING)
            if value != default:
                params.append(f"{f.name}={_format_value(value)}")
        return self.name + ("{" + " ".join(params) + "}" if params else "")

    def __str__(self) -> str:
        return self.spec()


def _format_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (tuple, list)):
        return "[" + ",".join(_format_value(v) for v in value) + "]"
    text = str(value)
    return text if re.fullmatch(r"[\w.:+-]+", text) else '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:\\.|[^"\\])*")|(?P<list>\[[^\]]*\])|(?P<word>[^\s,=}{"\[\]]+)|(?P<punct>[=,{}]))')


def _parse_value(token: str):
    if token.startswith('"'):
        return re.sub(r"\\(.)", r"\1", token[1:-1])
    if token.startswith("["):
        inner = token[1:-1].strip()
        return tuple(_parse_value(t.strip()) for t in inner.split(",")) if inner else ()
    if token in ("true", "false"):
        return token == "true"
    for kind in (int, float):
        try:
            return kind(token)
        except ValueError:
            pass
    return token


def parse_pipeline(spec: str) -> list[tuple[str, dict]]:
    """``"a,b{x=1 y=two}"`` -> ``[("a", {}), ("b", {"x": 1, "y": "two"})]``."""
    if not isinstance(spec, str):
        raise PassError(f"a pipeline spec is a string, got {type(spec).__name__}")
    tokens, pos = [], 0
    while pos < len(spec):
        if spec[pos:].strip() == "":
            break
        m = _TOKEN.match(spec, pos)
        if not m or m.end() == pos:
            raise PassError(f"pipeline spec: unexpected {spec[pos:].strip()[:20]!r} at column {pos + 1}")
        tokens.append((m.lastgroup, m.group(m.lastgroup), m.start(m.lastgroup)))
        pos = m.end()
    out: list[tuple[str, dict]] = []
    i = 0

    def fail(message: str, at: int):
        raise PassError(f"pipeline spec {spec!r}: {message} at column {at + 1}")

    while i < len(tokens):
        kind, text, at = tokens[i]
        if kind != "word":
            fail(f"expected a pass name, got {text!r}", at)
        name, params = text, {}
        i += 1
        if i < len(tokens) and tokens[i][1] == "{":
            i += 1
            while True:
                if i >= len(tokens):
                    fail("unclosed '{'", len(spec) - 1)
                kind, text, at = tokens[i]
                if text == "}":
                    i += 1
                    break
                if text == ",":
                    i += 1
                    continue
                if kind != "word":
                    fail(f"expected a parameter name, got {text!r}", at)
                if i + 1 >= len(tokens) or tokens[i + 1][1] != "=" or i + 2 >= len(tokens):
                    fail(f"expected '{text}=<value>'", at)
                value_kind, value, value_at = tokens[i + 2]
                if value_kind == "punct":
                    fail(f"expected a value for {text!r}", value_at)
                if text in params:
                    fail(f"parameter {text!r} given twice", at)
                params[text] = _parse_value(value)
                i += 3
        out.append((name, params))
        if i < len(tokens):
            if tokens[i][1] != ",":
                fail(f"expected ',' between passes, got {tokens[i][1]!r}", tokens[i][2])
            i += 1
            if i == len(tokens):
                fail("trailing ','", tokens[i - 1][2])
    if not out:
        raise PassError("empty pipeline spec")
    return out


def rewrite_kernels(module, visitor_for):
    """``module`` with every kernel's body rewritten bottom up (``ir.rewrite``) by
    ``visitor_for(kernel)``, a node rewriter made for that kernel; other functions as they are."""
    return map_function_bodies(module, lambda f: ir.rewrite(f.body, visitor_for(f)) if f.kind == "kernel" else f.body)


def map_function_bodies(module, fn):
    """``module`` with ``fn(function) -> body`` applied to every function that has a body (inside
    ``extern "C"`` blocks too)."""
    def item(i):
        if isinstance(i, ir.ExternC):
            return dataclasses.replace(i, items=tuple(item(x) for x in i.items))
        if isinstance(i, ir.Function) and i.body is not None:
            return dataclasses.replace(i, body=fn(i))
        return i
    return dataclasses.replace(module, items=tuple(item(i) for i in module.items))
