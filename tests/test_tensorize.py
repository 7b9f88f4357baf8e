"""``tensorize{target=vnni}``: byte dot products become ``vpdpbusd`` calls, exactly."""

from __future__ import annotations

import re
import textwrap

import numpy as np
import pytest

import xpiler
from xpiler import suite
from xpiler.passes.base import PassError
from xpiler.passes.registry import pipeline


def transform(src: str, spec: str = "tensorize{target=vnni}", dialect: str = "vnni") -> str:
    module = xpiler.lift(textwrap.dedent(src).lstrip("\n"), source=dialect)
    for p in pipeline(spec):
        module = p.apply(module)
    return xpiler.emit(module, dialect)


def original(src: str) -> str:
    return transform(src, "c-prelude")


# the shape __bang_mlp lowers to: a row of int8 weights against an int8 vector, summed in double
MLP = """
    #define K 256
    void mlp(const int8_t *bt, const int8_t *a_row, float *c_row, int n) {
      for (int h = 0; h < n; ++h) {
        double acc = 0;
        for (int w = 0; w < K; ++w)
          acc += (double)bt[h * K + w] * (double)a_row[w];
        c_row[h] = (float)acc;
      }
    }
    """


def test_a_byte_dot_product_summed_in_double_becomes_one_call():
    code = transform(MLP)
    assert "double acc = 0;\nacc += (double)__xp_dot_s8s8(&bt[h * K], &a_row[0], K);\nc_row[h] = (float)acc;" \
        in "\n".join(line.strip() for line in code.splitlines())
    assert "for (int w" not in code


def _run_mlp(code: str, bt, a, n: int):
    out = np.zeros(n, np.float32)
    xpiler.run(code, [bt, a, out, n], entry="mlp", lang="vnni")
    return out


def test_dot_products_sharing_an_operand_go_four_at_a_time_the_rest_one_by_one():
    code = transform(MLP)
    body = "\n".join(line[4:] for line in code.splitlines())
    assert textwrap.dedent("""\
        int h = 0;
        for (; (long long)n - (long long)h >= 4; h += 4) {
          long long __xp_dots[4];
          __xp_dot4_s8s8(&bt[h * K], &bt[(h + 1) * K], &bt[(h + 2) * K], &bt[(h + 3) * K], &a_row[0], K, __xp_dots);
          for (int __xp_j = 0; __xp_j < 4; ++__xp_j) {
            double acc = 0;
            acc += (double)__xp_dots[__xp_j];
            c_row[h + __xp_j] = (float)acc;
          }
        }
        for (; h < n; ++h) {
          double acc = 0;
          acc += (double)__xp_dot_s8s8(&bt[h * K], &a_row[0], K);
          c_row[h] = (float)acc;
        }""") in body


def test_statements_after_the_product_that_write_an_operand_keep_the_products_one_by_one():
    code = transform(MLP.replace("c_row[h] = (float)acc;", "c_row[h] = (float)acc;\n    a_row[h % K] = 0;"))
    assert "__xp_dot_s8s8(&bt[h * K], &a_row[0], K)" in code and "__xp_dot4" not in code


@pytest.mark.parametrize("n", [40, 43, 3])
def test_the_call_computes_the_sum_of_the_loop(n):
    rng = np.random.default_rng(n)
    bt = rng.integers(-128, 128, (n, 256), dtype=np.int8)
    a = rng.integers(-128, 128, 256, dtype=np.int8)
    bt[0, :] = -128   # the extremes: a sum of 256 * 16384
    a[:] = np.where(np.arange(256) % 3 == 0, -128, a)
    got = _run_mlp(transform(MLP, "tensorize{target=vnni},c-prelude"), bt, a, n)
    expect = (bt.astype(np.int64) @ a.astype(np.int64)).astype(np.float32)
    np.testing.assert_array_equal(got, expect)
    np.testing.assert_array_equal(got, _run_mlp(original(MLP), bt, a, n))


# every pair of signednesses, lengths around the 64-byte vector and the 64 KiB chunk of the helpers
DOT = """
    void dot(const {A} *a, const {B} *b, long long *out, int n) {{
      long long s = 0;
      for (int r = 0; r < n; ++r)
        s += (long long)a[r] * (long long)b[r];
      out[0] = s;
    }}
    """
TYPES = {"int8_t": np.int8, "uint8_t": np.uint8}


ROWS = """
    void rows(const {T} *w, const {T} *x, long long *out, int rows, int n) {{
      for (int h = 0; h < rows; ++h) {{
        long long s = 0;
        for (int r = 0; r < n; ++r)
          s += (long long)x[r] * (long long)w[h * n + r];
        out[h] = s;
      }}
    }}
    """


@pytest.mark.parametrize("T", ["int8_t", "uint8_t"])
def test_four_rows_against_one_vector_are_exact_in_every_chunk(T):
    code = transform(ROWS.format(T=T), "tensorize{target=vnni},c-prelude")
    assert f"__xp_dot4_{'s8s8' if T == 'int8_t' else 'u8u8'}(&w[h * n], &w[(h + 1) * n]" in code
    info = np.iinfo(TYPES[T])
    rng = np.random.default_rng(11)
    for rows, n in ((7, 100), (4, 65536 + 3), (5, 64)):
        w = rng.integers(info.min, info.max + 1, (rows, n), dtype=TYPES[T])
        x = rng.integers(info.min, info.max + 1, n, dtype=TYPES[T])
        if n > 1000:   # the largest products: every 32-bit lane of the chunk at its limit
            w[:] = info.max
            x[:] = info.min if T == "int8_t" else info.max
        out = np.zeros(rows, np.int64)
        xpiler.run(code, [w, x, out, rows, n], entry="rows", lang="vnni")
        np.testing.assert_array_equal(out, w.astype(np.int64) @ x.astype(np.int64))


@pytest.mark.parametrize("A, B", [("int8_t", "int8_t"), ("uint8_t", "int8_t"), ("int8_t", "uint8_t"),
                                  ("uint8_t", "uint8_t")])
def test_every_signedness_every_length_is_exact(A, B):
    src = DOT.format(A=A, B=B)
    code = transform(src, "tensorize{target=vnni},c-prelude")
    assert "for (int r" not in code
    rng = np.random.default_rng(len(A) + 3 * len(B))
    for n in (0, 1, 63, 64, 65, 200, 65536, 65536 + 77, 3 * 65536 + 5):
        info_a, info_b = np.iinfo(TYPES[A]), np.iinfo(TYPES[B])
        a = rng.integers(info_a.min, info_a.max + 1, n, dtype=TYPES[A])
        b = rng.integers(info_b.min, info_b.max + 1, n, dtype=TYPES[B])
        if n > 1000:   # the largest products throughout: the helpers' 32-bit lanes at their limit
            # vpdpbusd's u8 side at 255 and its s8 side at -128: the u8 side is a (flipped to a + 128
            # for int8) when b is int8, else b (a flipped to a - 128, or swapped with it)
            a[:], b[:] = (info_a.max, info_b.min) if B == "int8_t" else (info_a.min, info_b.max)
        out = np.zeros(1, np.int64)
        xpiler.run(code, [a, b, out, n], entry="dot", lang="vnni")
        assert out[0] == int(a.astype(np.int64) @ b.astype(np.int64)), (n, out[0])


# one row of an NHWC window: kx and c run end to end in both operands, ky does not
WINDOW = """
    #define K 3
    #define CI 8
    #define W 9
    void window(const int8_t *src, const int8_t *wfilt, float *dst, int x, int o) {
      double acc = 0;
      for (int ky = 0; ky < K; ++ky)
        for (int kx = 0; kx < K; ++kx)
          for (int c = 0; c < CI; ++c)
            acc += (double)src[(ky * W + x + kx) * CI + c] * (double)wfilt[((o * K + ky) * K + kx) * CI + c];
      dst[0] = (float)acc;
    }
    """


def test_loops_whose_ranges_lie_end_to_end_are_one_dot_product():
    code = transform(WINDOW)
    assert "acc += (double)__xp_dot_s8s8(&src[(ky * W + x) * CI], &wfilt[((o * K + ky) * K) * CI], K * CI);" in code
    assert "for (int ky = 0; ky < K; ++ky)" in code
    rng = np.random.default_rng(5)
    src = rng.integers(-128, 128, 3 * 9 * 8, dtype=np.int8)
    wfilt = rng.integers(-128, 128, 4 * 3 * 3 * 8, dtype=np.int8)
    results = []
    for text in (transform(WINDOW, "tensorize{target=vnni},c-prelude"), original(WINDOW)):
        dst = np.zeros(1, np.float32)
        xpiler.run(text, [src, wfilt, dst, 4, 2], entry="window", lang="vnni")
        results.append(dst[0])
    assert results[0] == results[1]


@pytest.mark.parametrize("change, why", [
    ("double acc = 0.5;", "a start that is not an integer: the source's partial sums round"),
    ("double acc = 0; acc = acc * 2;", "the accumulator used between its start and the nest"),
    ("float acc = 0; float unused = 0;", "float: 256 * 16384 terms may pass 2^24"),
])
def test_floating_sums_that_may_round_are_left_alone(change, why):
    src = MLP.replace("double acc = 0;", change)
    if change.startswith("float acc"):
        src = src.replace("#define K 256", "#define K 2048")
    code = transform(src)
    assert "__xp_dot" not in code, why


@pytest.mark.parametrize("body, why", [
    ("s += (long long)a[2 * r] * (long long)b[r];", "stride 2"),
    ("s += (long long)a[r * r] * (long long)b[r];", "not affine"),
    ("s += (long long)a[r / 2] * (long long)b[r];", "a division of the loop variable"),
    ("s += (long long)c[r] * (long long)b[r];", "plain char: its signedness is the platform's"),
    ("s += (long long)a[r] * (long long)b[r] + 1;", "not a product of two elements"),
    ("s += (unsigned)a[r] * (unsigned)b[r];", "unsigned products wrap: a negative one is 2^32 - p here"),
    ("s += (long long)a[r] * (long long)b[r]; s2 = s;", "a second statement"),
])
def test_what_is_not_a_byte_dot_product_stays(body, why):
    src = f"""
    void dot(const int8_t *a, const int8_t *b, const char *c, long long *out, int n) {{
      long long s = 0, s2 = 0;
      for (int r = 0; r < n; ++r) {{
        {body}
      }}
      out[0] = s + s2;
    }}
    """
    assert "__xp_dot" not in transform(src), why


def test_an_integer_sum_in_float_products_stays():
    src = """
    void dot(const int8_t *a, const int8_t *b, int *out, int n) {
      int s = 0;
      for (int r = 0; r < n; ++r)
        s += (float)a[r] * (float)b[r];
      out[0] = s;
    }
    """
    assert "__xp_dot" not in transform(src)


def test_targets_without_an_implementation_and_other_dialects_are_refused_by_name():
    with pytest.raises(PassError, match=r"tensorize: target 'sparc' is not implemented \(implemented: vnni, cuda, hip, bang\)"):
        transform(MLP, "tensorize{target=sparc}")
    with pytest.raises(PassError, match=r"tensorize\{target=cuda\} applies to cuda programs, not vnni"):
        transform(MLP, "tensorize{target=cuda}")


def test_the_registry_describes_the_call_so_dependence_analysis_sees_its_reads():
    from xpiler.intrinsics import REGISTRY
    dot = REGISTRY["vnni.dot_u8s8"]
    assert dot.kind == "tensor" and dot.spelling("vnni").function == "__xp_dot_u8s8"
    assert "s += (long long)a[r] * (long long)b[r]" in dot.scalar


@pytest.mark.parametrize("file", ["gemm_mlp_int8.mlu", "conv_bang_int8.mlu"])
def test_the_suites_int8_programs_use_vpdpbusd_on_the_cpu(file):
    entry = next(e for e in suite.load_manifest("bang") if e.file == file)
    code = xpiler.translate(entry.path.read_text(), source="bang", to="vnni")
    assert "__xp_dot_s8s8(&" in code and "_mm512_dpbusd_epi32" in code
    result = suite.check_program(entry, "vnni", src=code)
    assert result.passed, result.summary()


# ---- tensorize{target=cuda}: fp16 GEMMs spread over a block's threads become WMMA tiles -----------
THREAD_GEMM = """
    #include <cuda_runtime.h>
    #include <cuda_fp16.h>
    #define M 32
    #define N 48
    #define K 64
    __global__ void gemm_kernel(const half *A, const half *B, float *C) {
      for (long long t = (long long)threadIdx.x; t < M * N; t += blockDim.x) {
        int i = (int)(t / N);
        int j = (int)(t % N);
        double acc = 0;
        for (int p = 0; p < K; ++p)
          acc += (double)A[i * K + p] * (double)B[p * N + j];
        C[i * N + j] = (float)acc;
      }
    }
    extern "C" void gemm(const half *A, const half *B, float *C, int threads) {
      half *dA, *dB;
      float *dC;
      cudaMalloc((void **)&dA, M * K * sizeof(half));
      cudaMalloc((void **)&dB, K * N * sizeof(half));
      cudaMalloc((void **)&dC, M * N * sizeof(float));
      cudaMemcpy(dA, A, M * K * sizeof(half), cudaMemcpyHostToDevice);
      cudaMemcpy(dB, B, K * N * sizeof(half), cudaMemcpyHostToDevice);
      gemm_kernel<<<1, threads>>>(dA, dB, dC);
      cudaMemcpy(C, dC, M * N * sizeof(float), cudaMemcpyDeviceToHost);
      cudaFree(dA);
      cudaFree(dB);
      cudaFree(dC);
    }
    """


def cuda_transform(src: str) -> str:
    return transform(src, "tensorize{target=cuda}", "cuda")


def test_a_thread_loop_over_an_fp16_gemm_becomes_one_warp_per_tile_with_the_loop_kept_as_fallback():
    code = cuda_transform(THREAD_GEMM)
    body = textwrap.dedent("\n".join(line[2:] for line in code.splitlines()))
    assert textwrap.dedent("""\
        if (blockDim.x % 32 == 0 && ((unsigned long long)(const void *)&A[0] & 31) == 0 && ((unsigned long long)(const void *)&B[0] & 31) == 0 && ((unsigned long long)(const void *)&C[0] & 31) == 0) {
          for (int __xp_w = (int)(threadIdx.x / 32); __xp_w < 6; __xp_w += (int)(blockDim.x / 32)) {
            const int __xp_m0 = __xp_w / 3 * 16, __xp_n0 = __xp_w % 3 * 16;
            nvcuda::wmma::fragment<nvcuda::wmma::matrix_a, 16, 16, 16, half, nvcuda::wmma::row_major> __xp_a;
            nvcuda::wmma::fragment<nvcuda::wmma::matrix_b, 16, 16, 16, half, nvcuda::wmma::row_major> __xp_b;
            nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 16, float> __xp_c;
            nvcuda::wmma::fill_fragment(__xp_c, 0.0f);
            for (int __xp_k = 0; __xp_k < 64; __xp_k += 16) {
              nvcuda::wmma::load_matrix_sync(__xp_a, &A[__xp_m0 * K + __xp_k], 64);
              nvcuda::wmma::load_matrix_sync(__xp_b, &B[__xp_k * N + __xp_n0], 48);
              nvcuda::wmma::mma_sync(__xp_c, __xp_a, __xp_b, __xp_c);
            }
            nvcuda::wmma::store_matrix_sync(&C[__xp_m0 * N + __xp_n0], __xp_c, 48, nvcuda::wmma::mem_row_major);
          }
        } else {
          for (long long t = (long long)threadIdx.x; t < M * N; t += blockDim.x) {""") in body
    assert code.index("#include <mma.h>") < code.index("__global__")


@pytest.mark.parametrize("threads", [128, 32, 48])   # 48: not whole warps, the thread loop runs
def test_the_tiles_compute_the_gemm(threads):
    rng = np.random.default_rng(threads)
    A = rng.standard_normal((32, 64)).astype(np.float16)
    B = rng.standard_normal((64, 48)).astype(np.float16)
    run_tiles(cuda_transform(THREAD_GEMM), "cuda", A, B, threads, fallback=threads % 32 != 0)


def run_tiles(code: str, lang: str, A, B, threads: int, fallback: bool):
    """Run the tiled GEMM with ``threads`` per block; also with the thread loop (the fallback) marked to
    add 1000 per product, so the result says which path ran."""
    marked = code.replace("acc += (double)A[i * K + p] * (double)B[p * N + j];", "acc += 1000.0;")
    assert marked != code
    for text, offset in ((code, 0), (marked, 1000 * A.shape[1] if fallback else 0)):
        C = np.zeros((A.shape[0], B.shape[1]), np.float32)
        xpiler.run(text, [A, B, C, threads], entry="gemm", lang=lang, backend="emulate")
        if offset:
            np.testing.assert_array_equal(C, np.float32(offset))
        else:
            np.testing.assert_allclose(C, A.astype(np.float64) @ B.astype(np.float64), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("change, why", [
    (("const half *A", "const float *A"), "fp32 inputs: tensor cores would lower their precision"),
    (("#define K 64", "#define K 40"), "K is not a multiple of 16"),
    (("#define N 48", "#define N 44"), "no tile shape divides N"),
    (("(double)A[i * K + p] * (double)B[p * N + j]", "A[i * K + p] * B[p * N + j]"),
     "half products rounded to half"),
    (("(double)A[i * K + p]", "(double)A[i * K + 2 * p]"), "A not contiguous along K or M"),
    (("  for (long long t", "  if (threadIdx.x < 100)\n      for (long long t"), "under a condition of the thread"),
    (("  for (long long t", "  if (threadIdx.x >= 100)\n        return;\n      for (long long t"),
     "threads may have returned before it"),
])
def test_what_the_tensor_cores_cannot_compute_as_written_stays(change, why):
    src = THREAD_GEMM.replace(*change)
    assert change[0] in THREAD_GEMM and "wmma" not in cuda_transform(src), why


@pytest.mark.parametrize("target, unit", [
    ("cuda", "nvcuda::wmma::mma_sync(__xp_c, __xp_a, __xp_b, __xp_c);"),
    ("hip", "__builtin_amdgcn_mfma_f32_16x16x16f16(__xp_a, __xp_b, __xp_c, 0, 0, 0)"),
])
def test_the_suites_fp16_bang_gemm_uses_the_matrix_units(target, unit):
    entry = next(e for e in suite.load_manifest("bang") if e.file == "gemm_matmul_half.mlu")
    code = xpiler.translate(entry.path.read_text(), source="bang", to=target)
    assert unit in code
    result = suite.check_program(entry, target, src=code)
    assert result.passed, result.summary()


# ---- tensorize{target=hip}: the same loops as MFMA tiles of 64-lane wavefronts (CDNA) ---------------
def as_hip(src: str) -> str:
    """A CUDA test program's runtime calls and headers in HIP's spelling."""
    for cuda, hip in (("cuda_runtime.h", "hip/hip_runtime.h"), ("cuda_fp16.h", "hip/hip_fp16.h"),
                      ("cudaMalloc", "hipMalloc"), ("cudaMemcpyHostToDevice", "hipMemcpyHostToDevice"),
                      ("cudaMemcpyDeviceToHost", "hipMemcpyDeviceToHost"), ("cudaMemcpy", "hipMemcpy"),
                      ("cudaFree", "hipFree")):
        src = src.replace(cuda, hip)
    return src


def hip_gemm(m: int, n: int, k: int) -> str:
    return (as_hip(THREAD_GEMM).replace("#define M 32", f"#define M {m}").replace("#define N 48", f"#define N {n}")
            .replace("#define K 64", f"#define K {k}"))


def test_a_thread_loop_over_an_fp16_gemm_becomes_one_wavefront_per_mfma_tile():
    code = transform(hip_gemm(32, 48, 64), "tensorize{target=hip}", "hip")
    assert "using __xp_halfx4 = __attribute__((__vector_size__(4 * sizeof(_Float16)))) _Float16;" in code
    assert "__xp_c = __builtin_amdgcn_mfma_f32_16x16x16f16(__xp_a, __xp_b, __xp_c, 0, 0, 0);" in code
    assert "__xp_a[__xp_i] = __xp_row < 32 && __xp_kk < 64 ? (_Float16)(float)A[__xp_row * K + __xp_kk] : " \
           "(_Float16)0.0f;" in code
    assert "C[__xp_row * N + __xp_col] = __xp_c[__xp_i];" in code
    from xpiler.oracle.toolchains import compile_check
    checked = compile_check(code, "hip")
    assert checked.ok or checked.skipped, checked.output


@pytest.mark.parametrize("shape", [(32, 48, 64), (20, 40, 24)])   # the second tiles only with its edges
@pytest.mark.parametrize("threads", [128, 96])                       # 96: not whole wavefronts
def test_the_mfma_tiles_compute_the_gemm(shape, threads):
    m, n, k = shape
    rng = np.random.default_rng(m + threads)
    A = rng.standard_normal((m, k)).astype(np.float16)
    B = rng.standard_normal((k, n)).astype(np.float16)
    run_tiles(transform(hip_gemm(m, n, k), "tensorize{target=hip}", "hip"), "hip", A, B, threads,
              fallback=threads % 64 != 0)


def test_rdna_wavefronts_get_no_mfma_tiles():
    entry = next(e for e in suite.load_manifest("bang") if e.file == "gemm_matmul_half.mlu")
    rdna = xpiler.translate_with_trace(entry.path.read_text(), source="bang", to="hip", wavefront=32)
    assert "tensorize{" not in rdna.pipeline and "mfma" not in rdna.code


# ---- tensorize{target=cuda|hip}: byte dot products by the four-byte dot instructions -----------------
GPU_DOT = """
    #include <cuda_runtime.h>
    #include <stdint.h>
    __global__ void dot_kernel(const {A} *a, const {B} *b, long long *out, int rows, int n, int at) {{
      for (int h = (int)threadIdx.x; h < rows; h += blockDim.x) {{
        long long s = 0;
        for (int r = 0; r < n; ++r)
          s += (long long)a[at + h * n + r] * (long long)b[at + r];
        out[h] = s;
      }}
    }}
    extern "C" void dot(const {A} *a, const {B} *b, long long *out, int rows, int n, int at) {{
      {A} *da;
      {B} *db;
      long long *dout;
      cudaMalloc((void **)&da, (at + rows * n) * sizeof({A}));
      cudaMalloc((void **)&db, (at + n) * sizeof({B}));
      cudaMalloc((void **)&dout, rows * sizeof(long long));
      cudaMemcpy(da, a, (at + rows * n) * sizeof({A}), cudaMemcpyHostToDevice);
      cudaMemcpy(db, b, (at + n) * sizeof({B}), cudaMemcpyHostToDevice);
      dot_kernel<<<1, 64>>>(da, db, dout, rows, n, at);
      cudaMemcpy(out, dout, rows * sizeof(long long), cudaMemcpyDeviceToHost);
      cudaFree(da);
      cudaFree(db);
      cudaFree(dout);
    }}
    """
def gpu_dot(A: str, B: str, target: str) -> str:
    src = GPU_DOT.format(A=A, B=B)
    src = as_hip(src) if target == "hip" else src
    return transform(src, f"tensorize{{target={target}}},target-prelude", target)


def test_a_threads_byte_dot_product_becomes_one_call_of_the_dp4a_helper():
    code = gpu_dot("uint8_t", "int8_t", "cuda")
    assert "s += (long long)__xp_dot_u8s8(&a[at + h * n], &b[at], n);" in code
    assert "for (int r" not in code
    helper = code[code.index("static __device__ inline long long __xp_dot_u8s8"):code.index("__global__")]
    # u8 x s8 has no instruction: a - 128 (signed bytes) by b, and 128 * sum(b) added back
    assert "sum = __dp4a((int)(wa ^ 0x80808080u), (int)wb, sum);" in helper
    assert "ones = __dp4a(0x01010101, (int)wb, ones);" in helper
    assert "__builtin_amdgcn_sdot4((int)(wa ^ 0x80808080u), (int)wb, sum, false)" in gpu_dot("uint8_t", "int8_t", "hip")
    assert "__builtin_amdgcn_udot4((unsigned)wa, (unsigned)wb, sum, false)" in gpu_dot("uint8_t", "uint8_t", "hip")
    from xpiler.oracle.toolchains import compile_check
    for target in ("cuda", "hip"):
        for A, B in (("int8_t", "int8_t"), ("uint8_t", "int8_t"), ("uint8_t", "uint8_t")):
            checked = compile_check(gpu_dot(A, B, target), target)
            assert checked.ok or checked.skipped, checked.output


@pytest.mark.parametrize("target", ["cuda", "hip"])
@pytest.mark.parametrize("A, B", [("int8_t", "int8_t"), ("uint8_t", "int8_t"), ("int8_t", "uint8_t"),
                                  ("uint8_t", "uint8_t")])
def test_the_gpu_helpers_are_exact_for_every_signedness_length_and_alignment(A, B, target):
    code = gpu_dot(A, B, target)
    # the helper's byte loop marked: it adds 10^12 per element, so exact sums say which path ran
    marked = code.replace("total += (long long)a[r] * (long long)b[r];", "total += 1000000000000LL;")
    assert marked != code
    info_a, info_b = np.iinfo(TYPES[A]), np.iinfo(TYPES[B])
    rng = np.random.default_rng(len(A) + 3 * len(B))
    for n, at in ((0, 0), (1, 0), (3, 0), (4, 0), (64, 0), (130, 0), (16384, 0), (16384 + 8, 0), (40000, 0),
                  (64, 1), (64, 2), (7, 3)):
        rows = 3
        a = rng.integers(info_a.min, info_a.max + 1, at + rows * n, dtype=TYPES[A])
        b = rng.integers(info_b.min, info_b.max + 1, at + n, dtype=TYPES[B])
        if n > 1000:   # the largest products in every word of a 16 KiB chunk (u8 x s8: a - 128 by b)
            a[:], b[:] = {("int8_t", "int8_t"): (-128, -128), ("uint8_t", "int8_t"): (0, -128),
                          ("int8_t", "uint8_t"): (-128, 255), ("uint8_t", "uint8_t"): (255, 255)}[A, B]
        rows_a = a[at:].reshape(rows, n).astype(np.int64)
        np_b = b[at:].astype(np.int64)
        for text in (code, marked):
            out = np.zeros(rows, np.int64)
            xpiler.run(text, [a, b, out, rows, n, at], entry="dot", lang=target, backend="emulate")
            for h in range(rows):
                # whole words while both operands are 4-byte aligned (row h starts at byte at + h * n)
                words = n - n % 4 if (at + h * n) % 4 == 0 and at % 4 == 0 else 0
                expect = rows_a[h] @ np_b if text is code else \
                    rows_a[h, :words] @ np_b[:words] + (n - words) * 1000000000000
                assert out[h] == expect, (n, at, h, text is marked)


@pytest.mark.parametrize("target", ["cuda", "hip"])
@pytest.mark.parametrize("file", ["gemm_mlp_int8.mlu", "conv_bang_int8.mlu"])
def test_the_suites_int8_bang_programs_use_the_gpus_byte_dot_products(file, target):
    entry = next(e for e in suite.load_manifest("bang") if e.file == file)
    code = xpiler.translate(entry.path.read_text(), source="bang", to=target)
    assert re.search(r"acc \+= \(double\)__xp_dot_s8s8\(&", code)
    assert ("__dp4a(" if target == "cuda" else "__builtin_amdgcn_sdot4(") in code
    result = suite.check_program(entry, target, src=code)
    assert result.passed, result.summary()


def test_dot_products_of_a_few_bytes_stay_loops_on_gpus():
    # vpdpbusd's scalar description: 4 bytes per 32-bit lane; a call per lane does not pay (worth())
    entry = next(e for e in suite.load_manifest("vnni") if e.file == "gemm_u8s8_dpbusd_tail.cpp")
    code = xpiler.translate(entry.path.read_text(), source="vnni", to="cuda")
    assert "__xp_dot" not in code and "for (int j = 0; j < 4; ++j)" in code
    assert "__xp_dot_s8s8" not in transform(GPU_DOT.format(A="int8_t", B="int8_t").replace("r < n", "r < 12"),
                                            "tensorize{target=cuda}", "cuda")
    assert "(long long)__xp_dot_s8s8(&a[at + h * n], &b[at], 16)" in \
        transform(GPU_DOT.format(A="int8_t", B="int8_t").replace("r < n", "r < 16"), "tensorize{target=cuda}", "cuda")
