"""xpiler.bench: the accuracy matrix and its JSON, failure accounting, --quick end to end, the perf report
and the VNNI timing path, the GPU bundle (export, standalone runner, import). Uses a tiny suite of its own
(XPILER_SUITE_DIR) so that it runs in seconds whatever the real suite holds."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import xpiler
import xpiler.api
from xpiler import NotImplementedDirection, suite
from xpiler.bench import accuracy, perf, published
from xpiler.bench.__main__ import main as bench_main

VNNI_ADD = """// element-wise add, plain C
void add_vec(const float *A, const float *B, float *out, int n) {
  for (int i = 0; i < n; ++i) out[i] = A[i] + B[i];
}
"""

VNNI_RELU = """#include <immintrin.h>
extern "C" void relu16(const float *A, float *out) {
  for (int i = 0; i < 256; i += 16) _mm512_storeu_ps(out + i, _mm512_max_ps(_mm512_loadu_ps(A + i), _mm512_setzero_ps()));
}
"""

CUDA_ADD = """#include <cuda_runtime.h>
__global__ void add_k(const float *a, const float *b, float *c, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) c[i] = a[i] + b[i];
}
extern "C" void add_cuda(float *a, float *b, float *c, int n) {
  float *da, *db, *dc;
  size_t bytes = n * sizeof(float);
  cudaMalloc(&da, bytes); cudaMalloc(&db, bytes); cudaMalloc(&dc, bytes);
  cudaMemcpy(da, a, bytes, cudaMemcpyHostToDevice);
  cudaMemcpy(db, b, bytes, cudaMemcpyHostToDevice);
  add_k<<<(n + 255) / 256, 256>>>(da, db, dc, n);
  cudaMemcpy(c, dc, bytes, cudaMemcpyDeviceToHost);
  cudaFree(da); cudaFree(db); cudaFree(dc);
}
"""


def _arg(name, role, shape=None, dtype="float32", value=None):
    a = {"name": name, "role": role, "dtype": dtype}
    if shape is not None:
        a["shape"] = shape
    if value is not None:
        a["value"] = value
    return a


@pytest.fixture
def tiny_suite(tmp_path, monkeypatch):
    """A suite of three small programs: two VNNI (plain C add, AVX-512 relu) and one CUDA add."""
    root = tmp_path / "suite"
    (root / "vnni").mkdir(parents=True)
    (root / "cuda").mkdir()
    (root / "vnni" / "add_vec.c").write_text(VNNI_ADD)
    (root / "vnni" / "relu16.cpp").write_text(VNNI_RELU)
    (root / "cuda" / "add_host.cu").write_text(CUDA_ADD)
    vec = [_arg("A", "input", [300]), _arg("B", "input", [300]), _arg("out", "output", [300]),
           _arg("n", "scalar", dtype="int32", value=300)]
    (root / "vnni" / "manifest.json").write_text(json.dumps({"dialect": "vnni", "programs": [
        {"file": "add_vec.c", "op": "add", "kind": "elementwise", "style": "hand-written", "entry": "add_vec",
         "args": vec},
        {"file": "relu16.cpp", "op": "relu", "kind": "elementwise", "style": "hand-written", "entry": "relu16",
         "args": [_arg("A", "input", [256]), _arg("out", "output", [256])]}]}))
    (root / "cuda" / "manifest.json").write_text(json.dumps({"dialect": "cuda", "programs": [
        {"file": "add_host.cu", "op": "add", "kind": "elementwise", "style": "hand-written", "entry": "add_cuda",
         "args": vec}]}))
    monkeypatch.setenv("XPILER_SUITE_DIR", str(root))
    return root


# ---------------------------------------------------------------------------------------------
# published figures and the matrix printer

def test_published_matrix_is_the_papers():
    assert len(published.COMPUTE_ACCURACY) == 12
    assert all(s != t for s, t in published.COMPUTE_ACCURACY)
    mean = sum(published.COMPUTE_ACCURACY.values()) / 12
    assert round(mean, 1) == published.MEAN_COMPUTE_ACCURACY == 95.4
    assert published.accuracy("cuda", "bang") == 91.7 and published.accuracy("vnni", "hip") == 99.4
    assert published.accuracy("cuda", "cuda") is None


def test_matrix_printer_layout():
    lines = accuracy.format_matrix(lambda s, t: f"{s}>{t}", title="T")
    assert lines[0] == "T"
    cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines[1:]]
    assert cells[0] == ["source \\ target", "CUDA", "BANG", "HIP", "VNNI"]       # system.md's order
    assert all(set(c) <= {"-"} for c in cells[1])                                # markdown rule
    assert [r[0] for r in cells[2:]] == ["CUDA", "BANG", "HIP", "VNNI"]
    order = ["cuda", "bang", "hip", "vnni"]
    for i, s in enumerate(order):
        for j, t in enumerate(order):
            assert cells[2 + i][1 + j] == ("-" if s == t else f"{s}>{t}")
    assert len({len(line) for line in lines[1:]}) == 1                           # aligned columns


def _result(source, target, *, correct=False, translated=False, compiled=False, error=None, seconds=0.01):
    r = {"id": f"{source}/x.c", "source": source, "target": target, "file": "x.c", "entry": "x", "variant": "",
         "op": "add", "kind": "elementwise", "style": "hand-written", "translated": translated or correct,
         "compiled": compiled or correct, "correct": correct, "stage": "done" if correct else "translate",
         "error": error, "translate_seconds": seconds, "compile_seconds": None, "compile_via": None,
         "run_seconds": None, "backend": None, "max_abs_err": None, "max_rel_err": None, "mismatches": None}
    if not correct and error is None:
        r["error"] = {"stage": "translate", "type": "NotImplementedDirection", "message": "not yet"}
    return r


def _report(results, sources=("cuda", "bang", "hip", "vnni"), targets=("cuda", "bang", "hip", "vnni")):
    suites = {d: {"programs": 1, "manifest": f"{d}/manifest.json"} for d in sources}
    return accuracy.build_report(results, sources=list(sources), targets=list(targets), suites=suites,
                                 options={"quick": False}, wall_seconds=1.0)


def test_report_matrix_shows_ours_next_to_published():
    results = [_result("cuda", "hip", correct=True, seconds=0.2), _result("cuda", "hip", seconds=0.4),
               _result("cuda", "bang", seconds=0.1), _result("vnni", "cuda", seconds=0.3)]
    report = _report(results)
    text = accuracy.format_report(report)
    acc = text.split("Computation accuracy")[1].splitlines()
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in acc[1:8]
            if line.startswith("|") and "---" not in line}
    assert rows["CUDA"] == ["-", "0.0 (n=1) / 91.7", "50.0 (n=2) / 100", "n/a / 95.2"]
    assert rows["VNNI"][0] == "0.0 (n=1) / 98.2"
    assert rows["HIP"][1] == "n/a / 86.9"
    d = {(x["source"], x["target"]): x for x in report["directions"]}
    assert d[("cuda", "hip")]["accuracy"] == 50.0 and d[("cuda", "hip")]["translate_seconds"]["max"] == 0.4
    assert d[("cuda", "hip")]["translate_seconds"]["median"] == pytest.approx(0.3)
    assert report["summary"]["mean_accuracy"] == pytest.approx((50.0 + 0 + 0) / 3)
    assert "published 95.4%" in text and "Translation time per program (median / max)" in text


# ---------------------------------------------------------------------------------------------
# JSON schema and failure accounting

def test_json_schema_validates_and_catches_problems():
    report = json.loads(json.dumps(_report([_result("cuda", "hip", correct=True), _result("bang", "vnni")])))
    accuracy.validate_report(report)
    assert report["schema"] == accuracy.SCHEMA
    assert {"source", "target", "programs", "translated", "compiled", "correct", "accuracy", "published_accuracy",
            "translate_seconds", "failures"} <= set(report["directions"][0])
    broken = json.loads(json.dumps(report))
    broken["results"][1]["error"] = None                      # a failure without its reason
    with pytest.raises(ValueError, match="without its reason"):
        accuracy.validate_report(broken)
    broken = json.loads(json.dumps(report))
    del broken["results"][0]["translate_seconds"]
    with pytest.raises(ValueError, match="translate_seconds"):
        accuracy.validate_report(broken)


def test_failing_translation_is_counted_with_its_reason(tiny_suite, monkeypatch):
    def refuse(src, target, program):
        raise NotImplementedDirection(f"no passes for {program.dialect} to {target} yet")
    monkeypatch.setattr(accuracy, "_translate", refuse)
    programs, _ = accuracy.load_programs(["vnni"])
    job = accuracy.Job(0, programs[0], "cuda")
    res = accuracy.evaluate(job)
    assert res["translated"] is False and res["correct"] is False and res["stage"] == "translate"
    assert res["error"] == {"stage": "translate", "type": "NotImplementedDirection",
                            "message": "no passes for vnni to cuda yet"}
    assert res["translate_seconds"] is not None
    directions = accuracy.aggregate([res], sources=["vnni"], targets=["cuda"], suites={})
    d = next(x for x in directions if (x["source"], x["target"]) == ("vnni", "cuda"))
    assert d["programs"] == 1 and d["correct"] == 0 and d["accuracy"] == 0.0
    assert d["failures"] == {"translate: NotImplementedDirection": 1}


def test_workers_time_out_and_crashes_are_failures(tiny_suite):
    programs, _ = accuracy.load_programs(["vnni"])
    jobs = [accuracy.Job(i, programs[0], t) for i, t in enumerate(("cuda", "bang", "hip"))]

    def work(job, stage):
        stage("translate")
        if job.target == "cuda":
            time.sleep(30)                                    # a translation that hangs
        if job.target == "bang":
            os.kill(os.getpid(), 11)                          # a worker that crashes
        return accuracy._record(job.program, job.target) | {"error": {"stage": "translate", "type": "X",
                                                                      "message": "m"}}
    start = time.monotonic()
    results = accuracy.run_jobs(jobs, work, workers=3, translate_timeout=1.0)
    assert time.monotonic() - start < 15
    assert [r["target"] for r in results] == ["cuda", "bang", "hip"]
    assert results[0]["error"]["type"] == "TranslationTimeout" and "1 s" in results[0]["error"]["message"]
    assert results[1]["error"]["type"] == "WorkerCrash" and "SIGSEGV" in results[1]["error"]["message"]
    assert results[2]["error"]["type"] == "X"


def test_quick_subset_is_deterministic_and_small(tiny_suite):
    programs, _ = accuracy.load_programs()
    quick = accuracy.quick_subset(programs)
    assert [p.id for p in quick] == [p.id for p in accuracy.quick_subset(list(reversed(programs)))]
    assert {p.id for p in quick} == {"cuda/add_host.cu:add_cuda", "vnni/relu16.cpp"}     # smallest per kind and dialect


def test_accuracy_quick_end_to_end(tiny_suite, tmp_path, capsys):
    out = tmp_path / "acc.json"
    code = bench_main(["accuracy", "--quick", "--identity", "--to", "vnni,bang", "--jobs", "2",
                       "--json", str(out), "--save-translations", str(tmp_path / "saved")])
    assert code == 0
    captured = capsys.readouterr()
    report = json.loads(out.read_text())
    accuracy.validate_report(report)
    by = {(r["source"], r["target"]): r for r in report["results"]}
    assert set(by) == {("cuda", "vnni"), ("cuda", "bang"), ("vnni", "vnni"), ("vnni", "bang")}
    ident = by[("vnni", "vnni")]                               # the identity works today: the full path
    assert ident["correct"] and ident["compile_via"].startswith("g++") and ident["backend"] == "native_c"
    assert (tmp_path / "saved" / "vnni-to-vnni" / "relu16.cpp").exists()
    assert by[("cuda", "vnni")]["correct"]                     # lowered to C, compiled natively, checked
    for key in (("cuda", "bang"), ("vnni", "bang")):          # raised to BANG, run in the BANG emulation
        assert by[key]["correct"], by[key]["error"]
    assert "| source \\ target | CUDA" in captured.out and "/ 91.7" in captured.out
    assert "[4/4]" in captured.err                             # progress on stderr
    assert "HIP: no suite manifest" in captured.out


# ---------------------------------------------------------------------------------------------
# perf

def test_perf_geomean_and_report_on_synthetic_timings():
    assert perf.geomean([2.0, 8.0]) == pytest.approx(4.0)
    assert perf.geomean([0.5, 2.0, None, 0, float("nan")]) == pytest.approx(1.0)
    assert perf.geomean([]) is None
    prog = perf.summarize([0.002, 0.001, 0.003])               # seconds -> ms
    assert prog == {"median_ms": pytest.approx(2.0), "min_ms": pytest.approx(1.0), "n": 3}
    lib = perf.summarize([0.004, 0.004, 0.004])
    assert perf.ratio(lib, prog) == pytest.approx(2.0)         # library / program: > 1, program faster
    rows = []
    for name, op, p_ms, l_ms, ok in (("a.c", "add", 1.0, 2.0, True), ("b.c", "gemm", 4.0, 2.0, True),
                                     ("c.c", "gemm", 1.0, 100.0, False)):
        rows.append({"name": name, "file": name, "entry": name[0], "op": op, "shape": "8", "status": "ok",
                     "correct": ok, "program": {"median_ms": p_ms}, "library": {"name": "lib", "median_ms": l_ms},
                     "ratio": l_ms / p_ms})
    section = perf._section("vnni", "test CPU", rows, library="lib 1.0")
    assert section["geomean_ratio"] == pytest.approx(1.0)      # sqrt(2 * 0.5); the wrong program is excluded
    assert section["geomean_over"] == 2
    assert section["per_op_geomean"] == {"add": pytest.approx(2.0), "gemm": pytest.approx(0.5)}
    text = "\n".join(perf.format_section(section))
    assert "geometric mean of ratios over 2 correct programs: 1.00x (parity)" in text
    assert "2.00x" in text and "0.50x" in text and "100.00x" in text
    skipped = perf._section("cuda", "NVIDIA GPU", [], skipped="skipped: no NVIDIA GPU")
    assert "skipped: no NVIDIA GPU" in "\n".join(perf.format_section(skipped))


def test_harness_sources():
    params = [("input", "float32"), ("output", "float32"), ("scalar", "int32"), ("scalar", "float32")]
    c = perf.harness_c("op", params, cpp=False)
    assert "void op(void *, void *, int, float);" in c
    assert "void xpiler_bench_time(void *p0, void *p1, int p2, float p3, int warmup" in c
    assert "op(p0, p1, p2, p3);" in c and "CLOCK_MONOTONIC" in c
    cu = perf.harness_cuda("op", params)
    assert 'extern "C" void op(void *, void *, int, float);' in cu and "cudaEventElapsedTime" in cu
    assert "#define cudaMemcpy xpiler_bench_cudaMemcpy" in perf.PRELUDE_CUDA


def test_vnni_perf_path_on_one_small_program(tiny_suite):
    programs, _ = accuracy.load_programs(["vnni"])
    relu = next(p for p in programs if p.op == "relu")
    times, args = perf.time_native(relu.source, relu, warmup=1, repeat=7, max_seconds=5.0)
    assert 3 <= len(times) <= 7 and all(0 < t < 0.5 for t in times)
    np.testing.assert_array_equal(args[1], np.maximum(args[0], 0))   # outputs of the last timed call
    with perf.LibraryWorker(use_torch=False) as library:             # numpy baseline: fast and always there
        rows = perf.run_cpu([relu], warmup=1, repeat=5, max_seconds=1.0, library=library)
        assert "numpy" in library.describe()
    (row,) = rows
    assert row["status"] == "ok" and row["correct"] is True and row["program"]["n"] >= 3
    assert row["library"]["name"].startswith("numpy") and row["library"]["check"] == "ok"
    assert row["ratio"] == pytest.approx(row["library"]["median_ms"] / row["program"]["median_ms"])


def test_perf_cli_reports_gpu_skipped_without_gpu(tiny_suite, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XPILER_NO_GPU", "1")
    out = tmp_path / "perf.json"
    assert bench_main(["perf", "--dialect", "vnni,cuda", "--ops", "add", "--repeat", "3", "--warmup", "1",
                       "--no-torch", "--json", str(out), "-q"]) == 0
    text = capsys.readouterr().out
    assert "library time / program time" in text and "add_vec.c" in text
    assert "skipped: no NVIDIA GPU" in text
    report = json.loads(out.read_text())
    assert report["schema"] == perf.SCHEMA
    vnni, cuda = report["sections"]
    assert vnni["status"] == "ok" and vnni["programs"][0]["correct"] is True
    assert cuda["status"] == "skipped" and "no NVIDIA GPU" in cuda["reason"]


# ---------------------------------------------------------------------------------------------
# the GPU bundle

def test_gpu_bundle_export_standalone_runner_and_import(tiny_suite, tmp_path, capsys):
    bundle = tmp_path / "bundle"
    assert bench_main(["perf", "--export-gpu-bundle", str(bundle), "--dialect", "cuda", "--repeat", "5"]) == 0
    desc = json.loads((bundle / "bundle.json").read_text())
    assert desc["schema"] == perf.BUNDLE_SCHEMA and desc["options"]["repeat"] == 5
    (prog,) = desc["programs"]
    assert prog["skip"] is None and prog["entry"] == "add_cuda" and prog["op"] == "add"
    assert "xpiler_bench_harness.cu" in prog["sources"] and "-include" in prog["flags"]
    for name in ("run_bundle.py", "xpiler_bench_perf.py", "xpiler_reference.py", "README.txt"):
        assert (bundle / name).exists()
    # The runner uses no xpiler: prove it with an `xpiler` that cannot be imported.
    blocker = tmp_path / "blocker" / "xpiler"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('the bundle must not import xpiler')\n")
    env = dict(os.environ, PYTHONPATH=str(blocker.parent))
    args = [sys.executable, str(bundle / "run_bundle.py"), "--out", str(tmp_path / "results.json")]
    if shutil.which("nvcc") is None:
        args.append("--compile-only")
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    results = perf.load_gpu_results(tmp_path / "results.json")
    (rec,) = results["programs"]
    if shutil.which("nvcc"):
        assert rec.get("compiled") is True, rec                 # nvcc built program + harness + prelude
    if not results["gpu"]:
        assert rec["status"] == "skipped" and "no NVIDIA GPU" in results["skip_reason"]
    # import: synthetic results of a GPU run fold into the report
    fake = dict(results, gpu=True, device="NVIDIA H100", programs=[dict(
        rec, status="ok", correct=True, program={"median_ms": 0.01, "min_ms": 0.009, "n": 5},
        program_total={"median_ms": 0.2, "min_ms": 0.19, "n": 5},
        library={"name": "torch.add", "median_ms": 0.02, "min_ms": 0.02, "n": 5, "check": "ok"}, ratio=2.0)])
    (tmp_path / "fake.json").write_text(json.dumps(fake))
    capsys.readouterr()
    assert bench_main(["perf", "--dialect", "cuda", "--import-gpu-results", str(tmp_path / "fake.json"), "-q"]) == 0
    text = capsys.readouterr().out
    assert "CUDA on NVIDIA H100" in text and "2.00x" in text and "end-to-end" in text and "10 us" in text
    assert math.isclose(perf._gpu_sections_from_results(fake, ["cuda"])[0]["geomean_ratio"], 2.0)


def test_translations_that_fail_are_failures_in_the_bundle_too(tiny_suite, tmp_path, monkeypatch):
    def refuse(src, to, **options):
        raise NotImplementedDirection(f"no passes to {to} here")
    monkeypatch.setattr(xpiler, "translate", refuse)
    monkeypatch.setattr(xpiler.api, "translate", refuse)
    programs, _ = accuracy.load_programs(["vnni"])
    desc = perf.export_gpu_bundle(tmp_path / "b", programs, dialects=["cuda"], translate_from="vnni")
    assert desc["options"]["translate_from"] == "vnni"
    assert len(desc["programs"]) == 2
    for p in desc["programs"]:                        # a refused translation: failed, with the reason
        assert p["skip"] is None and p["fail"].startswith("translate: NotImplementedDirection")
    proc = subprocess.run([sys.executable, str(tmp_path / "b" / "run_bundle.py"), "--compile-only"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    results = perf.load_gpu_results(tmp_path / "b" / "results.json")
    assert [r["status"] for r in results["programs"]] == ["failed", "failed"]
    assert all(r["correct"] is False for r in results["programs"])


def test_bundle_worker_reuses_its_process_and_survives_crashes_and_hangs(tmp_path):
    # A stand-in for run_bundle.py --serve: "ok" answers, "bad" reports a failure, "crash" dies, "hang" hangs.
    (tmp_path / "run_bundle.py").write_text(
        "import json, os, sys, time\n"
        "for line in sys.stdin:\n"
        "    name = line.strip()\n"
        "    if name == 'crash':\n"
        "        print('segfault in the kernel', file=sys.stderr, flush=True)\n"
        "        os._exit(139)\n"
        "    if name == 'hang':\n"
        "        time.sleep(60)\n"
        "    status = 'ok' if name == 'ok' else 'failed'\n"
        "    print('a line the program printed')\n"
        "    print('XPILER_BENCH_RESULT ' + json.dumps({'status': status, 'pid': os.getpid()}), flush=True)\n"
        "    if status != 'ok':\n"
        "        break\n")
    worker = perf._BundleWorker(str(tmp_path), {"repeat": 1, "warmup": 0, "max_seconds": 1.0})
    try:
        first, second = worker.run("ok", 30), worker.run("ok", 30)
        assert first["status"] == second["status"] == "ok" and first["pid"] == second["pid"], (first, second)
        bad = worker.run("bad", 30)
        assert bad == {"status": "failed", "pid": first["pid"]}
        assert worker.run("ok", 30)["pid"] != first["pid"]          # a failure ends the child
        crash = worker.run("crash", 30)
        assert crash["status"] == "failed" and crash["correct"] is False
        assert crash["reason"] == "the program's process ended with status 139: segfault in the kernel"
        hang = worker.run("hang", 1)
        assert hang == {"status": "failed", "correct": False, "reason": "timed out after 1 s"}
        assert worker.run("ok", 30)["status"] == "ok"
    finally:
        worker.stop()
