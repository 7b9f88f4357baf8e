"""The direct CUDA <-> HIP mapping: a program in, a program out."""

from __future__ import annotations

import pytest

import xpiler
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


@pytest.mark.parametrize("src, message", [
    ("__global__ void k(float *a) { a[0] = __shfl_down(a[0], 32); }", "shuffle with delta 32 assumes 64-lane"),
    ("__global__ void k(float *a) { float v = a[0]; for (int o = 32; o > 0; o /= 2) v += __shfl_xor(v, o); a[0] = v; }",
     "starts at 32 assumes 64-lane"),
    ("#define WAVE 64\n__global__ void k(float *a) { float v = a[0]; for (int o = WAVE / 2; o > 0; o /= 2) "
     "v += __shfl_xor(v, o); a[0] = v; }", "starts at 32 assumes 64-lane"),
    ("__global__ void k(float *a) { float v = a[0]; for (int o = warpSize / 2; o > 0; o /= 2) "
     "v += __shfl_down(v, o); a[0] = v; }", "starts at 32 assumes 64-lane"),
    ("__global__ void k(float *a) { a[0] = __ballot(a[0] > 0); }", "warp vote __ballot depends on the warp size"),
])
def test_hip_code_assuming_64_lanes_is_refused(src, message):
    with pytest.raises(xpiler.UnsupportedError, match=message):
        xpiler.translate("#include <hip/hip_runtime.h>\n" + src, to="cuda", pipeline="simt-port{target=cuda}")


def test_wmma_needs_the_tensorize_passes():
    src = """#include <mma.h>
using namespace nvcuda;
__global__ void k(half *a, float *c) {
  wmma::fragment<wmma::matrix_a, 16, 16, 16, half, wmma::row_major> fa;
  wmma::load_matrix_sync(fa, a, 16);
}"""
    with pytest.raises(xpiler.UnsupportedError, match="detensorize and tensorize"):
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


def test_cuda_half_functions_missing_from_hip_are_refused():
    src = "#include <cuda_fp16.h>\n__global__ void k(__half2 *y) { y[0] = __hmax2(y[0], y[1]); }"
    with pytest.raises(xpiler.UnsupportedError, match="__hmax2 has no equivalent in HIP"):
        xpiler.translate(src, to="hip", pipeline="simt-port{target=hip}")
