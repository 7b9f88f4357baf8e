"""The BANG operator suite (examples/suite/bang): every program passes its numpy reference through
xpiler.run in the BANG CPU emulation, with GDRAM bounds checks on."""

import collections

import pytest

from xpiler import suite
from xpiler.suite import KINDS

MANIFEST = suite.load_manifest("bang")


def test_manifest_covers_every_kind_and_idiom():
    kinds = collections.Counter(p.kind for p in MANIFEST.programs)
    assert all(kinds[k] >= 5 for k in KINDS), kinds
    sources = {p.file: p.source for p in MANIFEST.programs}
    text = "\n".join(sources.values())
    for idiom in ("extern \"C\" __mlu_global__", "__mlu_entry__", "__wram__", "__mlu_shared__", "__sync_cluster()",
                  "clusterId * 4 + coreId", "taskId", "GDRAM2NRAM", "((float *)", "__bang_mlp", "__bang_conv",
                  "__bang_matmul", "__bang_write_zero", "<<<", "cnrtMalloc"):
        assert idiom in text, idiom
    assert any("if (clusterId * 4 + coreId < " in s for s in sources.values())
    # the strided 2-D __memcpy form (7 arguments) and int8 __bang_mlp with a fixed-point position
    assert "ROWS - 1);" in sources["softmax_sram.mlu"]
    assert "__bang_mlp(c_row, a_row, bt, N, K, -3)" in sources["gemm_mlp_int8.mlu"]
    assert sum(not p.entry.endswith("_kernel") for p in MANIFEST.programs) >= 1      # host entries


@pytest.mark.parametrize("entry", MANIFEST.programs, ids=lambda e: e.file)
def test_program_matches_reference(entry):
    result = suite.check_program(entry, check=True)
    result.assert_ok()
    assert result.passed, result.summary()
