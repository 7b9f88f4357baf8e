"""``wide-subscripts``: a signed ``int`` subscript sum is computed in 64 bits on the CPU target, so
gcc -O2 sees an affine address and vectorises a load under a condition; unsigned sums (which wrap by
definition) and names whose type depends on the place are left alone."""

from __future__ import annotations

import re
import shutil
import subprocess
import textwrap

import numpy as np
import pytest

import xpiler
from xpiler.oracle.build import VNNI_FLAGS
from xpiler.passes.base import PassError
from xpiler.passes.registry import pipeline

# Rows of A (M x K) copied into T (M x P, P >= K), the columns past K zeroed: a tile loaded with its
# tail padded, as tiled GEMMs and padded convolutions do.
PAD_COLUMNS = """
__global__ void pad_columns(const float *A, float *T, int K, int P) {
  int row = blockIdx.y;
  int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c < P)
    T[row * P + c] = c < K ? A[row * K + c] : 0.0f;
}
extern "C" void pad(const float *A, float *T, int M, int K, int P) {
  float *dA, *dT;
  cudaMalloc(&dA, M * K * sizeof(float));
  cudaMalloc(&dT, M * P * sizeof(float));
  cudaMemcpy(dA, A, M * K * sizeof(float), cudaMemcpyHostToDevice);
  pad_columns<<<dim3((P + 63) / 64, M), 64>>>(dA, dT, K, P);
  cudaMemcpy(T, dT, M * P * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(dA);
  cudaFree(dT);
}
"""


def transform(src: str) -> str:
    module = xpiler.lift(textwrap.dedent(src).lstrip("\n"), source="vnni")
    for p in pipeline("wide-subscripts"):
        module = p.apply(module)
    return xpiler.emit(module, "vnni")


def test_signed_int_sums_are_widened_from_their_first_term():
    code = transform("""
        void f(const float *a, float *b, int n, int m, unsigned u) {
          for (int i = 0; i < n; ++i) {
            int r = i * m;
            b[r + 1] = a[r + m - 1] + a[u + i] + a[i] + a[2 * (r + i)];
          }
        }
        """)
    assert "b[(long long)r + 1] = a[(long long)r + m - 1] + a[u + i] + a[i] + a[2 * (r + i)];" in code


def test_types_follow_scopes_and_unsigned_arithmetic_is_left_alone():
    code = transform("""
        void f(const float *a, float *b, int n) {
          for (int i = 0; i < n; ++i) {
            int t = i;
            b[t + 1] = a[(unsigned)i + 1];
          }
          for (unsigned t = 0; t < 4; ++t)
            b[t + 2] = 0.0f;
        }
        """)
    assert "b[(long long)t + 1] = a[(unsigned)i + 1];" in code
    assert "b[t + 2] = 0.0f;" in code


def test_an_int_used_only_as_a_subscript_is_declared_in_64_bits():
    code = transform("""
        void f(float *acc, const float *x, unsigned n, int w) {
          for (int y = 0; y < 4; ++y)
            for (int t = 0; t < w; ++t) {
              int slot = y * w + t;
              int other = y * w + t;
              acc[slot] += x[other];
              acc[other] += other < n ? 1.0f : 0.0f;
            }
          for (unsigned y = 0; y < 4; ++y) {
            unsigned slot = y * 8;
            acc[slot] = 0.0f;
          }
        }
        """)
    assert "long long slot = (long long)(y * w) + t;" in code
    # compared with an unsigned: as an int it converts to unsigned, as a long long it would not
    assert "int other = y * w + t;" in code
    assert "unsigned slot = y * 8;" in code


def test_the_pass_applies_to_c_programs_only():
    module = xpiler.lift("__global__ void k(float *a) { a[threadIdx.x + 1] = 0.0f; }", source="cuda")
    with pytest.raises(PassError, match="wide-subscripts applies to C \\(vnni\\) programs, not cuda"):
        pipeline("wide-subscripts")[0].apply(module)


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed")
def test_a_padded_row_copy_vectorises_and_computes_what_the_source_does(tmp_path):
    code = xpiler.translate(PAD_COLUMNS, to="vnni", source="cuda")
    assert "T[(long long)(row * P) + c] = c < K ? A[(long long)(row * K) + c] : 0.0f;" in code
    a = np.random.default_rng(3).standard_normal((5, 70)).astype(np.float32)
    t = np.full((5, 100), np.nan, np.float32)
    xpiler.run(code, [a, t, 5, 70, 100], entry="pad", lang="vnni")
    np.testing.assert_array_equal(t, np.concatenate([a, np.zeros((5, 30), np.float32)], axis=1))
    # what the rewrite is for: gcc -O2 vectorises the SIMD loop with the conditional load
    (tmp_path / "k.cpp").write_text(code)
    report = subprocess.run(["g++", *VNNI_FLAGS, "-c", "k.cpp", "-o", "k.o", "-fopt-info-vec-optimized"],
                            cwd=tmp_path, check=True, capture_output=True, text=True, timeout=120).stderr
    lines = code.splitlines()
    loops = [i + 2 for i, line in enumerate(lines) if line.strip() == "#pragma omp simd"
             and "c < K ? A[" in "".join(lines[i + 1:i + 4])]
    assert loops, code
    # gcc names the loop's line or its statement's
    assert any(re.search(rf"k\.cpp:{n + d}:\d+: optimized: loop vectorized", report) for n in loops
               for d in range(3)), report
