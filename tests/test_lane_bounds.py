"""``lane-bounds``: a SIMD loop's conditions that are linear in its lane become the loop's range."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

import xpiler
from xpiler.passes.base import PassError
from xpiler.passes.registry import pipeline


def transform(src: str) -> str:
    module = xpiler.lift(textwrap.dedent(src).lstrip("\n"), source="vnni")
    for p in pipeline("lane-bounds"):
        module = p.apply(module)
    return xpiler.emit(module, "vnni")


# a row of a padded convolution: lanes over output columns of a strip, the mask of the lanes inside
# the output, the taps inside the image
ROW = """
    void row(const float *x, const float *w, float *acc, int lanes, int s, int Wo, int W, int pad, int oh, int Ho, int K) {
      for (int kw = 0; kw < K; ++kw) {
    #pragma omp simd
        for (int l = 0; l < lanes; ++l) {
          const int ow = s + l;
          const int m = !(oh >= Ho || ow >= Wo);
          int iw = ow + kw - pad;
          if (m) {
            if (iw >= 0 && iw < W)
              acc[l] += x[iw] * w[kw];
          }
        }
      }
    }
    """


def test_linear_conditions_of_the_lane_become_the_loops_range_the_rest_is_tested_once():
    code = transform(ROW)
    assert textwrap.dedent("""\
        long long __xp_lo = (long long)0, __xp_hi = (long long)lanes;
        if (-(long long)s - (long long)kw + (long long)pad > __xp_lo)
          __xp_lo = -(long long)s - (long long)kw + (long long)pad;
        if (-(long long)s + (long long)Wo < __xp_hi)
          __xp_hi = -(long long)s + (long long)Wo;
        if (-(long long)s - (long long)kw + (long long)pad + (long long)W < __xp_hi)
          __xp_hi = -(long long)s - (long long)kw + (long long)pad + (long long)W;
        if (oh < Ho && __xp_lo < __xp_hi) {
        #pragma omp simd
          for (int l = (int)__xp_lo; l < (int)__xp_hi; ++l) {
            const int ow = s + l;
            const int m = !(oh >= Ho || ow >= Wo);
            int iw = ow + kw - pad;
            acc[l] += x[iw] * w[kw];
          }
        }""") in textwrap.dedent("\n".join(line[6:] if line.startswith("      ") else line
                                            for line in code.splitlines()))


@pytest.mark.parametrize("s, pad, oh", [(0, 1, 0), (13, 2, 1), (-3, 0, 0), (5, 1, 9), (40, 1, 0)])
def test_the_bounded_loop_computes_what_the_masked_one_did(s, pad, oh):
    rng = np.random.default_rng(abs(s) + 7 * pad)
    W, Wo, K, lanes, Ho = 30, 28, 3, 16, 5
    x = rng.standard_normal(W).astype(np.float32)
    w = rng.standard_normal(K).astype(np.float32)
    results = []
    for code in (transform(ROW), xpiler.emit(xpiler.lift(textwrap.dedent(ROW).lstrip("\n"), source="vnni"), "vnni")):
        acc = np.zeros(lanes, np.float32)
        xpiler.run(code, [x, w, acc, lanes, s, Wo, W, pad, oh, Ho, K], entry="row", lang="vnni")
        results.append(acc)
    np.testing.assert_array_equal(results[0], results[1])
    expect = np.zeros(lanes, np.float32)
    for kw in range(K):
        for l in range(lanes):
            ow, iw = s + l, s + l + kw - pad
            if oh < Ho and ow < Wo and 0 <= iw < W:
                expect[l] += x[iw] * w[kw]
    np.testing.assert_allclose(results[0], expect, rtol=1e-5, atol=1e-6)   # (gcc contracts to FMA)


@pytest.mark.parametrize("cond", [
    "x[l] > 0.0f",                 # reads memory: stays in the body
    "2 * l < n",                   # a coefficient other than 1
    "(unsigned)l < (unsigned)n",   # not signed int arithmetic
    "l / 2 < n",                   # a division
])
def test_conditions_that_are_not_linear_int_comparisons_of_the_lane_stay(cond):
    src = f"""
        void f(const float *x, float *y, int n, int lanes) {{
        #pragma omp simd
          for (int l = 0; l < lanes; ++l) {{
            if ({cond})
              y[l] = x[l];
          }}
        }}
        """
    assert "__xp_lo" not in transform(src)


def test_a_bound_that_would_read_memory_or_a_body_with_effects_leaves_the_loop():
    reads = """
        void f(const float *x, float *y, const int *off, int n, int lanes) {
        #pragma omp simd
          for (int l = 0; l < lanes; ++l) {
            int k = off[0];
            if (l + k < n)
              y[l] = x[l];
          }
        }
        """
    assert "__xp_lo" not in transform(reads)   # off[0] would be read even when no lane runs
    effects = """
        void f(const float *x, float *y, int n, int lanes, int *count) {
        #pragma omp simd
          for (int l = 0; l < lanes; ++l) {
            int c = (*count)++;
            if (l < n)
              y[l] = x[l] + c;
          }
        }
        """
    assert "__xp_lo" not in transform(effects)


def test_lane_bounds_applies_to_c_only():
    module = xpiler.lift("__global__ void k(float *x) { x[0] = 1.0f; }", source="cuda")
    with pytest.raises(PassError, match="lane-bounds applies to C \\(vnni\\) programs, not cuda"):
        pipeline("lane-bounds")[0].apply(module)


def test_the_suites_padded_convolutions_into_vnni_compute_their_references():
    from xpiler import suite
    entries = [e for e in suite.load_manifest("cuda") if e.file in {"conv2d_nchw_direct.cu", "depthwise_conv_nhwc.cu"}]
    assert len(entries) == 6
    for e in entries:
        code = xpiler.translate(e.source, to="vnni", source=e.dialect, launch=e.launch)
        assert "__xp_lo" in code, e.id
        result = suite.check_program(e, "vnni", src=code)
        assert result.passed, (e.id, result.summary())
