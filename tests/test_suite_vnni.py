"""The VNNI corpus (examples/suite/vnni) through xpiler.run, and the suite machinery itself."""

import collections
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from xpiler import reference, suite
from xpiler.oracle import functions
from xpiler.suite import ManifestError

MANIFEST = suite.load_manifest("vnni")


@pytest.fixture(scope="module")
def prebuilt(request):
    """Compile the selected programs up front, one g++ per core: builds are cached by content, so each
    program's test then only runs it (a cold cache would otherwise compile ~70 files one at a time).
    A program that fails to build is left to its own test to report."""
    from xpiler.oracle import prepare
    from xpiler.oracle.build import build

    selected = {}
    for item in request.session.items:
        entry = getattr(item, "callspec", None) and item.callspec.params.get("entry")
        if isinstance(entry, suite.ProgramEntry) and entry.dialect == "vnni":
            selected[(entry.file, entry.entry)] = entry

    def one(entry):
        try:
            build(prepare(entry.source, entry=entry.entry, lang="vnni"))
        except Exception:
            pass

    with ThreadPoolExecutor(max(1, os.cpu_count() or 1)) as pool:
        list(pool.map(one, selected.values()))


@pytest.mark.parametrize("entry", MANIFEST.programs, ids=[p.id for p in MANIFEST.programs])
def test_vnni_program_matches_reference(entry, prebuilt):
    result = suite.check_program(entry, "vnni")
    result.assert_ok()
    assert result.passed, result.summary()


def test_corpus_coverage():
    kinds = collections.Counter(p.kind for p in MANIFEST)
    assert all(kinds[k] >= 5 for k in suite.KINDS), kinds
    assert len(MANIFEST) >= 20
    files = {p.file: p.source for p in MANIFEST}
    plain_c = [f for f, text in files.items()
               if f.endswith(".c") and not any(fn.extern_c for fn in functions(text))]
    assert len(plain_c) >= 1
    everything = "\n".join(files.values())
    for idiom in ("_mm512_mask_loadu_ps", "_mm512_reduce_add_ps", "#pragma omp", "static_cast",
                  "_mm512_dpbusd_epi32", "_mm512_set1_epi32", "_mm512_storeu_si512", "_mm512_reduce_add_epi32"):
        assert idiom in everything, idiom
    # ragged sizes (not multiples of 16) are covered
    assert any(any(a.shape and a.shape[-1] % 16 for a in p.args if a.role == "output") for p in MANIFEST)
    ops = {p.op for p in MANIFEST}
    assert ops == set(reference.OPERATORS), sorted(ops)


# the 21 first-tier operators of shared/reference/operators.md
FIRST_TIER = ("add", "sign", "relu", "sigmoid", "gelu", "softmax", "layernorm", "rmsnorm", "gemm", "gemv", "bmm",
              "conv1d", "conv2d_nhwc", "conv2d_nchw", "depthwise_conv", "maxpool", "avgpool", "minpool", "sumpool",
              "mha", "deformable_attention")
SHAPE_PARAMS = ("window", "stride", "padding", "spatial_shapes")


def problem_shape(p):
    """What makes two programs of one operator different problems: the shapes of the first input and
    of the first output, and the parameters that change the window/geometry (not dtypes or layouts)."""
    first_in = next(a.shape for a in p.args if a.role == "input")
    first_out = next(a.shape for a in p.args if a.role == "output")
    return first_in, first_out, tuple((k, json.dumps(p.params[k])) for k in SHAPE_PARAMS if k in p.params)


def test_every_first_tier_operator_has_three_shapes_and_both_styles():
    assert set(FIRST_TIER) == set(reference.OPERATORS)
    by_op = collections.defaultdict(list)
    for p in MANIFEST:
        by_op[p.op].append(p)
    shapes = {op: {problem_shape(p) for p in by_op[op]} for op in FIRST_TIER}
    assert {op: len(s) for op, s in shapes.items() if len(s) < 3} == {}, "operators with fewer than 3 shapes"
    # every operator has a size that is not a multiple of the vector width (16 floats): masked tails,
    # guards or scalar remainders are exercised
    ragged = {op for op in FIRST_TIER if any(next(a for a in p.args if a.role == "output").shape[-1] % 16
                                             for p in by_op[op])}
    assert ragged == set(FIRST_TIER), sorted(set(FIRST_TIER) - ragged)
    # both styles for every operator: compiler-generated (baked shapes, fused loops) and hand-written
    styles = {op: {p.style for p in by_op[op]} for op in FIRST_TIER}
    assert {op: s for op, s in styles.items() if s != set(suite.STYLES)} == {}
    # a parametric program (sizes as scalars) runs at several sizes under one (file, entry)
    variants = collections.Counter((p.file, p.entry) for p in MANIFEST)
    assert sum(n > 1 for n in variants.values()) >= 10
    # the int8 VNNI versions of the GEMM family and of the convolutions
    for op in ("gemm", "gemv", "bmm", "conv1d", "conv2d_nhwc", "conv2d_nchw"):
        dpbusd = [p for p in by_op[op] if p.kind == "tensor" and "_mm512_dpbusd_epi32" in p.source]
        assert dpbusd and all(p.outputs[0].dtype in ("int32", "float32") and p.inputs[0].dtype in ("uint8", "int8")
                              for p in dpbusd), op


def test_make_args_is_deterministic_random_and_prefilled():
    entry = MANIFEST.get("deformable_attn.cpp")
    a1, a2 = suite.make_args(entry), suite.make_args(entry)
    for x, y in zip(a1, a2):
        np.testing.assert_array_equal(x, y)
    value, shapes, starts, loc, att, out = a1
    np.testing.assert_array_equal(shapes, [[16, 16], [8, 8], [4, 4], [2, 2]])   # fixed contents
    assert shapes.dtype == np.int32 and starts.tolist() == [0, 256, 320, 336]
    assert -0.1 <= loc.min() < 0 and 1 < loc.max() <= 1.1                          # the declared range
    assert -1 <= value.min() and value.max() <= 1 and np.unique(value).size > 1000
    assert np.abs(out).max() > 1 and np.unique(out).size > 1000                    # random prefill
    other = suite.make_args(entry, seed=7)
    assert not np.array_equal(other[0], value)
    ints = suite.make_args(MANIFEST.get("gemm_u8s8_dpbusd_packed.cpp"))
    assert ints[0].dtype == np.uint8 and ints[0].min() == 0 and ints[0].max() == 255
    assert ints[1].dtype == np.int8 and ints[1].min() == -128 and ints[1].max() == 127
    scalars = suite.make_args(MANIFEST.get("add_avx512_tail.cpp"))
    assert scalars[3] == 1000 and type(scalars[3]) is int


def test_unwritten_output_element_is_caught():
    entry = MANIFEST.get("add_avx512_tail.cpp")
    lazy = entry.source.replace("if (r > 0) {", "if (r > 100) {")       # forgets the masked tail
    result = suite.check_program(entry, src=lazy)
    assert not result.passed and result.outputs[0].mismatches == 1000 % 16
    bad = result.outputs[0].first_mismatches()
    assert [i for i, _, _ in bad] == [(0, 1000 - 8 + k) for k in range(5)]
    with pytest.raises(AssertionError, match="Mismatched elements: 8 / 1000"):
        result.assert_ok()


def write_manifest(tmp_path, programs, dialect="vnni"):
    shutil.copy(MANIFEST.get("add_fused.cpp").path, tmp_path / "add_fused.cpp")
    (tmp_path / "manifest.json").write_text(json.dumps({"dialect": dialect, "programs": programs}))
    return tmp_path / "manifest.json"


def good_program(**changes):
    prog = {"file": "add_fused.cpp", "op": "add", "kind": "elementwise", "style": "compiler-generated",
            "entry": "add", "args": [
                {"name": "A", "role": "input", "shape": [12, 3, 128], "dtype": "float32"},
                {"name": "B", "role": "input", "shape": [12, 3, 128], "dtype": "float32"},
                {"name": "T_add", "role": "output", "shape": [12, 3, 128], "dtype": "float32"}],
            "params": {}, "tolerance": {"rtol": 1e-3, "atol": 1e-3}, "launch": None}
    prog.update(changes)
    return prog


@pytest.mark.parametrize("changes,message", [
    ({"op": "nope"}, "program 0 (add_fused.cpp): 'op' 'nope' is not a reference in xpiler.reference"),
    ({"kind": "fancy"}, "'kind' must be one of elementwise, reduction, gemm, tensor, got 'fancy'"),
    ({"style": "mixed"}, "'style' must be one of compiler-generated, hand-written"),
    ({"file": "missing.cpp"}, "program 0 (missing.cpp): the file 'missing.cpp' does not exist next to the manifest"),
    ({"entry": "1bad"}, "'entry' must be a C identifier"),
    ({"extra": 1}, "unknown keys ['extra']"),
    ({"params": {"axis": 0}}, "reference.add cannot take the 2 inputs and params ['axis']"),
    ({"tolerance": {"rtol": -1}}, "'tolerance' must be"),
    ({"launch": {"grid": [1]}}, "'launch': launch: give both grid and block, or neither"),
    ({"args": [{"name": "A", "role": "input", "shape": [4], "dtype": "float32"}]}, "no arg has role 'output'"),
    ({"args": [{"name": "A", "role": "input", "shape": [4], "dtype": "float32", "range": [1, 1]},
               {"name": "o", "role": "output", "shape": [4], "dtype": "float32"}]},
     "arg 0 (A): 'range' must be [low, high] with low < high (a constant input would hide bugs)"),
    ({"args": [{"name": "A", "role": "input", "shape": [4], "dtype": "bfloat16"}]}, "arg 0 (A): 'dtype' must be one of"),
    ({"args": [{"name": "n", "role": "scalar", "dtype": "int32"}]}, "arg 0 (n): a scalar needs a numeric 'value'"),
    ({"args": [{"name": "A", "role": "input", "shape": [2], "dtype": "int32", "value": [1, 2, 3]}]},
     "arg 0 (A): 'value' has shape (3,), expected (2,)"),
    ({"args": [{"name": "A", "role": "input", "shape": [0], "dtype": "float32"}]}, "'shape' must be a non-empty list"),
])
def test_manifest_validation_errors(tmp_path, changes, message):
    path = write_manifest(tmp_path, [good_program(**changes)])
    with pytest.raises(ManifestError) as info:
        suite.load_manifest(path)
    assert str(info.value).startswith(str(path)) and message in str(info.value), str(info.value)


def test_manifest_level_errors(tmp_path):
    path = write_manifest(tmp_path, [good_program(), good_program()])
    with pytest.raises(ManifestError, match="duplicate program 'add_fused.cpp' with entry 'add'"):
        suite.load_manifest(path)
    path = write_manifest(tmp_path, [good_program()], dialect="cuda")
    with pytest.raises(ManifestError, match=r"a cuda program should have one of the suffixes \.cu, \.cuh"):
        suite.load_manifest(path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ManifestError, match="not valid JSON"):
        suite.load_manifest(tmp_path)
    ok = write_manifest(tmp_path, [good_program()])
    assert len(suite.load_manifest(ok)) == 1 and suite.load_manifest(tmp_path).programs[0].entry == "add"


def test_parametric_program_with_several_entries(tmp_path):
    shutil.copy(MANIFEST.get("add_avx512_tail.cpp").path, tmp_path / "add_avx512_tail.cpp")

    def prog(n, rows=1, **changes):
        p = {"file": "add_avx512_tail.cpp", "op": "add", "kind": "elementwise", "style": "hand-written",
             "entry": "add_kernel", "args": [
                 {"name": "A", "role": "input", "shape": [rows, n // rows], "dtype": "float32"},
                 {"name": "B", "role": "input", "shape": [rows, n // rows], "dtype": "float32"},
                 {"name": "out", "role": "output", "shape": [rows, n // rows], "dtype": "float32"},
                 {"name": "n", "role": "scalar", "dtype": "int32", "value": n}]}
        p.update(changes)
        return p

    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"dialect": "vnni", "programs": [prog(1000), prog(37), prog(1000, rows=10)]}))
    loaded = suite.load_manifest(path)
    assert [p.variant for p in loaded] == ["1x1000", "1x37", "10x100"]
    assert [p.id for p in loaded] == [f"vnni/add_avx512_tail.cpp:add_kernel@{v}" for v in ("1x1000", "1x37", "10x100")]
    assert loaded.get("add_avx512_tail.cpp", variant="1x37").args[3].value == 37
    first, _, third = (suite.make_args(p) for p in loaded)
    assert not np.array_equal(first[0].reshape(-1), third[0].reshape(-1))      # own seed per variant
    for p in loaded:
        suite.check_program(p).assert_ok()
    # same output shape, different scalar: told apart by a running index
    path.write_text(json.dumps({"dialect": "vnni", "programs": [prog(1000), prog(1000, notes="x", args=[
        *prog(1000)["args"][:3], {"name": "n", "role": "scalar", "dtype": "int32", "value": 999}])]}))
    assert [p.variant for p in suite.load_manifest(path)] == ["1x1000#0", "1x1000#1"]
    # the same args and params twice is still a duplicate
    path.write_text(json.dumps({"dialect": "vnni", "programs": [prog(37), prog(37)]}))
    with pytest.raises(ManifestError, match="duplicate program 'add_avx512_tail.cpp' with entry 'add_kernel'"):
        suite.load_manifest(path)
    # a single program keeps its plain id and its seed
    assert MANIFEST.get("add_fused.cpp").variant == "" and MANIFEST.get("add_fused.cpp").id == "vnni/add_fused.cpp"
