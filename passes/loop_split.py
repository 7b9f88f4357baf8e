"""Loop split (``loop-split{loop=i factor=16}``): one loop becomes an outer loop over chunks of
``factor`` iterations and an inner loop over the iterations of a chunk (TVM's ``split``)::

    for (int i = a; i < b; i += s) body(i)
    ->
    for (int i_outer = 0; i_outer < (n + factor - 1) / factor; ++i_outer)
      for (int i_inner = 0; i_inner < factor; ++i_inner)
        if (a + (i_outer * factor + i_inner) * s < b)        // only when n % factor may be non-zero
          body(a + (i_outer * factor + i_inner) * s)

where ``n = (b - a + s - 1) / s`` is the trip count. The original variable is substituted in the
body, so the new nest is perfect (what ``loop-reorder`` needs to tile). A partial last chunk is
handled by the guard rather than by a separate tail loop: one body, and a guard that a target can
turn into a mask or a predicate; the guard is left out when the trip count is a known multiple of
the factor. Splitting never changes the order of iterations, so it is always legal for a canonical
loop whose variable the body does not assign.

This module also holds what all the loop passes share: selecting a loop by its variable (``loop=i``,
optionally ``function=f`` and ``nth=k`` for the k-th such loop), replacing it in the module, trip
counts, substitution and fresh names.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import ClassVar, Iterator

from xpiler import ir
from xpiler.ir.analysis import omp_collapse, strip_parens
from xpiler.ir.dependence import LoopEnv, function_env, integer_value

from .base import ModulePass, PassError
from .cleanup import assigned_names, names_in
from .constant_fold import int_value
from .registry import register

SPLIT_FACTORS = (4, 8, 16, 32, 64, 128)


# --------------------------------------------------------------------------------------------------
# Selecting loops (shared by the loop passes)


@dataclass(frozen=True)
class LoopSite:
    """A canonical loop of a module: where it is and what it iterates over."""

    module: ir.Module
    function: ir.Function
    loop: ir.For
    index: int          # position among the For nodes of the module, in walk order (identifies it)
    var: str
    start: ir.Expr
    stop: ir.Expr
    step: ir.Expr
    loops: "_ModuleLoops" = field(compare=False, repr=False)

    @property
    def env(self) -> LoopEnv:
        return self.loops.env(self.function)

    def value(self, expr) -> int | None:
        """The value of ``expr`` when it is a constant in the loop's function."""
        return integer_value(expr, env=self.env)

    def var_type(self) -> ir.Type:
        init = self.loop.init
        return init.vars[0].type if isinstance(init, ir.Decl) else ir.Type("int")

    def replace(self, *stmts: ir.Stmt, remove: ir.For | None = None) -> ir.Module:
        """The module with this loop replaced by ``stmts`` (and the loop ``remove`` of the same
        function removed)."""
        removed = None
        if remove is not None:
            removed = next(s.index for s in loop_sites(self.module) if s.loop is remove)
        return replace_loop(self.module, self.index, stmts, removed)

    def following(self) -> tuple[ir.Block, int] | None:
        """``(block, position)`` of the loop in the block that contains it directly."""
        return _parent_block(self.function.body, self.loop)

    def names(self) -> set[str]:
        """Every name the module uses (new names must avoid them)."""
        return names_in(self.module)


class _ModuleLoops:
    """The canonical loops of one module and the type environments of its functions, each computed
    once (schedule spaces and parameter lookups ask for them many times)."""

    def __init__(self, module: ir.Module):
        self.module = module
        self.envs: dict[str, LoopEnv] = {}
        position = {id(n): k for k, n in enumerate(n for n in ir.walk(module) if isinstance(n, ir.For))}
        self.sites = []
        for fn in module.functions():
            if fn.body is None:
                continue
            for n in ir.walk(fn.body):
                if isinstance(n, ir.For) and n.canonical() is not None:
                    var, start, stop, step = n.canonical()
                    self.sites.append(LoopSite(module, fn, n, position[id(n)], var, start, stop, step, self))

    def env(self, function: ir.Function) -> LoopEnv:
        if function.name not in self.envs:
            self.envs[function.name] = function_env(self.module, function)
        return self.envs[function.name]


# The last few modules asked about (by identity: modules are immutable and kept alive here).
_RECENT: OrderedDict[int, _ModuleLoops] = OrderedDict()


def loop_sites(module: ir.Module) -> list[LoopSite]:
    """Every canonical loop of every function with a body, in source order."""
    found = _RECENT.get(id(module))
    if found is None:
        found = _RECENT[id(module)] = _ModuleLoops(module)
        while len(_RECENT) > 8:
            _RECENT.popitem(last=False)
    return found.sites


def find_loop(module: ir.Module, pass_name: str, var: str, function: str = "", nth: int = 0) -> LoopSite:
    """The ``nth`` canonical loop over ``var`` (of ``function`` when given), with the checks every
    loop pass needs: its variable is declared by the loop and not assigned in its body."""
    if not var:
        raise PassError(f"{pass_name}: name the loop by its variable (loop=i)")
    found = [s for s in loop_sites(module) if s.var == var and (not function or s.function.name == function)]
    where = f" in function {function}" if function else ""
    if not found:
        raise PassError(f"{pass_name}: no canonical loop over `{var}`{where} (for (int {var} = a; {var} < b; "
                        f"{var} += s))")
    if nth >= len(found):
        raise PassError(f"{pass_name}: there are {len(found)} loops over `{var}`{where}, not {nth + 1}")
    return check_loop(found[nth], pass_name)


def check_loop(site: LoopSite, pass_name: str) -> LoopSite:
    """``site``, after checking that the loop declares its variable and does not assign it."""
    if not isinstance(site.loop.init, ir.Decl):
        raise PassError(f"{pass_name}: the loop over `{site.var}` does not declare its variable (its value after "
                        "the loop would change)")
    if site.var in assigned_names(site.loop.body):
        raise PassError(f"{pass_name}: the loop over `{site.var}` assigns its variable in its body")
    return site


def loop_params(site: LoopSite) -> dict:
    """The ``loop=`` / ``function=`` / ``nth=`` parameters that select ``site``."""
    sites = [s for s in loop_sites(site.module) if s.var == site.var]
    params = {"loop": site.var}
    if len({s.function.name for s in sites}) > 1:
        params["function"] = site.function.name
        sites = [s for s in sites if s.function.name == site.function.name]
    nth = next(k for k, s in enumerate(sites) if s.index == site.index)
    if nth:
        params["nth"] = nth
    return params


def constant_length(loop) -> int | None:
    """``L`` when ``loop`` is ``for (T i = 0; i < L; ++i)`` (declaring ``i``) with a constant ``L``."""
    if not isinstance(loop, ir.For) or not isinstance(loop.init, ir.Decl) or loop.canonical() is None:
        return None
    _, start, stop, step = loop.canonical()
    return int_value(stop) if int_value(start) == 0 and int_value(step) == 1 else None


def replace_loop(module: ir.Module, index: int, stmts, removed: int | None = None) -> ir.Module:
    """``module`` with its ``index``-th For node (walk order) replaced by ``stmts``: spliced into the
    enclosing block, or wrapped in a block where a single statement is expected. The ``removed``-th
    For node, if any, is dropped.

    Pragmas that annotate the old loop go with it: the one right before it, and an OpenMP
    ``collapse(k)`` on an enclosing loop when the old loop is one of the k it spans. They describe loops that no longer exist;
    the sequential program is the meaning, and parallelism is assigned again later (``bind``)."""
    targets = {index} | ({removed} if removed is not None else set())
    counter = [-1]

    def visit(n):
        if isinstance(n, ir.For):
            counter[0] += 1
            if counter[0] in targets:
                replacement = list(stmts) if counter[0] == index else []
                counter[0] += _loops_in(n) - 1   # the loops inside it
                return replacement
        if isinstance(n, ir.Block):
            body, changed = [], False
            for s in n.body:
                # a target among the loops a `collapse(k)` before ``s`` spans (``s`` and the k - 1 loops
                # perfectly nested in it, the next ones in walk order); deeper loops leave it valid
                span = (omp_collapse(body[-1].text) or 0) if body and isinstance(body[-1], ir.Pragma) and \
                    isinstance(s, ir.For) else 0
                encloses = any(counter[0] + 1 < t < counter[0] + 1 + span for t in targets)
                new = visit(s)
                if isinstance(new, list) or encloses:
                    while body and isinstance(body[-1], ir.Pragma) and \
                            (isinstance(new, list) or "collapse" in body[-1].text):
                        body.pop()
                        changed = True
                if isinstance(new, list):
                    body.extend(new)
                    changed = True
                else:
                    body.append(new)
                    changed |= new is not s
            return ir.Block(tuple(body)) if changed else n

        def child(c):
            new = visit(c)
            if isinstance(new, list):
                return new[0] if len(new) == 1 else ir.Block(tuple(new))
            return new
        return ir.map_children(n, child)
    return visit(module)


def _loops_in(node) -> int:
    return sum(isinstance(m, ir.For) for m in ir.walk(node))


def _parent_block(node, target) -> tuple[ir.Block, int] | None:
    for n in ir.walk(node):
        if isinstance(n, ir.Block):
            for k, s in enumerate(n.body):
                if s is target:
                    return n, k
    return None


def invariant_bounds(site: LoopSite, variables: set[str], body) -> str | None:
    """Why the bounds of ``site`` are not invariant in ``variables`` and across ``body`` (None when
    they are): what follows "the bounds of the loop over `j`" in an error message."""
    bounds = (site.start, site.stop, site.step)
    used = set().union(*(names_in(e) for e in bounds))
    if used & variables:
        return f"depend on `{sorted(used & variables)[0]}`"
    if used & assigned_names(body):
        return f"use `{sorted(used & assigned_names(body))[0]}`, which the loop body assigns"
    for e in bounds:
        for n in ir.walk(e):
            if isinstance(n, (ir.Index, ir.Call, ir.Assign)) or isinstance(n, ir.UnOp) and n.op in ("*", "++", "--") \
                    or isinstance(n, ir.Member) and n.arrow:
                return f"read memory or call functions ({printed(e)})"
    return None


def jumps_out(stmts) -> str | None:
    """What in ``stmts`` leaves the current iteration early (``break``, ``continue``, ``return``,
    ``goto``), as "contains `break`"; None when nothing does. Jumps inside inner loops stay there."""
    for s in stmts:
        for n in statements_outside_loops(s):
            if isinstance(n, ir.Jump):
                return f"contains `{n.kind}`"
            if isinstance(n, ir.Verbatim):
                return f"contains source the IR does not model ({n.reason})"
        if any(isinstance(n, ir.Return) for n in ir.walk(s)):   # from any depth
            return "contains `return`"
    return None


def statements_outside_loops(s):
    """``s`` and the statements under it that are not inside a loop of it (a loop itself is, its
    body not): where a ``break`` or ``continue`` would leave the current iteration."""
    yield s
    if isinstance(s, (ir.For, ir.While)):
        return
    for child in ir.children(s):
        if isinstance(child, ir.Stmt):
            yield from statements_outside_loops(child)


def printed(e) -> str:
    from xpiler.emitters.c_printer import Printer
    return Printer("vnni").expr(e)


# --------------------------------------------------------------------------------------------------
# Building loops and expressions


def const(value: int) -> ir.Const:
    return ir.Const(str(value), value)


def name(id_: str) -> ir.Name:
    return ir.Name(id_)


def is_const(e, value: int) -> bool:
    e = strip_parens(e)
    return isinstance(e, ir.Const) and e.value == value and not isinstance(e.value, bool)


def add(a: ir.Expr, b: ir.Expr) -> ir.Expr:
    if is_const(a, 0):
        return b
    if is_const(b, 0):
        return a
    return ir.BinOp("+", a, b)


def mul(a: ir.Expr, b: ir.Expr) -> ir.Expr:
    if is_const(a, 1):
        return b
    if is_const(b, 1):
        return a
    return ir.BinOp("*", a, b)


def trip_count(site: LoopSite) -> ir.Expr:
    """The number of iterations of a canonical loop (a constant when it is known)."""
    value = site.value(_trips(site.start, site.stop, site.step))
    return const(max(value, 0)) if value is not None else _trips(site.start, site.stop, site.step)


def _trips(start, stop, step) -> ir.Expr:
    """``(stop - start + step - 1) / step``, with the constant parts folded."""
    first, stride = integer_value(start), integer_value(step)
    if first is not None and stride is not None:
        rounded = _offset(stop, stride - 1 - first)
        return rounded if stride == 1 else ir.BinOp("/", rounded, const(stride))
    span = stop if first == 0 else ir.BinOp("-", stop, start)
    if stride == 1:
        return span
    return ir.BinOp("/", ir.BinOp("+", span, ir.BinOp("-", step, const(1))), step)


def _offset(e: ir.Expr, k: int) -> ir.Expr:
    return e if k == 0 else ir.BinOp("+", e, const(k)) if k > 0 else ir.BinOp("-", e, const(-k))


def iteration_value(site: LoopSite, k: ir.Expr) -> ir.Expr:
    """The value of the loop variable in the loop's ``k``-th iteration: ``start + k * step``."""
    return add(site.start, mul(k, site.step))


def counted_loop(var: str, type_: ir.Type, extent: ir.Expr, body: ir.Stmt, kind: str = "serial") -> ir.For:
    """``for (T var = 0; var < extent; ++var) body``."""
    return ir.For(ir.Decl((ir.Declarator(var, type_, (), const(0)),)), ir.BinOp("<", name(var), extent),
                  ir.UnOp("++", name(var)), body if isinstance(body, ir.Block) else ir.Block((body,)), kind)


def substitute(node, values: dict[str, ir.Expr]):
    """``node`` with every use of the names in ``values`` replaced by their expressions."""
    if not values:
        return node

    def one(n):
        return values[n.id] if isinstance(n, ir.Name) and n.id in values else n
    return ir.rewrite(node, one)


def fresh(base: str, taken: set[str]) -> str:
    """``base``, or ``base_1``, ``base_2``, ... whichever is not in ``taken`` (which it joins)."""
    candidate, k = base, 0
    while candidate in taken:
        k += 1
        candidate = f"{base}_{k}"
    taken.add(candidate)
    return candidate


def body_statements(loop: ir.For) -> tuple:
    return loop.body.body if isinstance(loop.body, ir.Block) else (loop.body,)


# --------------------------------------------------------------------------------------------------
# The pass


def split_loop(module: ir.Module, var: str, factor: int, *, function: str = "", nth: int = 0) -> ir.Module:
    """``module`` with the loop over ``var`` split into chunks of ``factor`` iterations (see the module)."""
    if not isinstance(factor, int) or factor < 2:
        raise PassError(f"loop-split: the factor must be an integer of at least 2, got {factor!r}")
    site = find_loop(module, "loop-split", var, function, nth)
    taken = site.names()
    outer, inner = fresh(f"{var}_outer", taken), fresh(f"{var}_inner", taken)
    trips = trip_count(site)
    known = site.value(trips)
    chunks = const(-(-known // factor)) if known is not None else \
        ir.BinOp("/", ir.BinOp("+", trips, const(factor - 1)), const(factor))
    position = add(mul(name(outer), const(factor)), name(inner))
    value = iteration_value(site, position)
    body = substitute(site.loop.body, {var: value})
    if known is None or known % factor:
        body = ir.If(ir.BinOp("<", value, site.stop), body)
    vtype = site.var_type()
    nest = counted_loop(outer, vtype, chunks, counted_loop(inner, vtype, const(factor), body, site.loop.kind),
                        site.loop.kind)
    return site.replace(nest)


@register
@dataclass(frozen=True)
class LoopSplit(ModulePass):
    """Split a loop into an outer loop over chunks and an inner loop of ``factor`` iterations."""

    name: ClassVar[str] = "loop-split"
    summary: ClassVar[str] = "a loop becomes outer/inner loops of `factor` iterations (guarded tail)"

    loop: str = ""
    factor: int = 16
    function: str = ""
    nth: int = 0

    def apply(self, module: ir.Module) -> ir.Module:
        return split_loop(module, self.loop, self.factor, function=self.function, nth=self.nth)

    @classmethod
    def schedule_space(cls, module) -> Iterator["LoopSplit"]:
        """Factors 4 ... 128 below the trip count, for every canonical loop with a known trip count."""
        for site in loop_sites(module):
            trips = site.value(trip_count(site))
            if trips is None or not isinstance(site.loop.init, ir.Decl) or site.var in assigned_names(site.loop.body):
                continue
            for factor in SPLIT_FACTORS:
                if factor < trips:
                    yield cls(factor=factor, **loop_params(site))
