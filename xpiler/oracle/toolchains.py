"""Finding the tools the oracle uses, and compile checks with the real compilers.

- :func:`find` — a tool on PATH (``g++``, ``gcc``, ``nvcc``, ``hipcc``, ``cncc``), cached.
- :func:`nvidia_gpus` — the NVIDIA GPUs of this machine, from ``nvidia-smi -L`` (or
  ``/proc/driver/nvidia/gpus``); CUDA itself is never initialised in this process, so forked
  children can still use the GPU. ``XPILER_NO_GPU=1`` hides every GPU.
- :func:`can_run_cuda` — an NVIDIA GPU, its driver library and nvcc are all present.
- :func:`compile_check` — compile a program with the real compiler of its dialect (no run):
  cuda: ``nvcc -arch=sm_90 -c``; hip: ``HIP_PLATFORM=amd hipcc --offload-arch=gfx90a -c``;
  vnni: ``g++`` (``gcc`` for plain C) with the VNNI flags; bang: ``cncc`` when installed (it is not
  here: skipped). A missing tool gives ``skipped=True`` with the reason, never ``ok=True``.
"""

from __future__ import annotations

import ctypes.util
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

from ..dialects import canonical

CUDA_ARCH = "sm_90"
HIP_ARCH = "gfx90a"
CHECK_TIMEOUT = 600.0


@functools.lru_cache(maxsize=None)
def find(tool: str) -> str | None:
    """Absolute path of ``tool`` on PATH, or None."""
    return shutil.which(tool)


@functools.lru_cache(maxsize=1)
def _nvidia_gpus() -> tuple[str, ...]:
    smi = find("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30)
            gpus = tuple(line.strip() for line in out.stdout.splitlines() if line.startswith("GPU "))
            if out.returncode == 0:
                return gpus
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        return tuple(sorted(os.listdir("/proc/driver/nvidia/gpus")))
    except OSError:
        return ()


def nvidia_gpus() -> tuple[str, ...]:
    """Descriptions of the NVIDIA GPUs here (empty when none, or when ``XPILER_NO_GPU`` is set)."""
    if os.environ.get("XPILER_NO_GPU", "") not in ("", "0"):
        return ()
    return _nvidia_gpus()


@functools.lru_cache(maxsize=1)
def _libcuda() -> str | None:
    for name in ("libcuda.so.1", "libcuda.so"):
        for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/local/nvidia/lib64", "/usr/lib/wsl/lib",
                  "/usr/local/cuda/compat", "/usr/local/cuda/lib64/stubs"):
            path = os.path.join(d, name)
            if os.path.exists(path) and "stubs" not in d:
                return path
    return ctypes.util.find_library("cuda")


def cuda_missing_reason() -> str | None:
    """Why CUDA programs cannot run natively here (None when they can)."""
    if not nvidia_gpus():
        return "no NVIDIA GPU found" + (" (XPILER_NO_GPU is set)" if os.environ.get("XPILER_NO_GPU", "") not in ("", "0") else "")
    if _libcuda() is None:
        return "the NVIDIA driver library libcuda is not installed"
    if find("nvcc") is None:
        return "nvcc not installed"
    return None


def can_run_cuda() -> bool:
    """True when CUDA (and HIP through hip2cuda) programs can run on a real NVIDIA GPU here."""
    return cuda_missing_reason() is None


def describe() -> dict:
    """What this machine has, for diagnostics (``xpiler`` CLI, bug reports)."""
    return {
        "g++": find("g++"), "gcc": find("gcc"), "nvcc": find("nvcc"), "hipcc": find("hipcc"),
        "cncc": find("cncc"), "nvidia_gpus": list(nvidia_gpus()), "libcuda": _libcuda(),
        "cuda_native": can_run_cuda(),
    }


@dataclass(frozen=True)
class CheckResult:
    """The outcome of :func:`compile_check`. ``bool(result)`` is ``result.ok``."""

    ok: bool
    skipped: bool
    reason: str
    output: str = ""

    def __bool__(self) -> bool:
        return self.ok


_check_cache: dict[str, CheckResult] = {}


def compile_check(src: str, lang: str, *, timeout: float = CHECK_TIMEOUT) -> CheckResult:
    """Compile ``src`` (dialect ``lang``) with its real compiler, without running it."""
    if lang.strip().lower() in ("c", "cpp", "c++"):
        flavor = lang.strip().lower()
        dialect = "vnni"
    else:
        dialect = canonical(lang)
        flavor = None
    key = hashlib.sha256(f"{dialect}\0{flavor}\0{src}".encode()).hexdigest()
    hit = _check_cache.get(key)
    if hit is not None:
        return hit
    result = _compile_check(src, dialect, flavor, timeout)
    _check_cache[key] = result
    return result


def _compile_check(src: str, dialect: str, flavor: str | None, timeout: float) -> CheckResult:
    env = dict(os.environ, LC_ALL="C", LANG="C")   # ASCII quotes in messages, whatever the locale
    if dialect == "cuda":
        tool, name = "nvcc", "input.cu"
        argv = ["-arch=" + CUDA_ARCH, "-c", name, "-o", "input.o"]
    elif dialect == "hip":
        tool, name = "hipcc", "input.hip"
        argv = ["--offload-arch=" + HIP_ARCH, "-c", name, "-o", "input.o"]
        env["HIP_PLATFORM"] = "amd"
    elif dialect == "bang":
        tool, name = "cncc", "input.mlu"
        argv = ["-c", name, "-o", "input.o", "--bang-mlu-arch=mtp_372", "-O2"]
    else:
        from .build import VNNI_FLAGS
        from .native_c import is_cpp
        cpp = flavor in ("cpp", "c++") or is_cpp(src)
        tool, name = ("g++", "input.cpp") if cpp else ("gcc", "input.c")
        argv = [*VNNI_FLAGS, "-c", name, "-o", "input.o"]
    path = find(tool)
    if path is None:
        reason = f"skipped: {tool} not installed"
        if dialect == "bang":
            reason = "skipped: no BANG compiler (cncc) installed; BANG is checked in the CPU emulation only"
        return CheckResult(ok=False, skipped=True, reason=reason)
    with tempfile.TemporaryDirectory(prefix="xpiler-check-") as tmp:
        with open(os.path.join(tmp, name), "w") as fh:
            fh.write(src)
        try:
            proc = subprocess.run([path, *argv], cwd=tmp, capture_output=True, text=True, timeout=timeout,
                                  env=env, errors="replace")
        except subprocess.TimeoutExpired:
            return CheckResult(ok=False, skipped=False, reason=f"{tool} timed out after {timeout:g} s")
        output = (proc.stderr + proc.stdout).replace(tmp + os.sep, "").replace(name, "<input>").strip()
    if proc.returncode == 0:
        return CheckResult(ok=True, skipped=False, reason=f"compiled with {tool}", output=output)
    return CheckResult(ok=False, skipped=False, reason=f"{tool} failed (exit {proc.returncode})", output=output)
