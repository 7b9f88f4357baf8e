"""Verified application: every pass is checked by running the program before and after it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

import xpiler
from xpiler import ir
from xpiler.passes.base import ModulePass, PassError
from xpiler.passes.manager import run_pipeline
from xpiler.verify import Verifier

from programs import EXAMPLES

SOFTMAX = (EXAMPLES / "cuda" / "softmax.cu").read_text()


def softmax_args():
    x = np.random.default_rng(0).standard_normal((5, 128)).astype(np.float32)
    return [x, np.zeros_like(x), 5, 128]


def test_cuda_to_hip_is_verified_in_the_64_lane_emulation():
    result = xpiler.translate_with_trace(SOFTMAX, to="hip", verify=softmax_args())
    assert [r.verified for r in result.records] == [True] and result.verified


def test_a_pass_that_changes_the_result_is_caught():
    @dataclass(frozen=True)
    class OffByOne(ModulePass):
        """Turns `c < cols` into `c < cols - 1` in every loop condition (a planted bug)."""

        name: ClassVar[str] = "off-by-one"

        def apply(self, module):
            def fn(n):
                if isinstance(n, ir.BinOp) and n.op == "<" and n.right == ir.Name("cols"):
                    return ir.BinOp("<", n.left, ir.BinOp("-", n.right, ir.Const("1", 1)))
                return n
            return ir.rewrite(module, fn)

    module = xpiler.lift(SOFTMAX)
    with pytest.raises(PassError, match=r"off-by-one changed what the program computes: argument 1 differs"):
        run_pipeline(module, [OffByOne()], verifier=Verifier(softmax_args()))


def test_intermediate_stages_are_not_claimed_verified():
    result = xpiler.translate_with_trace(SOFTMAX, to="vnni", verify=softmax_args())
    by_pass = {r.spec.split("{")[0]: r for r in result.records}
    assert by_pass["inline-device"].verified is True
    assert by_pass["loop-recovery"].verified is None and "checked at a later stage" in by_pass["loop-recovery"].detail
    assert by_pass["c-prelude"].verified is True
    assert not result.verified  # some stages could not be run on their own


def test_a_name_reused_in_two_phases_of_a_kernel_is_expanded_twice():
    src = """__global__ void __launch_bounds__(64) k(float *a) {
  __shared__ float t[64];
  for (int r = 0; r < 2; ++r) {
    float v = a[r * 64 + threadIdx.x];
    t[threadIdx.x] = v;
    __syncthreads();
    a[r * 64 + threadIdx.x] = t[63 - threadIdx.x] + v;
    __syncthreads();
  }
  {
    float v = a[threadIdx.x] * 2;
    t[threadIdx.x] = v;
    __syncthreads();
    a[threadIdx.x] = t[(threadIdx.x + 1) % 64] + v;
  }
}"""
    a = np.random.default_rng(0).standard_normal(128).astype(np.float32)
    result = xpiler.translate_with_trace(
        src, to="vnni", verify=[a],
        pipeline="host-entry{kernel=k grid=[1] block=[64]},inline-device,loop-recovery,host-lower,c-prelude")
    assert [r.verified for r in result.records] == [True, True, None, None, True]
    assert "float v_2[__nthreads];" in result.code
