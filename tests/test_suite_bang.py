"""The BANG operator suite (examples/suite/bang): every program passes its numpy reference through
xpiler.run in the BANG CPU emulation, with GDRAM bounds checks on; the suite covers every first-tier
operator of shared/reference/operators.md at 3 or more shapes."""

import collections
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from xpiler import reference, suite
from xpiler.suite import KINDS

MANIFEST = suite.load_manifest("bang")


def _problem_shape(entry):
    """What tells two runs of an operator apart: the shape of its data input and of its outputs (the
    filter / weight shapes and strides show in the outputs; a layout change alone does not count)."""
    return entry.inputs[0].shape, tuple(o.shape for o in entry.outputs)


def test_every_operator_has_three_shapes():
    shapes = collections.defaultdict(set)
    for p in MANIFEST.programs:
        shapes[p.op].add(_problem_shape(p))
    assert len(reference.OPERATORS) == 21
    missing = [op for op in reference.OPERATORS if op not in shapes]
    assert not missing, f"operators without a BANG program: {missing}"
    thin = {op: sorted(shapes[op]) for op in reference.OPERATORS if len(shapes[op]) < 3}
    assert not thin, f"operators with fewer than 3 distinct shapes: {thin}"


def test_manifest_covers_every_kind_and_idiom():
    kinds = collections.Counter(p.kind for p in MANIFEST.programs)
    assert all(kinds[k] >= 5 for k in KINDS), kinds
    sources = {p.file: p.source for p in MANIFEST.programs}
    text = "\n".join(sources.values())
    for idiom in ("extern \"C\" __mlu_global__", "__mlu_entry__", "__mlu_func__", "__wram__", "__mlu_shared__",
                  "__sync_cluster()", "clusterId * 4 + coreId", "taskId", "GDRAM2NRAM", "GDRAM2WRAM", "NRAM2WRAM",
                  "NRAM2NRAM", "((float *)", "__bang_mlp", "__bang_conv", "__bang_matmul", "__bang_transpose",
                  "__bang_write_zero", "__bang_cycle_mul", "__bang_maxpool", "__bang_avgpool", "__bang_minpool",
                  "__bang_sumpool", "__bang_argmax", "__bang_reduce_sum", "__bang_active_exp", "<<<", "cnrtMalloc"):
        assert idiom in text, idiom
    assert any("if (clusterId * 4 + coreId < " in s for s in sources.values())
    # the strided 2-D __memcpy form (7 arguments) and int8 __bang_mlp with a fixed-point position
    assert "ROWS - 1);" in sources["softmax_sram.mlu"]
    assert "__bang_mlp(c_row, a_row, bt, N, K, -3)" in sources["gemm_mlp_int8.mlu"]
    assert sum(not p.entry.endswith("_kernel") for p in MANIFEST.programs) >= 1      # host entries
    # every tensor-kind program calls a tensor intrinsic with its right operand / filter in WRAM
    for p in MANIFEST.programs:
        if p.kind == "tensor":
            assert "__wram__" in p.source and any(t in p.source for t in ("__bang_mlp", "__bang_conv", "__bang_matmul"))


@pytest.fixture(scope="module")
def prebuilt(request):
    """Compile the selected programs in parallel (one job per core) before they run one by one: a cold
    build cache otherwise compiles ~40 programs serially. Build errors are left to the tests."""
    from xpiler.oracle import prepare
    from xpiler.oracle.build import build
    entries = [item.callspec.params["entry"] for item in request.session.items
               if getattr(item, "module", None) is request.module and hasattr(item, "callspec")
               and "entry" in item.callspec.params]
    specs = {}
    for e in entries:
        try:
            spec = prepare(e.source, entry=e.entry, lang="bang", launch=e.launch, check=True)
        except Exception:       # reported by the test itself
            continue
        specs.setdefault((spec.sources, spec.flags, spec.compiler), spec)

    def compile_one(spec):
        try:
            build(spec)
        except Exception:
            pass

    with ThreadPoolExecutor(max_workers=max(1, min(len(specs), os.cpu_count() or 1))) as pool:
        list(pool.map(compile_one, specs.values()))


@pytest.mark.parametrize("entry", MANIFEST.programs, ids=lambda e: e.id)
def test_program_matches_reference(entry, prebuilt):
    result = suite.check_program(entry, check=True)
    result.assert_ok()
    assert result.passed, result.summary()
