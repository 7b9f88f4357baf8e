"""The CUDA and HIP corpora (examples/suite/cuda, examples/suite/hip): every program compiles with the
real compiler (nvcc -arch=sm_90 / hipcc --offload-arch=gfx90a) and matches its numpy reference in
the CPU emulation, in normal and in checking mode; each suite covers the 21 first-tier operators of
shared/reference/operators.md at 3 or more shapes, in both styles (compiler-generated and hand-written),
with tensor-core (WMMA) / matrix-core (MFMA) versions of the GEMM family and convolutions."""

from __future__ import annotations

import collections
import json
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from xpiler import reference, suite
from xpiler.oracle.toolchains import compile_check

DIALECTS = ("cuda", "hip")
MANIFESTS = {d: suite.load_manifest(d) for d in DIALECTS}
ENTRIES = [e for d in DIALECTS for e in MANIFESTS[d]]
IDS = [e.id for e in ENTRIES]
# one program text per file (a parametric program has several manifest entries)
FILES = list({(e.dialect, e.file): e for e in ENTRIES}.values())
FILE_IDS = [f"{e.dialect}/{e.file}" for e in FILES]

# the 21 first-tier operators of shared/reference/operators.md
FIRST_TIER = ("add", "sign", "relu", "sigmoid", "gelu", "softmax", "layernorm", "rmsnorm", "gemm", "gemv", "bmm",
              "conv1d", "conv2d_nhwc", "conv2d_nchw", "depthwise_conv", "maxpool", "avgpool", "minpool", "sumpool",
              "mha", "deformable_attention")
SHAPE_PARAMS = ("window", "stride", "padding", "spatial_shapes")


@pytest.fixture(scope="module")
def prebuilt(request):
    """Compile what the selected tests need up front, one job per core: the emulation builds (normal and
    checking mode, cached by content) and the real-compiler checks (cached in-process by text). A cold
    cache otherwise compiles ~170 builds one at a time. Failures are left to the tests to report."""
    from xpiler.oracle import prepare
    from xpiler.oracle.build import build

    items = [item for item in request.session.items
             if getattr(item, "module", None) is request.module and hasattr(item, "callspec")]
    jobs, seen = [], set()
    for item in items:
        entry = item.callspec.params.get("entry")
        if not isinstance(entry, suite.ProgramEntry):
            continue
        name = item.originalname
        if name == "test_program_compiles_with_the_real_compiler":
            key = ("check", entry.dialect, entry.source)
            if key not in seen:
                seen.add(key)
                jobs.append((0, lambda e=entry: compile_check(e.source, e.dialect)))   # slowest first
            continue
        check = name == "test_program_is_clean_in_checking_mode"
        try:
            spec = prepare(entry.source, entry=entry.entry, lang=entry.dialect, backend="emulate",
                           launch=entry.launch, check=check)
        except Exception:       # reported by the test itself
            continue
        key = ("build", spec.sources, spec.flags, spec.compiler)
        if key not in seen:
            seen.add(key)
            jobs.append((1, lambda s=spec: build(s)))

    def one(job):
        try:
            job[1]()
        except Exception:
            pass

    jobs.sort(key=lambda job: job[0])
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        list(pool.map(one, jobs))


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_program_matches_reference(entry, prebuilt):
    result = suite.check_program(entry, entry.dialect, backend="emulate")
    result.assert_ok()
    assert result.passed, result.summary()


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_program_is_clean_in_checking_mode(entry, prebuilt):
    result = suite.check_program(entry, entry.dialect, backend="emulate", check=True)
    assert result.passed, result.summary()


@pytest.mark.parametrize("entry", FILES, ids=FILE_IDS)
def test_program_compiles_with_the_real_compiler(entry, prebuilt):
    result = compile_check(entry.source, entry.dialect)
    if result.skipped:
        pytest.skip(result.reason)
    assert result.ok, f"{result.reason}\n{result.output}"


def problem_shape(p):
    """What makes two programs of one operator different problems: the shapes of the first input and
    of the first output, and the parameters that change the window / geometry (not dtypes or layouts)."""
    first_in = next(a.shape for a in p.args if a.role == "input")
    first_out = next(a.shape for a in p.args if a.role == "output")
    return first_in, first_out, tuple((k, json.dumps(p.params[k])) for k in SHAPE_PARAMS if k in p.params)


def ragged(p):
    """An output that does not tile by 16 / 32: a dimension (other than 1) not a multiple of 16, or a
    size not a multiple of 32 (partial blocks, tiles and wavefronts, guards)."""
    return any(a.size % 32 or any(d > 1 and d % 16 for d in a.shape) for a in p.outputs)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_first_tier_operator_has_three_shapes(dialect):
    assert set(FIRST_TIER) == set(reference.OPERATORS)
    by_op = collections.defaultdict(list)
    for p in MANIFESTS[dialect]:
        by_op[p.op].append(p)
    missing = [op for op in FIRST_TIER if op not in by_op]
    assert not missing, f"operators without a {dialect} program: {missing}"
    shapes = {op: sorted({problem_shape(p) for p in by_op[op]}) for op in FIRST_TIER}
    thin = {op: s for op, s in shapes.items() if len(s) < 3}
    assert not thin, f"operators with fewer than 3 distinct shapes: {thin}"
    # every operator runs at a size that is not a multiple of the block / tile
    even = [op for op in FIRST_TIER if not any(ragged(p) for p in by_op[op])]
    assert not even, f"operators without a ragged size: {even}"
    # both styles overall, and for most operators
    styles = collections.Counter(p.style for p in MANIFESTS[dialect])
    assert styles["compiler-generated"] >= 15 and styles["hand-written"] >= 60, styles
    both = [op for op in FIRST_TIER if {p.style for p in by_op[op]} == set(suite.STYLES)]
    assert len(both) >= 15, both
    # parametric hand-written programs run at several sizes under one (file, entry)
    variants = collections.Counter((p.file, p.entry) for p in MANIFESTS[dialect])
    assert sum(n >= 2 for n in variants.values()) >= 20, variants
    # tensor / matrix cores for the GEMM family and a convolution
    core = "wmma::mma_sync" if dialect == "cuda" else "__builtin_amdgcn_mfma_"
    tensor_ops = {p.op for p in MANIFESTS[dialect] if p.kind == "tensor" and core in p.source}
    assert {"gemm", "bmm"} <= tensor_ops and tensor_ops & {"conv2d_nhwc", "conv2d_nchw"}, tensor_ops


@pytest.mark.parametrize("dialect", DIALECTS)
def test_corpus_coverage(dialect):
    manifest = MANIFESTS[dialect]
    kinds = collections.Counter(p.kind for p in manifest)
    assert all(kinds[k] >= 5 for k in suite.KINDS), kinds
    text = "\n".join(p.source for p in manifest)
    common = ["__launch_bounds__", "((int)blockIdx.x)", "((int)threadIdx.x)", "__syncthreads()", "__shared__",
              "extern \"C\"", "blockIdx.y", "blockIdx.z", "__device__", "expf", "tanhf", "rsqrtf", "fmaxf",
              "sqrtf", "+= blockDim.x * gridDim.x" if dialect == "cuda" else "hipGridDim_x", "__constant__",
              "template <typename", "_local[1]", "red_buf0", "default_function_kernel"]
    if dialect == "cuda":
        idioms = ["cudaMalloc", "cudaMemcpy", "cudaFree", "<<<", "dim3", "__shfl_down_sync", "__shfl_xor_sync",
                  "__activemask", "extern __shared__", "__half2float", "half2", "float4", "M_PI",
                  "wmma::fragment", "wmma::load_matrix_sync", "wmma::mma_sync", "wmma::store_matrix_sync",
                  "wmma::fill_fragment", "wmma::col_major", "wmma::mem_col_major", "nvcuda::wmma", ".num_elements",
                  "__forceinline__", "__restrict__", "ax0_ax1_fused", "cudaMemcpyToSymbol", "__ldg",
                  "#pragma unroll", "cudaDeviceGetAttribute", "CUDA_KERNEL_LOOP", "int64_t"]
    else:
        idioms = ["hipMalloc", "hipMemcpy", "hipFree", "hipLaunchKernelGGL", "hipThreadIdx_x", "hipBlockIdx_x",
                  "hipBlockDim_x", "__shfl_down(", "__shfl_xor(", "HIP_DYNAMIC_SHARED", "__half", "hip_fp16",
                  "__builtin_amdgcn_mfma_f32_16x16x16f16", "__builtin_amdgcn_mfma_f32_32x32x8f16",
                  "__builtin_amdgcn_mfma_f32_16x16x4f32", "__builtin_amdgcn_mfma_f32_32x32x2f32",
                  "__vector_size__", "ext_vector_type", "_Float16", "hipMemcpyToSymbol", "__constant__", "<<<",
                  "WAVE 64", "__lane_id()", "HIP_KERNEL_NAME", "hipGetDeviceProperties", "HIP_SYMBOL"]
    missing = [i for i in common + idioms if i not in text]
    assert not missing, missing
    # bare kernels: some derive their launch (guards, __launch_bounds__), some get it from the manifest
    bare = [p for p in manifest if p.entry.endswith("_kernel") and p.style == "compiler-generated"]
    assert sum(p.launch is None for p in bare) >= 5 and sum(p.launch is not None for p in bare) >= 3
    # hand-written programs have host entries doing their own device memory management
    api = "cudaMalloc" if dialect == "cuda" else "hipMalloc"
    hosted = [p for p in manifest if p.style == "hand-written" and api in p.source]
    assert len({p.file for p in hosted}) >= 20
