"""The CUDA and HIP corpora (examples/suite/cuda, examples/suite/hip): every program compiles with the
real compiler (nvcc -arch=sm_90 / hipcc --offload-arch=gfx90a) and matches its numpy reference in
the CPU emulation, in normal and in checking mode."""

from __future__ import annotations

import collections
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from xpiler import suite
from xpiler.oracle.toolchains import compile_check

MANIFESTS = {d: suite.load_manifest(d) for d in ("cuda", "hip")}
ENTRIES = [e for d in ("cuda", "hip") for e in MANIFESTS[d]]
IDS = [e.id for e in ENTRIES]


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_program_matches_reference(entry):
    result = suite.check_program(entry, entry.dialect, backend="emulate")
    result.assert_ok()
    assert result.passed, result.summary()


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_program_is_clean_in_checking_mode(entry):
    result = suite.check_program(entry, entry.dialect, backend="emulate", check=True)
    assert result.passed, result.summary()


@pytest.fixture(scope="module")
def real_compiles():
    """compile_check of every program, two at a time (nvcc and hipcc take about a second each)."""
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        futures = {e.id: pool.submit(compile_check, e.source, e.dialect) for e in ENTRIES}
        return {k: f.result() for k, f in futures.items()}


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_program_compiles_with_the_real_compiler(entry, real_compiles):
    result = real_compiles[entry.id]
    if result.skipped:
        pytest.skip(result.reason)
    assert result.ok, f"{result.reason}\n{result.output}"


@pytest.mark.parametrize("dialect", ["cuda", "hip"])
def test_corpus_coverage(dialect):
    manifest = MANIFESTS[dialect]
    kinds = collections.Counter(p.kind for p in manifest)
    assert all(kinds[k] >= 5 for k in suite.KINDS), kinds
    styles = collections.Counter(p.style for p in manifest)
    assert styles["compiler-generated"] >= 4 and styles["hand-written"] >= 10, styles
    text = "\n".join(p.source for p in manifest)
    common = ["__launch_bounds__", "((int)blockIdx.x)", "((int)threadIdx.x)", "__syncthreads()", "__shared__",
              "extern \"C\"", "blockIdx.y", "blockIdx.z", "__device__", "expf", "tanhf", "rsqrtf", "fmaxf",
              "sqrtf", "+= blockDim.x * gridDim.x" if dialect == "cuda" else "hipGridDim_x"]
    if dialect == "cuda":
        idioms = ["cudaMalloc", "cudaMemcpy", "cudaFree", "<<<", "dim3", "__shfl_down_sync", "__shfl_xor_sync",
                  "__activemask", "extern __shared__", "__half2float", "half2", "float4", "M_PI",
                  "wmma::fragment", "wmma::load_matrix_sync", "wmma::mma_sync", "wmma::store_matrix_sync",
                  "wmma::fill_fragment", "wmma::col_major", "wmma::mem_col_major", "nvcuda::wmma", ".num_elements",
                  "__forceinline__", "__restrict__", "ax0_ax1_fused"]
    else:
        idioms = ["hipMalloc", "hipMemcpy", "hipFree", "hipLaunchKernelGGL", "hipThreadIdx_x", "hipBlockIdx_x",
                  "hipBlockDim_x", "__shfl_down(", "__shfl_xor(", "HIP_DYNAMIC_SHARED", "__half", "hip_fp16",
                  "__builtin_amdgcn_mfma_f32_16x16x16f16", "__builtin_amdgcn_mfma_f32_32x32x8f16",
                  "__builtin_amdgcn_mfma_f32_16x16x4f32", "__builtin_amdgcn_mfma_f32_32x32x2f32",
                  "__vector_size__", "ext_vector_type", "_Float16", "hipMemcpyToSymbol", "__constant__", "<<<",
                  "WAVE 64", "__lane_id()"]
    missing = [i for i in common + idioms if i not in text]
    assert not missing, missing
    # sizes that are not multiples of the block / tile are covered
    ragged = [p.file for p in manifest
              if any(a.shape and (a.size % 32 or a.shape[-1] % 16) for a in p.args if a.role == "output")]
    assert len(ragged) >= 4, ragged
    # bare kernels: some derive their launch, some get it from the manifest
    bare = [p for p in manifest if p.entry.endswith("_kernel") and p.style == "compiler-generated"]
    assert any(p.launch is None for p in bare) and (dialect == "hip" or any(p.launch for p in bare))
    assert len({p.op for p in manifest}) >= 12
