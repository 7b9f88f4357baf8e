"""The IR: a small, explicit, immutable tree for tensor programs of all four dialects.

Every node is a frozen dataclass; transformations build new trees (``dataclasses.replace``) rather
than mutating. The IR models what passes reason about (kernels, parameters, buffers with memory
scopes, loops, conditionals, assignments, intrinsic calls, barriers, launches) and keeps everything
else as :class:`Verbatim` text with the reason it was not modelled, so nothing is ever lost.

Expressions print back to C-family source (see :mod:`xpiler.emitters`); a node carries the source
location it was lifted from (``loc``) so errors can point into the user's text.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Iterator, Union


@dataclass(frozen=True)
class Loc:
    """A 1-based source position."""

    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.line}:{self.column}"


NOLOC: Loc | None = None


def _node(cls):
    """Frozen dataclass whose ``loc`` field does not take part in equality."""
    return dataclass(frozen=True, eq=True)(cls)


# --------------------------------------------------------------------------------------------------
# Types


@_node
class Type:
    """A C type: ``base`` is the type name as written (``float``, ``half``, ``int8_t``,
    ``wmma::fragment<...>``), ``pointer`` the number of ``*``, ``quals`` qualifiers that apply to the
    base (``const``, ``unsigned`` is part of ``base``), ``ptr_quals`` qualifiers after the last ``*``
    (``__restrict__``, ``const``)."""

    base: str
    pointer: int = 0
    quals: tuple[str, ...] = ()
    ptr_quals: tuple[str, ...] = ()
    reference: bool = False

    @property
    def is_pointer(self) -> bool:
        return self.pointer > 0

    def pointee(self) -> "Type":
        return replace(self, pointer=self.pointer - 1, ptr_quals=())

    def __str__(self) -> str:  # a readable C spelling without a declarator name
        from ..emitters.c_printer import type_prefix
        return type_prefix(self).rstrip()


# --------------------------------------------------------------------------------------------------
# Expressions


class Expr:
    """Base of expressions."""

    __slots__ = ()


@_node
class Const(Expr):
    """A literal as written (``1024``, ``0.5f``, ``'a'``, ``"s"``, ``true``); ``value`` is the Python
    value where it has one (None for strings)."""

    text: str
    value: object = field(default=None, compare=False)


@_node
class Name(Expr):
    """A variable, function or enumerator name (``A``, ``wmma::mem_row_major``)."""

    id: str


@_node
class Builtin(Expr):
    """A parallel built-in variable: ``threadIdx.x`` is ``Builtin("threadIdx", "x")``, BANG's ``taskId``
    is ``Builtin("taskId")``. ``spelling`` records how the source wrote it (``hip`` for
    ``hipThreadIdx_x``) so the identity translation keeps it."""

    name: str
    axis: str | None = None
    spelling: str = "cuda"


@_node
class BinOp(Expr):
    op: str
    left: Expr
    right: Expr


@_node
class UnOp(Expr):
    """Prefix (``-x``, ``!x``, ``~x``, ``*p``, ``&x``, ``++i``) or postfix (``i++``) operator."""

    op: str
    operand: Expr
    postfix: bool = False


@_node
class Assign(Expr):
    """``target op value`` with op one of ``=``, ``+=``, ``-=``, ... (an expression in C)."""

    target: Expr
    op: str
    value: Expr


@_node
class Ternary(Expr):
    cond: Expr
    then: Expr
    other: Expr


@_node
class Call(Expr):
    """A call. ``intrinsic`` names the registry entry when the callee is a known intrinsic."""

    func: Expr
    args: tuple[Expr, ...]
    template_args: tuple[str, ...] | None = None
    intrinsic: str | None = None


@_node
class Index(Expr):
    """``base[index]``."""

    base: Expr
    index: Expr


@_node
class Member(Expr):
    """``base.field`` or ``base->field``."""

    base: Expr
    field_name: str
    arrow: bool = False


@_node
class Cast(Expr):
    """A cast; ``style`` is ``c`` for ``(T)x``, or the C++ cast keyword (``static_cast``)."""

    type: Type
    operand: Expr
    style: str = "c"


@_node
class SizeOf(Expr):
    """``sizeof(T)`` (``type`` set) or ``sizeof expr``."""

    type: Type | None = None
    operand: Expr | None = None


@_node
class Paren(Expr):
    """Parentheses the source wrote; kept so the printed program reads like the input."""

    inner: Expr


@_node
class InitList(Expr):
    items: tuple[Expr, ...]


@_node
class Comma(Expr):
    left: Expr
    right: Expr


@_node
class Launch(Expr):
    """A kernel launch. ``config`` holds the launch configuration expressions: SIMT ``(grid, block
    [, shared_bytes [, stream]])``, BANG ``(dim, function_type, queue)``. ``style`` is ``chevron``
    (``k<<<...>>>(...)``) or ``ggl`` (``hipLaunchKernelGGL(k, ...)``)."""

    kernel: Expr
    config: tuple[Expr, ...]
    args: tuple[Expr, ...]
    style: str = "chevron"
    template_args: tuple[str, ...] | None = None


@_node
class RawExpr(Expr):
    """An expression the IR does not model (a lambda, a ``new``), kept as source text."""

    text: str
    reason: str = ""


# --------------------------------------------------------------------------------------------------
# Statements


class Stmt:
    __slots__ = ()


@_node
class Block(Stmt):
    body: tuple[Stmt, ...]


@_node
class Declarator:
    """One declared variable of a declaration: its name, full type, array extents, initializer."""

    name: str
    type: Type
    dims: tuple[Expr | None, ...] = ()
    init: Expr | None = None
    # C++ constructor-style initialisation ``dim3 grid(4, 4)``.
    ctor_args: tuple[Expr, ...] | None = None


@_node
class Decl(Stmt):
    """A declaration. ``scope`` is the memory scope of buffers: ``local`` (registers / stack),
    ``shared`` (``__shared__``), ``nram``, ``wram``, ``sram`` (``__mlu_shared__``), ``ldram``,
    ``constant`` (``__constant__``), ``global`` (``__device__`` / ``__mlu_device__`` variables).
    ``storage`` holds ``static`` / ``extern`` / ``constexpr`` ... as written."""

    vars: tuple[Declarator, ...]
    scope: str = "local"
    storage: tuple[str, ...] = ()
    # A macro spelling of the declaration the dialect printer may keep (HIP's
    # ``HIP_DYNAMIC_SHARED(float, red)`` for ``extern __shared__ float red[];``).
    spelling: str | None = None


@_node
class ExprStmt(Stmt):
    expr: Expr


@_node
class If(Stmt):
    cond: Expr
    then: Stmt
    other: Stmt | None = None


@_node
class For(Stmt):
    """A C ``for`` loop. ``kind`` says how it executes: ``serial``; ``unroll`` (a ``#pragma unroll``
    preceded it); later passes add ``parallel:<axis>`` (bound to ``threadIdx.x``, ``taskId``, an
    OpenMP team ...), ``vector`` and ``pipelined``."""

    init: Stmt | None
    cond: Expr | None
    step: Expr | None
    body: Stmt
    kind: str = "serial"

    def canonical(self) -> tuple[str, Expr, Expr, Expr] | None:
        """``(var, start, stop, step)`` when the loop is ``for (int v = a; v < b; v += s)`` (or ``++v``,
        ``v++``, ``v = v + s``), else None."""
        from .analysis import canonical_loop
        return canonical_loop(self)


@_node
class While(Stmt):
    cond: Expr
    body: Stmt
    do_while: bool = False


@_node
class Return(Stmt):
    value: Expr | None = None


@_node
class Jump(Stmt):
    """``break`` or ``continue``."""

    kind: str


@_node
class Barrier(Stmt):
    """A synchronisation: ``block`` (``__syncthreads``), ``warp`` (``__syncwarp``), ``cluster``
    (``__sync_cluster``), ``all`` (``__sync_all``). ``spelling`` is the call as written."""

    scope: str
    spelling: str


@_node
class Pragma(Stmt):
    """``#pragma ...`` inside a function (OpenMP, unroll)."""

    text: str


@_node
class Comment(Stmt):
    text: str


@_node
class Verbatim(Stmt):
    """Source the IR does not model, kept character for character, with the reason. Printed back
    unchanged (a translation that meets one in a place it must transform says so)."""

    text: str
    reason: str
    loc: Loc | None = field(default=None, compare=False)


# --------------------------------------------------------------------------------------------------
# Top level


@_node
class Param:
    name: str
    type: Type
    dims: tuple[Expr | None, ...] = ()


@_node
class Function(Stmt):
    """A function. ``kind``: ``kernel`` (``__global__`` / ``__mlu_global__`` / ``__mlu_entry__``),
    ``device`` (``__device__`` / ``__mlu_func__`` / ``__mlu_device__``), ``host``. ``extern_c`` for
    ``extern "C"``. ``quals`` are the qualifiers as written (``__global__``, ``__forceinline__``,
    ``static``, ``inline``), ``launch_bounds`` the ``__launch_bounds__`` arguments."""

    name: str
    ret: Type
    params: tuple[Param, ...]
    body: Block | None
    kind: str = "host"
    extern_c: bool = False
    quals: tuple[str, ...] = ()
    launch_bounds: tuple[Expr, ...] | None = None
    template: str | None = None
    loc: Loc | None = field(default=None, compare=False)


@_node
class Include(Stmt):
    path: str
    system: bool = True


@_node
class Define(Stmt):
    """``#define`` (object- or function-like), kept as its text after ``#define``."""

    name: str
    text: str


@_node
class ExternC(Stmt):
    """``extern "C" { ... }`` around several items."""

    items: tuple[Stmt, ...]


@_node
class Module:
    """A program: its dialect and its top-level items in source order."""

    dialect: str
    items: tuple[Stmt, ...]
    filename: str = field(default="<input>", compare=False)

    def functions(self) -> Iterator[Function]:
        for item in self.items:
            if isinstance(item, Function):
                yield item
            elif isinstance(item, ExternC):
                yield from (f for f in item.items if isinstance(f, Function))

    @property
    def kernels(self) -> list[Function]:
        return [f for f in self.functions() if f.kind == "kernel" and f.body is not None]

    @property
    def host_entries(self) -> list[Function]:
        """``extern "C"`` host functions with a body: the callable entries of conventions.md."""
        return [f for f in self.functions() if f.kind == "host" and f.extern_c and f.body is not None]

    @property
    def launched(self) -> set[str]:
        """Names of the kernels host code launches (the others are bare kernels)."""
        return {n.kernel.id for n in walk(self) if isinstance(n, Launch) and isinstance(n.kernel, Name)}

    def function(self, name: str) -> Function:
        for f in self.functions():
            if f.name == name and f.body is not None:
                return f
        raise KeyError(name)


Node = Union[Expr, Stmt, Module, Type, Param, Declarator]


def children(node) -> Iterator[object]:
    """The direct child nodes of an IR node (in field order; tuples flattened)."""
    for f in fields(node):
        value = getattr(node, f.name)
        if isinstance(value, tuple):
            for v in value:
                if hasattr(v, "__dataclass_fields__"):
                    yield v
        elif hasattr(value, "__dataclass_fields__") and f.name != "loc":
            yield value


def walk(node) -> Iterator[object]:
    """Every node of the tree rooted at ``node``, parents before children."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(list(children(current))))
