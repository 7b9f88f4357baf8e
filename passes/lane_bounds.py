"""Lane bounds (``lane-bounds``): a SIMD loop's conditions on its own lane become its bounds.

A convolution's lanes test their column against the image's edge, and the mask of lanes whose thread
is inside the output; both are linear in the lane::

    #pragma omp simd                               long long __xp_lo = 0, __xp_hi = lanes;
    for (int l = 0; l < lanes; ++l) {              if (pad - kw - r > __xp_lo) __xp_lo = pad - kw - r;
      const int x = s + l;                         if (W - kw + pad - r < __xp_hi) __xp_hi = ...;
      int ow = b * B + x;                =>        if (Wo - r < __xp_hi) __xp_hi = Wo - r;
      int iw = ow + kw - pad;                      if (oh < Ho && __xp_lo < __xp_hi) {
      const int m = !(oh >= Ho || ow >= Wo);       #pragma omp simd
      if (m) {                                       for (int l = (int)__xp_lo; l < (int)__xp_hi; ++l) {
        if (iw >= 0 && iw < W)                         const int x = s + l; ... acc[l] += ...;
          acc[l] += x[row + iw] * w[k];              }
      }                                            }
    }                                              (r = b * B + s, in 64 bits)

Why: gcc (12) does not vectorise such a loop: a load every lane makes (``w[k]``) under a condition of
the lane is "no vectype", and nested conditions defeat its if-conversion. With the lanes that pass
as the loop's range nothing in the body is masked.

Exact: the loop's body must be declarations without side effects followed by one ``if`` (no
``else``; an ``if`` directly inside it joins its conditions). Its conjuncts (a mask declared in the
body stands for its value; ``!(a || b)`` is ``!a && !b``, and a negated comparison of ints is the
opposite comparison) are sorted:

* a comparison of signed ``int`` expressions whose difference is ``+l + K`` or ``-l + K`` (``K`` free
  of the lane; names the body declares read through their values, which int arithmetic computes
  without overflow, or the program is undefined) bounds the lane, computed in 64 bits;
* a conjunct that does not depend on the lane is tested once, before the loop;
* the rest stay in the body's condition.

Only conjuncts made of int arithmetic, comparisons and names are moved (they cannot trap, read memory
or have effects, so evaluating them once or in another order changes nothing); the lanes outside the
range would have passed no condition and their declarations have no effects. The loop keeps its
order. Loops whose start or bound is not a pure int expression are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from xpiler import ir
from xpiler.ir.analysis import conjunction, conjuncts, flat_statements, statements, strip_parens
from xpiler.ir.effects import used_names
from xpiler.ir.types import ScalarsInScope, TypeEnv

from .base import ModulePass, PassError
from .cleanup import ScopedRewriter
from .loop_split import fresh
from .registry import register
from .simd_nest import is_signed_int

LONG_LONG = ir.Type("long long")
INT = ir.Type("int")
_FLIP = {"<": ">=", ">=": "<", ">": "<=", "<=": ">"}
_SAFE_OPS = ("+", "-", "*", "<", "<=", ">", ">=", "==", "!=", "&&", "||")


@register
@dataclass(frozen=True)
class LaneBounds(ModulePass):
    name: ClassVar[str] = "lane-bounds"
    summary: ClassVar[str] = "C targets: a SIMD loop's linear conditions on its lane become its bounds"

    def apply(self, module: ir.Module) -> ir.Module:
        if module.dialect != "vnni":
            raise PassError(f"lane-bounds applies to C (vnni) programs, not {module.dialect}")
        return _Bounder().module(module)


class _Bounder(ScopedRewriter):
    def stmts(self, body, env: TypeEnv) -> list:
        out = super().stmts(body, env)
        result, i = [], 0
        while i < len(out):
            s = out[i]
            if isinstance(s, ir.Pragma) and s.text == "omp simd" and i + 1 < len(out) and isinstance(out[i + 1], ir.For):
                bounded = lane_bounded(s, out[i + 1], ScalarsInScope(env), self._fresh)
                if bounded is not None:
                    result.append(bounded)
                    i += 2
                    continue
            result.append(s)
            i += 1
        return result

    def enter_function(self, f: ir.Function) -> None:
        self.taken = {n.id for n in ir.walk(f) if isinstance(n, ir.Name)} | \
            {n.name for n in ir.walk(f) if isinstance(n, ir.Declarator)}

    def _fresh(self, name: str) -> str:
        return fresh(f"__xp_{name}", self.taken)


def _pure_int(e) -> bool:
    """Int arithmetic, comparisons and names only: evaluating it cannot trap or have an effect."""
    for n in ir.walk(e):
        if isinstance(n, ir.Type):
            continue
        if isinstance(n, ir.BinOp) and n.op not in _SAFE_OPS:
            return False
        if isinstance(n, ir.UnOp) and n.op not in ("-", "!"):
            return False
        if not isinstance(n, (ir.BinOp, ir.UnOp, ir.Name, ir.Const, ir.Paren, ir.Cast, ir.Member)) or \
                isinstance(n, ir.Cast) and n.type.pointer:
            return False
    return True


def _no_effects(decl: ir.Decl) -> bool:
    return all(d.init is not None and not d.dims and d.ctor_args is None and not d.type.reference and
               not any(isinstance(n, (ir.Call, ir.Assign)) or isinstance(n, ir.UnOp) and n.op in ("++", "--")
                       for n in ir.walk(d.init)) for d in decl.vars)


def lane_bounded(pragma: ir.Pragma, loop: ir.For, scope, fresh) -> ir.Block | None:
    canon = loop.canonical()
    if canon is None or strip_parens(canon[3]) != ir.Const("1", 1) or not isinstance(loop.init, ir.Decl) or \
            loop.init.vars[0].type != INT:
        return None
    var, start, stop, _ = canon
    if not (_pure_int(start) and _pure_int(stop)):
        return None
    body = flat_statements(loop.body)
    if not body or not isinstance(body[-1], ir.If) or body[-1].other is not None:
        return None
    decls = body[:-1]
    if not all(isinstance(d, ir.Decl) and _no_effects(d) for d in decls):
        return None
    values = {d.name: d for decl in decls for d in decl.vars}
    cond, then = body[-1].cond, body[-1].then
    while True:   # if (a) { if (b) S } is if (a && b) S
        inner = flat_statements(then)
        if len(inner) == 1 and isinstance(inner[0], ir.If) and inner[0].other is None:
            cond, then = ir.BinOp("&&", cond, inner[0].cond), inner[0].then
        else:
            break
    types = _Types(scope, values, var)
    lows, highs, before, rest = [], [], [], []
    for c in _terms(cond, values, types):
        bound = _bound(c, var, values, types) if _pure_int(c) else None
        if bound is not None:
            (lows if bound[0] == "lo" else highs).append(bound[1])
        elif _pure_int(c) and not _depends(c, var, values) and _pure_int(_expanded(c, values)):
            before.append(_expanded(c, values))
        else:
            rest.append(c)
    if not lows and not highs:
        return None
    lo, hi = fresh("lo"), fresh("hi")
    out: list = [ir.Decl((ir.Declarator(lo, LONG_LONG, init=_wide(start)), ir.Declarator(hi, LONG_LONG, init=_wide(stop))))]
    for b in lows:
        out.append(ir.If(ir.BinOp(">", b, ir.Name(lo)), ir.ExprStmt(ir.Assign(ir.Name(lo), "=", b))))
    for b in highs:
        out.append(ir.If(ir.BinOp("<", b, ir.Name(hi)), ir.ExprStmt(ir.Assign(ir.Name(hi), "=", b))))
    inner_body = list(decls) + ([ir.If(conjunction(rest), then)] if rest else statements(then))
    new_loop = replace(loop, init=ir.Decl((ir.Declarator(var, INT, init=ir.Cast(INT, ir.Name(lo))),)),
                       cond=ir.BinOp("<", ir.Name(var), ir.Cast(INT, ir.Name(hi))), body=ir.Block(tuple(inner_body)))
    guard = conjunction(before + [ir.BinOp("<", ir.Name(lo), ir.Name(hi))])
    out.append(ir.If(guard, ir.Block((pragma, new_loop))))
    return ir.Block(tuple(out))


class _Types:
    """The types of names: those in scope, the loop's counter and the body's declarations."""

    def __init__(self, scope, values: dict, var: str):
        self.scope, self.values, self.var = scope, values, var

    def get(self, name: str):
        if name == self.var:
            return INT
        if name in self.values:
            t = self.values[name].type
            return replace(t, quals=()) if not t.pointer else t
        return self.scope.get(name)


def _terms(cond, values: dict, types) -> list:
    """The conjuncts of ``cond``, masks the body declares read as their values, ``!(a || b)`` as
    ``!a && !b``, ``!(x < y)`` of ints as ``x >= y``."""
    out = []
    for c in conjuncts(cond):
        c = strip_parens(c)
        if isinstance(c, ir.Name) and c.id in values and _pure_int(values[c.id].init) and \
                _truth_valued(values[c.id].init):
            out += _terms(values[c.id].init, values, types)
        elif isinstance(c, ir.UnOp) and c.op == "!":
            inner = strip_parens(c.operand)
            if isinstance(inner, ir.BinOp) and inner.op == "||":
                out += _terms(ir.UnOp("!", ir.Paren(inner.left)), values, types) + \
                    _terms(ir.UnOp("!", ir.Paren(inner.right)), values, types)
            elif isinstance(inner, ir.BinOp) and inner.op in _FLIP and is_signed_int(inner.left, types) and \
                    is_signed_int(inner.right, types):
                out.append(ir.BinOp(_FLIP[inner.op], inner.left, inner.right))
            else:
                out.append(c)
        else:
            out.append(c)
    return out


def _truth_valued(e) -> bool:
    e = strip_parens(e)
    return isinstance(e, ir.BinOp) and e.op in ("<", "<=", ">", ">=", "==", "!=", "&&", "||") or \
        isinstance(e, ir.UnOp) and e.op == "!"


def _depends(e, var: str, values: dict, depth: int = 8) -> bool:
    names = used_names(ir.ExprStmt(e))
    if var in names:
        return True
    return depth > 0 and any(n in values and _depends(values[n].init, var, values, depth - 1) for n in names)


def _expanded(e, values: dict, depth: int = 8):
    """``e`` with the body's declarations replaced by their values (to be evaluated outside it)."""
    if depth == 0:
        return e
    return ir.rewrite(e, lambda n: ir.Paren(_expanded(values[n.id].init, values, depth - 1))
                      if isinstance(n, ir.Name) and n.id in values else n)


def _linear(e, var: str, values: dict, types, depth: int = 8):
    """``(a, terms)`` with ``e == a * var + sum(sign * term)``, the terms free of ``var`` (each a
    subexpression the program evaluates itself, in int, or a name the body declares), or None."""
    e = strip_parens(e)
    if not _depends(e, var, values):
        return 0, [(1, e)]
    if depth == 0:
        return None
    if isinstance(e, ir.Name):
        if e.id == var:
            return 1, []
        d = values.get(e.id)
        if d is None or not is_signed_int(ir.Name(e.id), types) or not is_signed_int(d.init, types):
            return None
        return _linear(d.init, var, values, types, depth - 1)
    if isinstance(e, ir.Cast) and e.type == INT and is_signed_int(e.operand, types):
        return _linear(e.operand, var, values, types, depth)
    if isinstance(e, ir.UnOp) and e.op == "-":
        inner = _linear(e.operand, var, values, types, depth)
        return None if inner is None else (-inner[0], [(-sign, t) for sign, t in inner[1]])
    if isinstance(e, ir.BinOp) and e.op in "+-":
        left, right = _linear(e.left, var, values, types, depth), _linear(e.right, var, values, types, depth)
        if left is None or right is None:
            return None
        if e.op == "-":
            right = (-right[0], [(-sign, t) for sign, t in right[1]])
        return left[0] + right[0], left[1] + right[1]
    return None


def _sum64(terms: list, values: dict):
    """``sum(sign * term)`` in 64 bits (every term widened before it is negated or added), the body's
    names replaced by their values; None when that is not pure int arithmetic."""
    out = None
    for sign, t in terms:
        if strip_parens(t) == ir.Const("0", 0):
            continue
        t = _expanded(t, values)
        if not _pure_int(t):
            return None
        wide = ir.Cast(LONG_LONG, t if isinstance(t, (ir.Name, ir.Const, ir.Paren)) else ir.Paren(t))
        if out is None:
            out = wide if sign > 0 else ir.UnOp("-", wide)
        else:
            out = ir.BinOp("+" if sign > 0 else "-", out, wide)
    return out if out is not None else ir.Const("0LL", 0)


def _wide(e):
    return ir.Cast(LONG_LONG, ir.Paren(e) if not isinstance(e, (ir.Name, ir.Const)) else e)


def _bound(c, var: str, values: dict, types):
    """``("lo", b)`` for a conjunct that holds exactly when ``var >= b``, ``("hi", b)`` when ``var <
    b`` (``b`` in 64 bits), else None."""
    c = strip_parens(c)
    if not (isinstance(c, ir.BinOp) and c.op in ("<", "<=", ">", ">=") and is_signed_int(c.left, types) and
            is_signed_int(c.right, types)):
        return None
    left, right = _linear(c.left, var, values, types), _linear(c.right, var, values, types)
    if left is None or right is None or left[0] - right[0] not in (1, -1):
        return None
    # left - right = a * var + k; the conjunct is a * var + k  op  0
    a, op = left[0] - right[0], c.op
    if a == 1:    # var + k op 0  <=>  var op -k
        b = _sum64([(-sign, t) for sign, t in left[1]] + right[1], values)
    else:         # -var + k op 0  <=>  var op' k
        b = _sum64(left[1] + [(-sign, t) for sign, t in right[1]], values)
        op = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}[op]
    if b is None:
        return None   # computed before the loop: it must not read memory (no lane may run)
    one = ir.Const("1", 1)
    return {"<": ("hi", b), "<=": ("hi", ir.BinOp("+", b, one)), ">": ("lo", ir.BinOp("+", b, one)),
            ">=": ("lo", b)}[op]
