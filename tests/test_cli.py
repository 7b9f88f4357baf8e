"""The command line: output on stdout or -o, one-line errors on stderr, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from xpiler.cli import main

from programs import EXAMPLES

SOFTMAX = EXAMPLES / "cuda" / "softmax.cu"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_translate_prints_to_stdout(capsys):
    code, out, err = run(capsys, "translate", str(SOFTMAX), "--to", "hip")
    assert (code, err) == (0, "")
    assert out.startswith("// Row-wise softmax") and "hipMalloc((void **)&d_input, bytes);" in out


def test_translate_writes_output_file(capsys, tmp_path):
    target = tmp_path / "softmax.hip"
    code, out, err = run(capsys, "translate", str(SOFTMAX), "--to", "hip", "-o", str(target))
    assert (code, out, err) == (0, "", "")
    assert "hipMemcpyDeviceToHost" in target.read_text()


def test_parse_reports_kernels_buffers_and_verbatim(capsys):
    code, out, err = run(capsys, "parse", str(EXAMPLES / "bang" / "add.mlu"))
    assert code == 0
    assert out.splitlines() == [
        f"{EXAMPLES / 'bang' / 'add.mlu'}: dialect bang",
        '  kernel add(float *A, float *B, float *T_add)  [extern "C"]',
        "    buffer nram     float a_tile[PER_TASK]",
        "    buffer nram     float b_tile[PER_TASK]",
        "    built-ins clusterId, coreId",
        "    intrinsics bang.add, bang.memcpy",
        "  kept verbatim: nothing",
    ]


def test_parse_json(capsys):
    code, out, _ = run(capsys, "parse", str(SOFTMAX), "--json")
    info = json.loads(out)
    assert code == 0 and info["dialect"] == "cuda"
    assert [(f["name"], f["kind"]) for f in info["functions"]] == [("softmax_rows", "kernel"), ("softmax_kernel", "host")]
    assert info["functions"][0]["barriers"] == 5


@pytest.mark.parametrize("argv, code, message", [
    (["translate", "missing.cu", "--to", "hip"], 2, "cannot read missing.cu"),
    (["translate", str(SOFTMAX), "--to", "metal"], 2, "unknown dialect 'metal'"),
    (["translate", str(SOFTMAX)], 2, "the following arguments are required: --to"),
    (["translate", str(SOFTMAX), "--to", "bang", "--pipeline", "bind{target=bang}"], 1,
     "bind applies to sequential C (after outline), not cuda"),
    (["frobnicate"], 2, "invalid choice"),
])
def test_errors_are_one_line(capsys, argv, code, message):
    got, out, err = run(capsys, *argv)
    assert got == code and out == ""
    assert err.count("\n") == 1 and err.startswith("xpiler: error: ") and message in err


def test_syntax_error_names_place_and_writes_nothing(capsys, tmp_path):
    bad = tmp_path / "bad.cu"
    bad.write_text("__global__ void k(float *a) {\n  a[0] = ;\n}\n")
    target = tmp_path / "out.hip"
    code, out, err = run(capsys, "translate", str(bad), "--to", "hip", "-o", str(target))
    assert code == 1 and out == ""
    assert err == f"xpiler: error: {bad}:2:8: syntax error near '='\n"
    assert not target.exists()


def test_version_and_module_entry_point():
    for argv in (["xpiler", "--version"], [sys.executable, "-m", "xpiler", "--version"]):
        proc = subprocess.run(argv, capture_output=True, text=True)
        assert proc.returncode == 0 and proc.stdout.strip() == "xpiler 0.1.0"


def test_stdin_is_a_file(capsys, monkeypatch):
    import io
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"__global__ void k(float *a) { a[0] = 1; }")))
    code, out, _ = run(capsys, "translate", "-", "--to", "hip")
    assert code == 0 and "#include <hip/hip_runtime.h>" in out
