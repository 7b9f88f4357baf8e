"""GEMM nests on NRAM become ``__bang_matmul`` (part of ``tensorize{target=bang}``).

A task's nest over the elements of a product of two NRAM matrices::

    for (int m = 0; m < M; ++m)
      for (int n = 0; n < N; ++n) {
        float acc = 0;                               // or: = C[c]
        for (int k = 0; k < K; ++k)
          acc += (float)A[a] * (float)B[b];
        C[c] = acc;
      }

computes what the registry's ``bang.matmul`` describes (``dst[m][n] = sum_k a[m][k] * b[n][k]``), once
``A``'s block is an M x K row-major NRAM matrix and ``B``'s an N x K one in WRAM (``__bang_matmul``
reads its weights column-major from WRAM, which has no scalar access)::

    {
      __nram__ half __xp_mm_a[M * K];      // only when A's block is not row-major and dense already
      __wram__ half __xp_mm_b[N * K];
      __nram__ float __xp_mm_c[M * N];
      __memcpy(__xp_mm_a, &A[a0], ...);    // strided DMA: rows, then elements, as A's subscript says
      __memcpy(__xp_mm_b, &B[b0], ...);    // (or __bang_transpose in NRAM, then one copy to WRAM)
      __bang_matmul(__xp_mm_c, __xp_mm_a, __xp_mm_b, M, K, N);
      for (m) for (n) C[c] = __xp_mm_c[m * N + n];    // or C[c] = C[c] + ..., in the source's order
    }

Matched by meaning: ``A`` and ``B`` are ``__nram__`` arrays of one element type (``half`` or
``float``; products in ``float`` as the source forms them: no precision is lowered), their subscripts
affine in (m, k) and (k, n) with constant coefficients and an offset invariant in the nest, M, N and K
constants, the accumulator a ``float`` that starts at zero or at the element it is stored to. The
sum's order is the matrix unit's (the stance WMMA and MFMA take on CUDA and HIP). ``C`` may be any
array element the source stores to (written back in the source's order, so repeated elements chain
as they did), but not a pointer that could reach ``A`` or ``B``. The staging buffers stay within the
NRAM and WRAM capacities (bang.md); anything else is left as it was.
"""

from __future__ import annotations

from dataclasses import replace

from xpiler import ir
from xpiler.ir.analysis import statements, strip_parens, without_parens
from xpiler.ir.effects import used_names
from xpiler.ir.types import canonical_base, is_integer, is_unsigned, sizeof

from .bind import NRAM_LIMIT, buffer_bytes
from .loop_split import is_const, substitute
from .tensorize import _accumulation, _coefficient, _without_zeros, constant
from .tensorize_simt import _stored

#: bang.md: 1 MB of WRAM per core, 512 KB on MLU290: the smaller, less what the compiler keeps
WRAM_LIMIT = 512 * 1024 - 8 * 1024
_OPERAND_TYPES = ("half", "float")


def counted_loop(loop) -> tuple[str, ir.Expr, ir.Expr] | None:
    """``(var, start, stop)`` of ``for (int var = start; var < stop; ++var)`` with a signed counter
    (with an unsigned one, ``i < n`` compares ``n`` converted: a negative ``n`` is huge)."""
    canon = loop.canonical() if isinstance(loop, ir.For) else None
    if canon is None or not isinstance(loop.init, ir.Decl) or not is_integer(loop.init.vars[0].type) or \
            is_unsigned(loop.init.vars[0].type):
        return None
    var, start, stop, step = canon
    if strip_parens(step) != ir.Const("1", 1) or not isinstance(loop.cond, ir.BinOp) or loop.cond.op != "<" \
            or strip_parens(loop.cond.left) != ir.Name(var):
        return None
    return var, start, stop


class Operand:
    """``X[offset + rows * r + cols * c]``: an NRAM array read as a matrix over the variables
    ``r`` and ``c`` (``rows``, ``cols``: element strides)."""

    def __init__(self, array, element: ir.Type, offset, rows: int, cols: int):
        self.array, self.element, self.offset, self.rows, self.cols = array, element, offset, rows, cols

    def first(self) -> ir.Expr:
        return ir.Name(self.array) if is_const(self.offset, 0) else \
            ir.UnOp("&", ir.Index(ir.Name(self.array), self.offset))


class MatmulNests:
    """Finds and rewrites GEMM nests for one kernel (``owner``: its BangTensorizer)."""

    def __init__(self, owner):
        self.owner = owner
        self.wram_bytes = buffer_bytes(owner.function, owner.constants, "wram", WRAM_LIMIT)

    def value(self, e) -> int | None:
        return constant(e, self.owner.constants)

    def extent(self, loop) -> tuple[str, int] | None:
        """``(var, extent)`` of ``for (int var = 0; var < extent; ++var)``, ``extent`` a non-zero
        constant."""
        counted = counted_loop(loop)
        if counted is None or self.value(counted[1]) != 0:
            return None
        extent = self.value(counted[2])
        return (counted[0], extent) if extent else None

    def rewrite(self, outer: ir.For) -> tuple | None:
        inner = _only(outer.body)
        loops = [self.extent(outer), self.extent(inner)]
        if None in loops:
            return None
        body = statements(inner.body)
        if len(body) != 3:
            return None
        acc_decl, reduction, store = body
        acc = _accumulator(acc_decl)
        counted = self.extent(reduction)
        if acc is None or counted is None:
            return None
        k, depth = counted
        update = _accumulation(_only(reduction.body)) if len(statements(reduction.body)) == 1 else None
        if update is None or strip_parens(update[0]) != ir.Name(acc.name):
            return None
        _, x, x_index, y, y_index, cast = update
        stored = _stored(store, acc.name)
        target = ir.Index(*stored) if stored is not None else None
        if target is None or not self.initial_value_fits(acc, target):
            return None
        (u, rows_u), (v, rows_v) = loops
        names = {u, v, k}
        x_op, y_op = self.operand(x, x_index, names, cast), self.operand(y, y_index, names, cast)
        if x_op is None or y_op is None or x_op[0].name == y_op[0].name or \
                not self.writable(target, {x_op[0].name, y_op[0].name}, {acc.name, k}):
            return None
        roles = self.roles(x_op[2], y_op[2], u, v, k)
        if roles is None:
            return None
        first, (m, n) = roles
        (a, a_offset, a_coef), (b, b_offset, b_coef) = (x_op, y_op) if first == 0 else (y_op, x_op)
        extents = {u: rows_u, v: rows_v}
        a_mat = Operand(a.name, a.element, a_offset, a_coef.get(m, 0), a_coef.get(k, 0))
        b_mat = Operand(b.name, b.element, b_offset, b_coef.get(n, 0), b_coef.get(k, 0))
        return self.emit(outer, inner, (m, n), (extents[m], extents[n], depth), a_mat, b_mat, target,
                         zero=acc.init_zero)

    # -- the match -------------------------------------------------------------------------------
    def operand(self, array, index, names: set, cast):
        """``(array, offset, {var: coefficient})`` of an NRAM array read at an affine subscript with
        constant non-negative coefficients and an offset free of the nest's names."""
        array = strip_parens(array)
        if not isinstance(array, ir.Name) or array.id not in self.owner.arrays:
            return None
        known = self.owner.arrays[array.id]
        if known.memory != "nram" or known.element.base not in _OPERAND_TYPES:
            return None
        # half operands must be converted to float before the product (half * half rounds to half)
        product = canonical_base(cast.base) if cast is not None and not cast.pointer else known.element.base
        if cast is not None and cast.pointer or product != "float":
            return None
        affine = self.affine(index, names)
        if affine is None or any(c < 0 for c in affine[1].values()):
            return None
        return (known, *affine)

    def affine(self, index, names: set):
        """``(offset, {var: coefficient})`` with ``index == offset + sum(coefficient * var)`` over
        ``names``, constant coefficients and an offset free of ``names``, else None."""
        coefficients = {}
        for w in names:
            c = _coefficient(index, w, self.owner.constants)
            if c is None:
                return None
            if c:
                coefficients[w] = c
        offset = _without_zeros(substitute(index, {w: ir.Const("0", 0) for w in names}))
        if used_names(ir.ExprStmt(offset)) & names:
            return None
        return offset, coefficients

    @staticmethod
    def roles(x: dict, y: dict, u: str, v: str, k: str):
        """``(0 or 1, (m, n))``: which operand is A (indexed by m and k) and which loop is m."""
        for first, (a, b) in enumerate(((x, y), (y, x))):
            for m, n in ((u, v), (v, u)):
                if not a.get(n) and not b.get(m) and a.get(m) and b.get(n) and a.get(k) and b.get(k):
                    return first, (m, n)
        return None

    @staticmethod
    def initial_value_fits(acc, target) -> bool:
        return acc.init_zero or without_parens(acc.init) == without_parens(target)

    def writable(self, target: ir.Index, operands: set, scalars: set) -> bool:
        """``target`` is an element of an array other than the operands (not through a pointer that
        could reach them), at a subscript that reads no scalar the nest computes."""
        root = target
        while isinstance(root, ir.Index):
            root = strip_parens(root.base)
        if not isinstance(root, ir.Name) or root.id not in self.owner.array_names or root.id in operands:
            return False
        return not used_names(ir.ExprStmt(target)) & scalars

    # -- the rewrite -----------------------------------------------------------------------------
    def emit(self, outer, inner, mn, shape, a: Operand, b: Operand, target, zero: bool) -> tuple | None:
        (m, n), (M, N, K) = mn, shape
        size = sizeof(a.element)
        dense_a = a.cols == 1 and (a.rows == K or M == 1)
        nram = (0 if dense_a else M * K * size) + M * N * sizeof(ir.Type("float"))
        transposed = b.rows == 1 and (b.cols == N or K == 1)
        nram += N * K * size if transposed else 0
        wram = N * K * size
        if self.owner.nram_bytes + nram > NRAM_LIMIT or self.wram_bytes + wram > WRAM_LIMIT:
            return None
        self.owner.nram_bytes += nram
        self.wram_bytes += wram
        fresh = self.owner.fresh
        decls, stmts = [], []

        def buffer(base, element, count, scope):
            name = fresh(base)
            decls.append(ir.Decl((ir.Declarator(name, element, (ir.Const(str(count), count),)),), scope=scope))
            return ir.Name(name)

        lhs = a.first()
        if not dense_a:
            lhs = buffer("__xp_mm_a", a.element, M * K, "nram")
            stmts.append(_copy(lhs, a.first(), M, K, a.rows, a.cols, size, "NRAM2NRAM"))
        weights = buffer("__xp_mm_b", b.element, N * K, "wram")
        if transposed:
            staged = buffer("__xp_mm_bt", b.element, N * K, "nram")
            stmts.append(_call("__bang_transpose", "bang.transpose", staged, b.first(), _c(K), _c(N)))
            stmts.append(_call("__memcpy", "bang.memcpy", weights, staged, _c(N * K * size), ir.Name("NRAM2WRAM")))
        else:
            stmts.append(_copy(weights, b.first(), N, K, b.rows, b.cols, size, "NRAM2WRAM"))
        dense_c = self.dense_result(target, m, n, M, N)
        if dense_c is not None and zero:   # straight into C
            stmts.append(_call("__bang_matmul", "bang.matmul", dense_c, lhs, weights, _c(M), _c(K), _c(N)))
            return (ir.Block(tuple(decls) + tuple(stmts)),)
        result = buffer("__xp_mm_c", ir.Type("float"), M * N, "nram")
        stmts.append(_call("__bang_matmul", "bang.matmul", result, lhs, weights, _c(M), _c(K), _c(N)))
        if dense_c is not None:
            stmts.append(_call("__bang_add", "bang.add", dense_c, dense_c, result, _c(M * N)))
            return (ir.Block(tuple(decls) + tuple(stmts)),)
        element = ir.Index(result, ir.BinOp("+", ir.BinOp("*", ir.Name(m), _c(N)), ir.Name(n)))
        value = element if zero else ir.BinOp("+", target, element)
        store = ir.ExprStmt(ir.Assign(target, "=", value))
        drain = replace(outer, body=ir.Block((replace(inner, body=ir.Block((store,))),)))
        return (ir.Block(tuple(decls) + tuple(stmts) + (drain,)),)

    def dense_result(self, target, m: str, n: str, M: int, N: int):
        """``&C[c0]`` when ``target`` is ``C[c0 + N * m + n]`` of a float NRAM array, else None."""
        if not isinstance(target.base, ir.Name) or target.base.id not in self.owner.arrays:
            return None
        known = self.owner.arrays[target.base.id]
        if known.memory != "nram" or known.element.base != "float":
            return None
        affine = self.affine(target.index, {m, n})
        if affine is None:
            return None
        offset, coefficients = affine
        rows, cols = coefficients.get(m, 0), coefficients.get(n, 0)
        if cols != 1 or (rows != N and M > 1):
            return None
        return Operand(known.name, known.element, offset, rows, cols).first()


# ---- helpers ---------------------------------------------------------------------------------------
class _Accumulator:
    def __init__(self, name: str, init, init_zero: bool):
        self.name, self.init, self.init_zero = name, init, init_zero


def _accumulator(s) -> _Accumulator | None:
    """``float acc = 0;`` or ``float acc = <expression>;``."""
    if not (isinstance(s, ir.Decl) and len(s.vars) == 1):
        return None
    v = s.vars[0]
    if v.dims or v.init is None or v.type.pointer or canonical_base(v.type.base) != "float":
        return None
    init = strip_parens(v.init)
    return _Accumulator(v.name, init, isinstance(init, ir.Const) and init.value == 0)


def _only(s):
    body = statements(s)
    return body[0] if len(body) == 1 else None


def _c(v: int) -> ir.Const:
    return ir.Const(str(v), v)


def _call(function: str, intrinsic: str, *args) -> ir.ExprStmt:
    return ir.ExprStmt(ir.Call(ir.Name(function), tuple(args), intrinsic=intrinsic))


def _copy(dst, src, rows: int, cols: int, row_stride: int, col_stride: int, size: int, direction: str):
    """A DMA of a ``rows`` x ``cols`` matrix, read at element strides (``row_stride``,
    ``col_stride``), into ``dst`` dense and row-major."""
    if col_stride == 1 and (row_stride == cols or rows == 1):
        return _call("__memcpy", "bang.memcpy", dst, src, _c(rows * cols * size), ir.Name(direction))
    if col_stride == 1:   # rows of contiguous elements
        return _call("__memcpy", "bang.memcpy", dst, src, _c(cols * size), ir.Name(direction), _c(cols * size),
                     _c(row_stride * size), _c(rows - 1))
    # element by element: segments of one element, cols per row, rows of them
    return _call("__memcpy", "bang.memcpy", dst, src, _c(size), ir.Name(direction),
                 _c(size), _c(cols - 1), _c(cols * size), _c(rows - 1),
                 _c(col_stride * size), _c(cols - 1), _c(row_stride * size), _c(rows - 1))


def array_names(function: ir.Function) -> frozenset:
    """Names that are arrays, not pointers: pointer parameters (GDRAM, disjoint from the task's
    on-chip buffers) and arrays the function declares once."""
    params = {p.name for p in function.params if p.type.pointer == 1 and not p.dims}
    declared: dict[str, int] = {}
    pointers = set()
    for d in ir.walk(function.body):
        if isinstance(d, ir.Decl):
            for v in d.vars:
                declared[v.name] = declared.get(v.name, 0) + 1
                if not v.dims or v.type.pointer:
                    pointers.add(v.name)
    arrays = {name for name, times in declared.items() if times == 1 and name not in pointers}
    return frozenset((arrays - params) | (params - set(declared)))
