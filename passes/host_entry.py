"""Host entries for bare kernels, as launches in the source dialect.

A bare kernel ``K(params)`` (no host code launches it) is called through ``K_kernel(params)``
(conventions.md). This pass adds that entry, launching ``K`` with the configuration it is given
(``launch=`` or the launch defaults of conventions.md, filled in by the translation driver):

    host-entry{kernel=add grid=["(n + 255) / 256",1,1] block=[256,1,1]}
    host-entry{kernel=add task_dim=[16,1,1] func_type=UNION1}

The entry passes the host pointers straight to the launch; later passes (loop recovery, host
lowering) turn it into a C function. Grid extents may be C expressions over the scalar parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from xpiler import ir
from xpiler.launch import normalize_func_type

from .base import ModulePass, PassError
from .registry import register


def _extent(value) -> ir.Expr:
    if isinstance(value, int):
        return ir.Const(str(value), value)
    from xpiler.frontend.lift import parse_expression
    return ir.Paren(parse_expression(value))


@register
@dataclass(frozen=True)
class HostEntry(ModulePass):
    """Add the ``K_kernel`` host entry of a bare kernel ``K``."""

    name: ClassVar[str] = "host-entry"
    summary: ClassVar[str] = "add the extern \"C\" host entry K_kernel launching the bare kernel K"
    kernel: str = ""
    grid: tuple = ()
    block: tuple = ()
    task_dim: tuple = ()
    func_type: str = ""

    def apply(self, module: ir.Module) -> ir.Module:
        try:
            kernel = next(f for f in module.kernels if f.name == self.kernel)
        except StopIteration:
            raise PassError(f"host-entry: no kernel named {self.kernel!r}") from None
        params = tuple(replace(p, type=replace(p.type, ptr_quals=())) for p in kernel.params)
        args = tuple(ir.Name(p.name) for p in params)
        body: list[ir.Stmt] = []
        if module.dialect == "bang":
            dims = tuple(self.task_dim or (1, 1, 1)) + (1, 1, 1)
            func = normalize_func_type(self.func_type or "BLOCK")
            body.append(ir.Decl((ir.Declarator("dim", ir.Type("cnrtDim3_t"),
                                               init=ir.InitList(tuple(_extent(d) for d in dims[:3]))),)))
            config = (ir.Name("dim"), ir.Name(f"CNRT_FUNC_TYPE_{func}"), ir.Const("0", 0))
        else:
            if not self.grid or not self.block:
                raise PassError(f"host-entry: the SIMT kernel {self.kernel} needs grid and block")
            config = (ir.Call(ir.Name("dim3"), tuple(_extent(d) for d in self.grid)),
                      ir.Call(ir.Name("dim3"), tuple(_extent(d) for d in self.block)))
        body.append(ir.ExprStmt(ir.Launch(ir.Name(kernel.name), config, args)))
        entry = ir.Function(f"{kernel.name}_kernel", ir.Type("void"), params, ir.Block(tuple(body)), kind="host",
                            extern_c=True)
        return replace(module, items=module.items + (entry,))
