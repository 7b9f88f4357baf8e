"""Host entries (conventions.md, "Programs are self-contained and host-callable").

A translated program is callable as a C function with host pointers: its ``extern "C"`` host entry
allocates device memory, copies inputs in, launches, copies outputs back and frees. This module
builds that entry, as IR, for a kernel in each dialect:

* ``cuda`` / ``hip``: ``cudaMalloc``/``hipMalloc``, ``cudaMemcpy``, ``dim3`` grid and block, ``<<<>>>``;
* ``bang``: ``cnrtMalloc``, ``cnrtMemcpy``, a queue, ``cnrtDim3_t`` and the function type, ``<<<dim,
  ktype, queue>>>``;
* ``vnni``: the C function is its own host entry (no device memory).

Buffer sizes are given by the caller as element-count expressions over the entry's parameters
(deriving them from access ranges is the job of the symbolic analyses in ``xpiler.synth``).
"""

from __future__ import annotations

from dataclasses import replace

from .. import ir
from ..errors import TranslationError
from ..intrinsics import REGISTRY
from ..launch import Launch


def _name(id_: str) -> ir.Name:
    return ir.Name(id_)


def _int(value: int) -> ir.Const:
    return ir.Const(str(value), value)


def _call(func: str, *args) -> ir.ExprStmt:
    return ir.ExprStmt(ir.Call(_name(func), tuple(args)))


def root_pointer(expr) -> str | None:
    """The parameter name an address expression is based on (``A + i``, ``&A[i]``, ``(float *)A``)."""
    while True:
        if isinstance(expr, ir.Name):
            return expr.id
        if isinstance(expr, (ir.Paren,)):
            expr = expr.inner
        elif isinstance(expr, ir.Cast):
            expr = expr.operand
        elif isinstance(expr, ir.BinOp) and expr.op in ("+", "-"):
            expr = expr.left
        elif isinstance(expr, ir.Index):
            expr = expr.base
        elif isinstance(expr, ir.UnOp) and expr.op in ("&", "*"):
            expr = expr.operand
        else:
            return None


def written_pointers(function: ir.Function, module: ir.Module | None = None) -> set[str]:
    """Pointer parameters ``function`` may write: stores through them, intrinsic outputs, and (to be
    safe) any pointer passed to a call whose effects are unknown."""
    pointers = {p.name for p in function.params if p.type.is_pointer or p.dims}
    written: set[str] = set()
    for node in ir.walk(function):
        if isinstance(node, ir.Assign):
            root = root_pointer(node.target)
            if root in pointers and not isinstance(ir.analysis.strip_parens(node.target), ir.Name):
                written.add(root)
        elif isinstance(node, ir.UnOp) and node.op in ("++", "--"):
            root = root_pointer(node.operand)
            if root in pointers and not isinstance(node.operand, ir.Name):
                written.add(root)
        elif isinstance(node, ir.Call):
            if node.intrinsic is not None:
                intrinsic = REGISTRY[node.intrinsic]
                found = REGISTRY.spelling_of(intrinsic, node.func.id if isinstance(node.func, ir.Name) else "",
                                             len(node.args))
                order = found.order if found is not None else intrinsic.params
                targets = [a for p, a in zip(order, node.args) if p in intrinsic.writes]
                if intrinsic.kind in ("math", "convert", "sync", "warp", "reduce") and not intrinsic.writes:
                    targets = []
            else:
                targets = list(node.args)
            for arg in targets:
                root = root_pointer(arg)
                if root in pointers:
                    written.add(root)
    return written


def host_entry(kernel: ir.Function, dialect: str, *, sizes: dict[str, ir.Expr], launch: Launch | None = None,
               name: str | None = None, written: set[str] | None = None) -> ir.Function:
    """The ``extern "C"`` host entry that runs ``kernel`` on host pointers.

    ``sizes`` maps each pointer parameter to its element count (an expression over the parameters);
    ``written`` (default: :func:`written_pointers`) are copied back. The entry is named ``name``
    (default ``<kernel>_kernel``) and takes the kernel's parameter list.
    """
    name = name or f"{kernel.name}_kernel"
    params = tuple(replace(p, type=replace(p.type, ptr_quals=())) for p in kernel.params)
    if dialect == "vnni":
        return replace(kernel, name=name, extern_c=True, kind="host", params=params)
    pointers = [p for p in kernel.params if p.type.is_pointer]
    missing = [p.name for p in pointers if p.name not in sizes]
    if missing:
        raise TranslationError(f"host entry for {kernel.name}: no size for pointer parameter(s) {', '.join(missing)}")
    written = written_pointers(kernel) if written is None else written
    api = {"cuda": "cuda", "hip": "hip", "bang": "cnrt"}[dialect]
    h2d = {"cuda": "cudaMemcpyHostToDevice", "hip": "hipMemcpyHostToDevice", "bang": "CNRT_MEM_TRANS_DIR_HOST2DEV"}[dialect]
    d2h = {"cuda": "cudaMemcpyDeviceToHost", "hip": "hipMemcpyDeviceToHost", "bang": "CNRT_MEM_TRANS_DIR_DEV2HOST"}[dialect]
    body: list[ir.Stmt] = []

    def nbytes(p: ir.Param) -> ir.Expr:
        count = sizes[p.name]
        return ir.BinOp("*", ir.Paren(count) if isinstance(count, ir.BinOp) else count, ir.SizeOf(type=ir.Type(p.type.base)))

    device = {p.name: f"d_{p.name}" for p in pointers}
    for p in pointers:
        body.append(ir.Decl((ir.Declarator(device[p.name], replace(p.type, quals=(), ptr_quals=())),)))
        body.append(_call(f"{api}Malloc", ir.Cast(ir.Type("void", 2), ir.UnOp("&", _name(device[p.name]))), nbytes(p)))
    for p in pointers:
        body.append(_call(f"{api}Memcpy", _name(device[p.name]), _name(p.name), nbytes(p), _name(h2d)))
    args = tuple(_name(device.get(p.name, p.name)) for p in kernel.params)
    if dialect in ("cuda", "hip"):
        if launch is None or not launch.is_simt:
            raise TranslationError(f"host entry for {kernel.name}: a SIMT launch (grid, block) is required")
        for var, dims in (("grid", launch.grid), ("block", launch.block)):
            body.append(ir.Decl((ir.Declarator(var, ir.Type("dim3"), ctor_args=tuple(_int(d) for d in dims)),)))
        body.append(ir.ExprStmt(ir.Launch(_name(kernel.name), (_name("grid"), _name("block")), args)))
        body.append(_call(f"{api}DeviceSynchronize"))
    else:
        launch = launch or Launch(task_dim=(1, 1, 1), func_type="BLOCK")
        task_dim = launch.task_dim or (1, 1, 1)
        func_type = launch.func_type or "BLOCK"
        body.append(ir.Decl((ir.Declarator("queue", ir.Type("cnrtQueue_t")),)))
        body.append(_call("cnrtQueueCreate", ir.UnOp("&", _name("queue"))))
        body.append(ir.Decl((ir.Declarator("dim", ir.Type("cnrtDim3_t"), init=ir.InitList(tuple(_int(d) for d in task_dim))),)))
        body.append(ir.Decl((ir.Declarator("ktype", ir.Type("cnrtFunctionType_t"),
                                           init=_name(f"CNRT_FUNC_TYPE_{func_type}")),)))
        body.append(ir.ExprStmt(ir.Launch(_name(kernel.name), (_name("dim"), _name("ktype"), _name("queue")), args)))
        body.append(_call("cnrtQueueSync", _name("queue")))
    for p in pointers:
        if p.name in written:
            body.append(_call(f"{api}Memcpy", _name(p.name), _name(device[p.name]), nbytes(p), _name(d2h)))
    for p in pointers:
        body.append(_call(f"{api}Free", _name(device[p.name])))
    if dialect == "bang":
        body.append(_call("cnrtQueueDestroy", _name("queue")))
    return ir.Function(name, ir.Type("void"), params, ir.Block(tuple(body)), kind="host", extern_c=True)
