"""Backend ``cuda``/``hip``: CPU emulation of the SIMT model (runtime/simt_emu.h, runtime/fibers.h).

``prepare(src, lang="cuda"|"hip", entry=..., launch=..., check=...)`` returns the
:class:`~xpiler.oracle.build.BuildSpec` that compiles the program with g++ (C++17) against the
emulation: ``runtime/simt_emu.h`` is force-included and ``runtime/include`` shadows the real
``cuda_runtime.h``, ``cuda_fp16.h``, ``mma.h``, ``hip/hip_runtime.h``, ... (semantics at the top of
simt_emu.h). The text goes through a small preparation that keeps every line where it was (compiler
messages point at the user's lines, ``#line`` directives name the file ``input.cu``/``input.hip``):

- ``#include <cuda_runtime.h>``, ``<cuda_fp16.h>``, ``<mma.h>``, ``<hip/...>`` become comments:
  simt_emu.h provides them (the fake headers of runtime/include remain for indirect includes);

- ``k<<<g, b, sh, st>>>(args)`` becomes ``::xsimt::launcher_named("k", k, g, b, sh, st)(args)``;
- ``extern __shared__ T s[];`` becomes ``T *s = (T *)::xsimt::dyn_shared();`` (a ``#define`` at file
  scope): the block's dynamic shared memory, of the size the launch gives;
- ``static __shared__`` loses the ``static`` (``__shared__`` is ``static thread_local``);
- clang's ``__attribute__((ext_vector_type(N)))`` typedefs become GCC ``__vector_size__`` ones.

Bare kernels (no host entry) get an ``extern "C" K_kernel(params)`` wrapper (appended) that launches
``K`` with ``launch=`` or the defaults of conventions.md (:func:`default_launch`): a kernel with
``__launch_bounds__(N)`` uses N threads per block (without it, N is the coefficient of ``blockIdx.x`` in
a guard ``blockIdx.x * N + threadIdx.x < bound`` when the kernel does not read ``blockDim``); the grid
is the smallest covering the guarded iteration space, from guards such as
``if (((int)blockIdx.x * 256 + (int)threadIdx.x) < n)``, ``if (idx >= n) return;`` (through local
definitions ``int idx = blockIdx.x * blockDim.x + threadIdx.x;``), grid-stride loops, or TVM's
``for (i = 0; i < 8; ++i) if (i * 262144 + blockIdx.x * 1024 + threadIdx.x < 2048000)`` (grid =
262144 / 1024); bounds may name scalar parameters (evaluated at call time). An axis whose
``blockIdx`` the kernel never reads gets 1 block. Anything else is an error asking for ``launch=``.

``check=True`` compiles with ``-DXSIMT_CHECK=1 -fsanitize=bounds``: guarded device allocations and
shadows of the registered host buffers, host pointers passed to kernels, cudaMemcpy ranges and
out-of-bounds indices into fixed-size arrays (shared tiles, locals) are faults
(:class:`~xpiler.errors.EmulationFault` naming the buffer, the index, the block and the thread).

Environment: ``XPILER_SIMT_THREADS`` (OS threads running blocks, default the CPU count, at most 8),
``XPILER_FIBER_STACK`` (bytes of stack per emulated thread, default 128 KiB), ``XPILER_SIMT_PCH=0``
(do not use the precompiled runtime header kept in the build cache, one per flag set).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import RunError, XpilerError

RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"
INCLUDE_DIR = RUNTIME_DIR / "include"
FLAGS = ("-std=c++17", "-O2", "-fno-strict-aliasing", "-fstack-clash-protection", "-w", "-pthread")
CHECK_FLAGS = ("-DXSIMT_CHECK=1", "-fsanitize=bounds", "-fno-sanitize-recover=bounds")
SOURCE_NAME = "input.cpp"
GENERATED_FILE = "xpiler_simt_wrappers"
WARP = {"cuda": 32, "hip": 64}

__all__ = ["prepare", "prepare_source", "default_launch", "LaunchUnknown", "SimtPrepareError", "RUNTIME_DIR",
           "INCLUDE_DIR"]


class SimtPrepareError(RunError):
    """The CUDA/HIP program cannot be prepared for the emulation (unknown entry, template kernel...)."""


class LaunchUnknown(SimtPrepareError):
    """The launch configuration of a bare kernel cannot be derived: pass ``launch=``."""


# ---------------------------------------------------------------------------------------------
# Masking: comments, strings and preprocessor lines blanked (same length, same line breaks).

_MASK_RE = re.compile(r"//[^\n]*|/\*.*?\*/|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'", re.S)
_PP_RE = re.compile(r"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*", re.M)


def _mask(text: str, preprocessor: bool = True) -> str:
    def blank(m):
        s = m.group(0)
        if s[0] in "\"'":
            return s[0] + re.sub(r"[^\n]", " ", s[1:-1]) + s[-1]
        return re.sub(r"[^\n]", " ", s)
    out = _MASK_RE.sub(blank, text)
    if preprocessor:
        out = _PP_RE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), out)
    return out


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    """Apply non-overlapping (start, end, replacement) edits."""
    out, pos = [], 0
    for start, end, repl in sorted(edits, key=lambda e: (e[0], e[1])):
        if start < pos:
            continue
        out.append(text[pos:start])
        out.append(repl)
        pos = end
    out.append(text[pos:])
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# The textual preparation.

def _rewrite_launches(text: str, masked: str) -> tuple[str, str]:
    """``callee<<<cfg>>>(args)`` -> ``::xsimt::launcher_named("callee", callee, cfg)(args)``."""
    edits = []
    pos = 0
    while True:
        i = masked.find("<<<", pos)
        if i < 0:
            break
        j = _match_launch_end(masked, i + 3)
        if j < 0:
            raise SimtPrepareError(f"line {masked.count(chr(10), 0, i) + 1}: '<<<' without a matching '>>>'")
        start = _callee_start(masked, i)
        if start is None:
            raise SimtPrepareError(f"line {masked.count(chr(10), 0, i) + 1}: cannot find the kernel launched by '<<<'")
        callee = re.sub(r"\s+", " ", text[start:i]).strip()
        edits.append((start, start, f'::xsimt::launcher_named("{callee}", '))
        edits.append((i, i + 3, ", "))
        edits.append((j, j + 3, ")"))
        pos = j + 3
    if not edits:
        return text, masked
    return _apply(text, edits), _apply(masked, edits)


def _match_launch_end(masked: str, k: int) -> int:
    depth = 0
    while k < len(masked):
        if masked.startswith(">>>", k) and depth == 0:
            return k
        c = masked[k]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        k += 1
    return -1


def _callee_start(masked: str, i: int) -> int | None:
    k = i
    while k > 0 and masked[k - 1].isspace():
        k -= 1
    while True:
        if k > 0 and masked[k - 1] == ">":  # template arguments
            depth = 0
            m = k - 1
            while m >= 0:
                if masked[m] == ">":
                    depth += 1
                elif masked[m] == "<":
                    depth -= 1
                    if depth == 0:
                        break
                m -= 1
            if m < 0:
                return None
            k = m
            while k > 0 and masked[k - 1].isspace():
                k -= 1
        e = k
        while k > 0 and (masked[k - 1].isalnum() or masked[k - 1] == "_"):
            k -= 1
        if k == e:
            return None
        if k >= 2 and masked[k - 2:k] == "::":
            k -= 2
            continue
        return k


_EXTERN_SHARED = re.compile(
    r"\bextern\s+((?:(?:volatile|__shared__|__align__\s*\(\s*[^()]*\)|alignas\s*\(\s*[^()]*\)|"
    r"__attribute__\s*\(\([^;]*?\)\))\s+)*)([A-Za-z_][\w:<>, ]*?[\w>])\s*\b([A-Za-z_]\w*)\s*\[\s*\]\s*;")


def _rewrite_extern_shared(text: str, masked: str) -> tuple[str, str]:
    edits = []
    for m in _EXTERN_SHARED.finditer(masked):
        quals = m.group(1)
        if "__shared__" not in quals:
            continue
        ctype = text[m.start(2):m.end(2)].strip()
        name = m.group(3)
        volatile = "volatile " if "volatile" in quals else ""
        newlines = "\n" * text[m.start():m.end()].count("\n")   # keep the number of lines
        if _brace_depth(masked, m.start()) > 0:
            repl = f"{volatile}{ctype} *{name} = ({volatile}{ctype} *)::xsimt::dyn_shared();" + newlines
        else:  # file scope: a macro, valid in every kernel that follows
            line_start = masked.rfind("\n", 0, m.start()) + 1
            line_end = masked.find("\n", m.end())
            if masked[line_start:m.start()].strip() or masked[m.end():line_end if line_end >= 0 else None].strip():
                raise SimtPrepareError(f"line {masked.count(chr(10), 0, m.start()) + 1}: put a file-scope "
                                       f"'extern __shared__' declaration on a line of its own")
            repl = f"#define {name} (({volatile}{ctype} *)::xsimt::dyn_shared())" + newlines
        edits.append((m.start(), m.end(), repl))
    if not edits:
        return text, masked
    return _apply(text, edits), _apply(masked, edits)


def _brace_depth(masked: str, pos: int) -> int:
    return masked.count("{", 0, pos) - masked.count("}", 0, pos)


_SIMT_INCLUDE = re.compile(
    r"^([ \t]*#[ \t]*include[ \t]*[<\"](?:cuda_runtime|cuda_runtime_api|cuda|cuda_fp16|cuda_bf16|mma|"
    r"device_launch_parameters|device_functions|hip/[\w/]+)\.h[>\"][^\n]*)$", re.M)


def _comment_out_includes(text: str) -> str:
    """``#include <cuda_runtime.h>`` / ``<mma.h>`` / ``<hip/...>``: provided by simt_emu.h (the line stays)."""
    masked = _mask(text, preprocessor=False)   # comments blanked ("..." contents too: match the raw text)
    starts = [m.start(1) for m in _SIMT_INCLUDE.finditer(text) if masked[m.start(1):m.end(1)].lstrip().startswith("#")]
    for start in reversed(starts):
        text = text[:start] + "// (xpiler: provided by the emulation) " + text[start:]
    return text


_STATIC_SHARED = re.compile(r"\bstatic(\s+)(?=(?:volatile\s+)?__shared__\b)")
_EXT_VECTOR_TYPEDEF = re.compile(
    r"\btypedef\s+([A-Za-z_][\w: ]*?)\s+([A-Za-z_]\w*)\s+__attribute__\s*\(\(\s*ext_vector_type\s*\(\s*(\w+)\s*\)\s*\)\)")
_EXT_VECTOR_USING = re.compile(
    r"\busing\s+([A-Za-z_]\w*)\s*=\s*([A-Za-z_][\w: ]*?)\s*__attribute__\s*\(\(\s*ext_vector_type\s*\(\s*(\w+)\s*\)\s*\)\)")


_MALLOC_CAST = re.compile(r"\b((?:cuda|hip)(?:Malloc|MallocManaged|MallocHost|HostMalloc|HostAlloc)\s*\(\s*)"
                          r"(\(\s*void\s*\*\s*\*\s*\)|reinterpret_cast\s*<\s*void\s*\*\s*\*\s*>)\s*(?=\(?\s*&)")


def _rewrite_misc(text: str, masked: str) -> tuple[str, str]:
    edits = []
    # cudaMalloc((void **)&p, n) -> cudaMalloc(&p, n): the runtime learns p's element type (checking
    # mode reports element indices)
    for m in _MALLOC_CAST.finditer(masked):
        edits.append((m.start(2), m.end(), " " * (m.end() - m.start(2))))
    for m in _STATIC_SHARED.finditer(masked):
        edits.append((m.start(), m.end(), " " * (m.end() - m.start())))
    for m in _EXT_VECTOR_TYPEDEF.finditer(masked):
        t, name, n = m.group(1).strip(), m.group(2), m.group(3)
        edits.append((m.start(), m.end(), f"typedef {t} {name} __attribute__((__vector_size__(({n}) * sizeof({t}))))"))
    for m in _EXT_VECTOR_USING.finditer(masked):
        name, t, n = m.group(1), m.group(2).strip(), m.group(3)
        edits.append((m.start(), m.end(), f"using {name} = {t} __attribute__((__vector_size__(({n}) * sizeof({t}))))"))
    if not edits:
        return text, masked
    return _apply(text, edits), _apply(masked, edits)


# ---------------------------------------------------------------------------------------------
# Kernels and their parameters.

@dataclass
class Param:
    text: str          # the declaration as written
    name: str
    pointer: bool
    const_pointee: bool
    base: str          # the type with the name removed


@dataclass
class Kernel:
    name: str
    params: list[Param]
    head: str          # text from the declaration start to the body
    body: str          # masked body text (without braces)
    template: bool

    @property
    def launch_bounds(self) -> int | None:
        m = re.search(r"__launch_bounds__\s*\(\s*([^,()]+)", self.head)
        if not m:
            m = re.search(r"amdgpu_flat_work_group_size\s*\(\s*\d+\s*,\s*(\d+)", self.head)
        if not m:
            return None
        try:
            return int(_eval_int(m.group(1)))
        except (ValueError, SyntaxError, ZeroDivisionError):
            return None


def _split_top(s: str, sep: str = ",", angle: bool = True) -> list[str]:
    parts, depth, cur = [], 0, []
    opens, closes = ("(<[{", ")>]}") if angle else ("([{", ")]}")
    for c in s:
        if c in opens:
            depth += 1
        elif c in closes:
            depth -= 1
        if c == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    parts.append("".join(cur))
    return parts


def _params(text: str) -> list[Param]:
    text = text.strip()
    if not text or text == "void":
        return []
    out = []
    for i, p in enumerate(_split_top(text)):
        p = p.strip()
        decl = re.sub(r"=.*$", "", p, flags=re.S).strip()   # default argument
        m = re.search(r"([A-Za-z_]\w*)\s*(\[[^\]]*\]\s*)*$", decl)
        if not m or m.group(1) in ("int", "float", "double", "char", "unsigned", "long", "short", "void", "half"):
            out.append(Param(p, f"xsimt_arg{i}", "*" in decl, False, decl))
            continue
        name = m.group(1)
        base = decl[:m.start(1)] + decl[m.end(1):]
        pointer = "*" in decl or "[" in decl
        const = bool(re.match(r"\s*(const\b|[\w:<> ]*\bconst\s*\*)", decl)) and pointer
        out.append(Param(p, name, pointer, const, base.strip()))
    return out


def _kernels(src: str) -> tuple[dict[str, Kernel], dict[str, bool]]:
    """The kernels of ``src`` (by name) and the other functions (name -> is an extern "C" host function)."""
    from . import functions
    masked = _mask(src)
    kernels: dict[str, Kernel] = {}
    others: dict[str, bool] = {}
    for f in functions(src):
        if f.is_kernel:
            kernels[f.name] = Kernel(f.name, _params(f.params), src[f.head_start:f.body_start],
                                     masked[f.body_start + 1:f.body_end], "template" in f.qualifiers)
        else:
            others[f.name] = f.is_host
    return kernels, others


# ---------------------------------------------------------------------------------------------
# Default launch of bare kernels.

_AXES = "xyz"
_BUILTIN_RE = {
    "blockIdx": re.compile(r"\b(?:blockIdx\s*\.\s*([xyz])|hipBlockIdx_([xyz]))\b"),
    "threadIdx": re.compile(r"\b(?:threadIdx\s*\.\s*([xyz])|hipThreadIdx_([xyz]))\b"),
    "blockDim": re.compile(r"\b(?:blockDim\s*\.\s*([xyz])|hipBlockDim_([xyz]))\b"),
    "gridDim": re.compile(r"\b(?:gridDim\s*\.\s*([xyz])|hipGridDim_([xyz]))\b"),
}


def _uses(body: str, builtin: str) -> set[str]:
    return {a or b for a, b in _BUILTIN_RE[builtin].findall(body)}


class _NotLinear(Exception):
    pass


_TOKEN = re.compile(r"\s*(?:(0[xX][0-9a-fA-F]+|\d+)[uUlL]*|([A-Za-z_]\w*(?:\s*\.\s*[xyz]\b)?)|(<=|>=|==|!=|&&|\|\||<<|>>|[-+*/%()<>!]))")
_CAST_TYPES = {"int", "unsigned", "long", "short", "size_t", "int64_t", "int32_t", "uint32_t", "uint64_t",
               "signed", "unsigned int", "long long", "unsigned long", "unsigned long long", "ptrdiff_t"}


def _tokens(s: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    s = s.rstrip()
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if not m or m.end() == pos:
            raise _NotLinear(s[pos:])
        if m.group(1):
            out.append(("num", str(int(m.group(1), 0))))
        elif m.group(2):
            out.append(("id", re.sub(r"\s+", "", m.group(2))))
        else:
            out.append(("op", m.group(3)))
        pos = m.end()
    return out


class _Lin:
    """A linear form: {atom: coefficient} + constant; atoms are 'blockIdx.x', identifiers, ..."""

    def __init__(self, terms=None, const=0):
        self.terms = {k: v for k, v in (terms or {}).items() if v}
        self.const = const

    def __add__(self, o):
        t = dict(self.terms)
        for k, v in o.terms.items():
            t[k] = t.get(k, 0) + v
        return _Lin(t, self.const + o.const)

    def scale(self, c):
        return _Lin({k: v * c for k, v in self.terms.items()}, self.const * c)

    def __mul__(self, o):
        if not self.terms:
            return o.scale(self.const)
        if not o.terms:
            return self.scale(o.const)
        raise _NotLinear("product of variables")


class _Parser:
    """Recursive descent over + - * / (int), casts, parentheses; identifiers through ``defs``."""

    def __init__(self, toks, defs, block, depth=0):
        self.t, self.i, self.defs, self.block, self.depth = toks, 0, defs, block, depth

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else (None, None)

    def next(self):
        tok = self.peek()
        self.i += 1
        return tok

    def expr(self):
        v = self.term()
        while self.peek() in (("op", "+"), ("op", "-")):
            op = self.next()[1]
            r = self.term()
            v = v + (r if op == "+" else r.scale(-1))
        return v

    def term(self):
        v = self.unary()
        while self.peek() in (("op", "*"), ("op", "/")):
            op = self.next()[1]
            r = self.unary()
            if op == "*":
                v = v * r
            else:
                if v.terms or r.terms or r.const == 0:
                    raise _NotLinear("division")
                v = _Lin({}, int(v.const / r.const))
        return v

    def unary(self):
        kind, val = self.peek()
        if (kind, val) == ("op", "-"):
            self.next()
            return self.unary().scale(-1)
        if (kind, val) == ("op", "+"):
            self.next()
            return self.unary()
        if (kind, val) == ("op", "("):
            # cast?
            j = self.i + 1
            words = []
            while j < len(self.t) and self.t[j][0] == "id":
                words.append(self.t[j][1])
                j += 1
            if words and j < len(self.t) and self.t[j] == ("op", ")") and " ".join(words) in _CAST_TYPES:
                self.i = j + 1
                return self.unary()
            self.next()
            v = self.expr()
            if self.next() != ("op", ")"):
                raise _NotLinear("parenthesis")
            return v
        if kind == "num":
            self.next()
            return _Lin({}, int(val))
        if kind == "id":
            self.next()
            return self.atom(val)
        raise _NotLinear(str(val))

    def atom(self, name):
        m = re.fullmatch(r"(blockIdx|threadIdx|blockDim|gridDim)\.([xyz])", name) or \
            re.fullmatch(r"hip(Block|Thread)(Idx|Dim)_([xyz])", name)
        if m and name.startswith("hip"):
            name = {"BlockIdx": "blockIdx", "ThreadIdx": "threadIdx", "BlockDim": "blockDim"}.get(
                m.group(1) + m.group(2), "gridDim") + "." + m.group(3)
        if name.startswith("blockDim."):
            b = self.block.get(name[-1])
            if b is None:
                raise _NotLinear("blockDim")
            return _Lin({}, b)
        if name.startswith("gridDim."):
            raise _NotLinear("gridDim")
        if name.startswith(("blockIdx.", "threadIdx.")):
            return _Lin({name: 1})
        if name in self.defs and self.depth < 4:
            return _linear(self.defs[name], self.defs, self.block, self.depth + 1)
        return _Lin({name: 1})


def _linear(text: str, defs: dict, block: dict, depth: int = 0) -> _Lin:
    p = _Parser(_tokens(text), defs, block, depth)
    v = p.expr()
    if p.i != len(p.t):
        raise _NotLinear("trailing tokens")
    return v


def _eval_int(text: str) -> int:
    v = _linear(text, {}, {})
    if v.terms:
        raise ValueError(text)
    return v.const


def _balanced(s: str, i: int) -> int:
    """Index of the ')' matching the '(' at s[i]."""
    depth = 0
    for j in range(i, len(s)):
        if s[j] == "(":
            depth += 1
        elif s[j] == ")":
            depth -= 1
            if depth == 0:
                return j
    return -1


_DEF_RE = re.compile(r"(?:^|[;{}(])\s*(?:const\s+)?(?:unsigned\s+int|unsigned\s+long\s+long|unsigned\s+long|"
                     r"long\s+long|unsigned|int|long|size_t|int64_t|int32_t|uint32_t|uint64_t|auto)\s+"
                     r"([A-Za-z_]\w*)\s*=\s*([^;,]+)[;,]")


def _guards(body: str) -> tuple[list[tuple[str, str]], dict]:
    """Comparisons in if/for/while conditions (lhs, rhs as '<' bounds) and simple local definitions."""
    defs: dict[str, str] = {}
    serial = _loop_vars(body)
    for m in _DEF_RE.finditer(body):
        name, value = m.group(1), m.group(2)
        # a serial loop counter (`for (int o = 0; ...)`) stays a variable; a grid-stride loop's
        # counter (`for (int i = blockIdx.x * ...; ...)`) is its first value
        if name in serial and not _BUILTIN_RE["blockIdx"].search(value) and not _BUILTIN_RE["threadIdx"].search(value):
            continue
        defs.setdefault(name, value)
    conds = []
    for m in re.finditer(r"\b(if|while|for)\s*\(", body):
        i = m.end() - 1
        j = _balanced(body, i)
        if j < 0:
            continue
        inner = body[i + 1:j]
        if m.group(1) == "for":
            parts = _split_top(inner, ";", angle=False)
            if len(parts) != 3:
                continue
            inner = parts[1]
        conds.append(inner)
    out = []
    for cond in conds:
        for part in re.split(r"&&|\|\|", cond):
            part = part.strip()
            while part.startswith("(") and _balanced(part, 0) == len(part) - 1:
                part = part[1:-1].strip()
            m = re.fullmatch(r"(.+?)\s*(<=|>=|<|>)\s*(.+)", part, re.S)
            if not m or "<<" in part or ">>" in part:
                continue
            lhs, op, rhs = m.groups()
            if op == "<":
                out.append((lhs, rhs, 0))
            elif op == "<=":
                out.append((lhs, rhs, 1))
            elif op == ">":
                out.append((rhs, lhs, 0))
            else:  # a >= b: as an early-exit guard (if (i >= n) return;) i < b
                out.append((lhs, rhs, 0))
    return out, defs


def _loop_vars(body: str) -> set[str]:
    return set(re.findall(r"\bfor\s*\(\s*(?:[\w:]+\s+)+([A-Za-z_]\w*)\s*=", body))


def default_launch(kernel: Kernel, params: list[Param] | None = None) -> tuple[tuple[str, str, str], tuple[int, int, int]]:
    """The default launch of a bare kernel: grid (as C expressions over the scalar parameters) and block.

    Raises :class:`LaunchUnknown` when it cannot be derived (module docstring)."""
    body = kernel.body
    params = kernel.params if params is None else params
    scalars = {p.name for p in params if not p.pointer}
    uses_t = _uses(body, "threadIdx")
    uses_b = _uses(body, "blockIdx")
    need = f"pass launch={{'grid': [...], 'block': [...]}} for kernel {kernel.name}"
    bounds = kernel.launch_bounds
    guards, defs = _guards(body)
    loops = _loop_vars(body)
    block = None
    if bounds is not None:
        if uses_t - {"x"}:
            raise LaunchUnknown(f"kernel {kernel.name} has __launch_bounds__({bounds}) but uses threadIdx."
                                f"{'/'.join(sorted(uses_t - {'x'}))}: the block shape is unknown; {need}")
        block = (bounds, 1, 1)
    elif not _uses(body, "blockDim") and not (uses_t - {"x"}):
        # hand-written guard `blockIdx.x * N + threadIdx.x < bound`: N threads per block
        for lhs, _, _ in guards:
            try:
                v = _linear(lhs, defs, {})
            except (_NotLinear, RecursionError):
                continue
            cb, ct = v.terms.get("blockIdx.x", 0), v.terms.get("threadIdx.x", 0)
            if cb > 1 and ct == 1 and set(v.terms) <= {"blockIdx.x", "threadIdx.x"}:
                block = (cb, 1, 1)
                break
        if block is None and not uses_t:
            block = (1, 1, 1)
    if block is None:
        raise LaunchUnknown(f"kernel {kernel.name} has no __launch_bounds__ and its block size cannot be derived "
                            f"from a guard; {need}")
    bdims = {"x": block[0], "y": block[1], "z": block[2]}
    grid = []
    for axis in _AXES:
        if axis not in uses_b:
            grid.append("1")
            continue
        found = []
        for lhs, rhs, inclusive in guards:
            try:
                v = _linear(lhs, defs, bdims)
            except (_NotLinear, RecursionError):
                continue
            cb = v.terms.get(f"blockIdx.{axis}", 0)
            if cb <= 0:
                continue
            others = {k: c for k, c in v.terms.items() if k != f"blockIdx.{axis}"}
            if any(c < 0 for c in others.values()) or any(
                    not (k.startswith("threadIdx.") or k in loops) for k in others):
                continue
            bexpr = _bound_expr(rhs, defs, bdims, scalars, inclusive - v.const)
            if bexpr is None:
                continue
            strides = [c for k, c in others.items() if k in loops and c % cb == 0 and c > 0]
            if strides:
                found.append(str(min(strides) // cb))
            else:
                found.append(f"(({bexpr}) + {cb - 1}LL) / {cb}LL" if cb > 1 else f"({bexpr})")
        if not found:
            raise LaunchUnknown(f"kernel {kernel.name} reads blockIdx.{axis} but no guard bounds it (like "
                                f"'if (blockIdx.{axis} * N + threadIdx.{axis} < bound)'); {need}")
        grid.append(found[0] if len(found) == 1 else "::std::max<long long>({" + ", ".join(found) + "})")
    return tuple(grid), block


def _bound_expr(rhs: str, defs: dict, bdims: dict, scalars: set, add: int) -> str | None:
    """The bound of a guard as a C expression over constants and scalar parameters (None if it is not one)."""
    try:
        bound = _linear(rhs, defs, bdims)
        if any(k not in scalars for k in bound.terms):
            return None
        return _c_expr(bound, add)
    except (_NotLinear, RecursionError):
        pass
    text = rhs
    for _ in range(3):  # substitute local definitions
        text = re.sub(r"\b[A-Za-z_]\w*\b", lambda m: f"({defs[m.group(0)]})" if m.group(0) in defs else m.group(0), text)
    try:
        toks = _tokens(text)
    except _NotLinear:
        return None
    for kind, val in toks:
        if kind == "id" and val not in scalars and val not in _CAST_WORDS:
            return None
        if kind == "op" and val in ("<", ">", "<=", ">=", "==", "!=", "&&", "||", "!"):
            return None
    return f"(long long)({text}) + {add}LL"


_CAST_WORDS = {w for t in _CAST_TYPES for w in t.split()}


def _c_expr(v: _Lin, add: int) -> str:
    parts = [f"{c}LL * (long long)({k})" if c != 1 else f"(long long)({k})" for k, c in v.terms.items()]
    const = v.const + add
    if const or not parts:
        parts.append(f"{const}LL")
    return " + ".join(parts)


def _grid_text(grid) -> str:
    return ", ".join(f"(unsigned)::std::max<long long>(1LL, {g})" for g in grid)


# ---------------------------------------------------------------------------------------------
# prepare

def resolve_entry(src: str, lang: str, entry: str | None, launch):
    """``(launch, kernels, other functions, entry symbol)`` of a program: the entry given, the
    default one, or ``K_kernel`` for a bare kernel ``K``."""
    if not isinstance(src, str):
        raise SimtPrepareError(f"src must be the program text (str), got {type(src).__name__}")
    from ..launch import Launch
    launch = Launch.coerce(launch)
    kernels, others = _kernels(src)
    if entry is None:
        from . import default_entry
        entry = default_entry(src, lang)
        if entry is None:
            raise SimtPrepareError("no extern \"C\" host entry and no kernel found; pass entry=")
    elif entry in kernels and not others.get(entry):
        entry = entry + "_kernel"
    return launch, kernels, others, entry


def prepare_source(src: str, *, lang: str = "cuda", entry: str | None = None, launch=None,
                   check: bool = False) -> tuple[str, str]:
    """The C++ translation unit for ``src`` and the entry symbol to call."""
    launch, kernels, others, entry = resolve_entry(src, lang, entry, launch)
    wrapper = ""
    names: list[str] = []
    if entry in others:
        from . import functions
        f = next(f for f in functions(src) if f.name == entry)
        names = [p.name for p in _params(f.params) if p.pointer]
    elif entry.endswith("_kernel") and entry[:-7] in kernels:
        k = kernels[entry[:-7]]
        if k.template:
            raise SimtPrepareError(f"kernel {k.name} is a template: it needs a host entry that instantiates it")
        wrapper, names = _wrapper(k, entry, launch, check)
    else:
        known = sorted(set(others) | {k + "_kernel" for k, v in kernels.items() if not v.template})
        raise SimtPrepareError(f"entry {entry!r} is not defined in the {lang} program (functions: "
                               f"{', '.join(known) or 'none'})")
    text = _comment_out_includes(src)
    masked = _mask(text)
    text, masked = _rewrite_misc(text, masked)
    text, masked = _rewrite_extern_shared(text, masked)
    text, masked = _rewrite_launches(text, masked)
    user = "input.hip" if lang == "hip" else "input.cu"
    name_list = ", ".join(f'"{n}"' for n in names)
    tail = (f'\n#line 1 "{GENERATED_FILE}"\n'
            f'extern "C" const char *const xsimt_param_names[] = {{{name_list + ", " if names else ""}nullptr}};\n'
            + wrapper)
    return f'#line 1 "{user}"\n' + text + tail, entry


def _wrapper(k: Kernel, entry: str, launch, check: bool) -> tuple[str, list[str]]:
    if launch is not None and launch.is_simt:
        grid = tuple(str(g) for g in launch.grid)
        block = launch.block
    elif launch is not None:
        raise SimtPrepareError(f"launch={launch!r} is a BANG launch; a SIMT kernel needs grid= and block=")
    else:
        grid, block = default_launch(k)
    decl = ", ".join(p.text for p in k.params)
    lines = [f'extern "C" void {entry}({decl}) {{']
    args = []
    if check:
        lines.append("    ::xsimt::ShadowSet xsimt_shadows;")
    for p in k.params:
        if check and p.pointer:
            lines.append(f'    auto xsimt_s_{p.name} = xsimt_shadows.shadow({p.name}, "{p.name}");')
            args.append(f"xsimt_s_{p.name}")
        else:
            args.append(p.name)
    lines.append(f'    ::xsimt::launcher_named("{k.name}", {k.name}, dim3({_grid_text(grid)}), '
                 f'dim3({block[0]}u, {block[1]}u, {block[2]}u), 0)({", ".join(args)});')
    lines.append("}")
    return "\n".join(lines) + "\n", [p.name for p in k.params if p.pointer]


def prepare(src: str, *, lang: str = "cuda", entry: str | None = None, launch=None, check: bool = False,
            warp: int | None = None):
    """The :class:`BuildSpec` of a CUDA or HIP program (module docstring). ``warp`` overrides the
    warp size (32 for cuda, 64 for hip): e.g. 32 runs a HIP program as it would run on NVIDIA."""
    from .build import BuildSpec
    from ..dialects import canonical
    lang = canonical(lang)
    if lang not in ("cuda", "hip"):
        raise SimtPrepareError(f"the SIMT emulation runs cuda and hip programs, not {lang}")
    text, entry = prepare_source(src, lang=lang, entry=entry, launch=launch, check=check)
    flags = [*FLAGS, f"-I{INCLUDE_DIR}", f"-I{RUNTIME_DIR}"]
    if lang == "hip":
        flags.append("-DXSIMT_HIP=1")
    if check:
        flags.extend(CHECK_FLAGS)
    if warp is not None:
        if warp not in (32, 64):
            raise SimtPrepareError(f"warp must be 32 or 64, got {warp!r}")
        if warp != WARP[lang]:
            flags.append(f"-DXSIMT_WARP={warp}")
    flags += ["-include", _precompiled_header(tuple(flags))]
    user = "input.hip" if lang == "hip" else "input.cu"
    return BuildSpec(sources=((SOURCE_NAME, text),), compiler="g++", flags=tuple(flags), entry=entry,
                     display_names=((SOURCE_NAME, "<input>"), (user, "<input>")))


# ---------------------------------------------------------------------------------------------
# A precompiled simt_emu.h per flag set (halves the compile time of a program: most of it is the
# standard headers), in the build cache; any failure falls back to the plain header.

def _precompiled_header(flags: tuple[str, ...]) -> str:
    import hashlib
    import os
    plain = str(RUNTIME_DIR / "simt_emu.h")
    if os.environ.get("XPILER_SIMT_PCH", "1") in ("0", "no", "false"):
        return plain
    try:
        from .build import _compiler_identity, cache_dir
        compiler, version = _compiler_identity("g++")
        h = hashlib.sha256()
        for part in ("xpiler-simt-pch-v1", compiler, version, *flags):
            h.update(part.encode() + b"\0")
        for path in sorted(RUNTIME_DIR.glob("*.h")):
            h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        folder = cache_dir() / "simt-pch" / h.hexdigest()[:32]
        header = folder / "simt_emu.h"
        if (folder / "simt_emu.h.gch").exists():
            return str(header)
        _forget_old_pchs(folder.parent)
        return _build_pch(compiler, flags, folder) or plain
    except Exception:  # noqa: BLE001 - the plain header always works
        return plain


def _forget_old_pchs(root: Path, days: float = 2.0) -> None:
    """Remove precompiled headers of older runtimes (about 50 MB each) unused for ``days``."""
    import shutil
    import time
    if not root.is_dir():
        return
    limit = time.time() - days * 86400
    for d in root.iterdir():
        try:
            if d.is_dir() and not d.name.startswith(".") and (d / "simt_emu.h.gch").stat().st_atime < limit \
                    and d.stat().st_mtime < limit:
                shutil.rmtree(d, ignore_errors=True)
        except OSError:
            pass


def _build_pch(compiler: str, flags: tuple[str, ...], folder: Path) -> str | None:
    import fcntl
    import os
    import shutil
    import subprocess
    import tempfile
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(str(folder) + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (folder / "simt_emu.h.gch").exists():
            return str(folder / "simt_emu.h")
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
        try:
            shutil.copy(RUNTIME_DIR / "simt_emu.h", tmp / "simt_emu.h")
            proc = subprocess.run([compiler, *flags, "-fPIC", "-x", "c++-header", str(tmp / "simt_emu.h"),
                                   "-o", str(tmp / "simt_emu.h.gch")], capture_output=True, text=True, timeout=300)
            if proc.returncode != 0:
                return None
            try:
                os.rename(tmp, folder)
            except OSError:
                if not (folder / "simt_emu.h.gch").exists():
                    return None
            return str(folder / "simt_emu.h")
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
