"""Host lowering: device memory management and launches become plain C (after loop recovery).

Device memory is host memory once kernels run sequentially, so ``cudaMalloc`` / ``hipMalloc`` /
``cnrtMalloc`` become ``malloc``, the ``*Memcpy`` family ``memcpy``, ``*Free`` ``free``; streams,
events, queues and synchronisation disappear. A launch ``k<<<grid, block, shared, stream>>>(args)``
becomes the call ``k(args, dim3(grid), dim3(block), shared)`` of the recovered kernel, a BANG launch
``k<<<dim, ktype, queue>>>(args)`` the call ``k(args, dim.x, dim.y, dim.z, union_job)``.

(The host entries of bare kernels come from the ``host-entry`` pass, before loop recovery.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import ClassVar

from xpiler import ir
from xpiler.errors import UnsupportedError
from xpiler.ir.analysis import strip_parens

from .base import ModulePass
from .registry import register

# Runtime calls that only synchronise or manage streams/events/queues: dropped as statements,
# their value (an error code) is success.
_NOOPS = re.compile(
    r"^(cuda|hip)(DeviceSynchronize|StreamSynchronize|StreamCreate\w*|StreamDestroy|StreamWaitEvent|EventCreate\w*|"
    r"EventRecord|EventSynchronize|EventDestroy|SetDevice|GetDevice|DeviceReset|FuncSetAttribute|GetLastError|"
    r"PeekAtLastError|StreamQuery|EventQuery)$|"
    r"^cnrt(QueueCreate|QueueSync|QueueDestroy|CreateQueue|SyncQueue|DestroyQueue|NotifierCreate|NotifierDestroy|"
    r"PlaceNotifier|CreateNotifier|DestroyNotifier|SetDevice|GetDevice|Init|Destroy|SyncDevice|QueueWaitNotifier)$")
_DROPPED_INCLUDES = re.compile(r"^(cuda_runtime(_api)?\.h|cuda\.h|cuda_fp16\.h|mma\.h|device_launch_parameters\.h|"
                               r"hip/.*|cooperative_groups\.h|bang\.h|cnrt\.h|mlu\.h|bang_\w+\.h|cnnl\.h)$")


def _call(name: str, *args) -> ir.Call:
    return ir.Call(ir.Name(name), tuple(args))


class _HostRewriter:
    def __init__(self, dialect: str, types: dict):
        self.dialect = dialect
        self.types = types

    def alloc_target(self, pointer):
        """``(void **)&d`` / ``&d`` -> ``d`` when that is a plain variable, else ``*(pointer)``."""
        p = strip_parens(pointer)
        if isinstance(p, ir.Cast):
            p = strip_parens(p.operand)
        if isinstance(p, ir.UnOp) and p.op == "&" and isinstance(strip_parens(p.operand), ir.Name):
            return strip_parens(p.operand)
        return ir.UnOp("*", ir.Cast(ir.Type("void", 2), ir.Paren(pointer)))

    def call(self, c: ir.Call):
        if not isinstance(c.func, ir.Name):
            return c
        name, a = c.func.id, c.args
        if name in ("cudaMalloc", "hipMalloc", "cnrtMalloc", "cudaMallocManaged", "hipMallocManaged",
                    "cudaMallocHost", "hipHostMalloc", "hipMallocHost"):
            target = self.alloc_target(a[0])
            typ = self.types.get(target.id) if isinstance(target, ir.Name) else None
            value = ir.Call(ir.Name("malloc"), (a[1],))
            if typ is not None and typ.pointer:
                value = ir.Cast(ir.Type(typ.base, typ.pointer, typ.quals), value)
            return ir.Assign(target, "=", value)
        if name == "HIP_SYMBOL" and len(a) == 1:
            return a[0]
        if name in ("cudaFree", "hipFree", "cnrtFree", "cudaFreeHost", "hipHostFree", "hipFreeHost"):
            return _call("free", a[0])
        if name in ("cudaMemcpy", "hipMemcpy", "cnrtMemcpy", "cudaMemcpyAsync", "hipMemcpyAsync", "cnrtMemcpyAsync"):
            return _call("memcpy", a[0], a[1], a[2])
        if name in ("cudaMemset", "hipMemset", "cudaMemsetAsync", "hipMemsetAsync", "cnrtMemset"):
            return _call("memset", a[0], a[1], a[2])
        if name in ("cudaMemcpyToSymbol", "hipMemcpyToSymbol"):
            offset = a[3] if len(a) > 3 else ir.Const("0", 0)
            dst = ir.BinOp("+", ir.Cast(ir.Type("char", 1), ir.UnOp("&", a[0])), offset)
            return _call("memcpy", dst, a[1], a[2])
        if name in ("cudaMemcpyFromSymbol", "hipMemcpyFromSymbol"):
            offset = a[3] if len(a) > 3 else ir.Const("0", 0)
            return _call("memcpy", a[0], ir.BinOp("+", ir.Cast(ir.Type("char", 1), ir.UnOp("&", a[1])), offset), a[2])
        if name in ("cudaGetErrorString", "hipGetErrorString", "cudaGetErrorName", "hipGetErrorName"):
            return ir.Const('"no error"')
        if name in ("cudaGetDeviceProperties", "hipGetDeviceProperties"):
            return _call("__xpiler_device_properties", a[0])
        if name in ("cudaDeviceGetAttribute", "hipDeviceGetAttribute"):
            # the attributes programs size their grids with; any positive value is exact here
            return ir.Assign(ir.UnOp("*", ir.Paren(a[0])), "=", ir.Const("1", 1))
        if name in ("cudaGetDeviceCount", "hipGetDeviceCount"):
            return ir.Assign(ir.UnOp("*", ir.Paren(a[0])), "=", ir.Const("1", 1))
        if name in ("cudaEventElapsedTime", "hipEventElapsedTime"):
            return ir.Assign(ir.UnOp("*", ir.Paren(a[0])), "=", ir.Const("0", 0))
        if name == "cnrtNotifierDuration":  # (start, stop, &microseconds)
            return ir.Assign(ir.UnOp("*", ir.Paren(a[2])), "=", ir.Const("0", 0))
        if _NOOPS.match(name):
            return ir.Const("0", 0)
        if re.match(r"^(cuda|hip|cnrt)[A-Z]\w*$", name):
            raise UnsupportedError(f"host lowering does not know the runtime call {name}")
        return c

    def launch(self, l: ir.Launch):
        if self.dialect == "bang":
            dim, ktype = l.config[0], l.config[1]
            if not isinstance(strip_parens(dim), ir.Name):
                raise UnsupportedError("a BANG launch whose dimension is not a variable is not supported")
            extra = tuple(ir.Member(dim, f) for f in "xyz") + (_call("__xpiler_union_job", ktype),)
        else:
            shared = l.config[2] if len(l.config) > 2 else ir.Const("0", 0)
            extra = (_call("dim3", l.config[0]), _call("dim3", l.config[1]), shared)
        return ir.Call(l.kernel, l.args + extra, l.template_args)


def _lower_function(f: ir.Function, dialect: str) -> ir.Function:
    types = {p.name: p.type for p in f.params}
    for n in ir.walk(f.body):
        if isinstance(n, ir.Decl):
            for v in n.vars:
                types.setdefault(v.name, v.type)
    rw = _HostRewriter(dialect, types)

    def fn(n):
        if isinstance(n, ir.Launch):
            return rw.launch(n)
        if isinstance(n, ir.Call):
            return rw.call(n)
        if isinstance(n, ir.Block):
            kept = tuple(s for s in n.body if not (isinstance(s, ir.ExprStmt) and _success(s.expr)))
            return ir.Block(kept) if len(kept) != len(n.body) else n
        return n
    quals = tuple(_host_qual(q) for q in f.quals if _host_qual(q))
    return replace(f, body=ir.rewrite(f.body, fn), quals=quals, kind="host", launch_bounds=None)


def _success(e) -> bool:
    """A dropped runtime call's success code as a statement: ``0``, or an error-check macro of it
    (``CNRT_CHECK(0)``, ``CUDA_CHECK(0)``: checking success does nothing, and left as a statement it
    would be code outline turns into an empty kernel)."""
    e = strip_parens(e)
    if isinstance(e, ir.Call) and isinstance(e.func, ir.Name) and e.func.id.endswith("_CHECK") and len(e.args) == 1:
        return _success(e.args[0])
    return isinstance(e, ir.Const)


def _host_qual(q: str) -> str | None:
    if q in ("__device__", "__host__", "__mlu_func__", "__mlu_device__", "__mlu_host__"):
        return None
    if q in ("__forceinline__", "__inline__"):
        return "inline"
    return q


@register
@dataclass(frozen=True)
class HostLower(ModulePass):
    """Device memory management and launches become C; bare kernels get their host entry."""

    name: ClassVar[str] = "host-lower"
    summary: ClassVar[str] = "runtime API to C (malloc/memcpy/free), launches to calls, host entries of bare kernels"

    def apply(self, module: ir.Module) -> ir.Module:
        dialect = module.dialect
        items = []
        for item in module.items:
            if isinstance(item, ir.Include) and _DROPPED_INCLUDES.match(item.path):
                continue
            if isinstance(item, ir.Function) and item.body is not None:
                item = _lower_function(item, dialect)
            elif isinstance(item, ir.ExternC):
                item = replace(item, items=tuple(_lower_function(i, dialect) if isinstance(i, ir.Function) and i.body
                                                 is not None else i for i in item.items))
            elif isinstance(item, ir.Decl) and item.scope != "local":
                item = replace(item, scope="local")
            elif isinstance(item, ir.Verbatim):
                item = replace(item, text=_EXT_VECTOR.sub(_vector_size, item.text))
            items.append(item)
        return replace(module, dialect="vnni", items=tuple(items))


# clang's `typedef float floatx4 __attribute__((ext_vector_type(4)));` in GCC's spelling.
_EXT_VECTOR = re.compile(r"typedef\s+([\w ]+?)\s+(\w+)\s+__attribute__\s*\(\(\s*ext_vector_type\s*\((\d+)\)\s*\)\)")


def _vector_size(m: re.Match) -> str:
    return f"typedef {m.group(1)} {m.group(2)} __attribute__((vector_size({m.group(3)} * sizeof({m.group(1)}))))"
