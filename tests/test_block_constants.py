"""``block-constants``: a lowered kernel's block shape becomes the constant its callers pass, so CUDA
programs reach BANG with constant thread loops and fixed-size per-thread arrays (no VLAs)."""

from __future__ import annotations

import re

import numpy as np
import pytest

import xpiler
from xpiler import suite

# a block reduction: `part` lives across the barrier, so loop recovery makes it an array per thread
BLOCK_SUM = """#include <cuda_runtime.h>
#define THREADS 64
__global__ void block_sum(const float *x, float *out, int n) {
  __shared__ float red[THREADS];
  float part = 0.0f;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
    part += x[i];
  red[threadIdx.x] = part;
  __syncthreads();
  if (threadIdx.x == 0) {
    float s = 0.0f;
    for (int t = 0; t < blockDim.x; ++t) s += red[t];
    out[blockIdx.x] = s + part * 0.0f;
  }
}

extern "C" void sums(const float *x, float *out, int n) {
  float *dx, *dout;
  cudaMalloc(&dx, n * sizeof(float));
  cudaMalloc(&dout, 4 * sizeof(float));
  cudaMemcpy(dx, x, n * sizeof(float), cudaMemcpyHostToDevice);
  LAUNCHES
  cudaMemcpy(out, dout, 4 * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(dx);
  cudaFree(dout);
}
"""


def program(launches: str) -> str:
    return BLOCK_SUM.replace("LAUNCHES", launches)


def kernel_of(code: str) -> str:
    return code[code.index("__mlu_global__ void block_sum("):code.index('extern "C"')]


def sums(code: str, n: int = 1000):
    x = np.random.default_rng(3).standard_normal(n).astype(np.float32)
    out = np.zeros(4, np.float32)
    xpiler.run(code, [x, out, n], entry="sums", lang="bang")
    return x, out


@pytest.mark.parametrize("launch", ["dim3 block(THREADS);\n  block_sum<<<4, block>>>(dx, dout, n);",
                                    "block_sum<<<dim3(4), dim3(THREADS)>>>(dx, dout, n);",
                                    "block_sum<<<4, THREADS>>>(dx, dout, n);"])
def test_the_one_constant_shape_replaces_the_parameter(launch):
    code = xpiler.translate(program(launch), source="cuda", to="bang")
    kernel = kernel_of(code)
    assert "blockDim" not in kernel
    assert "threadIdx_x < 64;" in kernel
    assert "[__nthreads]" not in kernel and re.search(r"float part\w*\[64\];", kernel), kernel
    x, out = sums(code)
    # block b sums x[256 j + 64 b + t] over its threads t and the grid strides j
    padded = np.concatenate([x, np.zeros(1024 - len(x), np.float32)]).astype(np.float64)
    np.testing.assert_allclose(out, padded.reshape(4, 4, 64).sum(axis=(0, 2)), rtol=1e-5)


@pytest.mark.parametrize("launches, why", [
    ("block_sum<<<4, THREADS>>>(dx, dout, n);\n  block_sum<<<4, 32>>>(dx, dout, n);", "two shapes"),
    ("block_sum<<<4, n / 16>>>(dx, dout, n);", "a shape known only when it runs"),
    ("dim3 block(THREADS);\n  block.x = 32;\n  block_sum<<<4, block>>>(dx, dout, n);", "a shape changed after"),
])
def test_a_shape_that_is_not_one_constant_stays_a_parameter(launches, why):
    code = xpiler.translate(program(launches), source="cuda", to="bang")
    assert "dim3 blockDim" in kernel_of(code), why
    assert "[__nthreads]" in kernel_of(code), why


def test_the_suites_tiled_gemm_has_fixed_size_tiles_on_bang():
    entry = [e for e in suite.entries("cuda") if e.file == "gemm_shared_tiled.cu"][0]
    code = xpiler.translate(entry.source, source="cuda", to="bang", launch=entry.launch)
    assert "__nthreads]" not in code and "blockDim" not in code
    outcome = suite.check_program(entry, "bang", src=code)
    assert outcome.passed, outcome.summary()
