"""Lifting: tree-sitter syntax tree -> xpiler IR.

The lifter models the C subset tensor programs are written in (functions, declarations with memory
scopes, loops, conditionals, expressions, launches, intrinsic calls, barriers) and keeps everything
else verbatim (:class:`~xpiler.ir.Verbatim` / :class:`~xpiler.ir.RawExpr`) with the reason, recorded
in :attr:`LiftResult.verbatim` so callers can report it. Nothing is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .. import ir
from ..errors import ParseError, UnsupportedError
from ..intrinsics import REGISTRY
from .parser import Source, parse

MAX_DEPTH = 200  # deeper nesting is reported as unsupported, never a RecursionError

# Parallel built-ins. SIMT: `threadIdx.x`; HIP also spells them `hipThreadIdx_x`.
SIMT_BUILTINS = ("threadIdx", "blockIdx", "blockDim", "gridDim")
_HIP_BUILTIN = re.compile(r"^hip(Thread|Block)(Idx|Dim)_([xyz])$|^hipGridDim_([xyz])$")
BANG_BUILTINS = ("taskId", "taskIdX", "taskIdY", "taskIdZ", "taskDim", "taskDimX", "taskDimY", "taskDimZ",
                 "clusterId", "clusterDim", "coreId", "coreDim")

BARRIERS = {"__syncthreads": "block", "__syncwarp": "warp", "__sync_cluster": "cluster", "__sync_all": "all",
            "__sync_all_ipu": "all"}

SCOPE_QUALIFIERS = {"__shared__": "shared", "__nram__": "nram", "__wram__": "wram", "__mlu_shared__": "sram",
                    "__ldram__": "ldram", "__constant__": "constant", "__device__": "global",
                    "__mlu_device__": "global", "__mlu_const__": "constant", "__managed__": "global"}
KERNEL_QUALIFIERS = {"__global__", "__mlu_global__", "__mlu_entry__"}
DEVICE_QUALIFIERS = {"__device__", "__mlu_func__", "__mlu_device__"}


@dataclass
class VerbatimNote:
    """Something kept verbatim: where, what kind of construct, why."""

    line: int
    column: int
    construct: str
    reason: str

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.construct} kept verbatim ({self.reason})"


@dataclass
class LiftResult:
    module: ir.Module
    verbatim: list[VerbatimNote] = field(default_factory=list)
    unknown_calls: list[tuple[int, int, str]] = field(default_factory=list)


def parse_expression(text: str, dialect: str = "vnni") -> ir.Expr:
    """The IR of one C expression given as text (a launch extent, a macro's value)."""
    return lift(f"long long __xpiler_expr = {text};", dialect).module.items[0].vars[0].init


def lift(text, dialect: str, filename: str = "<input>") -> LiftResult:
    """Parse and lift a program of ``dialect``."""
    tree, source = parse(text, filename)
    return Lifter(source, dialect).module(tree.root_node)


class Lifter:
    def __init__(self, source: Source, dialect: str):
        self.src = source
        self.dialect = dialect
        self.notes: list[VerbatimNote] = []
        self.unknown_calls: list[tuple[int, int, str]] = []
        self.depth = 0
        self.consumed: set[int] = set()  # offsets of blanked qualifiers attached to a node
        self.verbatim_spans: list[tuple[int, int]] = []

    # ---- helpers ---------------------------------------------------------------------------------
    def text(self, node) -> str:
        return self.src.slice(node)

    def loc(self, node) -> ir.Loc:
        return ir.Loc(*self.src.position(node.start_byte))

    def _in_verbatim(self, offset: int) -> bool:
        """Qualifiers inside comments or verbatim text are kept with that text."""
        return any(start <= offset < end for start, end in self.verbatim_spans)

    def type_qualifiers(self, node) -> list[str]:
        """The ``const`` / ``volatile`` / ``restrict`` children of ``node``. C99 ``restrict`` is
        ``__restrict__`` in the IR: every dialect compiles as C++, which knows only the extension
        (nvcc, hipcc, cncc and g++ all accept it)."""
        return ["__restrict__" if self.text(c) == "restrict" else self.text(c)
                for c in node.children if c.type == "type_qualifier"]

    def keep(self, node, reason: str) -> ir.Verbatim:
        self.verbatim_spans.append((node.start_byte, node.end_byte))
        line, column = self.src.position(node.start_byte)
        self.notes.append(VerbatimNote(line, column, node.type, reason))
        return ir.Verbatim(self.text(node), reason, ir.Loc(line, column))

    def raw(self, node, reason: str) -> ir.RawExpr:
        self.verbatim_spans.append((node.start_byte, node.end_byte))
        line, column = self.src.position(node.start_byte)
        self.notes.append(VerbatimNote(line, column, node.type, reason))
        return ir.RawExpr(self.text(node), reason)

    def unsupported(self, node, message: str) -> UnsupportedError:
        line, column = self.src.position(node.start_byte)
        return UnsupportedError(message, filename=self.src.filename, line=line, column=column,
                                snippet=self.text(node).splitlines()[0][:60] if self.text(node) else None)

    def guard(self, node):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.unsupported(node, f"nesting deeper than {MAX_DEPTH} levels")

    def qualifiers(self, node, end_byte: int | None = None) -> list[str]:
        """Blanked (BANG) qualifiers that belong to ``node``: those in the whitespace just before it
        (blanking turned them into whitespace, so the syntax node starts after them) and those
        between its start and ``end_byte``. Each is marked consumed."""
        start = node.start_byte
        data = self.src.normalized
        while start > 0 and data[start - 1:start].isspace():
            start -= 1
        end = node.end_byte if end_byte is None else end_byte
        found = []
        for offset, q in sorted(self.src.qualifiers.items()):
            if start <= offset < end and offset not in self.consumed:
                self.consumed.add(offset)
                found.append(q)
        return found

    # ---- top level -----------------------------------------------------------------------------
    def module(self, root) -> LiftResult:
        items = self.items(root.named_children)
        for offset, q in sorted(self.src.qualifiers.items()):
            if offset not in self.consumed and not self._in_verbatim(offset):
                line, column = self.src.position(offset)
                raise UnsupportedError(f"qualifier {q} in a position the IR does not model",
                                       filename=self.src.filename, line=line, column=column, snippet=q)
        module = ir.Module(self.dialect, tuple(items), self.src.filename)
        return LiftResult(module, self.notes, self.unknown_calls)

    def items(self, nodes) -> list[ir.Stmt]:
        out: list[ir.Stmt] = []
        for node in nodes:
            out.extend(self.item(node))
        return out

    def item(self, node) -> list[ir.Stmt]:
        t = node.type
        if t == "comment":
            self.verbatim_spans.append((node.start_byte, node.end_byte))
            return [ir.Comment(self.text(node))]
        if t == "preproc_include":
            path = node.child_by_field_name("path")
            text = self.text(path)
            return [ir.Include(text[1:-1], system=text.startswith("<"))]
        if t in ("preproc_def", "preproc_function_def"):
            return [self.define(node)]
        if t == "preproc_call":
            return [self.pragma_or_keep(node)]
        if t == "function_definition":
            return [self.function(node)]
        if t == "template_declaration":
            # `template <typename T> __global__ void k(...)`: the function is lifted, its template
            # header kept as written (a template kernel is a kernel for every instantiation).
            inner = [c for c in node.named_children if c.type == "function_definition"]
            params = node.child_by_field_name("parameters")
            if len(inner) == 1 and params is not None:
                function = self.function(inner[0], template="template " + " ".join(self.text(params).split()))
                if isinstance(function, ir.Function):
                    self.qualifiers(node, inner[0].start_byte)  # BANG qualifiers there belong to it
                    return [function]
            return [self.keep(node, "template declaration")]
        if t == "linkage_specification":
            body = node.child_by_field_name("body")
            if body is not None and body.type == "declaration_list":
                inner = self.items(c for c in body.named_children)
                return [ir.ExternC(tuple(inner))]
            inner = self.item(body)
            return [self.mark_extern_c(i) for i in inner]
        if t == "declaration":
            return [self.declaration(node, top_level=True)]
        if t == "using_declaration" or t == "alias_declaration" or t == "type_definition":
            return [self.keep(node, "type or using declaration printed as written")]
        if t == "expression_statement" and not node.named_children:
            return []  # a stray `;` at file scope
        kept = self.keep(node, "top-level construct the IR does not model")
        if t.endswith("_specifier") and node.next_sibling is not None and node.next_sibling.type == ";":
            kept = ir.Verbatim(kept.text + ";", kept.reason, kept.loc)  # `enum K { A, B };` keeps its `;`
        return [kept]

    def mark_extern_c(self, item):
        if isinstance(item, ir.Function):
            return _replace(item, extern_c=True)
        if isinstance(item, ir.Decl):
            return _replace(item, storage=("extern \"C\"",) + item.storage)
        return item

    def define(self, node) -> ir.Define:
        self.verbatim_spans.append((node.start_byte, node.end_byte))
        text = self.text(node).rstrip()
        body = re.sub(r"^#\s*define\s+", "", text)
        return ir.Define(self.text(node.child_by_field_name("name")), body)

    def pragma_or_keep(self, node):
        directive = node.child_by_field_name("directive")
        if directive is not None and self.text(directive) == "#pragma":
            arg = node.child_by_field_name("argument")
            return ir.Pragma(self.text(arg).strip() if arg is not None else "")
        return self.keep(node, "preprocessor directive")

    # ---- functions -----------------------------------------------------------------------------
    def function(self, node, template: str | None = None) -> ir.Stmt:
        declarator = node.child_by_field_name("declarator")
        type_node = node.child_by_field_name("type")
        body = node.child_by_field_name("body")
        # Peel the declarator down to the function_declarator (pointer returns: `float *f(...)`).
        pointer, ptr_quals = 0, []
        d = declarator
        while d is not None and d.type in ("pointer_declarator", "reference_declarator"):
            pointer += d.type == "pointer_declarator"
            ptr_quals += self.type_qualifiers(d)
            d = d.child_by_field_name("declarator") or (d.named_children[-1] if d.named_children else None)
        if d is None or d.type != "function_declarator":
            return self.keep(node, "function with a declarator the IR does not model")
        name_node = d.child_by_field_name("declarator")
        if name_node.type not in ("identifier", "field_identifier"):
            return self.keep(node, "qualified or operator function name")
        quals, launch_bounds, type_quals = [], None, []
        for child in node.children:
            if child in (type_node, declarator, body):
                continue
            if child.type == "launch_bounds":
                launch_bounds = tuple(self.expr(c) for c in child.named_children)
            elif child.type == "type_qualifier":
                type_quals.append(self.text(child))
            elif child.type != "comment":
                quals.append(self.text(child))
        quals = self.qualifiers(node, type_node.start_byte if type_node is not None else d.start_byte) + quals
        kind = "kernel" if KERNEL_QUALIFIERS & set(quals) else "device" if DEVICE_QUALIFIERS & set(quals) else "host"
        ret = self.type_of(type_node, type_quals, pointer=pointer, ptr_quals=ptr_quals)
        params = self.params(d.child_by_field_name("parameters"))
        lifted_body = self.block(body) if body is not None and body.type == "compound_statement" else None
        return ir.Function(self.text(name_node), ret, tuple(params), lifted_body, kind=kind, quals=tuple(quals),
                           launch_bounds=launch_bounds, template=template, loc=self.loc(node))

    def params(self, node) -> list[ir.Param]:
        out = []
        for p in node.named_children:
            if p.type == "comment":
                continue
            if p.type != "parameter_declaration":
                raise self.unsupported(p, f"parameter form {p.type!r} is not supported")
            type_node = p.child_by_field_name("type")
            quals = self.type_qualifiers(p)
            decl = p.child_by_field_name("declarator")
            if decl is None:  # `void` or an unnamed parameter
                if self.text(type_node) == "void" and not quals:
                    continue
                raise self.unsupported(p, "unnamed parameter")
            name, typ, dims, _, _ = self.declarator(decl, self.type_of(type_node, quals))
            out.append(ir.Param(name, typ, tuple(dims)))
        return out

    # ---- types and declarators -----------------------------------------------------------------
    def type_of(self, type_node, quals=(), pointer=0, ptr_quals=()) -> ir.Type:
        base = self.text(type_node) if type_node is not None else "int"
        return ir.Type(" ".join(base.split()), pointer, tuple(quals), tuple(ptr_quals))

    def declarator(self, node, base: ir.Type):
        """``(name, type, dims, init, ctor_args)`` of a declarator applied to ``base``."""
        typ, dims, init, ctor = base, [], None, None
        while True:
            t = node.type
            if t == "init_declarator":
                value = node.child_by_field_name("value")
                if value.type == "argument_list":
                    ctor = tuple(self.expr(a) for a in value.named_children if a.type != "comment")
                else:
                    init = self.expr(value)
                node = node.child_by_field_name("declarator")
            elif t == "pointer_declarator":
                quals = tuple(self.type_qualifiers(node))
                typ = ir.Type(typ.base, typ.pointer + 1, typ.quals, quals)
                node = node.child_by_field_name("declarator")
            elif t == "reference_declarator":
                typ = _replace(typ, reference=True)
                node = node.named_children[-1]
            elif t == "array_declarator":
                size = node.child_by_field_name("size")
                dims.insert(0, self.expr(size) if size is not None else None)
                node = node.child_by_field_name("declarator")
            elif t == "parenthesized_declarator":
                raise self.unsupported(node, "parenthesized declarators (pointers to arrays/functions) are not supported")
            elif t in ("identifier", "field_identifier"):
                # array_declarator nests outermost-last: `a[2][3]` is array(array(a, 2), 3); we inserted
                # at the front while walking inwards, which restores source order.
                return self.text(node), typ, dims, init, ctor
            else:
                raise self.unsupported(node, f"declarator form {t!r} is not supported")

    def declaration(self, node, top_level=False) -> ir.Stmt:
        type_node = node.child_by_field_name("type")
        if type_node is None:
            return self.keep(node, "declaration without a type")
        # Specifiers in source order: cv-qualifiers go with the type, memory-scope qualifiers set
        # the scope, everything else (static, extern, alignas(64), attributes) is kept as written.
        quals, storage = [], []
        declarators = {d.id for d in node.children_by_field_name("declarator")}
        for child in node.children:
            if child.id == type_node.id or child.id in declarators or child.type in (";", ",", "comment"):
                continue
            text = self.text(child)
            if text in SCOPE_QUALIFIERS or text in ("const", "volatile", "__restrict__", "restrict"):
                quals.append(text)
            else:
                storage.append(text)
        blanked = self.qualifiers(node, type_node.start_byte)
        # GNU attributes blanked anywhere in the declaration apply to it as a whole: print them first.
        storage = [q for q in self.qualifiers(node) if q.startswith("__attribute__")] + storage
        scope = "local"
        type_quals = []
        for q in blanked + quals:
            if q in SCOPE_QUALIFIERS:
                scope = SCOPE_QUALIFIERS[q]
            else:
                type_quals.append(q)
        base = self.type_of(type_node, type_quals)
        decls = []
        for d in node.children_by_field_name("declarator"):
            ctor = None if top_level else self.vexing_constructor(d)
            if ctor is not None:
                decls.append(ir.Declarator(self.text(d.child_by_field_name("declarator")), base, (), None, ctor))
                continue
            if d.type == "function_declarator" or (d.type == "pointer_declarator" and _inner(d).type == "function_declarator"):
                return self.prototype(node)
            try:
                name, typ, dims, init, ctor = self.declarator(d, base)
            except UnsupportedError:
                return self.keep(node, "declaration with a declarator the IR does not model")
            decls.append(ir.Declarator(name, typ, tuple(dims), init, ctor))
        if not decls:
            return self.keep(node, "type declaration printed as written")
        spelling = "HIP_DYNAMIC_SHARED" if self.src.data.startswith(b"HIP_DYNAMIC_SHARED", node.start_byte) else None
        return ir.Decl(tuple(decls), scope, tuple(storage), spelling)

    def vexing_constructor(self, d):
        """The arguments of ``std::vector<float> s(L);`` in a function body, which the grammar reads
        as a prototype whose parameters are types named ``L`` (C++'s most vexing parse): a
        declarator ``name(a, b)`` with bare identifiers for parameters that do not look like type
        names is an object constructed from those variables (function prototypes inside kernels
        take types: ``float f(float);``, ``size_t``)."""
        if d.type != "function_declarator" or d.child_by_field_name("declarator").type != "identifier":
            return None
        params = [c for c in d.child_by_field_name("parameters").named_children if c.type != "comment"]
        if not params or any(p.type != "parameter_declaration" or p.named_child_count != 1 or
                             p.named_children[0].type != "type_identifier" or
                             self.text(p.named_children[0]).endswith("_t") for p in params):
            return None
        return tuple(ir.Name(self.text(p.named_children[0])) for p in params)

    def prototype(self, node) -> ir.Stmt:
        """A function declaration without a body (forward declaration or extern prototype)."""
        type_node = node.child_by_field_name("type")
        d = node.child_by_field_name("declarator")
        pointer, ptr_quals = 0, []
        while d.type == "pointer_declarator":
            pointer += 1
            ptr_quals += self.type_qualifiers(d)
            d = d.child_by_field_name("declarator")
        quals = self.qualifiers(node, type_node.start_byte) + [
            self.text(c) for c in node.children
            if c not in (type_node,) and c.type not in ("function_declarator", "pointer_declarator", ";", "comment")]
        type_quals = [q for q in quals if q == "const"]
        quals = [q for q in quals if q != "const"]
        kind = "kernel" if KERNEL_QUALIFIERS & set(quals) else "device" if DEVICE_QUALIFIERS & set(quals) else "host"
        try:
            params = self.params(d.child_by_field_name("parameters"))
        except UnsupportedError:
            return self.keep(node, "prototype with parameters the IR does not model")
        return ir.Function(self.text(d.child_by_field_name("declarator")),
                           self.type_of(type_node, type_quals, pointer, ptr_quals), tuple(params), None,
                           kind=kind, quals=tuple(quals), loc=self.loc(node))

    # ---- statements ----------------------------------------------------------------------------
    def block(self, node) -> ir.Block:
        return ir.Block(tuple(self.stmts(node.named_children)))

    def stmts(self, nodes) -> list[ir.Stmt]:
        return [s for n in nodes for s in [self.stmt(n)] if s is not None]

    def stmt(self, node) -> ir.Stmt | None:
        self.guard(node)
        try:
            pragmas = self.pragmas_before(node)
            s = self._stmt(node)
            return ir.Block(tuple(pragmas) + (s,)) if pragmas and s is not None else s
        finally:
            self.depth -= 1

    def pragmas_before(self, node) -> list[ir.Pragma]:
        """Pragmas the parser blanked inside a statement (``for (...) #pragma unroll for (...)``)."""
        start = node.start_byte
        data = self.src.normalized
        while start > 0 and data[start - 1:start].isspace():
            start -= 1
        found = []
        for offset, text in sorted(self.src.qualifiers.items()):
            if start <= offset < node.start_byte and text.startswith("#") and offset not in self.consumed:
                self.consumed.add(offset)
                found.append(ir.Pragma(re.sub(r"^#\s*pragma\s*", "", text).strip()))
        return found

    def _stmt(self, node) -> ir.Stmt | None:
        t = node.type
        if t == "compound_statement":
            return self.block(node)
        if t == "comment":
            self.verbatim_spans.append((node.start_byte, node.end_byte))
            return ir.Comment(self.text(node))
        if t == "declaration":
            return self.declaration(node)
        if t == "expression_statement":
            if not node.named_children:
                return None  # a stray `;`
            e = self.expr(node.named_children[0])
            if isinstance(e, ir.Call) and isinstance(e.func, ir.Name) and not e.args and e.func.id in BARRIERS:
                return ir.Barrier(BARRIERS[e.func.id], e.func.id)
            return ir.ExprStmt(e)
        if t == "if_statement":
            cond = node.child_by_field_name("condition")
            value = cond.child_by_field_name("value") if cond.type == "condition_clause" else cond
            if value is None or cond.child_by_field_name("initializer") is not None:
                return self.keep(node, "if with a declaration in its condition")
            other = node.child_by_field_name("alternative")
            if other is not None and other.type == "else_clause":
                other = other.named_children[-1] if other.named_children else None
            return ir.If(self.expr(value), self.body(node.child_by_field_name("consequence")),
                         self.body(other) if other is not None else None)
        if t == "for_statement":
            init = node.child_by_field_name("initializer")
            if init is None:
                init_stmt = None
            elif init.type == "declaration":
                init_stmt = self.declaration(init)
            else:
                init_stmt = ir.ExprStmt(self.expr(init))
            cond = node.child_by_field_name("condition")
            step = node.child_by_field_name("update")
            return ir.For(init_stmt, self.expr(cond) if cond is not None else None,
                          self.expr(step) if step is not None else None, self.body(node.child_by_field_name("body")))
        if t == "while_statement":
            cond = node.child_by_field_name("condition")
            value = cond.child_by_field_name("value") if cond.type == "condition_clause" else cond
            return ir.While(self.expr(value), self.body(node.child_by_field_name("body")))
        if t == "do_statement":
            cond = node.child_by_field_name("condition")
            value = cond.named_children[0] if cond.type == "parenthesized_expression" and len(cond.named_children) == 1 else cond
            return ir.While(self.expr(value), self.body(node.child_by_field_name("body")), do_while=True)
        if t == "switch_statement":
            return self.switch(node)
        if t == "return_statement":
            value = node.named_children[0] if node.named_children else None
            return ir.Return(self.expr(value) if value is not None else None)
        if t in ("break_statement", "continue_statement"):
            kind = t.removesuffix("_statement")
            targets = ("for_statement", "while_statement", "do_statement") + (("switch_statement",) if kind == "break" else ())
            up = node.parent
            while up is not None and up.type not in targets + ("function_definition", "lambda_expression"):
                up = up.parent
            if up is None or up.type not in targets:
                line, column = self.src.position(node.start_byte)
                raise ParseError(f"'{kind}' outside of a loop" + (" or switch" if kind == "break" else ""),
                                 filename=self.src.filename, line=line, column=column)
            return ir.Jump(kind)
        if t == "preproc_call":
            return self.pragma_or_keep(node)
        if t in ("preproc_def", "preproc_function_def"):
            return self.define(node)
        if t == "function_definition":
            return self.keep(node, "nested function definition")
        return self.keep(node, f"statement kind {t!r} is not modelled")

    def switch(self, node) -> ir.Stmt:
        """``switch`` as an ``if`` / ``else if`` chain on ``value == label``: the form every pass
        understands. Only the structured form is taken (each group of labels ends in ``break``,
        ``continue`` or ``return``, no other ``break`` of the switch, a value without side effects);
        anything else is kept verbatim with the reason."""
        cond = node.child_by_field_name("condition")
        value_node = cond.child_by_field_name("value") if cond.type == "condition_clause" else cond
        if value_node is None or cond.child_by_field_name("initializer") is not None:
            return self.keep(node, "switch with a declaration in its condition")
        value = self.expr(value_node)
        if any(isinstance(n, (ir.Call, ir.Assign)) or isinstance(n, ir.UnOp) and n.op in ("++", "--")
               for n in ir.walk(value)):
            return self.keep(node, "switch on a value with side effects")
        groups, labels, default = [], [], None
        cases = [c for c in node.child_by_field_name("body").named_children if c.type != "comment"]
        for k, case in enumerate(cases):
            if case.type != "case_statement":
                return self.keep(node, "switch with statements outside its case labels")
            label = case.child_by_field_name("value")
            labels.append(self.expr(label) if label is not None else None)
            stmts = [c for c in case.named_children if label is None or c.id != label.id]
            if not [c for c in stmts if c.type != "comment"]:
                continue  # `case 1: case 2:` share the next group
            last = [c for c in stmts if c.type != "comment"][-1]
            ends = last.type in ("break_statement", "continue_statement", "return_statement")
            if not ends and k != len(cases) - 1:
                return self.keep(node, "switch with a case that falls through")
            if any(_breaks_out(c) for c in (stmts[:-1] if last.type == "break_statement" else stmts)):
                return self.keep(node, "switch with a break before the end of a case")
            body = [b for b in (self.stmt(c) for c in stmts if c.id != last.id or last.type != "break_statement")
                    if b is not None]
            block = ir.Block(tuple(body))
            if None in labels:
                default = block
            else:
                test = None
                for lab in labels:
                    eq = ir.BinOp("==", value, lab)
                    test = eq if test is None else ir.BinOp("||", test, eq)
                groups.append((test, block))
            labels = []
        out = default
        for test, block in reversed(groups):
            out = ir.If(test, block, out)
        return out if out is not None else ir.Block(())

    def body(self, node) -> ir.Stmt:
        s = self.stmt(node)
        return s if s is not None else ir.Block(())

    # ---- expressions ---------------------------------------------------------------------------
    def expr(self, node) -> ir.Expr:
        self.guard(node)
        try:
            return self._expr(node)
        finally:
            self.depth -= 1

    def _expr(self, node) -> ir.Expr:
        t = node.type
        if t in ("identifier", "field_identifier", "namespace_identifier", "type_identifier"):
            return self.name(self.text(node))
        if t == "qualified_identifier":
            return ir.Name(" ".join(self.text(node).split()))
        if t == "number_literal":
            return ir.Const(self.text(node), _number(self.text(node)))
        if t in ("true", "false"):
            return ir.Const(t, t == "true")
        if t in ("null", "nullptr"):
            return ir.Const(self.text(node), 0)
        if t in ("string_literal", "char_literal", "concatenated_string", "raw_string_literal", "system_lib_string"):
            return ir.Const(self.text(node))
        if t == "this":
            return ir.Name("this")
        if t == "parenthesized_expression":
            inner = [c for c in node.named_children if c.type != "comment"]
            if len(inner) != 1:
                return self.raw(node, "parenthesized form the IR does not model")
            return ir.Paren(self.expr(inner[0]))
        if t == "binary_expression":
            return ir.BinOp(self.text(node.child_by_field_name("operator")), self.expr(node.child_by_field_name("left")),
                            self.expr(node.child_by_field_name("right")))
        if t in ("unary_expression", "pointer_expression"):
            return ir.UnOp(self.text(node.child_by_field_name("operator")), self.expr(node.child_by_field_name("argument")))
        if t == "update_expression":
            op = self.text(node.child_by_field_name("operator"))
            arg = node.child_by_field_name("argument")
            return ir.UnOp(op, self.expr(arg), postfix=node.children[0].id == arg.id)
        if t == "template_function" and _type_arguments(node):
            return ir.Name(" ".join(self.text(node).split()))  # `pool<MaxOp>` naming an instantiation
        if t == "template_function" or t == "assignment_expression" and \
                node.child_by_field_name("left").type in ("template_function", "binary_expression"):
            # The C++ grammar reads `i < 0 || i >= w` as `i<0 || i> = w` (a template argument list).
            # Outside a call that reading is not meant: lift the comparison instead.
            return self.comparison(node)
        if t == "assignment_expression":
            return ir.Assign(self.expr(node.child_by_field_name("left")), self.text(node.child_by_field_name("operator")),
                             self.expr(node.child_by_field_name("right")))
        if t == "conditional_expression":
            return ir.Ternary(self.expr(node.child_by_field_name("condition")),
                              self.expr(node.child_by_field_name("consequence")),
                              self.expr(node.child_by_field_name("alternative")))
        if t == "comma_expression":
            return ir.Comma(self.expr(node.child_by_field_name("left")), self.expr(node.child_by_field_name("right")))
        if t == "subscript_expression":
            indices = node.child_by_field_name("indices") or node.child_by_field_name("index")
            items = [c for c in indices.named_children if c.type != "comment"] if indices.type == "subscript_argument_list" else [indices]
            if len(items) != 1:
                return self.raw(node, "multi-index subscript")
            return ir.Index(self.expr(node.child_by_field_name("argument")), self.expr(items[0]))
        if t == "field_expression":
            arg = node.child_by_field_name("argument")
            fld = self.text(node.child_by_field_name("field"))
            op = self.text(node.child_by_field_name("operator"))
            if arg.type == "identifier" and self.text(arg) in SIMT_BUILTINS and fld in ("x", "y", "z") and op == ".":
                return ir.Builtin(self.text(arg), fld)
            return ir.Member(self.expr(arg), fld, arrow=op == "->")
        if t == "cast_expression":
            return ir.Cast(self.type_descriptor(node.child_by_field_name("type")), self.expr(node.child_by_field_name("value")))
        if t == "sizeof_expression":
            type_node = node.child_by_field_name("type")
            if type_node is not None:
                return ir.SizeOf(type=self.type_descriptor(type_node))
            return ir.SizeOf(operand=self.expr(node.child_by_field_name("value")))
        if t == "initializer_list":
            return ir.InitList(tuple(self.expr(c) for c in node.named_children if c.type != "comment"))
        if t == "call_expression":
            return self.call(node)
        return self.raw(node, f"expression kind {t!r} is not modelled")

    def comparison(self, node) -> ir.Expr:
        stack, first = [node], None
        while stack:
            n = stack.pop()
            if n.type == "template_function":
                first = n
                break
            stack.extend(reversed(n.children))
        if first is None:
            return self.raw(node, "assignment to an expression that is not an lvalue")
        name = first.child_by_field_name("name")
        raw = self.src.data[node.start_byte:node.end_byte]
        head = self.text(name)
        at, end = name.start_byte - node.start_byte, name.end_byte - node.start_byte
        fixed = (raw[:at] + b"(" + raw[at:end] + b")" + raw[end:]).decode("utf-8", "replace")
        from .parser import parse as ts_parse
        try:
            tree, source = ts_parse(f"auto __xpiler_expr = ({fixed});", self.src.filename)
        except Exception:
            return self.raw(node, "expression the grammar misreads as a template argument list")
        init = tree.root_node.named_children[0].child_by_field_name("declarator").child_by_field_name("value")
        inner = Lifter(source, self.dialect).expr(init)
        inner = inner.inner if isinstance(inner, ir.Paren) else inner
        # `(i) < 0` -> `i < 0`: drop the parentheses that forced the reading
        return ir.rewrite(inner, lambda n: n.inner if isinstance(n, ir.Paren) and n.inner == ir.Name(head) else n)

    def name(self, text: str) -> ir.Expr:
        m = _HIP_BUILTIN.match(text)
        if m:
            if m.group(4):
                return ir.Builtin("gridDim", m.group(4), spelling="hip")
            base = {"ThreadIdx": "threadIdx", "BlockIdx": "blockIdx", "ThreadDim": "blockDim",
                    "BlockDim": "blockDim"}[m.group(1) + m.group(2)]
            return ir.Builtin(base, m.group(3), spelling="hip")
        if self.dialect == "bang" and text in BANG_BUILTINS:
            return ir.Builtin(text, spelling="bang")
        return ir.Name(text)

    def type_descriptor(self, node) -> ir.Type:
        type_node = node.child_by_field_name("type")
        quals = self.type_qualifiers(node)
        typ = self.type_of(type_node, quals)
        d = node.child_by_field_name("declarator")
        while d is not None:
            if d.type == "abstract_pointer_declarator":
                quals = tuple(self.type_qualifiers(d))
                typ = ir.Type(typ.base, typ.pointer + 1, typ.quals, quals)
                d = d.child_by_field_name("declarator")
            elif d.type == "abstract_reference_declarator":
                typ = _replace(typ, reference=True)
                d = d.named_children[0] if d.named_children else None
            else:
                # Abstract arrays / functions: keep the whole type text as the base.
                return ir.Type(" ".join(self.text(node).split()))
        return typ

    def call(self, node) -> ir.Expr:
        func = node.child_by_field_name("function")
        args_node = node.child_by_field_name("arguments")
        args = tuple(self.expr(a) for a in args_node.named_children if a.type != "comment")
        launch = next((c for c in node.children if c.type == "kernel_call_syntax"), None)
        template_args = None
        if func.type == "template_function":
            name_node = func.child_by_field_name("name")
            targs = func.child_by_field_name("arguments")
            template_args = tuple(" ".join(self.text(c).split()) for c in targs.named_children)
            fname = self.text(name_node)
            if fname in ("static_cast", "reinterpret_cast", "const_cast", "dynamic_cast") and len(args) == 1 \
                    and len(template_args) == 1:
                return ir.Cast(self.type_descriptor(targs.named_children[0]) if targs.named_children[0].type == "type_descriptor"
                               else ir.Type(template_args[0]), args[0], style=fname)
            callee: ir.Expr = self.name(fname) if name_node.type == "identifier" else ir.Name(fname)
        else:
            callee = self.expr(func)
        if launch is not None:
            config = tuple(self.expr(c) for c in launch.named_children if c.type != "comment")
            return ir.Launch(callee, config, args, "chevron", template_args)
        if isinstance(callee, ir.Name):
            fname = callee.id
            if fname == "hipLaunchKernelGGL" and len(args) >= 5:
                kernel = args[0]
                if isinstance(kernel, ir.Call) and isinstance(kernel.func, ir.Name) and kernel.func.id == "HIP_KERNEL_NAME":
                    kernel = kernel.args[0]
                template_args = None
                named = re.fullmatch(r"(\w+)\s*<(.*)>", kernel.id) if isinstance(kernel, ir.Name) else None
                if named:  # HIP_KERNEL_NAME(pool<MaxOp>)
                    kernel, template_args = ir.Name(named.group(1)), (named.group(2).strip(),)
                first = [a for a in args_node.named_children if a.type != "comment"][0]
                if first.type == "template_function" and _type_arguments(first):
                    kernel = ir.Name(self.text(first.child_by_field_name("name")))
                    template_args = tuple(" ".join(self.text(c).split())
                                          for c in first.child_by_field_name("arguments").named_children)
                return ir.Launch(kernel, args[1:5], args[5:], "ggl", template_args)
            found = REGISTRY.lookup(self.dialect, fname, len(args))
            if found is not None:
                return ir.Call(callee, args, template_args, found[0].name)
            if fname.startswith(("__bang_", "_mm512_", "_mm256_", "__builtin_amdgcn_")) \
                    and not REGISTRY.is_known_function(self.dialect, fname):
                self.unknown_calls.append((*self.src.position(node.start_byte), fname))
        return ir.Call(callee, args, template_args)


def _type_arguments(node) -> bool:
    """Is ``node`` (a template_function) instantiated with types only (``k<float>``, ``pool<MaxOp>``)?"""
    args = node.child_by_field_name("arguments")
    items = [c for c in args.named_children if c.type != "comment"] if args is not None else []
    return bool(items) and all(c.type == "type_descriptor" for c in items)


def _inner(node):
    while node.type == "pointer_declarator":
        node = node.child_by_field_name("declarator")
    return node


def _replace(node, **changes):
    from dataclasses import replace
    return replace(node, **changes)


def _number(text: str):
    t = text.lower().replace("'", "")
    sign = -1 if t.startswith("-") else 1  # tree-sitter reads `-1` in an initialiser as one literal
    digits = t.lstrip("-+")
    try:
        if digits.startswith("0x"):
            return sign * int(digits.rstrip("ul"), 16)
        if re.fullmatch(r"[0-9]+[ul]*", digits):
            return sign * int(digits.rstrip("ul"), 8 if len(digits.rstrip("ul")) > 1 and digits.startswith("0") else 10)
        return float(t.rstrip("fl") if not t.endswith("e") else t)
    except ValueError:
        return None


def _breaks_out(node) -> bool:
    """A ``break`` under ``node`` that leaves the enclosing switch (not one of a nested loop or switch)."""
    if node.type == "break_statement":
        return True
    if node.type in ("for_statement", "while_statement", "do_statement", "switch_statement", "for_range_loop"):
        return False
    return any(_breaks_out(c) for c in node.named_children)
