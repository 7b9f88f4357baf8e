"""``tensorize{target=bang}``: element loops on NRAM become ``__memcpy`` and BANG vector intrinsics,
chosen by the registry's scalar descriptions, with the same results bit for bit."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

import xpiler
from xpiler import suite
from xpiler.passes.registry import pipeline
from xpiler.passes.tensorize_bang import vector_ops

F32 = np.float32
LAUNCH = {"task_dim": [4, 1, 1], "func_type": "UNION1"}


def kernel(body: str, n: int = 256) -> str:
    return textwrap.dedent("""\
        #include <bang.h>
        #define N {n}
        extern "C" __mlu_global__ void k(float *x, float *y, float *out, float s) {{
          __nram__ float a[N];
          __nram__ float b[N];
          __nram__ float c[N];
        {body}
        }}
        """).format(n=n, body=textwrap.indent(textwrap.dedent(body).strip("\n"), "  "))


def tensorized(src: str) -> str:
    module = xpiler.lift(src, source="bang")
    for p in pipeline("tensorize{target=bang}"):
        module = p.apply(module)
    return xpiler.emit(module, "bang")


def lines(code: str) -> list[str]:
    return [line.strip() for line in code.splitlines() if line.strip()]


def run(code: str, x, y, s: float):
    out = np.zeros_like(x)
    xpiler.run(code, [x, y, out, float(s)], lang="bang", launch=LAUNCH, check=True)
    return out


STAGED = """
    for (int i = 0; i < N; ++i) a[i] = x[taskId * N + i];
    for (int i = 0; i < N; ++i) b[i] = y[taskId * N + i];
    for (int i = 0; i < N; ++i) c[i] = (a[i] + b[i]) * s;
    for (int i = 0; i < N; ++i) c[i] = c[i] > 0 ? c[i] : 0;
    for (int i = 0; i < N; ++i) b[i] = a[i] * a[i];
    for (int i = 0; i < N; ++i) c[i] = c[i] - b[i];
    for (int i = 0; i < N; ++i) out[taskId * N + i] = c[i];
    """


def test_staged_element_loops_become_dma_and_vector_calls():
    code = tensorized(kernel(STAGED))
    body = lines(code)
    start = body.index("__nram__ float c[N];") + 1
    assert body[start:body.index("}", start)] == [
        "__memcpy(a, &x[taskId * N], N * sizeof(float), GDRAM2NRAM);",
        "__memcpy(b, &y[taskId * N], N * sizeof(float), GDRAM2NRAM);",
        "__nram__ float __xp_v[N];",
        "__bang_add(__xp_v, a, b, N);",
        "__bang_mul_scalar(c, __xp_v, s, N);",
        "__bang_relu(c, c, N);",
        "__bang_square(b, a, N);",
        "__bang_sub(c, c, b, N);",
        "__memcpy(&out[taskId * N], c, N * sizeof(float), NRAM2GDRAM);",
    ]


def test_the_calls_compute_what_the_loops_computed_bit_for_bit():
    rng = np.random.default_rng(7)
    x = rng.standard_normal(4 * 256).astype(F32)
    y = rng.standard_normal(4 * 256).astype(F32)
    src = kernel(STAGED)
    expected = run(src, x, y, 1.7)
    assert np.array_equal(run(tensorized(src), x, y, 1.7), expected)
    a = x.reshape(4, 256)
    reference = np.maximum((a + y.reshape(4, 256)) * F32(1.7), 0) - a * a
    assert np.array_equal(expected, reference.astype(F32).ravel())


def test_a_fill_and_a_copy_with_a_variable_count_are_guarded():
    code = tensorized(kernel("""
        int m = taskId * 16;
        for (int i = 0; i < m; ++i) c[i] = s;
        for (int i = 2; i < m; ++i) out[i] = c[i - 2];
        """))
    body = lines(code)
    assert "if (m > 0) {" in body and "__bang_write_value(c, m, s);" in body
    assert "if ((m - 2) > 0) {" in body and "__memcpy(&out[2], c, (m - 2) * sizeof(float), NRAM2GDRAM);" in body
    assert "for (int i" not in code
    x = np.zeros(4 * 256, F32)
    out = run(code, x, x, 3.5)
    assert np.array_equal(out[:48], np.where(np.arange(48) >= 2, F32(3.5), F32(0)))   # task 3's m = 48, last


def test_an_operand_in_gdram_is_staged_into_nram_first():
    src = kernel("""
        for (int i = 0; i < N; ++i) a[i] = x[taskId * N + i];
        for (int i = 0; i < N; ++i) c[i] = a[i] > y[i] ? a[i] : y[i];
        for (int i = 0; i < N; ++i) out[taskId * N + i] = c[i];
        """)
    code = tensorized(src)
    assert lines(code)[lines(code).index("__memcpy(a, &x[taskId * N], N * sizeof(float), GDRAM2NRAM);") + 1:][:3] == [
        "__nram__ float __xp_v[N];",
        "__memcpy(__xp_v, y, N * sizeof(float), GDRAM2NRAM);",
        "__bang_maximum(c, a, __xp_v, N);",
    ]
    rng = np.random.default_rng(11)
    x, y = rng.standard_normal(1024).astype(F32), rng.standard_normal(1024).astype(F32)
    assert np.array_equal(run(code, x, y, 0), np.maximum(x.reshape(4, 256), y[:256]).ravel())


@pytest.mark.parametrize("loop, why", [
    ("for (int i = 1; i < N; ++i) c[i] = c[i - 1] + a[i];", "c read at another offset than written"),
    ("for (int i = 0; i < N; ++i) c[i] = a[i] * 0.1;", "a double constant: the product is rounded once, in double"),
    ("for (int i = 0; i < N; ++i) c[i] = a[i] / b[i];", "division is not plain arithmetic in the registry"),
    ("for (int i = 0; i < N; ++i) x[i] = y[i] + a[i];", "a result in GDRAM"),
    ("for (int i = 0; i < N; ++i) c[i] = a[i] + b[2 * i];", "an operand at stride 2"),
    ("for (int i = 0; i < N; ++i) { c[i] = a[i] + b[i]; a[i + 1] = c[i]; }", "a written at two offsets"),
    ("for (int i = 0; i < N; ++i) c[i] = sqrtf(a[i]);", "a call: the hardware's sqrt is not C's"),
    ("for (unsigned i = 0; i < N; ++i) c[i] = a[i] + b[i];", "an unsigned counter (a negative bound is huge)"),
])
def test_what_the_vector_units_would_compute_differently_stays(loop, why):
    code = tensorized(kernel(loop))
    assert "for (int i" in code or "for (unsigned i" in code, why
    assert "__bang_" not in code and "__memcpy" not in code, why


def test_half_arithmetic_needs_no_rounded_intermediates():
    src = textwrap.dedent("""\
        #include <bang.h>
        extern "C" __mlu_global__ void k(half *x, half *out) {
          __nram__ half a[64];
          __nram__ half c[64];
          for (int i = 0; i < 64; ++i) c[i] = a[i] + a[i];
          for (int i = 0; i < 64; ++i) c[i] = a[i] * c[i] + a[i];
        }
        """)
    body = lines(tensorized(src))
    assert "__bang_add(c, a, a, 64);" in body          # one operation, rounded once as in C
    assert "c[i] = a[i] * c[i] + a[i];" in body          # two: C keeps a * c in float


def test_the_patterns_come_from_the_registry_and_only_plain_arithmetic():
    names = {op.function for op in vector_ops()}
    assert {"__bang_add", "__bang_sub", "__bang_mul", "__bang_add_scalar", "__bang_maximum", "__bang_relu",
            "__bang_square", "__bang_abs", "__bang_gt"} <= names
    assert not names & {"__bang_div", "__bang_sqrt", "__bang_rsqrt", "__bang_recip", "__bang_active_exp",
                        "__bang_active_sigmoid", "__bang_cycle_add"}


@pytest.mark.parametrize("file, call", [("add_avx512_tail.cpp", "__bang_add("), ("gelu_avx512.cpp", "__bang_square(")])
def test_the_suites_vector_programs_reach_bang_on_dma_and_vector_calls(file, call):
    entry = suite.load_manifest("vnni").get(file)
    code = xpiler.translate(entry.source, source="vnni", to="bang")
    assert "GDRAM2NRAM" in code and "NRAM2GDRAM" in code
    assert call in code
    result = suite.check_program(entry, "bang", src=code)
    assert result.passed, result.summary()
