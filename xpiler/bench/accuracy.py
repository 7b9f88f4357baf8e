"""Translation accuracy over the operator suite: ``python -m xpiler.bench accuracy``.

For every suite program (``examples/suite/<dialect>/manifest.json``, all dialects that have one) and
every other dialect, one *job*:

1. **translate**: ``xpiler.translate(src, to=target, source=dialect, launch=<manifest launch>)``, in a
   worker process with a time limit (``--translate-timeout``). Any exception is a failure, recorded
   with its class and message; nothing is skipped.
2. **compile**: with the target's real compiler where this machine has one
   (:func:`xpiler.oracle.toolchains.compile_check`: ``nvcc -arch=sm_90 -c`` for CUDA, ``hipcc
   --offload-arch=gfx90a -c`` for HIP; the native ``g++``/``gcc`` build with the VNNI flags for VNNI),
   else the oracle's emulator build (BANG: there is no ``cncc`` here; a missing nvcc/hipcc falls back
   the same way and says so in ``compile_via``).
3. **run**: :func:`xpiler.suite.check_program` with the manifest's arguments (same seed, so the same
   inputs as the source program) and compares every output with the numpy reference at the manifest's
   tolerance. The translated program keeps the entry name and parameter list (conventions.md: ``K_kernel``
   for a bare kernel ``K``), so the manifest's ``entry`` and ``args`` apply unchanged.

Per direction the report gives the share of programs that translate (no exception), compile, and
compute correctly (which is the paper's "computation accuracy"), printed as the 4x4 matrix of
shared/reference/system.md next to the published figures (:mod:`xpiler.bench.published`), plus the
translation time per program (median, max). ``--json PATH`` writes every job with the reason of every
failure (schema :data:`SCHEMA`, checked by :func:`validate_report`).

Jobs run in forked worker processes (``--jobs``, default: the number of CPUs); a worker that crashes
or overruns is killed and its job recorded as a failure of the stage it was in. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import select
import signal
import statistics
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from . import published

SCHEMA = "xpiler.bench.accuracy/1"
ORDER = published.ORDER
LABELS = published.LABELS
STAGES = ("translate", "compile", "run", "done")

DEFAULT_TRANSLATE_TIMEOUT = 120.0
DEFAULT_COMPILE_TIMEOUT = 300.0
DEFAULT_RUN_TIMEOUT = 60.0
_MESSAGE_CAP = 4000


# ---------------------------------------------------------------------------------------------
# jobs

@dataclass(frozen=True)
class Job:
    """One (program, target) pair. ``program`` is a :class:`xpiler.suite.ProgramEntry`."""

    index: int
    program: object
    target: str

    @property
    def source(self) -> str:
        return self.program.dialect

    @property
    def label(self) -> str:
        return f"{self.source}->{self.target} {self.program.id.split('/', 1)[1]}"


def _split(values) -> list[str]:
    out: list[str] = []
    for v in values or ():
        out.extend(p for p in str(v).replace(",", " ").split() if p)
    return out


def load_programs(dialects=None, ops=None) -> tuple[list, dict]:
    """The suite programs of ``dialects`` (default: all four), filtered by op.

    Returns ``(programs, suites)`` where ``suites[d]`` says, per dialect, how many programs its
    manifest has or why there is none (``{"programs": 0, "missing": reason}``).
    """
    from .. import suite
    programs, suites = [], {}
    for d in dialects or ORDER:
        path = suite.suite_dir() / d / "manifest.json"
        if not path.exists():
            suites[d] = {"programs": 0, "missing": f"no suite manifest ({path})"}
            continue
        manifest = suite.load_manifest(d)
        chosen = [p for p in manifest if not ops or p.op in ops]
        suites[d] = {"programs": len(chosen), "manifest": str(path), "in_manifest": len(manifest)}
        programs.extend(chosen)
    return programs, suites


def _elements(program) -> int:
    return sum(a.size for a in program.args if a.role != "scalar")


def quick_subset(programs) -> list:
    """A small deterministic subset: per source dialect, the smallest program (fewest elements over its
    buffers, then file name) of each kind (elementwise, reduction, gemm, tensor)."""
    from ..suite import KINDS
    chosen = []
    for d in ORDER:
        mine = [p for p in programs if p.dialect == d]
        for kind in KINDS:
            of_kind = sorted((p for p in mine if p.kind == kind), key=lambda p: (_elements(p), p.file, p.entry))
            if of_kind:
                chosen.append(of_kind[0])
    return chosen


def make_jobs(programs, targets=None, *, identity: bool = False) -> list[Job]:
    """Jobs for every program and every target dialect other than its own (its own too with ``identity``)."""
    jobs = []
    for p in programs:
        for t in ORDER:
            if targets and t not in targets:
                continue
            if t == p.dialect and not identity:
                continue
            jobs.append(Job(len(jobs), p, t))
    return jobs


# ---------------------------------------------------------------------------------------------
# one job (runs in a worker process)

def _variant(p) -> str:
    return getattr(p, "variant", "") or ""


def _record(p, target: str) -> dict:
    """A job's result record before anything ran (the fields of :data:`SCHEMA`'s results)."""
    return {"id": p.id, "source": p.dialect, "target": target, "file": p.file, "entry": p.entry,
            "variant": _variant(p), "op": p.op, "kind": p.kind, "style": p.style, "translated": False,
            "compiled": False, "correct": False, "stage": "translate", "error": None, "translate_seconds": None,
            "compile_seconds": None, "compile_via": None, "run_seconds": None, "backend": None,
            "max_abs_err": None, "max_rel_err": None, "mismatches": None}


def _error(exc: BaseException, stage: str) -> dict:
    message = str(exc)
    if len(message) > _MESSAGE_CAP:
        message = message[:_MESSAGE_CAP] + f"... ({len(message) - _MESSAGE_CAP} more characters)"
    return {"stage": stage, "type": type(exc).__name__, "message": message}


def _translate(src: str, target: str, program) -> str:
    """The translation under test (tests replace it)."""
    import xpiler
    return xpiler.translate(src, to=target, source=program.dialect, launch=program.launch, filename=program.file)


def _launch_for(launch, target: str):
    """The manifest's launch if it means something in ``target`` (grid/block for SIMT, task_dim for BANG)."""
    if not launch:
        return None
    if target in ("cuda", "hip") and "grid" in launch:
        return launch
    if target == "bang" and ("task_dim" in launch or "func_type" in launch):
        return launch
    return None


def _compile(text: str, target: str, program, launch, timeout: float) -> str:
    """Compile the translated program; returns how (``compile_via``); raises on failure."""
    from ..errors import CompileError
    from ..oracle import prepare
    from ..oracle.build import build
    from ..oracle.toolchains import compile_check
    if target == "vnni":
        spec = prepare(text, entry=program.entry, lang="vnni", backend="native")
        build(spec)
        return f"{spec.compiler} (native build, VNNI flags)"
    check = compile_check(text, target, timeout=timeout)
    if check.ok:
        return {"cuda": "nvcc -arch=sm_90 -c", "hip": "hipcc --offload-arch=gfx90a -c"}.get(target, check.reason)
    if not check.skipped:
        error = CompileError(f"{check.reason}:\n{check.output}".strip())
        raise error
    spec = prepare(text, entry=program.entry, lang=target, backend="emulate", launch=launch)
    build(spec)
    return f"emulator build ({spec.compiler}; {check.reason})"


def evaluate(job: Job, *, run_timeout: float = DEFAULT_RUN_TIMEOUT, compile_timeout: float = DEFAULT_COMPILE_TIMEOUT,
             stage: Callable[[str], None] = lambda s: None, save_dir: str | None = None) -> dict:
    """Translate, compile and run one job; returns its result record (see :data:`SCHEMA`)."""
    p, target = job.program, job.target
    res = _record(p, target)
    stage("translate")
    start = time.perf_counter()
    try:
        text = _translate(p.source, target, p)
        if not isinstance(text, str) or not text.strip():
            raise TypeError(f"translate returned {type(text).__name__} {text!r:.60}, not program text")
    except Exception as exc:  # noqa: BLE001 - every failure is a result
        res["translate_seconds"] = time.perf_counter() - start
        res["error"] = _error(exc, "translate")
        return res
    res["translate_seconds"] = time.perf_counter() - start
    res["translated"] = True
    if save_dir:
        from ..dialects import DEFAULT_SUFFIX
        out = Path(save_dir) / f"{p.dialect}-to-{target}"
        out.mkdir(parents=True, exist_ok=True)
        rel = p.id.split("/", 1)[1]
        stem = "".join(c if c.isalnum() or c in "._-@" else "_" for c in Path(p.file).stem + rel[len(p.file):])
        (out / f"{stem}{DEFAULT_SUFFIX[target]}").write_text(text)

    launch = _launch_for(p.launch, target)
    res["stage"] = "compile"
    stage("compile")
    start = time.perf_counter()
    try:
        res["compile_via"] = _compile(text, target, p, launch, compile_timeout)
    except Exception as exc:  # noqa: BLE001
        res["compile_seconds"] = time.perf_counter() - start
        res["error"] = _error(exc, "compile")
        return res
    res["compile_seconds"] = time.perf_counter() - start
    res["compiled"] = True

    res["stage"] = "run"
    stage("run")
    start = time.perf_counter()
    try:
        from .. import suite
        from ..oracle import backend_for
        res["backend"] = backend_for(target, "auto")
        result = suite.check_program(replace(p, launch=launch), target, src=text, timeout=run_timeout)
    except Exception as exc:  # noqa: BLE001
        res["run_seconds"] = time.perf_counter() - start
        res["error"] = _error(exc, "run")
        return res
    res["run_seconds"] = time.perf_counter() - start
    res["max_abs_err"] = _finite(result.max_abs_err)
    res["max_rel_err"] = _finite(result.max_rel_err)
    res["mismatches"] = sum(o.mismatches for o in result.outputs)
    if result.passed:
        res["correct"] = True
        res["stage"] = "done"
    else:
        res["error"] = {"stage": "run", "type": "WrongResult", "message": result.summary()[:_MESSAGE_CAP]}
    return res


def _finite(x: float):
    return x if x == x and abs(x) != float("inf") else str(x)   # JSON has no inf/nan


# ---------------------------------------------------------------------------------------------
# worker processes

def _write_all(fd: int, data: bytes) -> None:
    while data:
        n = os.write(fd, data)
        data = data[n:]


def _child(job: Job, w: int, log_path: str, work: Callable) -> None:  # pragma: no cover - runs in the fork
    code = 1
    try:
        try:
            os.setpgid(0, 0)
        except OSError:
            pass
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
        faulthandler.enable(file=sys.stderr)     # a crash dump goes to the job's log, not the terminal

        def stage(name: str) -> None:
            _write_all(w, (json.dumps({"stage": name}) + "\n").encode())

        result = work(job, stage)
        _write_all(w, (json.dumps({"result": result}) + "\n").encode())
        code = 0
    except BaseException:  # noqa: BLE001
        try:
            traceback.print_exc()
            sys.stderr.flush()
        except Exception:  # noqa: BLE001
            pass
    finally:
        os._exit(code)


def _kill(pid: int) -> None:
    for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            kill()
            return
        except OSError:
            continue


def _log_tail(path: str, n: int = 1500) -> str:
    try:
        text = Path(path).read_text(errors="replace").strip()
    except OSError:
        return ""
    return text if len(text) <= n else "..." + text[-n:]


def _failed(job: Job, stage: str, etype: str, message: str, elapsed: float) -> dict:
    p = job.program
    res = _record(p, job.target)
    res.update({"translated": stage in ("compile", "run"), "compiled": stage == "run", "stage": stage,
                "error": {"stage": stage, "type": etype, "message": message}})
    if stage == "translate":
        res["translate_seconds"] = elapsed
    return res


def run_jobs(jobs: list[Job], work: Callable, *, workers: int = 1, translate_timeout: float = DEFAULT_TRANSLATE_TIMEOUT,
             job_timeout: float | None = None, progress: Callable[[int, int, Job, dict], None] | None = None) -> list[dict]:
    """Run ``work(job, stage) -> dict`` for every job in forked workers, at most ``workers`` at a time.

    A job still translating after ``translate_timeout`` seconds, or running past ``job_timeout``, is killed
    (with its process group) and recorded as failed in the stage it was in (``TranslationTimeout`` /
    ``StageTimeout``); a worker that dies without a result is a ``WorkerCrash`` with its log's tail.
    Results come back in job order.
    """
    workers = max(1, int(workers))
    if job_timeout is None:
        job_timeout = translate_timeout + DEFAULT_COMPILE_TIMEOUT + 2 * DEFAULT_RUN_TIMEOUT + 60
    pending = list(jobs)
    pending.reverse()
    active: dict[int, dict] = {}
    results: dict[int, dict] = {}
    done = 0
    logdir = tempfile.mkdtemp(prefix="xpiler-bench-")
    try:
        while pending or active:
            while pending and len(active) < workers:
                job = pending.pop()
                r, w = os.pipe()
                log_path = os.path.join(logdir, f"job{job.index}.log")
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:  # pragma: no cover - child
                    os.close(r)
                    for other in active:
                        try:
                            os.close(other)
                        except OSError:
                            pass
                    _child(job, w, log_path, work)
                os.close(w)
                try:
                    os.setpgid(pid, pid)
                except OSError:
                    pass
                now = time.monotonic()
                active[r] = {"pid": pid, "job": job, "buf": b"", "stage": "translate", "stage_start": now,
                             "start": now, "result": None, "killed": None, "log": log_path}
            ready, _, _ = select.select(list(active), [], [], 0.2)
            for fd in ready:
                st = active[fd]
                data = os.read(fd, 1 << 16)
                if data:
                    st["buf"] += data
                    *lines, st["buf"] = st["buf"].split(b"\n")
                    for line in lines:
                        try:
                            msg = json.loads(line)
                        except ValueError:
                            continue
                        if "stage" in msg:
                            st["stage"], st["stage_start"] = msg["stage"], time.monotonic()
                        elif "result" in msg:
                            st["result"] = msg["result"]
                    continue
                os.close(fd)
                del active[fd]
                _, status = os.waitpid(st["pid"], 0)
                job = st["job"]
                result = st["result"]
                if result is None:
                    if st["killed"]:
                        kind, message = st["killed"]
                    else:
                        code = os.waitstatus_to_exitcode(status)
                        how = (f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}")
                        kind = "WorkerCrash"
                        message = f"the worker died ({how}) during {st['stage']}"
                        tail = _log_tail(st["log"])
                        if tail:
                            message += f": {tail}"
                    result = _failed(job, st["stage"], kind, message, time.monotonic() - st["stage_start"])
                results[job.index] = result
                try:
                    os.unlink(st["log"])
                except OSError:
                    pass
                done += 1
                if progress is not None:
                    progress(done, len(jobs), job, result)
            now = time.monotonic()
            for fd, st in active.items():
                if st["killed"]:
                    continue
                if st["stage"] == "translate" and now - st["stage_start"] > translate_timeout:
                    st["killed"] = ("TranslationTimeout", f"translation did not finish within {translate_timeout:g} s")
                elif now - st["start"] > job_timeout:
                    st["killed"] = ("StageTimeout", f"the job did not finish within {job_timeout:g} s "
                                                    f"(stopped during {st['stage']})")
                if st["killed"]:
                    _kill(st["pid"])
    finally:
        for fd, st in active.items():
            _kill(st["pid"])
            try:
                os.waitpid(st["pid"], 0)
            except ChildProcessError:
                pass
            os.close(fd)
        try:
            for name in os.listdir(logdir):
                os.unlink(os.path.join(logdir, name))
            os.rmdir(logdir)
        except OSError:
            pass
    return [results[j.index] for j in jobs]


# ---------------------------------------------------------------------------------------------
# aggregation

def _stats(values) -> dict:
    values = [v for v in values if isinstance(v, (int, float))]
    if not values:
        return {"median": None, "max": None, "n": 0}
    return {"median": statistics.median(values), "max": max(values), "n": len(values)}


def _pct(k: int, n: int):
    return 100.0 * k / n if n else None


def aggregate(results: list[dict], *, sources, targets, suites: dict, identity: bool = False) -> list[dict]:
    """Per-direction counts, shares and failure reasons, for every (source, target) in the paper's order
    (``ran`` is False for directions excluded by ``--from``/``--to``)."""
    out = []
    for s in ORDER:
        for t in ORDER:
            if s == t and not identity:
                continue
            ran = s in sources and t in targets
            mine = [r for r in results if r["source"] == s and r["target"] == t]
            n = len(mine)
            translated = sum(r["translated"] for r in mine)
            compiled = sum(r["compiled"] for r in mine)
            correct = sum(r["correct"] for r in mine)
            failures: dict[str, int] = {}
            examples: dict[str, str] = {}
            for r in mine:
                if r["error"]:
                    key = f"{r['error']['stage']}: {r['error']['type']}"
                    failures[key] = failures.get(key, 0) + 1
                    examples.setdefault(key, r["error"]["message"].splitlines()[0][:300] if r["error"]["message"] else "")
            note = None
            if not ran:
                note = "not run (excluded by --from/--to)"
            elif suites.get(s, {}).get("missing"):
                note = suites[s]["missing"]
            elif n == 0:
                note = "no programs selected"
            out.append({"source": s, "target": t, "ran": ran, "programs": n, "translated": translated,
                        "compiled": compiled, "correct": correct, "translate_rate": _pct(translated, n),
                        "compile_rate": _pct(compiled, n), "accuracy": _pct(correct, n),
                        "published_accuracy": published.accuracy(s, t),
                        "translate_seconds": _stats(r["translate_seconds"] for r in mine),
                        "failures": dict(sorted(failures.items(), key=lambda kv: (-kv[1], kv[0]))),
                        "failure_examples": examples, "note": note})
    return out


def _machine() -> dict:
    import platform
    info = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        from ..oracle import toolchains
        info["tools"] = toolchains.describe()
    except Exception as exc:  # noqa: BLE001
        info["tools"] = f"unavailable: {exc}"
    return info


def build_report(results: list[dict], *, sources, targets, suites, options: dict, wall_seconds: float,
                 identity: bool = False) -> dict:
    from .. import __version__
    directions = aggregate(results, sources=sources, targets=targets, suites=suites, identity=identity)
    measured = [d for d in directions if d["programs"] and d["source"] != d["target"]]
    n = len(results)
    return {
        "schema": SCHEMA,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "xpiler_version": __version__,
        "options": options,
        "machine": _machine(),
        "suites": suites,
        "directions": directions,
        "summary": {
            "jobs": n,
            "translated": sum(r["translated"] for r in results),
            "compiled": sum(r["compiled"] for r in results),
            "correct": sum(r["correct"] for r in results),
            "directions_measured": len(measured),
            "mean_accuracy": (statistics.fmean(d["accuracy"] for d in measured) if measured else None),
            "pooled_accuracy": _pct(sum(r["correct"] for r in results if r["source"] != r["target"]),
                                    sum(1 for r in results if r["source"] != r["target"])),
            "published_mean_accuracy": published.MEAN_COMPUTE_ACCURACY,
            "translate_seconds": _stats(r["translate_seconds"] for r in results),
            "wall_seconds": wall_seconds,
        },
        "results": results,
    }


# ---------------------------------------------------------------------------------------------
# the JSON schema

_RESULT_FIELDS = {"id": str, "source": str, "target": str, "file": str, "entry": str, "variant": str, "op": str, "kind": str,
                  "style": str, "translated": bool, "compiled": bool, "correct": bool, "stage": str,
                  "error": (dict, type(None)), "translate_seconds": (int, float, type(None)),
                  "compile_seconds": (int, float, type(None)), "compile_via": (str, type(None)),
                  "run_seconds": (int, float, type(None)), "backend": (str, type(None)),
                  "max_abs_err": (int, float, str, type(None)), "max_rel_err": (int, float, str, type(None)),
                  "mismatches": (int, type(None))}
_DIRECTION_FIELDS = {"source": str, "target": str, "ran": bool, "programs": int, "translated": int, "compiled": int,
                     "correct": int, "translate_rate": (int, float, type(None)),
                     "compile_rate": (int, float, type(None)), "accuracy": (int, float, type(None)),
                     "published_accuracy": (int, float, type(None)), "translate_seconds": dict, "failures": dict,
                     "failure_examples": dict, "note": (str, type(None))}


def validate_report(report: dict) -> None:
    """Check ``report`` against schema :data:`SCHEMA`; raises ``ValueError`` listing every problem."""
    problems = []

    def check(obj, fields, where):
        if not isinstance(obj, dict):
            problems.append(f"{where}: not an object")
            return
        for key, types in fields.items():
            if key not in obj:
                problems.append(f"{where}: missing {key!r}")
            elif not isinstance(obj[key], types) or (types is int and isinstance(obj[key], bool)):
                problems.append(f"{where}.{key}: {type(obj[key]).__name__} is not {types}")

    check(report, {"schema": str, "created": str, "xpiler_version": str, "options": dict, "machine": dict,
                   "suites": dict, "directions": list, "summary": dict, "results": list}, "report")
    if problems:
        raise ValueError("; ".join(problems))
    if report["schema"] != SCHEMA:
        problems.append(f"schema is {report['schema']!r}, expected {SCHEMA!r}")
    for i, d in enumerate(report["directions"]):
        check(d, _DIRECTION_FIELDS, f"directions[{i}]")
    for i, r in enumerate(report["results"]):
        check(r, _RESULT_FIELDS, f"results[{i}]")
        if not isinstance(r, dict):
            continue
        if r.get("stage") not in STAGES:
            problems.append(f"results[{i}].stage: {r.get('stage')!r} is not one of {STAGES}")
        if r.get("correct") is False and not r.get("error"):
            problems.append(f"results[{i}]: a failure without its reason")
        if isinstance(r.get("error"), dict):
            for key in ("stage", "type", "message"):
                if not isinstance(r["error"].get(key), str):
                    problems.append(f"results[{i}].error.{key}: missing or not a string")
        if r.get("correct") and not (r.get("compiled") and r.get("translated")):
            problems.append(f"results[{i}]: correct but not compiled/translated")
    check(report["summary"], {"jobs": int, "translated": int, "compiled": int, "correct": int,
                              "mean_accuracy": (int, float, type(None)), "published_mean_accuracy": (int, float),
                              "translate_seconds": dict, "wall_seconds": (int, float)}, "summary")
    if problems:
        raise ValueError("; ".join(problems))


# ---------------------------------------------------------------------------------------------
# printing

def format_matrix(cell: Callable[[str, str], str], *, title: str | None = None,
                  diagonal: Callable[[str], str] | None = None) -> list[str]:
    """A source x target table in the layout of shared/reference/system.md (rows and columns CUDA, BANG,
    HIP, VNNI; ``-`` on the diagonal unless ``diagonal`` gives its cells), as markdown lines."""
    header = ["source \\ target"] + [LABELS[t] for t in ORDER]
    rows = []
    for s in ORDER:
        row = [LABELS[s]]
        for t in ORDER:
            row.append((diagonal(s) if diagonal else "-") if s == t else cell(s, t))
        rows.append(row)
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
    out = [title] if title else []
    out += [line(header), "| " + " | ".join("-" * w for w in widths) + " |"]
    out += [line(r) for r in rows]
    return out


def _fmt_pct(v) -> str:
    return "n/a" if v is None else f"{v:.1f}"


def _fmt_pub(v) -> str:
    return "-" if v is None else f"{v:g}"


def _fmt_s(v) -> str:
    if v is None:
        return "n/a"
    return f"{v * 1000:.0f}ms" if v < 1 else f"{v:.1f}s"


def format_report(report: dict) -> str:
    """The human-readable report: the matrices (ours next to the published figures) and summaries."""
    dirs = {(d["source"], d["target"]): d for d in report["directions"]}
    opts = report.get("options", {})
    s = report["summary"]
    lines = []
    n_programs = sum(v.get("programs", 0) for v in report["suites"].values())
    quick = " (--quick subset)" if opts.get("quick") else ""
    lines.append(f"xpiler accuracy benchmark{quick}: {n_programs} suite programs, {s['jobs']} translations, "
                 f"{s['wall_seconds']:.1f} s wall")
    for d, info in report["suites"].items():
        if info.get("missing"):
            lines.append(f"  {LABELS[d]}: {info['missing']} -> its row is n/a")
    lines.append("")

    def acc_cell(a, b):
        d = dirs.get((a, b))
        ours = _fmt_pct(d["accuracy"]) if d and d["ran"] else "not run"
        n = f" (n={d['programs']})" if d and d["programs"] else ""
        return f"{ours}{n} / {_fmt_pub(published.accuracy(a, b))}"

    diag = None
    if opts.get("identity"):
        def diag(a):
            d = dirs.get((a, a))
            return f"{_fmt_pct(d['accuracy'])} (identity)" if d and d["programs"] else "-"
    lines += format_matrix(acc_cell, diagonal=diag,
                           title="Computation accuracy, % of programs whose translation computes correctly "
                                 "(ours (n programs) / published)")
    mean = s["mean_accuracy"]
    lines.append(f"mean: ours {_fmt_pct(mean)}% over {s['directions_measured']} measured directions "
                 f"(pooled {_fmt_pct(s['pooled_accuracy'])}%) / published {published.MEAN_COMPUTE_ACCURACY:g}% "
                 f"over 12 directions x {published.PROGRAMS_PER_PLATFORM} programs")
    lines.append("")

    def rate_cell(key):
        def cell(a, b):
            d = dirs.get((a, b))
            if not d or not d["ran"]:
                return "not run"
            return f"{_fmt_pct(d[key])}"
        return cell
    lo, hi = published.COMPILE_ACCURACY_RANGE
    lines += format_matrix(rate_cell("translate_rate"), title="Translates (no exception), % (ours)")
    lines.append("")
    lines += format_matrix(rate_cell("compile_rate"),
                           title=f"Compiles (real compiler; emulator build for BANG), % (ours; published: "
                                 f"{lo:g}-{hi:g} in every direction)")
    lines.append("")

    def time_cell(a, b):
        d = dirs.get((a, b))
        if not d or not d["programs"]:
            return "n/a"
        t = d["translate_seconds"]
        return f"{_fmt_s(t['median'])} / {_fmt_s(t['max'])}"
    lines += format_matrix(time_cell, title="Translation time per program (median / max)")
    ts = s["translate_seconds"]
    hours = published.TRANSLATION_HOURS
    lines.append(f"all translations: median {_fmt_s(ts['median'])}, max {_fmt_s(ts['max'])} "
                 f"(published CUDA->BANG: {hours['min']:g}-{hours['max']:g} h per operator, mean {hours['mean']:g} h)")
    lines.append("")
    failing = [d for d in report["directions"] if d["failures"]]
    if failing:
        lines.append("Failures by direction (stage: exception, count; first message):")
        for d in failing:
            lines.append(f"  {d['source']}->{d['target']} ({d['programs'] - d['correct']}/{d['programs']} failed):")
            for key, count in list(d["failures"].items())[:4]:
                lines.append(f"    {count:4d} x {key}: {d['failure_examples'].get(key, '')[:160]}")
        lines.append("")
    lines += published.summary_lines()
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# command line

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="sources", action="append", metavar="D",
                        help="source dialect(s) (cuda, hip, bang, vnni; repeat or comma-separate); default all")
    parser.add_argument("--to", dest="targets", action="append", metavar="D",
                        help="target dialect(s); default all")
    parser.add_argument("--ops", nargs="+", metavar="OP", help="only these operators (names of xpiler.reference)")
    parser.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1, help="worker processes (default: CPUs)")
    parser.add_argument("--quick", action="store_true",
                        help="a small deterministic subset: per source dialect the smallest program of each kind")
    parser.add_argument("--json", metavar="PATH", help="write the full report (every job, every failure reason) here")
    parser.add_argument("--identity", action="store_true", help="also translate every program to its own dialect "
                        "(the diagonal; a check of the harness itself)")
    parser.add_argument("--translate-timeout", type=float, default=DEFAULT_TRANSLATE_TIMEOUT, metavar="S")
    parser.add_argument("--run-timeout", type=float, default=DEFAULT_RUN_TIMEOUT, metavar="S")
    parser.add_argument("--compile-timeout", type=float, default=DEFAULT_COMPILE_TIMEOUT, metavar="S")
    parser.add_argument("--save-translations", metavar="DIR", help="write every translated program under DIR")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")


def _dialects(values, what: str) -> list[str]:
    from ..dialects import canonical
    names = _split(values)
    if not names:
        return list(ORDER)
    out = []
    for n in names:
        d = canonical(n)
        if d not in out:
            out.append(d)
    return out


def _import_all() -> None:
    """Every module of xpiler imported before the workers fork: a run measures the tree as it was when
    it started, even if files change while it runs (and the workers skip the imports)."""
    import importlib
    import pkgutil

    import xpiler
    for module in pkgutil.walk_packages(xpiler.__path__, "xpiler."):
        if not module.name.endswith(".__main__"):   # a __main__ runs its command
            importlib.import_module(module.name)


def main(args: argparse.Namespace) -> int:
    from ..errors import XpilerError
    try:
        sources = _dialects(args.sources, "--from")
        targets = _dialects(args.targets, "--to")
    except XpilerError as exc:
        print(f"xpiler.bench accuracy: {exc}", file=sys.stderr)
        return 2
    ops = _split(args.ops) or None
    if ops:
        from .. import reference
        unknown = [o for o in ops if o not in reference.OPERATORS]
        if unknown:
            print(f"xpiler.bench accuracy: unknown operator(s) {', '.join(unknown)}; known: "
                  f"{', '.join(reference.OPERATORS)}", file=sys.stderr)
            return 2
    programs, suites = load_programs(sources, set(ops) if ops else None)
    if args.quick:
        programs = quick_subset(programs)
        for d, info in suites.items():
            if not info.get("missing"):
                info["programs"] = sum(1 for p in programs if p.dialect == d)
    jobs = make_jobs(programs, targets, identity=args.identity)
    _import_all()
    quiet = args.quiet

    def progress(i, n, job, res):
        if quiet:
            return
        if res["correct"]:
            what = "ok"
        else:
            e = res["error"] or {}
            what = f"{e.get('stage', '?')} FAIL {e.get('type', '?')}"
        t = res.get("translate_seconds")
        print(f"[{i:{len(str(n))}d}/{n}] {job.label}: {what}" + (f" (translate {t:.2f} s)" if t is not None else ""),
              file=sys.stderr, flush=True)

    if not quiet:
        print(f"xpiler.bench accuracy: {len(programs)} programs, {len(jobs)} translations, {args.jobs} workers",
              file=sys.stderr, flush=True)

    def work(job, stage):
        return evaluate(job, run_timeout=args.run_timeout, compile_timeout=args.compile_timeout, stage=stage,
                        save_dir=args.save_translations)

    start = time.monotonic()
    results = run_jobs(jobs, work, workers=args.jobs, translate_timeout=args.translate_timeout,
                       job_timeout=args.translate_timeout + args.compile_timeout + 2 * args.run_timeout + 60,
                       progress=progress)
    options = {"from": sources, "to": targets, "ops": ops, "quick": bool(args.quick), "jobs": args.jobs,
               "identity": bool(args.identity), "translate_timeout": args.translate_timeout,
               "compile_timeout": args.compile_timeout, "run_timeout": args.run_timeout}
    report = build_report(results, sources=sources, targets=targets, suites=suites, options=options,
                          wall_seconds=time.monotonic() - start, identity=args.identity)
    validate_report(report)
    print(format_report(report))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
        if not quiet:
            print(f"wrote {args.json}", file=sys.stderr)
    return 0
