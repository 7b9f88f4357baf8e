"""Sinking a SIMD loop below the loops of its body: strip-mine, expand scalars, interchange.

gcc vectorises an outer loop only around a single innermost loop. A SIMD loop over the threads of
a recovered kernel whose body holds two loops, or a nest (a pooling window, a filter over channels
and taps), is then run one lane at a time. :func:`sink` rewrites such a loop, exactly, when its
iterations are independent::

    #pragma omp simd                        for (int g0 = 0; g0 < n; g0 += W) {
    for (int g = 0; g < n; ++g) {             const int lanes = n - g0 < W ? n - g0 : W;
      const float *p = x + g;                 float acc[W];
      float acc = 0.0f;              =>       #pragma omp simd
      for (int i = 0; i < kh; ++i)            for (int l = 0; l < lanes; ++l) { acc[l] = 0.0f; }
        for (int j = 0; j < kw; ++j)          for (int i = 0; i < kh; ++i)
          acc += p[i * n + j];                  for (int j = 0; j < kw; ++j) {
      y[g] = acc;                                 #pragma omp simd
    }                                             for (int l = 0; l < lanes; ++l) {
                                                    const int g = g0 + l; const float *p = x + g;
                                                    acc[l] += p[i * n + j];
                                                  }
                                                }
                                              ...
                                            }

* **strip-mine** the loop into strips of ``W`` iterations (loopy's ``split_iname``);
* **split** the body at its loops: the statements between loops become SIMD loops over the strip's
  lanes, and a loop whose header does not depend on the lane is kept, its body split the same way
  (the lane loop moves innermost: TVM's ``reorder``). Independent iterations make every such
  reordering legal: each lane still runs its own statements in their order;
* **expand** what one part of the body declares and another part uses: a scalar becomes an array of
  ``W`` lanes (scalar expansion), except a constant whose value is a pure function of the lane and
  of values the loop does not change, without a division: that one is declared again wherever it is
  used, so that gcc still sees addresses affine in the lane (``p`` above);
* a loop whose start depends on the lane (a thread's share of a row, ``for (c = threadIdx.x; c < n;
  c += blockDim.x)``) runs as many steps as the lane with the most, each lane taking its own.

A ``continue`` of the loop is kept only where the part it belongs to is not split; ``break``,
``return``, ``goto`` and barriers, loop headers that depend on the lane, ``while`` loops and names
declared twice leave the loop as it was (:func:`sink` returns None).
"""

from __future__ import annotations

from dataclasses import replace

from xpiler import ir
from xpiler.ir.analysis import as_division, statements, strip_parens
from xpiler.ir.effects import assigned_scalars, declaration_counts, touches_memory, used_names

from .loop_split import statements_outside_loops

INT = ir.Type("int")
CONST_INT = ir.Type("int", quals=("const",))
UNSIGNED = ir.Type("unsigned")
LONG_LONG = ir.Type("long long")
WIDTH = 64   # lanes per strip: four AVX-512 vectors of floats, in L1 with every expanded scalar


def _c(v: int) -> ir.Const:
    return ir.Const(str(v), v)


def _p(e: ir.Expr) -> ir.Expr:
    return e if isinstance(e, (ir.Name, ir.Const, ir.Paren, ir.Member, ir.Call, ir.Index, ir.Cast)) else ir.Paren(e)



def _divides(e) -> bool:
    return any(isinstance(n, ir.BinOp) and n.op in ("/", "%") for n in ir.walk(e))


def _may_trap(e, constants: dict) -> bool:
    """Whether ``e`` divides by something other than a positive constant (which may trap: by zero,
    or ``INT_MIN / -1``)."""
    def positive(d) -> bool:
        d = strip_parens(d)
        value = d.value if isinstance(d, ir.Const) else constants.get(d.id) if isinstance(d, ir.Name) else None
        return isinstance(value, int) and not isinstance(value, bool) and value > 0
    return any(isinstance(n, ir.BinOp) and n.op in ("/", "%") and not positive(n.right) for n in ir.walk(e))


def _has_loop(node) -> bool:
    return any(isinstance(n, (ir.For, ir.While)) for n in ir.walk(node))


class _Unsinkable(Exception):
    pass


class _Sinker:
    def __init__(self, var: str, body: list, lane: str, start: str, lanes: str, fresh, signed, constants,
                 width: int = WIDTH):
        self.var, self.lane, self.start, self.lanes, self.fresh = var, lane, start, lanes, fresh
        self.width = width
        self.signed, self.constants = signed, constants
        block = ir.Block(tuple(body))
        counts = declaration_counts(block)
        if any(c > 1 for c in counts.values()) or var in counts:
            raise _Unsinkable("a name declared twice")
        self.declared = set(counts)
        assigned = assigned_scalars(block)
        if assigned - self.declared:
            raise _Unsinkable("a scalar of the enclosing code assigned")
        self.assigned = assigned
        if any(isinstance(n, (ir.Verbatim, ir.Barrier, ir.Return, ir.While)) for n in ir.walk(block)):
            raise _Unsinkable("a goto, barrier, return or while loop")
        self.expanded: dict[str, ir.Declarator] = {}   # name -> its declarator (type of the lanes)
        self.remat: dict[str, ir.Decl] = {}             # name -> its declaration, repeated per use
        self.arrays: set[str] = set()                  # expanded names whose arrays are declared
        self.masks: set[str] = set()                   # conditions of lane-dependent branches
        self.guards: list[ir.Expr] = []                # masks the current part runs under
        self.guarded: dict[str, ir.Decl] = {}           # counters of strided loops, declared under their guard
        self.uniform: set[str] = set()                  # values every lane shares, declared once

    # -- classification -----------------------------------------------------------------------------
    def _varying(self, names: set) -> bool:
        return bool(names & self.lane_names())

    def lane_names(self) -> set:
        """Names whose value may differ between lanes: the counter, and what the body declares
        (but the values every lane shares)."""
        return (self.declared | {self.var}) - self.uniform

    def _rematerialisable(self, d: ir.Declarator, decl: ir.Decl, bound: set) -> bool:
        """A constant whose value is a pure function of the lane, the enclosing kept loops' counters
        and values the loop does not change."""
        if d.init is None or d.dims or d.ctor_args is not None or decl.storage or d.type.reference or \
                d.name in self.assigned or touches_memory(d.init):
            return False
        if _divides(d.init):
            return False   # a vector has no integer division: computed once per strip, kept per lane
        return not (used_names(d.init) & self.declared) - bound - set(self.remat) - self.uniform

    # -- the body, part by part ---------------------------------------------------------------------
    def level(self, stmts: list, header_bound: set) -> list:
        """The statements of one level of the body (the loop's own body, or a kept loop's body),
        split into SIMD parts and kept loops."""
        items: list = []      # (kind, statements): "straight" parts and "loop" / "if" statements
        pending: list = []
        shared, stmts = self._shared_values(_continues_as_guards(stmts), header_bound)
        for s in self._masked(stmts, header_bound):
            if isinstance(s, ir.Pragma):
                pending.append(s)
                continue
            if _has_loop(s):
                items.append(("kept", pending + [s]))
            elif items and items[-1][0] == "straight":
                items[-1][1].extend(pending + [s])
            else:
                items.append(("straight", pending + [s]))
            pending = []
        if pending:
            items.append(("straight", pending))
        split = len(items) > 1
        for kind, part in items:
            for s in part:
                for n in statements_outside_loops(s):
                    if isinstance(n, ir.Jump) and (split or n.kind != "continue"):
                        raise _Unsinkable(f"'{n.kind}' in a split body")
        # declarations: constants of the lane declared again where used; those used in another
        # part expanded
        uses = [used_names(ir.Block(tuple(p))) for _, p in items]
        for i, (kind, part) in enumerate(items):
            if kind != "straight":
                continue
            for s in part:
                if not isinstance(s, ir.Decl):
                    continue
                for d in s.vars:
                    if self._rematerialisable(d, s, header_bound):
                        self.remat[d.name] = replace(s, vars=(d,))
                    elif not any(d.name in u for j, u in enumerate(uses) if j != i):
                        continue
                    elif d.dims or d.ctor_args is not None or s.storage or d.type.reference:
                        raise _Unsinkable(f"'{d.name}' cannot be expanded")
                    else:
                        self.expanded[d.name] = d
        out: list = list(shared)
        for kind, part in items:
            if kind == "straight":
                out += self.lane_loop(part)
            else:
                out += self.kept(part, header_bound)
        return out

    def kept(self, part: list, header_bound: set) -> list:
        *pragmas, s = part
        header = [x for x in ((s.init, s.cond, s.step) if isinstance(s, ir.For) else (s.cond,) if isinstance(s, ir.If)
                              else ()) if x is not None]
        if self.guards and any(_may_trap(x, self.constants) for x in header):
            # run for all lanes, it would divide where no lane under the condition would have
            raise _Unsinkable("a division in a loop header under a lane's condition")
        if isinstance(s, ir.For):
            own = {d.name for d in s.init.vars} if isinstance(s.init, ir.Decl) else set()
            if own & assigned_scalars(s.body):
                raise _Unsinkable("a loop counter assigned in its body")
            if free_header_names(s) & self.lane_names() - header_bound:
                return self.strided(s, pragmas, header_bound)
            return pragmas + [replace(s, body=ir.Block(tuple(self.level(statements(s.body), header_bound | own))))]
        if isinstance(s, ir.If) and isinstance(s.cond, ir.Name) and s.cond.id in self.masks:
            # a branch on the lane: both sides sunk, every part under the lane's condition
            out = []
            for cond, side in ((s.cond, s.then), (ir.UnOp("!", s.cond), s.other)):
                if side is not None:
                    self.guards.append(cond)
                    out += self.level(statements(side), header_bound)
                    self.guards.pop()
            return pragmas + out
        if isinstance(s, ir.If) and not self._varying(used_names(s.cond) - header_bound):
            other = ir.Block(tuple(self.level(statements(s.other), header_bound))) if s.other is not None else None
            return pragmas + [replace(s, then=ir.Block(tuple(self.level(statements(s.then), header_bound))),
                                      other=other)]
        if isinstance(s, ir.Block):
            return pragmas + [ir.Block(tuple(self.level(list(s.body), header_bound)))]
        raise _Unsinkable(f"a {type(s).__name__} around a loop that depends on the lane")

    def _positive_step(self, e) -> ir.Expr | None:
        """``e`` as a positive int: a positive constant, or a block extent (``blockDim.x``, which the
        SIMD nests check to fit in an int)."""
        e = strip_parens(e)
        if isinstance(e, ir.Const) and isinstance(e.value, int) and e.value > 0:
            return e
        if isinstance(e, ir.Name) and isinstance(self.constants.get(e.id), int) and self.constants[e.id] > 0:
            return e
        if isinstance(e, ir.Member) and isinstance(e.base, ir.Name) and e.base.id == "blockDim" and not e.arrow:
            return ir.Cast(INT, e)
        return None

    def strided(self, s: ir.For, pragmas: list, header_bound: set) -> list:
        """``for (int c = e; c < E; c += S) B``, ``e`` depending on the lane (a thread's share of a row:
        ``c = threadIdx.x; c += blockDim.x``), ``E`` and ``S > 0`` not: every lane counts its own trips
        ``t``, the loop runs the most of them, and lane ``l`` takes step ``m`` when ``m < t[l]``, at
        ``c = e + m * S`` (always below ``E``; trips and steps count in 64 bits: no overflow)."""
        canon = s.canonical()
        if canon is None or not isinstance(s.init, ir.Decl) or s.init.vars[0].type != INT:
            raise _Unsinkable("a loop header that depends on the lane")
        c, first, stop, step = canon
        step = self._positive_step(step)
        # the start and bound may differ between lanes too, as long as the loop does not change them
        changed = assigned_scalars(s.body)
        if step is None or (used_names(ir.ExprStmt(stop)) | used_names(ir.ExprStmt(first))) & changed or \
                not self.signed(stop):
            raise _Unsinkable("a loop header that depends on the lane")
        trips, most, m = self.fresh("trips"), self.fresh("trips_max"), self.fresh(f"{c}_step")
        self.declared |= {trips, most, m}
        self.expanded[trips] = ir.Declarator(trips, LONG_LONG)
        self.arrays.add(trips)
        first = _p(first) if self.signed(first) else ir.Cast(INT, _p(first))   # as `int c = first` converts
        # trips and steps count in 64 bits: (E - 1 - e) / S + 1 need not fit an int when e < 0
        count = ir.BinOp("+", ir.BinOp("/", ir.BinOp("-", ir.BinOp("-", ir.Cast(LONG_LONG, _p(stop)), _c(1)), first),
                                         _p(step)), _c(1))
        guards, self.guards = self.guards, []
        out = [ir.Decl((ir.Declarator(trips, LONG_LONG, dims=(_c(self.width),)),))]
        out += self.lane_loop([ir.ExprStmt(ir.Assign(ir.Name(trips), "=", _c(0)))]) if guards else []
        self.guards = guards
        out += self.lane_loop([ir.ExprStmt(ir.Assign(ir.Name(trips), "=", ir.Ternary(ir.BinOp("<", first, _p(stop)), count, _c(0))))])
        lane_trips = ir.Index(ir.Name(trips), ir.Name(self.lane))
        out += [ir.Decl((ir.Declarator(most, LONG_LONG, init=_c(0)),)), ir.Pragma(f"omp simd reduction(max: {most})"),
                ir.For(ir.Decl((ir.Declarator(self.lane, INT, init=_c(0)),)),
                       ir.BinOp("<", ir.Name(self.lane), ir.Name(self.lanes)), ir.UnOp("++", ir.Name(self.lane)),
                       ir.ExprStmt(ir.Assign(ir.Name(most), "=", ir.Ternary(ir.BinOp(">", lane_trips, ir.Name(most)),
                                                                              lane_trips, ir.Name(most)))), kind="vector")]
        # e + m * S is below E, m * S alone need not fit an int
        value = ir.BinOp("+", ir.Cast(LONG_LONG, _p(first)), ir.BinOp("*", ir.Name(m), _p(step)))
        self.guarded[c] = ir.Decl((ir.Declarator(c, CONST_INT, init=ir.Cast(INT, ir.Paren(value))),))
        self.guards.append(ir.BinOp("<", ir.Name(m), ir.Name(trips)))
        body = self.level(statements(s.body), header_bound | {m})
        self.guards.pop()
        loop = ir.For(ir.Decl((ir.Declarator(m, LONG_LONG, init=_c(0)),)), ir.BinOp("<", ir.Name(m), ir.Name(most)),
                      ir.UnOp("++", ir.Name(m)), ir.Block(tuple(body)), kind=s.kind)
        if guards:
            return out + pragmas + [loop]
        # the steps every lane with a trip takes run without the test of the step (unmasked: gcc
        # cannot mask a load of a struct's field), the last ones with it. The lanes with a trip are
        # usually the first ones (a row shorter than the strip: d = lane, d < 32 of 64 lanes); when
        # they are, the unmasked steps run those lanes only, the fewest trips among them (at most
        # the most); else they run none (some lane takes no step)
        fewest, on, last = self.fresh("trips_min"), self.fresh("lanes_on"), self.fresh("lane_last")
        self.declared |= {fewest, on, last}
        lane = ir.Name(self.lane)
        has_trip = ir.BinOp(">", lane_trips, _c(0))

        def reduction(op: str, name: str, typ: ir.Type, init, value) -> list:
            # one reduction per loop: gcc 12 miscompiles a SIMD loop reducing an int sum and a long
            # long minimum together (the sum came out short)
            return [ir.Decl((ir.Declarator(name, typ, init=init),)), ir.Pragma(f"omp simd reduction({op}: {name})"),
                    ir.For(ir.Decl((ir.Declarator(self.lane, INT, init=_c(0)),)),
                           ir.BinOp("<", lane, ir.Name(self.lanes)), ir.UnOp("++", lane),
                           ir.ExprStmt(ir.Assign(ir.Name(name), "+=" if op == "+" else "=", value)), kind="vector")]
        out += reduction("min", fewest, LONG_LONG, ir.Name(most), ir.Ternary(
            ir.BinOp("&&", has_trip, ir.BinOp("<", lane_trips, ir.Name(fewest))), lane_trips, ir.Name(fewest)))
        out += reduction("+", on, INT, _c(0), ir.Ternary(has_trip, _c(1), _c(0)))
        out += reduction("max", last, INT, ir.UnOp("-", _c(1)), ir.Ternary(
            ir.BinOp("&&", has_trip, ir.BinOp(">", lane, ir.Name(last))), lane, ir.Name(last)))
        out.append(ir.If(ir.BinOp("!=", ir.Name(last), ir.BinOp("-", ir.Name(on), _c(1))),
                         ir.ExprStmt(ir.Assign(ir.Name(fewest), "=", _c(0)))))
        # ... and count in int: m * S <= INT_MAX there, and e + (int)(m * S) is the counter's value,
        # an int, which gcc sees as affine in the lane (the 64-bit sum cast to int it does not)
        most_in_int = ir.BinOp("/", ir.Const("2147483647", 2147483647), _p(step))
        out.append(ir.If(ir.BinOp(">", ir.Name(fewest), most_in_int),
                         ir.ExprStmt(ir.Assign(ir.Name(fewest), "=", most_in_int))))
        step_taken = ir.BinOp("<", ir.Name(m), lane_trips)
        all_lanes = ir.BinOp("<", lane, ir.Name(self.lanes))

        def every_lane(n):
            n = _int_counter(_taken(n, step_taken), c, m)
            if isinstance(n, ir.For) and n.cond == all_lanes:   # the lanes with a trip only
                return replace(n, cond=ir.BinOp("<", lane, ir.Name(on)))
            return n
        every = replace(loop, cond=ir.BinOp("<", ir.Name(m), ir.Name(fewest)), body=ir.rewrite(loop.body, every_lane))
        rest = replace(loop, init=ir.Decl((ir.Declarator(m, LONG_LONG, init=ir.Name(fewest)),)))
        return out + pragmas + [every] + pragmas + [rest]

    def _shared_values(self, stmts: list, header_bound: set) -> tuple[list, list]:
        """``(declarations, rest)``: the constants of this level that do not depend on the lane (an
        image row ``n = blockIdx_z / Ho``, a filter row ``ih = oh * s + kh``) declared once, before
        its parts, for all lanes; their values use nothing the level changes."""
        shared, rest = [], []
        for s in stmts:
            if isinstance(s, ir.Decl) and not s.storage and all(
                    d.init is not None and not d.dims and d.ctor_args is None and not d.type.reference and
                    d.name not in self.assigned and not touches_memory(d.init) and
                    not used_names(d.init) & self.lane_names() - header_bound and
                    not (self.guards and _divides(d.init)) for d in s.vars):
                # (under a lane's condition a division may be one no lane would have made)
                self.uniform |= {d.name for d in s.vars}
                shared.append(s)
            else:
                rest.append(s)
        return shared, rest

    def _masked(self, stmts: list, header_bound: set) -> list:
        """``if (c) S`` around a loop, ``c`` depending on the lane, as ``const int m = c; if (m) S``:
        ``m`` is then expanded (or declared again) like any value of the lane."""
        out = []
        for s in stmts:
            if isinstance(s, ir.If) and _has_loop(s) and self._varying(used_names(s.cond) - header_bound):
                mask = self.fresh("mask")
                self.masks.add(mask)
                self.declared.add(mask)
                out += [ir.Decl((ir.Declarator(mask, CONST_INT, init=s.cond),)), replace(s, cond=ir.Name(mask))]
            else:
                out.append(s)
        return out

    def lane_loop(self, part: list) -> list:
        """One straight part as a SIMD loop over the strip's lanes."""
        decls = []
        for s in part:
            if isinstance(s, ir.Decl):
                decls += [ir.Decl((ir.Declarator(d.name, _assignable(d.type), dims=(_c(self.width),)),))
                          for d in s.vars if d.name in self.expanded and d.name not in self.arrays]
                self.arrays |= {d.name for d in s.vars}
        body = []
        for s in part:
            if isinstance(s, ir.Decl) and any(d.name in self.expanded or d.name in self.remat for d in s.vars):
                kept = [d for d in s.vars if d.name not in self.expanded and d.name not in self.remat]
                if kept:
                    body.append(replace(s, vars=tuple(kept)))
                body += [ir.ExprStmt(ir.Assign(ir.Name(d.name), "=", d.init))
                         for d in s.vars if d.name in self.expanded and d.init is not None]
            else:
                body.append(s)
        if not any(not isinstance(s, (ir.Pragma, ir.Comment)) and s != ir.Block(()) for s in body):
            return decls   # nothing left to run: declarations only
        needed = self._needed(ir.Block(tuple(body + self.guards)))
        # what depends on a strided loop's counter is declared after it, under the guard
        inner_names = set(self.guarded)
        for n in self.remat:
            if used_names(self.remat[n]) & inner_names:
                inner_names.add(n)
        inner = [self.guarded[n] for n in self.guarded if n in used_names(ir.Block(tuple(body))) | needed]
        inner += [self.remat[n] for n in self.remat if n in needed and n in inner_names]
        head = [self.remat[n] for n in self.remat if n in needed and n not in inner_names]
        body = inner + body
        if self.guards:
            cond = self.guards[0]
            for g in self.guards[1:]:
                cond = ir.BinOp("&&", cond, g)
            body = [ir.If(cond, ir.Block(tuple(body)))]
        body = [ir.rewrite(s, self._index_lanes) for s in body]
        head = [ir.rewrite(s, self._index_lanes) for s in head]
        if self.var in used_names(ir.Block(tuple(head + body))):
            head.insert(0, ir.Decl((ir.Declarator(self.var, CONST_INT,
                                                  init=ir.BinOp("+", ir.Name(self.start), ir.Name(self.lane))),)))
        loop = ir.For(ir.Decl((ir.Declarator(self.lane, INT, init=_c(0)),)),
                      ir.BinOp("<", ir.Name(self.lane), ir.Name(self.lanes)), ir.UnOp("++", ir.Name(self.lane)),
                      ir.Block(tuple(head + body)), kind="vector")
        return decls + [ir.Pragma("omp simd"), loop]

    def _needed(self, node) -> set:
        """Rematerialised names (and strided counters) used by ``node``, with those their values use."""
        defs = {**self.remat, **self.guarded}
        needed, todo = set(), used_names(node) & set(defs)
        while todo:
            n = todo.pop()
            needed.add(n)
            todo |= (used_names(defs[n]) & set(defs)) - needed
        return needed

    def at_lane(self, e: ir.Expr) -> ir.Expr:
        return ir.Index(e, ir.Name(self.lane))

    def _index_lanes(self, n):
        if isinstance(n, ir.Name) and n.id in self.expanded:
            return self.at_lane(n)
        return n


_TRUE = ir.Const("1", 1)


def _assignable(t: ir.Type) -> ir.Type:
    """``t`` without its top-level ``const`` (a pointer's ``* const``; a pointee's stays)."""
    if t.pointer:
        return replace(t, ptr_quals=tuple(q for q in t.ptr_quals if q != "const"))
    return replace(t, quals=tuple(q for q in t.quals if q != "const"))


def _taken(n, test):
    """``n`` with the condition ``test`` known true (``c && test`` is ``c``, ``if (test) S`` is ``S``)."""
    if n == test:
        return _TRUE
    if isinstance(n, ir.BinOp) and n.op == "&&" and _TRUE in (n.left, n.right):
        return n.right if n.left == _TRUE else n.left
    if isinstance(n, ir.If) and n.cond == _TRUE:
        return n.then
    return n


def _int_counter(n, c: str, m: str):
    """The declaration ``const int c = (int)((long long)e + m * S)`` of a strided loop's counter as
    ``e + (int)(m * S)`` (where ``m * S`` fits an int)."""
    if not (isinstance(n, ir.Declarator) and n.name == c and isinstance(n.init, ir.Cast)):
        return n
    total = strip_parens(n.init.operand)
    if not (isinstance(total, ir.BinOp) and total.op == "+" and isinstance(total.left, ir.Cast) and
            isinstance(total.right, ir.BinOp) and total.right.op == "*" and total.right.left == ir.Name(m)):
        return n
    return replace(n, init=ir.BinOp("+", _p(total.left.operand), ir.Cast(INT, ir.Paren(total.right))))


def _continues_as_guards(stmts: list) -> list:
    """``if (c) continue; rest`` as ``if (!(c)) { rest }``: the same iteration, with no jump to split."""
    for i, s in enumerate(stmts):
        if isinstance(s, ir.If) and s.other is None and statements(s.then) == [ir.Jump("continue")]:
            return stmts[:i] + [ir.If(ir.UnOp("!", _p(s.cond)), ir.Block(tuple(_continues_as_guards(stmts[i + 1:]))))]
    return stmts


def free_header_names(loop: ir.For) -> set:
    """Names a loop's header uses, besides its own counter."""
    header = [x for x in (loop.init, loop.cond, loop.step) if x is not None]
    own = {d.name for d in loop.init.vars} if isinstance(loop.init, ir.Decl) else set()
    return used_names(ir.Block(tuple(ir.ExprStmt(x) if isinstance(x, ir.Expr) else x for x in header))) - own


def _terms(e) -> list:
    """The top-level summands of an index expression (through parentheses and integer casts)."""
    e = strip_parens(e)
    while isinstance(e, ir.Cast) and not e.type.pointer:
        e = strip_parens(e.operand)
    if isinstance(e, ir.BinOp) and e.op == "+":
        return _terms(e.left) + _terms(e.right)
    if isinstance(e, ir.BinOp) and e.op == "-":
        return _terms(e.left) + [ir.UnOp("-", e.right)]
    return [e]


def _unit_stride(e, name: str, values: dict, depth: int = 3) -> bool:
    """Whether ``name`` is a summand of index ``e`` (its addresses step by one element with it),
    looking through the values of declared names."""
    for t in _terms(e):
        if isinstance(t, ir.Name) and (t.id == name or depth and t.id in values and
                                       _unit_stride(values[t.id], name, values, depth - 1)):
            return True
    return False


def _short_loop(loop: ir.For, constants: dict) -> bool:
    canon = loop.canonical()
    if canon is None:
        return False
    start, stop, step = (strip_parens(x) for x in canon[1:])
    values = [x.value if isinstance(x, ir.Const) else constants.get(x.id) if isinstance(x, ir.Name) else None
              for x in (start, stop, step)]
    return all(isinstance(v, int) for v in values) and values[2] > 0 and (values[1] - values[0]) // values[2] <= 8


def inner_loop_is_the_better_vector(var: str, body: list, constants: dict) -> bool:
    """Whether an innermost loop of ``body`` walks memory contiguously where the lanes would gather
    every access (a convolution's channel loop, the lanes over output pixels decoded by division):
    gcc vectorises that loop itself (a reduction), better. Short constant loops do not count."""
    block = ir.Block(tuple(body))
    values = {n.name: n.init for n in ir.walk(block) if isinstance(n, ir.Declarator) and n.init is not None}
    lane = {var} | {n.name for n in ir.walk(block) if isinstance(n, ir.Declarator) and n.init is None}
    changed = True
    while changed:   # the names whose values depend on the lane
        changed = False
        for name, init in values.items():
            if name not in lane and used_names(init) & lane:
                lane.add(name)
                changed = True
    for loop in (n for s in body for n in ir.walk(s) if isinstance(n, ir.For)):
        if _has_loop(loop.body) or _short_loop(loop, constants) or loop.canonical() is None:
            continue
        k = loop.canonical()[0]
        addresses = [ir.BinOp("+", n.base, n.index) for n in ir.walk(loop.body) if isinstance(n, ir.Index)]
        gathered = [a for a in addresses if used_names(ir.ExprStmt(a)) & lane and not _unit_stride(a, var, values)]
        if any(_unit_stride(a, k, values) for a in addresses) and addresses and len(gathered) == len(addresses):
            return True
    return False


# ---- strips of whole groups -----------------------------------------------------------------------
_GROUP_WIDTHS = (16, 32, 64)   # a warp or wavefront: one to four vectors of floats


def _group_use(n, var: str, constants: dict) -> int | None:
    """``W`` when ``n`` is ``x >> log2(W)``, ``x / W``, ``x & (W - 1)`` or ``x % W`` of the counter
    ``x`` (through an ``int`` / ``unsigned`` cast), ``W`` a power of two, a constant or a name of one;
    else None."""
    n = as_division(n, constants)
    if not (isinstance(n, ir.BinOp) and n.op in ("/", "%")):
        return None
    x, k = strip_parens(n.left), strip_parens(n.right)
    if isinstance(x, ir.Cast) and x.type in (INT, UNSIGNED):
        x = strip_parens(x.operand)
    w = k.value if isinstance(k, ir.Const) else constants.get(k.id) if isinstance(k, ir.Name) else None
    if not (isinstance(x, ir.Name) and x.id == var and isinstance(w, int) and not isinstance(w, bool)):
        return None
    return w if w > 0 and w & (w - 1) == 0 else None


def group_width(var: str, body: list, constants: dict) -> int | None:
    """The width ``W`` of the groups of lanes (a warp: 32) the body takes ``var`` apart by, when every
    such use names the same one, and it is 16, 32 or 64; else None. Strips of ``W`` lanes starting at a
    multiple of ``W`` hold one group: ``x / W`` is the strip's and ``x % W`` the lane."""
    widths = {_group_use(n, var, constants) for s in body for n in ir.walk(s) if isinstance(n, ir.BinOp)} - {None}
    return next(iter(widths)) if len(widths) == 1 and next(iter(widths)) in _GROUP_WIDTHS else None


def in_groups(var: str, body: list, width: int, start: str, constants: dict) -> list:
    """``body`` in a strip of ``width`` lanes from ``start`` (a multiple of it): ``x / W`` (``x >>
    s``) as ``start / W``, the same for every lane, and ``x % W`` (``x & (W - 1)``) as ``x - start``."""
    return [ir.rewrite(s, lambda n: _in_group(n, var, width, start, constants)) for s in body]


def strip_loop(var: str, body: list, width: int, start: str) -> ir.For:
    """The loop over one strip of ``width`` lanes from ``start``, ``body`` :func:`in_groups`: the
    lanes a sunk strip runs together (strips run one after another, in order)."""
    return ir.For(ir.Decl((ir.Declarator(var, INT, init=ir.Name(start)),)),
                  ir.BinOp("<", ir.Name(var), ir.BinOp("+", ir.Name(start), _c(width))),
                  ir.UnOp("++", ir.Name(var)), ir.Block(tuple(body)))


def _in_group(n, var: str, width: int, start: str, constants: dict):
    if _group_use(n, var, constants) != width:
        return n
    if n.op in (">>", "/"):
        return replace(n, left=ir.rename(n.left, {var: start}))
    return _p(ir.rewrite(n.left, lambda m: ir.Paren(ir.BinOp("-", m, ir.Name(start)))
                         if isinstance(m, ir.Name) and m.id == var else m))


def sink(var: str, stop: ir.Expr, body: list, fresh, signed=lambda e: False, constants: dict | None = None,
         strip: tuple[str, int] | None = None) -> list | None:
    """Statements running ``for (int var = 0; var < stop; ++var) body`` (independent iterations)
    with the lane loop sunk below the loops of ``body``; None when ``body`` has no loop or cannot be
    split exactly, and when it has a single loop (gcc vectorises around one loop itself, keeping what
    the lanes sum in registers, unless the lanes count it differently). ``fresh(name)``: a name unused
    in the function; ``signed(e)``: whether ``e`` is a signed int expression; ``constants``: values
    of names (macros). The strips are as wide as the groups the body takes the lanes apart by
    (:func:`group_width`), 64 lanes else; ``strip``: ``(name, width)`` of a body already
    :func:`in_groups` (iterations independent within a strip)."""
    constants = constants or {}
    loops = [n for s in body for n in ir.walk(s) if isinstance(n, (ir.For, ir.While))]
    declared = declaration_counts(ir.Block(tuple(body)))
    if len(loops) == 1 and isinstance(loops[0], ir.For) and not (
            free_header_names(loops[0]) & (set(declared) | {var} | ({strip[0]} if strip else set()))):
        return None   # one loop the lanes count alike: gcc vectorises around it, its sums in registers
    if not loops:
        return None
    start, group = strip if strip is not None else (None, group_width(var, body, constants))
    if strip is None and group is not None:
        start = fresh("strip")
        body = in_groups(var, body, group, start, constants)
    if inner_loop_is_the_better_vector(var, body, constants):
        return None
    start = start or fresh("strip")
    lanes, lane = fresh("lanes"), fresh("lane")
    try:
        sinker = _Sinker(var, body, lane, start, lanes, fresh, signed, constants, group or WIDTH)
        inner = sinker.level(body, set())
    except _Unsinkable:
        return None
    width = _c(group or WIDTH)
    remaining = ir.BinOp("-", stop, ir.Name(start))
    count = ir.Decl((ir.Declarator(lanes, CONST_INT,
                                   init=ir.Ternary(ir.BinOp("<", remaining, width), remaining, width)),))
    return [ir.For(ir.Decl((ir.Declarator(start, INT, init=_c(0)),)), ir.BinOp("<", ir.Name(start), stop),
                   ir.Assign(ir.Name(start), "+=", width), ir.Block((count,) + tuple(inner)))]
