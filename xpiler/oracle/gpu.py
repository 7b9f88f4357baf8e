"""Backend ``cuda``/``hip`` native: the program runs on a real NVIDIA GPU, compiled by nvcc.

``prepare(src, lang="cuda"|"hip", entry=..., launch=..., check=...)`` returns a
:class:`~xpiler.oracle.build.BuildSpec` for ``nvcc -O2 -std=c++17 -arch=native -shared
-Xcompiler -fPIC`` (``-arch=sm_90`` with ``XPILER_CUDA_ARCH=sm_90`` or when no GPU is visible to the
build). With no NVIDIA GPU (or no driver, or no nvcc) it raises :class:`~xpiler.errors.ToolMissing`.

- HIP programs are compiled through ``runtime/hip2cuda.h`` (force-included; their
  ``#include <hip/...>`` lines become comments, so lines keep their numbers): the HIP runtime API
  and spellings mapped onto CUDA. AMD builtins (MFMA) and 64-lane wavefront assumptions do not run
  on NVIDIA (reference/simt.md): such programs fail to compile or give other results; they run in
  the CPU emulation only.
- Bare kernels get an ``extern "C" K_kernel(params)`` wrapper (launch from ``launch=`` or the
  defaults of conventions.md, as in the emulation: :func:`xpiler.oracle.simt.default_launch`) that
  copies the host buffers its pointers point into to the device and back (``runtime/simt_gpu.h``:
  extents from ``xpiler_register_buffer``, else from the memory mapping).
- ``check=True`` adds ``-lineinfo``; out-of-bounds accesses on the GPU are not detected beyond what
  the hardware reports (an illegal address is reported as a fault). Use the emulation's checking
  mode, or compute-sanitizer on the bundle of ``tools/gpu_crosscheck.py``.
"""

from __future__ import annotations

import os
import re

from ..errors import ToolMissing
from .simt import (GENERATED_FILE, RUNTIME_DIR, SimtPrepareError, _mask, default_launch, resolve_entry)

SOURCE_NAME = "input.cu"
FLAGS = ("-O2", "-std=c++17", "-w")
_HIP_INCLUDE = re.compile(r"^([ \t]*#[ \t]*include[ \t]*[<\"]hip/[\w/.]+[>\"][^\n]*)$", re.M)

__all__ = ["prepare", "prepare_source", "nvcc_flags"]


def nvcc_flags(lang: str, arch: str | None = None) -> list[str]:
    """The nvcc flags (besides ``-shared -Xcompiler -fPIC``) of a program of ``lang``."""
    arch = arch or os.environ.get("XPILER_CUDA_ARCH") or "native"
    flags = [*FLAGS, f"-arch={arch}", f"-I{RUNTIME_DIR}"]
    if lang == "hip":
        flags += ["-include", "hip2cuda.h"]
    return flags


def prepare_source(src: str, *, lang: str = "cuda", entry: str | None = None, launch=None) -> tuple[str, str]:
    """The CUDA translation unit for ``src`` (nvcc, with :func:`nvcc_flags`) and the entry to call."""
    launch, kernels, others, entry = resolve_entry(src, lang, entry, launch)
    wrapper = ""
    if entry not in others:
        if not (entry.endswith("_kernel") and entry[:-7] in kernels):
            known = sorted(set(others) | {k + "_kernel" for k, v in kernels.items() if not v.template})
            raise SimtPrepareError(f"entry {entry!r} is not defined in the {lang} program (functions: "
                                   f"{', '.join(known) or 'none'})")
        k = kernels[entry[:-7]]
        if k.template:
            raise SimtPrepareError(f"kernel {k.name} is a template: it needs a host entry that instantiates it")
        wrapper = _wrapper(k, entry, launch)
    text = src
    if lang == "hip":
        masked = _mask(src, preprocessor=False)
        edits = [(m.start(1), m.start(1), "// (xpiler: hip2cuda.h) ") for m in _HIP_INCLUDE.finditer(masked)]
        for start, _, repl in reversed(edits):
            text = text[:start] + repl + text[start:]
    user = "input.hip" if lang == "hip" else "input.cu"
    tail = f'\n#line 1 "{GENERATED_FILE}"\n#include "simt_gpu.h"\n' + wrapper if wrapper else ""
    return f'#line 1 "{user}"\n' + text + tail, entry


def _wrapper(k, entry: str, launch) -> str:
    if launch is not None and launch.is_simt:
        grid, block = tuple(str(g) for g in launch.grid), launch.block
    elif launch is not None:
        raise SimtPrepareError(f"launch={launch!r} is a BANG launch; a SIMT kernel needs grid= and block=")
    else:
        grid, block = default_launch(k)
    lines = [f'extern "C" void {entry}({", ".join(p.text for p in k.params)}) {{', "    ::xgpu::Shadows xgpu_shadows;"]
    args = []
    for p in k.params:
        if p.pointer:
            lines.append(f'    auto xgpu_d_{p.name} = xgpu_shadows.dev({p.name}, "{p.name}");')
            args.append(f"xgpu_d_{p.name}")
        else:
            args.append(p.name)
    dims = ", ".join(f"(unsigned)((long long)({g}) > 1 ? (long long)({g}) : 1)" for g in grid)
    lines.append(f"    {k.name}<<<dim3({dims}), dim3({block[0]}u, {block[1]}u, {block[2]}u)>>>({', '.join(args)});")
    lines.append(f'    xgpu_shadows.finish("{k.name}");')
    lines.append("}")
    return "\n".join(lines) + "\n"


def prepare(src: str, *, lang: str = "cuda", entry: str | None = None, launch=None, check: bool = False):
    """The :class:`BuildSpec` of a CUDA or HIP program for the GPU (module docstring)."""
    from . import toolchains
    from .build import BuildSpec
    from ..dialects import canonical
    lang = canonical(lang)
    if lang not in ("cuda", "hip"):
        raise SimtPrepareError(f"the GPU backend runs cuda and hip programs, not {lang}")
    reason = toolchains.cuda_missing_reason()
    if reason is not None:
        raise ToolMissing(f"cannot run {lang} natively: {reason} (use backend='emulate')")
    text, entry = prepare_source(src, lang=lang, entry=entry, launch=launch)
    flags = nvcc_flags(lang)
    if check:
        flags.append("-lineinfo")
    user = "input.hip" if lang == "hip" else "input.cu"
    return BuildSpec(sources=((SOURCE_NAME, text),), compiler="nvcc", flags=tuple(flags), entry=entry,
                     display_names=((SOURCE_NAME, "<input>"), (user, "<input>")))
