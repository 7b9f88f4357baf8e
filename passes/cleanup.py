"""Shared machinery of the clean-up passes (``constant-fold``, ``dce``, ``simplify-index``) and of
detensorize, which runs them on the loop nests it instantiates.

:class:`ScopedRewriter` walks a module's functions statement by statement with a
:class:`~xpiler.ir.types.TypeEnv` that follows C scoping (file scope, parameters, blocks, ``for``
initialisers), and rewrites expressions bottom-up; each expression is visited knowing whether it is
used only as a truth value (an ``if``/loop condition, an operand of ``&&``/``||``/``!``, the
condition of ``?:``), where ``1`` and ``0`` may stand for any true/false value.

Also here: purity (:func:`is_pure`: no assignment, increment or call of an unknown function),
names read/written/declared in a tree, and :func:`cleanup_block`, the three clean-ups applied to a
list of statements (what detensorize uses).
"""

from __future__ import annotations

from dataclasses import replace

from xpiler import ir
from xpiler.ir.types import TypeEnv

# Functions without side effects (results depend on their arguments only).
PURE_FUNCTIONS = {
    "expf", "exp", "logf", "log", "tanhf", "tanh", "powf", "pow", "sqrtf", "sqrt", "fmaxf", "fminf", "fmax", "fmin",
    "fabsf", "fabs", "erff", "erf", "sinf", "sin", "cosf", "cos", "floorf", "floor", "ceilf", "ceil", "roundf",
    "round", "rintf", "rint", "nearbyintf", "nearbyint", "truncf", "trunc", "fmaf", "fma", "exp2f", "exp2",
    "log2f", "log2", "ldexpf", "ldexp", "abs", "max", "min", "rsqrtf", "__expf", "__logf", "__powf", "__sinf",
    "__cosf", "__fdividef", "__saturatef", "__frcp_rn", "__half2float", "__float2half", "__float2half_rn",
    "__int2half_rn", "__hadd", "__hsub", "__hmul", "__hdiv", "__xp_from_double", "__xp_to_fix", "__xp_float2half",
    "__xp_lane16",
}
# The warp votes loop recovery emulates (xpiler.emitters.c_prelude): they read the votes of a warp's
# lanes and return a value, nothing else.
READING_FUNCTIONS = {"__xpiler_ballot", "__xpiler_any", "__xpiler_all"}


def is_pure(e) -> bool:
    """True when evaluating ``e`` has no side effect (reads of memory are allowed)."""
    for n in ir.walk(e):
        if isinstance(n, ir.Assign):
            return False
        if isinstance(n, ir.UnOp) and n.op in ("++", "--"):
            return False
        if isinstance(n, ir.Call):
            f = n.func
            if not (isinstance(f, ir.Name) and f.id.split("::")[-1] in PURE_FUNCTIONS | READING_FUNCTIONS):
                return False
        if isinstance(n, (ir.Launch, ir.RawExpr)):
            return False
    return True


def names_in(node) -> set[str]:
    """Every identifier read or written under ``node`` (including declared names)."""
    out = set()
    for n in ir.walk(node):
        if isinstance(n, ir.Name):
            out.add(n.id)
        elif isinstance(n, ir.Declarator):
            out.add(n.name)
        elif isinstance(n, ir.Param):
            out.add(n.name)
        elif isinstance(n, ir.Function):
            out.add(n.name)
        elif isinstance(n, (ir.Verbatim, ir.RawExpr)):
            import re
            out.update(re.findall(r"[A-Za-z_]\w*", n.text))
    return out


def declared_in(stmts) -> set[str]:
    """Names declared at the top level of a statement list."""
    out = set()
    for s in stmts:
        if isinstance(s, ir.Decl):
            out.update(v.name for v in s.vars)
    return out


def assigned_names(node) -> set[str]:
    """Names assigned as a whole (``x = ...``, ``x += ...``, ``x++``) or whose address is taken."""
    out = set()
    for n in ir.walk(node):
        target = None
        if isinstance(n, ir.Assign):
            target = n.target
        elif isinstance(n, ir.UnOp) and n.op in ("++", "--", "&"):
            target = n.operand
        while isinstance(target, ir.Paren):
            target = target.inner
        if isinstance(target, ir.Name):
            out.add(target.id)
    return out


def assigned_outside_headers(node) -> set[str]:
    """:func:`assigned_names`, leaving out the headers of canonical loops: a loop's own counter keeps
    its value within the loop's body."""
    def headless(n):
        return replace(n, init=None, step=None) if isinstance(n, ir.For) and n.canonical() is not None else n
    return assigned_names(ir.rewrite(node, headless))


def address_taken(node) -> set[str]:
    """Names whose address is taken (``&x``, ``&x[i]`` of a scalar's ... ) or bound to references."""
    out = set()
    for n in ir.walk(node):
        if isinstance(n, ir.UnOp) and n.op == "&":
            t = n.operand
            while isinstance(t, ir.Paren):
                t = t.inner
            if isinstance(t, ir.Name):
                out.add(t.id)
        if isinstance(n, ir.Declarator) and n.type.reference and n.init is not None:
            for m in ir.walk(n.init):
                if isinstance(m, ir.Name):
                    out.add(m.id)
    return out


class ScopedRewriter:
    """Rewrite a module function by function, statement by statement, keeping a TypeEnv.

    Subclasses override :meth:`visit_expr` (called bottom-up on every expression node with the
    environment and whether the value is only used as a truth value) and/or :meth:`visit_stmt`
    (called after a statement's parts were rewritten; returns the statements replacing it)."""

    def __init__(self):
        self.env: TypeEnv | None = None

    # ---- hooks ---------------------------------------------------------------------------------
    def visit_expr(self, e, env: TypeEnv, truth: bool):
        return e

    def visit_stmt(self, s, env: TypeEnv) -> list:
        return [s]

    def enter_function(self, f: ir.Function) -> None:
        """Called before ``f``'s body is rewritten (for facts about the whole function)."""

    def visit_function(self, f: ir.Function) -> ir.Function:
        return f

    # ---- traversal -----------------------------------------------------------------------------
    def module(self, m: ir.Module) -> ir.Module:
        self.env = TypeEnv.for_module(m)
        items = tuple(self._top(i) for i in m.items)
        return replace(m, items=items)

    def _top(self, item):
        if isinstance(item, ir.ExternC):
            return replace(item, items=tuple(self._top(i) for i in item.items))
        if isinstance(item, ir.Function) and item.body is not None:
            self.enter_function(item)
            env = self.env.for_function(item)
            body = self.block(item.body, env)
            return self.visit_function(replace(item, body=body))
        return item

    def block(self, b: ir.Block, env: TypeEnv) -> ir.Block:
        inner = env.child()
        return ir.Block(tuple(self.stmts(b.body, inner)))

    def stmts(self, body, env: TypeEnv) -> list:
        out = []
        for s in body:
            out.extend(self.stmt(s, env))
        return out

    def body(self, s, env: TypeEnv):
        """A loop/if body: one statement (a Block when rewriting produced several)."""
        if isinstance(s, ir.Block):
            return self.block(s, env)
        out = self.stmt(s, env.child())
        if len(out) == 1:
            return out[0]
        return ir.Block(tuple(out))

    def stmt(self, s, env: TypeEnv) -> list:
        if isinstance(s, ir.Block):
            s = self.block(s, env)
        elif isinstance(s, ir.Decl):
            vars_ = []
            for d in s.vars:
                init = self.expr(d.init, env) if d.init is not None else None
                dims = tuple(self.expr(x, env) if x is not None else None for x in d.dims)
                ctor = tuple(self.expr(a, env) for a in d.ctor_args) if d.ctor_args is not None else None
                vars_.append(replace(d, init=init, dims=dims, ctor_args=ctor))
                env.declare(d.name, d.type, d.dims)
            s = replace(s, vars=tuple(vars_))
        elif isinstance(s, ir.ExprStmt):
            s = replace(s, expr=self.expr(s.expr, env))
        elif isinstance(s, ir.If):
            s = replace(s, cond=self.expr(s.cond, env, truth=True), then=self.body(s.then, env),
                        other=self.body(s.other, env) if s.other is not None else None)
        elif isinstance(s, ir.For):
            inner = env.child()
            init = None
            if s.init is not None:
                got = self.stmt(s.init, inner)
                init = got[0] if len(got) == 1 else s.init
            cond = self.expr(s.cond, inner, truth=True) if s.cond is not None else None
            step = self.expr(s.step, inner) if s.step is not None else None
            s = replace(s, init=init, cond=cond, step=step, body=self.body(s.body, inner))
        elif isinstance(s, ir.While):
            s = replace(s, cond=self.expr(s.cond, env, truth=True), body=self.body(s.body, env))
        elif isinstance(s, ir.Return) and s.value is not None:
            s = replace(s, value=self.expr(s.value, env))
        return self.visit_stmt(s, env)

    def expr(self, e, env: TypeEnv, truth: bool = False):
        if e is None:
            return None
        if isinstance(e, ir.BinOp) and e.op in ("&&", "||"):
            e = replace(e, left=self.expr(e.left, env, True), right=self.expr(e.right, env, True))
        elif isinstance(e, ir.UnOp) and e.op == "!":
            e = replace(e, operand=self.expr(e.operand, env, True))
        elif isinstance(e, ir.Ternary):
            e = replace(e, cond=self.expr(e.cond, env, True), then=self.expr(e.then, env, truth),
                        other=self.expr(e.other, env, truth))
        elif isinstance(e, ir.Paren):
            e = replace(e, inner=self.expr(e.inner, env, truth))
        else:
            e = ir.map_children(e, lambda c: self.expr(c, env) if isinstance(c, ir.Expr) else c)
        return self.visit_expr(e, env, truth)


def cleanup_block(stmts: list, env: TypeEnv) -> list:
    """Constant folding, index simplification and dead-code removal on a statement list in ``env``
    (what detensorize applies to the loop nests it instantiates)."""
    from .constant_fold import Folder
    from .dce import remove_dead
    from .simplify_index import Simplifier
    block = ir.Block(tuple(stmts))
    for rewriter in (Folder(), Simplifier()):
        rewriter.env = env
        block = rewriter.block(block, env)
    return list(remove_dead(block).body)
