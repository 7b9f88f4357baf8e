"""Emitters: print the IR in each dialect (:mod:`xpiler.emit.c_printer`) and build host entries
(:mod:`xpiler.emit.host`)."""

from .c_printer import Printer, type_name, type_prefix  # noqa: F401


def emit(module, dialect: str | None = None) -> str:
    """Print ``module`` in ``dialect`` (default: its own)."""
    from ..dialects import canonical
    return Printer(canonical(dialect or module.dialect)).module(module)
