"""SIMD unswitch (``simd-unswitch``): a SIMD loop is versioned on the conditions its lanes share.

A tile loaded with its edges zeroed tests a row and a column in every lane::

    #pragma omp simd                                   if (0 < n && by * 16 + ty < M) {
    for (int tx = 0; tx < n; ++tx) {                   #pragma omp simd
      int row = by * 16 + ty;                            for (int tx = 0; tx < n; ++tx) {
      int col = bx * 16 + tx;                  ->          int row = by * 16 + ty; int col = ...;
      As[ty][tx] = (row < M && col < K)                    As[ty][tx] = col < K ? A[row * K + col] : 0.0f;
                   ? A[row * K + col] : 0.0f;            }
    }                                                  } else {
                                                       #pragma omp simd
                                                         for (...) { ...the loop as it was... }
                                                       }

``row < M`` is the same in every lane. gcc (12) still computes it per vector and builds the lane
mask from that one bit with a chain of sixteen shifts and ors, in the loop: measured, that chain made
a tiled GEMM's tile loads cost as much as its multiplications. In the first version above the lanes
test only what differs between them.

Which conditions: the ``&&`` chain of a condition evaluated in every iteration (the condition of an
``if``, or of a ``?:`` that is not itself under a condition, in a statement at the top of the loop's
body that no earlier ``break``, ``continue``, ``return`` or ``goto`` can skip), and of it the longest
prefix of conjuncts that are *invariant*: no memory read, no side effect, no name the loop assigns,
and not the loop's counter. A local declared at the top of the body with an invariant initializer
(``row`` above) stands for its initializer, cast to its type where that is not the same.

Exact: the version condition ``start < stop && P1 && P2 ...`` is evaluated only when the loop runs an
iteration, and in that first iteration the original evaluates every ``Pi`` (and the initializers they
stand for) too, with the same values: nothing the loop does changes them. So it adds no evaluation
that could fault or overflow, and where it holds every ``Pi`` holds in every iteration, which is what
the first version assumes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from xpiler import ir
from xpiler.ir.analysis import conjunction, conjuncts, statements, strip_parens
from xpiler.ir.effects import assigned_scalars, declaration_counts, declared_names, touches_memory
from xpiler.ir.types import ScalarsInScope, TypeEnv

from .base import ModulePass, PassError
from .cleanup import ScopedRewriter, address_taken, is_pure
from .registry import register
from .simd_nest import is_signed_int


# Loops of fewer iterations than one vector of floats are not versioned.
SHORT = 16


@register
@dataclass(frozen=True)
class SimdUnswitch(ModulePass):
    name: ClassVar[str] = "simd-unswitch"
    summary: ClassVar[str] = "C targets: a SIMD loop versioned on the conditions all its lanes share"

    def apply(self, module: ir.Module) -> ir.Module:
        if module.dialect != "vnni":
            raise PassError(f"simd-unswitch applies to C (vnni) programs, not {module.dialect}")
        return _Unswitcher().module(module)


class _Unswitcher(ScopedRewriter):
    def stmts(self, body, env: TypeEnv) -> list:
        out = super().stmts(body, env)
        versioned = []
        i = 0
        while i < len(out):
            s = out[i]
            if isinstance(s, ir.Pragma) and s.text.startswith("omp simd") and i + 1 < len(out) \
                    and isinstance(out[i + 1], ir.For):
                got = unswitched(s, out[i + 1], env)
                if got is not None:
                    versioned.append(got)
                    i += 2
                    continue
            versioned.append(s)
            i += 1
        return versioned


def unswitched(pragma: ir.Pragma, loop: ir.For, env: TypeEnv) -> ir.If | None:
    """``if (start < stop && P...) { fast loop } else { the loop }``, or None when no condition of the
    loop's body has an invariant prefix."""
    canonical = loop.canonical()
    if canonical is None:
        return None
    var, start, stop, _ = canonical
    if not (is_pure(start) and is_pure(stop)):
        return None
    if isinstance(strip_parens(start), ir.Const) and isinstance(strip_parens(stop), ir.Const) \
            and isinstance(stop.value, int) and isinstance(start.value, int) and stop.value - start.value < SHORT:
        return None  # a few iterations (a thread's 2 x 2 tile): not worth a second copy
    body = statements(loop.body)
    facts = _Invariance(var, body, env)
    fast, hoisted = [], []
    for k, s in enumerate(body):
        if any(isinstance(n, (ir.Jump, ir.Return, ir.Verbatim)) for n in ir.walk(s)):
            fast.extend(body[k:])  # what follows may be skipped: its conditions are not evaluated every time
            break
        s, found = facts.hoist(s)
        fast.append(s)
        hoisted += [c for c in found if c not in hoisted]
        if isinstance(s, ir.Decl):
            facts.declare(s)
    if not hoisted:
        return None
    test = conjunction([ir.BinOp("<", start, stop)] + hoisted)
    fast_loop = replace(loop, body=ir.Block(tuple(fast)))
    return ir.If(test, ir.Block((pragma, fast_loop)), ir.Block((pragma, loop)))


class _Invariance:
    """What in a SIMD loop's body is the same in every iteration, statement by statement."""

    def __init__(self, var: str, body: list, env: TypeEnv):
        self.var = var
        self.env = env
        block = ir.Block(tuple(body))
        self.changed = assigned_scalars(block) | address_taken(block) | {var}
        self.local = declared_names(block)
        self.once = {name for name, count in declaration_counts(block).items() if count == 1}
        self.values: dict[str, ir.Expr] = {}   # body locals declared so far with invariant values
        self.types: dict[str, ir.Type] = {}

    def get(self, name: str):
        """The type of a scalar (what :func:`is_signed_int` asks)."""
        return self.types[name] if name in self.types else ScalarsInScope(self.env).get(name)

    def invariant(self, e) -> bool:
        if not is_pure(e) or touches_memory(e):
            return False
        for n in ir.walk(e):
            if isinstance(n, ir.Name) and (n.id in self.changed or (n.id in self.local and n.id not in self.values)):
                return False
            if isinstance(n, (ir.Assign, ir.Builtin, ir.RawExpr, ir.InitList, ir.Comma)):
                return False
        return True

    def outside(self, e) -> ir.Expr:
        """``e`` with the body's locals replaced by their values: its meaning before the loop."""
        return ir.rewrite(e, lambda n: self.values[n.id] if isinstance(n, ir.Name) and n.id in self.values else n)

    def declare(self, decl: ir.Decl) -> None:
        for v in decl.vars:
            if v.dims or v.type.pointer or v.type.reference or v.init is None or v.name not in self.once \
                    or v.name in self.changed or not self.invariant(v.init):
                continue
            same_type = v.type.base == "int" and is_signed_int(v.init, self)
            value = self.outside(v.init)
            self.values[v.name] = value if same_type else ir.Cast(replace(v.type, quals=()), value)
            self.types[v.name] = replace(v.type, quals=())

    # ---- the conditions hoisted out of a statement ---------------------------------------------
    def hoist(self, s):
        """``s`` with the invariant prefix of each condition it holds removed (see the module), and
        those prefixes (with the body's locals replaced)."""
        found: list = []
        return self._statement(s, found, always=True), found

    def _statement(self, s, found: list, always: bool):
        """``always``: ``s`` runs in every iteration (else only total conjuncts are taken)."""
        if isinstance(s, ir.If):
            cond, k = self._split(s.cond, found, always)
            then = self._statement(s.then, found, False)
            other = self._statement(s.other, found, False) if s.other is not None else None
            if cond is None:
                return then if isinstance(then, ir.Block) else ir.Block((then,))
            return replace(s, cond=cond if k else self._always(s.cond, found, always), then=then, other=other)
        if isinstance(s, ir.Block):
            return replace(s, body=tuple(self._statement(x, found, False) for x in s.body))
        if isinstance(s, ir.ExprStmt):
            return replace(s, expr=self._always(s.expr, found, always))
        if isinstance(s, ir.Decl):
            return replace(s, vars=tuple(replace(v, init=self._always(v.init, found, always))
                                         if v.init is not None else v for v in s.vars))
        return s

    def _split(self, cond, found: list, always: bool):
        """(the rest of ``cond``'s ``&&`` chain, or None when all of it is taken; how many terms were
        taken)."""
        terms = conjuncts(cond)
        k = 0
        while k < len(terms) and self.invariant(terms[k]) and (always or _total(terms[k])):
            k += 1
        found += [self.outside(t) for t in terms[:k]]
        return (conjunction(terms[k:]) if k < len(terms) else None), k

    def _always(self, e, found: list, always: bool):
        """``e`` with the invariant prefixes of the ``?:`` conditions it evaluates whenever it is
        evaluated removed."""
        e_ = e
        if isinstance(e_, ir.Ternary):
            cond, k = self._split(e_.cond, found, always)
            if k == 0:
                return replace(e_, cond=self._always(e_.cond, found, always))
            # ``1 ? a : b`` rather than ``a``: the type of ``?:`` is that of both arms together
            return replace(e_, cond=ir.Const("1", 1) if cond is None else cond)
        if isinstance(e_, ir.BinOp) and e_.op in ("&&", "||"):
            return replace(e_, left=self._always(e_.left, found, always))  # the right side may not run
        if isinstance(e_, (ir.Paren, ir.Cast, ir.UnOp, ir.BinOp, ir.Assign, ir.Index, ir.Call, ir.Member)):
            return ir.map_children(e_, lambda c: self._always(c, found, always) if isinstance(c, ir.Expr) else c)
        return e_


COMPARISONS = ("<", "<=", ">", ">=", "==", "!=", "&&", "||")


def _total(e) -> bool:
    """Comparisons of names and constants: defined for every value, so a condition the source may not
    evaluate (one under another condition) can be evaluated before the loop all the same."""
    for n in ir.walk(e):
        if isinstance(n, ir.BinOp) and n.op not in COMPARISONS:
            return False
        if isinstance(n, ir.UnOp) and n.op != "!":
            return False
        if isinstance(n, ir.Member) and n.arrow:
            return False
        if not isinstance(n, (ir.Name, ir.Const, ir.Paren, ir.BinOp, ir.UnOp, ir.Member)):
            return False
    return True
