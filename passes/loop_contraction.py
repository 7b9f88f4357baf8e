"""Loop contraction (``loop-contraction{loop=i}``): a producer loop merged into its consumer, the
temporary array between them contracted to a scalar (TVM's ``compute_at`` / ``compute_inline`` of
an element-wise stage)::

    float T[N];
    for (int i = 0; i < N; i++) T[i] = f(x[i]);          for (int i = 0; i < N; i++) {
    for (int j = 0; j < N; j++) y[j] = g(T[j]);    ->      float T = f(x[i]);
                                                            y[i] = g(T);
                                                          }

The loop over ``loop`` is the producer; the consumer is the loop right after it in the same block,
with the same bounds. The temporary (``buffer=T``, found when there is exactly one candidate) is an
array declared in the function and used nowhere but in the two loops, every access of which is the
element ``T[e]`` of the producer's first write (``e`` the same expression of the loop variable in
both loops), and ``e`` takes a different value in every iteration. Then each element lives within
one iteration, and becomes a scalar declared by that first write, which must be an unconditional
statement of the producer's body. Merging the loops must also be legal on its own: no dependence
from the consumer to a later iteration of the producer (the test of ``loop-fuse{mode=siblings}``).
The array's declaration goes away.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Iterator


from xpiler import ir
from xpiler.ir.analysis import strip_parens
from xpiler.ir.dependence import LoopAccesses, Obstacle

from .base import ModulePass, PassError
from .cleanup import declared_in, names_in
from .loop_fuse import check_fusion, joint_kind, next_loop, sibling_bodies
from .loop_split import LoopSite, find_loop, fresh, loop_params, loop_sites, printed
from .registry import register


def contract_loops(module: ir.Module, var: str, *, buffer: str = "", function: str = "", nth: int = 0) -> ir.Module:
    """``module`` with the loop over ``var`` merged into the next loop and their temporary contracted."""
    producer = find_loop(module, "loop-contraction", var, function, nth)
    consumer = next_loop(producer, "loop-contraction")
    body1, body2 = sibling_bodies(producer, consumer, "loop-contraction")
    temporary = _temporary(producer, body1, body2, buffer)
    declaration = _declaration(producer, temporary, consumer)
    first, element = _first_write(body1, temporary, var)
    for body in (body1, body2):
        for n in ir.walk(body):
            if isinstance(n, ir.Index) and strip_parens(n.base) == ir.Name(temporary) \
                    and printed(n.index) != printed(element):
                raise PassError(f"loop-contraction: `{temporary}` is accessed at {printed(n)}, not only at the "
                                f"element {temporary}[{printed(element)}] the producer writes")
    _check_one_iteration_per_element(producer, temporary, element)
    check_fusion(producer, ir.For(producer.loop.init, producer.loop.cond, producer.loop.step,
                                  ir.Block((body1, body2)), producer.loop.kind), "loop-contraction")
    scalar = _contract(body1, temporary, declaration, first)
    rest = _contract(body2, temporary, declaration, None)
    merged = _merge(producer, scalar, rest, temporary)
    fused = ir.For(producer.loop.init, producer.loop.cond, producer.loop.step, merged,
                   joint_kind(producer.loop, consumer.loop))
    return _drop_declaration(producer.replace(fused, remove=consumer.loop), producer.function.name, temporary)


def arrays_written(node) -> set[str]:
    """Arrays indexed by name that ``node`` assigns elements of (``T[e] = ...``)."""
    return {strip_parens(n.target.base).id for n in ir.walk(node)
            if isinstance(n, ir.Assign) and isinstance(n.target, ir.Index)
            and isinstance(strip_parens(n.target.base), ir.Name)}


def local_arrays(function: ir.Function) -> set[str]:
    """Arrays declared in ``function``'s body."""
    return {v.name for n in ir.walk(function.body) if isinstance(n, ir.Decl) for v in n.vars if v.dims}


def candidates(body1, body2) -> list[str]:
    """Arrays indexed by name that the producer writes and the consumer reads."""
    written = arrays_written(body1)
    read = {strip_parens(n.base).id for n in ir.walk(body2)
            if isinstance(n, ir.Index) and isinstance(strip_parens(n.base), ir.Name)}
    return sorted(written & read)


def _temporary(producer: LoopSite, body1, body2, buffer: str) -> str:
    found = candidates(body1, body2)
    if buffer:
        if buffer not in found:
            raise PassError(f"loop-contraction: `{buffer}` is not written by the loop over `{producer.var}` and "
                            "read by the next loop")
        return buffer
    if not found:
        raise PassError(f"loop-contraction: no array is written by the loop over `{producer.var}` and read by "
                        "the next loop")
    if len(found) > 1:
        raise PassError(f"loop-contraction: several arrays pass between the loops ({', '.join(found)}); name one "
                        "with buffer=")
    return found[0]


def _declaration(producer: LoopSite, temporary: str, consumer: LoopSite) -> ir.Declarator:
    """The local array declaration of the temporary, after checking nothing else uses it."""
    if any(p.name == temporary for p in producer.function.params):
        raise PassError(f"loop-contraction: `{temporary}` is a parameter of {producer.function.name}, used "
                        "outside the loops")
    found = [v for n in ir.walk(producer.function.body) if isinstance(n, ir.Decl) for v in n.vars
             if v.name == temporary]
    if len(found) != 1 or not found[0].dims:
        raise PassError(f"loop-contraction: `{temporary}` is not an array declared once in "
                        f"{producer.function.name}")
    uses = sum(isinstance(n, ir.Name) and n.id == temporary for n in ir.walk(producer.function.body))
    inside = sum(isinstance(n, ir.Name) and n.id == temporary
                 for loop in (producer.loop, consumer.loop) for n in ir.walk(loop))
    if uses != inside or found[0].init is not None:
        raise PassError(f"loop-contraction: `{temporary}` is used outside the two loops")
    return found[0]


def _first_write(body1: ir.Block, temporary: str, var: str) -> tuple[int, ir.Expr]:
    """``(position, index expression)`` of the producer's first statement touching the temporary,
    which must be ``T[e] = value;``."""
    for k, s in enumerate(body1.body):
        if temporary not in names_in(s):
            continue
        e = s.expr if isinstance(s, ir.ExprStmt) else None
        if isinstance(e, ir.Assign) and e.op == "=" and isinstance(e.target, ir.Index) \
                and strip_parens(e.target.base) == ir.Name(temporary) and temporary not in names_in(e.value) \
                and temporary not in names_in(e.target.index):
            return k, e.target.index
        break
    raise PassError(f"loop-contraction: the first use of `{temporary}` in the loop over `{var}` is not an "
                    f"unconditional statement `{temporary}[e] = value;`")


def _check_one_iteration_per_element(producer: LoopSite, temporary: str, element: ir.Expr) -> None:
    probe = ir.For(producer.loop.init, producer.loop.cond, producer.loop.step,
                   ir.Block((ir.ExprStmt(ir.Assign(ir.Index(ir.Name(temporary), element), "=", ir.Const("0", 0))),)),
                   producer.loop.kind)
    try:
        found = LoopAccesses(probe, env=producer.env).conflict(lambda v1, v2: v1[producer.var] != v2[producer.var])
    except Obstacle as reason:
        raise PassError(f"loop-contraction: {reason}") from None
    if found is not None:
        raise PassError(f"loop-contraction: two iterations write the same element {temporary}[{printed(element)}] "
                        f"({producer.var} = {found.first_at[producer.var]} and {found.second_at[producer.var]})")


def _contract(body: ir.Block, temporary: str, declaration: ir.Declarator, first: int | None) -> ir.Block:
    """The body with ``T[e]`` read as the scalar ``T``; the statement at ``first`` (the first write)
    declares it."""
    def scalar(n):
        if isinstance(n, ir.Index) and strip_parens(n.base) == ir.Name(temporary):
            return ir.Name(temporary)
        return n
    stmts = list(body.body)
    if first is not None:
        position = first
        value = stmts[position].expr.value
        element_type = replace(declaration.type, quals=tuple(q for q in declaration.type.quals if q != "const"))
        stmts[position] = ir.Decl((ir.Declarator(temporary, element_type, (), ir.rewrite(value, scalar)),))
        return ir.Block(tuple(ir.rewrite(s, scalar) if k != position else s for k, s in enumerate(stmts)))
    return ir.rewrite(body, scalar)


def _merge(producer: LoopSite, first: ir.Block, second: ir.Block, temporary: str) -> ir.Block:
    """One block: names the consumer declares that the producer also declares are renamed, and so are
    the producer's own locals that the consumer uses for something else."""
    taken = producer.names()
    clashing = (declared_in(second.body) & declared_in(first.body)) - {temporary}
    second = ir.rename(second, {n: fresh(n, taken) for n in clashing})
    captured = (declared_in(first.body) - {temporary}) & names_in(second)
    first = ir.rename(first, {n: fresh(n, taken) for n in captured})
    return ir.Block(first.body + second.body)


def _drop_declaration(module: ir.Module, function: str, temporary: str) -> ir.Module:
    def one(n):
        if isinstance(n, ir.Block):
            body = []
            for s in n.body:
                if isinstance(s, ir.Decl) and any(v.name == temporary and v.dims for v in s.vars):
                    kept = tuple(v for v in s.vars if v.name != temporary)
                    if kept:
                        body.append(replace(s, vars=kept))
                else:
                    body.append(s)
            return ir.Block(tuple(body)) if len(body) != len(n.body) or body != list(n.body) else n
        return n

    def item(i):
        if isinstance(i, ir.Function) and i.name == function and i.body is not None:
            return replace(i, body=ir.rewrite(i.body, one))
        if isinstance(i, ir.ExternC):
            return replace(i, items=tuple(item(x) for x in i.items))
        return i
    return replace(module, items=tuple(item(i) for i in module.items))


@register
@dataclass(frozen=True)
class LoopContraction(ModulePass):
    """Merge a producer loop into its consumer and contract their temporary array to a scalar."""

    name: ClassVar[str] = "loop-contraction"
    summary: ClassVar[str] = "a producer loop merges into its consumer, the temporary array becomes a scalar"

    loop: str = ""
    buffer: str = ""
    function: str = ""
    nth: int = 0

    def apply(self, module: ir.Module) -> ir.Module:
        return contract_loops(module, self.loop, buffer=self.buffer, function=self.function, nth=self.nth)

    @classmethod
    def schedule_space(cls, module) -> Iterator["LoopContraction"]:
        """Every loop followed by a loop with the same bounds through a local array (legality is
        checked when applied)."""
        for site in loop_sites(module):
            try:
                following = next_loop(site, cls.name)
                bodies = sibling_bodies(site, following, cls.name)
            except PassError:
                continue
            local = local_arrays(site.function)
            found = [t for t in candidates(*bodies) if t in local]
            for temporary in found:
                yield cls(**loop_params(site), **({"buffer": temporary} if len(found) > 1 else {}))
