"""Lowering (issue "Lowering passes"): every CUDA, HIP and BANG program of the suite translates to
sequential C that computes what the numpy reference computes (run natively by the oracle)."""

from __future__ import annotations

import pytest

import xpiler
from xpiler import suite

ENTRIES = [e for d in ("cuda", "hip", "bang") for e in suite.entries(d)]


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.id for e in ENTRIES])
def test_suite_program_lowers_to_verified_c(entry):
    result = xpiler.translate_with_trace(entry.source, to="vnni", source=entry.dialect, launch=entry.launch)
    assert result.pipeline.split(",")[-15:] == ["loop-recovery", "host-lower", "detensorize", "dce", "unit-arrays",
                                               "outline", "tensorize{target=vnni}", "bind{target=vnni}", "elide-mirrors", "wide-subscripts", "simd-jam",
                                               "simd-unswitch", "lane-bounds", "byte-flags", "c-prelude"]
    outcome = suite.check_program(entry, "vnni", src=result.code)
    assert outcome.passed, [o for o in outcome.outputs if not o.ok][:1]


def test_barrier_splits_the_thread_loop():
    src = """__global__ void __launch_bounds__(4) rev(float *a) {
  __shared__ float t[4];
  t[threadIdx.x] = a[threadIdx.x];
  __syncthreads();
  a[threadIdx.x] = t[3 - threadIdx.x];
}"""
    code = xpiler.translate(src, to="vnni", launch={"grid": [1], "block": [4]})
    assert code.count("for (unsigned threadIdx_x = 0; threadIdx_x < blockDim.x; ++threadIdx_x)") == 2
    import numpy as np
    a = np.arange(4, dtype=np.float32)
    xpiler.run(code, [a], entry="rev_kernel", lang="vnni")
    assert a.tolist() == [3.0, 2.0, 1.0, 0.0]


def test_warp_shuffle_reads_the_other_lane():
    src = """__global__ void sum32(const float *x, float *out) {
  float v = x[threadIdx.x];
  for (int o = 16; o > 0; o /= 2) v += __shfl_down_sync(0xffffffff, v, o);
  if (threadIdx.x == 0) out[0] = v;
}"""
    code = xpiler.translate(src, to="vnni", launch={"grid": [1], "block": [32]})
    import numpy as np
    x = np.random.default_rng(1).standard_normal(32).astype(np.float32)
    out = np.zeros(1, np.float32)
    xpiler.run(code, [x, out], entry="sum32_kernel", lang="vnni")
    np.testing.assert_allclose(out[0], x.sum(), rtol=1e-5)


def test_dump_dir_writes_one_program_per_pass(tmp_path):
    from programs import EXAMPLES
    from xpiler.cli import main
    assert main(["translate", str(EXAMPLES / "cuda" / "softmax.cu"), "--to", "vnni", "--dump-dir", str(tmp_path),
                 "-o", str(tmp_path / "out.cpp")]) == 0
    names = sorted(p.name for p in tmp_path.iterdir() if p.name != "out.cpp")
    assert names == ["00-input.cu", "01-inline-device.cu", "02-loop-recovery.cu", "03-host-lower.cpp",
                     "04-detensorize.cpp", "05-dce.cpp", "06-unit-arrays.cpp", "07-outline.cpp", "08-tensorize.cpp",
                     "09-bind.cpp", "10-elide-mirrors.cpp", "11-wide-subscripts.cpp", "12-simd-jam.cpp",
                     "13-simd-unswitch.cpp", "14-lane-bounds.cpp", "15-byte-flags.cpp", "16-c-prelude.cpp"]
    assert (tmp_path / "16-c-prelude.cpp").read_text() == (tmp_path / "out.cpp").read_text()
