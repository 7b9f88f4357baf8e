"""Integer polynomials over atoms, for index arithmetic: ``{monomial: coefficient}``, a monomial the
sorted tuple of its atoms' keys (``{("K", "i"): 2, (): -1}`` is ``2 * K * i - 1``). What an atom
stands for (a name, a term kept whole) is the caller's business."""

from __future__ import annotations

Poly = dict


def add(a: Poly, b: Poly, sign: int = 1) -> Poly:
    """``a + sign * b``."""
    out = dict(a)
    for m, c in b.items():
        out[m] = out.get(m, 0) + sign * c
    return {m: c for m, c in out.items() if c}


def mul(a: Poly, b: Poly) -> Poly:
    """``a * b``."""
    out: Poly = {}
    for ma, ca in a.items():
        for mb, cb in b.items():
            m = tuple(sorted(ma + mb))
            out[m] = out.get(m, 0) + ca * cb
    return {m: c for m, c in out.items() if c}
