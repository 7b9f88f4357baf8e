"""``tensorize{target=bang}`` on GEMM nests: a task's loops over the product of two NRAM matrices
become ``__bang_matmul``, its operands staged (A row-major in NRAM, B column-major in WRAM)."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

import xpiler
from xpiler import suite
from test_tensorize_bang import lines, tensorized   # the element tensorizer's runners

F16, F32 = np.float16, np.float32
LAUNCH = {"task_dim": [1, 1, 1], "func_type": "BLOCK"}
M, N, K = 8, 16, 32


def kernel(nest: str, element: str = "half", a_size: int = M * K, b_size: int = K * N) -> str:
    """A task that loads x into NRAM a, y into NRAM b, runs ``nest`` into NRAM c (float, zeroed
    first: some nests accumulate) and stores c."""
    return textwrap.dedent("""\
        #include <bang.h>
        #define M {m}
        #define N {n}
        #define K {k}
        extern "C" __mlu_global__ void gemm({t} *x, {t} *y, float *out) {{
          __nram__ {t} a[{a_size}];
          __nram__ {t} b[{b_size}];
          __nram__ float c[M * N];
          for (int i = 0; i < {a_size}; ++i) a[i] = x[i];
          for (int i = 0; i < {b_size}; ++i) b[i] = y[i];
          for (int i = 0; i < M * N; ++i) c[i] = 0.0f;
        {nest}
          for (int i = 0; i < M * N; ++i) out[i] = c[i];
        }}
        """).format(m=M, n=N, k=K, t=element, a_size=a_size, b_size=b_size,
                    nest=textwrap.indent(textwrap.dedent(nest).strip("\n"), "  "))


def nest(a: str, b: str, init: str = "0.0f", c: str = "c[m * N + n]", cast: str = "(float)",
         loops: tuple = ("m", "n")) -> str:
    bounds = {"m": "M", "n": "N"}
    first, second = loops
    return f"""
        for (int {first} = 0; {first} < {bounds[first]}; ++{first})
          for (int {second} = 0; {second} < {bounds[second]}; ++{second}) {{
            float acc = {init};
            for (int k = 0; k < K; ++k)
              acc += {cast}{a} * {cast}{b};
            {c} = acc;
          }}
        """


def run(code: str, x, y):
    out = np.zeros(M * N, F32)
    xpiler.run(code, [x, y, out], lang="bang", launch=LAUNCH, check=True)
    return out.reshape(M, N)


def operands(element=F16, a_size=M * K, b_size=K * N):
    rng = np.random.default_rng(5)
    return rng.standard_normal(a_size).astype(element), rng.standard_normal(b_size).astype(element)


def check(src: str, a_matrix, b_matrix, element=F16, **sizes):
    """The tensorized kernel agrees with the loops it replaced and with numpy: the sum's order is the
    matrix unit's, so to the float rounding of a K-term sum."""
    x, y = operands(element, **sizes)
    code = tensorized(src)
    expected = run(src, x, y)
    got = run(code, x, y)
    reference = a_matrix(x.astype(np.float64)) @ b_matrix(y.astype(np.float64))
    assert np.allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert np.allclose(got, reference, rtol=1e-5, atol=1e-5)
    return code


def test_a_row_major_product_is_a_transpose_into_wram_and_one_matmul_into_c():
    code = check(kernel(nest("a[m * K + k]", "b[k * N + n]")), lambda x: x.reshape(M, K),
                 lambda y: y.reshape(K, N))
    body = lines(code)
    start = body.index("__bang_write_value(c, M * N, 0.0f);") + 1
    assert body[start:start + 8] == [
        "{",
        "__wram__ half __xp_mm_b[512];",
        "__nram__ half __xp_mm_bt[512];",
        "__bang_transpose(__xp_mm_bt, b, 32, 16);",
        "__memcpy(__xp_mm_b, __xp_mm_bt, 1024, NRAM2WRAM);",
        "__bang_matmul(c, a, __xp_mm_b, 8, 32, 16);",
        "}",
        "__memcpy(out, c, (M * N) * sizeof(float), NRAM2GDRAM);",
    ]


def test_an_accumulating_nest_adds_the_product_to_c():
    code = check(kernel(nest("a[m * K + k]", "b[k * N + n]", init="c[m * N + n]") + "\n" +
                        nest("a[m * K + k]", "b[k * N + n]", init="c[m * N + n]")),
                 lambda x: 2 * x.reshape(M, K), lambda y: y.reshape(K, N))
    assert [line for line in lines(code) if line.startswith("__bang_add(")] == [
        "__bang_add(c, c, __xp_mm_c, 128);", "__bang_add(c, c, __xp_mm_c_1, 128);"]
    assert "for (int k" not in code


def test_strided_operands_are_gathered_by_dma_and_c_may_be_anywhere():
    # A with a leading dimension of K + 8, B column-major ([N][K]), C in GDRAM by rows of N + 0
    src = kernel(nest("a[m * (K + 8) + k]", "b[n * K + k]", c="out[m * N + n]", loops=("n", "m")),
                 a_size=M * (K + 8))
    src = src.replace("  for (int i = 0; i < M * N; ++i) out[i] = c[i];\n", "")
    code = check(src, lambda x: x.reshape(M, K + 8)[:, :K], lambda y: y.reshape(N, K).T, a_size=M * (K + 8))
    body = lines(code)
    assert "__memcpy(__xp_mm_a, a, 64, NRAM2NRAM, 64, 80, 7);" in body           # rows of A
    assert "__memcpy(__xp_mm_b, b, 1024, NRAM2WRAM);" in body                     # B is already [N][K]
    assert "__bang_matmul(__xp_mm_c, __xp_mm_a, __xp_mm_b, 8, 32, 16);" in body
    assert "out[m * N + n] = __xp_mm_c[m * 16 + n];" in body                      # the source's order: n, m


def test_column_major_a_is_gathered_element_by_element():
    code = check(kernel(nest("a[k * M + m]", "b[k * N + n]"), element="float"),
                 lambda x: x.reshape(K, M).T, lambda y: y.reshape(K, N), element=F32)
    assert "__memcpy(__xp_mm_a, a, 4, NRAM2NRAM, 4, 31, 128, 7, 32, 31, 4, 7);" in lines(code)
    assert "__bang_matmul(c, __xp_mm_a, __xp_mm_b, 8, 32, 16);" in lines(code)


@pytest.mark.parametrize("source, why", [
    (nest("a[m * K + k]", "b[k * N + n]", cast=""), "half * half rounds each product to half"),
    (nest("a[m * K + k]", "y[k * N + n]"), "an operand in GDRAM"),
    (nest("a[m * K + k]", "a[k * N + n]"), "both operands one array"),
    (nest("a[m * K + k]", "b[k * N + n]", init="1.0f"), "a start that is neither zero nor C"),
    (nest("a[m * K + k]", "b[k * N + n]", init="c[m * N + n + 1]"), "a start that is another element"),
    (nest("a[m * K + k]", "b[(k * N + n) % 7]"), "a subscript that is not affine"),
    (nest("a[m * K + k]", "b[k * N + n + m]"), "B depends on m"),
    (nest("a[m * K + k]", "b[k * N + n]", c="b[m * N + n]"), "C is an operand"),
    ("""
     float *p = c;
     """ + nest("a[m * K + k]", "b[k * N + n]", c="p[m * N + n]"), "C through a pointer"),
])
def test_what_is_not_a_product_of_two_nram_matrices_stays(source, why):
    code = tensorized(kernel(source))
    assert "__bang_matmul" not in code, why
    assert "for (int k = 0; k < K; ++k)" in code, why


def test_a_variable_depth_or_an_over_capacity_nest_stays():
    variable = kernel(nest("a[m * K + k]", "b[k * N + n]").replace("k < K", "k < taskDim * K"))
    assert "__bang_matmul" not in tensorized(variable)
    big = kernel(nest("a[m * K + k]", "b[k * N + n]"), a_size=M * K * 2048)   # A alone fills NRAM
    assert "__bang_matmul" not in tensorized(big.replace("a[m * K + k]", "a[m * K * 2048 + k]"))


@pytest.mark.parametrize("file", ["gemm_wmma_warp.cu", "conv1x1_nhwc_wmma.cu"])
def test_the_suites_tensor_core_programs_reach_bang_on_bang_matmul(file):
    entry = suite.load_manifest("cuda").get(file)
    code = xpiler.translate(entry.source, source="cuda", to="bang", **({"launch": entry.launch} if entry.launch else {}))
    assert "__bang_matmul(" in code and "NRAM2WRAM" in code
    result = suite.check_program(entry, "bang", src=code)
    assert result.passed, result.summary()
