"""Parsing with tree-sitter (the CUDA grammar covers CUDA, HIP and C/C++).

BANG's qualifiers (``__mlu_global__``, ``__nram__``, ...) are unknown to the grammar. They are
replaced by spaces of the same length before parsing (byte-preserving normalisation), so every
position in the syntax tree still points into the user's text, and recorded in a side table the
lifter consults. BANG's ``<<<dim, ktype, queue>>>`` launch parses as the CUDA launch syntax.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from ..errors import ParseError

# Qualifiers blanked before parsing; the lifter reads them back from `Source.qualifiers`.
BANG_QUALIFIERS = ("__mlu_global__", "__mlu_entry__", "__mlu_func__", "__mlu_device__", "__mlu_host__",
                   "__mlu_shared__", "__mlu_const__", "__nram__", "__wram__", "__ldram__")
# CUDA spellings the grammar does not know, blanked the same way.
CUDA_QUALIFIERS = ("__noinline__", "__managed__", "__grid_constant__")
_BLANKED = re.compile(rb"\b(" + "|".join(BANG_QUALIFIERS + CUDA_QUALIFIERS).encode() + rb")\b")

MAX_BYTES = 16 * 1024 * 1024


@lru_cache(maxsize=1)
def _parser():
    # Imported here so `import xpiler` does not load tree-sitter.
    import tree_sitter_cuda
    from tree_sitter import Language, Parser
    return Parser(Language(tree_sitter_cuda.language()))


@dataclass
class Source:
    """A program's text with what parsing needs to point back into it."""

    text: str
    filename: str = "<input>"
    data: bytes = b""                      # the original text, UTF-8
    normalized: bytes = b""                # what tree-sitter parsed
    qualifiers: dict[int, str] = field(default_factory=dict)  # byte offset -> blanked qualifier
    rewritten: list[tuple[int, int]] = field(default_factory=list)  # byte spans rewritten (not blanked)
    _line_starts: list[int] = field(default_factory=list)

    def slice(self, node) -> str:
        """The user's text of a syntax node (from the original bytes, qualifiers included); a node
        inside a rewritten macro (HIP_DYNAMIC_SHARED) reads the rewritten text."""
        data = self.data
        if any(start <= node.start_byte and node.end_byte <= end for start, end in self.rewritten):
            data = self.normalized
        return data[node.start_byte:node.end_byte].decode("utf-8", "replace")

    def qualifiers_between(self, start: int, end: int) -> list[str]:
        return [q for offset, q in sorted(self.qualifiers.items()) if start <= offset < end]

    def position(self, byte_offset: int) -> tuple[int, int]:
        """1-based (line, column in characters) of a byte offset."""
        import bisect
        if not self._line_starts:
            self._line_starts = [0] + [m.end() for m in re.finditer(rb"\n", self.data)]
        line = bisect.bisect_right(self._line_starts, byte_offset) - 1
        start = self._line_starts[line]
        column = len(self.data[start:byte_offset].decode("utf-8", "replace")) + 1
        return line + 1, column

    def line_text(self, line: int) -> str:
        lines = self.text.splitlines()
        return lines[line - 1] if 0 < line <= len(lines) else ""


def check_text(text, filename: str = "<input>") -> str:
    """Reject what is not program text (bytes that are not UTF-8, NUL bytes, empty input)."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as e:
            raise ParseError(f"not a text file: byte {e.start} is not valid UTF-8", filename=filename) from None
    if not isinstance(text, str):
        raise ParseError(f"expected program text (str), got {type(text).__name__}", filename=filename)
    nul = text.find("\0")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise ParseError("not a text file: NUL byte (binary data)", filename=filename, line=line,
                         column=nul - (text.rfind("\n", 0, nul) + 1) + 1)
    if not text.strip():
        raise ParseError("empty program", filename=filename)
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise ParseError(f"program larger than {MAX_BYTES // (1024 * 1024)} MiB", filename=filename)
    return text


# Function-like macros that hide structure the IR must see (a loop header, a parallel built-in,
# e.g. `#define CUDA_KERNEL_LOOP(i, n) for (int i = blockIdx.x * blockDim.x + threadIdx.x; ...)`).
_MACRO_DEF = re.compile(r"^[ \t]*#[ \t]*define[ \t]+(\w+)\(([^)]*)\)[ \t]*((?:[^\n]*\\\n)*[^\n]*)", re.M)
_STRUCTURAL = re.compile(r"\b(for|while|do|if|threadIdx|blockIdx|blockDim|gridDim|taskId|taskIdX|clusterId|"
                         r"coreId|__syncthreads|__sync_cluster|__sync_all|hipThreadIdx_x|hipBlockIdx_x)\b")


def expand_structural_macros(text: str) -> str:
    """Expand invocations of function-like macros that open a loop or read a parallel built-in.

    The expansion stays on the invocation's line (continuation lines of the body are joined), so line
    numbers after it are unchanged. Macros using ``#`` or ``##`` are left alone."""
    macros = {}
    for m in _MACRO_DEF.finditer(text):
        body = re.sub(r"\\\n", " ", m.group(3)).strip()
        body = re.sub(r"/\*.*?\*/|//.*$", "", body).strip()
        if _STRUCTURAL.search(body) and "#" not in body:
            macros[m.group(1)] = ([p.strip() for p in m.group(2).split(",") if p.strip()], body)
    if not macros:
        return text
    defines = [m.span() for m in _MACRO_DEF.finditer(text)]
    out, pos = [], 0
    call = re.compile(r"\b(" + "|".join(map(re.escape, macros)) + r")\s*\(")
    for m in call.finditer(text):
        if m.start() < pos or any(a <= m.start() < b for a, b in defines):
            continue
        depth, i = 0, m.end() - 1
        while i < len(text):
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            if depth == 0:
                break
            i += 1
        if depth:
            continue
        args, current, level = [], "", 0
        for ch in text[m.end():i]:
            if ch == "," and level == 0:
                args.append(current.strip())
                current = ""
                continue
            level += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(ch, 0)
            current += ch
        args.append(current.strip())
        params, body = macros[m.group(1)]
        if len(args) != len(params) and not (not params and args == [""]):
            continue
        mapping = dict(zip(params, args))
        expansion = re.sub(r"\b\w+\b", lambda w: mapping.get(w.group(0), w.group(0)), body) if mapping else body
        out.append(text[pos:m.start()] + expansion)
        pos = i + 1
    out.append(text[pos:])
    return "".join(out)


def parse(text, filename: str = "<input>"):
    """Parse program text; return ``(tree, source)``. Raises :class:`ParseError` at the first syntax
    error, with file, line, column and the offending text."""
    text = check_text(text, filename)
    if "#" in text and "define" in text:
        text = expand_structural_macros(text)
    data = text.encode("utf-8")
    qualifiers: dict[int, str] = {}

    def blank(match: re.Match) -> bytes:
        qualifiers[match.start()] = match.group(0).decode()
        return b" " * len(match.group(0))

    normalized = _BLANKED.sub(blank, data)
    rewritten = []
    if b"HIP_DYNAMIC_SHARED" in normalized:
        rewritten = [m.span() for m in _HIP_DYNAMIC_SHARED.finditer(normalized)]
        normalized = _HIP_DYNAMIC_SHARED.sub(_dynamic_shared, normalized)
    tree = _parser().parse(normalized)
    error = first_error(tree.root_node)
    if error is not None and b"#pragma" in normalized:
        # `for (...)\n#pragma unroll\n  for (...)`: a pragma inside a statement, which the grammar only
        # accepts between statements. Blank such pragmas; the lifter puts them back before the statement.
        normalized = _blank_inner_pragmas(normalized, qualifiers)
        tree = _parser().parse(normalized)
        error = first_error(tree.root_node)
    if error is not None and b"__attribute__" in data:
        # The grammar rejects GNU attributes in some positions (`using T = __attribute__((...)) float;`,
        # `float x __attribute__((aligned(64)));`): blank them too, recorded like the qualifiers.
        normalized = _blank_attributes(normalized, qualifiers)
        tree = _parser().parse(normalized)
        error = first_error(tree.root_node)
    source = Source(text=text, filename=filename, data=data, normalized=normalized, qualifiers=qualifiers,
                    rewritten=rewritten)
    if error is not None:
        raise syntax_error(source, error)
    return tree, source


# HIP's `HIP_DYNAMIC_SHARED(float, red)` declares `extern __shared__ float red[];`. It is rewritten to
# that declaration when it fits in the same bytes; the lifter records the macro spelling.
_HIP_DYNAMIC_SHARED = re.compile(rb"\bHIP_DYNAMIC_SHARED\s*\(\s*([\w: ]+?)\s*,\s*(\w+)\s*\)(\s*;)?")


def _dynamic_shared(m: re.Match) -> bytes:
    semicolon = m.group(3) or b""
    original = m.group(0)[:len(m.group(0)) - len(semicolon)]
    decl = b"extern __shared__ " + m.group(1) + b" " + m.group(2) + b"[]" + (b"" if semicolon else b";")
    if len(decl) > len(original):
        return m.group(0)  # no room: leave it, the grammar will say where
    return decl + b" " * (len(original) - len(decl)) + semicolon


_PRAGMA_LINE = re.compile(rb"^[ \t]*#[ \t]*pragma[^\n]*", re.M)


def _blank_inner_pragmas(data: bytes, qualifiers: dict[int, str]) -> bytes:
    """Blank the ``#pragma`` lines that follow a line not ending a statement (`;`, `{`, `}`)."""
    out = bytearray(data)
    for m in _PRAGMA_LINE.finditer(data):
        before = data[:m.start()].rstrip()
        if before and before[-1:] not in (b";", b"{", b"}") and not before.endswith(b"*/"):
            start = m.start() + (len(m.group(0)) - len(m.group(0).lstrip()))
            qualifiers[start] = data[start:m.end()].decode("utf-8", "replace")
            out[start:m.end()] = b" " * (m.end() - start)
    return bytes(out)


_ATTRIBUTE = re.compile(rb"__attribute__\s*\(\(")


def _blank_attributes(data: bytes, qualifiers: dict[int, str]) -> bytes:
    """Replace every ``__attribute__((...))`` (balanced parentheses) by spaces, recording its text."""
    out = bytearray(data)
    for m in _ATTRIBUTE.finditer(data):
        depth, i = 0, m.start() + len(b"__attribute__")
        while i < len(data):
            if data[i:i + 1] == b"(":
                depth += 1
            elif data[i:i + 1] == b")":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        if depth != 0:
            break  # unbalanced: leave it for the syntax error
        end = i + 1
        qualifiers[m.start()] = data[m.start():end].decode("utf-8", "replace")
        out[m.start():end] = b" " * (end - m.start())
    return bytes(out)


def first_error(root):
    """The first ERROR or MISSING node in document order, or None (iterative: no recursion limit)."""
    if not root.has_error:
        return None
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_missing or node.type == "ERROR":
            return node
        if node.has_error:
            stack.extend(reversed(node.children))
    return root


def syntax_error(source: Source, node) -> ParseError:
    line, column = source.position(node.start_byte)
    if node.is_missing:
        message = f"syntax error: expected {node.type!r}"
        snippet = source.line_text(line).strip()[:60] or None
    else:
        message = "syntax error"
        text = source.slice(node).strip()
        first_line = text.splitlines()[0] if text else ""
        snippet = first_line[:60] if first_line else (source.line_text(line).strip()[:60] or None)
        if node.start_byte >= len(source.data):
            message = "syntax error: unexpected end of file"
    return ParseError(message, filename=source.filename, line=line, column=column, snippet=snippet)
