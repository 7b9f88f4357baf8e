"""Raising (issue "Raising passes"): sequential C is split into host code and device functions
(``outline``), device functions are bound to the target's parallelism (``bind``) and host entries
manage device memory (host-raise inside ``bind``). Programs in, programs and numbers out."""

from __future__ import annotations

import numpy as np
import pytest

import xpiler
from xpiler import suite
from xpiler.passes.bind import bind_module
from xpiler.passes.outline import outline_module

SAXPY = """extern "C" void saxpy(const float *x, float *y, float a, int n) {
  for (int i = 0; i < n; ++i) y[i] = a * x[i] + y[i];
}"""

ROW_SUM = """extern "C" void row_sum(const float *x, float *out) {
  #pragma omp parallel for
  for (int r = 0; r < 37; ++r) {
    float s = 0.0f;
    for (int c = 0; c < 19; ++c) s += x[r * 19 + c];
    out[r] = s;
  }
}"""


def test_outline_moves_memory_code_into_a_device_function():
    module = outline_module(xpiler.lift(SAXPY, source="vnni"))
    printed = xpiler.emit(module)
    assert "static void saxpy_device0(float a, int n, const float *x, float *y) {" in printed
    assert "  saxpy_device0(a, n, x, y);" in printed


def test_a_parallel_loop_becomes_one_thread_per_iteration():
    code = xpiler.translate(SAXPY, to="cuda", source="vnni")
    assert "for (long long __xp_f = ((long long)blockIdx.x * blockDim.x) + threadIdx.x; __xp_f < n;" in code
    assert "    int i = (int)__xp_f;\n    y[i] = a * x[i] + y[i];" in code
    assert "size_t __xp_n_x = (size_t)(n);" in code              # mirror sized by the footprint analysis
    assert "cudaMemcpy(y, __xp_d_y, __xp_n_y * sizeof(float), cudaMemcpyDeviceToHost);" in code
    assert "cudaMemcpy(x, __xp_d_x" not in code                   # a const input is not copied back
    x, y = np.random.rand(1000).astype(np.float32), np.random.rand(1000).astype(np.float32)
    want = 2.5 * x + y
    xpiler.run(code, [x, y, 2.5, 1000], entry="saxpy", lang="cuda", backend="emulate")
    np.testing.assert_allclose(y, want, rtol=1e-6)


def test_an_openmp_loop_is_parallel_and_its_private_accumulator_stays_per_thread():
    code = xpiler.translate(ROW_SUM, to="cuda", source="vnni")
    assert "__xp_f < 37;" in code and "    int r = (int)__xp_f;\n    float s = 0.0f;" in code
    x = np.random.rand(37 * 19).astype(np.float32)
    out = np.zeros(37, np.float32)
    xpiler.run(code, [x, out], entry="row_sum", lang="cuda", backend="emulate")
    np.testing.assert_allclose(out, x.reshape(37, 19).sum(axis=1), rtol=1e-5)


IKJ_GEMM = """extern "C" void gemm(const float *A, const float *B, float *C, int M, int N, int K) {
  #pragma omp parallel for
  for (int i = 0; i < M; ++i)
    for (int k = 0; k < K; ++k) {
      float a = A[i * K + k];
      for (int j = 0; j < N; ++j) C[i * N + j] += a * B[k * N + j];
    }
}"""


def test_a_reduction_around_an_independent_loop_is_interchanged_so_both_outer_loops_are_threads():
    # one thread per row would leave a GPU idle: j moves out of the k reduction, a is read per (i, j),
    # and every C[i][j] still sums its products in the order of k (the same float bits)
    code = xpiler.translate(IKJ_GEMM, to="cuda", source="vnni")
    assert "__xp_f < (M * N);" in code
    assert ("    int i = (int)(__xp_f / N);\n    int j = (int)(__xp_f % N);\n    for (int k = 0; k < K; ++k) {\n"
            "      float a = A[i * K + k];\n      C[i * N + j] += a * B[k * N + j];") in code
    rng = np.random.default_rng(3)
    M, N, K = 19, 23, 37
    A, B = rng.standard_normal((M, K), np.float32), rng.standard_normal((K, N), np.float32)
    C0 = rng.standard_normal((M, N), np.float32)
    want = C0.copy()
    for k in range(K):
        want += A[:, k:k + 1] * B[k]   # float32, in the order of k
    C = C0.copy()
    xpiler.run(code, [A, B, C, M, N, K], entry="gemm", lang="cuda", backend="emulate")
    np.testing.assert_array_equal(C, want)


@pytest.mark.parametrize("why, body", [
    ("the inner loop writes what the declaration reads",
     "float a = C[i * N + k]; for (int j = 0; j < N; ++j) C[i * N + j] += a;"),
    ("iterations of j depend on each other",
     "float a = A[i * K + k]; for (int j = 1; j < N; ++j) C[i * N + j] += a * C[i * N + j - 1];"),
    ("the inner loop's bound changes with k",
     "float a = A[i * K + k]; for (int j = 0; j < k; ++j) C[i * N + j] += a;"),
])
def test_a_reduction_is_not_interchanged_where_that_would_change_the_result(why, body):
    src = IKJ_GEMM.replace("float a = A[i * K + k];\n      for (int j = 0; j < N; ++j) C[i * N + j] += a * B[k * N + j];",
                           body)
    assert body in src
    code = xpiler.translate(src, to="cuda", source="vnni")
    assert "__xp_f < M;" in code, why


LANE_ACCUMULATORS = """extern "C" void rows(const float *A, const float *B, float *C) {
  #pragma omp parallel for
  for (int i = 0; i < 40; ++i) {
    float acc[3 * 8];
    for (int lane = 0; lane < 8; ++lane) {
      for (int v = 0; v < 3; ++v) acc[v * 8 + lane] = 0.0f;
      for (int k = 0; k < 17; ++k)
        for (int v = 0; v < 3; ++v) acc[v * 8 + lane] += A[i * 17 + k] * B[k * 24 + v * 8 + lane];
      for (int v = 0; v < 3; ++v) C[i * 24 + v * 8 + lane] = acc[(v * 8) + lane];
    }
  }
}"""


def test_a_vector_accumulator_of_independent_lanes_is_each_threads_own_slice():
    # detensorized AVX-512 code keeps one array for all lanes; the lanes are threads too, each with
    # its three elements acc[v * 8 + lane] as acc[v]
    code = xpiler.translate(LANE_ACCUMULATORS, to="cuda", source="vnni")
    assert "__xp_f < (40 * 8);" in code and "    float acc[3];\n" in code
    assert "acc[v] = acc[v] + A[i * 17 + k] * B[k * 24 + v * 8 + lane];" in code or \
        "acc[v] += A[i * 17 + k] * B[k * 24 + v * 8 + lane];" in code
    assert "C[i * 24 + v * 8 + lane] = acc[v];" in code
    rng = np.random.default_rng(5)
    A, B = rng.standard_normal((40, 17), np.float32), rng.standard_normal((17, 24), np.float32)
    want = np.zeros((40, 24), np.float32)
    for k in range(17):
        want += A[:, k:k + 1] * B[k]   # float32, in the order of k
    C = np.zeros((40, 24), np.float32)
    xpiler.run(code, [A, B, C], entry="rows", lang="cuda", backend="emulate")
    np.testing.assert_array_equal(C, want)


def test_an_array_the_lanes_share_stays_outside_them():
    # acc[v] is every lane's: lane 1 reads what lane 0 wrote, so only the rows are threads
    shared = LANE_ACCUMULATORS.replace("acc[v * 8 + lane] = 0.0f;", "acc[v] = 0.0f;")
    assert shared != LANE_ACCUMULATORS
    code = xpiler.translate(shared, to="cuda", source="vnni")
    assert "__xp_f < 40;" in code and "    float acc[24];\n    for (int lane = 0; lane < 8; ++lane) {" in code


PACK_THEN_ROWS = """extern "C" void scaled_rows(const float *x, const float *w, float *s, float *y) {
  for (int j = 0; j < 8; ++j) s[j] = 2.0f * w[j];
  for (int i = 0; i < 300; ++i)
    for (int j = 0; j < 8; ++j) y[i * 8 + j] = x[i * 8 + j] * s[j];
}"""


def test_a_device_function_whose_last_loop_alone_is_parallel_is_two_kernels_in_order():
    # as one function it would run in one block; its prologue is a kernel of its own, launched first
    code = xpiler.translate(PACK_THEN_ROWS, to="cuda", source="vnni")
    assert "__global__ void scaled_rows_device0_prologue(" in code
    assert "__xp_f < 8;" in code and "__xp_f < (300 * 8);" in code
    first = code.index("scaled_rows_device0_prologue<<<")
    assert first < code.index("scaled_rows_device0<<<") < code.index("cudaDeviceSynchronize();")
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal(2400, np.float32), rng.standard_normal(8, np.float32)
    s, y = np.zeros(8, np.float32), np.zeros(2400, np.float32)
    xpiler.run(code, [x, w, s, y], entry="scaled_rows", lang="cuda", backend="emulate")
    np.testing.assert_array_equal(s, 2 * w)
    np.testing.assert_array_equal(y, (x.reshape(300, 8) * (2 * w)).ravel())


def test_on_bang_the_prologue_is_a_launch_of_its_own_and_the_loop_goes_over_the_tasks():
    code = xpiler.translate(PACK_THEN_ROWS, to="bang", source="vnni")
    assert "__mlu_global__ void scaled_rows_device0_prologue(" in code
    assert "for (long long __xp_f = (long long)taskId; __xp_f < (300 * 8); __xp_f += taskDim) {" in code
    first = code.index("scaled_rows_device0_prologue<<<")
    assert first < code.index("cnrtQueueSync", first) < code.index("scaled_rows_device0<<<")
    assert "CNRT_FUNC_TYPE_UNION1" in code
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal(2400, np.float32), rng.standard_normal(8, np.float32)
    s, y = np.zeros(8, np.float32), np.zeros(2400, np.float32)
    xpiler.run(code, [x, w, s, y], entry="scaled_rows", lang="bang")
    np.testing.assert_array_equal(s, 2 * w)
    np.testing.assert_array_equal(y, (x.reshape(300, 8) * (2 * w)).ravel())


def test_a_prologue_whose_scalar_the_loop_reads_stays_in_one_kernel():
    src = PACK_THEN_ROWS.replace("  for (int j = 0; j < 8; ++j) s[j] = 2.0f * w[j];\n",
                                 "  float k = 0.0f;\n  for (int j = 0; j < 8; ++j) {\n    s[j] = 2.0f * w[j];\n"
                                 "    k += w[j];\n  }\n").replace("* s[j];", "* s[j] * k;")
    assert "k += w[j];" in src and "* s[j] * k;" in src
    code = xpiler.translate(src, to="cuda", source="vnni")
    assert "_prologue" not in code and code.count("__global__") == 1


BYTE_ROWS = """#include <cstdint>
extern "C" void rows(const int32_t *x, int32_t *C) {
  for (int i = 0; i < 32; ++i) {
    int32_t sub[16];
    for (int l = 0; l < 16; ++l) sub[l] = x[i * 16 + l] * 3;
    for (int b = 0; b < 64; ++b) ((uint8_t *)(C + i * 32))[b] = ((const uint8_t *)sub)[b];
  }
}"""


def test_rows_stored_through_a_byte_view_are_independent_by_the_parameters_types():
    # detensorized stores copy a vector's bytes: with C's element size known, row i's bytes are
    # [128 i, 128 i + 64), apart from every other row's, so the rows are threads
    code = xpiler.translate(BYTE_ROWS, to="cuda", source="vnni")
    assert "__xp_f < 32;" in code
    x = np.arange(32 * 16, dtype=np.int32) - 100
    C = np.full((32, 32), 7, np.int32)
    xpiler.run(code, [x, C], entry="rows", lang="cuda", backend="emulate")
    want = np.full((32, 32), 7, np.int32)
    want[:, :16] = 3 * x.reshape(32, 16)
    np.testing.assert_array_equal(C, want)


def test_vnni_target_gets_openmp_on_the_recovered_block_loops():
    entry = next(e for e in suite.entries("cuda") if e.file == "softmax_warp_xor.cu")
    code = xpiler.translate(entry.source, to="vnni", source="cuda")
    # block loops in parallel, each thread loop of the x axis a SIMD loop (tests/test_cpu_nest.py)
    assert "#pragma omp parallel for collapse(3)\n    for (int blockIdx_z = 0;" in code
    assert "#pragma omp simd\n              for (int threadIdx_x = 0; threadIdx_x < (int)blockDim.x;" in code
    assert "  } else {\n#pragma omp parallel for collapse(3)\n    for (unsigned blockIdx_z = 0;" in code
    assert suite.check_program(entry, "vnni", src=code).passed


def test_bang_target_distributes_iterations_over_tasks():
    code = xpiler.translate(SAXPY, to="bang", source="vnni")
    assert "__mlu_global__ void saxpy_device0(" in code
    assert "for (long long __xp_f = (long long)taskId; __xp_f < n; __xp_f += taskDim)" in code
    assert "saxpy_device0<<<__xp_dim_saxpy_device0, CNRT_FUNC_TYPE_UNION1, __xp_queue>>>" in code
    x, y = np.random.rand(500).astype(np.float32), np.random.rand(500).astype(np.float32)
    want = -1.5 * x + y
    xpiler.run(code, [x, y, -1.5, 500], entry="saxpy", lang="bang")
    np.testing.assert_allclose(y, want, rtol=1e-6)


@pytest.mark.parametrize("dialect, file, target", [
    ("bang", "softmax_rows.mlu", "cuda"),      # task buffers -> block mode: shared memory, thread loops
    ("bang", "add_union.mlu", "hip"),          # NRAM tiles beyond 48 KB -> per-block scratch
    ("bang", "layernorm.mlu", "cuda"),         # every thread sums the row, then threads overwrite it
    ("cuda", "softmax_warp_xor.cu", "bang"),   # recovered warps: blocks over tasks
    ("cuda", "gemm_shared_tiled.cu", "bang"),
    ("vnni", "gemm_fused.cpp", "cuda"),
    ("vnni", "softmax_fused.cpp", "bang"),     # a local array of the entry becomes a device buffer
    ("hip", "gemm_mfma_16x16x4f32.hip", "vnni"),   # the MFMA helper of the C prelude: 16 rows, one element
    ("hip", "gemm_mfma_32x32x8f16.hip", "vnni"),   # 32 rows, four halves per lane
])
def test_suite_programs_raise_and_compute(dialect, file, target):
    for entry in [e for e in suite.entries(dialect) if e.file == file][:1]:
        code = xpiler.translate(entry.source, to=target, source=dialect, launch=entry.launch)
        outcome = suite.check_program(entry, target, src=code)
        assert outcome.passed, [o for o in outcome.outputs if not o.ok][:1]


def test_hip_code_the_port_refuses_is_lowered_and_raised_with_the_reason_recorded():
    src = """#include <hip/hip_runtime.h>
__global__ void __launch_bounds__(64) half_wave(float *a) {
  float v = a[threadIdx.x];
  if (threadIdx.x % 64 < 32) v = __shfl_down(v, 32);
  a[threadIdx.x] = v;
}"""
    with pytest.raises(xpiler.UnsupportedError, match="may leave some lanes out"):
        xpiler.translate(src, to="cuda", pipeline="simt-port{target=cuda}", launch={"grid": [1], "block": [64]})
    t = xpiler.translate_with_trace(src, to="cuda", launch={"grid": [1], "block": [64]})
    assert t.notes and t.notes[0].startswith("simt-port refused (") and "may leave some lanes out" in t.notes[0]
    assert t.pipeline.endswith("outline,bind{target=cuda},tensorize{target=cuda},target-prelude")


def test_bind_rejects_bad_parameters():
    with pytest.raises(xpiler.passes.base.PassError, match="threads must be a multiple of 32"):
        xpiler.translate(SAXPY, to="cuda", source="vnni", pipeline="detensorize,outline,bind{threads=100}")


def test_atomics_are_refused_rather_than_raced():
    src = "__global__ void __launch_bounds__(64) k(float *a) { atomicAdd(a, 1.0f); }"
    with pytest.raises(xpiler.UnsupportedError, match=r"atomics \(atomicAdd\) are not raised yet"):
        xpiler.translate(src, to="bang", launch={"grid": [1], "block": [64]})


def test_tasks_with_file_scope_nram_run_in_parallel_each_with_its_own_buffer_in_c():
    # file-scope __nram__ is per core in BANG: lowered, each task declares its own copy, so OpenMP
    # may run the tasks concurrently
    entry = next(e for e in suite.entries("bang") if e.file == "pool_nhwc.mlu")
    code = xpiler.translate(entry.source, to="vnni", source="bang", launch=entry.launch)
    assert "__nram__" not in code and code.count("float src[MAX_IN];") == 4  # one per entry's task loop
    assert "#pragma omp parallel for collapse(3)" in code
    assert suite.check_program(entry, "vnni", src=code).passed


def test_a_file_scope_variable_only_device_code_uses_is_a_device_variable():
    src = """float bias[4] = {1.0f, 2.0f, 3.0f, 4.0f};
extern "C" void add_bias(const float *x, float *y, int n) {
  for (int i = 0; i < n; ++i) y[i] = x[i] + bias[i % 4];
}"""
    code = xpiler.translate(src, to="cuda", source="vnni")
    assert "__device__ float bias[4] = {1.0f, 2.0f, 3.0f, 4.0f};" in code  # nvcc: a host global is undefined there
    x, y = np.random.rand(10).astype(np.float32), np.zeros(10, np.float32)
    xpiler.run(code, [x, y, 10], entry="add_bias", lang="cuda", backend="emulate")
    np.testing.assert_allclose(y, x + np.tile(np.float32([1, 2, 3, 4]), 3)[:10])


def test_device_qualifiers_kept_by_lowering_are_defined_for_bang():
    entry = next(e for e in suite.entries("hip") if e.file == "pool_nhwc_template.hip")
    code = xpiler.translate(entry.source, to="bang", source="hip", launch=entry.launch)
    assert "#define __device__" in code
    assert suite.check_program(entry, "bang", src=code).passed


SCALE_KINDS = """#include <vector>
#include <cmath>
enum { DOUBLE = 0, NEGATE = 1 };
extern "C" void pack_scale(const float *restrict x, const float *restrict w, float *restrict y, int n, int kind) {
  const float gain = w[0] * std::sqrt(4.0f);        // read from an input before any device code
  std::vector<float> tmp(n, 0);                     // a buffer device code can take
  float tiles[2][8];                                // flattened for the device
  for (int i = 0; i < 16; ++i) tiles[i / 8][i % 8] = (float)i;
  for (int i = 0; i < n; ++i) {
    float f;
    switch (kind) {
      case DOUBLE: f = 2.0f; break;
      case NEGATE: f = -1.0f; break;
      default: f = 1.0f; break;
    }
    tmp[i] = f * x[i];
  }
  float *t = tmp.data();
  for (int i = 0; i < n; ++i) y[i] = gain * t[i] + tiles[1][i % 8];
}"""


@pytest.mark.parametrize("kind", [0, 1, 7])
def test_vectors_switches_and_local_tiles_of_a_c_entry_move_to_the_device(kind):
    code = xpiler.translate(SCALE_KINDS, to="cuda", source="vnni")
    assert "float *__restrict__ x" in code                 # C's restrict is not C++
    assert "cudaMalloc((void **)&tmp" in code and "cudaFree(tmp)" in code
    assert "float tiles[2 * 8];" in code
    x, w = np.random.rand(100).astype(np.float32), np.array([0.5], np.float32)
    y = np.zeros(100, np.float32)
    xpiler.run(code, [x, w, y, 100, kind], entry="pack_scale", lang="cuda", backend="emulate")
    scaled = {0: 2 * x, 1: -x}.get(kind, x)
    np.testing.assert_allclose(y, 1.0 * scaled + (8 + np.arange(100) % 8), rtol=1e-6)


def test_a_switch_that_falls_through_is_kept_verbatim_with_the_reason():
    module = xpiler.lift("""void f(int *y, int k) {
  switch (k) { case 0: y[0] = 1; case 1: y[1] = 2; break; }
}""", source="vnni")
    verbatim = [n for n in xpiler.ir.walk(module) if isinstance(n, xpiler.ir.Verbatim)]
    assert [v.reason for v in verbatim] == ["switch with a case that falls through"]


TAIL_NORM = """#include <immintrin.h>
extern "C" void center(const float *x, float *out, int rows, int cols) {
  const int full = cols / 16 * 16;
  const __mmask16 tail = (__mmask16)((1u << (cols - full)) - 1);
  #pragma omp parallel for
  for (int r = 0; r < rows; ++r) {
    const float *xr = x + (long)r * cols;
    __m512 s = _mm512_setzero_ps();
    for (int j = 0; j < full; j += 16) s = _mm512_add_ps(s, _mm512_loadu_ps(xr + j));
    if (tail) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(tail, xr + full));
    const __m512 mean = _mm512_set1_ps(_mm512_reduce_add_ps(s) / cols);
    for (int j = 0; j < full; j += 16) _mm512_storeu_ps(out + (long)r * cols + j, _mm512_sub_ps(_mm512_loadu_ps(xr + j), mean));
    if (tail) _mm512_mask_storeu_ps(out + (long)r * cols + full, tail, _mm512_sub_ps(_mm512_maskz_loadu_ps(tail, xr + full), mean));
  }
}"""


def test_sizes_derived_from_scalars_the_entry_computes_and_arrays_declared_twice():
    # full and tail are passed to the device function; their relation to cols is the entry's, and
    # the two `float v[16]` of the loads in both branches share the block's shared memory
    code = xpiler.translate(TAIL_NORM, to="cuda", source="vnni")
    assert "size_t __xp_n_x = (size_t)(" in code
    x = np.random.rand(5, 37).astype(np.float32)
    out = np.zeros_like(x)
    xpiler.run(code, [x, out, 5, 37], entry="center", lang="cuda", backend="emulate")
    np.testing.assert_allclose(out, x - x.mean(axis=1, keepdims=True), rtol=1e-5, atol=1e-6)


def test_device_code_calls_the_global_memcpy_hip_has():
    src = """#include <cstring>
extern "C" void copy4(const float *x, float *y, int n) {
  for (int i = 0; i < n; ++i) std::memcpy(y + 4 * i, x + 4 * i, 4 * sizeof(float));
}"""
    code = xpiler.translate(src, to="hip", source="vnni")
    assert "std::memcpy" not in code and "memcpy(y + 4 * i, x + 4 * i, 16UL);" in code  # size folded
    x, y = np.random.rand(40).astype(np.float32), np.zeros(40, np.float32)
    xpiler.run(code, [x, y, 10], entry="copy4", lang="hip", backend="emulate")
    np.testing.assert_array_equal(y, x)


ROW_SOFTMAX = """#include <vector>
#include <cmath>
extern "C" void softmax_rows(const float *x, float *y, int B, int L) {
  #pragma omp parallel
  {
    std::vector<float> s(L);  // one buffer per thread
    #pragma omp for
    for (int b = 0; b < B; ++b) {
      float m = -INFINITY;
      for (int j = 0; j < L; ++j) { s[j] = x[b * L + j] * 2.0f; m = std::fmax(m, s[j]); }
      float sum = 0.0f;
      for (int j = 0; j < L; ++j) { s[j] = std::exp(s[j] - m); sum += s[j]; }
      for (int j = 0; j < L; ++j) y[b * L + j] = s[j] / sum;
    }
  }
}"""


@pytest.mark.parametrize("target", ["cuda", "bang"])
def test_a_thread_private_buffer_of_an_openmp_region_becomes_per_iteration_scratch(target):
    # the region's vector is private to a thread, and a thread's iterations may only read what they
    # wrote: one buffer per iteration is the same program (on the GPU: each thread's slice of a
    # global scratch buffer, as the size L is known at run time only)
    code = xpiler.translate(ROW_SOFTMAX, to=target, source="vnni")
    assert "std::vector" not in code.split('extern "C"')[0]  # no vector in device code
    if target == "cuda":  # a row per block (it is reduced and mapped): a scratch row per block
        assert "float *s = __xp_scratch_s + ((long long)blockIdx.x * L);" in code
    for B, L in ((5, 37), (300, 70)):
        x = np.random.rand(B * L).astype(np.float32)
        y = np.zeros_like(x)
        xpiler.run(code, [x, y, B, L], lang=target, backend="emulate")
        e = np.exp(2 * x.reshape(B, L) - (2 * x.reshape(B, L)).max(axis=1, keepdims=True))
        np.testing.assert_allclose(y.reshape(B, L), e / e.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-7)


def test_scratch_memory_is_kept_from_one_call_to_the_next():
    # the per-block scratch of a launch is not allocated and freed around every launch (that costs
    # more than small kernels run): the same memory serves the next call, grown when a call needs more
    code = xpiler.translate(ROW_SOFTMAX, to="cuda", source="vnni")
    assert "float *__xp_scratch_s_" in code and "(float *)__xpiler_scratch(0, " in code
    assert "cudaFree(__xp_scratch" not in code and "cudaMalloc((void **)&__xp_scratch" not in code
    from xpiler.emitters.c_prelude import TARGET_ENTRIES
    probe = "#include <cuda_runtime.h>\n#include <stdlib.h>\n" + TARGET_ENTRIES["cuda"]["__xpiler_scratch"][0] + """
extern "C" void probe(long long *same) {
  void *a = __xpiler_scratch(0, 100), *b = __xpiler_scratch(0, 64), *c = __xpiler_scratch(1, 100);
  void *d = __xpiler_scratch(0, 4096), *e = __xpiler_scratch(0, 4096);
  same[0] = a == b;                   // a call needing no more: the same memory
  same[1] = a != c && c != 0;         // another slot: its own
  same[2] = d != 0 && d == e;         // grown once, then kept
}"""
    same = np.zeros(3, np.int64)
    xpiler.run(probe, [same], entry="probe", lang="cuda", backend="emulate")
    assert same.tolist() == [1, 1, 1]


def test_half_precision_on_bang_is_bangs_own_half():
    # __half is BANG's half: a ?: between a converted constant and a __half variable has one type
    src = """#include <hip/hip_runtime.h>
#include <hip/hip_fp16.h>
__global__ void relu_half(const __half *x, __half *y, int n) {
  const int i = hipBlockIdx_x * hipBlockDim_x + hipThreadIdx_x;
  const __half zero = __float2half(0.0f);
  if (i < n) y[i] = __hgt(x[i], zero) ? x[i] : zero;
}"""
    code = xpiler.translate(src, to="bang", source="hip", launch={"grid": [2, 1, 1], "block": [64, 1, 1]})
    assert "typedef half __half;" in code and "_Float16" not in code
    x = (np.random.rand(128) - 0.5).astype(np.float16)
    y = np.zeros(128, np.float16)
    xpiler.run(code, [x, y, 128], entry="relu_half_kernel", lang="bang", backend="emulate")
    np.testing.assert_array_equal(y, np.maximum(x, np.float16(0)))


def test_file_scope_nram_is_each_tasks_own_and_tasks_run_as_blocks():
    # NRAM belongs to a core: every task (a block on the GPU) gets its own buffer, so the tasks stay
    # parallel; the loops through the buffer fuse, and each element passes through a register; the
    # chunks the tasks took in turn are one loop (task-units), a block per chunk, and the chunk's
    # elements are the block's threads (coalesced)
    src = """#include <bang.h>
__nram__ float buf[256];
__mlu_global__ void twice(float *x, float *y, int n) {
  for (int i = taskId * 256; i < n; i += taskDim * 256) {
    int len = n - i < 256 ? n - i : 256;
    __memcpy(buf, x + i, len * sizeof(float), GDRAM2NRAM);
    __bang_mul_scalar(buf, buf, 2.0f, len);
    __memcpy(y + i, buf, len * sizeof(float), NRAM2GDRAM);
  }
}"""
    code = xpiler.translate(src, to="cuda", source="bang", launch=xpiler.Launch(task_dim=(4, 1, 1), func_type="UNION1"))
    kernel = code[code.index("__global__"):code.index('extern "C"')]
    assert "__shared__" not in kernel and "__xp_b < (((n - 0) + (256 - 1)) / 256)" in kernel
    assert "int i = (int)(__xp_b * 256);" in kernel
    assert "for (int i_1 = (int)threadIdx.x; i_1 < len; i_1 += blockDim.x) {\n      float buf = x[i + i_1];" in kernel
    x, y = np.random.rand(1000).astype(np.float32), np.zeros(1000, np.float32)
    xpiler.run(code, [x, y, 1000], entry="twice", lang="cuda", backend="emulate")
    np.testing.assert_array_equal(y, 2 * x)


def test_a_host_pointer_under_another_name_is_refused_not_passed_to_a_kernel():
    src = """extern "C" void twice(const float *x, float *y, int n) {
  const float *xr = x;
  for (int i = 0; i < n; ++i) y[i] = 2.0f * xr[i];
}"""
    with pytest.raises(xpiler.UnsupportedError, match=r"passes xr, a local pointer into host memory \(x\)"):
        xpiler.translate(src, to="cuda", source="vnni")


def test_a_helper_with_an_openmp_loop_is_inlined_and_its_pointers_get_device_mirrors():
    src = """static void scale(const float *x, float *y, int n, float s) {
  #pragma omp parallel for
  for (int i = 0; i < n; ++i) y[i] = s * x[i];
}
extern "C" void triple(const float *x, float *y, int n) { scale(x, y, n, 3.0f); }"""
    code = xpiler.translate(src, to="cuda", source="vnni")
    assert "static void scale" not in code and "cudaMemcpy(__xp_d_x, x, " in code
    x, y = np.random.rand(300).astype(np.float32), np.zeros(300, np.float32)
    xpiler.run(code, [x, y, 300], entry="triple", lang="cuda", backend="emulate")
    np.testing.assert_allclose(y, 3 * x, rtol=1e-6)


def test_checked_queue_calls_leave_no_empty_kernels():
    # CNRT_CHECK(cnrtCreateQueue(&q)) lowers to CNRT_CHECK(0): checking success does nothing, so no
    # statement is left for outline to turn into a kernel of its own
    entry = suite.load_manifest("bang").get("gemm_matmul_tiled.mlu")
    assert entry.source.count("CNRT_CHECK(cnrt") == 12
    code = xpiler.translate(entry.source, to="cuda", source="bang")
    assert code.count("__global__") == 1 and "CNRT_CHECK(0)" not in code
    assert code.count("CNRT_CHECK(cuda") == 9           # the copies, allocations and frees keep their check
