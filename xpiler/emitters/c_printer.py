"""Printing the IR as C-family source (clang-format-like layout: 2-space indent, attached braces).

:class:`Printer` is dialect-aware only where spelling differs (built-ins, memory-scope qualifiers,
launch syntax) and refuses, with a clear error, IR that the target dialect cannot express (a
``__shared__`` buffer in VNNI C, a SIMT built-in in BANG). Translating between dialects is the
job of passes; the printer only prints.
"""

from __future__ import annotations

from .. import ir
from ..errors import UnsupportedError

INDENT = "  "

# C operator precedence (higher binds tighter).
_BINARY_PREC = {
    "*": 13, "/": 13, "%": 13, "+": 12, "-": 12, "<<": 11, ">>": 11, "<": 10, "<=": 10, ">": 10, ">=": 10,
    "==": 9, "!=": 9, "&": 8, "^": 7, "|": 6, "&&": 5, "||": 4,
}
_PREC_TERNARY, _PREC_ASSIGN, _PREC_COMMA, _PREC_UNARY, _PREC_POSTFIX = 3, 2, 1, 15, 16

SCOPE_SPELLING = {
    "cuda": {"local": "", "shared": "__shared__", "constant": "__constant__", "global": "__device__"},
    "hip": {"local": "", "shared": "__shared__", "constant": "__constant__", "global": "__device__"},
    "bang": {"local": "", "nram": "__nram__", "wram": "__wram__", "sram": "__mlu_shared__", "ldram": "__ldram__",
             "global": "__mlu_device__", "constant": "__mlu_const__"},
    "vnni": {"local": ""},
}


def type_prefix(t: ir.Type) -> str:
    """``const float *__restrict__ `` for a declaration ``const float *__restrict__ A``."""
    text = " ".join(t.quals + (t.base,))
    if t.pointer:
        text += " " + "*" * t.pointer
        if t.ptr_quals:
            text += " ".join(t.ptr_quals) + " "
    else:
        text += " "
    if t.reference:
        text = text.rstrip() + " &"
    return text


def type_name(t: ir.Type) -> str:
    """An abstract type (casts, sizeof, template arguments): ``float *``, ``const half``."""
    return type_prefix(t).rstrip()


class Printer:
    def __init__(self, dialect: str):
        self.dialect = dialect
        self.scopes = SCOPE_SPELLING[dialect]

    # ---- module --------------------------------------------------------------------------------
    def module(self, module: ir.Module) -> str:
        lines: list[str] = []
        previous = None
        for item in module.items:
            # A blank line around functions and extern "C" blocks, none inside runs of includes etc.
            # A comment stays attached to what follows it.
            if previous is not None and not isinstance(previous, ir.Comment) and (
                    _is_big(item) or _is_big(previous) or type(item) is not type(previous)):
                lines.append("")
            lines.extend(self.top(item))
            previous = item
        return "\n".join(lines).rstrip() + "\n"

    def top(self, item) -> list[str]:
        if isinstance(item, ir.Include):
            return [f"#include <{item.path}>" if item.system else f'#include "{item.path}"']
        if isinstance(item, ir.ExternC):
            body = [line for i in item.items for line in self.top(i)]
            return ['extern "C" {'] + body + ['}']
        if isinstance(item, ir.Function):
            return self.function(item)
        return self.stmt(item, 0)

    def function(self, f: ir.Function) -> list[str]:
        head = []
        if f.template:
            head.append(f.template)
        quals = list(f.quals)
        prefix = ('extern "C" ' if f.extern_c else "") + "".join(q + " " for q in quals)
        ret = type_prefix(f.ret)
        bounds = ""
        if f.launch_bounds is not None:
            bounds = "__launch_bounds__(" + ", ".join(self.expr(e) for e in f.launch_bounds) + ") "
        signature = wrap_call(f"{prefix}{ret}{bounds}{f.name}(", [self.param(p) for p in f.params], ")")
        if f.body is None:
            return head + [signature + ";"]
        return head + [signature + " {"] + self.block_body(f.body, 1) + ["}"]

    def param(self, p: ir.Param) -> str:
        return type_prefix(p.type) + p.name + "".join(f"[{self.expr(d) if d is not None else ''}]" for d in p.dims)

    # ---- statements ----------------------------------------------------------------------------
    def block_body(self, block: ir.Stmt, level: int) -> list[str]:
        body = block.body if isinstance(block, ir.Block) else (block,)
        return [line for s in body for line in self.stmt(s, level)]

    def stmt(self, s, level: int) -> list[str]:
        pad = INDENT * level
        if isinstance(s, ir.Block):
            return [pad + "{"] + self.block_body(s, level + 1) + [pad + "}"]
        if isinstance(s, ir.Decl):
            return [pad + self.decl(s) + ";"]
        if isinstance(s, ir.ExprStmt):
            return [pad + self.expr(s.expr) + ";"]
        if isinstance(s, ir.Barrier):
            return [pad + f"{self.barrier(s)}();"]
        if isinstance(s, ir.If):
            return self.if_chain(s, level)
        if isinstance(s, ir.For):
            init = self.decl(s.init) if isinstance(s.init, ir.Decl) else self.expr(s.init.expr) if s.init else ""
            cond = self.expr(s.cond) if s.cond is not None else ""
            step = self.expr(s.step) if s.step is not None else ""
            head = f"for ({init};{' ' + cond if cond else ''};{' ' + step if step else ''})"
            return self.with_body(pad + head, s.body, level)
        if isinstance(s, ir.While):
            if s.do_while:
                return self.with_body(pad + "do", s.body, level, trailer=f" while ({self.expr(s.cond)});")
            return self.with_body(pad + f"while ({self.expr(s.cond)})", s.body, level)
        if isinstance(s, ir.Return):
            return [pad + ("return;" if s.value is None else f"return {self.expr(s.value)};")]
        if isinstance(s, ir.Jump):
            return [pad + s.kind + ";"]
        if isinstance(s, ir.Pragma):
            return [f"#pragma {s.text}".rstrip()]
        if isinstance(s, ir.Define):
            return [f"#define {s.text}"]
        if isinstance(s, ir.Include):
            return self.top(s)
        if isinstance(s, ir.Comment):
            return [pad + line if i == 0 else line for i, line in enumerate(s.text.splitlines())]
        if isinstance(s, ir.Verbatim):
            lines = s.text.splitlines() or [""]
            return [pad + lines[0]] + lines[1:]
        if isinstance(s, ir.Function):
            return self.function(s)
        if isinstance(s, ir.ExternC):
            return self.top(s)
        raise TypeError(f"cannot print statement {type(s).__name__}")

    def with_body(self, head: str, body, level: int, trailer: str = "") -> list[str]:
        if isinstance(body, ir.Block):
            return [head + " {"] + self.block_body(body, level + 1) + [INDENT * level + "}" + trailer]
        inner = self.stmt(body, level + 1)
        if trailer:
            return [head] + inner + [INDENT * level + trailer.strip()]
        return [head] + inner

    def if_chain(self, node: ir.If, level: int) -> list[str]:
        pad = INDENT * level
        out = self.with_body(pad + f"if ({self.expr(node.cond)})", node.then, level)
        while node.other is not None:
            braced = isinstance(node.then, ir.Block)
            if isinstance(node.other, ir.If):
                node = node.other
                lines = self.with_body(pad + f"else if ({self.expr(node.cond)})", node.then, level)
            else:
                lines = self.with_body(pad + "else", node.other, level)
                node = ir.If(node.cond, node.other)  # ends the chain
            if braced:  # `} else {` on one line
                out[-1] += " " + lines[0].strip()
                lines = lines[1:]
            out.extend(lines)
        return out

    def decl(self, d: ir.Decl) -> str:
        if d.spelling == "HIP_DYNAMIC_SHARED" and self.dialect == "hip" and len(d.vars) == 1:
            return f"HIP_DYNAMIC_SHARED({d.vars[0].type.base}, {d.vars[0].name})"
        try:
            scope = self.scopes[d.scope]
        except KeyError:
            raise UnsupportedError(f"{self.dialect} has no {d.scope!r} memory scope "
                                   f"(buffer {d.vars[0].name!r})") from None
        first = d.vars[0].type
        prefix = " ".join([*d.storage, *( [scope] if scope else []), *first.quals, first.base])
        parts = []
        for v in d.vars:
            pointer = "*" * v.type.pointer + (" ".join(v.type.ptr_quals) + " " if v.type.ptr_quals else "")
            ref = "&" if v.type.reference else ""
            text = f"{pointer}{ref}{v.name}" + "".join(f"[{self.expr(x) if x is not None else ''}]" for x in v.dims)
            if v.ctor_args is not None:
                text += "(" + ", ".join(self.expr(a) for a in v.ctor_args) + ")"
            if v.init is not None:
                text += " = " + self.expr(v.init, _PREC_ASSIGN)
            parts.append(text)
        return prefix + " " + ", ".join(parts)

    def barrier(self, b: ir.Barrier) -> str:
        return b.spelling

    # ---- expressions ---------------------------------------------------------------------------
    def expr(self, e, context: int = 0) -> str:
        text, prec = self._expr(e)
        return f"({text})" if prec < context else text

    def _expr(self, e) -> tuple[str, int]:
        if isinstance(e, ir.Const):
            return e.text, 20
        if isinstance(e, ir.Name):
            return e.id, 20
        if isinstance(e, ir.Builtin):
            return self.builtin(e), 20
        if isinstance(e, ir.Paren):
            return f"({self.expr(e.inner)})", 20
        if isinstance(e, ir.BinOp):
            p = _BINARY_PREC[e.op]
            return f"{self.expr(e.left, p)} {e.op} {self.expr(e.right, p + 1)}", p
        if isinstance(e, ir.UnOp):
            if e.postfix:
                return f"{self.expr(e.operand, _PREC_POSTFIX)}{e.op}", _PREC_POSTFIX
            operand = self.expr(e.operand, _PREC_UNARY)
            # `- -x` and `+ +x` must not fuse into `--x`.
            sep = " " if operand[:1] == e.op[-1:] and e.op in ("-", "+") else ""
            return f"{e.op}{sep}{operand}", _PREC_UNARY
        if isinstance(e, ir.Assign):
            return f"{self.expr(e.target, _PREC_UNARY)} {e.op} {self.expr(e.value, _PREC_ASSIGN)}", _PREC_ASSIGN
        if isinstance(e, ir.Ternary):
            return (f"{self.expr(e.cond, _PREC_TERNARY + 1)} ? {self.expr(e.then, _PREC_ASSIGN)} : "
                    f"{self.expr(e.other, _PREC_TERNARY)}"), _PREC_TERNARY
        if isinstance(e, ir.Comma):
            return f"{self.expr(e.left, _PREC_COMMA)}, {self.expr(e.right, _PREC_COMMA + 1)}", _PREC_COMMA
        if isinstance(e, ir.Call):
            targs = f"<{', '.join(e.template_args)}>" if e.template_args is not None else ""
            return f"{self.expr(e.func, _PREC_POSTFIX)}{targs}({self.args(e.args)})", _PREC_POSTFIX
        if isinstance(e, ir.Index):
            return f"{self.expr(e.base, _PREC_POSTFIX)}[{self.expr(e.index)}]", _PREC_POSTFIX
        if isinstance(e, ir.Member):
            return f"{self.expr(e.base, _PREC_POSTFIX)}{'->' if e.arrow else '.'}{e.field_name}", _PREC_POSTFIX
        if isinstance(e, ir.Cast):
            if e.style == "c":
                return f"({type_name(e.type)}){self.expr(e.operand, _PREC_UNARY)}", _PREC_UNARY
            return f"{e.style}<{type_name(e.type)}>({self.expr(e.operand)})", _PREC_POSTFIX
        if isinstance(e, ir.SizeOf):
            if e.type is not None:
                return f"sizeof({type_name(e.type)})", _PREC_UNARY
            if isinstance(e.operand, ir.Paren):  # `sizeof(half)`: a type name the grammar does not know
                return f"sizeof{self.expr(e.operand)}", _PREC_UNARY
            return f"sizeof({self.expr(e.operand)})", _PREC_UNARY
        if isinstance(e, ir.InitList):
            return "{" + ", ".join(self.expr(i, _PREC_ASSIGN) for i in e.items) + "}", 20
        if isinstance(e, ir.Launch):
            return self.launch(e), _PREC_POSTFIX
        if isinstance(e, ir.RawExpr):
            return e.text, 20
        raise TypeError(f"cannot print expression {type(e).__name__}")

    def args(self, args) -> str:
        return ", ".join(self.expr(a, _PREC_ASSIGN) for a in args)

    def builtin(self, b: ir.Builtin) -> str:
        if b.axis is None:
            if self.dialect != "bang":
                raise UnsupportedError(f"the BANG built-in {b.name!r} cannot be expressed in {self.dialect}")
            return b.name
        if self.dialect not in ("cuda", "hip"):
            raise UnsupportedError(f"the SIMT built-in {b.name}.{b.axis} cannot be expressed in {self.dialect}")
        if self.dialect == "hip" and b.spelling == "hip":
            if b.name == "gridDim":
                return f"hipGridDim_{b.axis}"
            return {"threadIdx": "hipThreadIdx_", "blockIdx": "hipBlockIdx_", "blockDim": "hipBlockDim_"}[b.name] + b.axis
        return f"{b.name}.{b.axis}"

    def launch(self, l: ir.Launch) -> str:
        if self.dialect == "vnni":
            raise UnsupportedError("a kernel launch cannot be expressed in vnni (C has no device)")
        kernel = self.expr(l.kernel, _PREC_POSTFIX)
        if l.template_args is not None:
            kernel += f"<{', '.join(l.template_args)}>"
        if l.style == "ggl":
            if self.dialect != "hip":
                raise UnsupportedError(f"hipLaunchKernelGGL cannot be expressed in {self.dialect}")
            if l.template_args is not None:  # the macro needs the comma-free spelling
                kernel = f"HIP_KERNEL_NAME({kernel})"
            return f"hipLaunchKernelGGL({kernel}, {self.args(l.config)}" + \
                (f", {self.args(l.args)})" if l.args else ")")
        return f"{kernel}<<<{self.args(l.config)}>>>({self.args(l.args)})"


COLUMN_LIMIT = 100


def wrap_call(head: str, items: list[str], tail: str, limit: int = COLUMN_LIMIT) -> str:
    """``head + ", ".join(items) + tail``, broken clang-format style when longer than ``limit``:
    items packed greedily, continuation lines aligned after the opening parenthesis (or indented by
    4 when that column is far right)."""
    one_line = head + ", ".join(items) + tail
    if len(one_line) + 2 <= limit or not items:
        return one_line
    indent = " " * (len(head) if len(head) <= limit // 2 else 4)
    lines, current = [], head
    for i, item in enumerate(items):
        piece = item + (", " if i < len(items) - 1 else tail)
        if current.strip() and current not in (head,) and len(current.rstrip()) + len(piece) > limit - 2:
            lines.append(current.rstrip())
            current = indent
        current += piece
    lines.append(current)
    return "\n".join(lines)


def _is_big(item) -> bool:
    return isinstance(item, (ir.Function, ir.ExternC)) and (not isinstance(item, ir.Function) or item.body is not None)

