"""Small analyses on the IR used by several parts."""

from __future__ import annotations

import re

from .nodes import Assign, BinOp, Block, Builtin, Cast, Const, Decl, ExprStmt, For, Index, Name, Paren, UnOp, walk
from .transform import rewrite


def strip_parens(expr):
    while isinstance(expr, Paren):
        expr = expr.inner
    return expr


def without_parens(node):
    """``node`` with every parenthesis removed (for comparing expressions by structure)."""
    return rewrite(node, lambda n: n.inner if isinstance(n, Paren) else n)


def is_name(e, name: str) -> bool:
    """``e`` is the variable ``name``, through parentheses and integer casts (``(unsigned)x``)."""
    e = strip_parens(e)
    while isinstance(e, Cast) and e.type.base in ("int", "unsigned") and not e.type.pointer:
        e = strip_parens(e.operand)
    return e == Name(name)


def statements(s) -> list:
    """The statements of a body: a block's, or the one statement that is the body."""
    return list(s.body) if isinstance(s, Block) else [s]


def flat_statements(s) -> list:
    """The statements of ``s``, nested blocks opened."""
    return [x for y in statements(s) for x in (flat_statements(y) if isinstance(y, Block) else [y])]


def as_division(e, constants: dict | None = None):
    """``x >> s`` as ``x / 2**s`` and ``x & (2**s - 1)`` as ``x % 2**s`` (equal for non-negative
    ``x``); ``e`` itself otherwise. ``constants``: values of names (macros) the amount may be."""
    if isinstance(e, BinOp) and e.op in (">>", "&"):
        k = strip_parens(e.right)
        k = k.value if isinstance(k, Const) else (constants or {}).get(k.id) if isinstance(k, Name) else None
        if isinstance(k, int) and not isinstance(k, bool):
            if e.op == ">>" and 0 <= k < 31:
                return BinOp("/", e.left, Const(str(1 << k), 1 << k))
            if e.op == "&" and k > 0 and k & (k + 1) == 0:
                return BinOp("%", e.left, Const(str(k + 1), k + 1))
    return e


def conjuncts(e) -> list:
    """The terms of an ``&&`` chain, in evaluation order (``e`` itself when it is not one)."""
    e = strip_parens(e)
    if isinstance(e, BinOp) and e.op == "&&":
        return conjuncts(e.left) + conjuncts(e.right)
    return [e]


def conjunction(terms: list):
    """``t0 && t1 && ...`` (None for no terms)."""
    out = None
    for t in terms:
        out = t if out is None else BinOp("&&", out, t)
    return out


def only_subscripts(scope, name: str) -> bool:
    """Every use of ``name`` in ``scope`` (statements) is an array's whole subscript (``s[name]``)."""
    block = Block(tuple(scope))
    uses = sum(1 for n in walk(block) if isinstance(n, Name) and n.id == name)
    return uses == sum(1 for n in walk(block) if isinstance(n, Index) and strip_parens(n.index) == Name(name))


def canonical_loop(loop: For):
    """``(var, start, stop, step)`` of ``for (T v = a; v < b; v += s)`` style loops, else None."""
    init = loop.init
    if isinstance(init, Decl) and len(init.vars) == 1 and init.vars[0].init is not None:
        var, start = init.vars[0].name, init.vars[0].init
    elif isinstance(init, ExprStmt) and isinstance(init.expr, Assign) and init.expr.op == "=" \
            and isinstance(init.expr.target, Name):
        var, start = init.expr.target.id, init.expr.value
    else:
        return None
    cond = strip_parens(loop.cond) if loop.cond is not None else None
    if not (isinstance(cond, BinOp) and cond.op == "<" and strip_parens(cond.left) == Name(var)):
        return None
    inc = loop_increment(loop.step, var)
    return None if inc is None else (var, start, cond.right, inc)


def loop_increment(step, var: str):
    """``s`` of a loop step ``++v``, ``v += s`` or ``v = v + s``, else None."""
    step = strip_parens(step) if step is not None else None
    if isinstance(step, UnOp) and step.op == "++" and strip_parens(step.operand) == Name(var):
        return Const("1", 1)
    if isinstance(step, Assign) and step.target == Name(var) and step.op == "+=":
        return step.value
    if isinstance(step, Assign) and step.target == Name(var) and step.op == "=" \
            and isinstance(step.value, BinOp) and step.value.op == "+" and strip_parens(step.value.left) == Name(var):
        return step.value.right
    return None


def builtins_used(node) -> set[str]:
    """Names of parallel built-ins read anywhere under ``node`` (``threadIdx.x``, ``taskId``...)."""
    used = set()
    for n in walk(node):
        if isinstance(n, Builtin):
            used.add(n.name + (f".{n.axis}" if n.axis else ""))
    return used


def omp_collapse(text: str) -> int | None:
    """``k`` of the ``collapse(k)`` clause in the text of an OpenMP pragma, else None."""
    found = re.search(r"collapse\s*\(\s*(\d+)", text)
    return int(found.group(1)) if found else None
