"""The public API: parse, lift, emit, translate.

``translate(src, to=...)`` returns code text (conventions.md). Directions available now:

* the identity (``to`` equal to the source dialect): parse -> IR -> emit, a normalising round trip;
* CUDA <-> HIP through the IR (:mod:`xpiler.passes.simt_port`).

Every other direction raises :class:`~xpiler.errors.NotImplementedDirection` naming the passes it
needs (loop recovery and detensorize to lower to sequential C; bind, cache and tensorize to raise it
to the target).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import dialects
from .errors import NotImplementedDirection, SourceError, XpilerError
from .launch import Launch

# Options translate() accepts; anything else is an error, never silently ignored.
KNOWN_OPTIONS = {"launch", "wavefront", "filename"}


@dataclass
class Program:
    """A parsed program: its dialect, IR and what the IR kept verbatim."""

    dialect: str
    module: object
    verbatim: list = field(default_factory=list)
    unknown_calls: list = field(default_factory=list)
    filename: str = "<input>"


def parse(src, *, source: str | None = None, filename: str = "<input>") -> Program:
    """Parse and lift ``src``; the dialect is ``source`` or detected (conventions.md)."""
    from .frontend.lift import lift as _lift
    from .frontend.parser import check_text
    text = check_text(src, filename)
    dialect = dialects.resolve(text, source, filename if filename != "<input>" else None)
    result = _lift(text, dialect, filename)
    return Program(dialect, result.module, result.verbatim, result.unknown_calls, filename)


def lift(src, *, source: str | None = None, filename: str = "<input>"):
    """The IR module of ``src``."""
    return parse(src, source=source, filename=filename).module


def emit(module, to: str | None = None) -> str:
    """Print an IR module in ``to`` (default: its own dialect)."""
    from .emitters import emit as _emit
    return _emit(module, to)


def translate(src, to: str, *, source: str | None = None, **options) -> str:
    """Translate program text ``src`` to dialect ``to``; returns the translated program text."""
    target = dialects.canonical(to)
    unknown = set(options) - KNOWN_OPTIONS
    if unknown:
        raise XpilerError(f"translate: unknown option(s) {', '.join(sorted(unknown))}; "
                          f"known: {', '.join(sorted(KNOWN_OPTIONS))}")
    Launch.coerce(options.get("launch"))  # validated now so a bad launch= fails early and clearly
    filename = options.get("filename", "<input>")
    program = parse(src, source=source, filename=filename)
    module = program.module
    try:
        if program.dialect == target:
            return emit(module, target)
        if {program.dialect, target} == {"cuda", "hip"}:
            from .passes.simt_port import port
            return emit(port(module, target, wavefront=options.get("wavefront", 64)), target)
    except SourceError as error:
        if error.filename == "<input>" and filename != "<input>":
            error.filename = filename
            error.args = (error._format(),)
        raise
    raise NotImplementedDirection(
        f"translating {program.dialect} to {target} is not implemented yet: it needs the lowering passes "
        f"(loop recovery, detensorize) to sequential C and the raising passes (split, bind, cache, tensorize) "
        f"to {target}; available now: the identity and cuda <-> hip")
