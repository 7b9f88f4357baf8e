"""Backend ``vnni``: C and C++ programs compiled natively with the VNNI flags (conventions.md).

``prepare(src, lang=..., entry=..., launch=..., check=...)`` returns the :class:`BuildSpec`:

- C++ (the text has ``extern "C"`` or any C++ construct, or ``lang`` is ``"cpp"``/``"c++"``) is
  compiled with ``g++``. An entry defined without ``extern "C"`` gets an ``extern "C"`` declaration
  inserted before its definition (followed by ``#line``, so compiler messages show the user's lines),
  so its symbol is not mangled.
- Plain C (no C++ construct in the text; ``lang="c"`` changes nothing, it is an alias of vnni) is
  compiled as C with ``gcc``, so C-only code (``restrict``, implicit ``void *`` conversions) works and
  symbols are never mangled.

Flags: ``-O2 -mavx512f -mavx512bw -mavx512vl -mavx512vnni -fopenmp`` (+ ``-lm``). ``launch`` does
not apply to CPU programs and is ignored; ``check`` has no extra effect (the oracle's guard bytes
catch out-of-bounds writes for every native run).
"""

from __future__ import annotations

import re

from . import EntryError, default_entry, functions, mask
from .build import VNNI_FLAGS, BuildSpec

_CPP_SIGNS = re.compile(
    r"\bextern\s*\"C\"|::|\b(static_cast|reinterpret_cast|const_cast|dynamic_cast|template|namespace|class|"
    r"nullptr|constexpr|typename|operator|virtual|using\s+namespace)\b|\bnew\s+[A-Za-z_][\w:]*\s*[\[(;]|"
    r"\bdelete\s*(\[\s*\])?\s*[A-Za-z_]")
_INCLUDE = re.compile(r"^[ \t]*#[ \t]*include[ \t]*<([^>]+)>", re.M)


def is_cpp(src: str) -> bool:
    """True when ``src`` needs a C++ compiler (see the module docstring)."""
    if _CPP_SIGNS.search(mask(src)):
        return True
    # C headers end in .h; <cmath>, <vector>, <algorithm> ... are C++ only.
    return any(not h.strip().endswith(".h") for h in _INCLUDE.findall(src))


def prepare(src: str, *, lang: str = "vnni", entry: str | None = None, launch=None, check: bool = False) -> BuildSpec:
    lang = (lang or "vnni").lower()
    # "c" is an alias of the vnni dialect (conventions.md): a text that is unmistakably C++ (extern "C",
    # casts, templates ...) still compiles as C++; "cpp"/"c++" force C++.
    cpp = True if lang in ("cpp", "c++") else is_cpp(src)
    if entry is None:
        entry = default_entry(src, "vnni")
    text = src
    if cpp:
        defs = [f for f in functions(src) if f.name == entry]
        if defs and not any(f.extern_c for f in defs):
            f = defs[-1]
            if "static" in f.qualifiers:
                raise EntryError(f"entry {entry!r} is declared static, so the compiled program does not export it")
            # Declare the entry extern "C" just before its definition (the definition inherits the
            # linkage); `#line` keeps the user's line numbers and text in compiler messages.
            line_start = src.rfind("\n", 0, f.head_start) + 1
            line_no = src.count("\n", 0, line_start) + 1
            head = src[f.head_start:f.body_start].rstrip()
            text = (src[:line_start] + f'extern "C" {head};\n#line {line_no}\n' + src[line_start:])
    name = "input.cpp" if cpp else "input.c"
    return BuildSpec(sources=((name, text),), compiler="g++" if cpp else "gcc", flags=(*VNNI_FLAGS, "-lm"),
                     entry=entry, display_names=((name, "<input>"),))
