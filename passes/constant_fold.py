"""Constant folding (``constant-fold``): integer arithmetic on constants, exactly as C computes it.

What folds:

* integer operators on integer constants (literals, ``sizeof`` of a known type, integer casts of
  constants) in the type C gives them (usual arithmetic conversions, 32-bit ``int``, 64-bit
  ``long``): ``/`` and ``%`` truncate toward zero, unsigned arithmetic wraps. Nothing folds that C
  leaves undefined (signed overflow, division by zero, shifts by the width or more, shifting
  negative values): those stay as written;
* comparisons, ``&&``, ``||`` and ``!`` of constants where the value is only used as a truth value
  (conditions), since C++ gives them type ``bool``;
* ``c ? a : b`` with a constant ``c`` when both branches have the same (promoted) type, so the type
  of the expression does not change;
* ``ldexpf(x, 0)`` / ``ldexp(x, 0)`` to ``x`` (exact for every ``x``);
* an integer constant initialising an integer variable is re-spelled in the variable's type
  (``int c = 32;`` rather than ``int c = 32UL;``);
* constant propagation: a local integer variable initialised with a constant and never assigned
  again (nor its address taken) is replaced by that constant where it is read (``int sh = 2;``
  makes ``y * sh`` read ``y * 2``); the declaration is left for ``dce``.

Floating-point expressions never fold (that could change rounding).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from xpiler import ir
from xpiler.ir.types import (TypeEnv, int_literal_value, arithmetic, canonical, canonical_base, integer_range, is_integer,
                             literal_type, promote, sizeof)

from .base import ModulePass
from .cleanup import ScopedRewriter
from .registry import register

_PRIMITIVES = {"char", "signed char", "unsigned char", "short", "unsigned short", "int", "unsigned int", "long",
               "unsigned long", "long long", "unsigned long long", "float", "double", "half", "bool"}


def int_value(e) -> int | None:
    """The value of an integer constant expression (literals and what folds), else None."""
    found = const_value(e)
    return found[0] if found is not None and isinstance(found[0], int) and not isinstance(found[0], bool) else None


def const_value(e, env: TypeEnv | None = None, macros: bool = False):
    """``(value, type)`` of an integer constant expression the folder understands, else None. With
    ``macros``, constant macros known to ``env`` (``#define N 2048``) count as their value (analyses use
    that; the folder keeps the names in the program text)."""
    while isinstance(e, ir.Paren):
        e = e.inner
    if macros and isinstance(e, ir.Name) and env is not None:
        var = env.lookup(e.id)
        if var is not None and var.kind == "macro" and isinstance(var.value, int):
            return var.value, var.type
        return None
    if macros and isinstance(e, ir.BinOp) and env is not None:
        a, b = const_value(e.left, env, True), const_value(e.right, env, True)
        if a is None or b is None:
            return None
        return fold_binary(e.op, a, b)
    if isinstance(e, ir.Const):
        t = literal_type(e)
        if is_integer(t) and e.text not in ("true", "false") and not e.text.startswith("'"):
            return int_literal_value(e.text), t
        return None
    if isinstance(e, ir.SizeOf):
        t = e.type
        if t is None and isinstance(e.operand, ir.Paren) and isinstance(e.operand.inner, ir.Name):
            name = e.operand.inner.id
            if canonical_base(name) in _PRIMITIVES or canonical_base(name) != name:
                t = ir.Type(name)
        if t is not None and not t.reference and (t.pointer or canonical_base(t.base) in _PRIMITIVES):
            n = sizeof(t)
            if n is not None:
                return n, ir.Type("unsigned long")
        return None
    if isinstance(e, ir.UnOp) and not e.postfix and e.op in ("-", "+", "~"):
        inner = const_value(e.operand, env, macros)
        if inner is None:
            return None
        v, t = inner
        t = promote(t)
        if e.op == "-":
            return wrap(-v, t)
        if e.op == "+":
            return wrap(v, t)
        return wrap(~v, t)
    if isinstance(e, ir.Cast) and e.style in ("c", "static_cast"):
        inner = const_value(e.operand, env, macros)
        t = e.type
        if inner is None or t.pointer or t.reference or not is_integer(t):
            return None
        lo, hi = integer_range(t)
        v = inner[0] % (hi - lo + 1)  # modulo 2^bits: unsigned by definition, signed as GCC (and C++20) do
        if v > hi:
            v -= hi - lo + 1
        return v, canonical(t)
    return None


def wrap(v: int, t) -> tuple[int, ir.Type] | None:
    """``v`` in type ``t``: unsigned wraps, signed must fit (overflow is undefined: no result)."""
    t = canonical(t)
    rng = integer_range(t)
    if rng is None:
        return None
    lo, hi = rng
    if lo == 0:
        return v % (hi + 1), t
    if lo <= v <= hi:
        return v, t
    return None


def fold_binary(op: str, a, b):
    """``a op b`` for ``(value, type)`` operands, or None where C does not define it / it is not
    an arithmetic operator."""
    (va, ta), (vb, tb) = a, b
    if op in ("<<", ">>"):
        t = canonical(promote(ta))
        bits = 8 * sizeof(t)
        if vb < 0 or vb >= bits:
            return None
        if op == ">>":
            return wrap(va >> vb, t)
        if va < 0:
            return None
        return wrap(va << vb, t)
    t = arithmetic(ta, tb)
    if t is None:
        return None
    t = canonical(t)
    conv_a, conv_b = wrap_any(va, t), wrap_any(vb, t)
    if op == "+":
        return wrap(conv_a + conv_b, t)
    if op == "-":
        return wrap(conv_a - conv_b, t)
    if op == "*":
        return wrap(conv_a * conv_b, t)
    if op in ("/", "%"):
        if conv_b == 0:
            return None
        q = abs(conv_a) // abs(conv_b)
        if (conv_a < 0) != (conv_b < 0):
            q = -q
        if op == "/":
            return wrap(q, t)
        return wrap(conv_a - q * conv_b, t)
    if op == "&":
        return wrap(conv_a & conv_b, t)
    if op == "|":
        return wrap(conv_a | conv_b, t)
    if op == "^":
        return wrap(conv_a ^ conv_b, t)
    return None


def compare(op: str, a, b) -> int | None:
    (va, ta), (vb, tb) = a, b
    t = arithmetic(ta, tb)
    if t is None:
        return None
    x, y = wrap_any(va, t), wrap_any(vb, t)
    return int({"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y, "==": x == y, "!=": x != y}[op])


def wrap_any(v: int, t) -> int:
    """``v`` converted to integer type ``t`` (modulo 2^bits for unsigned, as C converts)."""
    lo, hi = integer_range(canonical(t))
    if lo == 0:
        return v % (hi + 1)
    return v


_SUFFIX = {"int": "", "unsigned int": "u", "long": "L", "unsigned long": "UL", "long long": "LL",
           "unsigned long long": "ULL"}


def literal(v: int, t) -> ir.Expr:
    """An expression of integer type ``t`` and value ``v`` (a literal, negated when below zero)."""
    base = canonical(t).base
    suffix = _SUFFIX.get(base, "")
    if v < 0:
        hi = integer_range(canonical(t))[1]
        if -v > hi:  # the minimum has no literal of its type: `-2147483647 - 1`
            return ir.BinOp("-", ir.UnOp("-", ir.Const(f"{hi}{suffix}", hi)), ir.Const(f"1{suffix}", 1))
        return ir.UnOp("-", ir.Const(f"{-v}{suffix}", -v))
    return ir.Const(f"{v}{suffix}", v)


def is_true_const(e) -> bool | None:
    """True/False for a constant truth value (integer constants), None otherwise."""
    c = const_value(e)
    if c is None:
        while isinstance(e, ir.Paren):
            e = e.inner
        if isinstance(e, ir.Const) and e.text in ("true", "false"):
            return e.text == "true"
        return None
    return c[0] != 0


class Folder(ScopedRewriter):
    """The folding rewriter (also used by detensorize on the loop nests it instantiates)."""

    def __init__(self):
        super().__init__()
        # id(Var) -> (the Var, value, declared type); the Var is kept so that its id is not reused by
        # another variable's while the entry exists
        self.consts: dict[int, tuple[object, int, ir.Type]] = {}
        self.frozen: set[str] | None = None                # names never reassigned in the function

    def _top(self, item):
        if isinstance(item, ir.Function) and item.body is not None:
            self.frozen = _never_assigned(item.body)
        return super()._top(item)

    def block(self, b, env):
        if self.frozen is None:
            self.frozen = _never_assigned(b)
        return super().block(b, env)

    def stmt(self, s, env):
        out = super().stmt(s, env)
        if isinstance(s, ir.Decl) and len(out) == 1 and isinstance(out[0], ir.Decl):
            for d in out[0].vars:
                if d.init is None or d.dims or d.type.pointer or d.type.reference or not is_integer(d.type) \
                        or canonical(d.type).base not in _SUFFIX or d.name not in (self.frozen or ()):
                    continue
                c = const_value(d.init, env)
                rng = integer_range(canonical(d.type))
                if c is not None and rng[0] <= c[0] <= rng[1]:
                    var = env.lookup(d.name)
                    if var is not None:
                        self.consts[id(var)] = (var, c[0], canonical(d.type))
        return out

    def visit_expr(self, e, env, truth):
        if isinstance(e, ir.Name) and self.consts:
            var = env.lookup(e.id)
            known = self.consts.get(id(var)) if var is not None else None
            if known is not None and known[0] is var:
                return literal(*known[1:])
            return e
        if isinstance(e, ir.Paren) and isinstance(e.inner, (ir.Const, ir.Name, ir.Paren)) and \
                not (isinstance(e.inner, ir.Const) and e.inner.text.startswith("-")):
            return e.inner
        if isinstance(e, ir.BinOp):
            return self.binop(e, env, truth)
        if isinstance(e, ir.UnOp):
            if e.op == "!" and truth:
                c = is_true_const(e.operand)
                if c is not None:
                    return ir.Const("0" if c else "1", 0 if c else 1)
            if e.op in ("-", "~") and not e.postfix:
                inner = e.operand.inner if isinstance(e.operand, ir.Paren) else e.operand
                if isinstance(inner, ir.Const) and e.op == "-":
                    return e  # `-5` is already a literal
                c = const_value(e, env)
                if c is not None:
                    return literal(*c)
            return e
        if isinstance(e, ir.Cast):
            c = const_value(e, env)
            if c is not None and INT_RANKED(c[1]):
                return literal(*c)
            return e
        if isinstance(e, ir.Ternary):
            c = is_true_const(e.cond)
            if c is None:
                return e
            chosen = e.then if c else e.other
            if truth:
                return chosen
            ta, tb = env.type_of(e.then), env.type_of(e.other)
            if ta is not None and tb is not None and canonical(promote(ta)) == canonical(promote(tb)):
                return chosen
            return e
        if isinstance(e, ir.Call) and isinstance(e.func, ir.Name) and e.func.id in ("ldexpf", "ldexp") \
                and len(e.args) == 2:
            c = const_value(e.args[1], env)
            t = env.type_of(e.args[0])
            want = "float" if e.func.id == "ldexpf" else "double"
            if c is not None and c[0] == 0 and t is not None and canonical(t).base == want and not t.pointer:
                return e.args[0]
        return e

    def binop(self, e: ir.BinOp, env, truth):
        a, b = const_value(e.left, env), const_value(e.right, env)
        if e.op in ("&&", "||"):
            ca, cb = is_true_const(e.left), is_true_const(e.right)
            if not truth:
                return e
            if e.op == "&&":
                if ca is False:
                    return ir.Const("0", 0)
                if ca is True:
                    return e.right
                if cb is True:
                    return e.left
            else:
                if ca is True:
                    return ir.Const("1", 1)
                if ca is False:
                    return e.right
                if cb is False:
                    return e.left
            return e
        if a is None or b is None:
            return e
        if e.op in ("<", "<=", ">", ">=", "==", "!="):
            if not truth:
                return e
            r = compare(e.op, a, b)
            return e if r is None else ir.Const(str(r), r)
        r = fold_binary(e.op, a, b)
        if r is None:
            return e
        return literal(*r)

    def visit_stmt(self, s, env):
        if isinstance(s, ir.Decl):
            vars_ = []
            for d in s.vars:
                if d.init is not None and not d.dims and is_integer(d.type) and not d.type.reference:
                    c = const_value(d.init, env)
                    rng = integer_range(canonical(d.type))
                    if c is not None and rng is not None and rng[0] <= c[0] <= rng[1] and \
                            canonical(d.type).base in _SUFFIX and canonical(c[1]) != canonical(d.type):
                        d = replace(d, init=literal(c[0], d.type))
                vars_.append(d)
            s = replace(s, vars=tuple(vars_))
        return [s]


def INT_RANKED(t) -> bool:
    return canonical(t).base in _SUFFIX


@register
@dataclass(frozen=True)
class ConstantFold(ModulePass):
    """Fold integer constant expressions exactly (C semantics); never floating point."""

    name: ClassVar[str] = "constant-fold"
    summary: ClassVar[str] = "fold integer constant expressions exactly (truncating / and %, no float folding)"

    def apply(self, module: ir.Module) -> ir.Module:
        return Folder().module(module)


def _never_assigned(body) -> set[str]:
    """Names declared in ``body`` that are never assigned after their declaration nor have their
    address taken (so a constant initialiser is their value everywhere)."""
    from .cleanup import address_taken, assigned_names
    declared = {n.name for n in ir.walk(body) if isinstance(n, ir.Declarator)}
    counts: dict[str, int] = {}
    for n in ir.walk(body):
        if isinstance(n, ir.Declarator):
            counts[n.name] = counts.get(n.name, 0) + 1
    return {n for n in declared if counts[n] == 1} - assigned_names(body) - address_taken(body)
