"""``unique-names``: a local declared again in another block gets a name of its own, so analyses that
follow a name to what it holds (forward-copies, task-units) see one declaration per name."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

import xpiler
from xpiler import ir
from xpiler.ir.effects import declaration_counts
from xpiler.passes.manager import run_pipeline
from xpiler.passes.registry import pipeline
from xpiler.passes.unique_names import unique_names

TWO_POINTERS = """
void f(float *x, float *y, float *pad, int n) {
  for (int r = 0; r < 4; ++r) {
    {
      float *dst = pad + r * n;
      for (int i = 0; i < n; ++i)
        dst[i] = x[r * n + i] * 2.0f;
    }
    {
      float *dst = y + r * n;
      for (int i = 0; i < n; ++i)
        dst[i] = pad[r * n + i] + 1.0f;
    }
    for (int s = 0; s < n; ++s)
      y[r * n + s] += 0.5f;
    double s = 0;
    for (int i = 0; i < n; ++i)
      s += (double)y[r * n + i];
    y[r * n] = (float)s;
  }
}
"""


def renamed(src: str) -> str:
    module = run_pipeline(xpiler.lift(src, source="vnni"), pipeline("unique-names")).module
    return xpiler.emit(module, "vnni")


def test_a_second_pointer_and_a_scalar_shadowing_a_counter_get_names_of_their_own():
    code = renamed(TWO_POINTERS)
    assert "float *dst = pad + r * n;" in code and "float *dst_1 = y + r * n;" in code
    assert "dst_1[i] = pad[r * n + i] + 1.0f;" in code
    # the counter gives way to the accumulator declared by a statement
    assert "for (int s_1 = 0; s_1 < n; ++s_1)" in code and "y[r * n + s_1] += 0.5f;" in code
    assert "double s = 0;" in code and "s += (double)y[r * n + i];" in code and "y[r * n] = (float)s;" in code
    assert code.count("for (int i = 0; i < n; ++i)") == 3   # counters reused loop to loop stay
    module = xpiler.lift(code, source="vnni")
    counts = declaration_counts(next(f for f in module.functions() if f.name == "f").body)
    assert counts["dst"] == counts["dst_1"] == counts["s"] == counts["s_1"] == 1


def test_the_renamed_program_computes_the_same():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(4 * 8).astype(np.float32)
    results = []
    for src in (TWO_POINTERS, renamed(TWO_POINTERS)):
        y, pad = np.zeros(32, np.float32), np.zeros(32, np.float32)
        xpiler.run(src, [x, y, pad, 8], entry="f", lang="vnni")
        results.append(y)
    np.testing.assert_array_equal(results[0], results[1])
    assert np.all(np.isfinite(results[0])) and results[0].any()


def test_a_counter_a_statement_declares_too_is_renamed_and_names_in_text_stay():
    src = """
void g(float *y, int n) {
  for (int k = 0; k < n; ++k)
    y[k] = 1.0f;
  {
    int k = n - 1;
    y[k] = 2.0f;
  }
}
"""
    code = renamed(src)
    assert "for (int k_1 = 0; k_1 < n; ++k_1)" in code and "y[k_1] = 1.0f;" in code
    assert "int k = n - 1;" in code and "y[k] = 2.0f;" in code
    module = xpiler.lift(src, source="vnni")
    fn = next(f for f in module.functions() if f.name == "g")
    verbatim = ir.Verbatim("asm volatile(\"\" :: \"r\"(k));", "kept as text")
    body = ir.Block(fn.body.body + (verbatim,))
    assert unique_names(replace(fn, body=body), set()) == body   # `k` in text: nothing renamed
