"""The verification oracle: build a program of any dialect and call it on numpy buffers.

``run(src, args, *, entry=None, lang=None, backend="auto", launch=None, timeout=60.0, check=False)``
(conventions.md; internal contract in docs/oracle-contract.md):

1. the dialect is ``lang`` if given, else detected from the text (:func:`xpiler.dialects.resolve`);
2. the backend module is chosen from the dialect and ``backend``:

   ========  ==========================  =====================  ==========================
   dialect   ``"auto"``                  ``"native"``           ``"emulate"``
   ========  ==========================  =====================  ==========================
   vnni      native_c (g++ on this CPU)  native_c               error: vnni runs natively
   cuda/hip  gpu if an NVIDIA GPU and    gpu (ToolMissing when  simt (CPU emulation)
             nvcc are present, else simt no GPU)
   bang      bang (CPU emulation)        ToolMissing (no MLU)   bang
   ========  ==========================  =====================  ==========================

   Backend modules are imported on first use; one that has not landed raises
   :class:`~xpiler.errors.ToolMissing` naming it;
3. the entry is ``entry`` if given (the name of a bare kernel ``K`` means its wrapper ``K_kernel``),
   else :func:`default_entry`;
4. ``backend.prepare(...)`` returns a :class:`BuildSpec`, :func:`build` compiles it (cached) and
   :func:`call` runs the entry in a child process; outputs land in the numpy arrays of ``args``.

This module imports nothing heavy: numpy loads with :mod:`xpiler.oracle.child` on the first run.
"""

from __future__ import annotations

import functools
import importlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import RunError, ToolMissing

if TYPE_CHECKING:  # pragma: no cover
    from .build import BuildSpec

__all__ = ["run", "prepare", "default_entry", "functions", "FunctionDef", "EntryError", "BACKENDS",
           "backend_for"]

BACKENDS = ("auto", "emulate", "native")

# dialect -> {"native": module, "emulate": module}
_MODULES = {
    "vnni": {"native": "native_c"},
    "cuda": {"native": "gpu", "emulate": "simt"},
    "hip": {"native": "gpu", "emulate": "simt"},
    "bang": {"emulate": "bang"},
}
_DESCRIPTION = {"native_c": "native C/VNNI (g++)", "gpu": "native CUDA/HIP on an NVIDIA GPU",
                "simt": "CUDA/HIP CPU emulation", "bang": "BANG CPU emulation"}


class EntryError(RunError, ValueError):
    """No host entry could be chosen (none, or several), or a bad ``backend=`` value."""


def run(src: str, args, *, entry: str | None = None, lang: str | None = None, backend: str = "auto",
        launch=None, timeout: float | None = 60.0, check: bool = False) -> None:
    """Compile ``src`` and call its host entry with ``args`` (numpy arrays are passed as pointers and
    receive the outputs; Python ints/floats as C int/float). See the module docstring."""
    from .build import build
    from .child import call

    spec = prepare(src, entry=entry, lang=lang, backend=backend, launch=launch, check=check)
    library = build(spec)
    call(library, spec.entry, args, timeout, check=check)


def prepare(src: str, *, entry: str | None = None, lang: str | None = None, backend: str = "auto",
            launch=None, check: bool = False) -> "BuildSpec":
    """Everything :func:`run` does before compiling: the backend's :class:`BuildSpec` for ``src``."""
    from ..dialects import resolve
    from ..launch import Launch

    if not isinstance(src, str):
        raise EntryError(f"src must be the program text (str), got {type(src).__name__}")
    dialect = resolve(src, lang)
    launch = Launch.coerce(launch)
    module_name = backend_for(dialect, backend)
    module = _import_backend(module_name, dialect)
    entry = _resolve_entry(src, dialect, entry)
    backend_lang = dialect
    if module_name == "native_c" and isinstance(lang, str) and lang.strip().lower() in ("c", "cpp", "c++"):
        backend_lang = lang.strip().lower()
    return module.prepare(src, lang=backend_lang, entry=entry, launch=launch, check=check)


def backend_for(dialect: str, backend: str = "auto") -> str:
    """The backend module name (``native_c``, ``gpu``, ``simt``, ``bang``) that runs ``dialect``."""
    if backend not in BACKENDS:
        raise EntryError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}")
    choices = _MODULES[dialect]
    if backend == "auto":
        if dialect in ("cuda", "hip"):
            from . import toolchains
            return "gpu" if toolchains.can_run_cuda() else "simt"
        return choices.get("native") or choices["emulate"]
    if backend not in choices:
        if dialect == "vnni":
            raise EntryError("vnni programs run natively on this CPU only; backend='emulate' does not apply "
                             "(use backend='auto' or 'native')")
        raise ToolMissing(f"no native {dialect} device here: {dialect} programs run in the CPU emulation "
                          f"(backend='emulate' or 'auto')")
    if backend == "native" and dialect in ("cuda", "hip"):
        from . import toolchains
        if not toolchains.can_run_cuda():
            raise ToolMissing(f"backend='native' needs an NVIDIA GPU and nvcc: {toolchains.cuda_missing_reason()}")
    return choices[backend]


def _import_backend(name: str, dialect: str):
    full = f"{__name__}.{name}"
    try:
        module = importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name == full:
            raise ToolMissing(f"the {_DESCRIPTION.get(name, name)} backend ({full}) is not available yet, "
                              f"so {dialect} programs cannot run") from None
        raise
    if not hasattr(module, "prepare"):
        raise ToolMissing(f"the {_DESCRIPTION.get(name, name)} backend ({full}) does not define prepare() yet")
    return module


# ---------------------------------------------------------------------------------------------
# Finding function definitions and the default entry.

@dataclass(frozen=True)
class FunctionDef:
    """A function defined at file scope (possibly inside ``extern "C" { }`` or a namespace)."""

    name: str
    extern_c: bool
    qualifiers: frozenset       # of: __global__ __device__ __host__ __mlu_global__ __mlu_entry__
    #                             __mlu_func__ __mlu_device__ static inline template
    params: str
    head_start: int             # offset in the text where the declaration begins
    body_start: int             # offset of the body's "{"
    body_end: int               # offset of the body's "}"

    @property
    def is_kernel(self) -> bool:
        return bool(self.qualifiers & {"__global__", "__mlu_global__", "__mlu_entry__"})

    @property
    def is_device_only(self) -> bool:
        q = self.qualifiers
        return bool(q & {"__mlu_func__", "__mlu_device__"}) or ("__device__" in q and "__host__" not in q)

    @property
    def is_host(self) -> bool:
        return not self.is_kernel and not self.is_device_only and "template" not in self.qualifiers


_QUALIFIERS = ("__global__", "__device__", "__host__", "__mlu_global__", "__mlu_entry__", "__mlu_func__",
               "__mlu_device__", "static", "inline", "template")
_NOT_NAMES = {"if", "for", "while", "switch", "return", "sizeof", "__attribute__", "__launch_bounds__",
              "__declspec", "alignas", "decltype", "catch", "do", "else"}
_MASK_RE = re.compile(r"//[^\n]*|/\*.*?\*/|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'|^[ \t]*#(?:[^\n]*\\\n)*[^\n]*",
                      re.S | re.M)


def mask(text: str) -> str:
    """``text`` with comments, preprocessor lines and string/char contents blanked (same length, same
    line breaks); the string literal ``"C"`` is kept so ``extern "C"`` stays visible."""
    def blank(m):
        s = m.group(0)
        if s == '"C"' or s == '"C++"':
            return s
        if s[0] in "\"'":
            return s[0] + re.sub(r"[^\n]", " ", s[1:-1]) + s[-1]
        return re.sub(r"[^\n]", " ", s)
    return _MASK_RE.sub(blank, text)


def functions(src: str) -> list[FunctionDef]:
    """The function definitions of ``src`` at file scope, in order."""
    return list(_functions(src))


@functools.lru_cache(maxsize=64)
def _functions(src: str) -> tuple[FunctionDef, ...]:
    text = mask(src)
    out: list[FunctionDef] = []
    stack: list[str] = []            # "externC", "namespace", "body", "other"
    stmt = 0
    depth_paren = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        top = all(k in ("externC", "namespace") for k in stack)
        if c == "(":
            depth_paren += 1
        elif c == ")":
            depth_paren = max(0, depth_paren - 1)
        elif c == ";" and top and depth_paren == 0:
            stmt = i + 1
        elif c == "{":
            if not top or depth_paren:
                stack.append("other")
            else:
                head = text[stmt:i]
                kind = _classify_head(head)
                if kind == "externC":
                    stack.append("externC")
                    stmt = i + 1
                elif kind == "namespace":
                    stack.append("namespace")
                    stmt = i + 1
                elif kind is not None:
                    close = _matching_brace(text, i)
                    name, params, words = kind
                    offset = stmt + (len(head) - len(head.lstrip()))
                    quals = frozenset(q for q in _QUALIFIERS if re.search(rf"(?<!\w){q}(?!\w)", head))
                    extern_c = bool(re.search(r"\bextern\s*\"C\"", head)) or "externC" in stack
                    out.append(FunctionDef(name, extern_c, quals, params.strip(), offset, i, close))
                    i = close + 1
                    stmt = i
                    continue
                else:
                    stack.append("other")
        elif c == "}":
            if stack:
                stack.pop()
                if all(k in ("externC", "namespace") for k in stack):
                    stmt = i + 1
        i += 1
    return tuple(out)


def _matching_brace(text: str, i: int) -> int:
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(text) - 1


def _classify_head(head: str):
    """'externC' / 'namespace' / (name, params, head) for a function definition / None otherwise."""
    h = head.strip()
    if re.fullmatch(r"extern\s*\"C\"", h):
        return "externC"
    if re.fullmatch(r"(inline\s+)?namespace(\s+[\w:]+)?(\s+__attribute__\s*\(\(.*\)\))?", h, re.S):
        return "namespace"
    # drop trailing qualifiers after the parameter list
    h = re.sub(r"(\s*\b(const|noexcept|override|final|volatile)\b|\s*__attribute__\s*\(\(.*?\)\))*\s*$", "", h)
    if not h.endswith(")"):
        return None
    depth = 0
    for j in range(len(h) - 1, -1, -1):
        if h[j] == ")":
            depth += 1
        elif h[j] == "(":
            depth -= 1
            if depth == 0:
                break
    else:
        return None
    params = h[j + 1:-1]
    m = re.search(r"([A-Za-z_]\w*)\s*$", h[:j])
    if not m or m.group(1) in _NOT_NAMES:
        return None
    before = h[:m.start()]
    if re.search(r"(^|[^=!<>])=($|[^=])", re.sub(r"\([^()]*\)", "", before)):
        return None  # an initializer, not a definition
    if not before.strip() and not re.search(r"\w", before):
        # no return type: a macro invocation at file scope or an old-style definition; accept (C89 int).
        pass
    return m.group(1), params, h


def _called(name: str, src_masked: str, f: FunctionDef) -> bool:
    return re.search(rf"(?<![\w.>]){re.escape(name)}\s*\(", src_masked[f.body_start:f.body_end]) is not None


def default_entry(src: str, dialect: str) -> str | None:
    """The host entry :func:`run` calls when none is given.

    1. the single ``extern "C"`` host function (not a kernel, not device code, not a template);
    2. cuda/hip/bang without one: the wrapper ``K_kernel`` of the single kernel ``K``;
    3. vnni without one: the single non-static function that no other function of the file calls
       (a plain C file: the operator, not its helpers); ``main`` is never an entry.

    Several candidates raise :class:`EntryError` listing them; nothing found raises it too
    (except for cuda/hip/bang with host functions of their own, where ``None`` lets the backend decide).
    """
    fns = [f for f in functions(src) if f.name != "main"]
    hosts = [f for f in fns if f.is_host and "static" not in f.qualifiers]
    extern = [f for f in hosts if f.extern_c]
    if len(extern) == 1:
        return extern[0].name
    if len(extern) > 1:
        names = ", ".join(f.name for f in extern)
        raise EntryError(f"the program has several extern \"C\" host functions ({names}); pass entry= to choose one")
    if dialect in ("cuda", "hip", "bang"):
        kernels = [f for f in fns if f.is_kernel and "template" not in f.qualifiers]
        if len(kernels) == 1:
            return kernels[0].name + "_kernel"
        if len(kernels) > 1:
            names = ", ".join(f.name for f in kernels)
            raise EntryError(f"the program has several kernels ({names}) and no extern \"C\" host entry; pass "
                             f"entry='{kernels[0].name}_kernel' (or another kernel's name + '_kernel')")
        if hosts:
            return None
        raise EntryError(f"no kernel and no host function found in the {dialect} program")
    if not hosts:
        raise EntryError("no function definition found in the program (a static function is not exported)")
    if len(hosts) == 1:
        return hosts[0].name
    masked = mask(src)
    roots = [f for f in hosts if not any(_called(f.name, masked, g) for g in fns if g is not f)]
    if len(roots) == 1:
        return roots[0].name
    names = ", ".join(f.name for f in (roots or hosts))
    raise EntryError(f"the program defines several functions that could be the entry ({names}); pass entry= to "
                     f"choose one")


def _resolve_entry(src: str, dialect: str, entry: str | None) -> str | None:
    if entry is None:
        return default_entry(src, dialect)
    if not isinstance(entry, str) or not re.fullmatch(r"[A-Za-z_]\w*", entry):
        raise EntryError(f"entry must be a C identifier, got {entry!r}")
    if dialect in ("cuda", "hip", "bang"):
        fns = functions(src)
        if any(f.name == entry and f.is_kernel for f in fns) and not any(f.name == entry and f.is_host for f in fns):
            return entry + "_kernel"
    return entry
