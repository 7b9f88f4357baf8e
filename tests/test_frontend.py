"""Frontend specification: every corpus program parses, lifts, prints in its own dialect and
re-parses; printing is a fixpoint; nothing is dropped; errors point into the user's text."""

from __future__ import annotations

import re

import pytest

import xpiler
from xpiler import ir
from xpiler.frontend.parser import first_error, parse as ts_parse

from programs import DIALECTS, corpus, ids

ALL = corpus()


def test_corpus_has_ten_programs_per_dialect():
    counts = {d: len(corpus(d)) for d in DIALECTS}
    assert all(n >= 10 for n in counts.values()), counts


@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_round_trip(path):
    dialect = path.parent.name if path.parent.name in DIALECTS else None
    text = path.read_text()
    program = xpiler.parse(text, filename=str(path))
    assert program.dialect == dialect, "dialect detection must agree with the folder"
    printed = xpiler.emit(program.module)
    tree, _ = ts_parse(printed)
    assert first_error(tree.root_node) is None
    # Printing the re-lifted program gives the same text: the printer is a fixpoint.
    again = xpiler.emit(xpiler.lift(printed, source=dialect))
    assert again == printed
    # The IR of the printed program equals the IR of the source (modulo comments and layout).
    assert _strip(xpiler.lift(printed, source=dialect)) == _strip(program.module)


@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_nothing_is_dropped(path):
    """Every identifier of the source survives the round trip (comments aside), but for the keywords
    of the canonical forms: a ``switch`` becomes an ``if`` / ``else`` chain, C's ``restrict`` is
    spelled ``__restrict__``."""
    text = path.read_text()
    printed = xpiler.translate(text, to=xpiler.parse(text).dialect)
    words = lambda s: set(re.findall(r"[A-Za-z_]\w*", re.sub(r"//[^\n]*|/\*.*?\*/", " ", s, flags=re.S)))
    canonical = {"restrict"} | ({"switch", "case", "default", "break"} if "switch" in words(text) else set())
    assert words(text) - canonical <= words(printed)


def _strip(module):
    """The module without comments (layout-independent comparison)."""
    def drop(node):
        if isinstance(node, ir.Block):
            return ir.Block(tuple(s for s in node.body if not isinstance(s, ir.Comment)))
        return node
    items = tuple(i for i in module.items if not isinstance(i, ir.Comment))
    return ir.rewrite(ir.Module(module.dialect, items), drop)


def test_bang_qualifiers_lift_to_scopes_and_kinds():
    src = """extern "C" __mlu_global__ void k(float *a) {
  __nram__ float n[64];
  __wram__ int8_t w[128];
  __mlu_shared__ float s[16];
  __memcpy(n, a + taskId * 64, 64 * sizeof(float), GDRAM2NRAM);
  __sync_cluster();
}
__mlu_func__ float helper(float v) { return v; }
__mlu_entry__ void e(void) {}
"""
    module = xpiler.lift(src)
    assert module.dialect == "bang"
    k, helper, e = list(module.functions())
    assert (k.kind, k.extern_c, helper.kind, e.kind) == ("kernel", True, "device", "kernel")
    scopes = [(d.vars[0].name, d.scope) for d in k.body.body if isinstance(d, ir.Decl)]
    assert scopes == [("n", "nram"), ("w", "wram"), ("s", "sram")]
    assert any(isinstance(s, ir.Barrier) and s.scope == "cluster" for s in k.body.body)
    call = k.body.body[3].expr
    assert call.intrinsic == "bang.memcpy"
    assert ir.Builtin("taskId", spelling="bang") in list(ir.walk(call))


def test_bang_launch_parses_as_launch():
    src = """void host(float *a) {
  cnrtDim3_t dim = {16, 1, 1};
  cnrtQueue_t queue;
  k<<<dim, CNRT_FUNC_TYPE_UNION1, queue>>>(a);
}"""
    module = xpiler.lift(src, source="bang")
    launch = module.function("host").body.body[2].expr
    assert isinstance(launch, ir.Launch)
    assert list(launch.config) == [
        ir.Name("dim"), ir.Name("CNRT_FUNC_TYPE_UNION1"), ir.Name("queue")]


def test_simt_idioms_lift():
    src = """#include <cuda_runtime.h>
__global__ void __launch_bounds__(256) k(float *__restrict__ a, int n) {
  __shared__ float tile[16][17];
  int i = ((int)blockIdx.x) * 256 + ((int)threadIdx.x);
  float v = __shfl_down_sync(0xffffffff, a[i], 16);
  atomicAdd(a, v);
  __syncthreads();
}
extern "C" void k_host(float *a, int n) { k<<<dim3(4), dim3(256), 0, 0>>>(a, n); }
"""
    module = xpiler.lift(src)
    k = module.function("k")
    assert k.kind == "kernel" and k.launch_bounds == (ir.Const("256", 256),)
    assert k.params[0].type == ir.Type("float", 1, (), ("__restrict__",))
    decl = k.body.body[0]
    assert decl.scope == "shared" and decl.vars[0].dims == (ir.Const("16", 16), ir.Const("17", 17))
    intrinsics = [n.intrinsic for n in ir.walk(k) if isinstance(n, ir.Call)]
    assert intrinsics == ["shfl_down", "atomicAdd"]
    assert {"blockIdx.x", "threadIdx.x"} == ir.analysis.builtins_used(k)
    launch = module.function("k_host").body.body[0].expr
    assert isinstance(launch, ir.Launch) and len(launch.config) == 4 and launch.style == "chevron"
    assert [f.name for f in module.host_entries] == ["k_host"]


def test_hip_spellings_lift_to_builtins_and_ggl_launch():
    src = """#include "hip/hip_runtime.h"
__global__ void k(float *a) { a[hipBlockIdx_x * hipBlockDim_x + hipThreadIdx_x] = 0; }
extern "C" void h(float *a) { hipLaunchKernelGGL(k, dim3(1), dim3(64), 0, 0, a); }
"""
    module = xpiler.lift(src)
    assert module.dialect == "hip"
    assert {"blockIdx.x", "blockDim.x", "threadIdx.x"} == ir.analysis.builtins_used(module.function("k"))
    launch = module.function("h").body.body[0].expr
    assert launch.style == "ggl" and launch.kernel == ir.Name("k") and launch.args == (ir.Name("a"),)
    assert xpiler.emit(module).count("hipLaunchKernelGGL(k, dim3(1), dim3(64), 0, 0, a)") == 1


def test_unmodelled_code_is_kept_verbatim_and_reported():
    src = """template <int N> struct Acc { float v[N]; };
extern "C" void f(float *a) { auto g = [](float x) { return x * 2; }; a[0] = g(a[0]); }
"""
    program = xpiler.parse(src)
    printed = xpiler.emit(program.module)
    assert "template <int N> struct Acc { float v[N]; };" in printed
    assert "[](float x) { return x * 2; }" in printed
    kinds = sorted(n.construct for n in program.verbatim)
    assert kinds == ["lambda_expression", "template_declaration"]


@pytest.mark.parametrize("text, line, column, message", [
    # tree-sitter reads `{ a[0] = 1 }` as an initializer, so the missing ';' is after the brace.
    ("__global__ void k(float *a) {\n  a[0] = 1\n}\n", 3, 2, "syntax error: expected ';'"),
    ("__global__ void k(float *a) {\n  a[0] = 1;\n", 2, 12, "expected '}'"),
    ("extern \"C\" void f() {\n  int x = (1 + ;\n}\n", 2, 9, "syntax error near '= (1 +'"),
    ("extern \"C\" __mlu_global__ void k(float *a) {\n  __nram__ float b[4]\n}\n", 2, 22, "expected ';'"),
])
def test_syntax_errors_name_file_line_column(text, line, column, message):
    with pytest.raises(xpiler.ParseError) as info:
        xpiler.parse(text, filename="k.cu")
    error = info.value
    assert (error.filename, error.line, error.column) == ("k.cu", line, column)
    assert message in str(error)
    assert str(error).startswith(f"k.cu:{line}:{column}: ")


@pytest.mark.parametrize("data, message", [
    (b"\x00\x01\x02binary", "NUL byte"),
    (b"\xff\xfe\xfa", "not valid UTF-8"),
    (b"   \n\t", "empty program"),
])
def test_non_programs_are_rejected(data, message):
    with pytest.raises(xpiler.ParseError, match=message):
        xpiler.parse(data)


@pytest.mark.parametrize("body, line, column, message", [
    # the indentation suggests the loop, the braces say otherwise
    ("  for (int j = 0; j < n; ++j)\n    y[j] += 1.0f;\n    if (y[0] > 2.0f) break;\n", 4, 22,
     "'break' outside of a loop or switch"),
    ("  if (n > 0) continue;\n", 2, 14, "'continue' outside of a loop"),
])
def test_a_jump_outside_any_loop_is_an_error_with_its_place(body, line, column, message):
    text = "__global__ void k(float *y, int n) {\n" + body + "}\n"
    with pytest.raises(xpiler.ParseError) as info:
        xpiler.parse(text, filename="k.cu")
    assert (info.value.line, info.value.column) == (line, column)
    assert str(info.value) == f"k.cu:{line}:{column}: {message}"
    # inside a loop, or a switch for break, they are fine
    xpiler.parse("__global__ void k(int n) { switch (n) { case 1: break; } while (n) { if (n) continue; } }")


def test_deep_nesting_is_an_error_not_a_crash():
    src = "extern \"C\" void f(int x) { x = " + "(" * 1000 + "1" + ")" * 1000 + "; }"
    with pytest.raises(xpiler.UnsupportedError, match="nesting deeper than"):
        xpiler.parse(src)


def test_misplaced_bang_qualifier_is_an_error_not_dropped():
    with pytest.raises(xpiler.UnsupportedError, match="qualifier __nram__"):
        xpiler.parse("extern \"C\" __mlu_global__ void k(float *a) { a[0] = (__nram__ float)1; }", source="bang")


def test_comparisons_the_grammar_reads_as_templates_lift_as_comparisons():
    src = """extern "C" void f(int *o, int i, int w) {
  o[0] = (i < 0 || i >= w) ? 0 : 1;
  o[1] = ((i >= 0 && i < w && w >= 0 && i < w) ? 1 : 0);
}
"""
    assert xpiler.translate(src, to="vnni") == src
    o = xpiler.lift(src).function("f").body.body[0].expr
    assert o.value.cond == ir.Paren(ir.BinOp("||", ir.BinOp("<", ir.Name("i"), ir.Const("0", 0)),
                                             ir.BinOp(">=", ir.Name("i"), ir.Name("w"))))


def test_top_level_enum_keeps_its_semicolon():
    assert xpiler.translate("enum K { A, B };\n", to="vnni") == "enum K { A, B };\n"


def test_negative_literals_keep_their_integer_value():
    # tree-sitter reads `-1` in an initialiser as one number literal: it is the int -1, not a float
    f = xpiler.lift("void f() { int a = -1; int b = -0x10; float c = -1.5f; }", source="vnni").items[0]
    assert [(d.vars[0].init.text, d.vars[0].init.value) for d in f.body.body] == \
        [("-1", -1), ("-0x10", -16), ("-1.5f", -1.5)]
    assert isinstance(f.body.body[0].vars[0].init.value, int)


def test_a_vector_constructed_from_a_variable_is_a_declaration_not_a_prototype():
    # the grammar reads `std::vector<float> s(L);` as a prototype with a parameter of type L
    f = xpiler.lift("#include <vector>\nvoid f(int L) { std::vector<float> s(L); float g(float); }",
                    source="vnni").items[-1]
    s, g = f.body.body
    assert isinstance(s, ir.Decl) and s.vars[0].ctor_args == (ir.Name("L"),)
    assert not isinstance(g, ir.Decl) or not g.vars[0].ctor_args  # a real prototype stays one
