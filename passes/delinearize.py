"""A flat index decoded digit by digit, run as the nest it flattens (the inverse of ``fuse``).

One GPU thread per output element of an NHWC tensor decodes its flat index with divisions::

    c = idx % C;  ow = (idx / C) % Wo;  oh = (idx / (C * Wo)) % Ho;  n = idx / (C * Wo * Ho);

As SIMD lanes over ``idx``, every lane divides four times (there is no vector integer division) and
gathers its loads through the decoded indices. When ``idx`` runs over exactly ``[0, N * Ho * Wo *
C)``, the loop over it is the nest::

    for (n < N) for (oh < Ho) for (ow < Wo) for (c < C) { idx = ((n * Ho + oh) * Wo + ow) * C + c; ... }

in the same order, and each digit expression *is* its counter: for positive radices the mixed-radix
digits of ``idx`` are unique, so ``(idx / (C * Wo)) % Ho == oh`` exactly. The innermost counter is
then the lane, its loads contiguous.

:func:`delinearized` finds the digits (``idx % R0``, ``(idx / P) % R`` with ``P`` the product of
the radices below, ``idx / P`` for the top digit; radices are names the loop does not change or
positive constants, products compared as multisets of factors) and returns the nest with the
run-time condition under which it is the loop: the radices and the top extent positive, and their
product, computed in 64 bits, equal to the loop's trip count (which the bound of the loop may be
smaller than: a grid of fewer threads than elements).
"""

from __future__ import annotations

from xpiler import ir
from xpiler.ir.analysis import as_division, conjunction, is_name, strip_parens
from xpiler.ir.effects import assigned_scalars, declared_names, used_names

from .loop_split import statements_outside_loops

INT = ir.Type("int")
CONST_INT = ir.Type("int", quals=("const",))
LONG_LONG = ir.Type("long long")


def _c(v: int) -> ir.Const:
    return ir.Const(str(v), v)


def _p(e):
    return e if isinstance(e, (ir.Name, ir.Const, ir.Paren)) else ir.Paren(e)


def _factors(e) -> list | None:
    """The factors of a product of names and positive integer constants, else None."""
    e = strip_parens(e)
    while isinstance(e, ir.Cast) and e.type.base == "int" and not e.type.pointer:
        e = strip_parens(e.operand)
    if isinstance(e, ir.BinOp) and e.op == "*":
        left, right = _factors(e.left), _factors(e.right)
        return None if left is None or right is None else left + right
    if isinstance(e, ir.Name) or (isinstance(e, ir.Const) and isinstance(e.value, int) and e.value > 0):
        return [e]
    return None


def _const_product(factors) -> int:
    product = 1
    for f in factors:
        if isinstance(f, ir.Const):
            product *= f.value
    return product


def _key(factors) -> tuple:
    """A product's identity: its names as a multiset, its constants multiplied out (``6720`` is
    ``960 * 7``)."""
    return tuple(sorted(repr(f) for f in factors if not isinstance(f, ir.Const))) + (_const_product(factors),)


def _digit(e, index: str):
    """``(place, radix)`` of ``(index / place) % radix`` (``place`` a factor list, ``radix`` None for
    the top digit ``index / place``; ``(index % M) / P`` of constants is ``(index / P) % (M / P)``),
    else None."""
    e = as_division(strip_parens(e))
    if not isinstance(e, ir.BinOp) or e.op not in ("%", "/"):
        return None
    if e.op == "%":
        inner = as_division(strip_parens(e.left))
        if is_name(inner, index):
            return [], e.right
        if isinstance(inner, ir.BinOp) and inner.op == "/" and is_name(inner.left, index):
            place = _factors(inner.right)
            return (place, e.right) if place is not None else None
        return None
    if is_name(e.left, index):
        place = _factors(e.right)
        return (place, None) if place is not None else None
    # (index % M) / P, M a multiple of P (constants): the digit (index / P) % (M / P)
    inner, p = strip_parens(e.left), strip_parens(e.right)
    if isinstance(inner, ir.BinOp) and inner.op == "%" and is_name(inner.left, index):
        m = strip_parens(inner.right)
        if all(isinstance(k, ir.Const) and isinstance(k.value, int) and k.value > 0 for k in (m, p)) and \
                m.value % p.value == 0:
            return [p], _c(m.value // p.value)
    return None


def _digits(body: list, index: str) -> list | None:
    """The digit expressions of ``index`` in ``body`` (outermost matches: ``(i / P) % R`` is one
    digit, not also a top digit ``i / P``)."""
    found = []

    def visit(n):
        if isinstance(n, ir.Expr):
            d = _digit(n, index)
            if d is not None:
                found.append((n, d))
                return
        for c in ir.children(n):
            visit(c)
    for s in body:
        visit(s)
    return found


def _cofactor(trips, below: list, changing: set):
    """The one factor of ``trips`` besides the radices ``below`` (the top digit's extent), None when
    ``trips`` is their product alone, False when it is no such product in the text."""
    factors = _factors(trips)
    if factors is None:
        return False
    rest = [f for f in factors if not isinstance(f, ir.Const)]
    for f in (f for f in below if not isinstance(f, ir.Const)):
        match = next((r for r in rest if repr(r) == repr(f)), None)
        if match is None:
            return False
        rest.remove(match)
    # the constants: those of the trip count, over those of the radices, a whole number
    constants, divisor = _const_product(factors), _const_product(below)
    if constants % divisor:
        return False
    if constants // divisor != 1:
        rest.append(_c(constants // divisor))
    if len(rest) > 1 or any(isinstance(f, ir.Name) and f.id in changing for f in rest):
        return False
    return rest[0] if rest else None


def delinearized(var: str, stop, trips, body: list, index: str, fresh, inner, divide: bool = False):
    """``(condition, statements)``: the loop ``for (int var = 0; var < stop; ++var) body`` run as the
    nest of the digits ``body`` decodes from ``index`` (``var`` or an ``int`` copy of it declared in
    ``body``), valid when ``condition`` holds (see the module); None when ``body`` decodes no chain
    of digits. ``trips``: the product the top digit's extent is taken from (``stop`` itself, or the
    bound ``stop`` was clipped to); ``inner(counter, extent, statements)`` builds the innermost loop
    (a SIMD loop). With ``divide``, the top digit's extent may be ``trips`` over the radices when
    they are constants and ``trips`` is no product of them in the text (a grid of exactly the
    elements, TVM's ``blockIdx.x * 1024 + threadIdx.x`` without a guard)."""
    found = _digits(body, index)
    if not found or any(isinstance(n, (ir.Jump, ir.Verbatim)) for s in body for n in statements_outside_loops(s)):
        return None   # (a `break` of the flat loop would leave only the innermost digit's loop)
    changing = assigned_scalars(ir.Block(tuple(body))) | declared_names(ir.Block(tuple(body))) | {var, index}
    places: dict = {}   # place key -> (place factors, radix expression or None)
    for _, (place, radix) in found:
        radix_factors = _factors(radix) if radix is not None else []
        if radix_factors is None or len(radix_factors) > 1 or any(
                isinstance(f, ir.Name) and f.id in changing for f in place + radix_factors):
            return None
        key = (_key(place), radix is not None)
        if key in places and radix is not None and _key([places[key][1]]) != _key([radix]):
            return None
        places[key] = (place, radix)
    moduli = sorted((v for (k, m), v in places.items() if m), key=lambda v: len(v[0]))
    tops = [v for (k, m), v in places.items() if not m]
    if not moduli or len(tops) > 1:
        return None
    # the chain: each place the product of the radices below it
    below: list = []
    radices = []
    for place, radix in moduli:
        if _key(place) != _key(below):
            return None
        radices.append(strip_parens(radix))
        below = below + [strip_parens(radix)]
    if tops and _key(tops[0][0]) != _key(below):
        return None
    # the trip count is the product of the radices and, with a top digit, of one more factor: its
    # extent (a lone `g % C`, or digits of some other count, are no decomposition of the loop)
    top_extent = _cofactor(trips, below, changing)
    if top_extent is False:
        if not divide or not tops or used_names(ir.ExprStmt(trips)) & changing or \
                not all(isinstance(f, ir.Const) for f in below):
            return None
        # not a product of the radices and one more factor in the text, the radices constants: the
        # top digit's extent is the trip count over their product (no division by zero), which the
        # run-time condition then checks
        top_extent = ir.BinOp("/", _p(trips), _c(_const_product(below)))
    elif (top_extent is None) == bool(tops):
        return None
    if len(moduli) + len(tops) < 2:
        return None
    extents = radices + ([top_extent] if top_extent is not None else [])
    counters = [fresh(f"digit{k}") for k in range(len(extents))]
    by_key = {_key(place) + (radix is not None,): counters[i] for i, (place, radix) in enumerate(moduli)}
    if tops:
        by_key[_key(tops[0][0]) + (False,)] = counters[-1]

    def as_counter(n):   # outermost first: `(i / C) % Wo` is one digit, its `i / C` not another
        if isinstance(n, ir.Expr):
            d = _digit(n, index)
            if d is not None:
                return ir.Name(by_key[_key(d[0]) + (d[1] is not None,)])
        return ir.map_children(n, as_counter)
    new_body = [as_counter(s) for s in body]
    # the flat index from the digits, outermost first: ((n * Ho + oh) * Wo + ow) * C + c
    flat = ir.Name(counters[-1])
    for k in range(len(extents) - 2, -1, -1):
        flat = ir.BinOp("+", ir.BinOp("*", _p(flat), _p(extents[k])), ir.Name(counters[k]))
    new_body = [ir.Decl((ir.Declarator(var, CONST_INT, init=flat),))] + new_body
    nest = inner(counters[0], extents[0], new_body)
    for k in range(1, len(extents)):
        nest = [ir.For(ir.Decl((ir.Declarator(counters[k], INT, init=_c(0)),)),
                       ir.BinOp("<", ir.Name(counters[k]), extents[k]), ir.UnOp("++", ir.Name(counters[k])),
                       ir.Block(tuple(nest)), kind="serial")]
    count = ir.Cast(LONG_LONG, _p(extents[0]))
    for e in extents[1:]:
        count = ir.BinOp("*", count, _p(e))
    condition = [ir.BinOp(">", _p(e), _c(0)) for e in extents if not isinstance(e, ir.Const)]
    condition.append(ir.BinOp("==", count, _p(stop)))
    return conjunction(condition), nest
