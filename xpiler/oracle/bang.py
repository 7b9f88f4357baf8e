"""Backend ``bang``: CPU emulation of Cambricon BANG C (runtime/bang_emu.h; semantics in
shared/reference/bang.md).

``prepare(src, lang="bang", entry=..., launch=..., check=..., strict=...)`` returns the
:class:`~xpiler.oracle.build.BuildSpec` that compiles the program with g++ against the emulation
runtime. The program text goes through a small, position-preserving preparation (every line keeps
its number, so compiler messages point at the user's lines; ``#line`` directives restore the
numbering where lines are inserted):

- ``#include <bang.h>`` / ``<cnrt.h>`` (and the other Cambricon headers) become comments: the runtime
  provides what they declare;
- on-chip declarations (``__nram__`` / ``__wram__`` / ``__mlu_shared__`` / ``__ldram__``, at file
  scope, kernel scope or inside loops) become macros naming per-task (per-cluster for SRAM) storage
  of the runtime (``XPILER_BANG_SLOT``): every task has its own NRAM/WRAM although all tasks are
  fibers of one OS thread; the macro is ``#undef``-ed where the declaring block ends. Declarations
  with an initializer and pointer declarations keep their text (qualifier dropped);
- ``kernel<<<dim, ktype, queue>>>(args)`` becomes ``::xpiler_bang::launch(LaunchCfg(dim, ktype,
  queue), kernel, args)``;
- every non-template kernel ``K`` gets an ``extern "C" void K_kernel(params)`` wrapper (appended)
  that launches it with ``launch=`` or the defaults of conventions.md: a kernel that reads
  ``clusterId``/``clusterDim`` (itself or through the functions it calls) runs as UNION1 over 4
  clusters x 4 cores (taskDim 16); one that reads only ``coreId``/``coreDim`` as UNION1 over
  1 cluster x 4 cores; otherwise one BLOCK task.

``check=True`` compiles with ``-DXPILER_CHECK=1``: DMA to/from GDRAM must stay inside the buffers the
oracle registers (and cnrtMalloc blocks). ``strict=True`` (or ``XPILER_BANG_STRICT=1`` in the
environment of the run) checks the MLU2xx alignment rules. The checks that are always on (capacity,
directions, on-chip bounds, scalar WRAM access, operand spaces, barrier deadlocks) are described at
the top of runtime/bang_emu.h.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..errors import RunError

RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"
FLAGS = ("-std=c++17", "-O1", "-fno-strict-aliasing", "-fstack-clash-protection", "-Wno-unused-result")
SOURCE_NAME = "input.cpp"
USER_FILE = "input.mlu"        # the name #line directives give the user's text
GENERATED_FILE = "xpiler_bang_wrappers"

_QUALIFIERS = ("__mlu_global__", "__mlu_entry__", "__mlu_func__", "__mlu_device__", "__mlu_host__",
               "__mlu_shared__", "__mlu_const__", "__nram__", "__wram__", "__ldram__")
_QUAL_RE = re.compile(rb"(?<![\w])(" + b"|".join(q.encode() for q in _QUALIFIERS) + rb")(?![\w])")
_SPACES = {b"__nram__": 1, b"__wram__": 2, b"__mlu_shared__": 3, b"__ldram__": 4}
_KERNEL_QUALS = (b"__mlu_global__", b"__mlu_entry__")
_GDRAM_VARS = (b"__mlu_device__", b"__mlu_const__")
_CAMBRICON_INCLUDE = re.compile(
    rb"^([ \t]*#[ \t]*include[ \t]*[<\"](?:[\w/]*/)?(?:bang|cnrt|cndrv_api|cn_api|mlu|cnrt_data|bang_\w+|"
    rb"cnrt_\w+|mlu_\w+)\.h[>\"][^\n]*)$", re.M)
_PP_LINE = re.compile(rb"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*", re.M)
_MASK = re.compile(rb"//[^\n]*|/\*.*?\*/|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'", re.S)
_FUNC_TYPE_ENUM = {"BLOCK": "CNRT_FUNC_TYPE_BLOCK", "UNION1": "CNRT_FUNC_TYPE_UNION1",
                   "UNION2": "CNRT_FUNC_TYPE_UNION2", "UNION4": "CNRT_FUNC_TYPE_UNION4",
                   "UNION8": "CNRT_FUNC_TYPE_UNION8", "UNION16": "CNRT_FUNC_TYPE_UNION16"}


class BangPrepareError(RunError):
    """The BANG program cannot be prepared for the emulation (e.g. an entry that does not exist)."""


@lru_cache(maxsize=1)
def _parser():
    import tree_sitter_cuda
    from tree_sitter import Language, Parser
    return Parser(Language(tree_sitter_cuda.language()))


def _blank(m: re.Match) -> bytes:
    return re.sub(rb"[^\n]", b" ", m.group(0))


def _mask(data: bytes) -> bytes:
    """Comments and string/char literals blanked (same length, same line breaks)."""
    def keep_quotes(m):
        s = m.group(0)
        if s[:1] in (b'"', b"'"):
            return s[:1] + re.sub(rb"[^\n]", b" ", s[1:-1]) + s[-1:]
        return _blank(m)
    return _MASK.sub(keep_quotes, data)


@dataclass
class Kernel:
    name: str
    params: list[tuple[str, str, str]]  # (declaration text before the name, after it, name)
    body: tuple[int, int]
    template: bool


@dataclass
class _Prepared:
    text: str
    kernels: dict[str, Kernel] = field(default_factory=dict)
    functions: dict[str, tuple[int, int]] = field(default_factory=dict)   # name -> body byte range
    slots: list[str] = field(default_factory=list)                         # names of on-chip arrays


def _attributes(masked: bytes) -> list[tuple[int, int]]:
    """Byte ranges of the ``__attribute__((...))`` specifiers (balanced parentheses)."""
    out = []
    for m in re.finditer(rb"(?<![\w])__attribute__\s*\(", masked):
        depth, i = 0, m.end() - 1
        while i < len(masked):
            c = masked[i:i + 1]
            if c == b"(":
                depth += 1
            elif c == b")":
                depth -= 1
                if depth == 0:
                    out.append((m.start(), i + 1))
                    break
            i += 1
    return out


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _identifier(node):
    """The identifier a declarator declares (innermost)."""
    while node is not None and node.type not in ("identifier", "field_identifier"):
        inner = node.child_by_field_name("declarator")
        if inner is None:
            inner = next((c for c in node.named_children if c.type.endswith("declarator") or c.type == "identifier"), None)
        node = inner
    return node


def _collapse(b: bytes) -> str:
    return re.sub(r"\s+", " ", b.decode("utf-8", "replace")).strip()


def _walk(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


def _prepare_text(src: str, *, launch_for=None) -> _Prepared:
    data = src.encode("utf-8")
    masked = _mask(data)
    # Cambricon headers: commented out (the line stays).
    edits: list[tuple[int, int, bytes, int]] = []   # (start, end, replacement, order)
    for m in _CAMBRICON_INCLUDE.finditer(data):     # (string contents are blanked in `masked`)
        if masked[m.start(1):m.end(1)].strip().startswith(b"#"):   # not inside a comment
            edits.append((m.start(1), m.start(1), b"// (xpiler: provided by the emulation) ", 0))
    quals = [(m.start(), m.end(), m.group(1)) for m in _QUAL_RE.finditer(masked)]
    normalized = bytearray(data)
    for s, e, _ in quals:
        normalized[s:e] = b" " * (e - s)
    attrs = _attributes(masked)       # __attribute__((...)): blanked for parsing and for type texts
    for s, e in attrs:
        normalized[s:e] = re.sub(rb"[^\n]", b" ", bytes(normalized[s:e]))
    tree = _parser().parse(bytes(normalized))
    root = tree.root_node
    norm_masked = bytearray(_QUAL_RE.sub(lambda m: b" " * len(m.group(0)), masked))
    for s, e in attrs:
        norm_masked[s:e] = re.sub(rb"[^\n]", b" ", bytes(norm_masked[s:e]))
    norm_masked = bytes(norm_masked)
    pp_masked = _PP_LINE.sub(_blank, norm_masked)
    pp_ranges = [(m.start(), m.end()) for m in _PP_LINE.finditer(masked)]
    quals = [q for q in quals if not any(a <= q[0] < b for a, b in pp_ranges)]
    prep = _Prepared(text="")

    # --- function definitions and kernels ------------------------------------------------------
    def head_region(fn_node) -> tuple[int, int]:
        decl = fn_node.child_by_field_name("declarator")
        end = decl.start_byte if decl is not None else fn_node.start_byte
        start = end
        while start > 0 and pp_masked[start - 1:start] not in (b";", b"{", b"}"):
            start -= 1
        return start, end

    for node in _walk(root):
        if node.type != "function_definition":
            continue
        decl = node.child_by_field_name("declarator")
        body = node.child_by_field_name("body")
        while decl is not None and decl.type != "function_declarator":
            decl = decl.child_by_field_name("declarator")
        if decl is None or body is None:
            continue
        name_node = decl.child_by_field_name("declarator")
        if name_node is None:
            continue
        name = data[name_node.start_byte:name_node.end_byte].decode()
        prep.functions[name] = (body.start_byte, body.end_byte)
        hs, he = head_region(node)
        head_quals = [q for s, e, q in quals if hs <= s < he]
        if not any(q in _KERNEL_QUALS for q in head_quals):
            continue
        template = node.parent is not None and node.parent.type == "template_declaration"
        params = []
        plist = decl.child_by_field_name("parameters")
        for i, p in enumerate(c for c in plist.named_children if c.type == "parameter_declaration"):
            text = bytes(norm_masked[p.start_byte:p.end_byte])
            if _collapse(text) == "void":
                continue
            ident = _identifier(p.child_by_field_name("declarator"))
            if ident is not None:
                a, b = ident.start_byte - p.start_byte, ident.end_byte - p.start_byte
                pname = data[ident.start_byte:ident.end_byte].decode()
                params.append((_collapse(text[:a]), _collapse(text[b:]), pname))
            else:
                params.append((_collapse(text), "", f"xpiler_arg{i}"))
        prep.kernels[name] = Kernel(name, params, (body.start_byte, body.end_byte), template)

    # --- on-chip declarations -------------------------------------------------------------------
    slot_id = 0
    handled: set[int] = set()
    file_scope: dict[str, str] = {}     # name -> its #define line (restored where a local one ends)
    gdram_id = 0
    for qs, qe, q in quals:
        if q not in _SPACES and q not in _GDRAM_VARS:
            continue
        # the node of the next token after the qualifier
        nxt = qe
        while nxt < len(norm_masked) and norm_masked[nxt:nxt + 1].isspace():
            nxt += 1
        node = root.descendant_for_byte_range(nxt, nxt + 1)
        while node is not None and node.type not in ("declaration", "parameter_declaration", "field_declaration",
                                                     "type_descriptor", "function_definition", "translation_unit",
                                                     "compound_statement", "cast_expression"):
            node = node.parent
        if node is None or node.type != "declaration" or node.start_byte in handled:
            continue   # a parameter, a cast, ...: the qualifier is simply dropped (header defines it empty)
        if node.start_byte > qs and norm_masked[qs:node.start_byte].strip() not in (b"",):
            continue
        decls = node.children_by_field_name("declarator")
        if q in _GDRAM_VARS:
            # a GDRAM variable: plain global storage, registered so that check mode knows its extent
            handled.add(node.start_byte)
            if node.parent is None or node.parent.type not in ("translation_unit", "declaration_list"):
                continue
            regs = []
            for d in decls:
                ident = _identifier(d)
                if ident is None or d.type == "function_declarator":
                    continue
                nm = data[ident.start_byte:ident.end_byte].decode()
                regs.append(f" static ::xpiler_bang::GdramVariable xpiler_gdram_variable_{gdram_id}"
                            f"((const void *)&{nm}, sizeof({nm}), \"{nm}\");")
                gdram_id += 1
            edits.append((node.end_byte, node.end_byte, "".join(regs).encode(), 1))
            continue
        if any(d.type == "init_declarator" for d in decls) or not decls:
            continue
        storage = [c for c in node.children if c.type == "storage_class_specifier"]
        if any(data[c.start_byte:c.end_byte] == b"extern" for c in storage):
            continue
        if any(d.type == "pointer_declarator" or (d.type != "array_declarator" and d.type != "identifier")
               for d in decls):
            continue
        handled.add(node.start_byte)
        space = _SPACES[q]
        first = decls[0]
        base = bytearray(norm_masked[node.start_byte:first.start_byte])
        for c in storage:   # drop `static`
            a, b = c.start_byte - node.start_byte, c.end_byte - node.start_byte
            base[a:b] = b" " * (b - a)
        base_t = _collapse(bytes(base))
        start = min(qs, node.start_byte)
        line = _line_of(data, start)
        defines = []
        for d in decls:
            ident = _identifier(d)
            if ident is None:
                break
            nm = data[ident.start_byte:ident.end_byte].decode()
            abstract = bytes(norm_masked[d.start_byte:ident.start_byte]) + bytes(norm_masked[ident.end_byte:d.end_byte])
            tid = f"::xpiler_bang::type_id<{base_t} {_collapse(abstract)}>"
            define = (f"#define {nm} (*({tid} *)XPILER_BANG_SLOT({slot_id}, sizeof({tid}), {space}, "
                      f"\"{nm}\", {_line_of(data, ident.start_byte)}))\n")
            defines.append(f"#undef {nm}\n{define}")
            if node.parent is not None and node.parent.type in ("translation_unit", "declaration_list"):
                file_scope[nm] = define
            prep.slots.append(nm)
            slot_id += 1
        else:
            end = node.end_byte
            blank = re.sub(rb"[^\n]", b" ", data[start:end])
            edits.append((start, end, b"\n" + "".join(defines).encode() + f'#line {line} "{USER_FILE}"\n'.encode()
                          + blank, 1))
            # #undef where the declaring block ends
            block = node.parent
            while block is not None and block.type not in ("compound_statement", "translation_unit"):
                block = block.parent
            if block is not None and block.type == "compound_statement":
                close = block.end_byte
                cl = _line_of(data, close)
                names = [_collapse(data[_identifier(d).start_byte:_identifier(d).end_byte]) for d in decls]
                undefs = "".join(f"#undef {n}\n" + (file_scope[n] if n in file_scope else "") for n in names)
                edits.append((close, close, f"\n{undefs}#line {cl} \"{USER_FILE}\"\n".encode(), 2))

    # --- kernel launches ------------------------------------------------------------------------
    for node in _walk(root):
        if node.type != "call_expression":
            continue
        kcs = next((c for c in node.children if c.type == "kernel_call_syntax"), None)
        if kcs is None:
            continue
        fn = node.child_by_field_name("function")
        args = node.child_by_field_name("arguments")
        if fn is None or args is None:
            continue
        cfg = data[kcs.start_byte:kcs.end_byte]
        cfg = cfg[cfg.find(b"<<<") + 3: cfg.rfind(b">>>")]
        has_args = len(args.named_children) > 0 and any(c.type != "comment" for c in args.named_children)
        old = data[fn.start_byte:args.start_byte + 1]
        new = (b"::xpiler_bang::launch(::xpiler_bang::LaunchCfg(" + cfg + b"), "
               + data[fn.start_byte:fn.end_byte] + (b", " if has_args else b""))
        missing = old.count(b"\n") - new.count(b"\n")
        new += b"\n" * max(0, missing)
        edits.append((fn.start_byte, args.start_byte + 1, new, 1))

    out = bytearray(data)
    for s, e, rep, _ in sorted(edits, key=lambda t: (t[0], t[3]), reverse=True):
        out[s:e] = rep
    prep.text = out.decode("utf-8", "replace")
    return prep


def _reads(prep: _Prepared, masked: bytes, name: str, pattern: re.Pattern, seen=None) -> bool:
    """Whether function `name`'s body (or a function it calls, transitively) matches `pattern`."""
    seen = set() if seen is None else seen
    if name in seen or name not in prep.functions:
        return False
    seen.add(name)
    s, e = prep.functions[name]
    body = masked[s:e]
    if pattern.search(body):
        return True
    for other in prep.functions:
        if other != name and re.search(rb"(?<![\w.])" + re.escape(other.encode()) + rb"\s*\(", body):
            if _reads(prep, masked, other, pattern, seen):
                return True
    return False


_CLUSTER = re.compile(rb"(?<![\w])(clusterId|clusterDim)(?![\w])")
_CORE = re.compile(rb"(?<![\w])(coreId|coreDim)(?![\w])")


def default_launch(src: str, kernel: str) -> tuple[tuple[int, int, int], str]:
    """The launch of a bare kernel when none is given (conventions.md): ((x, y, z), func_type)."""
    prep = _prepare_text(src)
    return _default_launch(prep, _mask(src.encode("utf-8")), kernel)


def _default_launch(prep: _Prepared, masked: bytes, kernel: str):
    if _reads(prep, masked, kernel, _CLUSTER):
        return (16, 1, 1), "UNION1"
    if _reads(prep, masked, kernel, _CORE):
        return (4, 1, 1), "UNION1"
    return (1, 1, 1), "BLOCK"


def _launch_of(launch, prep, masked, kernel):
    if launch is None:
        return _default_launch(prep, masked, kernel)
    from ..launch import Launch
    launch = Launch.coerce(launch)
    if launch.is_simt:
        raise BangPrepareError("launch= for a BANG kernel takes task_dim and func_type, not grid/block")
    dims, ftype = launch.task_dim, launch.func_type
    if dims is None and ftype is None:
        return _default_launch(prep, masked, kernel)
    if ftype is None:
        n = dims[0] * dims[1] * dims[2]
        ftype = "UNION1" if n > 1 and dims[0] % 4 == 0 else "BLOCK"
    if dims is None:
        dims = (1, 1, 1) if ftype == "BLOCK" else (4 * int(ftype[5:]), 1, 1)
    return tuple(dims), ftype


def prepare_source(src: str, *, entry: str | None = None, launch=None) -> tuple[str, str]:
    """The C++ translation unit for ``src`` and the entry symbol to call."""
    if not isinstance(src, str):
        raise BangPrepareError(f"src must be the program text (str), got {type(src).__name__}")
    prep = _prepare_text(src)
    masked = _mask(src.encode("utf-8"))
    wrappers = []
    for k in prep.kernels.values():
        wname = k.name + "_kernel"
        if k.template or wname in prep.functions:
            continue
        dims, ftype = _launch_of(launch, prep, masked, k.name)
        params = ", ".join(f"{a} {n}{b}" for a, b, n in k.params)
        names = "".join(", " + n for _, _, n in k.params)
        wrappers.append(
            f'extern "C" void {wname}({params}) {{\n'
            f"    ::xpiler_bang::launch(::xpiler_bang::LaunchCfg(cnrtDim3_t{{{dims[0]}u, {dims[1]}u, {dims[2]}u}}, "
            f"{_FUNC_TYPE_ENUM[ftype]}), {k.name}{names});\n}}\n")
    if entry is None:
        from . import default_entry
        entry = default_entry(src, "bang")
        if entry is None:
            raise BangPrepareError("no extern \"C\" host entry and no kernel found; pass entry=")
    elif entry in prep.kernels and entry not in _host_functions(prep):
        entry = entry + "_kernel"
    known = set(prep.functions) | {k.name + "_kernel" for k in prep.kernels.values() if not k.template}
    if entry not in known:
        raise BangPrepareError(f"entry {entry!r} is not defined in the BANG program (functions: "
                               f"{', '.join(sorted(known)) or 'none'})")
    text = (f'#include "bang_emu.h"\n#line 1 "{USER_FILE}"\n' + prep.text
            + f'\n#line 1 "{GENERATED_FILE}"\n' + "".join(wrappers))
    return text, entry


def _host_functions(prep: _Prepared) -> set[str]:
    return {n for n in prep.functions if n not in prep.kernels}


def prepare(src: str, *, lang: str = "bang", entry: str | None = None, launch=None, check: bool = False,
            strict: bool = False):
    """The :class:`BuildSpec` of a BANG program (module docstring)."""
    from .build import BuildSpec
    text, entry = prepare_source(src, entry=entry, launch=launch)
    flags = [*FLAGS, f"-I{RUNTIME_DIR}"]
    if check:
        flags.append("-DXPILER_CHECK=1")
    if strict:
        flags.append("-DXPILER_BANG_STRICT=1")
    return BuildSpec(sources=((SOURCE_NAME, text),), compiler="g++", flags=tuple(flags), entry=entry,
                     display_names=((SOURCE_NAME, "<input>"), (USER_FILE, "<input>")))


__all__ = ["prepare", "prepare_source", "default_launch", "RUNTIME_DIR", "BangPrepareError"]
