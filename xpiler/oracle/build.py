"""Compiling a :class:`BuildSpec` into a shared library, cached by content hash.

``build(spec)`` returns the path of ``lib.so`` under ``$XPILER_CACHE_DIR/build/<key>/`` (default
``~/.cache/xpiler``), where ``key`` hashes everything that decides the result: the sources, the
compiler (its path and ``--version``), the flags, and the contents of the headers in every ``-I``
directory that is not a system directory (so editing a runtime header rebuilds what includes it).

A build compiles in a fresh temporary directory inside the cache and renames that directory into
place, so concurrent builds of the same spec (threads or processes) never see a half-written
library; a per-key ``flock`` makes the second builder wait for the first instead of compiling twice.
The sources are kept next to ``lib.so`` for debugging.

The compile command is ``<compiler> <flags> -shared -fPIC -o lib.so <sources> <libraries>``
(``-Xcompiler -fPIC`` for nvcc; ``-l``/``-L`` flags move after the sources so the linker keeps them).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CompileError, ToolMissing

#: Flags of the vnni dialect (conventions.md). ``-shared -fPIC`` are added by :func:`build`.
VNNI_FLAGS = ("-O2", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512vnni", "-fopenmp")

#: Seconds a compiler may run before the build is abandoned.
COMPILE_TIMEOUT = 600.0

#: Counters of this process (tests and tuning read them): compiles run, cache hits.
stats = {"compiles": 0, "hits": 0}

_SYSTEM_INCLUDE_PREFIXES = ("/usr/include", "/usr/local/include", "/usr/lib", "/opt/rocm", "/usr/local/cuda")
_HEADER_SUFFIXES = (".h", ".hpp", ".hh", ".cuh", ".inc", ".cpp", ".cc", ".cu", ".c")


@dataclass(frozen=True)
class BuildSpec:
    """What to compile (docs/oracle-contract.md).

    ``sources``: ``(file name, text)`` of the translation units; ``compiler``: ``"g++"``, ``"gcc"``
    (plain C) or ``"nvcc"`` (or a path); ``flags``: include dirs, optimisation, arch flags, defines;
    ``entry``: the ``extern "C"`` symbol :func:`xpiler.run` calls.

    ``display_names`` (optional) maps a source's file name to the name compiler messages should show
    (e.g. ``{"input.cpp": "<input>"}``): the user sees their program, not our temporary files.
    """

    sources: tuple[tuple[str, str], ...]
    compiler: str
    flags: tuple[str, ...]
    entry: str
    display_names: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self):
        # Accept lists/dicts from callers, store tuples (hashable, frozen).
        object.__setattr__(self, "sources", tuple((str(n), str(t)) for n, t in self.sources))
        object.__setattr__(self, "flags", tuple(str(f) for f in self.flags))
        names = self.display_names.items() if isinstance(self.display_names, dict) else self.display_names
        object.__setattr__(self, "display_names", tuple((str(a), str(b)) for a, b in names))
        if not self.sources:
            raise ValueError("BuildSpec needs at least one source")
        for name, _ in self.sources:
            if not name or "/" in name or name.startswith("."):
                raise ValueError(f"BuildSpec source name must be a plain file name, got {name!r}")
        if not self.entry:
            raise ValueError("BuildSpec needs an entry symbol")


def cache_dir() -> Path:
    """The cache root: ``$XPILER_CACHE_DIR`` or ``~/.cache/xpiler`` (read at every call)."""
    root = os.environ.get("XPILER_CACHE_DIR")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "xpiler"


@functools.lru_cache(maxsize=None)
def _compiler_identity(compiler: str) -> tuple[str, str]:
    """(resolved path, version text) of a compiler; ToolMissing when it is not installed."""
    path = shutil.which(compiler)
    if path is None:
        raise ToolMissing(f"compiler {compiler!r} not found on PATH")
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60)
        version = (out.stdout or out.stderr).strip()
    except (OSError, subprocess.SubprocessError) as exc:  # pragma: no cover - broken installs
        version = f"unknown ({exc})"
    return os.path.realpath(path), version


_file_digest_cache: dict[tuple[str, int, int], str] = {}


def _file_digest(path: str) -> str:
    st = os.stat(path)
    key = (path, st.st_mtime_ns, st.st_size)
    digest = _file_digest_cache.get(key)
    if digest is None:
        with open(path, "rb") as fh:
            digest = hashlib.sha256(fh.read()).hexdigest()
        _file_digest_cache[key] = digest
    return digest


def _include_dirs(flags: tuple[str, ...]) -> list[str]:
    dirs, take_next = [], False
    for flag in flags:
        if take_next:
            dirs.append(flag)
            take_next = False
        elif flag in ("-I", "-isystem", "-iquote"):
            take_next = True
        elif flag.startswith("-I"):
            dirs.append(flag[2:])
    return dirs


_MAX_HEADERS = 2000   # per -I directory; beyond that (a huge include root) only names and mtimes count


def _header_fingerprint(flags: tuple[str, ...]) -> list[str]:
    parts = []
    for d in _include_dirs(flags):
        real = os.path.realpath(d)
        if real.startswith(_SYSTEM_INCLUDE_PREFIXES) or not os.path.isdir(real):
            continue
        seen = 0
        for root, subdirs, files in os.walk(real):
            subdirs[:] = sorted(s for s in subdirs if not s.startswith((".", "__")))
            for name in sorted(files):
                if name.endswith(_HEADER_SUFFIXES):
                    path = os.path.join(root, name)
                    seen += 1
                    if seen <= _MAX_HEADERS:
                        parts.append(f"{os.path.relpath(path, real)}={_file_digest(path)}")
                    else:
                        parts.append(f"{os.path.relpath(path, real)}@{os.stat(path).st_mtime_ns}")
    return parts


def spec_key(spec: BuildSpec) -> str:
    """The content hash naming the build of ``spec`` in the cache."""
    path, version = _compiler_identity(spec.compiler)
    h = hashlib.sha256()
    for part in ("xpiler-build-v1", path, version, *spec.flags, "\0sources"):
        h.update(part.encode() + b"\0")
    for name, text in spec.sources:
        h.update(name.encode() + b"\0" + text.encode() + b"\0")
    for part in _header_fingerprint(spec.flags):
        h.update(part.encode() + b"\0")
    return h.hexdigest()[:40]


def _command(spec: BuildSpec, compiler_path: str, out: str) -> list[str]:
    libs = [f for f in spec.flags if f.startswith(("-l", "-L", "-Wl,"))]
    flags = [f for f in spec.flags if f not in libs]
    nvcc = os.path.basename(compiler_path).startswith("nvcc")
    pic = ["-Xcompiler", "-fPIC"] if nvcc else ["-fPIC"]
    names = [name for name, _ in spec.sources if not name.endswith(_HEADER_ONLY)]
    return [compiler_path, *flags, "-shared", *pic, "-o", out, *names, *libs]


# Sources with these suffixes are written next to the others (to be #included) but not compiled.
_HEADER_ONLY = (".h", ".hpp", ".hh", ".cuh", ".inc")


def _clean_message(output: str, workdir: str, spec: BuildSpec) -> str:
    text = output.replace(workdir + os.sep, "").replace(workdir, ".")
    for name, shown in spec.display_names:
        text = re.sub(rf"(?<![\w./-]){re.escape(name)}(?![\w.-])", lambda _m, s=shown: s, text)
    lines = text.strip().splitlines()
    if len(lines) > 200:
        lines = lines[:150] + [f"... ({len(lines) - 190} more lines) ..."] + lines[-40:]
    return "\n".join(lines)


def build(spec: BuildSpec) -> Path:
    """Compile ``spec`` into a shared library (or reuse the cached one) and return its path."""
    key = spec_key(spec)
    root = cache_dir() / "build"
    final = root / key
    lib = final / "lib.so"
    if lib.exists():
        stats["hits"] += 1
        return lib
    root.mkdir(parents=True, exist_ok=True)
    lock_path = root / f".{key}.lock"
    with open(lock_path, "a") as lock:
        import fcntl
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if lib.exists():  # another process built it while we waited
                stats["hits"] += 1
            else:
                _compile_into(spec, root, final)
                stats["compiles"] += 1
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    try:
        lock_path.unlink()
    except OSError:
        pass
    return lib


def _compile_into(spec: BuildSpec, root: Path, final: Path) -> None:
    compiler_path, _ = _compiler_identity(spec.compiler)
    workdir = tempfile.mkdtemp(prefix=".tmp-", dir=root)
    try:
        for name, text in spec.sources:
            with open(os.path.join(workdir, name), "w") as fh:
                fh.write(text)
        cmd = _command(spec, compiler_path, "lib.so")
        try:
            proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=COMPILE_TIMEOUT,
                                  errors="replace", env=dict(os.environ, LC_ALL="C", LANG="C"))
        except subprocess.TimeoutExpired:
            raise CompileError(f"{spec.compiler} did not finish compiling within {COMPILE_TIMEOUT:.0f} s") from None
        if proc.returncode != 0 or not os.path.exists(os.path.join(workdir, "lib.so")):
            message = _clean_message(proc.stderr + proc.stdout, workdir, spec)
            shown = ", ".join(dict(spec.display_names).get(n, n) for n, _ in spec.sources)
            error = CompileError(f"{spec.compiler} failed to compile {shown} (exit {proc.returncode}):\n{message}")
            error.output = message
            error.command = cmd
            raise error
        with open(os.path.join(workdir, "command.txt"), "w") as fh:
            fh.write(" ".join(cmd) + "\n")
        try:
            os.rename(workdir, final)
        except OSError:
            if not (final / "lib.so").exists():
                shutil.rmtree(final, ignore_errors=True)
                os.rename(workdir, final)
    finally:
        if os.path.isdir(workdir):
            shutil.rmtree(workdir, ignore_errors=True)
