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
* HIP -> CUDA: code written against ``warpSize`` maps directly. A kernel that assumes 64 lanes (a
  shuffle offset or lane of 32 or more, a loop feeding one that starts at 32 or more, warp votes over
  a 64-bit mask) keeps HIP's semantics: its warp operations exchange through shared memory across the
  two warps of each 64-thread wavefront and ``warpSize`` is 64 there (``_adapt_wave64``), where every
  lane of a wavefront provably reaches them; otherwise it is refused.

CUDA half-precision functions that HIP 5.2's hip_fp16.h lacks (``__hmax``, ``__hmin2``, ...) are
defined in the translated program (``xpiler_hmax``, ... with cuda_fp16.h's semantics) and called
instead.

Tensor-core code is not a re-spelling either. CUDA -> HIP: ``nvcuda::wmma`` becomes ``xpiler_wmma``, a
namespace defined in the translation (:func:`wmma_namespace`: 16x16x16 fragments of the 32 lanes of a
CUDA warp's half wavefront, laid out so that mma_sync is two MFMA 16x16x16f16 when both warps of the
wavefront reach it, 32-lane shuffles when one warp does or wavefronts have 32 lanes); other fragment
shapes are refused. HIP ->
CUDA: the MFMA builtins are wavefront operations like the 64-lane shuffles above (the lanes' A and B
elements meet in shared memory, CDNA's lane layouts; ``16x16x16f16``, a WMMA shape, is then multiplied
on the tensor cores by the wavefront's first warp, the other shapes by the lanes), clang's vector
typedefs become ``xpiler_vec`` and ``_Float16`` ``__half``; MFMA with broadcast modifiers is refused.
"""

from __future__ import annotations

import math
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
    "dot": ["// CUDA's __dp4a on CDNA's dot instructions"],
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
    # CUDA's overloaded four-byte dot product: int operands have signed bytes, unsigned ones unsigned
    "xpiler_dp4a": ("dot", """__device__ __forceinline__ int xpiler_dp4a(int a, int b, int c) {
  return __builtin_amdgcn_sdot4(a, b, c, false);
}
__device__ __forceinline__ unsigned xpiler_dp4a(unsigned a, unsigned b, unsigned c) {
  return __builtin_amdgcn_udot4(a, b, c, false);
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

# CUDA -> HIP: nvcuda::wmma becomes this namespace (defined in the translation), ``wmma::`` and
# ``nvcuda::wmma::`` names ``xpiler_wmma::``.
def wmma_namespace(wavefront: int = 64) -> str:
    """CUDA -> HIP: the namespace nvcuda::wmma becomes (``wmma::`` and ``nvcuda::wmma::`` name
    ``xpiler_wmma::``). On 64-lane wavefronts (CDNA) mma_sync runs on the matrix cores when both
    warps of the wavefront reach it (two MFMAs, one per warp's tile); a warp alone, and every warp
    on 32-lane wavefronts (RDNA, no MFMA), multiplies with 32-lane shuffles."""
    both_warps = MFMA_MMA_SYNC if wavefront == 64 else ""
    return WMMA_NAMESPACE.replace("  /*both warps*/\n", both_warps)


WMMA_NAMESPACE = """// CUDA's nvcuda::wmma on AMD wavefronts (xpiler): a CUDA warp is one 32-lane half of a 64-lane
// wavefront, and a fragment belongs to its 32 lanes. Element i of lane l of the half is row l % 16,
// column q of A, and row q, column l % 16 of B and of the accumulator, q = 4 (l / 16) + 8 (i / 4) + i % 4:
// elements 0..3 are what lane l of a 64-lane MFMA 16x16x16 takes or gives, 4..7 what its lane l + 32
// does (CUDA leaves the mapping unspecified, so element-wise code over x[] means the same). mma_sync
// accumulates in fp32, as tensor cores do.
namespace xpiler_wmma {
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };
template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
  static_assert(M == 16 && N == 16 && K == 16, "xpiler_wmma maps 16x16x16 fragments");
  static constexpr int num_elements = 8;
  T x[8];
};
typedef _Float16 f16x4 __attribute__((__vector_size__(4 * sizeof(_Float16))));
typedef float f32x4 __attribute__((__vector_size__(4 * sizeof(float))));
__device__ inline int lane32() { return __lane_id() & 31; }
template <class Use> struct lane_is_row { static constexpr bool value = false; };
template <> struct lane_is_row<matrix_a> { static constexpr bool value = true; };
// the row r and column c of element i of this lane's fragment
template <class Use>
__device__ inline void element(int i, int &r, int &c) {
  int l = lane32(), q = 4 * (l / 16) + 8 * (i / 4) + i % 4;
  r = lane_is_row<Use>::value ? l % 16 : q;
  c = lane_is_row<Use>::value ? q : l % 16;
}
template <class Use, class T, class L, class V>
__device__ inline void fill_fragment(fragment<Use, 16, 16, 16, T, L> &f, const V &v) {
  for (int i = 0; i < 8; ++i) f.x[i] = T(v);
}
template <class Use, class T, class L, class P>
__device__ inline void load(fragment<Use, 16, 16, 16, T, L> &f, const P *p, unsigned ldm, bool col_major_memory) {
  for (int i = 0; i < 8; ++i) {
    int r, c;
    element<Use>(i, r, c);
    f.x[i] = col_major_memory ? p[(size_t)c * ldm + r] : p[(size_t)r * ldm + c];
  }
}
template <class Use, class T, class P>
__device__ inline void load_matrix_sync(fragment<Use, 16, 16, 16, T, row_major> &f, const P *p, unsigned ldm) {
  load(f, p, ldm, false);
}
template <class Use, class T, class P>
__device__ inline void load_matrix_sync(fragment<Use, 16, 16, 16, T, col_major> &f, const P *p, unsigned ldm) {
  load(f, p, ldm, true);
}
template <class T, class P>
__device__ inline void load_matrix_sync(fragment<accumulator, 16, 16, 16, T> &f, const P *p, unsigned ldm, layout_t layout) {
  load(f, p, ldm, layout == mem_col_major);
}
template <class T, class P>
__device__ inline void store_matrix_sync(P *p, const fragment<accumulator, 16, 16, 16, T> &f, unsigned ldm, layout_t layout) {
  for (int i = 0; i < 8; ++i) {
    int r, c;
    element<accumulator>(i, r, c);
    if (layout == mem_col_major) p[(size_t)c * ldm + r] = P(f.x[i]);
    else p[(size_t)r * ldm + c] = P(f.x[i]);
  }
}
template <class TA, class LA, class TB, class LB, class TC, class TD>
__device__ inline void mma_sync(fragment<accumulator, 16, 16, 16, TD> &d, const fragment<matrix_a, 16, 16, 16, TA, LA> &a,
                                const fragment<matrix_b, 16, 16, 16, TB, LB> &b,
                                const fragment<accumulator, 16, 16, 16, TC> &c, bool satf = false) {
  float acc[8];
  /*both warps*/
  {  // D = A B + C in this warp's lanes: A[r][k] and B[k][n] are element 4 (k / 8) + k % 4 of lanes
     // r + s and n + s, s = 16 (k % 8 / 4)
    int l = lane32();
    for (int i = 0; i < 8; ++i) acc[i] = float(c.x[i]);
    for (int k = 0; k < 16; ++k) {
      int s = 16 * (k % 8 / 4), e = 4 * (k / 8) + k % 4;
      float av = float(a.x[e]), bv = __shfl(float(b.x[e]), l % 16 + s, 32);
      for (int i = 0; i < 8; ++i) acc[i] += __shfl(av, 4 * (l / 16) + 8 * (i / 4) + i % 4 + s, 32) * bv;
    }
  }
  for (int i = 0; i < 8; ++i) {
    if (satf) acc[i] = acc[i] != acc[i] ? 0.0f : acc[i] < -65504.0f ? -65504.0f : acc[i] > 65504.0f ? 65504.0f : acc[i];
    d.x[i] = TD(acc[i]);
  }
}
}  // namespace xpiler_wmma"""

# The two warps of a wavefront in mma_sync together (every lane active): one MFMA per warp's tile over
# all 64 lanes. Lane L < 32 holds elements 0..3 of MFMA #0's lane L and 4..7 of its lane L + 32 (the
# partner, L ^ 32): each MFMA takes half of its operands from the other warp's lanes, one shuffle each.
MFMA_MMA_SYNC = """  if (__ballot(1) == ~0ull) {
    bool low = __lane_id() < 32;
    f16x4 a0, a1, b0, b1;
    f32x4 c0, c1;
    for (int t = 0; t < 4; ++t) {  // what the partner's MFMA of this warp's tile needs, for what this lane's needs
      float pa = __shfl_xor(float(a.x[low ? 4 + t : t]), 32, 64), pb = __shfl_xor(float(b.x[low ? 4 + t : t]), 32, 64);
      float pc = __shfl_xor(float(c.x[low ? 4 + t : t]), 32, 64);
      a0[t] = (_Float16)(low ? float(a.x[t]) : pa), a1[t] = (_Float16)(low ? pa : float(a.x[4 + t]));
      b0[t] = (_Float16)(low ? float(b.x[t]) : pb), b1[t] = (_Float16)(low ? pb : float(b.x[4 + t]));
      c0[t] = low ? float(c.x[t]) : pc, c1[t] = low ? pc : float(c.x[4 + t]);
    }
    f32x4 d0 = __builtin_amdgcn_mfma_f32_16x16x16f16(a0, b0, c0, 0, 0, 0);
    f32x4 d1 = __builtin_amdgcn_mfma_f32_16x16x16f16(a1, b1, c1, 0, 0, 0);
    for (int t = 0; t < 4; ++t) {
      float pd = __shfl_xor(low ? d1[t] : d0[t], 32, 64);
      acc[t] = low ? d0[t] : pd, acc[4 + t] = low ? pd : d1[t];
    }
  } else
"""
_WMMA_NAME = re.compile(r"(?<![\w:])(?:nvcuda::)?wmma::")
_WMMA_FRAGMENT = re.compile(r"(?<![\w:])(?:nvcuda::)?wmma::fragment\s*<\s*(?:nvcuda::)?wmma::(\w+)\s*,\s*(\w+)\s*,"
                            r"\s*(\w+)\s*,\s*(\w+)\s*(?:,\s*([\w:]+))?")
_WMMA_ELEMENTS = {"matrix_a": ("half", "__half"), "matrix_b": ("half", "__half"), "accumulator": ("float", "half", "__half")}

# HIP -> CUDA: clang's half type and vector typedefs.
_FLOAT16 = re.compile(r"\b(?:_Float16|__fp16)\b")
_VECTOR_TYPEDEF = re.compile(r"typedef\s+(?P<element>\w+)\s+(?P<name>\w+)\s+__attribute__\s*\(\(\s*"
                             r"(?P<kind>ext_vector_type|__vector_size__|vector_size)\s*\((?P<size>.+)\)\s*\)\)\s*;", re.S)
_VECTOR_USING = re.compile(r"using\s+(?P<name>\w+)\s*=\s*__attribute__\s*\(\(\s*(?P<kind>ext_vector_type|__vector_size__|"
                           r"vector_size)\s*\((?P<size>.+)\)\s*\)\)\s*(?P<element>\w+)\s*;", re.S)
_TYPE_BYTES = {"__half": 2, "half": 2, "_Float16": 2, "float": 4, "double": 8, "int": 4, "unsigned": 4, "short": 2,
               "char": 1, "int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4, "uint32_t": 4,
               "int64_t": 8, "uint64_t": 8, "long": 8}
_ALIAS = re.compile(r"(?:using\s+(\w+)\s*=\s*(\w+)|typedef\s+(\w+)\s+(\w+))\s*;")


def _parse_expression(text: str):
    from xpiler.frontend.lift import parse_expression
    return parse_expression(text)


_VOTES = {"ballot", "any", "all", "activemask"}
_SHUFFLES = {"shfl", "shfl_down", "shfl_up", "shfl_xor"}
_WORD = re.compile(r"\b(cuda|hip)[A-Z]\w*\b")


class _Mapper:
    def __init__(self, source: str, target: str, wavefront: int):
        self.source, self.target, self.wavefront = source, target, wavefront
        self.names = CUDA_TO_HIP if source == "cuda" else HIP_TO_CUDA
        self.prefix = source  # the API prefix that must not survive
        self.helpers: set[str] = set()  # HIP_HELPERS the translation calls
        self.cuda_helpers: set[str] = set()  # WAVE64_HELPERS it calls (HIP -> CUDA)
        self.cuda_fp16 = False  # it uses __half (HIP -> CUDA)
        self.type_bytes = dict(_TYPE_BYTES)  # sizeof of scalar types and their aliases (HIP -> CUDA)

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
            if self.target == "hip" and "wmma::" in node.id:
                return ir.Name(self.wmma_text(node.id))
            new = self.rename(node.id)
            return node if new == node.id else ir.Name(new)
        if isinstance(node, ir.Type):
            new = self.rename_text(node.base)
            if self.source == "hip" and _FLOAT16.search(new):
                new = self.half_text(new)
            if self.target == "hip" and "wmma::" in new:
                new = self.wmma_text(new)
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
        if isinstance(node, ir.Verbatim):
            text = self.rename_text(node.text)
            if self.source == "hip":
                text = self.vector_typedef(self.half_text(text) if _FLOAT16.search(text) else text)
            if self.target == "hip" and re.fullmatch(r"using\s+namespace\s+nvcuda\s*;", text.strip()):
                text = "namespace wmma = xpiler_wmma;"
            return replace(node, text=self.wmma_text(text) if self.target == "hip" and "wmma" in text else text)
        if isinstance(node, ir.RawExpr):
            text = self.rename_text(node.text)
            return replace(node, text=self.wmma_text(text) if self.target == "hip" and "wmma::" in text else text)
        return node

    def wmma_text(self, text: str) -> str:
        """``text`` with nvcuda::wmma names in xpiler_wmma (WMMA_NAMESPACE), which maps 16x16x16 fragments of
        half A and B and float or half accumulators."""
        for m in _WMMA_FRAGMENT.finditer(text):
            use, shape, element = m.group(1), m.group(2, 3, 4), m.group(5)
            if shape != ("16", "16", "16") or element not in _WMMA_ELEMENTS.get(use, ()):
                raise self.fail(f"the WMMA fragment {m.group(0).strip()}> has no HIP mapping (16x16x16 fragments of "
                                "half matrices and float or half accumulators only)")
        self.helpers.add("wmma")
        return _WMMA_NAME.sub("xpiler_wmma::", text)

    def half_text(self, text: str) -> str:
        """HIP -> CUDA: clang's ``_Float16`` (and ``__fp16``) is CUDA's ``__half`` (cuda_fp16.h)."""
        self.cuda_fp16 = True
        return _FLOAT16.sub("__half", text)

    def vector_typedef(self, text: str) -> str:
        """HIP -> CUDA: a typedef of a clang vector type (``ext_vector_type(4)``, ``__vector_size__(16)``)
        as the struct ``xpiler_vec<T, N>`` of WAVE64_HELPERS; other text unchanged."""
        m = _VECTOR_TYPEDEF.fullmatch(text.strip()) or _VECTOR_USING.fullmatch(text.strip())
        if m is None:
            return text
        element, name, kind, size = m.group("element", "name", "kind", "size")
        if kind == "ext_vector_type":
            count = constant_value(_parse_expression(size), self.defines)
        else:  # bytes
            size = re.sub(r"sizeof\s*\(\s*(\w+)\s*\)", lambda s: str(self.type_bytes.get(s.group(1), 0)), size)
            nbytes, each = constant_value(_parse_expression(size), self.defines), self.type_bytes.get(element)
            count = nbytes // each if nbytes and each and nbytes % each == 0 else None
        if not count or count < 1:
            raise self.fail(f"the vector type in '{text.strip()}' has no CUDA mapping (its length is not a constant)")
        self.cuda_helpers.add("xpiler_vec")
        return f"typedef xpiler_vec<{element}, {count}> {name};"

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
        if intrinsic.name.startswith("wmma.") and self.target == "hip":
            self.helpers.add("wmma")
            return replace(node, func=ir.Name(self.wmma_text(node.func.id)), intrinsic=None)
        if intrinsic.name == "dp4a" and self.target == "hip":
            return self.helper_call(node, "xpiler_dp4a", node.args)   # C++ picks the signedness, as CUDA does
        if intrinsic.name in ("sdot4", "udot4") and self.target == "cuda":
            clamp = strip_parens(node.args[3]) if len(node.args) == 4 else None
            if not (isinstance(clamp, ir.Const) and clamp.value in (0, False)):
                raise self.fail(f"{node.func.id} with clamp (saturation) has no CUDA counterpart: __dp4a wraps")
            word = ir.Type("int" if intrinsic.name == "sdot4" else "unsigned")   # __dp4a's overload
            return replace(node, func=ir.Name("__dp4a"), args=tuple(ir.Cast(word, a) for a in node.args[:3]),
                           intrinsic="dp4a")
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
    if target == "hip":  # HIP has no mma.h: WMMA becomes WMMA_NAMESPACE
        items = [i for i in items if not (isinstance(i, ir.Include) and i.path == "mma.h")]
    if not has_runtime and _uses_device_code(module) and target == "hip":
        items.insert(_first_code_index(items), ir.Include(runtime))
    wave64: set[str] = set()
    if source == "hip":
        for item in items:  # scalar aliases (using float16_t = _Float16;), for the sizes of vector typedefs
            m = _ALIAS.fullmatch(item.text.strip()) if isinstance(item, ir.Verbatim) else None
            if m:
                alias, of = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
                if of in mapper.type_bytes:
                    mapper.type_bytes[alias] = mapper.type_bytes[of]
        module, wave64 = _adapt_wave64(replace(module, items=tuple(items)), mapper)
        items = list(module.items)
    mapped = ir.rewrite(replace(module, dialect=target, items=tuple(items)), mapper)
    if mapper.cuda_fp16 and not any(isinstance(i, ir.Include) and i.path == "cuda_fp16.h" for i in mapped.items):
        found = list(mapped.items)
        found.insert(_first_code_index(found), ir.Include("cuda_fp16.h"))
        mapped = replace(mapped, items=tuple(found))
    wave64 |= mapper.cuda_helpers
    if wave64:
        mapped = _with_wave64_helpers(mapped, wave64)
    return _with_helpers(mapped, mapper.helpers, mapper.wavefront) if mapper.helpers else mapped


def _with_helpers(module: ir.Module, used: set[str], wavefront: int) -> ir.Module:
    """``module`` with the definitions of the HIP_HELPERS it calls (and of those they call) after its
    includes, each group after its comment, and ``hip/hip_fp16.h`` included for the half helpers and
    the WMMA namespace (``wmma`` in ``used``) for ``wavefront``-lane wavefronts."""
    from xpiler.frontend.lift import lift
    used = set(used)
    wmma = "wmma" in used
    used.discard("wmma")
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
    if ("half" in groups or wmma) and not any(isinstance(i, ir.Include) and i.path == "hip/hip_fp16.h" for i in items):
        items.insert(_first_code_index(items), ir.Include("hip/hip_fp16.h"))
    added = [ir.Verbatim(wmma_namespace(wavefront), "xpiler's nvcuda::wmma for HIP")] if wmma else []
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


# ---------------------------------------------------------------------------------------------------
# HIP -> CUDA: kernels written for 64-lane wavefronts
#
# A kernel whose warp operations assume 64 lanes (a shuffle offset, lane or loop start of 32 or more, a
# vote over a 64-bit mask), with every function it calls, keeps HIP's semantics on CUDA: each of its
# warp operations becomes a helper (WAVE64_HELPERS) that exchanges through shared memory among the 64
# threads of the wavefront (two warps), with HIP's exact lane arithmetic, and ``warpSize`` is 64 there.
# The helpers synchronise the wavefront's threads, so every thread of the wavefront must reach each
# operation: the control flow around it is checked (_Uniformity). Where every thread of the block
# reaches it, the barrier is __syncthreads(); where whole wavefronts may skip it (``if (row >= rows)
# return;`` with one row per wavefront), a named barrier of the wavefront's two warps, which needs
# blocks of at most 960 threads (barriers 1..15). Anything else is refused.

WAVE64_COMMENT = ["// HIP's 64-lane wavefronts on CUDA's 32-lane warps: wavefront w of a block is its threads 64w .. 64w+63",
                  "// (two warps). A shuffle, vote or MFMA across it goes through shared memory between two barriers:",
                  "// the block's where every thread of the block runs it, else the named barrier 1 + w of the",
                  "// wavefront's warps. HIP's lane arithmetic; a lane beyond the end of the block reads 0, as on AMD."]
WAVE64_HELPERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "xpiler_lane_rank": ("""__device__ __forceinline__ unsigned xpiler_lane_rank() {
  return threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
}""", ()),
    "xpiler_block_threads": ("""__device__ __forceinline__ unsigned xpiler_block_threads() {
  return blockDim.x * blockDim.y * blockDim.z;
}""", ()),
    "xpiler_wave_sync": ("""__device__ __forceinline__ void xpiler_wave_sync(int block_wide) {
  if (block_wide) {
    __syncthreads();
  } else {
    unsigned first = xpiler_lane_rank() & ~63u, left = xpiler_block_threads() - first;
    __barrier_sync_count(1 + first / 64, left < 64 ? (left + 31) / 32 * 32 : 64);
  }
}""", ("xpiler_lane_rank", "xpiler_block_threads")),
    "xpiler_wave_read": ("""template <typename T>
__device__ __forceinline__ T xpiler_wave_read(T v, int index, int block_wide) {
  __shared__ T slots[1024];
  unsigned me = xpiler_lane_rank(), from = (me & ~63u) + ((unsigned)index & 63u);
  slots[me] = v;
  xpiler_wave_sync(block_wide);
  T r = from < xpiler_block_threads() ? slots[from] : T();
  xpiler_wave_sync(block_wide);
  return r;
}""", ("xpiler_wave_sync",)),
    "xpiler_shfl64": ("""template <typename T>
__device__ __forceinline__ T xpiler_shfl64(T v, int src_lane, int width, int block_wide) {
  int self = xpiler_lane_rank() & 63;
  return xpiler_wave_read(v, src_lane + (self & ~(width - 1)), block_wide);
}""", ("xpiler_wave_read",)),
    "xpiler_shfl_up64": ("""template <typename T>
__device__ __forceinline__ T xpiler_shfl_up64(T v, unsigned delta, int width, int block_wide) {
  int self = xpiler_lane_rank() & 63, index = self - (int)delta;
  return xpiler_wave_read(v, index < (self & ~(width - 1)) ? self : index, block_wide);
}""", ("xpiler_wave_read",)),
    "xpiler_shfl_down64": ("""template <typename T>
__device__ __forceinline__ T xpiler_shfl_down64(T v, unsigned delta, int width, int block_wide) {
  int self = xpiler_lane_rank() & 63;
  return xpiler_wave_read(v, (int)((self & (width - 1)) + delta) >= width ? self : self + (int)delta, block_wide);
}""", ("xpiler_wave_read",)),
    "xpiler_shfl_xor64": ("""template <typename T>
__device__ __forceinline__ T xpiler_shfl_xor64(T v, int lane_mask, int width, int block_wide) {
  int self = xpiler_lane_rank() & 63, index = self ^ lane_mask;
  return xpiler_wave_read(v, index >= ((self + width) & ~(width - 1)) ? self : index, block_wide);
}""", ("xpiler_wave_read",)),
    "xpiler_ballot64": ("""__device__ __forceinline__ unsigned long long xpiler_ballot64(int predicate, int block_wide) {
  __shared__ unsigned votes[32];
  unsigned me = xpiler_lane_rank(), first = (me & ~63u) / 32, warps = (xpiler_block_threads() + 31) / 32;
  votes[me / 32] = __ballot_sync(__activemask(), predicate);
  xpiler_wave_sync(block_wide);
  unsigned long long bits = votes[first] | (first + 1 < warps ? (unsigned long long)votes[first + 1] << 32 : 0ull);
  xpiler_wave_sync(block_wide);
  return bits;
}""", ("xpiler_wave_sync",)),
    "xpiler_any64": ("""__device__ __forceinline__ int xpiler_any64(int predicate, int block_wide) {
  return xpiler_ballot64(predicate, block_wide) != 0;
}""", ("xpiler_ballot64",)),
    "xpiler_all64": ("""__device__ __forceinline__ int xpiler_all64(int predicate, int block_wide) {
  return xpiler_ballot64(!predicate, block_wide) == 0;
}""", ("xpiler_ballot64",)),
}
# AMD matrix-core (MFMA) builtins, wavefront-collective: the lanes put their A and B elements into a tile
# of the wavefront in shared memory, then each computes its elements of D = A B + C in fp32 (CDNA's lane
# layouts with cbsz = abid = blgp = 0, reference/simt.md). shape: (M, N, K, values of A and B per lane,
# values of D per lane, A element of a[i], B element of b[i], (row, column) of d[j]) for lane l.
MFMA_LAYOUTS = {
    "16x16x16f16": (16, 16, 16, 4, 4, "(l % 16) * 16 + 4 * (l / 16) + i", "(4 * (l / 16) + i) * 16 + l % 16",
                    ("4 * (l / 16) + j", "l % 16")),
    "32x32x8f16": (32, 32, 8, 4, 16, "(l % 32) * 8 + 4 * (l / 32) + i", "(4 * (l / 32) + i) * 32 + l % 32",
                   ("8 * (j / 4) + 4 * (l / 32) + j % 4", "l % 32")),
    "16x16x4f32": (16, 16, 4, 1, 4, "(l % 16) * 4 + l / 16", "(l / 16) * 16 + l % 16", ("4 * (l / 16) + j", "l % 16")),
    "32x32x2f32": (32, 32, 2, 1, 16, "(l % 32) * 2 + l / 32", "(l / 32) * 32 + l % 32",
                   ("8 * (j / 4) + 4 * (l / 32) + j % 4", "l % 32")),
}


# 16x16x16 in fp16 is a WMMA shape: the wavefront's lanes put A, B (as __half) and C into its tiles, the
# first warp of the wavefront multiplies them on the tensor cores (fp16 products summed in fp32, as MFMA
# does), every lane reads its elements of D back. The tiles take the 32 KB the scalar version's float
# tiles did. A wavefront whose first warp is not whole (a block of fewer threads) cannot run WMMA: its
# lanes compute their elements themselves. Every lane of the block takes the same barriers either way.
_MFMA_ON_TENSOR_CORES = """__device__ __forceinline__ xpiler_vec<float, 4> xpiler_mfma_f32_16x16x16f16(xpiler_vec<__half, 4> a,
    xpiler_vec<__half, 4> b, xpiler_vec<float, 4> c, int block_wide) {
  alignas(32) __shared__ __half halves[16][512];
  alignas(32) __shared__ float sums[16][256];
  int l = xpiler_lane_rank() & 63;
  __half *A = halves[xpiler_lane_rank() / 64], *B = A + 256;
  float *C = sums[xpiler_lane_rank() / 64];
  for (int i = 0; i < 4; ++i) {
    A[(l % 16) * 16 + 4 * (l / 16) + i] = a[i];
    B[(4 * (l / 16) + i) * 16 + l % 16] = b[i];
    C[(4 * (l / 16) + i) * 16 + l % 16] = c[i];
  }
  xpiler_wave_sync(block_wide);
  int tensor_cores = xpiler_block_threads() - (xpiler_lane_rank() & ~63u) >= 32;
  if (tensor_cores && l < 32) {
    nvcuda::wmma::fragment<nvcuda::wmma::matrix_a, 16, 16, 16, __half, nvcuda::wmma::row_major> fa;
    nvcuda::wmma::fragment<nvcuda::wmma::matrix_b, 16, 16, 16, __half, nvcuda::wmma::row_major> fb;
    nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 16, float> fc;
    nvcuda::wmma::load_matrix_sync(fa, A, 16);
    nvcuda::wmma::load_matrix_sync(fb, B, 16);
    nvcuda::wmma::load_matrix_sync(fc, C, 16, nvcuda::wmma::mem_row_major);
    nvcuda::wmma::mma_sync(fc, fa, fb, fc);
    nvcuda::wmma::store_matrix_sync(C, fc, 16, nvcuda::wmma::mem_row_major);
  }
  xpiler_wave_sync(block_wide);
  xpiler_vec<float, 4> d;
  for (int j = 0; j < 4; ++j) {
    float acc = C[(4 * (l / 16) + j) * 16 + l % 16];
    if (!tensor_cores)
      for (int k = 0; k < 16; ++k)
        acc += __half2float(A[(4 * (l / 16) + j) * 16 + k]) * __half2float(B[k * 16 + l % 16]);
    d[j] = acc;
  }
  xpiler_wave_sync(block_wide);
  return d;
}"""


def _mfma_helper(shape: str) -> str:
    """The CUDA definition of ``xpiler_mfma_f32_<shape>`` (MFMA_LAYOUTS)."""
    if shape == "16x16x16f16":
        return _MFMA_ON_TENSOR_CORES
    m, n, k, na, nd, a_at, b_at, (row, col) = MFMA_LAYOUTS[shape]
    operand = f"xpiler_vec<__half, {na}>" if na > 1 else "float"
    if na > 1:
        put = (f"  for (int i = 0; i < {na}; ++i) {{\n    A[{a_at}] = __half2float(a[i]);\n"
               f"    B[{b_at}] = __half2float(b[i]);\n  }}\n")
    else:
        put = f"  A[{a_at}] = a;\n  B[{b_at}] = b;\n"
    return (f"__device__ __forceinline__ xpiler_vec<float, {nd}> xpiler_mfma_f32_{shape}({operand} a, {operand} b, "
            f"xpiler_vec<float, {nd}> c, int block_wide) {{\n"
            f"  __shared__ float tiles[16][{m * k + k * n}];\n"
            f"  int l = xpiler_lane_rank() & 63;\n"
            f"  float *A = tiles[xpiler_lane_rank() / 64], *B = A + {m * k};\n"
            f"{put}"
            f"  xpiler_wave_sync(block_wide);\n"
            f"  xpiler_vec<float, {nd}> d;\n"
            f"  for (int j = 0; j < {nd}; ++j) {{\n"
            f"    float acc = c[j];\n"
            f"    for (int k = 0; k < {k}; ++k)\n"
            f"      acc += A[({row}) * {k} + k] * B[k * {n} + {col}];\n"
            f"    d[j] = acc;\n"
            f"  }}\n"
            f"  xpiler_wave_sync(block_wide);\n"
            f"  return d;\n"
            f"}}")


WAVE64_HELPERS.update({
    # HIP's clang vector types (ext_vector_type, __vector_size__) become this struct in CUDA.
    "xpiler_vec": ("""template <typename T, int N>
struct xpiler_vec {
  T v[N];
  __host__ __device__ T &operator[](int i) { return v[i]; }
  __host__ __device__ const T &operator[](int i) const { return v[i]; }
  __host__ __device__ xpiler_vec operator+(const xpiler_vec &o) const { xpiler_vec r; for (int i = 0; i < N; ++i) r.v[i] = v[i] + o.v[i]; return r; }
  __host__ __device__ xpiler_vec operator-(const xpiler_vec &o) const { xpiler_vec r; for (int i = 0; i < N; ++i) r.v[i] = v[i] - o.v[i]; return r; }
  __host__ __device__ xpiler_vec operator*(const xpiler_vec &o) const { xpiler_vec r; for (int i = 0; i < N; ++i) r.v[i] = v[i] * o.v[i]; return r; }
};""", ()),
    "xpiler_lane_id64": ("""__device__ __forceinline__ unsigned xpiler_lane_id64() {
  return xpiler_lane_rank() & 63;
}""", ("xpiler_lane_rank",)),
    **{f"xpiler_mfma_f32_{shape}": (_mfma_helper(shape), ("xpiler_vec", "xpiler_wave_sync")) for shape in MFMA_LAYOUTS},
})

# warp operation -> (helper, its arguments besides the barrier flag)
WAVE64_CALLS = {"shfl": ("xpiler_shfl64", ("var", "src_lane", "width")),
                "shfl_up": ("xpiler_shfl_up64", ("var", "delta", "width")),
                "shfl_down": ("xpiler_shfl_down64", ("var", "delta", "width")),
                "shfl_xor": ("xpiler_shfl_xor64", ("var", "lane_mask", "width")),
                "ballot": ("xpiler_ballot64", ("predicate",)),
                "any": ("xpiler_any64", ("predicate",)),
                "all": ("xpiler_all64", ("predicate",)),
                **{f"mfma.{shape}": (f"xpiler_mfma_f32_{shape}", ("a", "b", "c")) for shape in MFMA_LAYOUTS}}
NAMED_BARRIER_THREADS = 960  # named barriers 1..15, one per wavefront of 64 threads

BLOCK, WAVE, THREAD = 0, 1, 2
_LEVEL = {BLOCK: "every thread of the block", WAVE: "whole wavefronts", THREAD: "single lanes"}
# C math functions without a registry entry that are pure (their result is as uniform as their arguments)
_PURE = re.compile(r"(f?(max|min)f?|fabsf?|abs|sqrtf?|rsqrtf?|expf?|__expf|logf?|__logf|powf?|tanhf?|floorf?|ceilf?|"
                   r"__fdividef|__float2int_\w+|__int2float_\w+|__half2float|__float2half\w*)$")


def _printed(expr) -> str:
    from xpiler.emitters import Printer
    return Printer("hip").expr(expr)


class _Uniformity:
    """Which threads are sure to reach each warp operation of a kernel written for 64-lane wavefronts:
    BLOCK (every thread of the block), WAVE (every lane of a wavefront or none: the conditions depend at
    most on the wavefront, ``threadIdx.x / 64``) or THREAD. A flow-insensitive fixpoint over each
    function's local variables (the least uniform value any assignment gives them), the conditions of
    enclosing ``if``/loops and ``&&``/``||``/``?:``, earlier ``return``s (for the rest of the function)
    and ``break``/``continue`` (for the rest of the loop), through the device functions it calls."""

    def __init__(self, functions: dict, defines: dict, sites: set[int], memory: set[str], wave_index: bool):
        self.functions, self.defines, self.sites, self.memory = functions, defines, sites, memory
        self.wave_index = wave_index  # threadIdx.x / 64 is the wavefront (1-D blocks)
        self.levels: dict[int, tuple[int, str]] = {}  # id(warp call) -> (level, why)
        self.opaque: list[str] = []
        self.stack: list[str] = []

    def kernel(self, fn: ir.Function) -> None:
        self.function(fn, [BLOCK] * len(fn.params), (BLOCK, ""))

    def function(self, fn: ir.Function, args: list[int], ctx: tuple[int, str]) -> int:
        if fn.name in self.stack or len(self.stack) > 16:
            self.opaque.append(f"the recursive call of {fn.name}")
            return THREAD
        self.stack.append(fn.name)
        self.env = {p.name: level for p, level in zip(fn.params, args)}
        saved = self.__dict__.get("state")
        for _ in range(16):
            self.state = {"env": self.env, "arrays": set(), "shared": set(), "exit": (BLOCK, ""), "loops": [],
                          "ret": BLOCK, "changed": False}
            self.stmt(fn.body, ctx)
            if not self.state["changed"]:
                break
        ret = self.state["ret"]
        self.stack.pop()
        self.state = saved
        self.env = saved["env"] if saved else None
        return ret

    # -- control ------------------------------------------------------------------------------------
    def eff(self, ctx):
        return max([ctx, self.state["exit"], *self.state["loops"]], key=lambda c: c[0])

    @staticmethod
    def under(ctx, level: int, why: str):
        return (level, why) if level > ctx[0] else ctx

    def stmt(self, s, ctx) -> None:
        st = self.state
        if isinstance(s, ir.Block):
            for child in s.body:
                self.stmt(child, ctx)
        elif isinstance(s, ir.Decl):
            for v in s.vars:
                if s.scope != "local":
                    st["shared"].add(v.name)
                    continue
                if v.dims:
                    st["arrays"].add(v.name)
                level = max([self.expr(e, self.eff(ctx)) for e in (v.init, *(v.ctor_args or ())) if e is not None],
                            default=BLOCK)
                self.assign(v.name, max(level, self.eff(ctx)[0]))
        elif isinstance(s, ir.ExprStmt):
            self.expr(s.expr, self.eff(ctx))
        elif isinstance(s, ir.If):
            here = self.eff(ctx)
            inner = self.under(here, self.expr(s.cond, here), f"the condition '{_printed(s.cond)}'")
            self.stmt(s.then, inner)
            if s.other is not None:
                self.stmt(s.other, inner)
        elif isinstance(s, (ir.For, ir.While)):
            if isinstance(s, ir.For) and s.init is not None:
                self.stmt(s.init, ctx)
            st["loops"].append((BLOCK, ""))
            for _ in range(2):  # the second pass sees the breaks, continues and returns of the first
                here = self.eff(ctx)
                cond = BLOCK if s.cond is None else self.expr(s.cond, here)
                inner = self.under(here, cond, f"the loop condition '{_printed(s.cond)}'" if s.cond is not None else "")
                self.stmt(s.body, inner)
                if isinstance(s, ir.For) and s.step is not None:
                    self.expr(s.step, inner)
            st["loops"].pop()
        elif isinstance(s, ir.Return):
            here = self.eff(ctx)
            if s.value is not None:
                st["ret"] = max(st["ret"], self.expr(s.value, here))
            st["ret"] = max(st["ret"], here[0])
            if here[0] > st["exit"][0]:
                st["exit"] = (here[0], f"a return under {here[1]}" if not here[1].startswith("a return") else here[1])
        elif isinstance(s, ir.Jump):
            here = self.eff(ctx)
            if st["loops"] and here[0] > st["loops"][-1][0]:
                st["loops"][-1] = (here[0], f"a {s.kind} under {here[1]}")
        elif isinstance(s, (ir.Barrier, ir.Pragma, ir.Comment)) or s is None:
            pass
        else:
            self.opaque.append(f"code xpiler keeps verbatim ({type(s).__name__})")

    def assign(self, name: str, level: int) -> None:
        old = self.env.get(name, BLOCK)  # what earlier reads assumed
        if level > old:
            self.state["changed"] = True
        self.env[name] = max(level, old)

    # -- values -------------------------------------------------------------------------------------
    def expr(self, e, ctx) -> int:
        """The uniformity of ``e``'s value, visiting its assignments and calls under ``ctx``."""
        st = self.state
        if e is None or isinstance(e, (ir.Const, ir.SizeOf)):
            return BLOCK
        if isinstance(e, ir.Builtin):
            return THREAD if e.name == "threadIdx" else BLOCK
        if isinstance(e, ir.Name):
            if e.id in st["shared"] or e.id in self.memory:
                return THREAD
            return self.env.get(e.id, BLOCK)
        if isinstance(e, (ir.Paren, ir.Cast)):
            return self.expr(e.inner if isinstance(e, ir.Paren) else e.operand, ctx)
        if isinstance(e, ir.BinOp):
            left = self.expr(e.left, ctx)
            right_ctx = self.under(ctx, left, f"the condition '{_printed(e.left)}'") if e.op in ("&&", "||") else ctx
            right = self.expr(e.right, right_ctx)
            if self.wave_uniform(e):
                return WAVE
            return max(left, right)
        if isinstance(e, ir.UnOp):
            level = self.expr(e.operand, ctx)
            if e.op in ("++", "--"):
                self.store(e.operand, level, ctx)
            return THREAD if e.op in ("*", "&") else level
        if isinstance(e, ir.Assign):
            level = self.expr(e.value, ctx)
            if e.op != "=":
                level = max(level, self.expr(e.target, ctx))
            self.store(e.target, level, ctx)
            return level
        if isinstance(e, ir.Ternary):
            cond = self.expr(e.cond, ctx)
            inner = self.under(ctx, cond, f"the condition '{_printed(e.cond)}'")
            return max(cond, self.expr(e.then, inner), self.expr(e.other, inner))
        if isinstance(e, ir.Index):
            index = self.expr(e.index, ctx)
            base = strip_parens(e.base)
            if isinstance(base, ir.Name) and base.id in st["arrays"]:
                return max(index, self.env.get(base.id, BLOCK))
            if isinstance(base, ir.Index):
                inner = base
                while isinstance(strip_parens(inner), ir.Index):
                    inner = strip_parens(inner)
                    self.expr(inner.index, ctx)
                    inner = inner.base
                inner = strip_parens(inner)
                if isinstance(inner, ir.Name) and inner.id in st["arrays"]:
                    return max(index, self.env.get(inner.id, BLOCK), self.expr(base, ctx))
            self.expr(e.base, ctx)
            return THREAD  # memory
        if isinstance(e, ir.Member):
            level = self.expr(e.base, ctx)
            return THREAD if e.arrow else level
        if isinstance(e, (ir.InitList, ir.Comma)):
            parts = e.items if isinstance(e, ir.InitList) else (e.left, e.right)
            return max((self.expr(p, ctx) for p in parts), default=BLOCK)
        if isinstance(e, ir.Call):
            return self.call(e, ctx)
        self.opaque.append(f"an expression xpiler keeps verbatim ({_printed(e)})")
        return THREAD

    def store(self, target, level: int, ctx) -> None:
        """An assignment to ``target``: a local variable, an element of a local array or a field of a local
        struct takes ``level`` (under ``ctx``); memory (through pointers, shared, global) is not tracked."""
        target, indexed = strip_parens(target), False
        while isinstance(target, (ir.Index, ir.Member)) and not (isinstance(target, ir.Member) and target.arrow):
            if isinstance(target, ir.Index):
                level, indexed = max(level, self.expr(target.index, ctx)), True
            target = strip_parens(target.base)
        if not isinstance(target, ir.Name) or target.id in self.state["shared"] or target.id in self.memory:
            return
        if indexed and target.id not in self.state["arrays"]:
            return  # through a pointer
        self.assign(target.id, max(level, ctx[0]))

    def call(self, e: ir.Call, ctx) -> int:
        args = [self.expr(a, ctx) for a in e.args]
        if id(e) in self.sites:
            level, why = self.levels.get(id(e), (BLOCK, ""))
            if ctx[0] >= level:
                self.levels[id(e)] = ctx
        if e.intrinsic is not None:
            intrinsic = REGISTRY[e.intrinsic]
            if intrinsic.name in _VOTES:
                return WAVE
            return max(args, default=BLOCK) if intrinsic.kind in ("math", "convert") else THREAD
        if isinstance(e.func, ir.Name):
            if e.func.id in self.functions:
                return self.function(self.functions[e.func.id], args, ctx)
            if _PURE.match(e.func.id):
                return max(args, default=BLOCK)
        return THREAD

    def wave_uniform(self, e: ir.BinOp) -> bool:
        """``threadIdx.x / 64k``, ``threadIdx.x >> 6+``, ``threadIdx.x < 64k``...: the same in every lane of a
        wavefront (1-D blocks)."""
        if not self.wave_index:
            return False
        left = strip_parens(e.left)
        while isinstance(left, (ir.Cast, ir.Paren)):
            left = strip_parens(left.operand if isinstance(left, ir.Cast) else left)
        if not (isinstance(left, ir.Builtin) and left.name == "threadIdx" and left.axis == "x"):
            return False
        c = constant_value(e.right, self.defines, 64)
        if c is None or c < 0:
            return False
        return {"/": c > 0 and c % 64 == 0, ">>": c >= 6, "<": c % 64 == 0, ">=": c % 64 == 0,
                "<=": (c + 1) % 64 == 0, ">": (c + 1) % 64 == 0}.get(e.op, False)


def _calls_in(node) -> list[ir.Call]:
    return [n for n in ir.walk(node) if isinstance(n, ir.Call)]


def _block_threads(kernel: ir.Function, launches: list[ir.Launch], defines: dict) -> tuple[int | None, bool]:
    """The most threads a block of ``kernel`` has (its ``__launch_bounds__``, else the constant block of
    every launch of it; None when unknown) and whether its blocks are one-dimensional."""
    def dims(block):
        block = strip_parens(block)
        if isinstance(block, ir.Call) and isinstance(block.func, ir.Name) and block.func.id == "dim3":
            return [constant_value(a, defines, 64) for a in block.args]
        return [constant_value(block, defines, 64)]
    shapes = [dims(launch.config[1]) for launch in launches if len(launch.config) >= 2]
    one_d = all(all(d == 1 for d in shape[1:]) for shape in shapes)
    bound = constant_value(kernel.launch_bounds[0], defines, 64) if kernel.launch_bounds else None
    if bound is None and shapes and all(None not in shape for shape in shapes):
        bound = max(math.prod(shape) for shape in shapes)
    return bound, one_d


def _adapt_wave64(module: ir.Module, mapper: "_Mapper") -> tuple[ir.Module, set[str]]:
    """HIP -> CUDA: the kernels that assume 64-lane wavefronts (and the functions they call) with their
    warp operations as WAVE64_HELPERS calls and ``warpSize`` as 64 (see above); ``__lane_id()`` as HIP's
    lane of the wavefront everywhere. Returns the module and the helpers it calls."""
    used: set[str] = set()

    def lane_id(node):
        if isinstance(node, ir.Call) and isinstance(node.func, ir.Name) and node.func.id == "__lane_id" and not node.args:
            used.add("xpiler_lane_id64")
            return ir.Call(ir.Name("xpiler_lane_id64"), ())
        return node
    module = ir.rewrite(module, lane_id)
    functions = {f.name: f for f in module.functions() if f.body is not None}
    warp_calls = {name: [c for c in _calls_in(f.body) if c.intrinsic is not None
                         and REGISTRY[c.intrinsic].name in WAVE64_CALLS] for name, f in functions.items()}
    callees = {name: {c.func.id for c in _calls_in(f.body) if isinstance(c.func, ir.Name) and c.func.id in functions}
               for name, f in functions.items()}

    def reach(name, seen=None):
        seen = set() if seen is None else seen
        if name not in seen:
            seen.add(name)
            for callee in callees[name]:
                reach(callee, seen)
        return seen

    def assumes_64(call) -> bool:
        intrinsic = REGISTRY[call.intrinsic]
        if intrinsic.name in _VOTES or intrinsic.name.startswith("mfma."):
            return True
        bound = dict(zip(REGISTRY.lookup("hip", call.func.id, len(call.args))[1].order, call.args))
        try:
            mapper.check_hip_lanes(bound)
        except UnsupportedError:
            return True
        return False

    flagged = {name for name, calls in warp_calls.items() if any(assumes_64(c) for c in calls)}
    if not flagged:
        return module, used
    kernels = [f for f in functions.values() if f.kind == "kernel"]
    converted, wave_kernels = set(flagged), []
    changed = True
    while changed:
        changed = False
        for k in kernels:
            if k not in wave_kernels and reach(k.name) & converted:
                wave_kernels.append(k)
                converted |= reach(k.name)
                changed = True
    sites = {id(c): c for name in converted for c in warp_calls[name]}
    memory = {v.name for item in module.items if isinstance(item, ir.Decl) and item.scope in ("shared", "global")
              for v in item.vars}
    launches = [n for n in ir.walk(module) if isinstance(n, ir.Launch)]
    levels: dict[int, tuple[int, str]] = {}
    for k in wave_kernels:
        own = [launch for launch in launches if isinstance(launch.kernel, ir.Name) and launch.kernel.id == k.name]
        threads, one_d = _block_threads(k, own, mapper.defines)
        walker = _Uniformity(functions, mapper.defines, set(sites), memory, one_d)
        walker.kernel(k)
        if walker.opaque:
            raise mapper.fail(f"kernel {k.name} assumes 64-lane wavefronts, and its warp operations cannot be shown "
                              f"to be reached by whole wavefronts because of {walker.opaque[0]}")
        for key, (level, why) in walker.levels.items():
            if level == WAVE and (threads is None or threads > NAMED_BARRIER_THREADS):
                size = "an unknown number of" if threads is None else f"{threads}"
                raise mapper.fail(f"kernel {k.name} assumes 64-lane wavefronts and runs a warp operation that whole "
                                  f"wavefronts may skip ({why}) in blocks of {size} threads: a barrier of the "
                                  f"wavefront's two warps needs blocks of at most {NAMED_BARRIER_THREADS} threads")
            if level >= levels.get(key, (BLOCK, ""))[0]:
                levels[key] = (level, why)
    for key, call in sites.items():
        level, why = levels.get(key, (THREAD, "it is not called from a kernel"))
        if level == THREAD:
            raise mapper.fail(f"'{_printed(call)}' exchanges across a 64-lane wavefront, which CUDA's 32-lane warps "
                              f"can only do when every lane of the wavefront reaches it, and {why} may leave some "
                              "lanes out")

    def rewrite(node):
        if isinstance(node, ir.Call) and id(node) in sites:
            intrinsic = REGISTRY[node.intrinsic]
            helper, order = WAVE64_CALLS[intrinsic.name]
            bound = dict(zip(REGISTRY.lookup("hip", node.func.id, len(node.args))[1].order, node.args))
            for modifier in ("cbsz", "abid", "blgp"):
                if modifier in bound and constant_value(bound[modifier], mapper.defines, 64) != 0:
                    raise mapper.fail(f"'{_printed(node)}': MFMA with a nonzero {modifier} (broadcast) has no CUDA "
                                      "mapping")
            args = [bound.get(p, ir.Const("64", 64)) for p in order]
            block_wide = levels[id(node)][0] == BLOCK
            used.add(helper)
            return ir.Call(ir.Name(helper), (*args, ir.Const(str(int(block_wide)), int(block_wide))))
        if isinstance(node, ir.Name) and node.id == "warpSize":
            return ir.Const("64", 64)  # HIP's, in code written for it
        return node

    def convert(item):
        if isinstance(item, ir.Function) and item.name in converted and item.body is not None:
            return ir.rewrite(item, rewrite)
        if isinstance(item, ir.ExternC):
            return replace(item, items=tuple(convert(i) for i in item.items))
        return item
    return replace(module, items=tuple(convert(i) for i in module.items)), used


def _with_wave64_helpers(module: ir.Module, used: set[str]) -> ir.Module:
    """``module`` (CUDA) with the definitions of the WAVE64_HELPERS it calls after its includes."""
    from xpiler.frontend.lift import lift
    names: list[str] = []

    def need(name):
        for dep in WAVE64_HELPERS[name][1]:
            need(dep)
        if name not in names:
            names.append(name)
    for name in sorted(used):
        need(name)
    text = "\n".join(WAVE64_HELPERS[n][0] for n in names)
    helpers = [f for f in lift(text, "cuda").module.items if isinstance(f, (ir.Function, ir.Verbatim))]
    items = list(module.items)
    if "nvcuda::wmma::" in text and not any(isinstance(i, ir.Include) and i.path == "mma.h" for i in items):
        items.insert(_first_code_index(items), ir.Include("mma.h"))
    at = _first_code_index(items)
    comment = [ir.Comment(line) for line in WAVE64_COMMENT] if "xpiler_wave_sync" in names else []
    items[at:at] = [*comment, *helpers]
    return replace(module, items=tuple(items))


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
