"""A task's memo of what it loaded last, dropped so that every unit loads (used by ``task-units``).

A BANG task walking its units keeps what it loaded for one unit while the next needs the same (mha
loads a head's K and V^T once for the query blocks of that head)::

    int loaded = -1;                            // the memo, in the task's prologue
    for (int u = u0; u < u1; ++u) {
      int bh = u / blocks;                      // the key
      float *k_head = K + bh * L * D;
      if (bh != loaded) {                       =>    {
        ... k_w[i] = k_head[i] ...                      ... k_w[i] = k_head[i] ...
        loaded = bh;                                  }
      }
      ... reads k_w ...

Units of a GPU block do not share a task's history, so the memo goes: each unit loads. **Exact**
when the load is a function of the key: it writes only buffers nothing else in the task writes (and
reads none of them), reads only memory the task does not write, scalars the units do not change
and scalars computed from the key and those; it assigns no scalar of its own but the memo. Then a
load skipped because the key is the memo's would have written the values already there (written by
the last load, for the same key, and not since). A key equal to the memo's initial value at the first
unit would have skipped a load into buffers nothing had written: the source read them uninitialised.
"""

from __future__ import annotations

from xpiler import ir
from xpiler.ir.analysis import strip_parens
from xpiler.ir.effects import assigned_scalars, declared_names, is_array_decl, is_pure_call, used_names

from .forward_copies import _Function, written_address


def without_memos(prologue: tuple, units: ir.For, fn: _Function) -> tuple[tuple, ir.For] | None:
    """``(prologue, units)`` with every memoised load of the unit loop run unconditionally and its
    memo's declaration gone; None when there is none or one is not a function of its key."""
    body = list(units.body.body) if isinstance(units.body, ir.Block) else [units.body]
    dropped = set()
    for k, s in enumerate(body):
        memo = _memo(s)
        if memo is None:
            continue
        name, key, load = memo
        if not _declared_in(prologue, name) or not _is_function_of_key(load, key, k, body, units, prologue, fn):
            return None
        if _uses(prologue, name) or _uses(body[:k] + body[k + 1:], name) or \
                _uses(load, name) or name in used_names(ir.ExprStmt(units.cond)):
            return None   # the memo read elsewhere: it carries something
        body[k] = ir.Block(load)
        dropped.add(name)
    if not dropped:
        return None
    kept = tuple(s for s in prologue if not (isinstance(s, ir.Decl) and {v.name for v in s.vars} <= dropped))
    return kept, ir.For(units.init, units.cond, units.step, ir.Block(tuple(body)), units.kind)


def _memo(s) -> tuple[str, str, tuple] | None:
    """``(memo, key, load)`` of ``if (key != memo) { load...; memo = key; }``."""
    if not isinstance(s, ir.If) or s.other is not None:
        return None
    cond = strip_parens(s.cond)
    then = list(s.then.body) if isinstance(s.then, ir.Block) else [s.then]
    if not isinstance(cond, ir.BinOp) or cond.op != "!=" or len(then) < 2:
        return None
    left, right = strip_parens(cond.left), strip_parens(cond.right)
    last = then[-1]
    if not (isinstance(left, ir.Name) and isinstance(right, ir.Name) and isinstance(last, ir.ExprStmt) and
            isinstance(last.expr, ir.Assign) and last.expr.op == "="):
        return None
    target, value = strip_parens(last.expr.target), strip_parens(last.expr.value)
    for key, memo in ((left, right), (right, left)):
        if target == memo and value == key:
            return memo.id, key.id, tuple(then[:-1])
    return None


def _declared_in(prologue: tuple, name: str) -> bool:
    return any(isinstance(s, ir.Decl) and not is_array_decl(s) and name in {v.name for v in s.vars} and
               all(v.init is None or not used_names(v.init) for v in s.vars) for s in prologue)


def _uses(stmts, name: str) -> bool:
    """Whether ``name`` is read or written in ``stmts`` other than by its declaration."""
    return any(isinstance(n, ir.Name) and n.id == name for s in stmts for n in ir.walk(s))


def _is_function_of_key(load: tuple, key: str, k: int, body: list, units: ir.For, prologue: tuple,
                        fn: _Function) -> bool:
    """Whether ``load`` (of the ``k``-th statement of the unit ``body``) computes the same for the same
    ``key`` (see the module)."""
    block = ir.Block(load)
    if any(isinstance(n, (ir.Jump, ir.Return, ir.Verbatim, ir.Barrier)) or
           (isinstance(n, ir.Call) and not is_pure_call(n)) for n in ir.walk(block)):
        return False
    own = declared_names(block)
    if assigned_scalars(block) - own:
        return False
    # the scalars it reads: not changed by the units, or computed from the key and such scalars
    unit_var = {v.name for v in units.init.vars} if isinstance(units.init, ir.Decl) else set()
    assigned, declared = assigned_scalars(ir.Block(tuple(body))), declared_names(ir.Block(tuple(body)))
    changing = assigned | unit_var
    values = {v.name: v.init for s in body[:k] if isinstance(s, ir.Decl) for v in s.vars}
    settled: set[str] = {key}

    def of_key(name: str, seen: frozenset) -> bool:
        if name in settled:
            return True
        if name in values:
            init = values[name]
            ok = name not in changing and init is not None and name not in seen and \
                all(of_key(n, seen | {name}) for n in used_names(init))
        else:
            ok = name not in changing and name not in declared
        if ok:
            settled.add(name)
        return ok
    if key in assigned:
        return False
    if not all(of_key(n, frozenset()) for n in used_names(block) - own):
        return False
    # memory: what it writes, only it writes (and only stores into); what it reads, nothing writes
    written = written_roots(block, fn)
    elsewhere = written_roots(ir.Block(prologue + tuple(body[:k] + body[k + 1:])), fn)
    if written is None or elsewhere is None or written & elsewhere or not written:
        return False
    for n in ir.walk(block):
        address = accessed_address(n)
        if address is None:
            continue
        root = fn.root(address)
        if root is None or (root in written and not _is_store_target(block, n)) or root in elsewhere:
            return False
    return True


def written_roots(node, fn: _Function) -> set[str] | None:
    """The arrays (parameters, local arrays) ``node`` writes into; None when one is not known."""
    roots = set()
    for n in ir.walk(node):
        if isinstance(n, ir.Call) and not is_pure_call(n):
            return None
        base = written_address(n)
        if base is not None:
            root = fn.root(base)
            if root is None:
                return None
            roots.add(root)
    return roots


def accessed_address(n) -> ir.Expr | None:
    """The address node ``n`` loads or stores through (``a`` of ``a[e]``, the row of ``a[i][j]``
    once; ``p`` of ``*p``), or None."""
    if isinstance(n, ir.Index) and not isinstance(strip_parens(n.base), ir.Index):
        return n.base
    return n.operand if isinstance(n, ir.UnOp) and n.op == "*" else None


def _is_store_target(block, node) -> bool:
    """Whether ``node`` is the target of a plain ``=`` store in ``block`` (read nowhere)."""
    return any(isinstance(n, ir.Assign) and n.op == "=" and strip_parens(n.target) is node for n in ir.walk(block))
