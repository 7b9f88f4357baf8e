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
for _op, _c in [("Add", "*address + val"), ("Sub", "*address - val"), ("Max", "max(*address, val)"),
                ("Min", "min(*address, val)"), ("Exch", "val"), ("And", "*address & val"),
                ("Or", "*address | val"), ("Xor", "*address ^ val")]:
    intrinsic(f"atomic{_op}", "atomic", "T *address, T val", writes=("address",),
              cuda=f"atomic{_op}", hip=f"atomic{_op}",
              scalar=f"old = *address; *address = {_c}; return old;")
intrinsic("atomicCAS", "atomic", "T *address, T compare, T val", writes=("address",),
          cuda="atomicCAS", hip="atomicCAS",
          scalar="old = *address; if (old == compare) *address = val; return old;")

# -- half precision ------------------------------------------------------------------------------
for _name, _scalar in [("__float2half", "(half)x"), ("__half2float", "(float)x"),
                       ("__float2half_rn", "(half)x"), ("__int2half_rn", "(half)x"),
                       ("__half2int_rn", "(int)rint((float)x)")]:
    intrinsic(_name.strip("_"), "convert", "T x", cuda=_name, hip=_name, scalar=f"return {_scalar};")
for _name, _op in [("__hadd", "+"), ("__hsub", "-"), ("__hmul", "*"), ("__hdiv", "/")]:
    intrinsic(_name.strip("_"), "math", "half a, half b", cuda=_name, hip=_name,
              scalar=f"return (half)((float)a {_op} (float)b);")

# -- math: same spelling in both SIMT dialects and in C (fast variants are approximations) ------
for _name in ["expf", "__expf", "exp", "logf", "__logf", "log", "tanhf", "tanh", "powf", "__powf", "pow",
              "sqrtf", "sqrt", "rsqrtf", "fmaxf", "fminf", "fabsf", "fabs", "__fdividef", "erff", "erf",
              "sinf", "cosf", "__sinf", "__cosf", "floorf", "ceilf", "roundf", "rintf", "fmaf", "exp2f",
              "log2f", "max", "min", "abs"]:
    spellings = {"cuda": _name, "hip": _name}
    if not _name.startswith("__") and _name not in ("max", "min"):
        spellings.update(bang=_name, vnni=_name)
    intrinsic(f"math.{_name}", "math", "T x", **spellings)

# -- WMMA (CUDA tensor cores) --------------------------------------------------------------------
intrinsic("wmma.fill_fragment", "tensor", "Frag &f, T v", writes=("f",),
          cuda=["wmma::fill_fragment", "nvcuda::wmma::fill_fragment"],
          scalar="for (int i = 0; i < f.rows * f.cols; ++i) f.x[i] = v;")
intrinsic("wmma.load_matrix_sync", "tensor", "Frag &f, const T *ptr, unsigned ldm", writes=("f",),
          cuda=["wmma::load_matrix_sync", "nvcuda::wmma::load_matrix_sync"],
          scalar="for (int r = 0; r < f.rows; ++r) for (int c = 0; c < f.cols; ++c)"
                 " f.x[r * f.cols + c] = f.row_major ? ptr[r * ldm + c] : ptr[c * ldm + r];")
intrinsic("wmma.store_matrix_sync", "tensor", "T *ptr, const Frag &f, unsigned ldm, layout_t layout",
          writes=("ptr",), cuda=["wmma::store_matrix_sync", "nvcuda::wmma::store_matrix_sync"],
          scalar="for (int r = 0; r < 16; ++r) for (int c = 0; c < 16; ++c)"
                 " ptr[layout == mem_row_major ? r * ldm + c : c * ldm + r] = f.x[r * 16 + c];")
intrinsic("wmma.mma_sync", "tensor", "Frag &d, const Frag &a, const Frag &b, const Frag &c", writes=("d",),
          cuda=["wmma::mma_sync", "nvcuda::wmma::mma_sync"],
          scalar="for (int m = 0; m < 16; ++m) for (int n = 0; n < 16; ++n) {"
                 " float acc = c.x[m * 16 + n];"
                 " for (int k = 0; k < 16; ++k) acc += (float)a.x[m * 16 + k] * (float)b.x[k * 16 + n];"
                 " d.x[m * 16 + n] = acc; }")

# -- MFMA (AMD matrix cores), per-lane layout of simt.md ----------------------------------------
for _shape, _m, _k in [("16x16x16f16", 16, 16), ("32x32x8f16", 32, 8), ("16x16x4f32", 16, 4),
                       ("32x32x2f32", 32, 2)]:
    intrinsic(f"mfma.{_shape}", "tensor", "V a, V b, C c, int cbsz, int abid, int blgp",
              hip=f"__builtin_amdgcn_mfma_f32_{_shape}",
              doc=f"wavefront-collective D({_m}x{_m}) = A({_m}x{_k}) * B({_k}x{_m}) + C; lane layout in simt.md")
