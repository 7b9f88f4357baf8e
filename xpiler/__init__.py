"""xpiler: translate tensor programs between CUDA, HIP, Cambricon BANG C and Intel VNNI C.

    >>> import xpiler
    >>> hip_code = xpiler.translate(cuda_code, to="hip")

The heavy parts (tree-sitter, numpy, z3) load on first use, so ``import xpiler`` stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from ._version import __version__
from .errors import (CompileError, DialectError, EmulationFault, NotImplementedDirection, ParseError,
                     ProgramCrash, ProgramTimeout, RunError, SourceError, ToolMissing, TranslationError,
                     UnsupportedError, XpilerError)
from .launch import Launch

# name -> module that defines it; resolved lazily by __getattr__.
_LAZY = {
    "translate": "xpiler.api",
    "translate_with_trace": "xpiler.api",
    "parse": "xpiler.api",
    "lift": "xpiler.api",
    "emit": "xpiler.api",
    "run": "xpiler.oracle",
}

__all__ = ["__version__", "translate", "translate_with_trace", "parse", "lift", "emit", "run", "Launch", "XpilerError",
           "ParseError", "SourceError", "UnsupportedError", "DialectError", "TranslationError",
           "NotImplementedDirection", "RunError", "CompileError", "ProgramCrash", "ProgramTimeout",
           "EmulationFault", "ToolMissing"]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'xpiler' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:  # pragma: no cover
    from .api import emit, lift, parse, translate, translate_with_trace
    from .oracle import run
