"""The pass infrastructure: spec strings, the registry (with third-party passes through the entry
point), pipelines with records and dumps."""

from __future__ import annotations

import shutil
import sys
import textwrap

import pytest

import xpiler
from xpiler.cli import main
from xpiler.passes.base import PassError, parse_pipeline
from xpiler.passes.registry import make, pipeline, pipeline_spec

from programs import EXAMPLES


@pytest.mark.parametrize("spec, parsed", [
    ("a", [("a", {})]),
    ("a,b", [("a", {}), ("b", {})]),
    ("loop-split{loop=i factor=16}", [("loop-split", {"loop": "i", "factor": 16})]),
    ('x{s="two words" f=0.5 b=true l=[1,2]}, y{}', [("x", {"s": "two words", "f": 0.5, "b": True, "l": (1, 2)}),
                                                   ("y", {})]),
])
def test_spec_strings_parse(spec, parsed):
    assert parse_pipeline(spec) == parsed


@pytest.mark.parametrize("spec, message", [
    ("", "empty pipeline"),
    ("a{x=1", "unclosed '{'"),
    ("a,", "trailing ','"),
    ("a{x}", "expected 'x=<value>'"),
    ("a{x=1 x=2}", "given twice"),
    ("a b", "expected ',' between passes"),
])
def test_bad_specs_are_errors_with_the_place(spec, message):
    with pytest.raises(PassError, match=message):
        parse_pipeline(spec)


def test_pipelines_print_and_replay():
    passes = pipeline("simt-port{target=cuda}, simt-port{wavefront=32}")
    spec = pipeline_spec(passes)
    assert spec == "simt-port{target=cuda},simt-port{wavefront=32}"
    assert pipeline(spec) == passes


@pytest.mark.parametrize("name, params, message", [
    ("no-such-pass", {}, "unknown pass 'no-such-pass'; available: "),
    ("simt-port", {"tile": 4}, "has no parameter"),
    ("simt-port", {"wavefront": "wide"}, "must be int"),
    ("simt-port", {"wavefront": 48}, "wavefront must be 32 or 64"),
])
def test_bad_pass_instances(name, params, message):
    with pytest.raises(PassError, match=message):
        make(name, params)


def test_translate_with_trace_records_every_pass(tmp_path):
    src = (EXAMPLES / "cuda" / "softmax.cu").read_text()
    result = xpiler.translate_with_trace(src, to="hip", dump_dir=tmp_path)
    assert (result.source, result.target, result.pipeline) == ("cuda", "hip", "simt-port{target=hip}")
    [record] = result.records
    assert record.spec == "simt-port" and record.implementation == "symbolic"
    assert record.verified is None and not result.verified  # no oracle ran: never claimed verified
    assert sorted(p.name for p in tmp_path.iterdir()) == ["00-input.cu", "01-simt-port.hip"]
    assert (tmp_path / "01-simt-port.hip").read_text() == result.code


def test_a_pipeline_that_ends_in_the_wrong_dialect_is_an_error():
    src = (EXAMPLES / "cuda" / "softmax.cu").read_text()
    with pytest.raises(xpiler.TranslationError, match="ends in hip, not cuda"):
        xpiler.translate(src, to="cuda", pipeline="simt-port{target=hip}")


def test_custom_pass_is_found_through_the_entry_point(tmp_path, monkeypatch, capsys):
    """The example package, 'installed' by putting its module and a dist-info on sys.path."""
    shutil.copy(EXAMPLES / "custom_pass" / "xpiler_strip_comments.py", tmp_path)
    info = tmp_path / "xpiler_strip_comments-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: xpiler-strip-comments\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(
        "[xpiler.passes]\nstrip-comments = xpiler_strip_comments:StripComments\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    src = textwrap.dedent("""\
        // licence
        #include <cuda_runtime.h>
        // helper
        __global__ void k(float *a) {
          // body
          a[0] = 1;
        }
        """)
    out = xpiler.translate(src, to="hip", pipeline="strip-comments{keep_license=true},simt-port{target=hip}")
    assert out == "// licence\n#include <hip/hip_runtime.h>\n\n__global__ void k(float *a) {\n  a[0] = 1;\n}\n"
    assert main(["passes"]) == 0
    assert "strip-comments" in capsys.readouterr().out
    sys.modules.pop("xpiler_strip_comments", None)
