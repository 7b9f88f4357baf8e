"""The operator suite: manifests, inputs, and checking a program against its numpy reference.

Manifests follow docs/suite-manifest.md (``examples/suite/<dialect>/manifest.json``)::

    from xpiler import suite
    for entry in suite.load_manifest("vnni"):
        result = suite.check_program(entry, "vnni")      # runs it through xpiler.run
        result.assert_ok()                                # assert_allclose on every output, in full

- :func:`load_manifest` validates a manifest and raises :class:`ManifestError` naming the manifest,
  the program and the field at fault. A parametric program (sizes as scalar arguments) may have
  several entries with different args; they get distinct ``variant`` names (ids, seeds).
- :func:`make_args` builds the argument list: inputs random from a fixed seed (per program, so
  programs do not all see the same data) in the arg's ``range`` (default [-1, 1] for floats, the full
  range for int8/uint8, [-100, 100] for wider integers), never constant; inputs with a ``value`` use
  it as their contents (index tables such as deformable attention's spatial shapes); outputs pre-filled
  with random values so that an element the program does not write is caught; scalars from ``value``.
  Arrays live in shared memory (:func:`xpiler.oracle.child.shared_empty`): no copies per run.
- :func:`check_program` runs a program and returns a :class:`ProgramResult` (per-output max abs/rel
  error, mismatch counts, pass/fail at the manifest tolerance); :meth:`ProgramResult.assert_ok` and
  :func:`assert_program` are the pytest-friendly assertions.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import re
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .dialects import DIALECTS, SUFFIXES
from .errors import XpilerError
from .launch import Launch

KINDS = ("elementwise", "reduction", "gemm", "tensor")
STYLES = ("compiler-generated", "hand-written")
ROLES = ("input", "output", "scalar")
DTYPES = ("float32", "float16", "float64", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64")
DEFAULT_TOLERANCE = {"float32": (1e-3, 1e-3), "float64": (1e-3, 1e-3), "float16": (1e-2, 1e-2)}  # ints: exact
_PROGRAM_KEYS = {"file", "op", "kind", "style", "entry", "args", "params", "tolerance", "launch", "notes"}
_ARG_KEYS = {"name", "role", "shape", "dtype", "range", "value", "notes"}
_DEFAULT_INT_RANGE = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-100, 100), "uint16": (0, 200),
                      "int32": (-100, 100), "uint32": (0, 200), "int64": (-100, 100)}
_SEED = 20240601


class ManifestError(XpilerError, ValueError):
    """A suite manifest that does not follow docs/suite-manifest.md."""


def suite_dir() -> Path:
    """``$XPILER_SUITE_DIR`` or the repository's ``examples/suite``."""
    env = os.environ.get("XPILER_SUITE_DIR")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "examples" / "suite"


@dataclass(frozen=True)
class ArgSpec:
    name: str
    role: str                               # input / output / scalar
    dtype: str
    shape: tuple[int, ...] | None = None
    range: tuple[float, float] | None = None
    value: Any = None                       # scalar value, or fixed contents of an input

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape is not None else 1


@dataclass(frozen=True)
class ProgramEntry:
    """One program of a manifest."""

    dialect: str
    file: str
    op: str
    kind: str
    style: str
    entry: str
    args: tuple[ArgSpec, ...]
    params: dict = field(default_factory=dict, hash=False, compare=False)
    tolerance: tuple[float, float] | None = None    # (rtol, atol); None: by output dtype
    launch: dict | None = field(default=None, hash=False, compare=False)
    path: Path | None = None
    variant: str = ""       # set when several programs share (file, entry): a parametric program run at
                            # several sizes; tells them apart in ids and seeds (e.g. "1x1000")

    @property
    def id(self) -> str:
        return (f"{self.dialect}/{self.file}" + ("" if self.entry in self.file else f":{self.entry}")
                + (f"@{self.variant}" if self.variant else ""))

    @property
    def inputs(self) -> tuple[ArgSpec, ...]:
        return tuple(a for a in self.args if a.role == "input")

    @property
    def outputs(self) -> tuple[ArgSpec, ...]:
        return tuple(a for a in self.args if a.role == "output")

    @property
    def source(self) -> str:
        return self.path.read_text()

    def tolerance_for(self, arg: ArgSpec) -> tuple[float, float]:
        if self.tolerance is not None:
            return self.tolerance
        return DEFAULT_TOLERANCE.get(arg.dtype, (0.0, 0.0))


@dataclass(frozen=True)
class Manifest:
    dialect: str
    path: Path
    programs: tuple[ProgramEntry, ...]

    def __iter__(self):
        return iter(self.programs)

    def __len__(self) -> int:
        return len(self.programs)

    def get(self, file: str, entry: str | None = None, variant: str | None = None) -> ProgramEntry:
        """The first program of ``file`` (with ``entry`` / ``variant`` if given)."""
        for p in self.programs:
            if p.file == file and (entry is None or p.entry == entry) and (variant is None or p.variant == variant):
                return p
        raise KeyError(f"{self.path}: no program {file!r}" + (f" with entry {entry!r}" if entry else "")
                       + (f" and variant {variant!r}" if variant is not None else ""))


# ---------------------------------------------------------------------------------------------
# loading and validation

def load_manifest(what: str | os.PathLike) -> Manifest:
    """Load and validate a manifest: a dialect name (``"vnni"`` -> ``suite_dir()/vnni/manifest.json``),
    a manifest path, or the directory holding ``manifest.json``."""
    expected_dialect = None
    if isinstance(what, str) and what in DIALECTS:
        expected_dialect = what
        path = suite_dir() / what / "manifest.json"
    else:
        path = Path(what)
        if path.is_dir():
            path = path / "manifest.json"
    if not path.exists():
        raise ManifestError(f"{path}: no such manifest")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path}: not valid JSON: {exc}") from None
    return _validate(data, path, expected_dialect)


def entries(dialect: str) -> list[ProgramEntry]:
    """The programs of a dialect's manifest (for ``pytest.mark.parametrize``; ids via ``entry.id``)."""
    return list(load_manifest(dialect))


def _validate(data, path: Path, expected_dialect: str | None) -> Manifest:
    def fail(msg: str, where: str = ""):
        raise ManifestError(f"{path}{': ' + where if where else ''}: {msg}")

    if not isinstance(data, dict):
        fail("the manifest must be a JSON object with 'dialect' and 'programs'")
    unknown = set(data) - {"dialect", "programs", "notes"}
    if unknown:
        fail(f"unknown top-level keys {sorted(unknown)}")
    dialect = data.get("dialect")
    if dialect not in DIALECTS:
        fail(f"'dialect' must be one of {', '.join(DIALECTS)}, got {dialect!r}")
    if expected_dialect is not None and dialect != expected_dialect:
        fail(f"'dialect' is {dialect!r} but the manifest lives in the {expected_dialect!r} folder")
    programs = data.get("programs")
    if not isinstance(programs, list) or not programs:
        fail("'programs' must be a non-empty list")
    from . import reference
    out, seen = [], set()
    for index, prog in enumerate(programs):
        where = f"program {index}" + (f" ({prog.get('file')})" if isinstance(prog, dict) and prog.get("file") else "")
        entry = _validate_program(prog, path, dialect, reference, lambda m, w=where: fail(m, w))
        # A parametric program (sizes as scalar arguments) may appear several times with different args
        # or params; the same (file, entry) with the same args and params is a duplicate.
        key = (entry.file, entry.entry, json.dumps(prog["args"], sort_keys=True),
               json.dumps(entry.params, sort_keys=True))
        if key in seen:
            fail(f"duplicate program {entry.file!r} with entry {entry.entry!r} (same args and params)", where)
        seen.add(key)
        out.append(entry)
    return Manifest(dialect, path, tuple(_name_variants(out)))


def _name_variants(programs: list[ProgramEntry]) -> list[ProgramEntry]:
    """Give the programs that share (file, entry) distinct variant names: the first output's shape,
    else the shapes of all arrays, else a running index."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, p in enumerate(programs):
        groups.setdefault((p.file, p.entry), []).append(i)
    def shapes(p: ProgramEntry, which: str) -> str:
        arrays = [a for a in p.args if a.shape is not None and (which == "all" or a.role == "output")]
        return "_".join("x".join(str(d) for d in a.shape) for a in (arrays if which == "all" else arrays[:1]))

    out = list(programs)
    for members in groups.values():
        if len(members) < 2:
            continue
        names = None
        for which in ("output", "all"):
            cand = [shapes(programs[i], which) for i in members]
            if len(set(cand)) == len(cand):
                names = cand
                break
        if names is None:
            names = [f"{shapes(programs[i], 'output')}#{k}" for k, i in enumerate(members)]
        for i, name in zip(members, names):
            out[i] = dataclasses.replace(programs[i], variant=name)
    return out


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _validate_program(prog, path: Path, dialect: str, reference, fail) -> ProgramEntry:
    if not isinstance(prog, dict):
        fail("each program must be a JSON object")
    unknown = set(prog) - _PROGRAM_KEYS
    if unknown:
        fail(f"unknown keys {sorted(unknown)} (allowed: {', '.join(sorted(_PROGRAM_KEYS))})")
    for key in ("file", "op", "kind", "style", "entry", "args"):
        if key not in prog:
            fail(f"missing {key!r}")
    file = prog["file"]
    if not isinstance(file, str) or "/" in file or not file:
        fail(f"'file' must be a file name in the manifest's folder, got {file!r}")
    source = path.parent / file
    if not source.exists():
        fail(f"the file {file!r} does not exist next to the manifest")
    suffix = Path(file).suffix.lower()
    allowed = [s for s, d in SUFFIXES.items() if d == dialect] + ([".cpp", ".cu"] if dialect == "hip" else [])
    if suffix not in allowed:
        fail(f"a {dialect} program should have one of the suffixes {', '.join(allowed)}")
    op = prog["op"]
    fn = getattr(reference, op, None) if isinstance(op, str) and not op.startswith("_") else None
    if not callable(fn):
        fail(f"'op' {op!r} is not a reference in xpiler.reference (known: {', '.join(reference.OPERATORS)})")
    if prog["kind"] not in KINDS:
        fail(f"'kind' must be one of {', '.join(KINDS)}, got {prog['kind']!r}")
    if prog["style"] not in STYLES:
        fail(f"'style' must be one of {', '.join(STYLES)}, got {prog['style']!r}")
    entry = prog["entry"]
    if not isinstance(entry, str) or not re.fullmatch(r"[A-Za-z_]\w*", entry):
        fail(f"'entry' must be a C identifier, got {entry!r}")
    args = prog["args"]
    if not isinstance(args, list) or not args:
        fail("'args' must be a non-empty list")
    specs, names = [], set()
    for i, arg in enumerate(args):
        spec = _validate_arg(arg, lambda m, i=i, a=arg: fail(
            f"arg {i}{' (' + a['name'] + ')' if isinstance(a, dict) and isinstance(a.get('name'), str) else ''}: {m}"))
        if spec.name in names:
            fail(f"duplicate arg name {spec.name!r}")
        names.add(spec.name)
        specs.append(spec)
    if not any(s.role == "output" for s in specs):
        fail("no arg has role 'output': there is nothing to check")
    params = prog.get("params", {}) or {}
    if not isinstance(params, dict):
        fail("'params' must be an object")
    try:
        inspect.signature(fn).bind(*[None] * sum(s.role == "input" for s in specs), **params)
    except TypeError as exc:
        fail(f"reference.{op} cannot take the {sum(s.role == 'input' for s in specs)} inputs and params "
             f"{sorted(params)}: {exc}")
    tol = prog.get("tolerance")
    tolerance = None
    if tol is not None:
        if not isinstance(tol, dict) or set(tol) - {"rtol", "atol"} or not all(_number(tol.get(k, 0)) for k in tol) \
                or any(tol.get(k, 0) < 0 for k in tol):
            fail(f"'tolerance' must be {{\"rtol\": r, \"atol\": a}} with numbers >= 0, got {tol!r}")
        tolerance = (float(tol.get("rtol", 0.0)), float(tol.get("atol", 0.0)))
    launch = prog.get("launch")
    if launch is not None:
        try:
            Launch.coerce(launch)
        except XpilerError as exc:
            fail(f"'launch': {exc}")
    return ProgramEntry(dialect=dialect, file=file, op=op, kind=prog["kind"], style=prog["style"], entry=entry,
                        args=tuple(specs), params=dict(params), tolerance=tolerance, launch=launch, path=source)


def _validate_arg(arg, fail) -> ArgSpec:
    if not isinstance(arg, dict):
        fail("must be an object")
    unknown = set(arg) - _ARG_KEYS
    if unknown:
        fail(f"unknown keys {sorted(unknown)}")
    name, role, dtype = arg.get("name"), arg.get("role"), arg.get("dtype")
    if not isinstance(name, str) or not name:
        fail("missing 'name'")
    if role not in ROLES:
        fail(f"'role' must be one of {', '.join(ROLES)}, got {role!r}")
    if dtype not in DTYPES:
        fail(f"'dtype' must be one of {', '.join(DTYPES)}, got {dtype!r}")
    kind = np.dtype(dtype).kind
    if role == "scalar":
        if "shape" in arg or "range" in arg:
            fail("a scalar takes 'value', not 'shape' or 'range'")
        value = arg.get("value")
        if not _number(value) or (kind in "iu" and not isinstance(value, int)):
            fail(f"a scalar needs a numeric 'value' of its dtype, got {value!r}")
        return ArgSpec(name, role, dtype, value=value)
    shape = arg.get("shape")
    if not isinstance(shape, list) or not shape or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0
                                                          for s in shape):
        fail(f"'shape' must be a non-empty list of positive ints, got {shape!r}")
    rng = arg.get("range")
    if rng is not None:
        if role != "input":
            fail("'range' applies to inputs only")
        if not (isinstance(rng, list) and len(rng) == 2 and all(_number(v) for v in rng) and rng[0] < rng[1]):
            fail(f"'range' must be [low, high] with low < high (a constant input would hide bugs), got {rng!r}")
        if kind in "iu":
            info = np.iinfo(np.dtype(dtype))
            if not (info.min <= rng[0] and rng[1] <= info.max):
                fail(f"'range' {rng} does not fit {dtype}")
        rng = (rng[0], rng[1])
    value = arg.get("value")
    if value is not None:
        if role != "input":
            fail("only inputs and scalars take a 'value'")
        try:
            contents = np.array(value, dtype=np.dtype(dtype))
        except (TypeError, ValueError, OverflowError) as exc:
            fail(f"'value' is not a valid {dtype} array: {exc}")
        if contents.shape != tuple(shape):
            fail(f"'value' has shape {contents.shape}, expected {tuple(shape)}")
        value = contents.tolist()
    return ArgSpec(name, role, dtype, tuple(shape), rng, value)


# ---------------------------------------------------------------------------------------------
# inputs

def _rng(entry: ProgramEntry, seed: int | None) -> np.random.Generator:
    base = _SEED if seed is None else int(seed)
    key = f"{entry.dialect}/{entry.file}/{entry.entry}" + (f"/{entry.variant}" if entry.variant else "")
    return np.random.default_rng([base, zlib.crc32(key.encode())])


def _random(rng: np.random.Generator, shape, dtype: str, lo, hi) -> np.ndarray:
    dt = np.dtype(dtype)
    if dt.kind == "f":
        a = rng.uniform(lo, hi, size=shape).astype(dt)
    else:
        a = rng.integers(int(lo), int(hi), size=shape, endpoint=True, dtype=np.int64).astype(dt)
    flat = a.reshape(-1)
    if flat.size > 1 and np.all(flat == flat[0]):   # never constant (e.g. all ones)
        flat[0] = np.asarray(hi if flat[0] != hi else lo, dtype=dt)
    return a


def make_args(entry: ProgramEntry, seed: int | None = None) -> list:
    """The argument list of ``entry``: random inputs, randomly pre-filled outputs, scalar values."""
    from .oracle.child import shared_empty
    rng = _rng(entry, seed)
    args: list = []
    for a in entry.args:
        if a.role == "scalar":
            if a.dtype == "int32":
                args.append(int(a.value))
            elif a.dtype == "float32":
                args.append(float(a.value))
            else:
                args.append(np.dtype(a.dtype).type(a.value))
            continue
        buf = shared_empty(a.shape, a.dtype)
        if a.role == "input":
            if a.value is not None:
                buf[...] = np.array(a.value, dtype=a.dtype)
            else:
                lo, hi = a.range if a.range is not None else (
                    (-1.0, 1.0) if np.dtype(a.dtype).kind == "f" else _DEFAULT_INT_RANGE[a.dtype])
                buf[...] = _random(rng, a.shape, a.dtype, lo, hi)
        else:
            dt = np.dtype(a.dtype)
            if dt.kind == "f":
                buf[...] = rng.uniform(-1000.0, 1000.0, size=a.shape).astype(dt)
            else:
                info = np.iinfo(dt)
                buf[...] = rng.integers(max(info.min, -10**6), min(info.max, 10**6), size=a.shape,
                                        endpoint=True).astype(dt)
        args.append(buf)
    return args


def reference_outputs(entry: ProgramEntry, args: list) -> list[np.ndarray]:
    """The reference's outputs for the inputs in ``args``, shaped like the manifest's output args."""
    from . import reference
    inputs = [args[i] for i, a in enumerate(entry.args) if a.role == "input"]
    result = getattr(reference, entry.op)(*[np.array(x, copy=True) for x in inputs], **entry.params)
    results = list(result) if isinstance(result, (tuple, list)) else [result]
    outs = entry.outputs
    if len(results) != len(outs):
        raise ManifestError(f"{entry.id}: reference.{entry.op} returned {len(results)} outputs, the manifest "
                            f"declares {len(outs)}")
    shaped = []
    for spec, value in zip(outs, results):
        value = np.asarray(value)
        if value.shape != spec.shape:
            if value.size != spec.size:
                raise ManifestError(f"{entry.id}: reference.{entry.op} gives output {spec.name!r} the shape "
                                    f"{value.shape}, the manifest says {spec.shape}")
            value = value.reshape(spec.shape)
        shaped.append(value)
    return shaped


# ---------------------------------------------------------------------------------------------
# checking

@dataclass
class OutputComparison:
    name: str
    actual: np.ndarray
    expected: np.ndarray
    rtol: float
    atol: float
    max_abs_err: float
    max_rel_err: float
    mismatches: int

    @property
    def ok(self) -> bool:
        return self.mismatches == 0

    def first_mismatches(self, n: int = 5) -> list[tuple[tuple[int, ...], float, float]]:
        bad = ~_within(self.actual, self.expected, self.rtol, self.atol)
        idx = np.argwhere(bad)[:n]
        return [(tuple(int(v) for v in i), self.actual[tuple(i)].item(), self.expected[tuple(i)].item()) for i in idx]


def _within(actual, expected, rtol, atol) -> np.ndarray:
    a = np.asarray(actual, dtype=np.float64) if np.asarray(actual).dtype.kind == "f" else np.asarray(actual)
    e = np.asarray(expected, dtype=np.float64) if np.asarray(expected).dtype.kind == "f" else np.asarray(expected)
    if a.dtype.kind in "iu" and e.dtype.kind in "iu" and rtol == 0 and atol == 0:
        return a.astype(np.int64) == e.astype(np.int64)
    a, e = a.astype(np.float64), e.astype(np.float64)
    ok = np.abs(a - e) <= atol + rtol * np.abs(e)
    return ok | (np.isnan(a) & np.isnan(e)) | ((a == e) & np.isinf(e))


def _compare(name, actual, expected, rtol, atol) -> OutputComparison:
    a = np.asarray(actual)
    e = np.asarray(expected)
    if a.dtype.kind in "iu" and e.dtype.kind in "iu":
        diff = np.abs(a.astype(np.int64) - e.astype(np.int64)).astype(np.float64)
        mag = np.abs(e.astype(np.float64))
    else:
        with np.errstate(invalid="ignore", over="ignore"):
            diff = np.abs(a.astype(np.float64) - e.astype(np.float64))
        mag = np.abs(e.astype(np.float64))
    diff = np.where(np.isnan(diff), np.inf, diff)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(mag > 0, diff / np.where(mag > 0, mag, 1.0), np.where(diff > 0, np.inf, 0.0))
    bad = int(np.count_nonzero(~_within(a, e, rtol, atol)))
    return OutputComparison(name, a, e, rtol, atol, float(diff.max(initial=0.0)), float(rel.max(initial=0.0)), bad)


@dataclass
class ProgramResult:
    """The outcome of :func:`check_program`."""

    entry: ProgramEntry
    outputs: list[OutputComparison]
    backend: str
    seconds: float

    @property
    def passed(self) -> bool:
        return all(o.ok for o in self.outputs)

    def __bool__(self) -> bool:
        return self.passed

    @property
    def max_abs_err(self) -> float:
        return max(o.max_abs_err for o in self.outputs)

    @property
    def max_rel_err(self) -> float:
        return max(o.max_rel_err for o in self.outputs)

    def summary(self) -> str:
        parts = []
        for o in self.outputs:
            text = (f"{o.name}: max abs err {o.max_abs_err:.3g}, max rel err {o.max_rel_err:.3g}, "
                    f"{o.mismatches}/{o.expected.size} outside rtol={o.rtol:g} atol={o.atol:g}")
            if o.mismatches:
                text += "; first: " + ", ".join(f"{i} got {a:.6g} want {e:.6g}" for i, a, e in o.first_mismatches(3))
            parts.append(text)
        return f"{self.entry.id} [{self.entry.op}] {'PASS' if self.passed else 'FAIL'}: " + "; ".join(parts)

    def assert_ok(self) -> None:
        """``numpy.testing.assert_allclose`` of every output in full, at the manifest tolerance."""
        for o in self.outputs:
            np.testing.assert_allclose(o.actual, o.expected, rtol=o.rtol, atol=o.atol,
                                       err_msg=f"{self.entry.id}: output {o.name!r} ({self.entry.op})")


def check_program(entry: ProgramEntry, dialect: str | None = None, *, backend: str = "auto",
                  seed: int | None = None, timeout: float | None = 60.0, check: bool = False,
                  src: str | None = None) -> ProgramResult:
    """Run ``entry``'s program through :func:`xpiler.run` and compare every output with the reference.

    ``dialect`` defaults to the manifest's; ``src`` replaces the program text (e.g. a translation or a
    mutant checked against the same manifest entry). Errors of the program (compile error, crash,
    timeout, fault) propagate as the oracle's exceptions.
    """
    from .oracle import run
    args = make_args(entry, seed)
    text = entry.source if src is None else src
    start = time.perf_counter()
    run(text, args, entry=entry.entry, lang=dialect or entry.dialect, backend=backend, launch=entry.launch,
        timeout=timeout, check=check)
    seconds = time.perf_counter() - start
    expected = reference_outputs(entry, args)
    comparisons = []
    out_index = [i for i, a in enumerate(entry.args) if a.role == "output"]
    for spec, i, exp in zip(entry.outputs, out_index, expected):
        rtol, atol = entry.tolerance_for(spec)
        comparisons.append(_compare(spec.name, np.array(args[i], copy=True), exp, rtol, atol))
    return ProgramResult(entry, comparisons, backend, seconds)


def assert_program(entry: ProgramEntry, dialect: str | None = None, **kwargs) -> ProgramResult:
    """:func:`check_program`, then :meth:`ProgramResult.assert_ok`; returns the result."""
    result = check_program(entry, dialect, **kwargs)
    result.assert_ok()
    return result
