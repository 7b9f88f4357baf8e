"""Dialect names, aliases, file suffixes and detection from the text (conventions.md).

Detection is deterministic: the first rule that matches wins.

1. ``bang`` if the text uses a BANG qualifier or built-in (``__mlu_global__``, ``__mlu_entry__``,
   ``__nram__``, ``__wram__``, ``__mlu_shared__``, ``__mlu_func__``, ``__mlu_device__``, a
   ``__bang_*`` intrinsic, a ``GDRAM2NRAM``-style DMA direction, or the ``cnrt`` host API).
2. ``hip`` if it uses the HIP API (``hip/hip_runtime.h``, ``hipMalloc``, ``hipLaunchKernelGGL``,
   ``hipThreadIdx_x``-style built-ins, ``__builtin_amdgcn_*``).
3. ``cuda`` if it uses CUDA qualifiers or built-ins (``__global__``, ``__device__``, ``__shared__``,
   ``threadIdx``, ``blockIdx``, ``<<<``, the ``cuda*`` runtime API, ``nvcuda::wmma``).
4. ``vnni`` otherwise (x86 intrinsics or plain C).

Comments and string literals are ignored by detection.
"""

from __future__ import annotations

import re

from .errors import DialectError

DIALECTS = ("cuda", "hip", "bang", "vnni")
ALIASES = {"c": "vnni", "cpp": "vnni", "c++": "vnni", "cu": "cuda", "mlu": "bang"}
SUFFIXES = {
    ".cu": "cuda", ".cuh": "cuda",
    ".hip": "hip",
    ".mlu": "bang",
    ".c": "vnni", ".cpp": "vnni", ".cc": "vnni", ".cxx": "vnni",
}
# The suffix each dialect's output is written with.
DEFAULT_SUFFIX = {"cuda": ".cu", "hip": ".hip", "bang": ".mlu", "vnni": ".cpp"}

_BANG = re.compile(
    r"__mlu_(global|entry|shared|func|device)__|__(nram|wram|ldram)__|\b__bang_\w+|"
    r"\b(GDRAM|NRAM|WRAM|SRAM|LDRAM)2(GDRAM|NRAM|WRAM|SRAM|LDRAM)\b|\bcnrt\w+|\b__sync_cluster\b")
_HIP = re.compile(
    r"hip/hip_runtime|\bhip(Malloc|Memcpy|Free|LaunchKernelGGL|DeviceSynchronize|Stream\w*|Event\w*)\b|"
    r"\bhip(ThreadIdx|BlockIdx|BlockDim|GridDim)_[xyz]\b|__builtin_amdgcn_\w+|\bHIP_KERNEL_NAME\b")
_CUDA = re.compile(
    r"__global__|__device__|__shared__|__constant__|\b(threadIdx|blockIdx|blockDim|gridDim)\b|<<<|"
    r"\bcuda[A-Z]\w*|nvcuda::|\bwmma::|cuda_runtime|cuda_fp16")
_COMMENTS_AND_STRINGS = re.compile(r"//[^\n]*|/\*.*?\*/|\"(?:\\.|[^\"\\\n])*\"", re.S)


def canonical(name: str) -> str:
    """Return the canonical dialect name for ``name`` (accepting aliases), or raise DialectError."""
    if not isinstance(name, str):
        raise DialectError(f"dialect must be a string, got {type(name).__name__}")
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in DIALECTS:
        raise DialectError(f"unknown dialect {name!r}; expected one of {', '.join(DIALECTS)} "
                           f"(aliases: {', '.join(sorted(ALIASES))})")
    return key


def detect(text: str) -> str:
    """Detect the dialect of a program from its text (rules in the module docstring)."""
    code = _COMMENTS_AND_STRINGS.sub(" ", text)
    # `#include "hip/hip_runtime.h"` lives in a string literal: look at includes separately.
    includes = " ".join(re.findall(r"#\s*include\s*[<\"]([^>\"]+)[>\"]", text))
    if _BANG.search(code):
        return "bang"
    if _HIP.search(code) or _HIP.search(includes):
        return "hip"
    if _CUDA.search(code) or _CUDA.search(includes):
        return "cuda"
    return "vnni"


def from_suffix(path: str) -> str | None:
    """The dialect a file suffix implies, or None when the suffix says nothing."""
    for suffix, dialect in SUFFIXES.items():
        if path.lower().endswith(suffix):
            return dialect
    return None


def resolve(text: str, source: str | None = None, path: str | None = None) -> str:
    """The dialect of ``text``: ``source`` if given, else detected from the text.

    A ``.cu`` or ``.cpp`` file that uses the HIP API is HIP (conventions.md), so the text decides;
    the suffix is only used to accept ``.mlu``/``.hip`` files whose text is ambiguous.
    """
    if source is not None:
        return canonical(source)
    detected = detect(text)
    if path is not None and detected in ("cuda", "vnni"):
        by_suffix = from_suffix(path)
        if by_suffix in ("bang", "hip"):
            return by_suffix
    return detected
