"""Dependence analysis: may the iterations of a loop run concurrently?

A loop is parallel when any two different iterations touch no common location that one of them
writes. We decide that the way polyhedral compilers do, with an SMT solver instead of a polyhedral
library: the loop body is walked twice, once per *symbolic iteration* (instances ``1`` and ``2``),
and every memory access becomes an :class:`Access`: the buffer it goes into (its *base*), the byte
range ``[lo, hi)`` it touches as a z3 integer term over the loop variable, the variables of the inner
loops around it and the values it reads, and the *path condition* under which it runs (the bounds of
those inner loops and the ``if`` guards). Then for every pair of accesses to one base, at least one
a write, z3 is asked whether instance 1 and instance 2 can touch a common byte while their loop
variables differ. ``sat`` is a dependence (reported with the two accesses), ``unsat`` none, and
``unknown`` (the query ran out of its budget, :data:`QUERY_RLIMIT`) is treated as a dependence. Before
that, when the caller asks for it (``delinearize=True``: task-units does; bind, which would then
prefer an outer loop of a few lanes to the nest inside it, does not yet), an undecided query is
asked again *delinearized*: offsets ``R * N + c`` of elements of one size
with ``0 <= c < N`` proved on both sides (``N`` a parameter or a constant) meet only where the ``R``
and the ``c`` do, recursively (products of runtime sizes make the plain query nonlinear).

What the model assumes and how it stays exact otherwise:

* Values. Names declared outside the loop and not assigned in it are the same symbol in both
  instances (``constants`` gives values to macros and launch dimensions such as ``ROWS`` or
  ``gridDim.x``), and :func:`function_env` the initializers of the function's invariant integers
  (``const int full = cols / 16 * 16;``). Variables declared in the body are private to an
  iteration: an integer declared
  once with an initializer and never reassigned stands for that initializer; the variable of an inner
  canonical loop is a symbol bounded by its loop; any other private value (a reassigned counter, a
  value loaded from memory, a float) is a fresh, unconstrained symbol at every read. Integer
  arithmetic is exact over the integers (C's truncating ``/`` and ``%``; shifts and masks by
  constants, and constants shifted by variable amounts); wrap-around of fixed-width integers is
  ignored.
* Memory. Addresses are a base plus a byte offset: ``a[e]``, ``*(p + e)``, ``p[e][f]`` (strides from
  the declared array extents) and pointer aliases declared in the body with an initializer
  (``const float *xc = x + off;``) resolve to their base. Distinct bases never alias: distinct
  pointer parameters and distinct arrays are assumed to be disjoint (our host entries copy every
  buffer separately), and a pointer declared *outside* the loop is a base of its own. A pointer whose
  target is unknown (loaded from memory, reassigned in the body) may alias every base. Arrays
  declared in the body are private; arrays declared outside are shared between iterations like global
  memory. Element sizes come from the declared types (``env``, a :class:`~xpiler.ir.types.TypeEnv`
  of the loop's context, gives those of names declared outside it); without them, accesses to a base
  are compared in elements, and an access that views the base through another type overlaps all of
  it.
* Calls. Math functions (``expf``, ``fmaxf``, ... and intrinsics of kind ``math`` / ``convert``) are
  pure. ``memcpy``, ``memmove`` and ``memset`` access byte ranges. Other intrinsics access what their
  scalar description in the registry accesses (``_mm512_storeu_ps(p, v)`` writes ``p[0..15]``,
  ``_mm512_mask_storeu_ps`` the lanes of its mask when the mask is known). Any other call (C++
  container methods and the program's own functions included), ``return``, a ``break`` out of the
  loop, a barrier or source the IR does not model is an obstacle.
* Scalars. Writing a scalar declared outside the loop is an obstacle (reductions are not recognised).

The same machinery answers the questions the loop passes ask (:class:`LoopAccesses`): dependences
between two groups of statements of one body with ``v1 < v2`` (fission, fusion) or with a direction
vector (interchange).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, replace
from typing import Callable, Mapping

import z3

from . import nodes as ir
from .analysis import strip_parens
from .effects import declaration_counts
from .types import TypeEnv, is_floating, is_integer, sizeof
from ..errors import XpilerError

#: Work limit of one solver query, in z3 resource units (about 200 ms of solving): an undecided query
#: counts as a dependence. The resource limit, unlike a time limit, gives the same answers however busy
#: the machine is; the wall-clock cap, far above it, is only a net against a solver stuck between two
#: resource checks.
QUERY_RLIMIT = 500_000
QUERY_TIMEOUT_MS = 10_000

# Pure functions: results depend on their arguments only (math, conversions).
_PURE_INTRINSIC_KINDS = ("math", "convert")
# Library calls that access memory ranges: name -> (destination argument or None, source argument or
# None, byte-count argument).
_RANGE_CALLS = {"memcpy": (0, 1, 2), "memmove": (0, 1, 2), "memset": (0, None, 2)}


class Obstacle(Exception):
    """Why iterations cannot be reordered (one line)."""


def is_parallel(loop: ir.For, *, constants: Mapping[str, int] = {}, env: TypeEnv | None = None,
                delinearize: bool = False) -> bool:
    """True when the iterations of ``loop`` may run concurrently, in any order (see the module)."""
    return parallel_obstacle(loop, constants=constants, env=env, delinearize=delinearize) is None


def parallel_obstacle(loop: ir.For, *, constants: Mapping[str, int] = {}, env: TypeEnv | None = None,
                      delinearize: bool = False) -> str | None:
    """None when the iterations of ``loop`` may run concurrently, in any order, with the same result
    as the sequential loop; else a one-line reason. ``constants`` gives values of names (macros,
    ``gridDim.x``); ``env`` the types of names declared outside the loop (see :func:`function_env`);
    ``delinearize``: undecided queries are asked again digit by digit (see the module)."""
    try:
        accesses = LoopAccesses(loop, constants=constants, env=env)
        accesses.check_structure()
        if accesses.scalar_writes:
            return f"writes scalar `{accesses.scalar_writes[0]}` declared outside the loop"
        found = accesses.conflict(lambda v1, v2: v1[accesses.var] != v2[accesses.var], delinearize=delinearize)
    except Obstacle as reason:
        return str(reason)
    return None if found is None else describe(found.first, found.second)


def describe(first: "Access", second: "Access", undecided: bool = False) -> str:
    """``T[i] written in one iteration and read at T[i + 1] in another`` (``first`` is a write)."""
    if not first.write:
        first, second = second, first
    if undecided:
        return (f"could not decide whether {first.text} written in one iteration is "
                f"{'written' if second.write else 'read'} at {second.text} in another (the solver gave up)")
    return f"{first.text} written in one iteration and {'written' if second.write else 'read'} at " \
           f"{second.text} in another"


class LoopEnv(TypeEnv):
    """A :class:`TypeEnv` that also knows the initializers of invariant integers (declared once with an
    initializer and never assigned: ``const int full = cols / 16 * 16;``), which the analysis
    substitutes for their names, and the module's pure functions."""

    def __init__(self, parent: TypeEnv | None = None):
        super().__init__(parent)
        self.invariants: dict[str, ir.Expr] = {}
        self.pure_functions: frozenset[str] = frozenset()


def integer_value(expr, *, constants: Mapping[str, int] = {}, env: TypeEnv | None = None) -> int | None:
    """The value of integer expression ``expr`` when it is a constant (literals, ``constants``, constant
    macros and invariant integers of ``env``), else None."""
    return _constant(_Shared(constants, env, set()).invariants.int_term(expr))


def range_guard(loop: ir.For, constants: Mapping[str, int] = {}):
    """``start <= v && v < stop`` for a canonical loop that declares ``v``, steps it up by a constant
    (a literal, or a name ``constants`` gives: ``l0 += VC``) and does not assign it in its body (what
    its body may assume), else None."""
    canonical = loop.canonical()
    if canonical is None or not isinstance(loop.init, ir.Decl) or canonical[0] in _assigned(loop.body):
        return None
    from xpiler.passes.constant_fold import int_value  # not integer_value: no z3 terms for a literal
    var, start, stop, step = canonical
    named = strip_parens(step)
    value = int_value(step)
    if value is None and isinstance(named, ir.Name):
        value = constants.get(named.id)
    if (value or 0) <= 0:
        return None
    return ir.BinOp("&&", ir.BinOp("<=", start, ir.Name(var)), ir.BinOp("<", ir.Name(var), stop))


def assuming(loop: ir.For, guards) -> ir.For:
    """``loop`` with its body under ``guards`` (conditions a dependence query may assume, such as the
    ranges of the loops around it)."""
    for guard in reversed(tuple(guards)):
        loop = replace(loop, body=ir.Block((ir.If(guard, loop.body),)))
    return loop


def function_env(module: ir.Module, function: ir.Function) -> LoopEnv:
    """The types of every name a loop of ``function`` may see: file scope, parameters, and all the
    function's local declarations (flat: a shadowed name keeps the declaration seen last), with the
    initializers of its invariant integers: declared once, never assigned, initialized from
    variables that nothing but their own loop headers assign, without reading memory."""
    env = LoopEnv(TypeEnv.for_module(module))
    env.declare_params(function.params)
    assigned = _assigned(function.body)
    # a loop variable keeps its value within its loop's body, where declarations using it live
    from xpiler.passes.cleanup import assigned_outside_headers
    stable = assigned - assigned_outside_headers(function.body)
    for n in ir.walk(function.body):
        if isinstance(n, ir.Decl):
            env.declare_decl(n)
            for v in n.vars:
                if not v.dims and v.init is not None and is_integer(v.type) and not v.type.reference \
                        and _plain_value(v.init, assigned - stable):
                    env.invariants[v.name] = v.init
    for name in assigned | {name for name, count in declaration_counts(function.body).items() if count > 1}:
        env.invariants.pop(name, None)
    env.pure_functions = pure_functions(module)
    return env


def _plain_value(e, changing: set[str]) -> bool:
    """``e`` computes on names none of which is in ``changing``, without reading memory or calling
    (a conversion ``(__mmask16)(x)`` parses as a call of a parenthesised type)."""
    for n in ir.walk(e):
        if isinstance(n, (ir.Index, ir.Assign, ir.Comma, ir.RawExpr)) or isinstance(n, ir.Member) and n.arrow \
                or isinstance(n, ir.Call) and not isinstance(n.func, ir.Paren) \
                or isinstance(n, ir.UnOp) and n.op in ("*", "&", "++", "--") \
                or isinstance(n, ir.Name) and n.id in changing:
            return False
    return True


def pure_functions(module: ir.Module) -> frozenset[str]:
    """Functions of ``module`` whose result depends on their arguments only: no pointer, array or
    reference parameters, no access to memory or to names they do not declare, and calls of pure
    functions only (math, value intrinsics such as ``_mm512_fmadd_ps``, other pure functions)."""
    definitions: dict[str, list] = {}
    for f in list(module.functions()) + static_members(module):
        definitions.setdefault(f.name, []).append(f)
    candidates = {name: fs for name, fs in definitions.items() if all(f.body is not None for f in fs)
                  and not any(p.type.is_pointer or p.dims or p.type.reference for f in fs for p in f.params)}
    variables = {v.name for n in ir.walk(module) if isinstance(n, ir.Decl) for v in n.vars}
    pure: set[str] = set()
    changed = True
    while changed:   # a function calling another candidate is pure once that one is
        changed = False
        for fname, fs in candidates.items():
            # ``Op::step`` of a template is called by its short name: pure when every ``step`` is
            if fname not in pure and all(_computes_only(f, pure, variables) for f in fs):
                pure.add(fname)
                changed = True
    return frozenset(pure)


_STATIC_MEMBER = re.compile(r"\bstatic\s+(?:inline\s+)?[A-Za-z_][\w\s\*]*?\b([A-Za-z_]\w*)\s*\([^;{}]*\)\s*(?:const\s*)?\{")


def static_members(module: ir.Module) -> list:
    """The static member functions of the structs and classes ``module`` keeps as text (the functors
    of a kernel template: ``struct MaxOp { __device__ static float step(float a, float v) {...} }``),
    lifted one by one; those that do not lift are left out (and their names are then not pure)."""
    from xpiler.frontend.lift import lift
    found = []
    for item in module.items:
        if not (isinstance(item, ir.Verbatim) and re.match(r"\s*(?:template\s*<[^>]*>\s*)?(?:struct|class)\b", item.text)):
            continue
        for head in _STATIC_MEMBER.finditer(item.text):
            depth, end = 0, None
            for k in range(head.end() - 1, len(item.text)):
                depth += {"{": 1, "}": -1}.get(item.text[k], 0)
                if depth == 0:
                    end = k + 1
                    break
            if end is None:
                continue
            text = item.text[head.start():end].replace("static", "", 1)
            open_, close = text.index("("), text.index(")")
            # an unnamed parameter (``finish(float acc, int)``) gets a name the body cannot use
            params = [p if not re.fullmatch(r"\s*(?:const\s+)?[A-Za-z_][\w:]*(?:\s*\*)*\s*", p) or not p.strip()
                      else f"{p} __unnamed{k}" for k, p in enumerate(text[open_ + 1:close].split(","))]
            text = text[:open_ + 1] + ",".join(params) + text[close:]
            try:
                lifted = lift(text, module.dialect).module
            except XpilerError:   # text the lifter does not take: the name stays unknown (impure)
                found.append(ir.Function(head.group(1), ir.Type("void"), (), None))
                continue
            found += [f for f in lifted.functions() if f.name == head.group(1)]
    return found


def _computes_only(f: ir.Function, pure: set[str], variables: set[str]) -> bool:
    """``f`` only computes on its parameters and locals (``variables``: every variable declared in
    the module, which ``f`` may read only when it declares it itself)."""
    from xpiler.passes.cleanup import PURE_FUNCTIONS
    local = {p.name for p in f.params} | {v.name for n in ir.walk(f.body) if isinstance(n, ir.Decl) for v in n.vars}
    for n in ir.walk(f.body):
        if isinstance(n, (ir.Index, ir.Verbatim, ir.RawExpr, ir.Launch, ir.Barrier)) \
                or isinstance(n, ir.UnOp) and n.op in ("*", "&") or isinstance(n, ir.Member) and n.arrow:
            return False
        if isinstance(n, ir.Decl) and any(v.dims or v.type.reference or v.type.is_pointer for v in n.vars):
            return False
        if isinstance(n, ir.Name) and n.id in variables and n.id not in local:
            return False
        if isinstance(n, ir.Call):
            intrinsic = _intrinsic(n)
            callee = strip_parens(n.func)
            name = callee.id.split("::")[-1] if isinstance(callee, ir.Name) else None
            if intrinsic is not None:
                if intrinsic.writes or any(p.type.is_pointer for p in _template_params(intrinsic)):
                    return False
            elif name not in PURE_FUNCTIONS and name not in pure and not isinstance(n.func, ir.Paren):
                return False
    return True


def _template_params(intrinsic) -> tuple:
    from xpiler.passes.detensorize import template
    return template(intrinsic.signature, intrinsic.scalar).params if intrinsic.scalar else ()


# --------------------------------------------------------------------------------------------------
# Symbolic values


@dataclass(frozen=True)
class Pointer:
    """An address: ``offset`` bytes into ``base`` (elements of the base when not ``sized``).
    ``strides`` gives the bytes per step of each remaining subscript (``float a[4][8]`` decays to
    strides ``(32, 4)``); ``offset`` None means anywhere in the base."""

    base: str | None            # None: an unknown target, which may be any base
    offset: object
    strides: tuple
    sized: bool
    private: bool = False        # the base is private to one iteration
    elem_pointer: bool = False   # the elements are pointers themselves

    def advance(self, steps) -> "Pointer":
        if self.offset is None or steps is None:
            return replace(self, offset=None)
        return replace(self, offset=self.offset + steps * self.strides[0])


@dataclass(frozen=True)
class Access:
    """One memory access of one symbolic iteration."""

    base: str | None
    lo: object                   # z3 Int, None when anywhere in the base
    hi: object                   # z3 Int, None when unbounded
    sized: bool
    write: bool
    text: str                    # the access as printed, for messages
    path: tuple                  # z3 Bool constraints under which it runs
    loops: Mapping[str, object]  # variable -> symbol of the canonical loops around it (the analysed one too)
    stmt: int                    # index of the top-level statement of the body it belongs to
    private: bool = False


@dataclass
class _Local:
    """A name declared in the body: its type and value (z3 Int, Pointer, or None: unknown at each read)."""

    type: ir.Type | None
    dims: tuple = ()
    value: object = None


class _Shared:
    """What both symbolic iterations share: invariant symbols, the types of outer names."""

    def __init__(self, constants: Mapping[str, int], env: TypeEnv | None, assigned: set[str]):
        self.constants = dict(constants)
        self.env = env
        self.assigned = assigned   # names assigned anywhere in the body (or address taken)
        self.symbols: dict[str, z3.ArithRef] = {}
        # a context of its own: in z3's one global context, what earlier queries built changes
        # whether a query near its limits is decided, so answers would depend on the history
        self.ctx = z3.Context()
        self.invariants = _Iteration(self, "outer")   # evaluates initializers of invariant integers

    def symbol(self, name: str):
        if name in self.constants:
            return z3.IntVal(int(self.constants[name]), self.ctx)
        var = self.outer(name)
        if var is not None and isinstance(var.value, int) and not isinstance(var.value, bool):
            return z3.IntVal(var.value, self.ctx)   # a constant macro
        if name not in self.symbols:
            init = getattr(self.env, "invariants", {}).get(name)
            self.symbols[name] = z3.Int(name, self.ctx)   # while its initializer is evaluated (no cycles)
            if init is not None and name not in self.assigned:
                value = self.invariants.int_term(init)
                if value is not None:
                    self.symbols[name] = value
        return self.symbols[name]

    def outer(self, name: str):
        return self.env.lookup(name) if self.env is not None else None


def _printed(e) -> str:
    from xpiler.emitters.c_printer import Printer
    return Printer("vnni").expr(e)


def _tdiv(a, b):
    """C's truncating division (z3's ``/`` rounds so that the remainder is non-negative)."""
    return z3.If(a >= 0, a / b, -((-a) / b))


# --------------------------------------------------------------------------------------------------
# One symbolic iteration


class _Iteration:
    """Walks the loop body as iteration ``tag``: per-iteration names get the suffix ``#tag``."""

    def __init__(self, shared: _Shared, tag: str):
        self.shared = shared
        self.tag = tag
        self.scopes: list[dict[str, _Local]] = [{}]
        self.path: list = []
        self.loops: dict[str, object] = {}
        self.accesses: list[Access] = []
        self.obstacles: list[str] = []
        self.scalar_writes: list[str] = []
        self.stmt = 0
        self.loop_depth = 0
        self.counter = itertools.count()
        self.display: str | None = None   # how accesses print (the intrinsic call they are part of)

    # ---- names -----------------------------------------------------------------------------------
    def fresh(self, hint: str = "v"):
        return z3.Int(f"{hint}#{self.tag}#{next(self.counter)}", self.shared.ctx)

    def lookup(self, name: str) -> _Local | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return None

    def declare(self, name: str, local: _Local) -> None:
        self.scopes[-1][name] = local

    def strides(self, type_: ir.Type | None, dims: tuple) -> tuple[tuple, bool, bool]:
        """``(strides, sized, elements are pointers)`` of an array or pointer of ``type_`` / ``dims``."""
        if type_ is None:
            return (z3.IntVal(1, self.shared.ctx),), False, False
        element = replace(type_, pointer=type_.pointer - (0 if dims else 1), reference=False) \
            if (dims or type_.pointer) else type_
        size = sizeof(element)
        sized = size is not None
        step = z3.IntVal(size, self.shared.ctx) if sized else z3.IntVal(1, self.shared.ctx)
        extents = [self.int_or_fresh(d) if d is not None else self.fresh("extent") for d in dims[1:]]
        strides = []
        for extent in reversed(extents):
            strides.append(step)
            step = step * extent
        strides.append(step)
        return tuple(reversed(strides)), sized, element.pointer > 0

    # ---- integer values ------------------------------------------------------------------------
    def int_or_fresh(self, e):
        t = self.int_term(e)
        return t if t is not None else self.fresh()

    def int_term(self, e):
        """The z3 Int value of integer expression ``e``, or None when it is not an integer we model."""
        e = strip_parens(e)
        if isinstance(e, ir.Const):
            if isinstance(e.value, bool):
                return z3.IntVal(int(e.value), self.shared.ctx)
            return z3.IntVal(e.value, self.shared.ctx) if isinstance(e.value, int) else None
        if isinstance(e, ir.Name):
            local = self.lookup(e.id)
            if local is not None:
                if isinstance(local.value, z3.ArithRef):
                    return local.value
                if local.dims or isinstance(local.value, Pointer) or not _maybe_integer(local.type):
                    return None
                return self.fresh(e.id)
            if e.id in self.shared.constants:
                return self.shared.symbol(e.id)
            var = self.shared.outer(e.id)
            if var is not None and (var.dims or not _maybe_integer(var.type)):
                return None
            # an outer scalar the loop assigns changes between reads
            return self.fresh(e.id) if e.id in self.shared.assigned else self.shared.symbol(e.id)
        if isinstance(e, ir.Builtin):
            return self.shared.symbol(e.name + (f".{e.axis}" if e.axis else ""))
        if isinstance(e, ir.Member) and not e.arrow and isinstance(strip_parens(e.base), ir.Name):
            owner = strip_parens(e.base).id
            if self.lookup(owner) is not None:
                return self.fresh(owner)
            return self.shared.symbol(f"{owner}.{e.field_name}")
        if isinstance(e, ir.BinOp):
            return self.int_binop(e)
        if isinstance(e, ir.UnOp) and not e.postfix:
            if e.op in ("-", "+"):
                inner = self.int_term(e.operand)
                return None if inner is None else (-inner if e.op == "-" else inner)
            if e.op == "!":
                b = self.condition(e, True)
                return z3.If(b, 1, 0) if b is not None else None
            return None
        if isinstance(e, ir.Cast):
            if e.type.is_pointer or is_floating(e.type):
                return None
            inner = self.int_term(e.operand)
            return inner if inner is not None else self.fresh()
        if isinstance(e, ir.SizeOf):
            size = sizeof(e.type) if e.type is not None else None
            return z3.IntVal(size, self.shared.ctx) if size is not None else None
        if isinstance(e, ir.Ternary):
            c, a, b = self.condition(e.cond, True), self.int_term(e.then), self.int_term(e.other)
            return z3.If(c, a, b) if c is not None and a is not None and b is not None else None
        if isinstance(e, ir.Call) and isinstance(e.func, ir.Paren) and len(e.args) == 1:
            return self.int_term(e.args[0])   # `(__mmask16)(x)`: a conversion parsed as a call
        return None

    def int_binop(self, e: ir.BinOp):
        if e.op in ("<", "<=", ">", ">=", "==", "!=", "&&", "||"):
            b = self.condition(e, True)
            return z3.If(b, 1, 0) if b is not None else None
        a, b = self.int_term(e.left), self.int_term(e.right)
        if a is None or b is None:
            return None
        if e.op == "+":
            return a + b
        if e.op == "-":
            return a - b
        if e.op == "*":
            return a * b
        if e.op == "/":
            return _tdiv(a, b)
        if e.op == "%":
            return a - b * _tdiv(a, b)
        shift, value = _constant(b), _constant(a)
        if e.op == "<<" and shift is not None and 0 <= shift < 63:
            return a * (1 << shift)
        if e.op == ">>" and shift is not None and 0 <= shift < 63:
            return a / (1 << shift)   # an arithmetic shift rounds down, as z3's division by a positive
        if e.op in ("<<", ">>") and value is not None and 0 <= value < 2 ** 32:
            # a constant shifted by a variable amount (``1u << n``, mask bits ``(k >> i) & 1`` of a
            # constant mask): one case per amount keeps the query linear
            result = z3.IntVal(0, self.shared.ctx)
            for amount in reversed(range(32 if e.op == "<<" else value.bit_length())):
                result = z3.If(b == amount, value << amount if e.op == "<<" else value >> amount, result)
            return result
        if e.op == "&" and shift is not None and shift > 0 and shift & (shift + 1) == 0:
            return a % (shift + 1)    # two's complement: a & (2^k - 1) == a mod 2^k
        return None

    def condition(self, e, positive: bool):
        """A z3 Bool implied by ``e`` being true (``positive``) or false, or None when nothing is known.
        Over-approximates: the constraint may hold where ``e`` does not, never the reverse."""
        e = strip_parens(e)
        if isinstance(e, ir.UnOp) and e.op == "!" and not e.postfix:
            return self.condition(e.operand, not positive)
        if isinstance(e, ir.BinOp) and e.op in ("&&", "||"):
            a, b = self.condition(e.left, positive), self.condition(e.right, positive)
            if (e.op == "&&") == positive:   # a conjunction: what is known of either part holds
                known = [c for c in (a, b) if c is not None]
                return z3.And(*known) if known else None
            return z3.Or(a, b) if a is not None and b is not None else None
        if isinstance(e, ir.BinOp) and e.op in ("<", "<=", ">", ">=", "==", "!="):
            if _is_float_expr(e.left) or _is_float_expr(e.right):
                return None
            a, b = self.int_term(e.left), self.int_term(e.right)
            if a is None or b is None:
                return None
            c = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}[e.op]
            return c if positive else z3.Not(c)
        value = self.int_term(e)
        if value is None:
            return None
        return value != 0 if positive else value == 0

    # ---- addresses -----------------------------------------------------------------------------
    def pointer(self, e, assume: bool = True) -> Pointer | None:
        """The address ``e`` denotes when it is a pointer or an array, else None. A name of unknown
        type is taken for a pointer when ``assume`` (it is indexed or dereferenced)."""
        e = strip_parens(e)
        if isinstance(e, ir.Name):
            local = self.lookup(e.id)
            if local is not None:
                if isinstance(local.value, Pointer):
                    return local.value
                if local.type is not None and local.type.is_pointer:
                    strides, sized, elem_pointer = self.strides(local.type, ())
                    return Pointer(None, None, strides, sized, elem_pointer=elem_pointer)
                return None
            var = self.shared.outer(e.id)
            if var is not None:
                if not (var.dims or var.type.is_pointer):
                    return None
                strides, sized, elem_pointer = self.strides(var.type, var.dims)
                # a pointer the loop reassigns points anywhere
                base = None if e.id in self.shared.assigned and not var.dims else e.id
                return Pointer(base, z3.IntVal(0, self.shared.ctx) if base else None, strides, sized, elem_pointer=elem_pointer)
            if not assume:
                return None
            # untyped: compared in elements with the other accesses of the base
            base = None if e.id in self.shared.assigned else e.id
            return Pointer(base, z3.IntVal(0, self.shared.ctx) if base else None, (z3.IntVal(1, self.shared.ctx),), False)
        if isinstance(e, ir.BinOp) and e.op in ("+", "-"):
            p = self.pointer(e.left, False)
            if p is None and e.op == "+":
                p = self.pointer(e.right, False)
                if p is not None:
                    return p.advance(self.int_term(e.left))
            if p is None and assume:   # C's convention: pointer + offset
                p = self.pointer(e.left)
            if p is None:
                return None
            steps = self.int_term(e.right)
            return p.advance(None if steps is None else (steps if e.op == "+" else -steps))
        if isinstance(e, ir.Cast):
            p = self.pointer(e.operand)
            if p is None or not e.type.is_pointer:
                return None
            if e.type.base == "void" and e.type.pointer == 1:
                return p
            strides, sized, elem_pointer = self.strides(e.type, ())
            if p.sized and sized:   # offsets are bytes: a view through another type keeps them
                return Pointer(p.base, p.offset, strides, True, p.private, elem_pointer)
            if not p.sized and not sized:
                return p
            # elements of an unknown size seen through a sized type: anywhere in the base
            return Pointer(p.base, None, strides, sized, p.private, elem_pointer)
        if isinstance(e, ir.UnOp) and e.op == "&" and not e.postfix:
            target = strip_parens(e.operand)
            if isinstance(target, ir.Index):
                p = self.pointer(target.base)
                if p is None:
                    return None
                q = p.advance(self.int_term(target.index))
                return replace(q, strides=q.strides[1:]) if len(q.strides) > 1 else q
            if isinstance(target, ir.Name):
                local = self.lookup(target.id)
                size = sizeof(local.type if local is not None else None)
                return Pointer(target.id, z3.IntVal(0, self.shared.ctx), (z3.IntVal(size or 1, self.shared.ctx),), size is not None,
                               private=local is not None)
            return None
        if isinstance(e, ir.Index):
            p = self.pointer(e.base)
            if p is not None and len(p.strides) > 1:   # a row of a multi-dimensional array
                q = p.advance(self.int_term(e.index))
                return replace(q, strides=q.strides[1:])
            if p is not None and p.elem_pointer:
                return Pointer(None, None, (z3.IntVal(1, self.shared.ctx),), False)
            return None
        if isinstance(e, ir.Ternary):
            a, b = self.pointer(e.then), self.pointer(e.other)
            if a is not None and b is not None:
                return Pointer(a.base if a.base == b.base else None, None, a.strides, a.sized and b.sized)
            return None
        return None

    def location(self, e) -> tuple[Pointer, object] | None:
        """``(address, size)`` of the memory lvalue ``e`` (``a[i]``, ``*p``), or None."""
        e = strip_parens(e)
        if isinstance(e, ir.Index):
            p = self.pointer(e.base)
            if p is None or len(p.strides) > 1:   # not a pointer, or a row of an array
                return None
            return p.advance(self.int_term(e.index)), p.strides[0]
        if isinstance(e, ir.UnOp) and e.op == "*" and not e.postfix:
            p = self.pointer(e.operand)
            if p is None:
                return None
            return p, p.strides[0]
        if isinstance(e, ir.Member) and e.arrow:   # somewhere in the structure it points to
            p = self.pointer(e.base) or Pointer(None, None, (z3.IntVal(1, self.shared.ctx),), False)
            return replace(p, offset=None), None
        if isinstance(e, ir.Member):   # a field of an element in memory: the whole element
            return self.location(e.base)
        return None

    # ---- accesses ------------------------------------------------------------------------------
    def record(self, where: Pointer, size, write: bool, node) -> None:
        lo = where.offset
        hi = None if lo is None or size is None else lo + size
        text = self.display or _printed(node)
        self.accesses.append(Access(where.base, lo, hi, where.sized, write, text, tuple(self.path),
                                    dict(self.loops), self.stmt, where.private))

    def expr(self, e) -> None:
        """Record the accesses evaluating ``e`` performs."""
        e = strip_parens(e)
        if isinstance(e, ir.Assign):
            self.expr(e.value)
            self.store(e.target, compound=e.op != "=")
        elif isinstance(e, ir.UnOp) and e.op in ("++", "--"):
            self.store(e.operand, compound=True)
        elif isinstance(e, ir.UnOp) and e.op == "&" and not e.postfix:
            self.address(e.operand)
        elif isinstance(e, (ir.Index, ir.UnOp)) and self.location(e) is not None:
            where, size = self.location(e)
            self.address(e)
            self.record(where, size, False, e)
        elif self.is_row(e):
            self.address(e)   # address arithmetic only
        elif isinstance(e, ir.Member) and e.arrow:
            where, size = self.location(e)
            self.expr(e.base)
            self.record(where, size, False, e)
        elif isinstance(e, ir.Name):
            self.read_scalar(e.id, e)
        elif isinstance(e, ir.Member) and isinstance(strip_parens(e.base), ir.Name):
            self.read_scalar(strip_parens(e.base).id, e)
        elif isinstance(e, ir.Call):
            self.call(e)
        elif isinstance(e, ir.Ternary):
            self.expr(e.cond)
            self.guarded(self.condition(e.cond, True), lambda: self.expr(e.then))
            self.guarded(self.condition(e.cond, False), lambda: self.expr(e.other))
        elif isinstance(e, (ir.Launch, ir.RawExpr)):
            self.obstacles.append(f"contains {_printed(e) if isinstance(e, ir.Launch) else e.text}, "
                                  "which the analysis does not model")
        else:
            for child in ir.children(e):
                if isinstance(child, ir.Expr):
                    self.expr(child)

    def address(self, e) -> None:
        """Record the reads computing the address of lvalue ``e`` (its subscripts, loaded pointers)."""
        e = strip_parens(e)
        if isinstance(e, ir.Index):
            base = strip_parens(e.base)
            if self.is_row(base):
                self.address(base)
            else:
                self.pointer_operand(base)
            self.expr(e.index)
        elif isinstance(e, ir.UnOp) and e.op == "*":
            self.pointer_operand(e.operand)
        elif isinstance(e, ir.Member):
            self.expr(e.base) if e.arrow else self.address(e.base)

    def is_row(self, e) -> bool:
        """``a[i]`` of a multi-dimensional array ``a``: an address, not a load."""
        if not isinstance(e, ir.Index):
            return False
        p = self.pointer(e.base)
        return p is not None and len(p.strides) > 1

    def pointer_operand(self, e) -> None:
        """Reads of a pointer-valued expression: its integer parts and loaded pointers, not the base."""
        e = strip_parens(e)
        if isinstance(e, ir.Name):
            self.read_scalar(e.id, e)   # the pointer variable itself
            return
        if isinstance(e, (ir.BinOp, ir.Cast)):
            for child in ir.children(e):
                if isinstance(child, ir.Expr):
                    self.pointer_operand(child) if self.pointer(child) is not None else self.expr(child)
            return
        self.expr(e)

    def read_scalar(self, name: str, node) -> None:
        """Outer scalars written somewhere in the loop are locations too (fission must order them)."""
        if self.lookup(name) is None and name in self.shared.assigned:
            self.record(Pointer(name, z3.IntVal(0, self.shared.ctx), (z3.IntVal(1, self.shared.ctx),), False), z3.IntVal(1, self.shared.ctx), False, node)

    def store(self, target, compound: bool) -> None:
        t = strip_parens(target)
        owner = t
        while isinstance(owner, ir.Member) and not owner.arrow:
            owner = strip_parens(owner.base)
        if isinstance(owner, ir.Name):
            if self.lookup(owner.id) is None:
                if owner.id not in self.scalar_writes:
                    self.scalar_writes.append(owner.id)
                where = Pointer(owner.id, z3.IntVal(0, self.shared.ctx), (z3.IntVal(1, self.shared.ctx),), False)
                if compound:
                    self.record(where, z3.IntVal(1, self.shared.ctx), False, t)
                self.record(where, z3.IntVal(1, self.shared.ctx), True, t)
            return
        found = self.location(t)
        if found is None:
            self.expr(t)
            return
        where, size = found
        self.address(t)
        if compound:
            self.record(where, size, False, t)
        self.record(where, size, True, t)

    def call(self, c: ir.Call) -> None:
        name = c.func.id if isinstance(c.func, ir.Name) else _printed(c.func)
        short = name.split("::")[-1]
        if short in _RANGE_CALLS and len(c.args) == 3:
            dst, src, count = _RANGE_CALLS[short]
            size = self.int_term(c.args[count])
            self.expr(c.args[count])
            for index, write in ((src, False), (dst, True)):
                if index is None:
                    continue
                arg = c.args[index]
                p = self.pointer(arg)
                self.pointer_operand(arg)
                if p is None:
                    self.obstacles.append(f"calls {short} on {_printed(arg)}, whose target is not known")
                    continue
                if not p.sized:   # the count is in bytes, the offset in elements of an unknown size
                    p = replace(p, offset=None)
                self.record(p, size, write, c)
            if short == "memset":
                self.expr(c.args[1])
            return
        intrinsic = _intrinsic(c)
        if intrinsic is not None and intrinsic.kind not in _PURE_INTRINSIC_KINDS:
            if intrinsic.scalar is None:
                self.obstacles.append(f"calls intrinsic {name}, which has no scalar description")
            else:
                self.description(c, intrinsic)
            return
        if intrinsic is None and not _is_pure_function(c, short) \
                and short not in getattr(self.shared.env, "pure_functions", ()):
            self.obstacles.append(f"calls unknown function {name}")
        for arg in c.args:
            self.expr(arg)
            where = self.pointer(arg, assume=False)
            if where is not None and not where.private:   # a pure helper may read what it points to
                self.record(replace(where, offset=None), None, False, c)

    def description(self, c: ir.Call, intrinsic) -> None:
        """The accesses of an intrinsic call are those of its scalar description (the registry's C
        loop nest over its parameters), with the parameters bound to the arguments: pointers to the
        addresses they denote, vector and fragment values to private storage, scalars to their values.
        Accesses are reported as the call."""
        from xpiler.intrinsics import REGISTRY
        from xpiler.passes.detensorize import template
        from .types import fragment_info, vector_info

        spelling = REGISTRY.spelling_of(intrinsic, c.func.id, len(c.args)) if isinstance(c.func, ir.Name) else None
        bound = dict(zip(spelling.order if spelling else intrinsic.params, c.args))
        scope: dict[str, _Local] = {"r": _Local(None, (), self.private_storage("r"))}   # a vector result
        for param in template(intrinsic.signature, intrinsic.scalar).params:
            arg = bound.get(param.name)
            if arg is not None:
                self.pointer_operand(arg) if param.type.is_pointer else self.expr(arg)
            if param.type.is_pointer and arg is not None:
                where = self.pointer(arg)
                if where is not None and where.sized and sizeof(param.type.pointee()) is not None:
                    strides, _, elem_pointer = self.strides(param.type, ())
                    where = replace(where, strides=strides, elem_pointer=elem_pointer)
                scope[param.name] = _Local(param.type, (), where)
            elif param.type.reference or vector_info(param.type) or fragment_info(param.type):
                if arg is not None and param.name in intrinsic.writes:
                    self.store(arg, compound=True)   # a value argument the intrinsic updates in place
                scope[param.name] = _Local(param.type, (), self.private_storage(param.name))
            else:
                value = self.int_term(arg) if arg is not None and _maybe_integer(param.type) else None
                scope[param.name] = _Local(param.type, (), value)
        saved, self.display = self.display, _printed(c)
        self.scopes.append(scope)
        self.loop_depth += 1   # the description's own loops and returns stay inside it
        for statement in template(intrinsic.signature, intrinsic.scalar).body:
            if not isinstance(statement, ir.Return):
                self.statement(statement)
            elif statement.value is not None:
                self.expr(statement.value)
        self.loop_depth -= 1
        self.scopes.pop()
        self.display = saved

    def private_storage(self, name: str) -> Pointer:
        return Pointer(f"{name}#{self.tag}#{next(self.counter)}", z3.IntVal(0, self.shared.ctx), (z3.IntVal(1, self.shared.ctx),), False, private=True)

    def guarded(self, condition, walk: Callable[[], None]) -> None:
        if condition is not None:
            self.path.append(condition)
        try:
            walk()
        finally:
            if condition is not None:
                self.path.pop()

    # ---- statements ----------------------------------------------------------------------------
    def body(self, stmts) -> None:
        self.scopes.append({})
        for s in stmts:
            self.statement(s)
        self.scopes.pop()

    def statement(self, s) -> None:
        if isinstance(s, ir.Block):
            self.body(s.body)
        elif isinstance(s, ir.Decl):
            self.decl(s)
        elif isinstance(s, ir.ExprStmt):
            self.expr(s.expr)
        elif isinstance(s, ir.If):
            self.expr(s.cond)
            self.guarded(self.condition(s.cond, True), lambda: self.statement(s.then))
            if s.other is not None:
                self.guarded(self.condition(s.cond, False), lambda: self.statement(s.other))
        elif isinstance(s, ir.For):
            self.for_(s)
        elif isinstance(s, ir.While):
            self.expr(s.cond)
            self.loop_depth += 1
            self.statement(s.body)
            self.loop_depth -= 1
        elif isinstance(s, ir.Return):
            self.obstacles.append("returns from inside the loop")
        elif isinstance(s, ir.Jump):
            if s.kind == "break" and self.loop_depth == 0:
                self.obstacles.append("breaks out of the loop")
        elif isinstance(s, ir.Barrier):
            self.obstacles.append(f"synchronises ({s.spelling})")
        elif isinstance(s, ir.Verbatim):
            self.obstacles.append(f"contains source the IR does not model ({s.reason})")
        elif isinstance(s, (ir.Pragma, ir.Comment)):
            pass
        else:
            self.obstacles.append(f"contains a {type(s).__name__} statement")

    def decl(self, d: ir.Decl) -> None:
        for v in d.vars:
            if v.init is not None:
                self.expr(v.init)
            for arg in v.ctor_args or ():
                self.expr(arg)
            if v.type.reference:
                self.obstacles.append(f"binds the reference `{v.name}`")
            self.declare(v.name, self.local_value(v))

    def local_value(self, v: ir.Declarator) -> _Local:
        local = _Local(v.type, v.dims)
        if v.dims:
            strides, sized, elem_pointer = self.strides(v.type, v.dims)
            local.value = Pointer(f"{v.name}#{self.tag}", z3.IntVal(0, self.shared.ctx), strides, sized, private=True,
                                  elem_pointer=elem_pointer)
        elif v.init is not None and v.name not in self.shared.assigned and not isinstance(v.init, ir.InitList):
            if v.type.is_pointer:
                local.value = self.pointer(v.init)
            elif _maybe_integer(v.type):
                local.value = self.int_term(v.init)
        elif not v.type.is_pointer and (sizeof(v.type) or 0) > 8:
            # a vector or struct value: private storage that may be indexed (``__m512 v; v[i]``)
            local.value = Pointer(f"{v.name}#{self.tag}", z3.IntVal(0, self.shared.ctx), (z3.IntVal(1, self.shared.ctx),), False, private=True)
        return local

    def bounds(self, symbol, start, stop, step) -> list:
        """Constraints on the variable of a canonical loop: ``start + t * step`` for some ``t >= 0``,
        below ``stop`` (a loop that terminates has a positive step)."""
        lower, upper, stride = self.int_or_fresh(start), self.int_or_fresh(stop), self.int_or_fresh(step)
        constraints = [symbol >= lower, symbol < upper]
        step_value = _constant(stride)
        if step_value is None:   # e.g. a grid-stride loop: linear once the launch is known
            trips = self.fresh("t")
            constraints += [stride > 0, trips >= 0, symbol == lower + trips * stride]
        elif step_value > 1:
            constraints.append((symbol - lower) % step_value == 0)
        return constraints

    def for_(self, s: ir.For) -> None:
        self.scopes.append({})
        if s.init is not None:
            self.statement(s.init)
        canonical = s.canonical()
        bounded = canonical is not None and canonical[0] not in _assigned(s.body)
        if bounded:
            var, start, stop, step = canonical
            symbol = z3.Int(f"{var}#{self.tag}#{next(self.counter)}", self.shared.ctx)
            constraints = self.bounds(symbol, start, stop, step)
            self.scopes.append({var: _Local(ir.Type("int"), (), symbol)})
            self.expr(s.cond)
            outer_loop = self.loops.get(var)   # a description's `i` inside the program's `i`
            self.loops[var] = symbol
            self.path.extend(constraints)
        else:
            if s.cond is not None:
                self.expr(s.cond)
            if s.step is not None:
                self.expr(s.step)
        self.loop_depth += 1
        self.statement(s.body)
        self.loop_depth -= 1
        if bounded:
            del self.path[-len(constraints):]
            if outer_loop is None:
                del self.loops[var]
            else:
                self.loops[var] = outer_loop
            self.scopes.pop()
        self.scopes.pop()


def _intrinsic(c: ir.Call):
    from xpiler.intrinsics import REGISTRY
    return REGISTRY[c.intrinsic] if c.intrinsic is not None and c.intrinsic in REGISTRY else None


def _is_pure_function(c: ir.Call, short: str) -> bool:
    from xpiler.passes.cleanup import PURE_FUNCTIONS
    func = strip_parens(c.func)
    # `(__mmask16)(x)` parses as a call of a parenthesised type name: a conversion
    return short in PURE_FUNCTIONS or (isinstance(c.func, ir.Paren) and isinstance(func, ir.Name))


def _maybe_integer(t: ir.Type | None) -> bool:
    return t is None or is_integer(t) or t.base in ("auto",)


def _is_float_expr(e) -> bool:
    e = strip_parens(e)
    return isinstance(e, ir.Const) and isinstance(e.value, float)


def _constant(term):
    if term is None:
        return None
    term = z3.simplify(term)
    return term.as_long() if z3.is_int_value(term) else None


def _assigned(node) -> set[str]:
    from xpiler.passes.cleanup import assigned_names
    return assigned_names(node)


# --------------------------------------------------------------------------------------------------
# Queries over two iterations


class LoopAccesses:
    """The accesses of two symbolic iterations of ``loop`` (instances 1 and 2) and dependence queries
    over them. ``var`` is the loop variable; :attr:`first` and :attr:`second` the two iterations."""

    def __init__(self, loop: ir.For, *, constants: Mapping[str, int] = {}, env: TypeEnv | None = None):
        canonical = loop.canonical()
        if canonical is None:
            raise Obstacle("the loop is not canonical (for (v = a; v < b; v += s))")
        self.loop = loop
        self.var, start, stop, step = canonical
        if self.var in _assigned(loop.body):
            raise Obstacle(f"assigns the loop variable `{self.var}` in its body")
        shared = _Shared(constants, env, _assigned(loop.body))
        self.shared = shared
        self.first, self.second = (self._iteration(shared, tag, start, stop, step) for tag in ("1", "2"))
        self.scalar_writes = self.first.scalar_writes

    def _iteration(self, shared: _Shared, tag: str, start, stop, step) -> _Iteration:
        it = _Iteration(shared, tag)
        symbol = z3.Int(f"{self.var}#{tag}", shared.ctx)
        it.path = it.bounds(symbol, start, stop, step)
        it.loops[self.var] = symbol
        it.scopes.append({self.var: _Local(ir.Type("int"), (), symbol)})
        body = loop_body(self.loop)
        for index, s in enumerate(body):
            it.stmt = index
            it.statement(s)
        return it

    def check_structure(self) -> None:
        """Raise :class:`Obstacle` for control flow and calls that forbid any reordering."""
        if self.first.obstacles:
            raise Obstacle(self.first.obstacles[0])

    def conflict(self, relation: Callable[[Mapping, Mapping], object],
                 pairs: Callable[[Access, Access], bool] = lambda a, b: True, *,
                 delinearize: bool = False) -> "Conflict | None":
        """The first pair (access of iteration 1, access of iteration 2), at least one a write, that
        can touch a common location while ``relation(loops1, loops2)`` holds (a z3 Bool over the loop
        symbols of the two accesses); only pairs ``pairs`` accepts are asked (an undecided pair again
        digit by digit when ``delinearize``). Raises :class:`Obstacle` when the solver cannot decide
        a pair."""
        for a, b in itertools.product(self.first.accesses, self.second.accesses):
            if not (a.write or b.write) or a.private or b.private or not pairs(a, b):
                continue
            if a.base is not None and b.base is not None and a.base != b.base:
                continue
            overlap = _overlap(a, b, self.shared.ctx)
            constraints = (*a.path, *b.path, relation(a.loops, b.loops), overlap)
            solver = _limited(z3.Solver(ctx=self.shared.ctx))
            solver.add(*constraints)
            result = solver.check()
            if result == z3.unknown and delinearize:
                # the offsets as mixed radices, compared digit by digit (a query z3 decides more often)
                digits = _delinearized_overlap(a, b, self.shared.ctx)
                if digits is not None:
                    constraints = (*a.path, *b.path, relation(a.loops, b.loops), digits)
                    solver = _limited(z3.Solver(ctx=self.shared.ctx))
                    solver.add(*constraints)
                    result = solver.check()
            if result == z3.sat:
                model = _smallest(constraints, [*a.loops.values(), *b.loops.values()]) or solver.model()
                return Conflict(a, b, _values(model, a.loops), _values(model, b.loops))
            if result == z3.unknown:
                raise Obstacle(describe(a, b, undecided=True))
        return None


@dataclass(frozen=True)
class Conflict:
    """Two accesses of two iterations that touch a common location, and the values of the loop
    variables around each in one such pair of iterations (a witness)."""

    first: Access
    second: Access
    first_at: Mapping[str, int]
    second_at: Mapping[str, int]


def _smallest(constraints, variables):
    """A model with the lexicographically smallest ``variables`` (a witness that does not depend on
    the solver's search), or None when the optimiser cannot find it in time."""
    optimizer = _limited(z3.Optimize(ctx=constraints[0].ctx))
    optimizer.add(*constraints)
    for v in variables:
        optimizer.minimize(v)
    return optimizer.model() if optimizer.check() == z3.sat else None


def _limited(solver):
    solver.set("rlimit", QUERY_RLIMIT)
    solver.set("timeout", QUERY_TIMEOUT_MS)
    return solver


def _values(model, loops: Mapping[str, object]) -> dict[str, int]:
    return {var: model.eval(symbol, model_completion=True).as_long() for var, symbol in loops.items()}


def _overlap(a: Access, b: Access, ctx):
    """z3: the two accesses touch a common location (assumed when their units differ or are unknown)."""
    if a.base is None or b.base is None or a.sized != b.sized or a.lo is None or b.lo is None:
        return z3.BoolVal(True, ctx)
    terms = [] if b.hi is None else [a.lo < b.hi]
    terms += [] if a.hi is None else [b.lo < a.hi]
    return z3.And(*terms) if terms else z3.BoolVal(True, ctx)


# --------------------------------------------------------------------------------------------------
# Delinearization: ``C[(b * M + m0 + s) * N + n0 + i]`` with ``0 <= n0 + i < N`` on both sides is the
# same element only when rows and columns are: ``R1 * N + c1 == R2 * N + c2`` with both ``c`` in
# ``[0, N)`` means ``R1 == R2`` and ``c1 == c2``. Products of parameters make the plain query
# nonlinear, and z3 often gives up on it; the digits are simpler questions.


def _delinearized_overlap(a: Access, b: Access, ctx):
    """A z3 Bool equivalent (under the accesses' paths) to ``a`` and ``b`` overlapping, as equalities
    of digits, or None when the accesses are not two elements of one size at offsets that split."""
    if a.base is None or a.base != b.base or a.sized != b.sized or None in (a.lo, a.hi, b.lo, b.hi):
        return None
    size = _constant(a.hi - a.lo)
    if size is None or size <= 0 or _constant(b.hi - b.lo) != size:
        return None
    digits = _Digits(ctx)
    first, second = digits.polynomial(a.lo), digits.polynomial(b.lo)
    if any(c % size for c in (*first.values(), *second.values())):
        return None   # not both multiples of the element size: elements may overlap partly
    first = {m: c // size for m, c in first.items()}
    second = {m: c // size for m, c in second.items()}
    equalities = digits.equal(first, second, a.path, b.path)
    return z3.And(*equalities) if len(equalities) > 1 else None


def _factors(term) -> list:
    """The factors of a product, nested products flattened (``20 * (N * m)``: 20, N, m)."""
    return [f for child in term.children() for f in _factors(child)] if z3.is_mul(term) else [term]


class _Digits:
    """Offsets as polynomials ``{monomial: coefficient}`` (a monomial: the sorted texts of its
    factors, which :attr:`factors` maps back to z3 terms) and their comparison digit by digit."""

    MAX_DEPTH = 4

    def __init__(self, ctx):
        self.ctx = ctx
        self.factors: dict[str, object] = {}

    def polynomial(self, t) -> dict:
        t = z3.simplify(t, som=True)
        poly: dict = {}
        for term in (t.children() if z3.is_add(t) else [t]):
            coefficient, factors = 1, []
            for f in _factors(term):
                value = _constant(f)
                if value is not None:
                    coefficient *= value
                else:
                    factors.append(f)
            texts = sorted(f.sexpr() for f in factors)
            self.factors.update((f.sexpr(), f) for f in factors)
            poly[tuple(texts)] = poly.get(tuple(texts), 0) + coefficient
        return {m: c for m, c in poly.items() if c}

    def equal(self, first: dict, second: dict, path1, path2, depth: int = 0) -> list:
        """Equalities equivalent to ``first == second``: split by a stride ``S`` (a parameter, or a
        constant coefficient) when both are ``R * S + c`` with ``0 <= c < S`` proved under their
        paths, recursively."""
        if depth < self.MAX_DEPTH:
            for stride in self.strides(first, second):
                (r1, c1), (r2, c2) = self.split(first, stride), self.split(second, stride)
                if r1 and r2 and self.in_digit(c1, stride, path1) and self.in_digit(c2, stride, path2):
                    return self.equal(r1, r2, path1, path2, depth + 1) + \
                        self.equal(c1, c2, path1, path2, depth + 1)
        return [self.term(first) == self.term(second)]

    def strides(self, first: dict, second: dict) -> list:
        """Invariant symbols that are factors (names without an iteration tag), then constant
        coefficients above 1, largest first."""
        symbols, numbers = [], set()
        for poly in (first, second):
            for monomial, coefficient in poly.items():
                symbols += [t for t in monomial if z3.is_const(self.factors[t]) and "#" not in t
                            and t not in symbols]
                if monomial and abs(coefficient) > 1:
                    numbers.add(abs(coefficient))
        return symbols + sorted(numbers, reverse=True)

    @staticmethod
    def split(poly: dict, stride) -> tuple[dict, dict]:
        """``(R, c)`` with ``poly == R * stride + c``: ``R`` from the monomials with the stride as
        a factor (or a coefficient it divides)."""
        high, low = {}, {}
        for monomial, coefficient in poly.items():
            if isinstance(stride, str) and stride in monomial:
                rest = list(monomial)
                rest.remove(stride)
                high[tuple(rest)] = high.get(tuple(rest), 0) + coefficient
            elif isinstance(stride, int) and coefficient % stride == 0:
                high[monomial] = high.get(monomial, 0) + coefficient // stride
            else:
                low[monomial] = low.get(monomial, 0) + coefficient
        return high, low

    def in_digit(self, poly: dict, stride, path) -> bool:
        """``0 <= poly < stride`` on every run of ``path`` (proved by z3)."""
        bound = self.factors[stride] if isinstance(stride, str) else z3.IntVal(stride, self.ctx)
        value = self.term(poly)
        solver = _limited(z3.Solver(ctx=self.ctx))
        solver.add(*path, z3.Or(value < 0, value >= bound))
        return solver.check() == z3.unsat

    def term(self, poly: dict):
        total = z3.IntVal(0, self.ctx)
        for monomial, coefficient in poly.items():
            product = z3.IntVal(coefficient, self.ctx)
            for text in monomial:
                product = product * self.factors[text]
            total = total + product
        return total


def loop_body(loop: ir.For) -> tuple:
    """The statements of a loop's body (a single statement is a body of one)."""
    return loop.body.body if isinstance(loop.body, ir.Block) else (loop.body,)
