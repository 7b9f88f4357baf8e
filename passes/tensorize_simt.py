"""Tensorize for CUDA and HIP: a block's thread loop over the elements of an fp16 GEMM becomes tiles
of the matrix units (WMMA on CUDA; on HIP, MFMA: ``TileGemms.mfma_tiles``).

``bind{target=cuda}`` spreads a GEMM nest over the block's threads, one element of C per iteration::

    for (long long t = threadIdx.x; t < M * N; t += blockDim.x) {
      int i = (int)(t / N);
      int j = (int)(t % N);
      double acc = 0;
      for (int p = 0; p < K; ++p)
        acc += (double)A[i * K + p] * (double)B[j * K + p];
      C[i * N + j] = (float)acc;
    }

With ``A`` and ``B`` of ``half`` and ``C`` of ``float``, the same tiles of C are computed by the tensor
cores, one warp per tile (``wmma::mma_sync``, fp16 products summed in fp32 as WMMA does: the source is
fp16 already, so no precision is lowered; the sum's order is the tensor cores'). Matched by meaning:
the layouts of A, B and C (row or column major) and their leading dimensions are read off the index
polynomials; M, N and K must be constants that the tile shape divides (16x16, 32x8 or 8x32 tiles of C,
K in steps of 16), the leading dimensions multiples of 16 bytes and every tile's first element
32-byte aligned (CUDA's rules), given the array's start is: that, and a block of whole warps, is
checked when the kernel runs, the thread loop as it was otherwise. The loop must not be under a
condition that depends on the thread, nor in a kernel where a thread may ``return`` (or ``goto``)
under one: every lane of a warp takes part in ``mma_sync``.

On HIP (CDNA) the same match gives one 64-lane wavefront per 16x16 tile of C through
``__builtin_amdgcn_mfma_f32_16x16x16f16``: each lane reads its elements with the source's subscripts,
so neither layouts nor alignment matter, and elements outside M, N or K read as 0 and are not stored,
so any shape tiles; the run-time check is a block of whole wavefronts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from xpiler import ir
from xpiler.ir.analysis import strip_parens
from xpiler.ir.effects import used_names
from xpiler.ir.types import TypeEnv, canonical_base

from .loop_split import body_statements, printed, substitute
from .tensorize import _accumulation, _coefficient, _name, _without_zeros, constant

_TILES = ((16, 16), (32, 8), (8, 32))   # (rows, columns) of C per warp; K steps of 16
_HALF = ("half", "__half")
_W = "nvcuda::wmma::"


@dataclass(frozen=True)
class Operand:
    array: ir.Expr
    index: ir.Expr            # the subscript as written, over the GEMM's variables
    coefficients: dict        # variable -> constant coefficient in the subscript
    element: str

    def layout(self, rows: str, cols: str) -> tuple[str, int] | None:
        """``("row_major", ld)`` or ``("col_major", ld)`` of this operand as a ``rows`` x ``cols``
        matrix, or None."""
        r, c = self.coefficients.get(rows, 0), self.coefficients.get(cols, 0)
        if c == 1 and r > 0:
            return "row_major", r
        if r == 1 and c > 0:
            return "col_major", c
        return None

    def at(self, values: dict) -> ir.Expr:
        return ir.UnOp("&", ir.Index(self.array, substitute(self.index, values)))


class TileGemms:
    """Rewrites the thread loops of one kernel (``env``: its names' types; ``constants``: macros) into
    WMMA tiles (``target`` cuda) or MFMA tiles (hip)."""

    def __init__(self, env: TypeEnv, constants: dict, target: str = "cuda"):
        self.env, self.constants, self.target = env, constants, target

    def kernel(self, body: ir.Block) -> ir.Block:
        divergent = frozenset(_thread_names(body))
        if _thread_exits(body, divergent, False):
            return body   # a thread may have left: a warp may not be whole at the tiles
        return self.block(body, thread_dependent=False, divergent=divergent)

    def block(self, b: ir.Block, thread_dependent: bool, divergent: frozenset) -> ir.Block:
        return replace(b, body=tuple(self.statement(s, thread_dependent, divergent) for s in b.body))

    def statement(self, s, under_thread_condition: bool, divergent: frozenset):
        if isinstance(s, ir.For):
            if not under_thread_condition:
                tiled = self.thread_gemm(s)
                if tiled is not None:
                    return tiled
            inner = under_thread_condition or _thread_dependent(_header(s), divergent)
            return replace(s, body=self.statement(s.body, inner, divergent))
        if isinstance(s, ir.Block):
            return self.block(s, under_thread_condition, divergent)
        if isinstance(s, (ir.If, ir.While)):
            inner = under_thread_condition or _thread_dependent(_header(s), divergent)
            if isinstance(s, ir.While):
                return replace(s, body=self.statement(s.body, inner, divergent))
            return replace(s, then=self.statement(s.then, inner, divergent),
                           other=self.statement(s.other, inner, divergent) if s.other is not None else None)
        return s

    # -- the match -------------------------------------------------------------------------------
    def value(self, e) -> int | None:
        return constant(e, self.constants)

    def thread_gemm(self, loop: ir.For):
        c = loop.canonical()
        if c is None:
            return None
        t, start, stop, step = c
        if not (_is_builtin(start, "threadIdx") and _is_builtin(step, "blockDim")):
            return None
        extent = self.value(stop)
        body = body_statements(loop)
        if extent is None or len(body) != 5:
            return None
        rows, cols, acc_decl, reduction, store = body
        split = self.delinearized(rows, cols, t)
        if split is None:
            return None
        (u, v), width = split
        if extent % width:
            return None
        extents = {u: extent // width, v: width}
        acc = _zero_accumulator(acc_decl)
        if acc is None:
            return None
        rc = reduction.canonical() if isinstance(reduction, ir.For) else None
        if rc is None or self.value(rc[1]) != 0 or self.value(rc[3]) != 1 or len(body_statements(reduction)) != 1:
            return None
        p, depth = rc[0], self.value(rc[2])
        update = _accumulation(body_statements(reduction)[0])
        if depth is None or (depth % 16 and self.target == "cuda") or update is None or \
                strip_parens(update[0]) != ir.Name(acc):
            return None
        _, x, x_index, y, y_index, cast = update
        if cast is None or canonical_base(cast.base) not in ("float", "double"):
            return None   # half * half would round each product to half
        target = _stored(store, acc)
        if target is None:
            return None
        z, z_index = target
        names = {u, v, p}
        operands = [self.operand(a, i, names) for a, i in ((x, x_index), (y, y_index), (z, z_index))]
        if None in operands:
            return None
        a, b, out = operands
        if a.element not in _HALF or b.element not in _HALF or out.element != "float" or \
                len({_name(x), _name(y), _name(z)}) != 3:
            return None
        m = next((w for w in (u, v) if a.coefficients.get(w) and not b.coefficients.get(w)), None)
        n = v if m == u else u
        if m is None or not b.coefficients.get(n) or a.coefficients.get(n) or any(
                set(o.coefficients) - {m, n, p} for o in operands) or out.coefficients.get(p):
            return None
        if self.target == "hip":
            return self.mfma_tiles(loop, extents, (m, n, p), (a, b, out), depth)
        layouts = a.layout(m, p), b.layout(p, n), out.layout(m, n)
        if None in layouts:
            return None
        tile = self.tile(extents[m], extents[n], layouts, (a, b, out), (m, n, p))
        if tile is None:
            return None
        return self.tiled(loop, tile, extents, (m, n, p), (a, b, out), layouts, depth)

    def delinearized(self, first, second, t: str):
        """``((u, v), D)`` of ``int u = t / D; int v = t % D;`` (either order), D a constant."""
        found = {}
        for s in (first, second):
            if not (isinstance(s, ir.Decl) and len(s.vars) == 1 and s.vars[0].init is not None and not s.vars[0].dims):
                return None
            e = _uncast(s.vars[0].init)
            if not (isinstance(e, ir.BinOp) and e.op in "/%" and _uncast(e.left) == ir.Name(t)):
                return None
            d = self.value(e.right)
            if d is None or d <= 0 or e.op in found:
                return None
            found[e.op] = (s.vars[0].name, d)
        if found.keys() != {"/", "%"} or found["/"][1] != found["%"][1]:
            return None
        return (found["/"][0], found["%"][0]), found["%"][1]

    def operand(self, array, index, names: set) -> Operand | None:
        if not isinstance(strip_parens(array), ir.Name):
            return None
        element = self.env.element_type(array)
        if element is None or element.pointer:
            return None
        coefficients = {}
        for w in names:
            k = _coefficient(index, w, self.constants)
            if k is None or k < 0:
                return None
            if k:
                coefficients[w] = k
        if used_names(ir.ExprStmt(substitute(index, {w: ir.Const("0", 0) for w in names}))) & names:
            return None
        return Operand(strip_parens(array), index, coefficients, canonical_base(element.base))

    def tile(self, rows: int, cols: int, layouts, operands, names) -> tuple[int, int] | None:
        """The first tile shape dividing C whose tiles all start 32-byte aligned (given the arrays'
        starts are) with leading dimensions of whole 16 bytes."""
        m, n, p = names
        for tm, tn in _TILES:
            if rows % tm or cols % tn:
                continue
            steps = ({m: tm, p: 16}, {p: 16, n: tn}, {m: tm, n: tn})
            ok = True
            for operand, (_, ld), step in zip(operands, layouts, steps):
                size = 2 if operand.element in _HALF else 4
                ok &= ld * size % 16 == 0 and all(operand.coefficients.get(w, 0) * k * size % 32 == 0
                                                   for w, k in step.items())
            if ok:
                return tm, tn
        return None

    def tiled(self, loop, tile, extents, names, operands, layouts, depth) -> ir.Stmt:
        from xpiler.frontend.lift import lift
        m, n, p = names
        a, b, out = operands
        tm, tn = tile
        across = extents[n] // tn
        tiles = extents[m] // tm * across
        zero = {w: ir.Const("0", 0) for w in names}
        starts = [printed(_without_zeros(o.at(zero))) for o in operands]
        aligned = " && ".join(f"((unsigned long long)(const void *){s} & 31) == 0" for s in starts)
        at = {m: ir.Name("__xp_m0"), n: ir.Name("__xp_n0"), p: ir.Name("__xp_k")}
        a_at, b_at, c_at = (printed(_without_zeros(o.at(at))) for o in operands)
        frag = f"{_W}fragment<{_W}"
        position = f"__xp_m0 = __xp_w * {tm}, __xp_n0 = 0" if across == 1 else \
            f"__xp_m0 = __xp_w / {across} * {tm}, __xp_n0 = __xp_w % {across} * {tn}"
        text = f"""
        void __xp_tiles() {{
          if (blockDim.x % 32 == 0 && {aligned}) {{
            for (int __xp_w = (int)(threadIdx.x / 32); __xp_w < {tiles}; __xp_w += (int)(blockDim.x / 32)) {{
              const int {position};
              {frag}matrix_a, {tm}, {tn}, 16, {a.element}, {_W}{layouts[0][0]}> __xp_a;
              {frag}matrix_b, {tm}, {tn}, 16, {b.element}, {_W}{layouts[1][0]}> __xp_b;
              {frag}accumulator, {tm}, {tn}, 16, float> __xp_c;
              {_W}fill_fragment(__xp_c, 0.0f);
              for (int __xp_k = 0; __xp_k < {depth}; __xp_k += 16) {{
                {_W}load_matrix_sync(__xp_a, {a_at}, {layouts[0][1]});
                {_W}load_matrix_sync(__xp_b, {b_at}, {layouts[1][1]});
                {_W}mma_sync(__xp_c, __xp_a, __xp_b, __xp_c);
              }}
              {_W}store_matrix_sync({c_at}, __xp_c, {layouts[2][1]}, {_W}mem_{layouts[2][0]});
            }}
          }} else {{
          }}
        }}"""
        tiled = lift(text, "cuda").module.items[0].body.body[0]
        return replace(tiled, other=ir.Block((loop,)))


    def mfma_tiles(self, loop, extents, names, operands, depth) -> ir.Stmt:
        """One wavefront per 16x16 tile of C by ``__builtin_amdgcn_mfma_f32_16x16x16f16`` over K in steps
        of 16 (CDNA's lane layout: lane l holds A[l % 16][4 (l / 16) + i], B[4 (l / 16) + i][l % 16] and
        receives C[4 (l / 16) + i][l % 16]); elements outside M, N or K read as 0 and are not stored,
        so any shape tiles. The subscripts are the source's, at the lane's element."""
        from xpiler.frontend.lift import lift
        m, n, p = names
        a, b, out = operands
        rows, cols = extents[m], extents[n]
        across = -(-cols // 16)
        tiles = -(-rows // 16) * across
        row, col, k = ir.Name("__xp_row"), ir.Name("__xp_col"), ir.Name("__xp_kk")
        a_at = printed(ir.Index(a.array, substitute(a.index, {m: row, p: k})))
        b_at = printed(ir.Index(b.array, substitute(b.index, {p: k, n: col})))
        c_at = printed(ir.Index(out.array, substitute(out.index, {m: row, n: col})))
        text = f"""
        void __xp_tiles() {{
          if (blockDim.x % 64 == 0) {{
            for (int __xp_w = (int)(threadIdx.x / 64); __xp_w < {tiles}; __xp_w += (int)(blockDim.x / 64)) {{
              const int __xp_l = (int)(threadIdx.x % 64), __xp_m0 = __xp_w / {across} * 16, __xp_n0 = __xp_w % {across} * 16;
              __xp_floatx4 __xp_c = {{0.0f, 0.0f, 0.0f, 0.0f}};
              for (int __xp_k = 0; __xp_k < {depth}; __xp_k += 16) {{
                __xp_halfx4 __xp_a, __xp_b;
                for (int __xp_i = 0; __xp_i < 4; ++__xp_i) {{
                  const int __xp_kk = __xp_k + 4 * (__xp_l / 16) + __xp_i;
                  const int __xp_row = __xp_m0 + __xp_l % 16, __xp_col = __xp_n0 + __xp_l % 16;
                  __xp_a[__xp_i] = __xp_row < {rows} && __xp_kk < {depth} ? (_Float16)(float){a_at} : (_Float16)0.0f;
                  __xp_b[__xp_i] = __xp_col < {cols} && __xp_kk < {depth} ? (_Float16)(float){b_at} : (_Float16)0.0f;
                }}
                __xp_c = __builtin_amdgcn_mfma_f32_16x16x16f16(__xp_a, __xp_b, __xp_c, 0, 0, 0);
              }}
              for (int __xp_i = 0; __xp_i < 4; ++__xp_i) {{
                const int __xp_row = __xp_m0 + 4 * (__xp_l / 16) + __xp_i, __xp_col = __xp_n0 + __xp_l % 16;
                if (__xp_row < {rows} && __xp_col < {cols})
                  {c_at} = __xp_c[__xp_i];
              }}
            }}
          }} else {{
          }}
        }}"""
        tiled = lift(text, "hip").module.items[0].body.body[0]
        return replace(tiled, other=ir.Block((loop,)))


# The vector types of MFMA's operands, as CDNA code spells them (clang's vector_size extension).
MFMA_TYPES = ("using __xp_halfx4 = __attribute__((__vector_size__(4 * sizeof(_Float16)))) _Float16;\n"
              "using __xp_floatx4 = __attribute__((__vector_size__(4 * sizeof(float)))) float;")


def _uncast(e):
    e = strip_parens(e)
    while isinstance(e, ir.Cast):
        e = strip_parens(e.operand)
    return e


def _is_builtin(e, name: str) -> bool:
    e = _uncast(e)
    return isinstance(e, ir.Builtin) and e.name == name and e.axis == "x"


def _reads_thread(node) -> bool:
    return any(isinstance(x, ir.Builtin) and x.name in ("threadIdx", "__lane_id") for x in ir.walk(node))


def _thread_names(body) -> set[str]:
    """Names whose value may differ between the threads of a block: declared from ``threadIdx`` or
    from such names (followed to a fixed point)."""
    names: set[str] = set()
    while True:
        before = len(names)
        for d in ir.walk(body):
            if isinstance(d, ir.Decl):
                for v in d.vars:
                    if v.init is not None and (_reads_thread(v.init) or used_names(ir.ExprStmt(v.init)) & names):
                        names.add(v.name)
            elif isinstance(d, ir.Assign) and isinstance(strip_parens(d.target), ir.Name) and \
                    (_reads_thread(d.value) or used_names(ir.ExprStmt(d.value)) & names):
                names.add(strip_parens(d.target).id)
        if len(names) == before:
            return names


def _header(s) -> ir.Block:
    """What decides whether and how often the body of ``s`` (an ``if``, ``while`` or ``for``) runs."""
    parts = [s.init] if isinstance(s, ir.For) and s.init is not None else []
    parts += [ir.ExprStmt(e) for e in (s.cond, getattr(s, "step", None)) if e is not None]
    return ir.Block(tuple(parts))


def _thread_dependent(node, divergent: frozenset) -> bool:
    return bool(used_names(node) & divergent) or _reads_thread(node)


def _thread_exits(s, divergent: frozenset, under: bool) -> bool:
    """A ``return`` or ``goto`` under a condition that may differ between threads."""
    if isinstance(s, (ir.Return, ir.Verbatim)):
        return under and (isinstance(s, ir.Return) or "goto" in s.text or "return" in s.text)
    if isinstance(s, (ir.If, ir.While, ir.For)):
        inner = under or _thread_dependent(_header(s), divergent)
        children = (s.then, s.other) if isinstance(s, ir.If) else (s.body,)
        return any(_thread_exits(c, divergent, inner) for c in children if c is not None)
    if isinstance(s, ir.Block):
        return any(_thread_exits(c, divergent, under) for c in s.body)
    return False


def _zero_accumulator(s) -> str | None:
    if isinstance(s, ir.Decl) and len(s.vars) == 1 and not s.vars[0].dims and s.vars[0].init is not None and \
            canonical_base(s.vars[0].type.base) in ("float", "double") and not s.vars[0].type.pointer:
        init = strip_parens(s.vars[0].init)
        if isinstance(init, ir.Const) and init.value == 0:
            return s.vars[0].name
    return None


def _stored(s, acc: str):
    """``(array, index)`` of ``Z[index] = (float)acc;`` (or ``= acc``), else None."""
    if not (isinstance(s, ir.ExprStmt) and isinstance(s.expr, ir.Assign) and s.expr.op == "="):
        return None
    target, value = strip_parens(s.expr.target), strip_parens(s.expr.value)
    if isinstance(value, ir.Cast) and canonical_base(value.type.base) == "float" and not value.type.pointer:
        value = strip_parens(value.operand)
    if value != ir.Name(acc) or not isinstance(target, ir.Index):
        return None
    return target.base, target.index
