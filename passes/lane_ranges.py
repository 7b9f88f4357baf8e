"""Where an unsigned thread slot can count in 64 bits: intervals of the lane arithmetic around it.

An emulated warp shuffle reads another lane's value through unsigned arithmetic on the thread's slot
``__tid``::

    v[__tid] += (__tid % 32 + off < 32 && __tid + off < __nthreads) ? x[__tid + off] : x[__tid];

gcc does not see ``x[__tid + off]`` as affine in the SIMD loop's counter while ``__tid`` is
``unsigned`` (the sum may wrap), so the loop stays scalar. Declared ``long long``, every expression
above has the same value, *provided no unsigned intermediate wraps and none is negative*: then the
unsigned, the ``int`` and the 64-bit evaluations all give the mathematical value, and a comparison
of two such values (after C's conversions) gives the same answer.

:func:`wide_slots` decides that per declaration. Every use of the slot in its scope must sit in a
*sink* whose value does not depend on the slot's type, an array subscript or a comparison, and every
subexpression of that sink must have an interval within ``[0, 2**32)``:

* the slot itself is in ``[0, INT_MAX]`` (the caller checks at run time that the slot's largest value
  fits in an ``int``);
* an ``int`` loop counter of an enclosing loop that its body does not assign, whose condition bounds
  it below (``off > 0``) or whose step only grows it from a non-negative start (``++i``, ``i += 2``,
  ``i *= 2``), is in ``[lo, INT_MAX]`` or tighter (``off < 32``, or a start it only falls from);
* ``unsigned`` names and ``blockDim`` / ``gridDim`` members are in ``[0, 2**32)``; non-negative
  integer constants are themselves;
* ``+ * / % & | ^ >>`` and comparisons combine intervals as integers do; anything else (a
  subtraction, a negative constant, a call, a load) has no interval, and the slot keeps its type.
"""

from __future__ import annotations

from xpiler import ir
from xpiler.ir.analysis import loop_increment, strip_parens
from xpiler.ir.effects import assigned_scalars

INT_MAX = 2**31 - 1
UINT_MAX = 2**32 - 1
COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")


def wide_slots(node, types: dict, constants: dict) -> set[int]:
    """The declarators (their ids) of unsigned scalars under ``node`` that may be declared ``long
    long`` (see the module). ``types``: name -> type of the function's scalars; ``constants``: values
    of macros."""
    found: set[int] = set()
    _visit(node, {}, types, constants, found)
    return found


def _visit(node, bounds: dict, types: dict, constants: dict, found: set) -> None:
    if isinstance(node, ir.Block):
        for k, s in enumerate(node.body):
            if isinstance(s, ir.Decl):
                for v in s.vars:
                    if v.type.base == "unsigned" and not v.type.pointer and not v.dims and v.init is not None \
                            and _uses_fit(node.body[k + 1:], v.name, bounds, types, constants):
                        found.add(id(v))
            _visit(s, bounds, types, constants, found)
        return
    if isinstance(node, ir.For):
        inner = dict(bounds)
        counter = _counter_bounds(node)
        if counter is not None:
            inner[counter[0]] = counter[1]
        _visit(node.body, inner, types, constants, found)
        return
    for child in ir.children(node):
        if isinstance(child, ir.Stmt):
            _visit(child, bounds, types, constants, found)


def _counter_bounds(loop: ir.For):
    """``(name, (lo, hi))`` of an ``int`` counter the loop's body does not assign, else None."""
    init = loop.init
    if not (isinstance(init, ir.Decl) and len(init.vars) == 1 and init.vars[0].type.base == "int"
            and not init.vars[0].type.pointer and init.vars[0].init is not None):
        return None
    var = init.vars[0].name
    if var in assigned_scalars(loop.body):
        return None
    start = _constant(init.vars[0].init, {})
    lo, hi = None, INT_MAX
    cond = strip_parens(loop.cond) if loop.cond is not None else None
    if isinstance(cond, ir.BinOp) and strip_parens(cond.left) == ir.Name(var):
        limit = _constant(cond.right, {})
        if limit is not None:
            if cond.op in (">", ">="):
                lo = limit + (cond.op == ">")
            elif cond.op in ("<", "<="):
                hi = limit - (cond.op == "<")
    step = strip_parens(loop.step) if loop.step is not None else None
    grows = loop_increment(loop.step, var)
    if grows is not None and (_constant(grows, {}) or 0) > 0 or (
            isinstance(step, ir.Assign) and step.op in ("*=", "<<=") and step.target == ir.Name(var)
            and (_constant(step.value, {}) or 0) >= 1):
        if start is not None and start >= 0:
            lo = start if lo is None else max(lo, start)
    if isinstance(step, ir.Assign) and step.op in ("/=", ">>=") and step.target == ir.Name(var) \
            and (_constant(step.value, {}) or 0) >= 1 and start is not None:
        hi = min(hi, start)   # falls from its start (and stays non-negative while the condition holds)
    return None if lo is None or lo < 0 or hi < lo else (var, (lo, hi))


def _constant(e, constants: dict):
    """bind's integer value of ``e`` (literals, and names bound in ``constants``), else None."""
    from .bind import const_value   # bind imports simd_nest, which imports this module
    return const_value(e, constants)


def _uses_fit(scope: list, slot: str, bounds: dict, types: dict, constants: dict) -> bool:
    """Every use of ``slot`` in ``scope`` is in a sink whose subexpressions all fit (see the module)."""
    block = ir.Block(tuple(scope))
    uses = [n for n in ir.walk(block) if isinstance(n, ir.Name) and n.id == slot]
    if not uses:
        return False
    ranges = _Ranges(slot, bounds, types, constants)
    covered: set[int] = set()

    def cover(e):
        covered.update(id(n) for n in ir.walk(e) if isinstance(n, ir.Name) and n.id == slot)

    def scan(n):
        if isinstance(n, ir.Index) and ranges.of(n.index) is not None:
            cover(n.index)
            scan(n.base)
            return
        if isinstance(n, ir.BinOp) and n.op in COMPARISONS and ranges.of(n) is not None:
            cover(n)
            return
        for c in ir.children(n):
            scan(c)
    scan(block)
    return all(id(n) in covered for n in uses)


class _Ranges:
    def __init__(self, slot: str, bounds: dict, types: dict, constants: dict):
        self.slot, self.bounds, self.types, self.constants = slot, bounds, types, constants

    def of(self, e):
        """``(lo, hi)`` of ``e``'s mathematical value when it and every subexpression lie in ``[0,
        2**32)``, else None."""
        got = self._of(strip_parens(e))
        return got if got is not None and 0 <= got[0] <= got[1] <= UINT_MAX else None

    def _of(self, e):
        if isinstance(e, ir.Name):
            if e.id == self.slot:
                return (0, INT_MAX)
            if e.id in self.bounds:
                return self.bounds[e.id]
            t = self.types.get(e.id)
            if t is not None and t.base == "unsigned" and not t.pointer:
                return (0, UINT_MAX)
            value = _constant(e, self.constants)
            return (value, value) if value is not None and value >= 0 else None
        if isinstance(e, ir.Const):
            value = _constant(e, {})
            return (value, value) if value is not None and value >= 0 else None
        if isinstance(e, ir.Member) and not e.arrow and isinstance(e.base, ir.Name) \
                and e.base.id in ("blockDim", "gridDim"):
            return (0, UINT_MAX)
        if isinstance(e, ir.Cast) and not e.type.pointer and e.type.base in ("unsigned", "int", "long long"):
            inner = self.of(e.operand)
            return inner if inner is not None and (e.type.base != "int" or inner[1] <= INT_MAX) else None
        if isinstance(e, ir.Ternary):
            cond, a, b = self.of(e.cond), self.of(e.then), self.of(e.other)
            return None if cond is None or a is None or b is None else (min(a[0], b[0]), max(a[1], b[1]))
        if isinstance(e, ir.UnOp) and e.op == "!":
            return None if self.of(e.operand) is None else (0, 1)
        if not isinstance(e, ir.BinOp):
            return None
        a, b = self.of(e.left), self.of(e.right)
        if a is None or b is None:
            return None
        if e.op in COMPARISONS or e.op in ("&&", "||"):
            return (0, 1)
        if e.op == "+":
            return (a[0] + b[0], a[1] + b[1])
        if e.op == "*":
            return (a[0] * b[0], a[1] * b[1])
        if e.op in ("/", "%", ">>") and b[0] == b[1] and (b[0] > 0 or e.op == ">>"):
            c = b[0]
            if e.op == "/":
                return (a[0] // c, a[1] // c)
            if e.op == "%":
                return (0, min(a[1], c - 1))
            return (a[0] >> c, a[1] >> c)
        if e.op == "&":
            return (0, min(a[1], b[1]))
        if e.op in ("|", "^"):
            return (0, (1 << max(a[1], b[1]).bit_length()) - 1)
        return None
