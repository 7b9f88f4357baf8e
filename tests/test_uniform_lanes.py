"""Lanes of a warp that compute the same thing run once on the CPU (passes/uniform_lanes.py): WMMA code
lowered per lane, where every lane of a warp loads, multiplies and stores the whole 16x16 tile."""

from __future__ import annotations

import textwrap

import xpiler
from xpiler import ir, suite
from xpiler.ir.analysis import statements
from xpiler.ir.dependence import function_env
from xpiler.passes.uniform_lanes import Grouping, group_safe, per_thread_arrays, uniform_split


def _loop(src: str):
    """The first loop of the C function ``src``, and what group_safe needs to analyse it."""
    module = xpiler.lift(textwrap.dedent(src), source="vnni")
    fn = next(f for f in module.functions() if f.body is not None)
    loop = next(n for n in ir.walk(fn.body) if isinstance(n, ir.For))
    return loop, function_env(module, fn)


def _split_and_safe(src: str, width: int | None = 32):
    loop, env = _loop(src)
    g = Grouping(loop.canonical()[0], width)
    split = uniform_split(statements(loop.body), g)
    return split, split is not None and group_safe(loop, g, split, constants={}, env=env)


# ---- what the analysis decides ----------------------------------------------------------------------

def test_a_body_that_uses_the_lane_only_through_its_warp_is_uniform_and_safe():
    split, safe = _split_and_safe("""
        void f(float *y, const float *x, int n) {
          for (int g = 0; g < n; ++g) {
            int w = g / 32;
            for (int i = 0; i < 4; ++i) y[w * 4 + i] = 2.0f * x[w * 4 + i];
          }
        }""")
    assert (split.k, split.decls, safe) == (2, (), True)


def test_lanes_of_a_warp_that_read_what_another_writes_are_not_run_once():
    # every lane adds to acc[w]: run once, the sum would be added once instead of 32 times
    split, safe = _split_and_safe("""
        void f(float *acc, const float *x, int n) {
          for (int g = 0; g < n; ++g) {
            int w = g / 32;
            for (int i = 0; i < 4; ++i) acc[w] += x[w * 4 + i];
          }
        }""")
    assert split.k == 2 and not safe


def test_a_per_lane_rest_after_a_warps_tile_keeps_the_declarations_it_needs():
    split, safe = _split_and_safe("""
        void f(float *y, float *t, const float *x, int n) {
          for (int g = 0; g < n; ++g) {
            int w = g / 32;
            int lane = g % 32;
            for (int i = 0; i < 16; ++i) t[w * 16 + i] = x[w * 16 + i];
            y[g] = t[w * 16 + lane % 16];
          }
        }""")
    assert split.k == 3 and [d.vars[0].name for d in split.decls] == ["w", "lane"] and safe


def test_a_rest_that_reads_what_a_later_warps_tile_overwrites_is_not_split():
    # one tile for all warps: warp 0's lanes must read it before warp 1 overwrites it
    split, safe = _split_and_safe("""
        void f(float *y, float *t, const float *x, int n) {
          for (int g = 0; g < n; ++g) {
            int w = g / 32;
            for (int i = 0; i < 16; ++i) t[i] = x[w * 16 + i];
            y[g] = t[g % 16];
          }
        }""")
    assert split.k == 2 and not safe


def test_a_rest_that_writes_what_the_tile_reads_is_not_split():
    split, safe = _split_and_safe("""
        void f(float *y, float *x, int n) {
          for (int g = 0; g < n; ++g) {
            int w = g / 32;
            for (int i = 0; i < 16; ++i) y[w * 16 + i] = x[w * 16 + i];
            x[g] = 0.0f;
          }
        }""")
    assert split.k == 2 and not safe


def test_no_uniform_part_without_a_loop_and_a_pragma_stays_with_its_loop():
    split, _ = _split_and_safe("""
        void f(float *y, const float *x, int n) {
          for (int g = 0; g < n; ++g) {
            int w = g / 32;
            y[w] = x[w];
          }
        }""")
    assert split is None   # a lane's few statements: cheaper in every lane of a SIMD loop
    split, _ = _split_and_safe("""
        void f(float *y, const float *x, int n) {
          for (int g = 0; g < n; ++g) {
            int w = g / 32;
            #pragma unroll
            for (int i = 0; i < 4; ++i) y[g * 4 + i] = x[w];
          }
        }""")
    assert split is None


def test_a_jump_of_the_lane_loop_keeps_every_lane():
    split, _ = _split_and_safe("""
        void f(float *y, float *z, const float *x, int n) {
          for (int g = 0; g < n; ++g) {
            int w = g / 32;
            for (int i = 0; i < 4; ++i) y[w * 4 + i] = x[w * 4 + i];
            if (x[w] > 0.0f) continue;
            z[g] = 0.0f;
          }
        }""")
    assert split is None


def test_a_rest_that_needs_an_array_of_the_uniform_part_is_not_split():
    split, _ = _split_and_safe("""
        void f(float *y, const float *x, int n) {
          for (int g = 0; g < n; ++g) {
            float t[16];
            for (int i = 0; i < 16; ++i) t[i] = x[g / 32 * 16 + i];
            y[g] = t[g % 16];
          }
        }""")
    assert split is None


def test_per_thread_arrays_are_those_indexed_only_by_the_threads_slot():
    module = xpiler.lift(textwrap.dedent("""
        void f(float *out, unsigned __nthreads, unsigned __tid) {
          {
            float acc[__nthreads][4];
            float v[__nthreads];
            float w[__nthreads];
            acc[__tid][0] = v[__tid];
            out[0] = w[__tid + 1];
          }
        }"""), source="vnni")
    body = next(module.functions()).body.body[0]
    assert per_thread_arrays(body) == {"acc", "v"}


# ---- WMMA programs of the suite, translated and run against the reference ----------------------------

def _translated(file: str):
    entry = next(e for e in suite.entries("cuda") if e.file == file)
    code = xpiler.translate(entry.source, to="vnni", source="cuda", launch=entry.launch)
    outcome = suite.check_program(entry, "vnni", src=code)
    assert outcome.passed, [o for o in outcome.outputs if not o.ok][:1]
    return code


def test_a_warp_per_tile_kernel_runs_one_iteration_per_warp():
    code = _translated("gemm_wmma_warp.cu")
    fast = code.split("} else {")[0]
    assert ("for (int __xp_group_x = 0; __xp_group_x < (int)(((unsigned long long)gridDim.x * blockDim.x + 31)"
            " / 32); ++__xp_group_x) {\n          int warp_id = (unsigned)__xp_group_x;") in fast
    assert "#pragma omp parallel for collapse(3)" in fast and "__xp_global_x" not in fast
    # the tile's own loops are vectorised instead
    assert "#pragma omp simd\n                for (int c = 0; c < 16; ++c)" in fast


def test_phases_of_a_shared_memory_wmma_gemm_run_their_tiles_once_per_warp():
    code = _translated("gemm_wmma_shared.cu")
    fast = code.split("} else {")[0]
    # fill, multiply-accumulate and store: one lane per warp, over its warp's slot of acc / wm / wn
    assert fast.count("for (int threadIdx_x = 0; threadIdx_x < (int)blockDim.x; threadIdx_x += 32) {") == 3
    # the cooperative load of the A and B tiles stays a SIMD loop over every lane
    assert fast.count("#pragma omp simd\n                for (int threadIdx_x = 0; threadIdx_x < (int)blockDim.x;"
                      " ++threadIdx_x) {") == 1


def test_a_warps_tile_then_each_lanes_share_of_its_store():
    code = _translated("conv1x1_nhwc_wmma.cu")
    fast = code.split("} else {")[0]
    leaders = "for (int threadIdx_x = 0; threadIdx_x < (int)blockDim.x; threadIdx_x += 32) {"
    lanes = "#pragma omp simd\n              for (int threadIdx_x = 0; threadIdx_x < (int)blockDim.x; ++threadIdx_x) {"
    assert fast.count(leaders) == 1
    tile, rest = fast.split(leaders)[1].split(lanes)
    assert "out[warp][(long long)(r * 16) + c] = acc[(long long)(r * 16) + c];" in tile
    # the rest declares again the scalars it uses and stores its lane's share
    assert "int co0 = ((unsigned)blockIdx_y * 4 + warp) * 16;" in rest
    assert "for (int i = lane; i < 256; i += 32) {" in rest and "acc[" not in rest


def test_the_whole_axis_is_one_group_when_the_tile_does_not_use_the_lane():
    code = _translated("bmm_wmma_colmajor.cu")
    fast = code.split("} else {")[0]
    assert "for (int threadIdx_x = 0; threadIdx_x < (int)blockDim.x; threadIdx_x += (int)blockDim.x) {" in fast


def test_per_thread_arrays_of_a_tvm_wmma_kernel_are_filled_once_per_row_of_lanes():
    code = _translated("gemm_wmma_tvm.cu")
    fast = code.split("} else {")[0]
    assert fast.count("threadIdx_x += (int)blockDim.x) {") == 3
