"""Index simplification (``simplify-index``): make subscripts and pointer offsets read like affine
expressions, without changing what they compute.

* Integer identities where the type does not change: ``x * 1``, ``1 * x``, ``x + 0``, ``0 + x``,
  ``x - 0`` become ``x``.
* Affine sums in subscripts and pointer offsets are reassociated so the constant terms meet:
  ``a[(i + 1) + 2]`` is ``a[i + 3]``, ``a[4 + i - 4]`` is ``a[i]``. Only chains of ``+``/``-`` whose
  operands all have the same integer type are touched (no implicit conversion moves).
* ``(p + j)[i]`` is ``p[j + i]`` and ``*(p + i)`` is ``p[i]`` (the definition of subscripting).
* Redundant parentheses: nested ones, those around a subscript or an atom.
* Casts to the type the operand already has (``(int)i`` for an ``int i``) are dropped; a loop
  ``for (unsigned t = 0; t < 256; ++t)`` whose body reads ``t`` only through ``(int)t`` becomes an
  ``int`` loop (its values fit) and the casts go.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from xpiler import ir
from xpiler.ir.analysis import canonical_loop, strip_parens, without_parens
from xpiler.ir.types import canonical, is_integer

from .base import ModulePass
from .cleanup import ScopedRewriter, assigned_names
from .constant_fold import const_value, literal, wrap, wrap_any
from .registry import register


def _same(a, b) -> bool:
    return without_parens(a) == without_parens(b)


class Simplifier(ScopedRewriter):
    def visit_expr(self, e, env, truth):
        if isinstance(e, ir.Paren):
            if isinstance(e.inner, (ir.Paren, ir.Const, ir.Name, ir.Index, ir.Call, ir.Member)) and \
                    not (isinstance(e.inner, ir.Const) and e.inner.text.startswith("-")):
                return e.inner
            return e
        if isinstance(e, ir.Cast) and e.style in ("c", "static_cast") and not e.type.reference:
            t = env.type_of(e.operand)
            if t is not None and canonical(t) == canonical(e.type) and (is_integer(t) or t.pointer):
                inner = e.operand
                return inner
            return e
        if isinstance(e, ir.BinOp):
            return self.identity(e, env)
        if isinstance(e, ir.Index):
            index = strip_parens(e.index)
            index = self.affine(index, env)
            base = strip_parens(e.base)
            while isinstance(base, ir.BinOp) and base.op == "+":  # (p + j)[i] is p[j + i], repeatedly
                tp, tj, ti = env.type_of(base.left), env.type_of(base.right), env.type_of(index)
                if not (tp is not None and tp.pointer and is_integer(tj) and is_integer(ti) and
                        canonical(tj) == canonical(ti)):
                    break
                index = self.affine(ir.BinOp("+", base.right, index), env)
                base = strip_parens(base.left)
            if base is not strip_parens(e.base):
                return ir.Index(base, index)
            return replace(e, index=index) if index is not e.index else e
        if isinstance(e, ir.UnOp) and e.op == "*" and not e.postfix:
            inner = strip_parens(e.operand)
            if isinstance(inner, ir.BinOp) and inner.op == "+":
                tp, ti = env.type_of(inner.left), env.type_of(inner.right)
                if tp is not None and tp.pointer and is_integer(ti):
                    return ir.Index(inner.left, self.affine(strip_parens(inner.right), env))
            return e
        return e

    # ---- identities ------------------------------------------------------------------------------
    def identity(self, e: ir.BinOp, env):
        t = env.type_of(e)
        if not is_integer(t) and not (t is not None and t.pointer and e.op in ("+", "-")):
            return e
        a, b = const_value(e.left), const_value(e.right)
        keep = None
        if e.op == "*" and b is not None and b[0] == 1:
            keep = e.left
        elif e.op == "*" and a is not None and a[0] == 1:
            keep = e.right
        elif e.op in ("+", "-") and b is not None and b[0] == 0:
            keep = e.left
        elif e.op == "+" and a is not None and a[0] == 0:
            keep = e.right
        if keep is not None:
            tk = env.type_of(keep)
            if tk is not None and canonical(tk) == canonical(t):
                return keep
        if t is not None and t.pointer and e.op in ("+", "-"):
            right = self.affine(strip_parens(e.right), env)
            return replace(e, right=right) if right is not e.right else e
        return e

    # ---- affine sums ------------------------------------------------------------------------------
    def affine(self, e, env):
        """Reassociate a +/- chain of one integer type so its constant terms are summed last."""
        t = env.type_of(e)
        if not is_integer(t):
            return e
        t = canonical(t)
        terms: list[tuple[int, object]] = []

        def flatten(x, sign):
            x = strip_parens(x)
            if isinstance(x, ir.BinOp) and x.op in ("+", "-"):
                tl, tr = env.type_of(x.left), env.type_of(x.right)
                lc, rc = const_value(x.left), const_value(x.right)
                same_l = tl is not None and canonical(tl) == t or lc is not None
                same_r = tr is not None and canonical(tr) == t or rc is not None
                if same_l and same_r and canonical(env.type_of(x)) == t:
                    flatten(x.left, sign)
                    flatten(x.right, sign if x.op == "+" else -sign)
                    return
            terms.append((sign, x))

        flatten(e, 1)
        if len(terms) < 2:
            return e
        total, consts, others = 0, 0, []
        for sign, x in terms:
            c = const_value(x)
            if c is not None and not (c[0] < 0 and canonical(t).base.startswith("unsigned")):
                total += sign * wrap_any(c[0], t)
                consts += 1
            else:
                others.append((sign, x))
        if consts == 0 and not _right_nested(e):
            return e
        folded = wrap(total, t)
        if folded is None:
            return e
        total = folded[0]
        out = None
        for sign, x in others:
            if out is None:
                if sign < 0:
                    if total != 0:
                        out = ir.BinOp("-", literal(total, t), x)
                        total = 0
                        continue
                    out = ir.UnOp("-", x)
                    continue
                out = x
            else:
                out = ir.BinOp("+" if sign > 0 else "-", out, x)
        if out is None:
            return literal(total, t)
        if total > 0 or (total < 0 and canonical(t).base.startswith("unsigned")):
            out = ir.BinOp("+", out, literal(total, t))
        elif total < 0:
            out = ir.BinOp("-", out, literal(-total, t))
        return out if not _same(out, e) else e

    # ---- unsigned loop counters read through (int) casts --------------------------------------
    def visit_stmt(self, s, env):
        if isinstance(s, ir.For):
            s = self.retype_loop(s)
        return [s]

    def retype_loop(self, loop: ir.For):
        c = canonical_loop(loop)
        if c is None or not isinstance(loop.init, ir.Decl) or len(loop.init.vars) != 1:
            return loop
        var, start, stop, step = c
        d = loop.init.vars[0]
        if canonical(d.type).base not in ("unsigned int", "unsigned long") or d.type.pointer:
            return loop
        values = [const_value(x) for x in (start, stop, step)]
        if any(v is None for v in values) or not (0 <= values[0][0] and values[1][0] < 2 ** 31 and values[2][0] > 0):
            return loop
        if var in assigned_names(loop.body):
            return loop
        casts = [n for n in ir.walk(loop.body) if isinstance(n, ir.Cast) and strip_parens(n.operand) == ir.Name(var)]
        uses = [n for n in ir.walk(loop.body) if isinstance(n, ir.Name) and n.id == var]
        if not uses or len(casts) != len(uses) or any(canonical(cst.type).base != "int" or cst.type.pointer
                                                      for cst in casts):
            return loop

        def uncast(n):
            if isinstance(n, ir.Cast) and strip_parens(n.operand) == ir.Name(var):
                return ir.Name(var)
            return n
        body = ir.rewrite(loop.body, uncast)
        init = replace(loop.init, vars=(replace(d, type=replace(d.type, base="int"), init=literal(values[0][0], ir.Type("int"))),))
        cond = ir.BinOp("<", ir.Name(var), literal(values[1][0], ir.Type("int")))
        return replace(loop, init=init, cond=cond, body=body)


@register
@dataclass(frozen=True)
class SimplifyIndex(ModulePass):
    """Simplify subscripts and pointer offsets (identities, affine reassociation, casts)."""

    name: ClassVar[str] = "simplify-index"
    summary: ClassVar[str] = "simplify index expressions exactly (x*1+0, constant terms, redundant casts/parens)"

    def apply(self, module: ir.Module) -> ir.Module:
        return Simplifier().module(module)


def _right_nested(e) -> bool:
    """A sum with a parenthesised sum on the right (``a + (b + c)``), which reads better flattened."""
    e = strip_parens(e)
    if isinstance(e, ir.BinOp) and e.op in ("+", "-"):
        r = strip_parens(e.right)
        return (isinstance(r, ir.BinOp) and r.op in ("+", "-")) or _right_nested(e.left)
    return False
