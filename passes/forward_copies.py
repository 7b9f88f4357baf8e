"""Copy forwarding (``forward-copies``): a local array that only holds a copy of another array is
read from that array, and one that is only copied out is stored where the copy would put it.

BANG programs stage their operands through on-chip memory: a column tile of B is gathered with a
strided ``__memcpy``, transposed in NRAM, moved to WRAM, and only then multiplied; the block of C
is computed into NRAM and put in place by another strided ``__memcpy``. Lowered, every stage is a
copy loop through a local array::

    for (int s = 0; s < K; ++s)                                      // gone
      for (int i = 0; i < nt; ++i)
        b_cols[s * nt + i] = B[b * K * N + n0 + s * N + i];
    for (int i = 0; i < K; ++i)                                      // gone
      for (int j = 0; j < nt; ++j)
        bt[j * K + i] = b_cols[i * nt + j];
    for (int i = 0; i < mt; ++i)
      for (int j = 0; j < nt; ++j) {
        ... acc += a[i * K + p] * bt[j * K + p];             ->    acc += a[i * K + p] * B[b * K * N + n0 + p * N + j];
        c_blk[i * nt + j] = acc;                             ->    C[(m0 + i) * N + n0 + j] = acc;
      }
    for (int s = 0; s < mt; ++s)                                     // gone
      for (int i = 0; i < nt; ++i)
        C[(m0 + s) * N + n0 + i] = c_blk[s * nt + i];

On a GPU those buffers are per-block scratch in global memory or shared memory: every stage is a
pass over it and a ``__syncthreads``, and the threads of the compute loop wait for the copies.
Without them the compute reads what it needs where it needs it, and its loops are the whole kernel.

A *copy* is a nest of counted loops ``for (int v = 0; v < E; ++v)`` around one assignment
``D[g] = S[w]`` (perhaps with a cast); a *local array* ``T`` is declared once in the function, with
one dimension and no initialiser, used only as ``T[e]`` and written by one statement. Its index in
the copy must be ``v1 * s1 + ... + vn * sn + r``, linear in the counters with strides that form a
mixed radix (one of them 1, each next one the previous times its extent, as polynomials), so that
each element of the copy's box is a different element of ``T``. Every name in those indices is an
``int`` (the sums are rebuilt in another order, the same value only in one integer type).

**Loads.** A copy ``T[w] = U[g]`` into a local array is forwarded when every read of ``T`` is in the
statements after it in its block, none of which assigns or declares again a name the copy uses,
writes through a pointer that may point into ``U``'s array (pointer parameters are distinct arrays,
as the dependence analysis assumes; a local pointer points where its initialiser does), calls a
function that is not pure, or carries a label (a ``goto`` could enter there without the copy); and
at every read ``T[e]``, ``e - r`` splits into digits ``h1 * s1 + ... + hn * sn`` with ``0 <= hd <
Ed`` proved by z3 from the loops and conditions around the read. Then the element read is the one
iteration ``h`` of the copy wrote, and ``U`` still holds it: the read becomes ``U[g(h)]`` (cast to
``T``'s element type where ``U``'s differs) and the copy goes.

**Stores.** A copy ``D[g] = T[w]`` out of a local array whose only other use is one write ``T[e] =
v``, directly in the body of a nest of counted loops of an earlier statement of the same block, is
forwarded when that nest writes as many elements as the copy reads (the products of the extents
equal as polynomials) with ``e`` a mixed radix of its loops (each iteration a different element),
the digits of ``e`` in the copy's radix are proved inside the copy's box (so the elements written
are exactly those copied out), and from the write's statement to the copy nothing reads or writes
what may lie in ``D``'s array, assigns or declares a name the copy uses, jumps, or calls anything
impure. Then the write stores ``D[g(h)] = v`` and the copy goes: each element reaches ``D`` earlier,
when nothing can tell.

Arrays are forwarded in the order of their copies, and again until nothing changes, so a chain of
stages (``b_cols`` -> ``bt`` -> ``b_wram``) ends at the parameter. A local array nobody uses any
more keeps its declaration for ``dce``.

``larger_than=B`` forwards only arrays of more than ``B`` bytes (or of a size not known). The BANG
-> CUDA/HIP pipeline passes bind's shared-memory limit (48 KB): a buffer that fits is the block's
shared memory, a cache its threads share, and what ``tensorize`` matches its tensor-core tiles in
(forwarding an fp16 GEMM's operands cost it its WMMA tiles, 2x on the GPU); the writes into a
buffer that fits are also the ones the dependence analysis proves apart (``c_blk[i * nt + j]``),
where those into the destination may not be (``C[i * N + n0 + j]`` with ``j < nt``, ``nt`` the
columns left). Larger buffers would be per-block scratch in global memory, passes over it and
barriers: those are the ones to forward.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from typing import ClassVar

import z3

from xpiler import ir
from xpiler.ir.analysis import conjuncts, strip_parens
from xpiler.ir.effects import assigned_scalars, is_pure_call, touches_memory, used_names
from xpiler.ir.polynomial import Poly, add as _add, mul as _mul
from xpiler.ir.types import INT, TypeEnv, canonical, same_type

from .base import ModulePass, PassError, map_function_bodies
from .bind import array_bytes, module_constants
from .cleanup import assigned_outside_headers
from .constant_fold import int_value
from .loop_split import body_statements, is_const, printed
from .registry import register

#: z3's resource limit for one proof (deterministic, unlike a time limit)
PROOF_RLIMIT = 2_000_000



# --------------------------------------------------------------------------------------------------
# Integer polynomials over the atoms of index expressions


class _Atoms:
    """Index expressions as polynomials over ``int`` atoms: names, and integer subexpressions that
    are not sums or products (``u / n``, ``a < b ? a : b``), each kept whole under its text."""

    def __init__(self, int_names: set[str]):
        self.int_names = int_names
        self.exprs: dict[str, ir.Expr] = {}

    def _ints_only(self, e) -> bool:
        return all(n.id in self.int_names for n in ir.walk(e) if isinstance(n, ir.Name)) and \
            not any(isinstance(n, (ir.Cast, ir.Member, ir.Builtin)) for n in ir.walk(e))

    def poly(self, e) -> Poly | None:
        e = strip_parens(e)
        if isinstance(e, ir.Const):  # a plain decimal literal: an int
            value = int_value(e) if e.text.isdigit() else None
            return {(): value} if value is not None and value < 2 ** 31 else None
        if isinstance(e, ir.Name):
            if e.id not in self.int_names:
                return None
            self.exprs[e.id] = e
            return {(e.id,): 1}
        if isinstance(e, ir.UnOp) and e.op in ("-", "+") and not e.postfix:
            inner = self.poly(e.operand)
            return None if inner is None else (_add({}, inner, -1) if e.op == "-" else inner)
        if isinstance(e, ir.BinOp) and e.op in ("+", "-", "*"):
            a, b = self.poly(e.left), self.poly(e.right)
            if a is None or b is None:
                return None
            return _mul(a, b) if e.op == "*" else _add(a, b, -1 if e.op == "-" else 1)
        if isinstance(e, (ir.BinOp, ir.Ternary)) and not touches_memory(e) and self._ints_only(e) and \
                not any(isinstance(n, ir.Assign) or isinstance(n, ir.UnOp) and n.op in ("++", "--")
                        for n in ir.walk(e)):
            key = "#" + printed(e)
            self.exprs[key] = e
            return {(key,): 1}
        return None

    def expr(self, p: Poly) -> ir.Expr:
        """``p`` as C: its terms, highest degree first, each ``c * a * b``."""
        out = None
        for mono, c in sorted(p.items(), key=lambda t: (-len(t[0]), t[0])):
            if c == 0:
                continue
            factors = [self._factor(a) for a in mono]
            magnitude = abs(c)
            if magnitude != 1 or not factors:
                factors.insert(0, ir.Const(str(magnitude), magnitude))
            term = factors[0]
            for f in factors[1:]:
                term = ir.BinOp("*", term, f)
            if out is None:
                out = term if c > 0 else ir.UnOp("-", term)
            else:
                out = ir.BinOp("+" if c > 0 else "-", out, term)
        return out if out is not None else ir.Const("0", 0)

    def _factor(self, key: str) -> ir.Expr:
        e = self.exprs[key]
        return e if isinstance(e, ir.Name) else ir.Paren(e)

    def z3(self, p: Poly, ctx: z3.Context):
        total = z3.IntVal(0, ctx)
        for mono, c in p.items():
            term = z3.IntVal(c, ctx)
            for a in mono:
                term = term * z3.Int(a, ctx)
            total = total + term
        return total


def _divide(term: tuple, coefficient: int, stride: Poly):
    """``term * coefficient / stride`` when ``stride`` is one monomial that divides it, else None."""
    if len(stride) != 1:
        return None
    (smono, scoef), = stride.items()
    if scoef == 0 or coefficient % scoef:
        return None
    rest = Counter(term)
    rest.subtract(Counter(smono))
    if any(v < 0 for v in rest.values()):
        return None
    return tuple(sorted(rest.elements())), coefficient // scoef


# --------------------------------------------------------------------------------------------------
# Copy nests


@dataclass(frozen=True)
class _Nest:
    """``for (int v1 = 0; v1 < E1; ++v1) ... target = value;``, ``value`` an element ``source`` (perhaps
    cast)."""

    counters: tuple[str, ...]  # outermost first
    extents: tuple             # Poly per counter
    target: ir.Index
    value: ir.Expr
    source: ir.Index
    uses: frozenset            # the names the nest reads besides its counters


@dataclass(frozen=True)
class _Radix:
    """An index ``v1 * s1 + ... + vn * sn + offset`` of a nest's counters whose strides form a mixed
    radix (innermost first in ``order``): each element of the box is a different index."""

    strides: tuple             # Poly per counter
    offset: Poly
    order: tuple[int, ...]


def _base(index: ir.Index) -> str | None:
    base = strip_parens(index.base)
    return base.id if isinstance(base, ir.Name) else None


def _counted(s) -> tuple[str, ir.Expr] | None:
    """``(v, E)`` of ``for (T v = 0; v < E; ++v)`` whose body leaves ``v`` alone, else None."""
    canon = s.canonical() if isinstance(s, ir.For) else None
    if canon is None or not isinstance(s.init, ir.Decl) or not is_const(canon[1], 0) or \
            not is_const(canon[3], 1) or canon[0] in assigned_scalars(s.body):
        return None
    return canon[0], canon[2]


def _copy_nest(stmt, atoms: _Atoms) -> _Nest | None:
    counters, extents = [], []
    s = stmt
    while isinstance(s, ir.For):
        counted = _counted(s)
        if counted is None:
            return None
        extent = atoms.poly(counted[1])
        if extent is None or any(c in used_names(counted[1]) for c in counters):
            return None
        counters.append(counted[0])
        extents.append(extent)
        body = body_statements(s)
        if len(body) != 1:
            return None
        s = body[0]
    if not counters or not isinstance(s, ir.ExprStmt) or not isinstance(s.expr, ir.Assign) or s.expr.op != "=":
        return None
    target, value = strip_parens(s.expr.target), s.expr.value
    source = value
    while isinstance(source, (ir.Paren, ir.Cast)):
        source = source.inner if isinstance(source, ir.Paren) else source.operand
    if not (isinstance(target, ir.Index) and isinstance(source, ir.Index) and _base(target) and _base(source)):
        return None
    if touches_memory(source.index) or touches_memory(target.index):
        return None
    return _Nest(tuple(counters), tuple(extents), target, value, source, frozenset(used_names(stmt) - set(counters)))


def _radix(index, counters, extents, atoms: _Atoms) -> _Radix | None:
    w = atoms.poly(index)
    if w is None:
        return None
    strides, offset = {c: {} for c in counters}, {}
    for mono, coef in w.items():
        if any(a.startswith("#") and set(counters) & used_names(atoms.exprs[a]) for a in mono):
            return None  # a counter inside a kept-whole atom: not linear
        hits = [a for a in mono if a in strides]
        if len(hits) > 1:
            return None
        if hits:
            rest = list(mono)
            rest.remove(hits[0])
            strides[hits[0]] = _add(strides[hits[0]], {tuple(rest): coef})
        else:
            offset[mono] = coef
    strides = tuple(strides[c] for c in counters)
    left, order, expected = list(range(len(counters))), [], {(): 1}
    while left:
        found = [d for d in left if strides[d] == expected]
        if len(found) != 1:
            return None
        order.append(found[0])
        left.remove(found[0])
        expected = _mul(expected, extents[found[0]])
    return _Radix(strides, offset, tuple(order))


def _digits(p: Poly, radix: _Radix) -> list[Poly]:
    """``p - offset`` as ``sum(h[d] * stride[d])``: each term goes to the outermost digit whose stride
    divides it, the rest to the innermost (stride 1)."""
    order = radix.order
    h = {d: {} for d in order}
    remaining = _add(p, radix.offset, -1)
    for d in reversed(order[1:]):
        for mono, coef in list(remaining.items()):
            quotient = _divide(mono, coef, radix.strides[d])
            if quotient is not None:
                h[d] = _add(h[d], {quotient[0]: quotient[1]})
                del remaining[mono]
    h[order[0]] = _add(h[order[0]], remaining)
    return [h[d] for d in range(len(order))]


def _in_box(digits, extents, atoms: _Atoms, ctx) -> list:
    claims = []
    for h, extent in zip(digits, extents):
        value = atoms.z3(h, ctx)
        claims += [value >= 0, value < atoms.z3(extent, ctx)]
    return claims


def _substituted(e, counters, digits, atoms: _Atoms):
    """``e`` with each counter replaced by its digit expression."""
    mapping = {c: atoms.expr(h) for c, h in zip(counters, digits)}

    def substitute(n):
        if isinstance(n, ir.Paren) and isinstance(strip_parens(n), ir.Name) and strip_parens(n).id in mapping:
            n = strip_parens(n)
        if isinstance(n, ir.Name) and n.id in mapping:
            h = mapping[n.id]
            return h if isinstance(h, (ir.Name, ir.Const)) else ir.Paren(h)
        return n
    e = ir.rewrite(e, substitute)
    return ir.rewrite(e, lambda n: replace(n, index=strip_parens(n.index)) if isinstance(n, ir.Index) else n)


# --------------------------------------------------------------------------------------------------
# Where the copy is read


def _facts(cond, atoms: _Atoms, positive: bool, ctx) -> list:
    """``(names, fact)`` for the comparisons ``cond`` (or its negation) asserts."""
    out = []
    parts = conjuncts(cond) if positive else [cond]
    for c in parts:
        c = strip_parens(c)
        if not (isinstance(c, ir.BinOp) and c.op in ("<", "<=", ">", ">=", "==", "!=")):
            continue
        a, b = atoms.poly(c.left), atoms.poly(c.right)
        if a is None or b is None:
            continue
        x, y = atoms.z3(a, ctx), atoms.z3(b, ctx)
        fact = {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y, "==": x == y, "!=": x != y}[c.op]
        out.append((frozenset(used_names(c)), fact if positive else z3.Not(fact)))
    return out


def _reads(stmt, name: str, atoms: _Atoms, facts: tuple, ctx, out: list, unstable: frozenset) -> None:
    """Append ``(index expression, facts)`` for every read ``name[e]`` under ``stmt``: the facts are
    the bounds of the loops and the conditions around it, each with the names it mentions. Facts about
    ``unstable`` names (assigned somewhere in the region, so perhaps since the test) are not taken, and
    a declaration drops those about the name it shadows (one z3 symbol per name)."""
    def expressions(e):
        for n in ir.walk(e):
            if isinstance(n, ir.Index) and strip_parens(n.base) == ir.Name(name):
                out.append((n.index, tuple(f for _, f in facts)))

    def more(new):
        return facts + tuple(f for f in new if not f[0] & unstable)

    def shadowing(declared):
        return tuple(f for f in facts if not f[0] & declared)
    if isinstance(stmt, ir.Block):
        for s in stmt.body:
            _reads(s, name, atoms, facts, ctx, out, unstable)
            if isinstance(s, ir.Decl):
                facts = shadowing({v.name for v in s.vars})
    elif isinstance(stmt, ir.For):
        for part in (stmt.init, stmt.cond, stmt.step):
            if part is not None:
                expressions(part)
        canon = stmt.canonical()
        if canon is not None:
            facts = shadowing({canon[0]})
        if canon is not None and canon[0] in atoms.int_names and int_value(canon[3]) is not None and \
                int_value(canon[3]) > 0 and canon[0] not in assigned_scalars(stmt.body):
            v, start, stop = atoms.poly(ir.Name(canon[0])), atoms.poly(canon[1]), atoms.poly(canon[2])
            if start is not None and stop is not None:
                var = atoms.z3(v, ctx)
                names = used_names(canon[1]) | used_names(canon[2]) | {canon[0]}
                facts = more([(frozenset(names), atoms.z3(start, ctx) <= var),
                              (frozenset(names), var < atoms.z3(stop, ctx))])
        elif isinstance(stmt.init, ir.Decl):
            facts = shadowing({v.name for v in stmt.init.vars})
        _reads(stmt.body, name, atoms, facts, ctx, out, unstable)
    elif isinstance(stmt, ir.If):
        expressions(stmt.cond)
        _reads(stmt.then, name, atoms, more(_facts(stmt.cond, atoms, True, ctx)), ctx, out, unstable)
        if stmt.other is not None:
            _reads(stmt.other, name, atoms, more(_facts(stmt.cond, atoms, False, ctx)), ctx, out, unstable)
    elif isinstance(stmt, ir.While):
        expressions(stmt.cond)
        _reads(stmt.body, name, atoms, facts, ctx, out, unstable)
    else:
        expressions(stmt)


def _proved(facts, claims, ctx) -> bool:
    solver = z3.Solver(ctx=ctx)
    solver.set("rlimit", PROOF_RLIMIT)
    solver.add(*facts)
    solver.add(z3.Not(z3.And(*claims)))
    return solver.check() == z3.unsat


# --------------------------------------------------------------------------------------------------
# The pass


class _Function:
    """What forwarding needs to know about one function."""

    def __init__(self, function: ir.Function, macros: frozenset[str], constants: dict, larger_than: int):
        self.constants, self.larger_than = constants, larger_than
        self.params = {p.name: p for p in function.params}
        types = defaultdict(set)       # name -> {(type, rank)} of its declarations
        for p in function.params:
            types[p.name].add((canonical(p.type), len(p.dims)))
        self.declared = Counter(p.name for p in function.params)
        self.locals: dict[str, ir.Declarator] = {}
        self.uses, self.writes, self.names = Counter(), Counter(), Counter()  # name[e], name[e] = v, name
        for n in ir.walk(function.body):
            if isinstance(n, ir.Declarator):
                types[n.name].add((canonical(replace(n.type, quals=())), len(n.dims)))
                self.declared[n.name] += 1
                self.locals[n.name] = n
            elif isinstance(n, ir.Name):
                self.names[n.id] += 1
            elif isinstance(n, ir.Index) and _base(n):
                self.uses[_base(n)] += 1
            elif isinstance(n, ir.Assign) and isinstance(strip_parens(n.target), ir.Index) and \
                    _base(strip_parens(n.target)):
                self.writes[_base(strip_parens(n.target))] += 1
        self.int_names = {name for name, ts in types.items() if ts == {(canonical(INT), 0)}} | \
            (macros - set(types))
        assigned = assigned_scalars(function.body)
        # local pointer -> its declaration, when its initialiser is where it always points
        self.pointers = {name: d for name, d in self.locals.items()
                         if self.declared[name] == 1 and not d.dims and d.type.pointer and d.init is not None
                         and name not in assigned}

    def root(self, e, seen=()) -> str | None:
        """The parameter array an address points into, or None when that is not known."""
        e = strip_parens(e)
        if isinstance(e, ir.Cast):
            return self.root(e.operand, seen)
        if isinstance(e, ir.BinOp) and e.op in ("+", "-"):
            return self.root(e.left, seen)
        if isinstance(e, ir.UnOp) and e.op == "&":
            return self.root(e.operand, seen)
        if isinstance(e, ir.Index):  # a row of a multi-dimensional array
            return self.root(e.base, seen)
        if isinstance(e, ir.Name):
            if e.id in self.params and self.declared[e.id] == 1:
                return e.id
            if e.id in self.locals and self.locals[e.id].dims and self.declared[e.id] == 1:
                return e.id  # a local array is its own
            if e.id in self.pointers and e.id not in seen:
                return self.root(self.pointers[e.id].init, seen + (e.id,))
        return None

    def element_type(self, name: str):
        if name in self.params:
            p = self.params[name]
            return replace(p.type, pointer=p.type.pointer - 1, quals=(), ptr_quals=()) if p.type.pointer and not p.dims else None
        d = self.locals.get(name)
        if d is not None and len(d.dims) == 1:
            return replace(d.type, quals=(), ptr_quals=())
        if d is not None and d.type.pointer and not d.dims:
            return replace(d.type, pointer=d.type.pointer - 1, quals=(), ptr_quals=())
        return None

    def array(self, name: str) -> ir.Declarator | None:
        """``name``'s declaration when it is a forwardable local array."""
        d = self.locals.get(name)
        if d is None or self.declared[name] != 1 or name in self.params or len(d.dims) != 1 or \
                d.init is not None or d.ctor_args is not None or d.type.pointer:
            return None
        if self.names[name] != self.uses[name] or self.writes[name] != 1:
            return None  # used other than as name[e], or written in more than one place
        size = array_bytes(d, self.constants)
        if size is not None and size <= self.larger_than:
            return None
        return d


def _region_safe(stmts, names: frozenset, root: str, fn: _Function, *, reads_too: bool) -> bool:
    """Whether ``stmts`` leave alone what a copy involves: they assign or declare none of ``names``,
    take none of their addresses, write (and with ``reads_too`` read) nothing that may lie in the
    array ``root``, call nothing impure and carry no label (nor, with ``reads_too``, any jump)."""
    block = ir.Block(tuple(stmts))
    if (assigned_scalars(block) | {d.name for d in ir.walk(block) if isinstance(d, ir.Declarator)}) & names:
        return False
    for n in ir.walk(block):
        if isinstance(n, ir.Verbatim) and (reads_too or not n.text.lstrip().startswith("goto ")):
            return False
        if reads_too and isinstance(n, (ir.Jump, ir.Return)):
            return False
        if isinstance(n, ir.UnOp) and n.op == "&" and isinstance(strip_parens(n.operand), ir.Name) and \
                strip_parens(n.operand).id in names:
            return False
        if isinstance(n, ir.Call) and not is_pure_call(n):
            return False
        if reads_too and isinstance(n, ir.Index) and fn.root(n.base) in (None, root):
            return False
        base = written_address(n)
        if base is not None and fn.root(base) in (None, root):
            return False
    return True


def written_address(n) -> ir.Expr | None:
    """The address node ``n`` stores through (``a`` of ``a[e] = v``, ``a[e]++``; ``p`` of ``*p = v``),
    or None when ``n`` is not such a store."""
    target = None
    if isinstance(n, ir.Assign):
        target = strip_parens(n.target)
    elif isinstance(n, ir.UnOp) and n.op in ("++", "--"):
        target = strip_parens(n.operand)
    if isinstance(target, ir.Index):
        return target.base
    if isinstance(target, ir.UnOp) and target.op == "*":
        return target.operand
    return None


def _converted(value, element, stored):
    """``value``, of type ``stored`` (None: not known), as stored into an element of type ``element``."""
    if stored is not None and same_type(stored, replace(element, quals=())):
        return value
    return ir.Cast(replace(element, quals=(), ptr_quals=()), ir.Paren(value))


def _forward_loads(stmts: list, k: int, fn: _Function, ctx) -> bool:
    """Forward the copy ``stmts[k]`` into a local array to the reads after it (in place)."""
    atoms = _Atoms(fn.int_names)
    nest = _copy_nest(stmts[k], atoms)
    if nest is None:
        return False
    name, source = _base(nest.target), _base(nest.source)
    if fn.array(name) is None or source == name:
        return False
    radix = _radix(nest.target.index, nest.counters, nest.extents, atoms)
    later = stmts[k + 1:]
    root = fn.root(ir.Name(source))
    if radix is None or root is None or not _region_safe(later, nest.uses, root, fn, reads_too=False):
        return False
    reads, unstable = [], frozenset(assigned_outside_headers(ir.Block(tuple(later))))
    for s in later:
        _reads(s, name, atoms, (), ctx, reads, unstable)
    if not reads or len(reads) + 1 != fn.uses[name]:
        return False
    element, stored = fn.locals[name].type, fn.element_type(source)
    replacements = {}
    for index, facts in reads:
        if index not in replacements:
            e = atoms.poly(index)
            if e is None or name in used_names(index):
                return False
            digits = _digits(e, radix)
            if not _proved(facts, _in_box(digits, nest.extents, atoms, ctx), ctx):
                return False
            value = strip_parens(_substituted(nest.value, nest.counters, digits, atoms))
            # a bare element has U's type; a cast one is converted again, as storing it into T did
            replacements[index] = _converted(value, element, stored if isinstance(value, ir.Index) else None)

    def read(n):
        if isinstance(n, ir.Index) and _base(n) == name and n.index in replacements:
            return replacements[n.index]
        return n
    stmts[k + 1:] = [ir.rewrite(s, read) for s in later]
    stmts[k] = None  # nothing reads what the copy wrote
    return True


def _box_chain(stmt, write) -> tuple[list, list] | None:
    """The counted loops from ``stmt`` down to the statement ``write`` (directly in the innermost
    one's body): their counters and extents (IR), or None."""
    counters, extents = [], []
    s = stmt
    while True:
        counted = _counted(s)
        if counted is None:
            return None
        counters.append(counted[0])
        extents.append(counted[1])
        body = body_statements(s)
        if any(b is write for b in body):
            return counters, extents
        holding = [b for b in body if any(n is write for n in ir.walk(b))]
        if len(holding) != 1:
            return None
        s = holding[0]


def _forward_store(stmts: list, k: int, fn: _Function, ctx) -> bool:
    """Make the statement that fills a local array, copied out whole by ``stmts[k]``, store where the
    copy would have put each element (in place)."""
    atoms = _Atoms(fn.int_names)
    nest = _copy_nest(stmts[k], atoms)
    if nest is None or strip_parens(nest.value) is not nest.source:
        return False
    name, target = _base(nest.source), _base(nest.target)
    if fn.array(name) is None or fn.uses[name] != 2 or target == name:
        return False
    radix = _radix(nest.source.index, nest.counters, nest.extents, atoms)
    root = fn.root(ir.Name(target))
    if radix is None or root is None or root == name:
        return False
    holder = [j for j in range(k) if stmts[j] is not None and
              any(isinstance(n, ir.Index) and _base(n) == name for n in ir.walk(stmts[j]))]
    if len(holder) != 1:
        return False
    j = holder[0]
    writes = [n for n in ir.walk(stmts[j]) if isinstance(n, ir.ExprStmt) and isinstance(n.expr, ir.Assign)
              and isinstance(strip_parens(n.expr.target), ir.Index) and _base(strip_parens(n.expr.target)) == name]
    if len(writes) != 1 or writes[0].expr.op != "=":
        return False
    write = writes[0]
    chain = _box_chain(stmts[j], write)
    if chain is None:
        return False
    counters, extent_exprs = chain
    if nest.uses & set(counters):
        return False  # at the write, the copy's name would be the fill's counter
    extents = [atoms.poly(e) for e in extent_exprs]
    if any(e is None for e in extents):
        return False
    region = [stmts[j]] + [s for s in stmts[j + 1:k] if s is not None]
    fixed = nest.uses | {n for e in extent_exprs for n in used_names(e)}
    if not _region_safe(region, frozenset(fixed - set(counters)), root, fn, reads_too=True):
        return False
    # the fill writes each element once (a mixed radix of its loops), as many as the copy reads:
    # so it writes every element the copy reads
    index = strip_parens(write.expr.target).index
    if _radix(index, counters, extents, atoms) is None:
        return False
    size, copied = {(): 1}, {(): 1}
    for e in extents:
        size = _mul(size, e)
    for e in nest.extents:
        copied = _mul(copied, e)
    if size != copied:
        return False
    facts = []
    for c, e in zip(counters, extents):
        v = atoms.z3(atoms.poly(ir.Name(c)), ctx)
        facts += [v >= 0, v < atoms.z3(e, ctx)]
    digits = _digits(atoms.poly(index), radix)
    if not _proved(facts, _in_box(digits, nest.extents, atoms, ctx), ctx):
        return False
    destination = _substituted(nest.target, nest.counters, digits, atoms)
    value = _converted(write.expr.value, fn.locals[name].type, fn.element_type(target))
    stored = replace(write, expr=replace(write.expr, target=destination, value=value))
    stmts[j] = ir.rewrite(stmts[j], lambda n: stored if n is write else n)
    stmts[k] = None  # the copy has nothing left to copy
    return True


def _forwarded_in_block(block: ir.Block, fn: _Function, ctx) -> ir.Block:
    stmts = list(block.body)
    for k in range(len(stmts)):
        if isinstance(stmts[k], ir.For):  # (None: a copy forwarded in this block)
            _forward_loads(stmts, k, fn, ctx) or _forward_store(stmts, k, fn, ctx)
    stmts = [s for s in stmts if s is not None]
    return ir.Block(tuple(stmts)) if stmts != list(block.body) else block


def forward_copies(function: ir.Function, macros: frozenset[str] = frozenset(), constants: dict | None = None,
                   larger_than: int = 0) -> ir.Block:
    """``function``'s body with the copies through its local arrays of more than ``larger_than``
    bytes forwarded (``macros``: the file's ``int`` constant macros; ``constants``: their values)."""
    ctx = z3.Context()
    body = function.body
    while True:  # forwarding one array may make the next in a chain readable from the parameter
        # Counts are taken once per round. A forwarding in the round only removes its array and
        # changes its source's count by (reads - 1) >= 0 where the array was read, so a later check
        # of that source in the round sees no read outside its region that it did not count: stale
        # counts can refuse, never wrongly accept.
        fn = _Function(replace(function, body=body), macros, constants or {}, larger_than)
        new = ir.rewrite(body, lambda n: _forwarded_in_block(n, fn, ctx) if isinstance(n, ir.Block) else n)
        if new == body:
            return body
        body = new


@register
@dataclass(frozen=True)
class ForwardCopies(ModulePass):
    """Copies through local arrays forwarded: reads of a copy read its source, a copy-out's fill
    stores in place (see the module)."""

    name: ClassVar[str] = "forward-copies"
    summary: ClassVar[str] = "a local array that holds a copy of another array is read from it, or stored in place"

    #: only arrays of more bytes than this (or of a size not known) are forwarded
    larger_than: int = 0

    def apply(self, module: ir.Module) -> ir.Module:
        if not isinstance(self.larger_than, int) or self.larger_than < 0:
            raise PassError(f"forward-copies: larger_than must be a byte count >= 0, got {self.larger_than!r}")
        macros, constants = int_macros(module), module_constants(module)
        return map_function_bodies(module, lambda f: forward_copies(f, macros, constants, self.larger_than))


def int_macros(module: ir.Module) -> frozenset[str]:
    """The module's ``int`` constant macros (index arithmetic may treat them as ``int`` names)."""
    env = TypeEnv.for_module(module)
    return frozenset(name for name, var in env.names.items() if var.kind == "macro" and same_type(var.type, INT))
