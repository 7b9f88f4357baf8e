"""The oracle's core: build cache, child process calls, failures, arguments, entries, toolchains."""

import re
import time

import numpy as np
import pytest

import xpiler
from xpiler import suite
from xpiler.errors import CompileError, EmulationFault, ProgramCrash, ProgramTimeout, RunError, ToolMissing
from xpiler.oracle import EntryError, default_entry, functions, toolchains
from xpiler.oracle import build as build_mod
from xpiler.oracle.build import VNNI_FLAGS, BuildSpec, build
from xpiler.oracle.child import ArgumentError, call, shared_array, shared_empty

ADD = """
extern "C" void add(float *A, float *B, float *out, int n) {
  for (int i = 0; i < n; ++i) out[i] = A[i] + B[i];
}
"""


def spec_of(text, name="input.cpp", flags=VNNI_FLAGS, entry="f"):
    return BuildSpec(sources=((name, text),), compiler="g++", flags=flags, entry=entry,
                     display_names=((name, "<input>"),))


# ---------------------------------------------------------------------------------------------
# build cache

def test_cache_hit_does_not_recompile(tmp_cache):
    spec = spec_of("#include <immintrin.h>\n" + ADD + f"// unique {time.time_ns()}\n", entry="add")
    before = dict(build_mod.stats)
    t0 = time.perf_counter()
    lib = build(spec)
    first = time.perf_counter() - t0
    assert build_mod.stats["compiles"] == before["compiles"] + 1
    assert lib.exists() and lib.name == "lib.so" and str(lib).startswith(str(tmp_cache))
    assert (lib.parent / "input.cpp").read_text() == spec.sources[0][1]      # sources kept for debugging
    mtime = lib.stat().st_mtime_ns
    t0 = time.perf_counter()
    again = build(BuildSpec(**{f: getattr(spec, f) for f in ("sources", "compiler", "flags", "entry")}))
    hit = time.perf_counter() - t0
    assert again == lib and lib.stat().st_mtime_ns == mtime
    assert build_mod.stats["compiles"] == before["compiles"] + 1
    assert build_mod.stats["hits"] == before["hits"] + 1
    print(f"compile {first * 1e3:.1f} ms, cache hit {hit * 1e3:.3f} ms")
    assert hit < 0.02 and hit < first / 10, (hit, first)
    # anything that decides the result changes the key
    assert build(spec_of(spec.sources[0][1], flags=(*VNNI_FLAGS, "-DX=1"), entry="add")) != lib
    assert not list(tmp_cache.glob("build/.tmp-*"))                         # no temp dirs left


def test_concurrent_builds_compile_once(tmp_cache):
    import threading
    spec = spec_of("#include <immintrin.h>\n" + ADD + f"// concurrent {time.time_ns()}\n", entry="add")
    before = build_mod.stats["compiles"]
    results = []
    threads = [threading.Thread(target=lambda: results.append(build(spec))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and len(set(results)) == 1 and results[0].exists()
    assert build_mod.stats["compiles"] == before + 1


def test_runtime_header_change_rebuilds(tmp_cache, tmp_path):
    inc = tmp_path / "inc"
    inc.mkdir()
    (inc / "value.h").write_text("#define VALUE 1.0f\n")
    src = '#include "value.h"\nextern "C" void f(float *o) { o[0] = VALUE; }\n'
    spec = spec_of(src, flags=(*VNNI_FLAGS, f"-I{inc}"))
    out = np.zeros(1, np.float32)
    call(build(spec), "f", [out])
    assert out[0] == 1.0
    (inc / "value.h").write_text("#define VALUE 2.0f\n")
    call(build(spec), "f", [out])
    assert out[0] == 2.0


def test_compile_error_names_the_users_file(tmp_cache):
    with pytest.raises(CompileError) as info:
        xpiler.run('extern "C" void f(float *a) {\n  a[0] = 1\n}\n', [np.zeros(1, np.float32)])
    msg = str(info.value)
    assert msg.startswith("g++ failed to compile <input> (exit 1):")
    assert "<input>:2:11: error: expected ';' before '}' token" in msg
    assert str(tmp_cache) not in msg and "input.cpp" not in msg and ".tmp-" not in msg


def test_buildspec_validation():
    with pytest.raises(ValueError, match="plain file name"):
        BuildSpec(sources=(("../x.cpp", ""),), compiler="g++", flags=(), entry="f")
    with pytest.raises(ValueError, match="at least one source"):
        BuildSpec(sources=(), compiler="g++", flags=(), entry="f")
    with pytest.raises(ToolMissing, match="no-such-compiler"):
        build(BuildSpec(sources=(("a.c", ""),), compiler="no-such-compiler", flags=(), entry="f"))


# ---------------------------------------------------------------------------------------------
# calls and failures

def test_run_writes_outputs_and_per_call_overhead():
    a, b = np.arange(1000, dtype=np.float32), np.linspace(-1, 1, 1000, dtype=np.float32)
    out = np.full(1000, 7.0, np.float32)
    xpiler.run(ADD, [a, b, out, 1000])
    np.testing.assert_array_equal(out, a + b)
    lib = build(xpiler.oracle.prepare(ADD))
    times = []
    for _ in range(15):
        t0 = time.perf_counter()
        call(lib, "add", [a, b, out, 1000])
        times.append(time.perf_counter() - t0)
    median = sorted(times)[len(times) // 2]
    print(f"per-call overhead: median {median * 1e3:.2f} ms")
    assert median < 0.05


def test_segfault_raises_program_crash_and_caller_survives():
    src = 'extern "C" void f(float *a) { a[0] = 1; *(volatile int *)0 = 1; }'
    with pytest.raises(ProgramCrash, match=r"^f: the program crashed with SIGSEGV \(Segmentation fault\)$"):
        xpiler.run(src, [np.zeros(4, np.float32)])
    out = np.zeros(3, np.float32)
    xpiler.run(ADD, [np.ones(3, np.float32), np.ones(3, np.float32), out, 3])   # still alive, still working
    np.testing.assert_array_equal(out, [2, 2, 2])


def test_abort_and_exit_status_carry_stderr():
    src = '#include <cstdio>\n#include <cstdlib>\nextern "C" void f(float *a) { fprintf(stderr, "bad shape 7\\n"); abort(); }'
    with pytest.raises(ProgramCrash) as info:
        xpiler.run(src, [np.zeros(1, np.float32)])
    assert str(info.value) == "f: the program crashed with SIGABRT (Aborted); stderr: bad shape 7"
    with pytest.raises(ProgramCrash, match=r"^g: the program exited with status 3$"):
        xpiler.run('#include <stdlib.h>\nvoid g(float *a) { exit(3); }', [np.zeros(1, np.float32)])


def test_infinite_loop_times_out_within_the_limit():
    src = 'extern "C" void spin(volatile int *flag) { while (flag[0] == 0) { } }'
    t0 = time.perf_counter()
    with pytest.raises(ProgramTimeout, match=r"^spin: did not finish within 0.5 s and was killed$"):
        xpiler.run(src, [np.zeros(1, np.int32)], timeout=0.5)
    assert time.perf_counter() - t0 < 1.5


def test_emulation_fault_message():
    src = ('#include <cstdio>\n#include <unistd.h>\n'
           'extern "C" void f(float *a) { fprintf(stderr, "XPILER_FAULT: out-of-bounds read of A[4096]\\n"); _exit(86); }')
    with pytest.raises(EmulationFault) as info:
        xpiler.run(src, [np.zeros(1, np.float32)])
    assert str(info.value) == "out-of-bounds read of A[4096]"


def test_out_of_bounds_writes_are_caught_by_guard_bytes():
    a, out = np.zeros(16, np.float32), np.zeros(16, np.float32)
    with pytest.raises(EmulationFault, match=r"^out-of-bounds write: the program wrote past the end of argument 1 "
                                             r"\(float32 array of shape \(16,\)\)"):
        xpiler.run('extern "C" void f(float *a, float *o) { for (int i = 0; i <= 16; ++i) o[i] = a[0]; }', [a, out])
    with pytest.raises(EmulationFault, match=r"before the start of argument 0"):
        xpiler.run('extern "C" void g(float *a) { a[-1] = 3; }', [a])
    s = shared_empty(16)
    with pytest.raises(EmulationFault, match=r"past the end of argument 0"):
        xpiler.run('extern "C" void h(float *a) { a[16] = 3; }', [s])


def test_scalars_and_their_c_types():
    src = """
#include <cstdint>
extern "C" void f(double *out, int i, float x, double d, long long l, int8_t c, unsigned char u) {
  out[0] = i; out[1] = x; out[2] = d; out[3] = (double)l; out[4] = c; out[5] = u;
  out[6] = sizeof(x) == 4 && x == 0.1f;
}"""
    out = np.zeros(7)
    xpiler.run(src, [out, -7, 0.1, np.float64(0.1), np.int64(2**40), np.int8(-5), np.uint8(250)])
    np.testing.assert_array_equal(out, [-7, np.float32(0.1), 0.1, 2.0**40, -5, 250, 1])


def test_wrong_argument_types_give_clear_errors():
    a = np.zeros((4, 4), np.float32)
    cases = [
        (["x"], "argument 0: cannot pass a str to C; expected a numpy array (pointer), an int (C int), "
                "a float (C float) or a numpy scalar"),
        ([[1.0, 2.0]], "argument 0: cannot pass a list to C"),
        ([a.T], "argument 0: array of shape (4, 4) is not C-contiguous; pass numpy.ascontiguousarray(...)"),
        ([a[:, 1]], "argument 0: array of shape (4,) is not C-contiguous"),
        ([np.array([object()])], "argument 0: arrays of dtype object cannot be passed to C"),
        ([a, 2**40], "argument 1: int 1099511627776 does not fit a C int; pass numpy.int64(1099511627776)"),
        ([a, np.float16(1)], "argument 1: numpy scalar of type float16 has no C type"),
        ([a, None], "argument 1: cannot pass a NoneType to C"),
    ]
    for args, message in cases:
        with pytest.raises(ArgumentError) as info:
            xpiler.run('extern "C" void f(float *a) { a[0] = 1; }', args)
        assert str(info.value).startswith(message), str(info.value)
        assert isinstance(info.value, TypeError) and isinstance(info.value, RunError)
    with pytest.raises(ArgumentError, match="timeout must be a positive number"):
        xpiler.run('extern "C" void f(float *a) { a[0] = 1; }', [a], timeout=0)


def test_aliasing_and_shared_arrays():
    src = 'extern "C" void f(float *a, float *b, int n) { for (int i = 0; i < n; ++i) b[i] += a[i]; }'
    x = np.arange(8, dtype=np.float32)
    xpiler.run(src, [x, x, 8])                         # in place: the same buffer twice
    np.testing.assert_array_equal(x, 2 * np.arange(8))
    y = np.arange(8, dtype=np.float32)
    xpiler.run(src, [y[:4], y[2:6], 4])                # overlapping views keep their aliasing
    np.testing.assert_array_equal(y, [0, 1, 2, 4, 6, 9, 6, 7])
    s = shared_array(np.arange(8, dtype=np.float32))  # already shared: passed without a copy
    t = shared_empty(8)
    t[:] = 1
    xpiler.run(src, [s, t, 8])
    np.testing.assert_array_equal(t, np.arange(8) + 1)
    ro = np.arange(4, dtype=np.float32)
    ro.flags.writeable = False
    out = np.zeros(4, np.float32)
    xpiler.run(src, [ro, out, 4])
    np.testing.assert_array_equal(out, ro)


def test_check_registers_buffers_with_the_runtime_hook():
    src = """
#include <cstddef>
static size_t sizes[8]; static void *addrs[8]; static int count;
extern "C" void xpiler_register_buffer(void *p, size_t n) { addrs[count] = p; sizes[count++] = n; }
extern "C" void f(float *a, double *info) {
  info[0] = count;
  for (int i = 0; i < count; ++i) info[1 + i] = (double)sizes[i];
  info[4] = addrs[0] == (void *)a;
}"""
    a, info = np.zeros(5, np.float32), np.zeros(6)
    xpiler.run(src, [a, info], entry="f", check=True)
    np.testing.assert_array_equal(info, [2, 20, 48, 0, 1, 0])
    info[:] = 0
    xpiler.run(src, [a, info], entry="f", check=False)
    np.testing.assert_array_equal(info, [0, 0, 0, 0, 0, 0])


def test_program_stderr_is_forwarded_on_success(capsys):
    xpiler.run('#include <cstdio>\nextern "C" void f(float *a) { fprintf(stderr, "note: hello\\n"); }',
               [np.zeros(1, np.float32)])
    assert "note: hello" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# entries, dialects, backends

def test_entry_resolution():
    assert default_entry(ADD, "vnni") == "add"
    plain_c = "static float sq(float v) { return v * v; }\nfloat helper(float v) { return sq(v); }\n" \
              "void op(float *restrict a) { a[0] = helper(a[0]); }\nint main(void) { return 0; }\n"
    assert default_entry(plain_c, "vnni") == "op"
    x = np.array([3.0], np.float32)
    xpiler.run(plain_c, [x])
    assert x[0] == 9.0
    two = 'extern "C" { void a(float *x) { x[0] = 1; }\nvoid b(float *x) { x[0] = 2; } }'
    with pytest.raises(EntryError, match=r'several extern "C" host functions \(a, b\); pass entry='):
        xpiler.run(two, [x])
    xpiler.run(two, [x], entry="b")
    assert x[0] == 2.0
    with pytest.raises(RunError, match=r"^entry 'c' is not an exported function of the program \(exported: a, b\)$"):
        xpiler.run(two, [x], entry="c")
    with pytest.raises(EntryError, match="several functions that could be the entry"):
        default_entry("void p(float *a) { }\nvoid q(float *a) { }\n", "vnni")
    cuda = "__global__ void __launch_bounds__(256) scale(float *__restrict__ a) { a[threadIdx.x] *= 2; }"
    assert default_entry(cuda, "cuda") == "scale_kernel"
    with pytest.raises(EntryError, match=r"several kernels \(k1, k2\)"):
        default_entry("__global__ void k1(float *a) {}\n__global__ void k2(float *a) {}", "cuda")
    host = 'extern "C" __global__ void k(float *a) {}\nextern "C" void k_host(float *a) { k<<<1, 1>>>(a); }'
    assert default_entry(host, "cuda") == "k_host"


def test_functions_scanner():
    src = """
// void commented(int x) { }
#define M(x) (x)
template <typename T> __device__ T twice(T v) { return v + v; }
namespace ns { inline int helper(int a) { return a; } }
struct S { int f() { return 1; } };
static const char *name = "void fake(int) {";
extern "C" {
__global__ void __launch_bounds__(1024) kern(float *__restrict__ A) { if (A) { A[0] = 1; } }
}
extern "C" __mlu_global__ void bang_k(float *x) { }
"""
    fns = {f.name: f for f in functions(src)}
    assert set(fns) == {"twice", "helper", "kern", "bang_k"}
    assert "template" in fns["twice"].qualifiers and not fns["twice"].is_host
    assert fns["kern"].extern_c and fns["kern"].is_kernel and fns["kern"].params == "float *__restrict__ A"
    assert fns["bang_k"].is_kernel and fns["helper"].is_host and not fns["helper"].extern_c


def test_c_and_cpp_flavours():
    cpp_without_extern = "#include <cmath>\nvoid op(float *a) { a[0] = std::sqrt(a[0]); }\n"
    x = np.array([16.0], np.float32)
    xpiler.run(cpp_without_extern, [x])          # C++ without extern "C": the entry gets it
    assert x[0] == 4.0
    c_only = "#include <stdlib.h>\nvoid op(float *a) { float *t = malloc(4); t[0] = 5; a[0] = t[0]; free(t); }\n"
    xpiler.run(c_only, [x])                      # implicit void* conversion: valid C only
    assert x[0] == 5.0
    xpiler.run(c_only, [x], lang="c")
    xpiler.run(ADD, [x, x, x, 1], lang="c")       # "c" is an alias: extern "C" text still builds as C++
    assert x[0] == 10.0
    with pytest.raises(CompileError, match="invalid conversion from 'void\\*' to 'float\\*'"):
        xpiler.run(c_only.replace("5", "6"), [x], lang="cpp")


def test_backend_selection_errors(monkeypatch):
    a = np.zeros(1, np.float32)
    with pytest.raises(EntryError, match="vnni programs run natively on this CPU only"):
        xpiler.run(ADD, [a], backend="emulate")
    with pytest.raises(EntryError, match=r"backend must be one of 'auto', 'emulate', 'native', got 'gpu'"):
        xpiler.run(ADD, [a], backend="gpu")
    with pytest.raises(ToolMissing, match="no native bang device here"):
        xpiler.run("__mlu_global__ void k(float *x) {}", [a], backend="native")
    monkeypatch.setenv("XPILER_NO_GPU", "1")
    with pytest.raises(ToolMissing, match="backend='native' needs an NVIDIA GPU and nvcc: no NVIDIA GPU found"):
        xpiler.run("__global__ void k(float *x) {}", [a], backend="native")
    monkeypatch.setitem(xpiler.oracle._MODULES["bang"], "emulate", "no_such_backend")
    with pytest.raises(ToolMissing, match=r"\(xpiler\.oracle\.no_such_backend\) is not available yet, so bang "
                                          r"programs cannot run"):
        xpiler.run("__mlu_global__ void k(float *x) {}", [a])


def test_import_xpiler_stays_light():
    import subprocess
    import sys
    code = "import sys, xpiler; assert 'numpy' not in sys.modules; xpiler.run; assert 'xpiler.oracle' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------------------------
# planted bug: the suite check must catch a wrong VNNI GEMM

def test_planted_bug_swapped_dpbusd_operands_is_detected():
    entry = suite.load_manifest("vnni").get("gemm_u8s8_dpbusd_packed.cpp")
    good = entry.source
    call_text = "_mm512_dpbusd_epi32(acc[v], a, _mm512_loadu_si512(bp + v * 64))"
    assert call_text in good
    mutant = good.replace(call_text, "_mm512_dpbusd_epi32(acc[v], _mm512_loadu_si512(bp + v * 64), a)")
    assert suite.check_program(entry, "vnni").passed
    result = suite.check_program(entry, "vnni", src=mutant)
    assert not result.passed and not result
    assert result.outputs[0].mismatches > 0.9 * 64 * 64
    assert "FAIL" in result.summary() and result.max_abs_err > 1000
    with pytest.raises(AssertionError, match=r"vnni/gemm_u8s8_dpbusd_packed.cpp: output 'C' \(gemm\)"):
        result.assert_ok()


# ---------------------------------------------------------------------------------------------
# toolchains

def test_compile_check_vnni_and_missing_tools(monkeypatch):
    ok = toolchains.compile_check(ADD, "vnni")
    assert ok.ok and not ok.skipped and ok and ok.reason == "compiled with g++"
    bad = toolchains.compile_check('extern "C" void f() { int x = ; }', "vnni")
    assert not bad.ok and not bad.skipped and bad.reason == "g++ failed (exit 1)"
    assert re.search(r"<input>:1:\d+: error: expected primary-expression", bad.output)
    bang = toolchains.compile_check("__mlu_global__ void k(float *x) {}", "bang")
    if toolchains.find("cncc") is None:
        assert bang.skipped and not bang.ok and "no BANG compiler (cncc)" in bang.reason
    monkeypatch.setattr(toolchains, "find", lambda tool: None)
    missing = toolchains.compile_check("__global__ void k2(float *x) {}", "cuda")
    assert missing.skipped and not missing.ok and missing.reason == "skipped: nvcc not installed"


@pytest.mark.parametrize("lang,src", [
    ("cuda", "__global__ void k(float *a) { a[threadIdx.x] = 1.0f; }"),
    ("hip", '#include "hip/hip_runtime.h"\n__global__ void k(float *a) { a[hipThreadIdx_x] = 1.0f; }'),
])
def test_compile_check_gpu_compilers(lang, src):
    tool = {"cuda": "nvcc", "hip": "hipcc"}[lang]
    result = toolchains.compile_check(src, lang)
    if toolchains.find(tool) is None:
        assert result.skipped and result.reason == f"skipped: {tool} not installed"
        return
    assert result.ok, result.output
    broken = toolchains.compile_check(src.replace("1.0f;", "1.0f"), lang)
    assert not broken.ok and not broken.skipped and "<input>" in broken.output


def test_gpu_detection_never_initialises_cuda(monkeypatch):
    monkeypatch.setenv("XPILER_NO_GPU", "1")
    assert toolchains.nvidia_gpus() == () and not toolchains.can_run_cuda()
    assert toolchains.cuda_missing_reason() == "no NVIDIA GPU found (XPILER_NO_GPU is set)"
    info = toolchains.describe()
    assert info["g++"] and info["cuda_native"] is False
