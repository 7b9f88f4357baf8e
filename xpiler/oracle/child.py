"""Calling an ``extern "C"`` entry of a shared library in a child process.

``call(library, entry, args, timeout)`` (docs/oracle-contract.md) forks a child that loads the
library, calls ``entry(*args)`` and exits. A crashing program never takes the caller down, and one
that runs past ``timeout`` seconds is killed.

Memory. The child shares every array with the caller through ``MAP_SHARED`` anonymous memory:
before the fork the arrays are copied into one shared arena (arrays that overlap in memory share one
region there, so in-place calls such as ``op(A, A)`` keep their aliasing); after the call the regions
of writeable arrays are copied back. Arrays allocated with :func:`shared_empty` / :func:`shared_array`
already live in shared memory and are passed without any copy. Every region is surrounded by guard
bytes holding a canary: a program that writes past either end of a buffer is reported as an
:class:`~xpiler.errors.EmulationFault` naming the argument.

Arguments. numpy arrays are passed as pointers (they must be C-contiguous), Python ``int`` as C
``int``, Python ``float`` as C ``float``, ``bool`` as C ``int``, numpy scalars as their own C type
(``np.float64`` -> ``double``, ``np.int64`` -> ``int64_t`` ...). Anything else raises
:class:`ArgumentError` (a :class:`~xpiler.errors.RunError` and a ``TypeError``).

With ``check=True``, if the library exports ``void xpiler_register_buffer(void *, size_t)`` (the
emulation runtimes do), the child registers every array's (address, bytes) before the call.

Failures: exit status 86 after ``XPILER_FAULT: <msg>`` on stderr -> ``EmulationFault(msg)``; death by a
signal or any other non-zero exit -> ``ProgramCrash`` (signal name, stderr tail); past the timeout ->
``ProgramTimeout``. What the program writes to stderr is forwarded to ``sys.stderr`` when it succeeds
(stdout is inherited and goes straight to the caller's stdout).
"""

from __future__ import annotations

import ctypes
import faulthandler
import mmap
import os
import resource
import select
import signal
import subprocess
import sys
import time
import warnings
import weakref

import numpy as np

from ..errors import EmulationFault, ProgramCrash, ProgramTimeout, RunError

FAULT_STATUS = 86          # xpiler_fault() in runtime/fault.h
_CHILD_ERROR_STATUS = 87   # the child could not set the call up (missing symbol, bad library)
_CHILD_ERROR_MARK = "XPILER_CHILD_ERROR: "
_FAULT_MARK = "XPILER_FAULT: "
GUARD = 64                 # bytes of canary around every buffer; also the buffers' alignment
_CANARY = bytes([0xA5, 0x5A, 0xC3, 0x3C]) * (GUARD // 4)
_STDERR_CAP = 1 << 20

_libc = ctypes.CDLL(None)
_libc.fflush.argtypes = [ctypes.c_void_p]


class ArgumentError(RunError, TypeError):
    """An argument of :func:`xpiler.run` that cannot be passed to a C function."""


_SCALAR_CTYPES = {
    np.dtype(np.float32): ctypes.c_float, np.dtype(np.float64): ctypes.c_double,
    np.dtype(np.int8): ctypes.c_int8, np.dtype(np.uint8): ctypes.c_uint8,
    np.dtype(np.int16): ctypes.c_int16, np.dtype(np.uint16): ctypes.c_uint16,
    np.dtype(np.int32): ctypes.c_int32, np.dtype(np.uint32): ctypes.c_uint32,
    np.dtype(np.int64): ctypes.c_int64, np.dtype(np.uint64): ctypes.c_uint64,
    np.dtype(np.bool_): ctypes.c_bool,
}


# ---------------------------------------------------------------------------------------------
# Shared arrays: allocated in MAP_SHARED memory, passed to the child without copies.

_shared: dict[int, tuple[int, int]] = {}   # id(mmap) -> (data start, data end); guards around it


def _forget(key: int) -> None:
    _shared.pop(key, None)


def shared_empty(shape, dtype=np.float32) -> np.ndarray:
    """An uninitialised C-contiguous array in shared memory: :func:`call` passes it with no copy."""
    dtype = np.dtype(dtype)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    size = GUARD + _round_up(nbytes) + GUARD
    mm = mmap.mmap(-1, size)
    mm[:GUARD] = _CANARY
    mm[GUARD + nbytes:] = _pattern(size - GUARD - nbytes)
    raw = np.frombuffer(mm, dtype=np.uint8, count=nbytes, offset=GUARD)
    arr = raw.view(dtype).reshape(shape)
    start = raw.ctypes.data
    _shared[id(mm)] = (start, start + nbytes)
    weakref.finalize(mm, _forget, id(mm))
    return arr


def shared_array(a) -> np.ndarray:
    """A copy of ``a`` (C-contiguous) in shared memory."""
    a = np.asarray(a)
    out = shared_empty(a.shape, a.dtype)
    out[...] = a
    return out


def _shared_region(start: int, end: int) -> tuple[int, int] | None:
    for lo, hi in _shared.values():
        if lo <= start and end <= hi:
            return lo, hi
    return None


def _pattern(n: int) -> bytes:
    return (_CANARY * (n // GUARD + 1))[:n]


def _round_up(n: int) -> int:
    return (n + GUARD - 1) // GUARD * GUARD


# ---------------------------------------------------------------------------------------------
# Argument conversion.

def _describe(i: int, a) -> str:
    if isinstance(a, np.ndarray):
        return f"argument {i} ({a.dtype} array of shape {a.shape})"
    return f"argument {i}"


def _convert(args) -> tuple[list, list]:
    """-> (arrays: list of (index, ndarray), scalars: list of (index, ctype, value))."""
    if isinstance(args, (str, bytes)) or not hasattr(args, "__iter__"):
        raise ArgumentError(f"args must be a list of arguments, got {type(args).__name__}")
    arrays, scalars = [], []
    for i, a in enumerate(args):
        if isinstance(a, np.ndarray):
            if a.dtype.hasobject or a.dtype.kind not in "biufc" or a.dtype.fields is not None:
                raise ArgumentError(f"argument {i}: arrays of dtype {a.dtype} cannot be passed to C")
            if not a.flags.c_contiguous:
                raise ArgumentError(f"argument {i}: array of shape {a.shape} is not C-contiguous; "
                                    f"pass numpy.ascontiguousarray(...) and read the output from that copy")
            arrays.append((i, a))
        elif isinstance(a, np.generic):
            ctype = _SCALAR_CTYPES.get(a.dtype)
            if ctype is None:
                raise ArgumentError(f"argument {i}: numpy scalar of type {a.dtype} has no C type xpiler can pass "
                                    f"(use float32/float64 or an integer type)")
            scalars.append((i, ctype, a.item()))
        elif isinstance(a, bool):
            scalars.append((i, ctypes.c_int, int(a)))
        elif isinstance(a, int):
            if not -2**31 <= a < 2**31:
                raise ArgumentError(f"argument {i}: int {a} does not fit a C int; pass numpy.int64({a}) "
                                    f"for a 64-bit parameter")
            scalars.append((i, ctypes.c_int, a))
        elif isinstance(a, float):
            scalars.append((i, ctypes.c_float, a))
        else:
            raise ArgumentError(f"argument {i}: cannot pass a {type(a).__name__} to C; expected a numpy array "
                                f"(pointer), an int (C int), a float (C float) or a numpy scalar")
    return arrays, scalars


class _Layout:
    """Where each array lives during the call: a shared arena with guarded regions."""

    def __init__(self, arrays):
        self.addr: dict[int, int] = {}          # arg index -> address seen by the child
        self.regions = []                       # (arena offset, host start, nbytes, [arg idx], writeable)
        self.shared_args = []                   # (arg index, lo, hi) of arrays already in shared memory
        spans = []
        for i, a in arrays:
            start = a.ctypes.data
            end = start + a.nbytes
            region = _shared_region(start, end) if a.nbytes else None
            if region is not None:
                self.addr[i] = start
                self.shared_args.append((i, *region))
            else:
                spans.append((start, end, i, a.flags.writeable))
        spans.sort()
        groups = []                             # merge overlapping spans
        for start, end, i, w in spans:
            if groups and start < groups[-1][1] and groups[-1][1] > groups[-1][0]:
                g = groups[-1]
                g[1] = max(g[1], end)
                g[2].append((i, start))
                g[3] = g[3] or w
            else:
                groups.append([start, end, [(i, start)], w])
        offset = GUARD
        for start, end, members, w in groups:
            self.regions.append((offset, start, end - start, members, w))
            offset += _round_up(end - start) + GUARD
        self.size = offset
        self.arena = mmap.mmap(-1, max(self.size, GUARD)) if self.regions else None
        if self.arena is not None:
            base = ctypes.addressof(ctypes.c_char.from_buffer(self.arena))
            self.base = base
            self.arena[0:GUARD] = _CANARY
            for off, start, n, members, _ in self.regions:
                if n:
                    ctypes.memmove(base + off, start, n)
                gap = _round_up(n) - n + GUARD
                self.arena[off + n:off + n + gap] = _pattern(gap)
                for i, s in members:
                    self.addr[i] = base + off + (s - start)

    def check_guards(self, args) -> None:
        if self.arena is not None:
            if self.arena[0:GUARD] != _CANARY:
                first = self.regions[0][3][0][0]
                raise EmulationFault(f"out-of-bounds write: the program wrote before the start of "
                                     f"{_describe(first, args[first])}")
            for off, _, n, members, _ in self.regions:
                gap = _round_up(n) - n + GUARD
                if self.arena[off + n:off + n + gap] != _pattern(gap):
                    last = max(members, key=lambda m: m[1] + args[m[0]].nbytes)[0]
                    raise EmulationFault(f"out-of-bounds write: the program wrote past the end of "
                                         f"{_describe(last, args[last])} (or before the next buffer)")
        for i, lo, hi in self.shared_args:
            if ctypes.string_at(lo - GUARD, GUARD) != _CANARY:
                raise EmulationFault(f"out-of-bounds write: the program wrote before the start of "
                                     f"{_describe(i, args[i])}")
            pad = _round_up(hi - lo) - (hi - lo) + GUARD
            if ctypes.string_at(hi, pad) != _pattern(pad):
                raise EmulationFault(f"out-of-bounds write: the program wrote past the end of "
                                     f"{_describe(i, args[i])}")

    def copy_back(self) -> None:
        for off, start, n, _, writeable in self.regions:
            if writeable and n:
                ctypes.memmove(start, self.base + off, n)

    def close(self) -> None:
        if self.arena is not None:
            import gc
            try:
                self.arena.close()
            except BufferError:  # the from_buffer export may still be alive
                gc.collect()
                try:
                    self.arena.close()
                except BufferError:
                    pass


# ---------------------------------------------------------------------------------------------
# The call.

def call(library, entry: str, args, timeout: float | None = 60.0, *, check: bool = False) -> None:
    """Call ``entry(*args)`` from the shared library ``library`` in a child process."""
    if timeout is not None and not timeout > 0:
        raise ArgumentError(f"timeout must be a positive number of seconds or None, got {timeout!r}")
    args = list(args)
    arrays, scalars = _convert(args)
    layout = _Layout(arrays)
    try:
        argv = [None] * len(args)
        argtypes = [None] * len(args)
        for i, _ in arrays:
            argtypes[i] = ctypes.c_void_p
            argv[i] = ctypes.c_void_p(layout.addr[i])
        for i, ctype, value in scalars:
            argtypes[i] = ctype
            argv[i] = ctype(value)
        buffers = []
        for i, a in arrays:
            item = (layout.addr[i], a.nbytes)
            if item not in buffers:
                buffers.append(item)
        status, err = _run_child(str(library), entry, argtypes, argv, buffers if check else None, timeout)
        _raise_for(status, err, entry, library, timeout)
        layout.check_guards(args)
        layout.copy_back()
        if err:
            sys.stderr.write(err)
    finally:
        layout.close()


def _child_main(library, entry, argtypes, argv, buffers, errfd) -> None:  # pragma: no cover - in child
    code = _CHILD_ERROR_STATUS
    try:
        os.dup2(errfd, 2)
        os.close(errfd)
        try:
            os.setpgid(0, 0)
        except OSError:
            pass
        faulthandler.disable()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGABRT):
            signal.signal(sig, signal.SIG_DFL)
        try:
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        except (ValueError, OSError):
            pass
        try:
            lib = ctypes.CDLL(library, mode=os.RTLD_NOW | os.RTLD_LOCAL)
        except OSError as exc:
            raise RuntimeError(f"cannot load the compiled library: {exc}") from None
        try:
            fn = getattr(lib, entry)
        except AttributeError:
            raise RuntimeError(f"MISSING_ENTRY {entry}") from None
        if buffers is not None:
            try:
                hook = lib.xpiler_register_buffer
            except AttributeError:
                hook = None
            if hook is not None:
                hook.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
                hook.restype = None
                for addr, n in buffers:
                    hook(addr, n)
        fn.argtypes = argtypes
        fn.restype = None
        code = 1
        fn(*argv)
        code = 0
        _libc.fflush(None)
    except BaseException as exc:  # noqa: BLE001 - everything must end in _exit
        try:
            os.write(2, f"{_CHILD_ERROR_MARK}{exc}\n".encode(errors="replace"))
        except OSError:
            pass
        code = _CHILD_ERROR_STATUS
    finally:
        os._exit(code)


def _run_child(library, entry, argtypes, argv, buffers, timeout):
    """Fork, run, wait. -> (wait status as from os.waitstatus_to_exitcode or 'timeout', stderr text)."""
    r, w = os.pipe()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    _libc.fflush(None)
    with warnings.catch_warnings():   # Python >= 3.12 warns about fork() with threads; the child
        warnings.simplefilter("ignore", DeprecationWarning)   # only calls C code and _exits.
        pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(r)
        _child_main(library, entry, argtypes, argv, buffers, w)
    os.close(w)
    chunks: list[bytes] = []
    size = 0
    pidfd = None
    try:
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = None
        deadline = None if timeout is None else time.monotonic() + timeout
        pipe_open = True
        exited = False
        while not exited:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                _kill(pid)
                os.waitpid(pid, 0)
                return "timeout", _decode(chunks)
            fds = ([r] if pipe_open else []) + ([pidfd] if pidfd is not None else [])
            wait = remaining if pidfd is not None else min(0.01 if remaining is None else remaining, 0.01)
            ready, _, _ = select.select(fds, [], [], wait) if fds else ([], [], time.sleep(wait))
            if r in ready:
                data = os.read(r, 65536)
                if data:
                    if size < _STDERR_CAP:
                        chunks.append(data)
                        size += len(data)
                else:
                    pipe_open = False
            if pidfd is not None:
                exited = pidfd in ready
            else:
                done, raw = os.waitpid(pid, os.WNOHANG)
                if done:
                    return os.waitstatus_to_exitcode(raw), _drain(r, chunks, pipe_open)
        _, raw = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(raw), _drain(r, chunks, pipe_open)
    except BaseException:
        _kill(pid)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        raise
    finally:
        os.close(r)
        if pidfd is not None:
            os.close(pidfd)


def _drain(r, chunks, pipe_open=True) -> str:
    if pipe_open:
        os.set_blocking(r, False)
        try:
            while True:
                data = os.read(r, 65536)
                if not data:
                    break
                chunks.append(data)
        except (BlockingIOError, OSError):
            pass
    return _decode(chunks)


def _decode(chunks) -> str:
    return b"".join(chunks).decode(errors="replace")


def _kill(pid: int) -> None:
    for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            kill()
            return
        except (ProcessLookupError, PermissionError, OSError):
            continue


def _tail(text: str, n: int = 2000) -> str:
    text = text.strip()
    return text if len(text) <= n else "..." + text[-n:]


def _raise_for(status, err: str, entry: str, library, timeout) -> None:
    if status == 0:
        return
    if status == "timeout":
        raise ProgramTimeout(f"{entry}: did not finish within {timeout:g} s and was killed"
                             + (f"; stderr: {_tail(err, 500)}" if err.strip() else ""))
    if status == FAULT_STATUS:
        faults = [line[len(_FAULT_MARK):].strip() for line in err.splitlines() if line.startswith(_FAULT_MARK)]
        if faults:
            exc = EmulationFault(faults[-1])
            exc.stderr = err
            raise exc
    if status == _CHILD_ERROR_STATUS:
        marks = [line[len(_CHILD_ERROR_MARK):] for line in err.splitlines() if line.startswith(_CHILD_ERROR_MARK)]
        if marks:
            msg = marks[-1]
            if msg.startswith("MISSING_ENTRY "):
                exported = exported_functions(library)
                shown = ", ".join(exported[:20]) + (" ..." if len(exported) > 20 else "")
                raise RunError(f"entry {entry!r} is not an exported function of the program "
                               f"(exported: {shown or 'none'})")
            raise RunError(f"{entry}: {msg}")
    if isinstance(status, int) and status < 0:
        sig = -status
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        desc = signal.strsignal(sig) or name
        exc = ProgramCrash(f"{entry}: the program crashed with {name} ({desc})"
                           + (f"; stderr: {_tail(err)}" if err.strip() else ""))
        exc.signal = name
        exc.stderr = err
        raise exc
    exc = ProgramCrash(f"{entry}: the program exited with status {status}"
                       + (f"; stderr: {_tail(err)}" if err.strip() else ""))
    exc.stderr = err
    raise exc


def exported_functions(library) -> list[str]:
    """Names of the functions a shared library exports (``nm -D``), for error messages."""
    try:
        out = subprocess.run(["nm", "-D", "--defined-only", str(library)], capture_output=True, text=True,
                             timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    names = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in ("T", "W") and not parts[2].startswith("_"):
            names.append(parts[2])
    return sorted(set(names))
