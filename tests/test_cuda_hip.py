"""The direct CUDA <-> HIP mapping: a program in, a program out."""

from __future__ import annotations

import numpy as np
import pytest

import xpiler
from xpiler.oracle.toolchains import compile_check
import xpiler.api

CUDA = """#include <cuda_runtime.h>
__global__ void reduce(const float *in, float *out, int n) {
  float v = in[blockIdx.x * blockDim.x + threadIdx.x];
  for (int offset = warpSize / 2; offset > 0; offset /= 2)
    v += __shfl_down_sync(0xffffffff, v, offset);
  if (threadIdx.x % warpSize == 0)
    atomicAdd(out, v);
}

extern "C" void reduce_kernel(float *in, float *out, int n) {
  float *d_in, *d_out;
  cudaMalloc((void **)&d_in, n * sizeof(float));
  cudaMalloc((void **)&d_out, sizeof(float));
  cudaMemcpy(d_in, in, n * sizeof(float), cudaMemcpyHostToDevice);
  cudaMemset(d_out, 0, sizeof(float));
  cudaStream_t stream;
  cudaStreamCreate(&stream);
  reduce<<<n / 256, 256, 0, stream>>>(d_in, d_out, n);
  cudaStreamSynchronize(stream);
  cudaMemcpy(out, d_out, sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(d_in);
  cudaFree(d_out);
}
"""

HIP = """#include <hip/hip_runtime.h>

__global__ void reduce(const float *in, float *out, int n) {
  float v = in[blockIdx.x * blockDim.x + threadIdx.x];
  for (int offset = 32 / 2; offset > 0; offset /= 2)
    v += __shfl_down(v, offset, 32);
  if (threadIdx.x % 32 == 0)
    atomicAdd(out, v);
}

extern "C" void reduce_kernel(float *in, float *out, int n) {
  float *d_in, *d_out;
  hipMalloc((void **)&d_in, n * sizeof(float));
  hipMalloc((void **)&d_out, sizeof(float));
  hipMemcpy(d_in, in, n * sizeof(float), hipMemcpyHostToDevice);
  hipMemset(d_out, 0, sizeof(float));
  hipStream_t stream;
  hipStreamCreate(&stream);
  reduce<<<n / 256, 256, 0, stream>>>(d_in, d_out, n);
  hipStreamSynchronize(stream);
  hipMemcpy(out, d_out, sizeof(float), hipMemcpyDeviceToHost);
  hipFree(d_in);
  hipFree(d_out);
}
"""


def test_cuda_to_hip_keeps_32_lane_semantics_on_64_lane_wavefronts():
    assert xpiler.translate(CUDA, to="hip") == HIP


def test_cuda_to_hip_for_32_lane_wavefronts_maps_one_to_one():
    out = xpiler.translate(CUDA, to="hip", wavefront=32)
    assert "for (int offset = warpSize / 2; offset > 0; offset /= 2)" in out
    assert "v += __shfl_down(v, offset);" in out


def test_hip_to_cuda_round_trip_spells_cuda():
    out = xpiler.translate(HIP, to="cuda")
    assert "#include <cuda_runtime.h>" in out
    assert "v += __shfl_down_sync(0xffffffff, v, offset, 32);" in out
    assert "cudaStream_t stream;" in out and "cudaStreamSynchronize(stream);" in out
    assert "hip" not in out.replace("hipcc", "")


def test_hip_launch_and_builtins_become_cuda_spellings():
    src = """#include "hip/hip_runtime.h"
__global__ void k(float *a) { a[hipBlockIdx_x * hipBlockDim_x + hipThreadIdx_x] = hipGridDim_x; }
extern "C" void h(float *a) { hipLaunchKernelGGL(HIP_KERNEL_NAME(k), dim3(2), dim3(64), 0, 0, a); }
"""
    out = xpiler.translate(src, to="cuda")
    assert "a[blockIdx.x * blockDim.x + threadIdx.x] = gridDim.x;" in out
    assert "k<<<dim3(2), dim3(64), 0, 0>>>(a);" in out


@pytest.mark.parametrize("src, call", [
    ("__global__ void k(float *a) { a[0] = __shfl_down(a[0], 32); }", "a[0] = xpiler_shfl_down64(a[0], 32, 64, 1);"),
    ("__global__ void k(float *a) { float v = a[0]; for (int o = 32; o > 0; o /= 2) v += __shfl_xor(v, o); a[0] = v; }",
     "v += xpiler_shfl_xor64(v, o, 64, 1);"),
    ("#define WAVE 64\n__global__ void k(float *a) { float v = a[0]; for (int o = WAVE / 2; o > 0; o /= 2) "
     "v += __shfl_xor(v, o); a[0] = v; }", "v += xpiler_shfl_xor64(v, o, 64, 1);"),
    ("__global__ void k(float *a) { float v = a[0]; for (int o = warpSize / 2; o > 0; o /= 2) "
     "v += __shfl_down(v, o); a[0] = v; }", "for (int o = 64 / 2; o > 0; o /= 2)\n    v += xpiler_shfl_down64(v, o, 64, 1);"),
    ("__global__ void k(float *a) { a[0] = __ballot(a[0] > 0); }", "a[0] = xpiler_ballot64(a[0] > 0, 1);"),
])
def test_hip_code_assuming_64_lanes_exchanges_across_two_warps(src, call):
    out = xpiler.translate("#include <hip/hip_runtime.h>\n" + src, to="cuda", pipeline="simt-port{target=cuda}")
    assert call in out
    assert "// HIP's 64-lane wavefronts on CUDA's 32-lane warps" in out
    assert "__device__ __forceinline__ void xpiler_wave_sync(int block_wide) {" in out


@pytest.mark.parametrize("src, message", [
    ("__global__ void k(float *a) { float v = a[threadIdx.x]; if (threadIdx.x % 64 < 32) v = __shfl_down(v, 32); "
     "a[threadIdx.x] = v; }",
     r"'__shfl_down\(v, 32\)' exchanges across a 64-lane wavefront, which CUDA's 32-lane warps can only do when every "
     r"lane of the wavefront reaches it, and the condition 'threadIdx.x % 64 < 32' may leave some lanes out"),
    ("__global__ void k(float *a, int n) { if (threadIdx.x >= n) return; float v = a[threadIdx.x]; "
     "for (int o = 32; o > 0; o /= 2) v += __shfl_xor(v, o); a[threadIdx.x] = v; }",
     r"'__shfl_xor\(v, o\)' .* and a return under the condition 'threadIdx.x >= n' may leave some lanes out"),
    ("__global__ void k(float *a, int n) { float v = a[threadIdx.x]; int c = 0; for (int i = 0; i < n; ++i) { "
     "if (c) v += __shfl_xor(v, 32); c = threadIdx.x & 1; } a[threadIdx.x] = v; }",
     r"'__shfl_xor\(v, 32\)' .* and the condition 'c' may leave some lanes out"),   # set later in the loop
    ("__global__ void k(float *a, int n) { if (blockIdx.x * 4 + threadIdx.x / 64 >= n) return; "
     "a[threadIdx.x] = __shfl_xor(a[threadIdx.x], 32); }",
     r"kernel k assumes 64-lane wavefronts and runs a warp operation that whole wavefronts may skip \(a return under "
     r"the condition 'blockIdx.x \* 4 \+ threadIdx.x / 64 >= n'\) in blocks of an unknown number of threads: a "
     r"barrier of the wavefront's two warps needs blocks of at most 960 threads"),
])
def test_hip_code_assuming_64_lanes_that_lanes_may_skip_is_refused(src, message):
    with pytest.raises(xpiler.UnsupportedError, match=message):
        xpiler.translate("#include <hip/hip_runtime.h>\n" + src, to="cuda", pipeline="simt-port{target=cuda}")


WAVES = r"""#include <hip/hip_runtime.h>
__global__ void waves(const int *x, int *out, int n) {
  int t = hipThreadIdx_x;
  int v = x[t];
  int k = 0;
  for (int w = 16; w <= 64; w *= 4) {
    out[(k++) * n + t] = __shfl(v, 37, w);
    out[(k++) * n + t] = __shfl_up(v, 3, w);
    out[(k++) * n + t] = __shfl_down(v, 33, w);
    out[(k++) * n + t] = __shfl_xor(v, 40, w);
  }
  unsigned long long b = __ballot(v % 3 == 0);
  out[(k++) * n + t] = (int)(b & 0xffffffffu);
  out[(k++) * n + t] = (int)(b >> 32);
  out[(k++) * n + t] = __any(v == 5);
  out[(k++) * n + t] = __all(v > 1);
  out[(k++) * n + t] = warpSize;
}
__global__ void __launch_bounds__(128) rows(const int *x, int *y, int rows) {
  int row = hipBlockIdx_x * 2 + hipThreadIdx_x / 64, lane = hipThreadIdx_x % 64;
  if (row >= rows)
    return;
  int v = x[row * 64 + lane];
  for (int o = 32; o > 0; o >>= 1)
    v += __shfl_xor(v, o);
  y[row * 64 + lane] = v;
}
extern "C" void f(const int *x, int *out, int n, int *y, int nrows) {
  int *dx, *dout, *dy;
  hipMalloc((void **)&dx, 256 * sizeof(int));
  hipMalloc((void **)&dout, 13 * n * sizeof(int));
  hipMalloc((void **)&dy, nrows * 64 * sizeof(int));
  hipMemcpy(dx, x, 256 * sizeof(int), hipMemcpyHostToDevice);
  hipLaunchKernelGGL(waves, dim3(1), dim3(n), 0, 0, dx, dout, n);
  hipLaunchKernelGGL(rows, dim3((nrows + 1) / 2), dim3(128), 0, 0, dx, dy, nrows);
  hipMemcpy(out, dout, 13 * n * sizeof(int), hipMemcpyDeviceToHost);
  hipMemcpy(y, dy, nrows * 64 * sizeof(int), hipMemcpyDeviceToHost);
  hipFree(dx);
  hipFree(dout);
  hipFree(dy);
}
"""


def test_hip_wavefront_code_computes_the_same_on_cuda():
    cuda = xpiler.translate(WAVES, to="cuda", pipeline="simt-port{target=cuda}")
    assert "    out[(k++) * n + t] = xpiler_shfl64(v, 37, w, 1);\n" in cuda
    assert "  out[(k++) * n + t] = 64;\n" in cuda          # warpSize of the HIP program
    assert "    v += xpiler_shfl_xor64(v, o, 64, 0);\n" in cuda   # whole wavefronts return: named barriers
    checked = compile_check(cuda, "cuda")
    assert checked.ok or checked.skipped, checked.output
    x = np.random.default_rng(6).integers(1, 40, 256).astype(np.int32)
    n, nrows = 96, 3   # a block of one and a half wavefronts; two blocks of two rows, the last with one
    results = []
    for program, lang in ((WAVES, "hip"), (cuda, "cuda")):
        out, y = np.zeros(13 * n, np.int32), np.zeros(nrows * 64, np.int32)
        xpiler.run(program, [x, out, n, y, nrows], lang=lang, backend="emulate")
        results.append((out.reshape(13, n), y.reshape(nrows, 64)))
    (hip_out, hip_y), (cuda_out, cuda_y) = results
    np.testing.assert_array_equal(cuda_out, hip_out)
    np.testing.assert_array_equal(cuda_y, hip_y)
    np.testing.assert_array_equal(hip_y, np.repeat(x[:nrows * 64].reshape(nrows, 64).sum(1, keepdims=True), 64, 1))
    np.testing.assert_array_equal(hip_out[0, :64], x[(np.arange(64) & ~15) + 37 & 63])   # no modulo of lane 37
    assert (hip_out[6, 64:95] == 0).all() and hip_out[6, 95] == x[95]   # down 33 past the end of the block: 0


WMMA_TWO_WARPS = r"""#include <cuda_runtime.h>
#include <mma.h>
using namespace nvcuda;
// warp w computes D[w] = 2 (A[w] B[w] + C[w]); two warps per block, the last block's second has no tile
__global__ void k(const half *A, const half *B, const float *C, float *D, int tiles) {
  int w = (blockIdx.x * blockDim.x + threadIdx.x) / warpSize;
  if (w >= tiles)
    return;
  wmma::fragment<wmma::matrix_a, 16, 16, 16, half, wmma::LA> a;
  nvcuda::wmma::fragment<nvcuda::wmma::matrix_b, 16, 16, 16, half, nvcuda::wmma::LB> b;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> c;
  wmma::load_matrix_sync(a, A + w * 16 * 24, 24);
  wmma::load_matrix_sync(b, B + w * 16 * 24, 24);
  wmma::load_matrix_sync(c, C + w * 256, 16, wmma::MC);
  wmma::mma_sync(c, a, b, c);
  for (int i = 0; i < c.num_elements; ++i)
    c.x[i] = c.x[i] * 2.0f;
  nvcuda::wmma::store_matrix_sync(D + w * 256, c, 16, nvcuda::wmma::MD);
}
extern "C" void f(const half *A, const half *B, const float *C, float *D, int tiles) {
  k<<<(tiles + 1) / 2, 64>>>(A, B, C, D, tiles);
}
"""


@pytest.mark.parametrize("la,lb,mc,md", [("row_major", "row_major", "mem_row_major", "mem_row_major"),
                                         ("col_major", "col_major", "mem_col_major", "mem_row_major"),
                                         ("row_major", "col_major", "mem_row_major", "mem_col_major")])
def test_wmma_runs_on_each_half_of_a_wavefront(la, lb, mc, md):
    src = WMMA_TWO_WARPS.replace("LA", la).replace("LB", lb).replace("MC", mc).replace("MD", md)
    hip = xpiler.translate(src, to="hip", pipeline="simt-port{target=hip}")
    assert "#include <mma.h>" not in hip and "namespace wmma = xpiler_wmma;\n" in hip
    assert "namespace xpiler_wmma {\n" in hip and hip.index("namespace xpiler_wmma {") < hip.index("__global__")
    assert f"  xpiler_wmma::fragment<xpiler_wmma::matrix_b, 16, 16, 16, half, xpiler_wmma::{lb}> b;\n" in hip
    assert f"  xpiler_wmma::store_matrix_sync(D + w * 256, c, 16, xpiler_wmma::{md});\n" in hip
    checked = compile_check(hip, "hip")
    assert checked.ok or checked.skipped, checked.output
    rng = np.random.default_rng(7)
    tiles = 3
    A = rng.uniform(-1, 1, (tiles, 16, 24)).astype(np.float16)   # ldm 24: padded rows / columns
    B = rng.uniform(-1, 1, (tiles, 16, 24)).astype(np.float16)
    C = rng.uniform(-1, 1, (tiles, 16, 16)).astype(np.float32)
    a = A[:, :, :16].astype(np.float64) if la == "row_major" else A[:, :, :16].transpose(0, 2, 1).astype(np.float64)
    b = B[:, :, :16].astype(np.float64) if lb == "row_major" else B[:, :, :16].transpose(0, 2, 1).astype(np.float64)
    d = 2 * (a @ b + (C if mc == "mem_row_major" else C.transpose(0, 2, 1)))
    for program, lang in ((src, "cuda"), (hip, "hip")):
        D = np.zeros((tiles, 16, 16), np.float32)
        xpiler.run(program, [A, B, C, D, tiles], lang=lang, backend="emulate")
        np.testing.assert_allclose(D if md == "mem_row_major" else D.transpose(0, 2, 1), d, rtol=1e-5, atol=1e-5,
                                   err_msg=lang)


def _wmma_two_warps_inputs(tiles, seed=11):
    rng = np.random.default_rng(seed)
    A = rng.uniform(-1, 1, (tiles, 16, 24)).astype(np.float16)
    B = rng.uniform(-1, 1, (tiles, 16, 24)).astype(np.float16)
    C = rng.uniform(-1, 1, (tiles, 16, 16)).astype(np.float32)
    want = 2 * (A[:, :, :16].astype(np.float64) @ B[:, :, :16].astype(np.float64) + C)
    return A, B, C, want


def test_wmma_of_both_warps_of_a_wavefront_runs_on_the_matrix_cores():
    # row-major A and B, C and D row-major: two MFMA 16x16x16f16 per mma_sync of a whole wavefront
    src = WMMA_TWO_WARPS.replace("LA", "row_major").replace("LB", "row_major").replace("MC", "mem_row_major") \
        .replace("MD", "mem_row_major")
    hip = xpiler.translate(src, to="hip", pipeline="simt-port{target=hip}")
    assert "  if (__ballot(1) == ~0ull) {\n" in hip and hip.count("__builtin_amdgcn_mfma_f32_16x16x16f16(") == 2
    # with the lanes' path made a trap, whole wavefronts (tiles 2 and 4) must not need it; at 3 tiles
    # the last block's wavefront has one warp, which multiplies with shuffles
    fallback = "  } else\n  {  // D = A B + C in this warp's lanes"
    assert hip.count(fallback) == 1
    trapped = hip.replace(fallback, "  } else if (true) {\n    __builtin_trap();\n" + fallback)
    for tiles, program in ((2, trapped), (4, trapped), (3, hip)):
        A, B, C, want = _wmma_two_warps_inputs(tiles)
        D = np.zeros((tiles, 16, 16), np.float32)
        xpiler.run(program, [A, B, C, D, tiles], lang="hip", backend="emulate")
        np.testing.assert_allclose(D, want, rtol=1e-5, atol=1e-5, err_msg=f"{tiles} tiles")
    with pytest.raises(xpiler.errors.ProgramCrash):   # the trap is reached where a warp is alone
        A, B, C, _ = _wmma_two_warps_inputs(3)
        xpiler.run(trapped, [A, B, C, np.zeros((3, 16, 16), np.float32), 3], lang="hip", backend="emulate")
    # RDNA (32-lane wavefronts) has no MFMA: every warp multiplies with shuffles
    rdna = xpiler.translate(src, to="hip", pipeline="simt-port{target=hip wavefront=32}")
    assert "mfma" not in rdna and "__ballot" not in rdna
    checked = compile_check(rdna, "hip")
    assert checked.ok or checked.skipped, checked.output


def test_wmma_fragments_without_a_hip_mapping_are_refused():
    src = """#include <mma.h>
using namespace nvcuda;
__global__ void k(half *a, float *c) {
  wmma::fragment<wmma::matrix_a, 32, 8, 16, half, wmma::row_major> fa;
  wmma::load_matrix_sync(fa, a, 16);
}"""
    with pytest.raises(xpiler.UnsupportedError, match=r"cuda -> hip: the WMMA fragment wmma::fragment<wmma::matrix_a, "
                                                      r"32, 8, 16, half> has no HIP mapping \(16x16x16 fragments of "
                                                      r"half matrices and float or half accumulators only\)"):
        xpiler.translate(src, to="hip", pipeline="simt-port{target=hip}")


def test_unknown_runtime_api_is_refused_not_left_behind():
    src = "#include <cuda_runtime.h>\nextern \"C\" void f(float *a) { cudaGraphLaunch(0, 0); }"
    with pytest.raises(xpiler.UnsupportedError, match="cudaGraphLaunch"):
        xpiler.translate(src, to="hip")


def test_directions_without_raising_passes_say_so():
    with pytest.raises(xpiler.NotImplementedDirection, match="no raising passes to metal"):
        xpiler.api.lower_and_raise("cuda", "metal")


def test_bad_arguments():
    with pytest.raises(xpiler.DialectError, match="unknown dialect 'metal'"):
        xpiler.translate(CUDA, to="metal")
    with pytest.raises(xpiler.XpilerError, match="unknown option"):
        xpiler.translate(CUDA, to="hip", tile=4)
    with pytest.raises(xpiler.XpilerError, match="launch"):
        xpiler.translate(CUDA, to="hip", launch={"grid": (0,)})


def test_hip_dynamic_shared_macro_round_trips_and_maps_to_extern_shared():
    src = """#include <hip/hip_runtime.h>
__global__ void k(float *a) {
  HIP_DYNAMIC_SHARED(float, red)
  red[hipThreadIdx_x] = a[hipThreadIdx_x];
}
"""
    assert "  HIP_DYNAMIC_SHARED(float, red);\n" in xpiler.translate(src, to="hip")
    cuda = xpiler.translate(src, to="cuda")
    assert "  extern __shared__ float red[];\n  red[threadIdx.x] = a[threadIdx.x];\n" in cuda


def test_hip_symbol_disappears_in_cuda():
    src = """#include <hip/hip_runtime.h>
__constant__ float c[3];
extern "C" void f(float *w) { hipMemcpyToSymbol(HIP_SYMBOL(c), w, 3 * sizeof(float), 0, hipMemcpyHostToDevice); }
"""
    assert "cudaMemcpyToSymbol(c, w, 3 * sizeof(float), 0, cudaMemcpyHostToDevice);" in xpiler.translate(src, to="cuda")


HALF_MAX_MIN = r"""#include <cuda_runtime.h>
#include <cuda_fp16.h>
__global__ void k(const __half *a, const __half *b, __half *out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) {
    out[i] = __hmax(a[i], b[i]);
    out[n + i] = __hmin(a[i], b[i]);
    out[2 * n + i] = __hmax_nan(a[i], b[i]);
    out[3 * n + i] = __hmin_nan(a[i], b[i]);
  }
  if (i < n / 2) {
    __half2 x = __halves2half2(a[2 * i], a[2 * i + 1]), y = __halves2half2(b[2 * i], b[2 * i + 1]);
    __half2 r[4] = {__hmax2(x, y), __hmin2(x, y), __hmax2_nan(x, y), __hmin2_nan(x, y)};
    for (int j = 0; j < 4; ++j) {
      out[(4 + j) * n + 2 * i] = __low2half(r[j]);
      out[(4 + j) * n + 2 * i + 1] = __high2half(r[j]);
    }
  }
}
extern "C" void f(const __half *a, const __half *b, __half *out, int n) {
  __half *da, *db, *dout;
  cudaMalloc(&da, n * sizeof(__half));
  cudaMalloc(&db, n * sizeof(__half));
  cudaMalloc(&dout, 8 * n * sizeof(__half));
  cudaMemcpy(da, a, n * sizeof(__half), cudaMemcpyHostToDevice);
  cudaMemcpy(db, b, n * sizeof(__half), cudaMemcpyHostToDevice);
  k<<<(n + 63) / 64, 64>>>(da, db, dout, n);
  cudaMemcpy(out, dout, 8 * n * sizeof(__half), cudaMemcpyDeviceToHost);
  cudaFree(da);
  cudaFree(db);
  cudaFree(dout);
}
"""


def _half_max_min(a, b, is_max, nan_wins):
    """cuda_fp16.h's __hmax / __hmin (_nan) on float16 bit patterns."""
    x, y = np.array([a, b], np.uint16).view(np.float16)
    if np.isnan(x) or np.isnan(y):
        return 0x7fff if (np.isnan(x) and np.isnan(y)) or nan_wins else (b if np.isnan(x) else a)
    if x == y:
        return b if bool(a & 0x8000) == is_max else a
    return a if (x > y) == is_max else b


def test_cuda_half_max_min_missing_from_hip_are_defined_in_the_translation():
    hip = xpiler.translate(HALF_MAX_MIN, to="hip", pipeline="simt-port{target=hip}")
    assert "    out[i] = xpiler_hmax(a[i], b[i]);\n" in hip and "__hmax" not in hip
    assert hip.count("__device__ __forceinline__") == 8 and hip.index("xpiler_hmax2(") < hip.index("__global__")
    checked = compile_check(hip, "hip")
    assert checked.ok or checked.skipped, checked.output
    special = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 65504, -2.5, 6e-8], np.float16).view(np.uint16)
    a, b = (x.ravel().copy() for x in np.meshgrid(special, special))
    n = a.size
    expect = [[_half_max_min(x, y, is_max, nan_wins) for x, y in zip(a, b)]
              for nan_wins in (False, True) for is_max in (True, False)]
    for program, lang in ((HALF_MAX_MIN, "cuda"), (hip, "hip")):
        out = np.zeros(8 * n, np.uint16)
        xpiler.run(program, [a.view(np.float16), b.view(np.float16), out.view(np.float16), n], lang=lang,
                   backend="emulate")
        np.testing.assert_array_equal(out.reshape(8, n), np.array(expect * 2, np.uint16), err_msg=lang)


@pytest.mark.parametrize("target", ["vnni", "bang"])
def test_cuda_half_max_min_translated_to_c_keep_their_nan_and_zero_rules(target):
    # the prelude's definitions (xpiler/emitters/c_prelude.py: SSE selects in C, portable C on BANG,
    # whose compiler does not target x86), bit for bit on special values
    code = xpiler.translate(HALF_MAX_MIN, to=target, source="cuda")
    assert ("immintrin.h" in code) == (target == "vnni")
    special = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 65504, -2.5, 6e-8], np.float16).view(np.uint16)
    a, b = (x.ravel().copy() for x in np.meshgrid(special, special))
    n = a.size
    expect = [[_half_max_min(x, y, is_max, nan_wins) for x, y in zip(a, b)]
              for nan_wins in (False, True) for is_max in (True, False)]
    out = np.zeros(8 * n, np.uint16)
    xpiler.run(code, [a.view(np.float16), b.view(np.float16), out.view(np.float16), n], lang=target)
    np.testing.assert_array_equal(out.reshape(8, n), np.array(expect * 2, np.uint16))


VOTES = r"""#include <cuda_runtime.h>
__global__ void k(const int *x, int *out, int n) {
  int t = threadIdx.x, lane = t % 32;
  int v = x[t];
  out[t] = (int)__ballot_sync(0xffffffff, v & 1);
  out[n + t] = __any_sync(0xffffffff, v % 7 == 0);
  out[2 * n + t] = __all_sync(0xffffffff, v > 10);
  out[3 * n + t] = -1;
  out[4 * n + t] = -1;
  if (lane < 20) {
    out[3 * n + t] = (int)__activemask();
    out[4 * n + t] = (int)__ballot_sync(0x000fffffu, v & 1);
  }
  __syncwarp();
  out[5 * n + t] = __all_sync(__activemask(), v > 3);
}
extern "C" void f(const int *x, int *out, int n) {
  int *dx, *dout;
  cudaMalloc(&dx, n * sizeof(int));
  cudaMalloc(&dout, 6 * n * sizeof(int));
  cudaMemcpy(dx, x, n * sizeof(int), cudaMemcpyHostToDevice);
  k<<<1, n>>>(dx, dout, n);
  cudaMemcpy(out, dout, 6 * n * sizeof(int), cudaMemcpyDeviceToHost);
  cudaFree(dx);
  cudaFree(dout);
}
"""


def test_cuda_warp_votes_count_their_half_of_a_wavefront():
    hip = xpiler.translate(VOTES, to="hip", pipeline="simt-port{target=hip}")
    assert "  out[t] = (int)xpiler_ballot(0xffffffff, v & 1);\n" in hip
    assert "    out[3 * n + t] = (int)xpiler_activemask();\n" in hip
    assert "  xpiler_syncwarp();\n  out[5 * n + t] = xpiler_all(xpiler_activemask(), v > 3);\n" in hip
    assert "__device__ __forceinline__ unsigned xpiler_ballot(unsigned mask, int predicate) {\n" \
           "  return (unsigned)(__ballot(predicate) >> (__lane_id() & 32)) & mask;\n}\n" in hip
    checked = compile_check(hip, "hip")
    assert checked.ok or checked.skipped, checked.output
    n = 96   # three CUDA warps: two in the first wavefront, one in half of the second
    x = np.random.default_rng(5).integers(1, 60, n).astype(np.int32)
    expect = np.zeros((6, n), np.int64)
    for w0 in range(0, n, 32):
        v = x[w0:w0 + 32]
        expect[0, w0:w0 + 32] = sum(1 << i for i in range(32) if v[i] & 1)
        expect[1, w0:w0 + 32] = int(any(v % 7 == 0))
        expect[2, w0:w0 + 32] = int(all(v > 10))
        expect[3:5, w0:w0 + 32] = -1
        expect[3, w0:w0 + 20] = (1 << 20) - 1
        expect[4, w0:w0 + 20] = sum(1 << i for i in range(20) if v[i] & 1)
        expect[5, w0:w0 + 32] = int(all(v > 3))
    expect = expect.astype(np.uint32).view(np.int32)
    for program, lang in ((VOTES, "cuda"), (hip, "hip")):
        out = np.zeros(6 * n, np.int32)
        xpiler.run(program, [x, out, n], lang=lang, backend="emulate")
        np.testing.assert_array_equal(out.reshape(6, n), expect, err_msg=lang)


MFMA = r"""#include <hip/hip_runtime.h>
using float16_t = _Float16;
using float16x4 = __attribute__((__vector_size__(4 * sizeof(float16_t)))) float16_t;
typedef float floatx4 __attribute__((ext_vector_type(4)));
typedef float floatx16 __attribute__((ext_vector_type(16)));
// wavefront w of the block: D[w] = A[w] B[w] + C[w] (16x16x16, fp16); layouts of reference/simt.md
__global__ void __launch_bounds__(128) tiles16(const float16_t *A, const float16_t *B, const float *C, float *D) {
  int w = hipThreadIdx_x / 64, l = __lane_id();
  float16x4 a, b;
  floatx4 c;
  for (int i = 0; i < 4; ++i) {
    a[i] = A[w * 256 + (l % 16) * 16 + 4 * (l / 16) + i];
    b[i] = B[w * 256 + (4 * (l / 16) + i) * 16 + l % 16];
    c[i] = C[w * 256 + (4 * (l / 16) + i) * 16 + l % 16];
  }
  floatx4 d = __builtin_amdgcn_mfma_f32_16x16x16f16(a, b, c, 0, 0, 0);
  for (int i = 0; i < 4; ++i)
    D[w * 256 + (4 * (l / 16) + i) * 16 + l % 16] = d[i];
}
// 32x32x2, fp32
__global__ void tile32(const float *A, const float *B, float *D) {
  int l = __lane_id();
  floatx16 acc = {};
  acc = __builtin_amdgcn_mfma_f32_32x32x2f32(A[(l % 32) * 2 + l / 32], B[(l / 32) * 32 + l % 32], acc, 0, 0, 0);
  for (int j = 0; j < 16; ++j)
    D[(8 * (j / 4) + 4 * (l / 32) + j % 4) * 32 + l % 32] = acc[j];
}
extern "C" void f(const float16_t *A, const float16_t *B, const float *C, float *D, const float *A32, const float *B32,
                  float *D32) {
  hipLaunchKernelGGL(tiles16, dim3(1), dim3(128), 0, 0, A, B, C, D);
  hipLaunchKernelGGL(tile32, dim3(1), dim3(64), 0, 0, A32, B32, D32);
}
"""


def test_mfma_becomes_a_wavefront_exchange_on_cuda():
    cuda = xpiler.translate(MFMA, to="cuda", pipeline="simt-port{target=cuda}")
    assert "using float16_t = __half;\ntypedef xpiler_vec<float16_t, 4> float16x4;\ntypedef xpiler_vec<float, 4> floatx4;\n" \
           "typedef xpiler_vec<float, 16> floatx16;\n" in cuda
    assert "  floatx4 d = xpiler_mfma_f32_16x16x16f16(a, b, c, 1);\n" in cuda
    assert "  acc = xpiler_mfma_f32_32x32x2f32(A[(l % 32) * 2 + l / 32], B[(l / 32) * 32 + l % 32], acc, 1);\n" in cuda
    assert "  int w = threadIdx.x / 64, l = xpiler_lane_id64();\n" in cuda and "#include <cuda_fp16.h>\n" in cuda
    checked = compile_check(cuda, "cuda")
    assert checked.ok or checked.skipped, checked.output
    rng = np.random.default_rng(8)
    A, B = (rng.uniform(-1, 1, (2, 16, 16)).astype(np.float16) for _ in range(2))
    C = rng.uniform(-1, 1, (2, 16, 16)).astype(np.float32)
    A32, B32 = rng.uniform(-1, 1, (32, 2)).astype(np.float32), rng.uniform(-1, 1, (2, 32)).astype(np.float32)
    for program, lang in ((MFMA, "hip"), (cuda, "cuda")):
        D, D32 = np.zeros((2, 16, 16), np.float32), np.zeros((32, 32), np.float32)
        xpiler.run(program, [A, B, C, D, A32, B32, D32], lang=lang, backend="emulate")
        np.testing.assert_allclose(D, A.astype(np.float64) @ B.astype(np.float64) + C, rtol=1e-5, atol=1e-5,
                                   err_msg=lang)
        np.testing.assert_allclose(D32, A32.astype(np.float64) @ B32, rtol=1e-5, atol=1e-5, err_msg=lang)


def test_fp16_mfma_runs_on_the_tensor_cores_of_the_wavefronts_first_warp():
    cuda = xpiler.translate(MFMA, to="cuda", pipeline="simt-port{target=cuda}")
    assert "#include <mma.h>\n" in cuda and "    nvcuda::wmma::mma_sync(fc, fa, fb, fc);\n" in cuda
    # the lanes' own sums, marked: a block of whole warps must not take them
    fallback = "acc += __half2float(A[(4 * (l / 16) + j) * 16 + k]) * __half2float(B[k * 16 + l % 16]);"
    marked = cuda.replace(fallback, "acc += 1000.0f;")
    assert marked != cuda
    rng = np.random.default_rng(9)
    A, B = (rng.uniform(-1, 1, (2, 16, 16)).astype(np.float16) for _ in range(2))
    C = rng.uniform(-1, 1, (2, 16, 16)).astype(np.float32)
    D, D32 = np.zeros((2, 16, 16), np.float32), np.zeros((32, 32), np.float32)
    A32, B32 = rng.uniform(-1, 1, (32, 2)).astype(np.float32), rng.uniform(-1, 1, (2, 32)).astype(np.float32)
    xpiler.run(marked, [A, B, C, D, A32, B32, D32], lang="cuda", backend="emulate")
    np.testing.assert_allclose(D, A.astype(np.float64) @ B.astype(np.float64) + C, rtol=1e-5, atol=1e-5)


def test_mfma_with_broadcast_modifiers_is_refused():
    src = MFMA.replace("__builtin_amdgcn_mfma_f32_16x16x16f16(a, b, c, 0, 0, 0)",
                       "__builtin_amdgcn_mfma_f32_16x16x16f16(a, b, c, 1, 0, 0)")
    with pytest.raises(xpiler.UnsupportedError, match=r"hip -> cuda: '__builtin_amdgcn_mfma_f32_16x16x16f16\(a, b, c, "
                                                      r"1, 0, 0\)': MFMA with a nonzero cbsz \(broadcast\) has no "
                                                      r"CUDA mapping"):
        xpiler.translate(src, to="cuda", pipeline="simt-port{target=cuda}")


DP4A = r"""#include <cuda_runtime.h>
__global__ void k(const int *a, const int *b, int *c, const unsigned *ua, const unsigned *ub, unsigned *uc) {
  int t = threadIdx.x;
  c[t] = __dp4a(a[t], b[t], c[t]);
  uc[t] = __dp4a(ua[t], ub[t], uc[t]);
}
extern "C" void dots(const int *a, const int *b, int *c, const unsigned *ua, const unsigned *ub, unsigned *uc) {
  int *da, *db, *dc;
  unsigned *dua, *dub, *duc;
  cudaMalloc(&da, 64 * sizeof(int));
  cudaMalloc(&db, 64 * sizeof(int));
  cudaMalloc(&dc, 64 * sizeof(int));
  cudaMalloc(&dua, 64 * sizeof(unsigned));
  cudaMalloc(&dub, 64 * sizeof(unsigned));
  cudaMalloc(&duc, 64 * sizeof(unsigned));
  cudaMemcpy(da, a, 64 * sizeof(int), cudaMemcpyHostToDevice);
  cudaMemcpy(db, b, 64 * sizeof(int), cudaMemcpyHostToDevice);
  cudaMemcpy(dc, c, 64 * sizeof(int), cudaMemcpyHostToDevice);
  cudaMemcpy(dua, ua, 64 * sizeof(unsigned), cudaMemcpyHostToDevice);
  cudaMemcpy(dub, ub, 64 * sizeof(unsigned), cudaMemcpyHostToDevice);
  cudaMemcpy(duc, uc, 64 * sizeof(unsigned), cudaMemcpyHostToDevice);
  k<<<1, 64>>>(da, db, dc, dua, dub, duc);
  cudaMemcpy(c, dc, 64 * sizeof(int), cudaMemcpyDeviceToHost);
  cudaMemcpy(uc, duc, 64 * sizeof(unsigned), cudaMemcpyDeviceToHost);
  cudaFree(da);
  cudaFree(db);
  cudaFree(dc);
  cudaFree(dua);
  cudaFree(dub);
  cudaFree(duc);
}
"""


def _dp4a_inputs(seed=5):
    rng = np.random.default_rng(seed)
    words = [rng.integers(0, 2 ** 32, 64, dtype=np.uint64).astype(np.uint32) for _ in range(6)]
    words[0][:4] = words[1][:4] = 0x80808080   # -128 * -128 in every byte: the largest signed products
    words[2][:2] = (0x7fffffff, 0x80000000)     # sums that wrap
    words[3][:4] = words[4][:4] = 0xffffffff
    return words


def _dp4a_expected(a, b, c, signed):
    dtype = np.int8 if signed else np.uint8
    products = (a.view(dtype).reshape(-1, 4).astype(np.int64) * b.view(dtype).reshape(-1, 4).astype(np.int64)).sum(1)
    return ((c.view(np.int32 if signed else np.uint32).astype(np.int64) + products) % 2 ** 32).astype(np.uint32)


@pytest.mark.parametrize("target", ["cuda", "hip", "vnni"])
def test_cuda_dp4a_keeps_the_signedness_of_its_overload(target):
    """__dp4a is overloaded by its operands' type: HIP gets an overloaded helper on sdot4 / udot4, C the
    scalar description with the bytes' signedness taken from the type."""
    code = DP4A if target == "cuda" else xpiler.translate(DP4A, to=target, source="cuda")
    if target == "hip":
        assert "c[t] = xpiler_dp4a(a[t], b[t], c[t]);" in code and "return __builtin_amdgcn_udot4(a, b, c, false);" in code
        checked = compile_check(code, "hip")
        assert checked.ok or checked.skipped, checked.output
    a, b, c, ua, ub, uc = _dp4a_inputs()
    args = [a.view(np.int32), b.view(np.int32), c.view(np.int32).copy(), ua, ub, uc.copy()]
    xpiler.run(code, args, entry="dots", lang=target, **({"backend": "emulate"} if target != "vnni" else {}))
    np.testing.assert_array_equal(args[2].view(np.uint32), _dp4a_expected(a, b, c, True))
    np.testing.assert_array_equal(args[5], _dp4a_expected(ua, ub, uc, False))


SDOT4 = r"""#include <hip/hip_runtime.h>
__global__ __launch_bounds__(64) void k(const int *a, const int *b, int *c, int *d) {
  int t = threadIdx.x;
  d[t] = __builtin_amdgcn_sdot4(a[t], b[t], c[t], true);
  c[t] = __builtin_amdgcn_sdot4(a[t], b[t], c[t], false);
}
"""


def test_hip_dot_with_saturation_keeps_it_on_cuda_and_in_c():
    a, b, c = (w.view(np.int32) for w in _dp4a_inputs(8)[:3])
    c[4:8] = (2 ** 31 - 1, -2 ** 31, 2 ** 31 - 100, -2 ** 31 + 100)   # sums past the int range
    a[4:8], b[4:8] = 0x7f7f7f7f, np.array([0x7f7f7f7f, -0x7f7f7f80, 0x7f7f7f7f, -0x7f7f7f80], np.int64).astype(np.int32)
    products = (a.view(np.int8).reshape(-1, 4).astype(np.int64) * b.view(np.int8).reshape(-1, 4).astype(np.int64)).sum(1)
    exact = c.astype(np.int64) + products
    for target in ("cuda", "vnni"):
        code = xpiler.translate(SDOT4, to=target, source="hip")
        d, cc = np.zeros(64, np.int32), c.copy()
        xpiler.run(code, [a, b, cc, d], entry="k_kernel", lang=target, **({"backend": "emulate"} if target == "cuda" else {}))
        np.testing.assert_array_equal(d, np.clip(exact, -2 ** 31, 2 ** 31 - 1).astype(np.int32), err_msg=target)
        np.testing.assert_array_equal(cc, (exact % 2 ** 32).astype(np.uint32).view(np.int32), err_msg=target)


def test_hip_dot_builtins_port_to_the_dp4a_overload_of_their_signedness():
    wrapping = SDOT4.replace("c[t], true)", "c[t], false)").replace(
        "c[t] = __builtin_amdgcn_sdot4(a[t], b[t], c[t], false);",
        "c[t] = (int)__builtin_amdgcn_udot4((unsigned)a[t], (unsigned)b[t], (unsigned)c[t], 0);")
    cuda = xpiler.translate(wrapping, to="cuda", source="hip", pipeline="simt-port{target=cuda}")
    assert "d[t] = __dp4a((int)a[t], (int)b[t], (int)c[t]);" in cuda
    assert "c[t] = (int)__dp4a((unsigned)(unsigned)a[t], (unsigned)(unsigned)b[t], (unsigned)(unsigned)c[t]);" in cuda
    with pytest.raises(xpiler.UnsupportedError, match=r"__builtin_amdgcn_sdot4 with clamp \(saturation\) has no CUDA "
                                               r"counterpart: __dp4a wraps"):
        xpiler.translate(SDOT4, to="cuda", source="hip", pipeline="simt-port{target=cuda}")
