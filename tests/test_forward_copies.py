"""``forward-copies``: a local array that only holds a copy of another array is read from that array
(the staging buffers of lowered BANG programs, which on a GPU are per-block scratch and barriers)."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

import xpiler
from xpiler import suite
from xpiler.passes.registry import pipeline


def transform(src: str, spec: str = "forward-copies") -> str:
    module = xpiler.lift(textwrap.dedent(src).lstrip("\n"), source="vnni")
    for p in pipeline(spec):
        module = p.apply(module)
    return xpiler.emit(module, "vnni")


# A batched GEMM as lowered BANG stages it: a column tile of B gathered row by row (a strided copy),
# transposed into [nt][K], a block of A rows copied flat; the compute reads only the buffers and
# writes a block of C, which a strided copy puts in place.
STAGED_BMM = """
extern "C" void bmm(const float *A, const float *B, float *C, int batch, int M, int K, int N) {
  float b_cols[64 * 32];
  float bt[32 * 64];
  float a_blk[16 * 64];
  float c_blk[16 * 32];
  int n_tiles = (N + 31) / 32;
  for (int unit = 0; unit < batch * n_tiles; ++unit) {
    int b = unit / n_tiles;
    int n0 = (unit % n_tiles) * 32;
    int nt = N - n0 < 32 ? N - n0 : 32;
    for (int s = 0; s < K; ++s)
      for (int i = 0; i < nt; ++i)
        b_cols[s * nt + i] = B[(b * K + s) * N + n0 + i];
    for (int i = 0; i < K; ++i)
      for (int j = 0; j < nt; ++j)
        bt[j * K + i] = b_cols[i * nt + j];
    for (int m0 = 0; m0 < M; m0 += 16) {
      int mt = M - m0 < 16 ? M - m0 : 16;
      for (int i = 0; i < mt * K; ++i)
        a_blk[i] = A[(b * M + m0) * K + i];
      for (int i = 0; i < mt; ++i)
        for (int j = 0; j < nt; ++j) {
          float acc = 0;
          for (int p = 0; p < K; ++p)
            acc += a_blk[i * K + p] * bt[j * K + p];
          c_blk[i * nt + j] = acc;
        }
      for (int s = 0; s < mt; ++s)
        for (int i = 0; i < nt; ++i)
          C[(b * M + m0 + s) * N + n0 + i] = c_blk[s * nt + i];
    }
  }
}
"""


def test_a_chain_of_staging_copies_is_read_from_the_parameters_and_the_result_stored_in_place():
    assert transform(STAGED_BMM, "forward-copies,dce") == textwrap.dedent("""\
        extern "C" void bmm(const float *A, const float *B, float *C, int batch, int M, int K, int N) {
          int n_tiles = (N + 31) / 32;
          for (int unit = 0; unit < batch * n_tiles; ++unit) {
            int b = unit / n_tiles;
            int n0 = (unit % n_tiles) * 32;
            int nt = N - n0 < 32 ? N - n0 : 32;
            for (int m0 = 0; m0 < M; m0 += 16) {
              int mt = M - m0 < 16 ? M - m0 : 16;
              for (int i = 0; i < mt; ++i)
                for (int j = 0; j < nt; ++j) {
                  float acc = 0;
                  for (int p = 0; p < K; ++p)
                    acc += A[(b * M + m0) * K + (K * i + p)] * B[(b * K + p) * N + n0 + j];
                  C[(b * M + m0 + i) * N + n0 + j] = acc;
                }
            }
          }
        }
        """)


@pytest.mark.parametrize("batch, M, K, N", [(1, 16, 8, 32), (2, 20, 37, 70), (3, 5, 64, 1)])
def test_the_forwarded_program_computes_what_the_staged_one_does(batch, M, K, N):
    rng = np.random.default_rng(batch * 1000 + N)
    a = rng.standard_normal((batch, M, K)).astype(np.float32)
    b = rng.standard_normal((batch, K, N)).astype(np.float32)
    results = []
    for code in (textwrap.dedent(STAGED_BMM), transform(STAGED_BMM, "forward-copies,dce")):
        c = np.full((batch, M, N), np.nan, np.float32)
        xpiler.run(code, [a, b, c, batch, M, K, N], entry="bmm", lang="vnni")
        results.append(c)
    np.testing.assert_array_equal(results[1], results[0])  # the same sums in the same order
    np.testing.assert_allclose(results[1], a @ b, rtol=1e-4, atol=1e-4)


def test_a_buffer_copied_out_whole_is_stored_in_place_as_it_is_computed():
    code = transform("""
        void f(const float *x, float *y, int rows, int n, int ld) {
          float out[4096];
          for (int r = 0; r < rows; ++r)
            for (int c = 0; c < n; ++c) {
              float v = x[r * n + c];
              out[r * n + c] = v > 0 ? v : 0;
            }
          for (int s = 0; s < rows; ++s)
            for (int i = 0; i < n; ++i)
              y[s * ld + i] = out[s * n + i];
        }
        """, "forward-copies,dce")
    assert "y[r * ld + c] = v > 0 ? v : 0;" in code and "out" not in code


STORES_UNCHANGED = {
    "the destination is read before the copy": """
        void f(const float *x, float *y, int n) {
          float out[64];
          for (int i = 0; i < n; ++i)
            out[i] = x[i] + y[i + n];
          for (int i = 0; i < n; ++i)
            y[i] = out[i];
        }""",
    "the fill writes fewer elements than are copied": """
        void f(const float *x, float *y, int n) {
          float out[64];
          for (int i = 0; i < n - 1; ++i)
            out[i] = x[i];
          for (int i = 0; i < n; ++i)
            y[i] = out[i];
        }""",
    "the fill's write is conditional": """
        void f(const float *x, float *y, int n) {
          float out[64];
          for (int i = 0; i < n; ++i)
            if (x[i] > 0)
              out[i] = x[i];
          for (int i = 0; i < n; ++i)
            y[i] = out[i];
        }""",
    "the fill may stop early": """
        void f(const float *x, float *y, int n) {
          float out[64];
          for (int i = 0; i < n; ++i) {
            if (x[i] < 0)
              break;
            out[i] = x[i];
          }
          for (int i = 0; i < n; ++i)
            y[i] = out[i];
        }""",
    "a bound of the copy changes between": """
        void f(const float *x, float *y, int n) {
          float out[64];
          for (int i = 0; i < n; ++i)
            out[i] = x[i];
          n = n / 2;
          for (int i = 0; i < n; ++i)
            y[i] = out[i];
        }""",
}


def test_a_read_of_another_element_type_converts_as_the_copy_did():
    code = transform("""
        void f(const int *x, float *y, int n) {
          float t[64];
          for (int i = 0; i < n; ++i)
            t[i] = x[i];
          for (int i = 0; i < n; ++i)
            y[i] = t[i] * 0.5f;
        }
        """, "forward-copies,dce")
    assert "y[i] = (float)(x[i]) * 0.5f;" in code and "t[" not in code


def test_a_flat_copy_read_as_rows_and_columns():
    code = transform("""
        void f(const float *x, float *y, int k0, int kt, int N) {
          float t[4096];
          for (int i = 0; i < kt * N; ++i)
            t[i] = x[k0 * N + i];
          for (int p = 0; p < kt; ++p)
            for (int j = 0; j < N; ++j)
              y[j * kt + p] = t[p * N + j];
        }
        """, "forward-copies,dce")
    assert "y[j * kt + p] = x[k0 * N + (N * p + j)];" in code and "t[" not in code


UNCHANGED = {
    "the source is written after the copy": """
        void f(float *x, float *y, int n) {
          float t[64];
          for (int i = 0; i < n; ++i)
            t[i] = x[i];
          x[0] = 5.0f;
          for (int i = 0; i < n; ++i)
            y[i] = t[i] * 2.0f;
        }""",
    "written through a pointer into the source": """
        void f(float *x, float *y, int n) {
          float t[64];
          float *row = x + n;
          for (int i = 0; i < n; ++i)
            t[i] = x[i];
          row[0] = 5.0f;
          for (int i = 0; i < n; ++i)
            y[i] = t[i] * 2.0f;
        }""",
    "a name the copy reads changes after it": """
        void f(const float *x, float *y, int n, int o) {
          float t[64];
          for (int i = 0; i < n; ++i)
            t[i] = x[i + o];
          o = 3;
          for (int i = 0; i < n; ++i)
            y[i] = t[i] * 2.0f;
        }""",
    "a read beyond what the copy wrote": """
        void f(const float *x, float *y, int n) {
          float t[64];
          for (int i = 0; i < n; ++i)
            t[i] = x[i];
          for (int i = 0; i <= n; ++i)
            y[i] = t[i] * 2.0f;
        }""",
    "rows padded to a fixed stride (not a mixed radix)": """
        void f(const float *x, float *y, int n) {
          float t[64];
          for (int s = 0; s < 4; ++s)
            for (int i = 0; i < n; ++i)
              t[s * 16 + i] = x[s * n + i];
          for (int s = 0; s < 4; ++s)
            for (int i = 0; i < n; ++i)
              y[s * n + i] = t[s * 16 + i] * 2.0f;
        }""",
    "a second write of the array": """
        void f(const float *x, float *y, int n) {
          float t[64];
          for (int i = 0; i < n; ++i)
            t[i] = x[i];
          t[0] = 1.0f;
          for (int i = 0; i < n; ++i)
            y[i] = t[i] * 2.0f;
        }""",
    "a read before the copy (the previous iteration's values)": """
        void f(const float *x, float *y, int n) {
          float t[64];
          for (int r = 0; r < 4; ++r) {
            if (r > 0)
              y[r] = t[0] * 2.0f;
            for (int i = 0; i < n; ++i)
              t[i] = x[r * n + i];
          }
        }""",
    "the array's address taken": """
        void g(float *);
        void f(const float *x, float *y, int n) {
          float t[64];
          for (int i = 0; i < n; ++i)
            t[i] = x[i];
          g(t);
          for (int i = 0; i < n; ++i)
            y[i] = t[i] * 2.0f;
        }""",
    "a condition on a name that changes before the read": """
        void f(const float *x, float *y, int n, int k) {
          float t[64];
          for (int i = 0; i < n; ++i)
            t[i] = x[i];
          if (k >= 0 && k < n) {
            k = k + 5;
            y[0] = t[k] * 2.0f;
          }
        }""",
    "a declaration shadows the counter a loop bounds": """
        void f(const float *x, float *y, int n) {
          float t[64];
          for (int i = 0; i < n; ++i)
            t[i] = x[i];
          for (int i = 0; i < n; ++i) {
            {
              int i = n;
              y[0] = t[i] * 2.0f;
            }
          }
        }""",
    "an index of a wider type": """
        void f(const float *x, float *y, long n) {
          float t[64];
          for (long i = 0; i < n; ++i)
            t[i] = x[i];
          for (long i = 0; i < n; ++i)
            y[i] = t[i] * 2.0f;
        }""",
}


@pytest.mark.parametrize("why", [*UNCHANGED, *STORES_UNCHANGED])
def test_copies_that_may_not_hold_the_value_where_it_is_read_or_stored_stay(why):
    src = {**UNCHANGED, **STORES_UNCHANGED}[why]
    assert transform(src) == xpiler.emit(xpiler.lift(textwrap.dedent(src).lstrip("\n"), source="vnni"), "vnni")


def test_bang_bmm_to_cuda_reads_its_operands_where_it_multiplies_them():
    entry = [e for e in suite.entries("bang") if e.file == "bmm_matmul.mlu"][0]
    code = xpiler.translate(entry.source, to="cuda", source="bang", launch=entry.launch)
    assert "__xp_scratch" not in code  # the three stages of B and the block of A were scratch
    outcome = suite.check_program(entry, "cuda", src=code)
    assert outcome.passed, [o for o in outcome.outputs if not o.ok][:1]


def test_buffers_no_larger_than_the_limit_stay():
    """In the BANG -> GPU pipeline, buffers that fit a block's shared memory stay: they are a cache
    the threads share (and the tiles tensor cores load)."""
    src = """
        void f(const float *x, float *y, int n) {
          float small[64];
          float large[65];
          for (int i = 0; i < n; ++i)
            small[i] = x[i];
          for (int i = 0; i < n; ++i)
            large[i] = x[i + 64];
          for (int i = 0; i < n; ++i)
            y[i] = small[i] * large[i];
        }"""
    code = transform(src, "forward-copies{larger_than=256}")
    assert "y[i] = small[i] * x[i + 64];" in code and "large[i]" not in code
    assert "small[i] = x[i];" in code


def test_a_bad_limit_is_an_error():
    from xpiler.passes.base import PassError
    with pytest.raises(PassError, match="larger_than must be a byte count >= 0, got -1"):
        transform("void f(float *x) { x[0] = 1; }", "forward-copies{larger_than=-1}")


def test_the_pass_is_registered_and_in_the_default_bang_to_gpu_pipeline():
    assert [str(p) for p in pipeline("forward-copies")] == ["forward-copies"]
    tr = xpiler.translate_with_trace(suite.entries("bang")[0].source, source="bang", to="cuda")
    assert "forward-copies{larger_than=49152}" in tr.pipeline.split(",")
