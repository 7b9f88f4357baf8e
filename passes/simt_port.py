"""The direct CUDA <-> HIP mapping, where it is exact.

CUDA and HIP share the SIMT model, so most of a translation is re-spelling: the runtime API
(``cudaMalloc`` <-> ``hipMalloc``), headers, launch syntax (``hipLaunchKernelGGL``), built-ins
(``hipThreadIdx_x``) and warp primitives (``__shfl_down_sync(mask, v, d)`` <-> ``__shfl_down(v, d)``).

What is *not* a re-spelling is the warp size: CUDA warps have 32 lanes, AMD CDNA wavefronts 64.

* CUDA -> HIP (64-lane target, the default): every shuffle gets an explicit ``width`` of 32 and
  ``warpSize`` becomes 32, which gives exactly CUDA's 32-lane semantics inside 64-lane wavefronts.
  Warp votes (``__ballot_sync``, ``__any_sync``, ``__all_sync``, ``__activemask``) become helpers
  defined in the translation that take this CUDA warp's half of HIP's 64-bit ``__ballot`` (the active
  lanes of the half, within the mask); ``__syncwarp``, which HIP 5.2 lacks, a wavefront fence. With
  ``wavefront=32`` (RDNA) shuffles map one to one (the helpers hold there too).
* HIP -> CUDA: code that assumes 64 lanes (a shuffle offset or lane of 32 or more, a loop feeding
  one that starts at 32 or more, warp votes over a 64-bit mask) is refused; code written against
  ``warpSize`` maps directly.

CUDA half-precision functions that HIP 5.2's hip_fp16.h lacks (``__hmax``, ``__hmin2``, ...) are
defined in the translated program (``xpiler_hmax``, ... with cuda_fp16.h's semantics) and called
instead.

Tensor-core code (WMMA <-> MFMA) is not a re-spelling either: it needs the detensorize and
tensorize passes and is refused with an error saying so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import ClassVar

from xpiler import ir
from xpiler.errors import UnsupportedError
from xpiler.intrinsics import REGISTRY
from xpiler.ir.analysis import strip_parens

from .base import ModulePass, PassError
from .registry import register

# Runtime API names that differ only by prefix (cuda<X> <-> hip<X>).
_SAME_SUFFIX = """
Malloc MallocManaged MallocHost HostAlloc HostFree Free FreeHost Memcpy MemcpyAsync Memcpy2D Memcpy2DAsync
MemcpyToSymbol MemcpyFromSymbol MemcpyToSymbolAsync Memset MemsetAsync Memset2D DeviceSynchronize DeviceReset
GetLastError PeekAtLastError GetErrorString GetErrorName SetDevice GetDevice GetDeviceCount GetDeviceProperties
DeviceGetAttribute StreamCreate StreamCreateWithFlags StreamDestroy StreamSynchronize StreamWaitEvent
StreamQuery EventCreate EventCreateWithFlags EventRecord EventSynchronize EventElapsedTime EventDestroy
EventQuery FuncSetAttribute FuncGetAttributes OccupancyMaxActiveBlocksPerMultiprocessor
OccupancyMaxPotentialBlockSize LaunchKernel Stream_t Event_t Error_t Success ErrorInvalidValue
ErrorMemoryAllocation MemcpyHostToDevice MemcpyDeviceToHost MemcpyDeviceToDevice MemcpyHostToHost
MemcpyDefault MemcpyKind StreamDefault StreamNonBlocking EventDefault EventDisableTiming
FuncAttributeMaxDynamicSharedMemorySize HostAllocDefault HostAllocMapped MemAttachGlobal
""".split()
CUDA_TO_HIP = {f"cuda{s}": f"hip{s}" for s in _SAME_SUFFIX}
CUDA_TO_HIP.update({
    "cudaDeviceProp": "hipDeviceProp_t",
    "cudaDevAttrMultiProcessorCount": "hipDeviceAttributeMultiprocessorCount",
    "cudaDevAttrMaxSharedMemoryPerBlock": "hipDeviceAttributeMaxSharedMemoryPerBlock",
    "cudaDevAttrMaxThreadsPerBlock": "hipDeviceAttributeMaxThreadsPerBlock",
    "cudaDevAttrWarpSize": "hipDeviceAttributeWarpSize",
})
HIP_TO_CUDA = {v: k for k, v in CUDA_TO_HIP.items()}

CUDA_TO_HIP_INCLUDES = {"cuda_runtime.h": "hip/hip_runtime.h", "cuda.h": "hip/hip_runtime.h",
                        "cuda_runtime_api.h": "hip/hip_runtime.h", "cuda_fp16.h": "hip/hip_fp16.h",
                        "cooperative_groups.h": "hip/hip_cooperative_groups.h", "device_launch_parameters.h": None}
HIP_TO_CUDA_INCLUDES = {"hip/hip_runtime.h": "cuda_runtime.h", "hip/hip_runtime_api.h": "cuda_runtime.h",
                        "hip/hip_fp16.h": "cuda_fp16.h", "hip/hip_cooperative_groups.h": "cooperative_groups.h"}

# CUDA half-precision functions the HIP headers (5.2) do not provide: CUDA -> HIP calls xpiler_<name>
# instead (``__hmax2`` -> ``xpiler_hmax2``), defined in the translated program (HIP_HELPERS).
CUDA_ONLY_FUNCTIONS = {"__hmax", "__hmin", "__hmax2", "__hmin2", "__hmax_nan", "__hmin_nan", "__hmax2_nan",
                       "__hmin2_nan"}

# Definitions a HIP translation adds, by the name it calls: (group, HIP source, helpers it calls). The
# groups' comments precede them.
HELPER_GROUPS = {
    "half": ["// CUDA's half max / min, which hip_fp16.h of HIP 5.2 lacks (with cuda_fp16.h's semantics:",
             "// a NaN operand loses to a number, +0 is above -0)"],
    "vote": ["// CUDA's warp votes and __syncwarp on AMD wavefronts: a CUDA warp is one 32-lane half of a",
             "// 64-lane wavefront, and a vote counts the active lanes of that half (and of the mask)"],
}
HIP_HELPERS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "xpiler_hmax": ("half", """__device__ __forceinline__ __half xpiler_hmax(__half a, __half b) {
  if (__hisnan(a) || __hisnan(b))
    return __hisnan(a) && __hisnan(b) ? __ushort_as_half(0x7fff) : __hisnan(a) ? b : a;
  if (__heq(a, b))
    return (__half_as_ushort(a) & 0x8000) ? b : a;
  return __hgt(a, b) ? a : b;
}""", ()),
    "xpiler_hmin": ("half", """__device__ __forceinline__ __half xpiler_hmin(__half a, __half b) {
  if (__hisnan(a) || __hisnan(b))
    return __hisnan(a) && __hisnan(b) ? __ushort_as_half(0x7fff) : __hisnan(a) ? b : a;
  if (__heq(a, b))
    return (__half_as_ushort(a) & 0x8000) ? a : b;
  return __hlt(a, b) ? a : b;
}""", ()),
    "xpiler_ballot": ("vote", """__device__ __forceinline__ unsigned xpiler_ballot(unsigned mask, int predicate) {
  return (unsigned)(__ballot(predicate) >> (__lane_id() & 32)) & mask;
}""", ()),
    "xpiler_any": ("vote", """__device__ __forceinline__ int xpiler_any(unsigned mask, int predicate) {
  return xpiler_ballot(mask, predicate) != 0;
}""", ("xpiler_ballot",)),
    "xpiler_all": ("vote", """__device__ __forceinline__ int xpiler_all(unsigned mask, int predicate) {
  return xpiler_ballot(mask, !predicate) == 0;
}""", ("xpiler_ballot",)),
    "xpiler_activemask": ("vote", """__device__ __forceinline__ unsigned xpiler_activemask() {
  return (unsigned)(__ballot(1) >> (__lane_id() & 32));
}""", ()),
    # A wavefront runs in lock step: __syncwarp only orders the lanes' memory accesses.
    "xpiler_syncwarp": ("vote", """__device__ __forceinline__ void xpiler_syncwarp() {
  __builtin_amdgcn_fence(__ATOMIC_RELEASE, "wavefront");
  __builtin_amdgcn_wave_barrier();
  __builtin_amdgcn_fence(__ATOMIC_ACQUIRE, "wavefront");
}""", ()),
}
for _name in ("hmax", "hmin"):
    HIP_HELPERS[f"xpiler_{_name}_nan"] = ("half", f"""__device__ __forceinline__ __half xpiler_{_name}_nan(__half a, __half b) {{
  return __hisnan(a) || __hisnan(b) ? __ushort_as_half(0x7fff) : xpiler_{_name}(a, b);
}}""", (f"xpiler_{_name}",))
    for _one in (_name, f"{_name}_nan"):
        _pair = _one.replace("_nan", "2_nan") if _one.endswith("_nan") else _one + "2"
        HIP_HELPERS[f"xpiler_{_pair}"] = ("half", f"""__device__ __forceinline__ __half2 xpiler_{_pair}(__half2 a, __half2 b) {{
  return __halves2half2(xpiler_{_one}(__low2half(a), __low2half(b)), xpiler_{_one}(__high2half(a), __high2half(b)));
}}""", (f"xpiler_{_one}",))
# CUDA warp votes -> the helpers above (CUDA -> HIP).
VOTE_HELPERS = {"ballot": "xpiler_ballot", "any": "xpiler_any", "all": "xpiler_all", "activemask": "xpiler_activemask"}

_VOTES = {"ballot", "any", "all", "activemask"}
_SHUFFLES = {"shfl", "shfl_down", "shfl_up", "shfl_xor"}
_WORD = re.compile(r"\b(cuda|hip)[A-Z]\w*\b")


class _Mapper:
    def __init__(self, source: str, target: str, wavefront: int):
        self.source, self.target, self.wavefront = source, target, wavefront
        self.names = CUDA_TO_HIP if source == "cuda" else HIP_TO_CUDA
        self.prefix = source  # the API prefix that must not survive
        self.helpers: set[str] = set()  # HIP_HELPERS the translation calls

    def fail(self, message: str, where=None) -> UnsupportedError:
        line, column = (where.line, where.column) if where is not None else (None, None)
        return UnsupportedError(f"{self.source} -> {self.target}: {message}", line=line, column=column)

    # -- names ---------------------------------------------------------------------------------
    def rename(self, name: str) -> str:
        if name in self.names:
            return self.names[name]
        if re.fullmatch(rf"{self.prefix}[A-Z]\w*", name):
            raise self.fail(f"no known {self.target} equivalent of the runtime API name {name!r}")
        return name

    def rename_text(self, text: str) -> str:
        return _WORD.sub(lambda m: self.rename(m.group(0)) if m.group(1) == self.prefix else m.group(0), text)

    # -- the rewrite ------------------------------------------------------------------------------
    def __call__(self, node):
        if isinstance(node, ir.Name):
            if node.id == "warpSize" and self.source == "cuda" and self.wavefront == 64:
                return ir.Const("32", 32)
            new = self.rename(node.id)
            return node if new == node.id else ir.Name(new)
        if isinstance(node, ir.Type):
            new = self.rename_text(node.base)
            return node if new == node.base else replace(node, base=new)
        if isinstance(node, ir.Builtin):
            return replace(node, spelling="cuda") if self.target == "cuda" and node.spelling == "hip" else node
        if isinstance(node, ir.Launch):
            return replace(node, style="chevron") if self.target == "cuda" else node
        if isinstance(node, ir.Call) and node.intrinsic is not None:
            return self.call(node)
        if isinstance(node, ir.Call) and isinstance(node.func, ir.Name):
            if self.source == "hip" and node.func.id == "HIP_SYMBOL" and len(node.args) == 1:
                return node.args[0]  # hipMemcpyToSymbol(HIP_SYMBOL(c), ...) -> cudaMemcpyToSymbol(c, ...)
            if self.target == "hip" and node.func.id in CUDA_ONLY_FUNCTIONS:
                return self.helper_call(node, f"xpiler_{node.func.id.lstrip('_')}", node.args)
        if isinstance(node, ir.Decl) and node.spelling is not None and self.target == "cuda":
            return replace(node, spelling=None)
        if isinstance(node, ir.Barrier) and node.scope == "warp" and self.target == "hip":
            self.helpers.add("xpiler_syncwarp")  # HIP 5.2 has no __syncwarp
            return replace(node, spelling="xpiler_syncwarp")
        if isinstance(node, ir.Call) and isinstance(node.func, ir.Name) and node.func.id.startswith(("wmma::", "nvcuda::wmma::")):
            raise self.fail("WMMA tensor-core code needs the detensorize and tensorize (MFMA) passes, "
                            "which are not available yet")
        if isinstance(node, ir.Verbatim):
            return replace(node, text=self.rename_text(node.text))
        if isinstance(node, ir.RawExpr):
            return replace(node, text=self.rename_text(node.text))
        return node

    def helper_call(self, node: ir.Call, helper: str, args) -> ir.Call:
        """``node`` calling ``helper`` of HIP_HELPERS, which the translation then defines."""
        self.helpers.add(helper)
        return replace(node, func=ir.Name(helper), args=tuple(args), intrinsic=None)

    def call(self, node: ir.Call):
        intrinsic = REGISTRY[node.intrinsic]
        if intrinsic.name == "syncwarp" and self.target == "hip":
            return self.helper_call(node, "xpiler_syncwarp", ())  # HIP 5.2 has no __syncwarp; no mask on AMD
        if intrinsic.name.startswith("mfma."):
            raise self.fail("MFMA matrix-core code needs the detensorize and tensorize (WMMA) passes, "
                            "which are not available yet")
        if intrinsic.name.startswith("wmma."):
            raise self.fail("WMMA tensor-core code needs the detensorize and tensorize (MFMA) passes, "
                            "which are not available yet")
        if intrinsic.kind != "warp":
            target = intrinsic.spelling(self.target)
            if target is None:
                raise self.fail(f"{intrinsic.name} has no {self.target} spelling")
            return node if target.function == node.func.id else replace(node, func=ir.Name(target.function))
        name = intrinsic.name
        source = REGISTRY.lookup(self.source, node.func.id, len(node.args))[1]
        bound = dict(zip(source.order, node.args))
        if name in _VOTES and self.source == "cuda":
            # the vote over this CUDA warp's half of the wavefront (HIP's own votes span all of it)
            if name == "activemask":
                return self.helper_call(node, VOTE_HELPERS[name], ())
            args = [bound[p] if p in bound else _default(intrinsic.defaults[p]) for p in ("mask", "predicate")]
            return self.helper_call(node, VOTE_HELPERS[name], args)
        if name in _VOTES:
            raise self.fail(f"the warp vote {node.func.id} depends on the warp size (32 lanes in CUDA, 64 in a "
                            "CDNA wavefront) and needs the warp-size adaptation pass, which is not available yet")
        if name in _SHUFFLES and self.source == "hip":
            try:
                self.check_hip_lanes(bound)
            except UnsupportedError as error:
                from xpiler.emitters import Printer
                error.snippet = Printer(self.source).expr(node)
                error.args = (error._format(),)
                raise
        if name in _SHUFFLES and self.source == "cuda" and self.wavefront == 64 and "width" not in bound:
            bound["width"] = ir.Const("32", 32)
        target = max((s for s in intrinsic.spellings if s.dialect == self.target and set(s.order) <= set(bound) | set(intrinsic.defaults)),
                     key=lambda s: (sum(p in bound for p in s.order), -len(s.order)))
        args = tuple(bound[p] if p in bound else _default(intrinsic.defaults[p]) for p in target.order)
        return replace(node, func=ir.Name(target.function), args=args)

    def check_hip_lanes(self, bound):
        width = constant_value(bound["width"], self.defines, 64) if "width" in bound else None
        if width is not None and width <= 32:
            return  # an explicit segment of at most 32 lanes means the same on a 32-lane warp
        for key in ("delta", "src_lane", "lane_mask", "width"):
            value = bound.get(key)
            if value is None:
                continue
            number = constant_value(value, self.defines, 64)
            if number is not None and number >= 32:
                raise self.fail(f"a shuffle with {key} {number} assumes 64-lane wavefronts; CUDA warps have 32 "
                                "lanes (needs the warp-size adaptation pass)")
            value = strip_parens(value)
            if isinstance(value, ir.Name) and value.id in self.loop_starts and self.loop_starts[value.id] >= 32:
                raise self.fail(f"a shuffle whose {key} {value.id!r} starts at {self.loop_starts[value.id]} assumes "
                                "64-lane wavefronts (needs the warp-size adaptation pass)")


def _default(text: str) -> ir.Expr:
    return ir.Const(text, int(text, 0)) if re.fullmatch(r"0x[0-9a-fA-F]+|\d+", text) else ir.Name(text)


def constant_value(expr, defines: dict[str, str], warp_size: int | None = None, depth: int = 0) -> int | None:
    """The integer value of ``expr`` when it is a constant (literals, ``#define`` names, ``warpSize``
    as the source dialect defines it, arithmetic), else None."""
    expr = strip_parens(expr)
    if depth > 20:
        return None
    if isinstance(expr, ir.Const):
        return expr.value if isinstance(expr.value, int) and not isinstance(expr.value, bool) else None
    if isinstance(expr, ir.Name):
        if expr.id == "warpSize":
            return warp_size
        if expr.id in defines:
            from xpiler.errors import XpilerError
            from xpiler.frontend.lift import parse_expression
            try:
                value = parse_expression(defines[expr.id])
            except (XpilerError, AttributeError, IndexError):
                return None  # a macro whose value is not an expression
            return constant_value(value, defines, warp_size, depth + 1)
        return None
    if isinstance(expr, ir.Cast):
        return constant_value(expr.operand, defines, warp_size, depth + 1)
    if isinstance(expr, ir.BinOp):
        a = constant_value(expr.left, defines, warp_size, depth + 1)
        b = constant_value(expr.right, defines, warp_size, depth + 1)
        if a is None or b is None:
            return None
        ops = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "<<": lambda: a << b, ">>": lambda: a >> b,
               "/": lambda: int(a / b) if b else None, "%": lambda: (abs(a) % abs(b)) * (1 if a >= 0 else -1) if b else None}
        return ops[expr.op]() if expr.op in ops else None
    return None


def object_defines(module: ir.Module) -> dict[str, str]:
    """``#define NAME value`` (object-like) of the module: name -> value text."""
    out = {}
    for item in module.items:
        if isinstance(item, ir.Define):
            m = re.match(r"(\w+)\s+(.+)$", item.text.strip(), re.S)
            if m and "(" not in item.text.split()[0]:
                out[m.group(1)] = m.group(2).strip()
    return out


def _loop_starts(module: ir.Module, defines: dict[str, str], warp_size: int) -> dict[str, int]:
    """Constant start values of loops (``for (o = WAVE / 2; o > 0; o /= 2)``)."""
    starts = {}
    for node in ir.walk(module):
        if isinstance(node, ir.For):
            init = node.init
            if isinstance(init, ir.Decl) and len(init.vars) == 1 and init.vars[0].init is not None:
                var, start = init.vars[0].name, init.vars[0].init
            elif isinstance(init, ir.ExprStmt) and isinstance(init.expr, ir.Assign) and isinstance(init.expr.target, ir.Name):
                var, start = init.expr.target.id, init.expr.value
            else:
                continue
            value = constant_value(start, defines, warp_size)
            if value is not None:
                starts[var] = max(starts.get(var, 0), value)
    return starts


def _map_includes(items, table, required: str):
    out, seen = [], False
    for item in items:
        if isinstance(item, ir.Include) and item.path in table:
            new = table[item.path]
            if new is None or (new == required and seen):
                continue
            seen |= new == required
            out.append(replace(item, path=new))
        else:
            seen |= isinstance(item, ir.Include) and item.path == required
            out.append(item)
    return out, seen


def _uses_device_code(module: ir.Module) -> bool:
    return any(f.kind in ("kernel", "device") for f in module.functions()) or any(
        isinstance(n, ir.Launch) for n in ir.walk(module))


def port(module: ir.Module, target: str, *, wavefront: int = 64) -> ir.Module:
    """Map a CUDA module to HIP or a HIP module to CUDA (see the module docstring)."""
    source = module.dialect
    if {source, target} != {"cuda", "hip"}:
        raise ValueError(f"simt_port maps between cuda and hip, not {source} -> {target}")
    if wavefront not in (32, 64):
        raise ValueError(f"wavefront must be 32 or 64, got {wavefront}")
    mapper = _Mapper(source, target, wavefront if target == "hip" else 64)
    mapper.defines = object_defines(module)
    # In HIP source, warpSize is 64 (a CDNA wavefront): a reduction from warpSize / 2 assumes 64 lanes.
    mapper.loop_starts = _loop_starts(module, mapper.defines, 64) if source == "hip" else {}
    table, runtime = (CUDA_TO_HIP_INCLUDES, "hip/hip_runtime.h") if target == "hip" else (HIP_TO_CUDA_INCLUDES, "cuda_runtime.h")
    items, has_runtime = _map_includes(module.items, table, runtime)
    if target == "cuda" or not has_runtime:
        items = [i for i in items if not (isinstance(i, ir.Include) and i.path == "mma.h" and target == "hip")]
    if not has_runtime and _uses_device_code(module) and target == "hip":
        items.insert(_first_code_index(items), ir.Include(runtime))
    mapped = ir.rewrite(replace(module, dialect=target, items=tuple(items)), mapper)
    return _with_helpers(mapped, mapper.helpers) if mapper.helpers else mapped


def _with_helpers(module: ir.Module, used: set[str]) -> ir.Module:
    """``module`` with the definitions of the HIP_HELPERS it calls (and of those they call) after its
    includes, each group after its comment, and ``hip/hip_fp16.h`` included for the half helpers."""
    from xpiler.frontend.lift import lift
    names: list[str] = []

    def need(name):
        for dep in HIP_HELPERS[name][2]:
            need(dep)
        if name not in names:
            names.append(name)
    for name in sorted(used):
        need(name)
    items = list(module.items)
    groups = [g for g in HELPER_GROUPS if any(HIP_HELPERS[n][0] == g for n in names)]
    if "half" in groups and not any(isinstance(i, ir.Include) and i.path == "hip/hip_fp16.h" for i in items):
        items.insert(_first_code_index(items), ir.Include("hip/hip_fp16.h"))
    added = []
    for group in groups:
        text = "\n".join(HIP_HELPERS[n][1] for n in names if HIP_HELPERS[n][0] == group)
        added += [ir.Comment(line) for line in HELPER_GROUPS[group]]
        added += [f for f in lift(text, "hip").module.items if isinstance(f, ir.Function)]
    at = _first_code_index(items)
    items[at:at] = added
    return replace(module, items=tuple(items))


def _first_code_index(items) -> int:
    index = 0
    for i, item in enumerate(items):
        if isinstance(item, (ir.Include, ir.Comment)):
            index = i + 1 if isinstance(item, ir.Include) else index
        else:
            break
    return index


@register
@dataclass(frozen=True)
class SimtPort(ModulePass):
    """The direct CUDA <-> HIP mapping as a pass: ``simt-port{target=hip wavefront=64}``."""

    name: ClassVar[str] = "simt-port"
    summary: ClassVar[str] = "re-spell CUDA as HIP or HIP as CUDA (exact, warp-size aware)"
    target: str = "hip"
    wavefront: int = 64

    def __post_init__(self):
        if self.target not in ("cuda", "hip"):
            raise PassError(f"simt-port: target must be cuda or hip, got {self.target!r}")
        if self.wavefront not in (32, 64):
            raise PassError(f"simt-port: wavefront must be 32 or 64, got {self.wavefront!r}")

    def apply(self, module: ir.Module) -> ir.Module:
        if module.dialect == self.target or module.dialect not in ("cuda", "hip"):
            raise PassError(f"simt-port{{target={self.target}}} cannot apply to a {module.dialect} program")
        return port(module, self.target, wavefront=self.wavefront)
