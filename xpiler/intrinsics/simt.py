"""CUDA and HIP intrinsics: barriers, warp primitives, atomics, half conversions, math, WMMA, MFMA
(semantics: ../shared/reference/simt.md)."""

from __future__ import annotations

from .registry import intrinsic

# -- barriers ------------------------------------------------------------------------------------
intrinsic("syncthreads", "sync", "", cuda="__syncthreads", hip="__syncthreads",
          doc="barrier of the threads of one block")
intrinsic("syncwarp", "sync", "unsigned mask", cuda="__syncwarp", hip=("__syncwarp", "mask"),
          defaults={"mask": "0xffffffff"}, doc="barrier of the lanes of one warp")
intrinsic("threadfence", "sync", "", cuda="__threadfence", hip="__threadfence")

# -- warp primitives -----------------------------------------------------------------------------
# `width` defaults to the warp size of the dialect: the CUDA->HIP mapping passes it explicitly
# (32) so that 32-lane semantics hold on 64-lane wavefronts.
_W = {"mask": "0xffffffff", "width": "warpSize"}
intrinsic("shfl", "warp", "unsigned mask, T var, int src_lane, int width",
          cuda=[("__shfl_sync", "mask, var, src_lane, width"), ("__shfl_sync", "mask, var, src_lane")],
          hip=[("__shfl", "var, src_lane, width"), ("__shfl", "var, src_lane")], defaults=_W,
          scalar="result[lane] = var[(lane / width) * width + src_lane % width];")
intrinsic("shfl_down", "warp", "unsigned mask, T var, unsigned delta, int width",
          cuda=[("__shfl_down_sync", "mask, var, delta, width"), ("__shfl_down_sync", "mask, var, delta")],
          hip=[("__shfl_down", "var, delta, width"), ("__shfl_down", "var, delta")], defaults=_W,
          scalar="result[lane] = (lane % width) + delta < width ? var[lane + delta] : var[lane];")
intrinsic("shfl_up", "warp", "unsigned mask, T var, unsigned delta, int width",
          cuda=[("__shfl_up_sync", "mask, var, delta, width"), ("__shfl_up_sync", "mask, var, delta")],
          hip=[("__shfl_up", "var, delta, width"), ("__shfl_up", "var, delta")], defaults=_W,
          scalar="result[lane] = (lane % width) >= delta ? var[lane - delta] : var[lane];")
intrinsic("shfl_xor", "warp", "unsigned mask, T var, int lane_mask, int width",
          cuda=[("__shfl_xor_sync", "mask, var, lane_mask, width"), ("__shfl_xor_sync", "mask, var, lane_mask")],
          hip=[("__shfl_xor", "var, lane_mask, width"), ("__shfl_xor", "var, lane_mask")], defaults=_W,
          scalar="result[lane] = ((lane ^ lane_mask) % width) == (lane ^ lane_mask) - (lane / width) * width"
                 " ? var[lane ^ lane_mask] : var[lane];")
intrinsic("ballot", "warp", "unsigned mask, int predicate",
          cuda=("__ballot_sync", "mask, predicate"), hip=("__ballot", "predicate"), defaults=_W)
intrinsic("any", "warp", "unsigned mask, int predicate",
          cuda=("__any_sync", "mask, predicate"), hip=("__any", "predicate"), defaults=_W)
intrinsic("all", "warp", "unsigned mask, int predicate",
          cuda=("__all_sync", "mask, predicate"), hip=("__all", "predicate"), defaults=_W)
intrinsic("activemask", "warp", "", cuda="__activemask", hip="__activemask")

# -- atomics -------------------------------------------------------------------------------------
# Sequential meaning (after loop recovery): a read-modify-write that returns the old value.
for _op, _c in [("Add", "old + val"), ("Sub", "old - val"), ("Max", "val > old ? val : old"),
                ("Min", "val < old ? val : old"), ("Exch", "val"), ("And", "old & val"),
                ("Or", "old | val"), ("Xor", "old ^ val")]:
    intrinsic(f"atomic{_op}", "atomic", "T *address, T val", writes=("address",),
              cuda=f"atomic{_op}", hip=f"atomic{_op}",
              scalar=f"T old = *address; *address = {_c}; return old;")
intrinsic("atomicCAS", "atomic", "T *address, T compare, T val", writes=("address",),
          cuda="atomicCAS", hip="atomicCAS",
          scalar="T old = *address; *address = old == compare ? val : old; return old;")
intrinsic("atomicInc", "atomic", "unsigned *address, unsigned val", writes=("address",),
          cuda="atomicInc", hip="atomicInc",
          scalar="unsigned old = *address; *address = old >= val ? 0 : old + 1; return old;")
intrinsic("atomicDec", "atomic", "unsigned *address, unsigned val", writes=("address",),
          cuda="atomicDec", hip="atomicDec",
          scalar="unsigned old = *address; *address = old == 0 || old > val ? val : old - 1; return old;")

# -- half precision ------------------------------------------------------------------------------
# Parameter types are CUDA's (`__float2half(float)`): an argument of another type converts first.
for _name, _sig, _scalar in [("__float2half", "float x", "(half)x"), ("__half2float", "half x", "(float)x"),
                             ("__float2half_rn", "float x", "(half)x"), ("__int2half_rn", "int x", "(half)x"),
                             ("__half2int_rn", "half x", "(int)rintf((float)x)")]:
    intrinsic(_name.strip("_"), "convert", _sig, cuda=_name, hip=_name, scalar=f"return {_scalar};")
for _name, _sig, _scalar in [("__float2half_rz", "float x", "__xp_float2half(x, 1)"),
                             ("__float2half_rd", "float x", "__xp_float2half(x, 2)"),
                             ("__float2half_ru", "float x", "__xp_float2half(x, 3)"),
                             ("__half2int_rz", "half x", "(int)(float)x"),
                             ("__float2int_rn", "float x", "(int)rintf(x)"), ("__float2int_rz", "float x", "(int)x"),
                             ("__int2float_rn", "int x", "(float)x")]:
    intrinsic(_name.strip("_"), "convert", _sig, cuda=_name, hip=_name, scalar=f"return {_scalar};")
for _name, _op in [("__hadd", "+"), ("__hsub", "-"), ("__hmul", "*"), ("__hdiv", "/")]:
    intrinsic(_name.strip("_"), "math", "half a, half b", cuda=_name, hip=_name,
              scalar=f"return (half)((float)a {_op} (float)b);")
for _name, _sym in [("__hlt", "<"), ("__hgt", ">"), ("__hle", "<="), ("__hge", ">="), ("__heq", "=="), ("__hne", "!=")]:
    intrinsic(_name.strip("_"), "math", "half a, half b", cuda=_name, hip=_name,
              scalar=f"return (float)a {_sym} (float)b;")
intrinsic("hneg", "math", "half a", cuda="__hneg", hip="__hneg", scalar="return -a;")
intrinsic("hfma", "math", "half a, half b, half c", cuda="__hfma", hip="__hfma",
          scalar="return (half)fmaf((float)a, (float)b, (float)c);")

# -- math: same spelling in both SIMT dialects and in C (fast variants are approximations) ------
for _name in ["expf", "__expf", "exp", "logf", "__logf", "log", "tanhf", "tanh", "powf", "__powf", "pow",
              "sqrtf", "sqrt", "rsqrtf", "fmaxf", "fminf", "fabsf", "fabs", "__fdividef", "erff", "erf",
              "sinf", "cosf", "__sinf", "__cosf", "floorf", "ceilf", "roundf", "rintf", "fmaf", "exp2f",
              "log2f", "max", "min", "abs"]:
    spellings = {"cuda": _name, "hip": _name}
    if not _name.startswith("__") and _name not in ("max", "min"):
        spellings.update(bang=_name, vnni=_name)
    intrinsic(f"math.{_name}", "math", "T x", **spellings)

# -- four-byte dot products: c + the four products of a's and b's bytes (byte 0 the lowest) ------------
# CUDA's __dp4a is overloaded: int operands have signed bytes, unsigned ones unsigned bytes; the sum
# wraps in 32 bits. HIP (CDNA) has one builtin per signedness, whose clamp saturates instead.
_BYTE_PRODUCTS = ("for (int i = 0; i < 4; ++i) s += (long long)({B})(a >> (8 * i)) * (long long)({B})(b >> (8 * i));")
intrinsic("dp4a", "math", "T a, T b, T c", cuda="__dp4a",
          scalar="T zero = 0, one = 1; long long s = (long long)c;"   # zero - one < zero: T is signed
                 " if (zero - one < zero) { " + _BYTE_PRODUCTS.format(B="signed char") + " } else { " +
                 _BYTE_PRODUCTS.format(B="unsigned char") + " } return (T)(unsigned)s;",
          doc="c + the four byte products of a and b, mod 2^32 (signed bytes for int, unsigned for unsigned)")
intrinsic("sdot4", "math", "int a, int b, int c, bool clamp", hip="__builtin_amdgcn_sdot4",
          scalar="long long s = (long long)c; " + _BYTE_PRODUCTS.format(B="signed char") +
                 " return clamp ? (int)(s > 2147483647LL ? 2147483647LL : s < -2147483648LL ? -2147483648LL : s)"
                 " : (int)(unsigned)s;",
          doc="c + the four signed byte products of a and b, mod 2^32 or saturated (clamp)")
intrinsic("udot4", "math", "unsigned a, unsigned b, unsigned c, bool clamp", hip="__builtin_amdgcn_udot4",
          scalar="long long s = (long long)c; " + _BYTE_PRODUCTS.format(B="unsigned char") +
                 " return clamp ? (unsigned)(s > 4294967295LL ? 4294967295LL : s) : (unsigned)s;",
          doc="c + the four unsigned byte products of a and b, mod 2^32 or saturated (clamp)")

# -- WMMA (CUDA tensor cores) --------------------------------------------------------------------
# After loop recovery a fragment is one array holding the whole rows x cols tile in row-major order
# (`Frag` parameters: `f.x`, `f.rows`, `f.cols`, `f.num_elements`, `f.row_major` come from the
# fragment's type, see detensorize). Products accumulate in float (int64 for integer accumulators:
# ACC), as tensor cores and the emulation do.
intrinsic("wmma.fill_fragment", "tensor", "Frag &f, T v", writes=("f",),
          cuda=["wmma::fill_fragment", "nvcuda::wmma::fill_fragment"],
          scalar="for (int i = 0; i < f.rows * f.cols; ++i) f.x[i] = v;")
intrinsic("wmma.load_matrix_sync", "tensor", "Frag &f, const T *ptr, int ldm", writes=("f",),
          cuda=["wmma::load_matrix_sync", "nvcuda::wmma::load_matrix_sync"],
          scalar="for (int r = 0; r < f.rows; ++r) for (int c = 0; c < f.cols; ++c)"
                 " f.x[r * f.cols + c] = f.row_major ? ptr[r * ldm + c] : ptr[c * ldm + r];",
          doc="matrix_a / matrix_b fragments: the layout is part of the fragment type")
intrinsic("wmma.load_matrix_sync_layout", "tensor", "Frag &f, const T *ptr, int ldm, int layout", writes=("f",),
          cuda=["wmma::load_matrix_sync", "nvcuda::wmma::load_matrix_sync"],
          scalar="for (int r = 0; r < f.rows; ++r) for (int c = 0; c < f.cols; ++c)"
                 " f.x[r * f.cols + c] = layout == mem_row_major ? ptr[r * ldm + c] : ptr[c * ldm + r];",
          doc="accumulator fragments: the memory layout is an argument")
intrinsic("wmma.store_matrix_sync", "tensor", "T *ptr, const Frag &f, int ldm, int layout",
          writes=("ptr",), cuda=["wmma::store_matrix_sync", "nvcuda::wmma::store_matrix_sync"],
          scalar="for (int r = 0; r < f.rows; ++r) for (int c = 0; c < f.cols; ++c)"
                 " ptr[layout == mem_row_major ? r * ldm + c : c * ldm + r] = f.x[r * f.cols + c];")
intrinsic("wmma.mma_sync", "tensor", "Frag &d, const Frag &a, const Frag &b, const Frag &c, int satf",
          writes=("d",), cuda=["wmma::mma_sync", "nvcuda::wmma::mma_sync",
                               ("wmma::mma_sync", "d, a, b, c"), ("nvcuda::wmma::mma_sync", "d, a, b, c")],
          defaults={"satf": "0"},
          scalar="for (int m = 0; m < d.rows; ++m) for (int n = 0; n < d.cols; ++n) {"
                 " ACC acc = c.x[m * c.cols + n];"
                 " for (int k = 0; k < a.cols; ++k) acc += (ACC)a.x[m * a.cols + k] * (ACC)b.x[k * b.cols + n];"
                 " if (satf) acc = acc != acc ? 0 : acc < -65504 ? -65504 : acc > 65504 ? 65504 : acc;"
                 " d.x[m * d.cols + n] = acc; }",
          doc="d = a @ b + c; satf saturates to the finite half range (NaN to 0)")

# -- MFMA (AMD matrix cores), per-lane layout of simt.md ----------------------------------------
for _shape, _m, _k in [("16x16x16f16", 16, 16), ("32x32x8f16", 32, 8), ("16x16x4f32", 16, 4),
                       ("32x32x2f32", 32, 2)]:
    intrinsic(f"mfma.{_shape}", "tensor", "V a, V b, C c, int cbsz, int abid, int blgp",
              hip=f"__builtin_amdgcn_mfma_f32_{_shape}",
              doc=f"wavefront-collective D({_m}x{_m}) = A({_m}x{_k}) * B({_k}x{_m}) + C; lane layout in simt.md")
