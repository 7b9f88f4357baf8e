"""The BANG CPU emulation (xpiler/oracle/bang.py + runtime/bang_emu.h): preparation, execution model,
intrinsic semantics against numpy (small and exact), and planted bugs the emulation must expose."""

import re

import numpy as np
import pytest

import xpiler
from xpiler import suite
from xpiler.errors import CompileError, EmulationFault
from xpiler.oracle import bang

# ---------------------------------------------------------------------------------------------
# One program with a kernel per intrinsic family (compiled once, cached by content).

INTR = r"""
#include <bang.h>
#define NMAX 1024

template <typename T>
__mlu_func__ void apply(int op, T *z, T *x, T *y, T *t, int n, T s) {
  switch (op) {
    case 0: __bang_add(z, x, y, n); break;
    case 1: __bang_sub(z, x, y, n); break;
    case 2: __bang_mul(z, x, y, n); break;
    case 3: __bang_div(z, x, y, n); break;
    case 4: __bang_div(z, x, y, t, n); break;
    case 5: __bang_maximum(z, x, y, n); break;
    case 6: __bang_maxequal(z, x, y, n); break;
    case 7: __bang_minimum(z, x, y, n); break;
    case 8: __bang_minequal(z, x, y, n); break;
    case 9: __bang_ge(z, x, y, n); break;
    case 10: __bang_gt(z, x, y, n); break;
    case 11: __bang_le(z, x, y, n); break;
    case 12: __bang_lt(z, x, y, n); break;
    case 13: __bang_eq(z, x, y, n); break;
    case 14: __bang_ne(z, x, y, n); break;
    case 15: __bang_and(z, x, y, n); break;
    case 16: __bang_or(z, x, y, n); break;
    case 17: __bang_xor(z, x, y, n); break;
    case 20: __bang_add_scalar(z, x, s, n); break;
    case 21: __bang_sub_scalar(z, x, s, n); break;
    case 22: __bang_mul_scalar(z, x, s, n); break;
    case 23: __bang_add_const(z, x, s, n); break;
    case 24: __bang_mul_const(z, x, s, n); break;
    case 25: __bang_div(z, x, s, n); break;
    case 26: __bang_ge_scalar(z, x, s, n); break;
    case 27: __bang_gt_scalar(z, x, s, n); break;
    case 28: __bang_le_scalar(z, x, s, n); break;
    case 29: __bang_lt_scalar(z, x, s, n); break;
    case 30: __bang_eq_scalar(z, x, s, n); break;
    case 31: __bang_ne_scalar(z, x, s, n); break;
    case 40: __bang_square(z, x, n); break;
    case 41: __bang_sqrt(z, x, n); break;
    case 42: __bang_rsqrt(z, x, n); break;
    case 43: __bang_recip(z, x, n); break;
    case 44: __bang_relu(z, x, n); break;
    case 45: __bang_active_relu(z, x, n); break;
    case 46: __bang_active_sign(z, x, n); break;
    case 47: __bang_active_abs(z, x, n); break;
    case 48: __bang_not(z, x, n); break;
    case 50: __bang_active_exp(z, x, n); break;
    case 51: __bang_active_exphp(z, x, n); break;
    case 52: __bang_active_sigmoid(z, x, n); break;
    case 53: __bang_active_gelu(z, x, n); break;
    case 54: __bang_active_tanh(z, x, n); break;
    case 55: __bang_active_recip(z, x, n); break;
    case 56: __bang_active_rsqrt(z, x, n); break;
    case 57: __bang_active_sqrthp(z, x, n); break;
    case 60: __bang_cycle_add(z, x, y, n, 64); break;
    case 61: __bang_cycle_sub(z, x, y, n, 64); break;
    case 62: __bang_cycle_mul(z, x, y, n, 64); break;
    case 70: __bang_write_value(z, n, s); break;
    case 71: __bang_write_zero(z, n); break;
    case 72: __nramset(z, n, s); break;
    case 73: __memset_nram(z, n, s); break;
    case 80: __bang_transpose(z, x, 16, n / 16); break;
    case 90: __bang_reduce_sum(z, x, n); break;
    case 91: __bang_add(x, x, y, n); __bang_mul(z, x, x, n); break;
    case 92: __bang_add(x + 1, x, y, n - 1); __bang_add(z, x, y, n); break;  /* overlapping operands */
  }
}

extern "C" __mlu_global__ void ew_f32(float *a, float *b, float *out, int op, int n, float s) {
  __nram__ float x[NMAX];
  __nram__ float y[NMAX];
  __nram__ float z[NMAX];
  __nram__ float t[NMAX];
  __memcpy(x, a, n * sizeof(float), GDRAM2NRAM);
  __memcpy(y, b, n * sizeof(float), GDRAM2NRAM);
  __bang_write_zero(z, NMAX);
  apply<float>(op, z, x, y, t, n, s);
  __memcpy(out, z, n * sizeof(float), NRAM2GDRAM);
}

extern "C" __mlu_global__ void ew_f16(half *a, half *b, half *out, int op, int n, float s) {
  __nram__ half x[NMAX], y[NMAX], z[NMAX], t[NMAX];
  __memcpy(x, a, n * sizeof(half), GDRAM2NRAM);
  __memcpy(y, b, n * sizeof(half), GDRAM2NRAM);
  __bang_write_zero(z, NMAX);
  apply<half>(op, z, x, y, t, n, (half)s);
  __memcpy(out, z, n * sizeof(half), NRAM2GDRAM);
}

extern "C" __mlu_global__ void ew_i32(int *a, int *b, int *out, int op, int n, int s) {
  __nram__ int x[NMAX], y[NMAX], z[NMAX], t[NMAX];
  __memcpy(x, a, n * sizeof(int), GDRAM2NRAM);
  __memcpy(y, b, n * sizeof(int), GDRAM2NRAM);
  __bang_write_zero(z, NMAX);
  if (op == 100) __bang_band(z, x, y, n);
  else if (op == 101) __bang_bor(z, x, y, n);
  else if (op == 102) __bang_bxor(z, x, y, n);
  else apply<int>(op, z, x, y, t, n, s);
  __memcpy(out, z, n * sizeof(int), NRAM2GDRAM);
}

extern "C" __mlu_global__ void reduce_f32(float *a, float *out, int n) {
  __nram__ float x[NMAX];
  __nram__ float z[64];
  __memcpy(x, a, n * sizeof(float), GDRAM2NRAM);
  out[0] = __bang_sum(x, n);
  __bang_argmax(z, x, n);
  out[1] = z[0]; out[2] = (float)((unsigned *)z)[1];
  __bang_max(z, x, n);
  out[3] = z[0]; out[4] = (float)((unsigned *)z)[1];
  __bang_argmin(z, x, n);
  out[5] = z[0]; out[6] = (float)((unsigned *)z)[1];
}

extern "C" __mlu_global__ void pool_f32(float *a, float *out, int mode, int C, int H, int W, int kh,
                                        int kw, int sw, int sh) {
  __nram__ float x[4096];
  __nram__ float z[4096];
  __memcpy(x, a, C * H * W * sizeof(float), GDRAM2NRAM);
  int Ho = (H - kh) / (sh ? sh : kh) + 1, Wo = (W - kw) / (sw ? sw : kw) + 1;
  if (sw == 0) {
    if (mode == 0) __bang_sumpool(z, x, C, H, W, kh, kw);
    if (mode == 1) __bang_maxpool(z, x, C, H, W, kh, kw);
    if (mode == 2) __bang_minpool(z, x, C, H, W, kh, kw);
    if (mode == 3) __bang_avgpool(z, x, C, H, W, kh, kw);
  } else {
    if (mode == 0) __bang_sumpool(z, x, C, H, W, kh, kw, sw, sh);
    if (mode == 1) __bang_maxpool(z, x, C, H, W, kh, kw, sw, sh);
    if (mode == 2) __bang_minpool(z, x, C, H, W, kh, kw, sw, sh);
    if (mode == 3) __bang_avgpool(z, x, C, H, W, kh, kw, sw, sh);
  }
  __memcpy(out, z, Ho * Wo * C * sizeof(float), NRAM2GDRAM);
}

extern "C" __mlu_global__ void cvt(float *a, half *h, float *back, half *tz, half *rd, half *ru, int n) {
  __nram__ float x[NMAX], y[NMAX];
  __nram__ half z[NMAX];
  __memcpy(x, a, n * sizeof(float), GDRAM2NRAM);
  __bang_float2half_rn(z, x, n);
  __memcpy(h, z, n * sizeof(half), NRAM2GDRAM);
  __bang_half2float(y, z, n);
  __memcpy(back, y, n * sizeof(float), NRAM2GDRAM);
  __bang_float2half_tz(z, x, n);
  __memcpy(tz, z, n * sizeof(half), NRAM2GDRAM);
  __bang_float2half_rd(z, x, n);
  __memcpy(rd, z, n * sizeof(half), NRAM2GDRAM);
  __bang_float2half_ru(z, x, n);
  __memcpy(ru, z, n * sizeof(half), NRAM2GDRAM);
}

extern "C" __mlu_global__ void mlp_f32(float *x, float *w, float *out, int H, int K) {
  __nram__ float nx[512], ny[512];
  __wram__ float nw[512 * 64];
  __memcpy(nx, x, K * sizeof(float), GDRAM2NRAM);
  __memcpy(nw, w, H * K * sizeof(float), GDRAM2WRAM);
  __bang_mlp(ny, nx, nw, H, K);
  __memcpy(out, ny, H * sizeof(float), NRAM2GDRAM);
}

extern "C" __mlu_global__ void mlp_i8(int8_t *x, int8_t *w, float *out, int H, int K, int fix) {
  __nram__ int8_t nx[512];
  __nram__ float ny[512];
  __wram__ int8_t nw[512 * 64];
  __memcpy(nx, x, K, GDRAM2NRAM);
  __memcpy(nw, w, H * K, GDRAM2WRAM);
  __bang_mlp(ny, nx, nw, H, K, fix);
  __memcpy(out, ny, H * sizeof(float), NRAM2GDRAM);
}

extern "C" __mlu_global__ void mlp_i16(int16_t *x, int16_t *w, half *out, int H, int K, int fix) {
  __nram__ int16_t nx[512];
  __nram__ half ny[512];
  __wram__ int16_t nw[512 * 64];
  __memcpy(nx, x, K * 2, GDRAM2NRAM);
  __memcpy(nw, w, H * K * 2, GDRAM2WRAM);
  __bang_mlp(ny, nx, nw, H, K, fix);
  __memcpy(out, ny, H * sizeof(half), NRAM2GDRAM);
}

extern "C" __mlu_global__ void matmul_f32(float *a, float *b, float *out, int M, int K, int N) {
  __nram__ float na[4096], nc[4096];
  __wram__ float nb[4096];
  __memcpy(na, a, M * K * sizeof(float), GDRAM2NRAM);
  __memcpy(nb, b, N * K * sizeof(float), GDRAM2WRAM);
  __bang_matmul(nc, na, nb, M, K, N);
  __memcpy(out, nc, M * N * sizeof(float), NRAM2GDRAM);
}

extern "C" __mlu_global__ void conv_f32(float *src, float *filt, float *out, int Ci, int H, int W, int kh,
                                        int kw, int sw, int sh, int Co) {
  __nram__ float ns[8192], nd[8192];
  __nram__ float tmp[8192];
  __wram__ float nf[8192];
  __memcpy(ns, src, Ci * H * W * sizeof(float), GDRAM2NRAM);
  __memcpy(tmp, filt, Co * kh * kw * Ci * sizeof(float), GDRAM2NRAM);
  __bang_reshape_filter(nf, tmp, Co, kh, kw, Ci);
  __bang_conv(nd, ns, nf, Ci, H, W, kh, kw, sw, sh, Co);
  int Ho = (H - kh) / sh + 1, Wo = (W - kw) / sw + 1;
  __memcpy(out, nd, Ho * Wo * Co * sizeof(float), NRAM2GDRAM);
}

extern "C" __mlu_global__ void conv_i8(int8_t *src, int8_t *filt, float *out, int Ci, int H, int W, int kh,
                                       int kw, int Co, int fix) {
  __nram__ int8_t ns[8192];
  __nram__ float nd[8192];
  __wram__ int8_t nf[8192];
  __memcpy(ns, src, Ci * H * W, GDRAM2NRAM);
  __memcpy(nf, filt, Co * kh * kw * Ci, GDRAM2WRAM);
  __bang_conv(nd, ns, nf, Ci, H, W, kh, kw, 1, 1, Co, fix);
  int Ho = H - kh + 1, Wo = W - kw + 1;
  __memcpy(out, nd, Ho * Wo * Co * sizeof(float), NRAM2GDRAM);
}

extern "C" __mlu_global__ void copy2d(float *src, float *out, int rows, int cols, int ld) {
  __nram__ float buf[4096];
  __memcpy(buf, src, cols * sizeof(float), GDRAM2NRAM, cols * sizeof(float), ld * sizeof(float), rows - 1);
  __memcpy(out, buf, cols * sizeof(float), NRAM2GDRAM, ld * sizeof(float), cols * sizeof(float), rows - 1);
}

extern "C" __mlu_global__ void copy3d(float *src, float *out, int d2, int d1, int cols, int D1, int ld) {
  __nram__ float buf[4096];
  __nram__ float buf2[4096];
  __memcpy(buf, src, cols * sizeof(float), GDRAM2NRAM,
           cols * sizeof(float), d1 - 1, d1 * cols * sizeof(float), d2 - 1,
           ld * sizeof(float), d1 - 1, D1 * ld * sizeof(float), d2 - 1);
  __memcpy_async(buf2, buf, d2 * d1 * cols * sizeof(float), NRAM2NRAM);
  __sync_move();   // an on-chip copy: the move pipeline's wait (__sync_io() waits for GDRAM DMA only)
  __memcpy(out, buf2, d2 * d1 * cols * sizeof(float), NRAM2GDRAM);
}

"""

# The execution model: built-in variables and private memory (a small program: launches differ).
MODEL = r"""
#include <bang.h>
extern "C" __mlu_global__ void builtins(int *out) {
  int *o = out + taskId * 12;
  o[0] = taskId; o[1] = taskIdX; o[2] = taskIdY; o[3] = taskIdZ; o[4] = taskDim; o[5] = taskDimX;
  o[6] = taskDimY; o[7] = taskDimZ; o[8] = clusterId; o[9] = clusterDim; o[10] = coreId; o[11] = coreDim;
}

/* every task keeps its own NRAM (file scope and kernel scope) and its cluster's SRAM */
__nram__ int file_scope[16];
extern "C" __mlu_global__ void private_memory(int *out) {
  __nram__ int kernel_scope[16];
  __mlu_shared__ int cluster_value[4];
  file_scope[0] = taskId;
  kernel_scope[0] = 100 + taskId;
  if (coreId == 0) cluster_value[0] = 1000 + clusterId;
  __sync_all();
  out[taskId * 3 + 0] = file_scope[0];
  out[taskId * 3 + 1] = kernel_scope[0];
  out[taskId * 3 + 2] = cluster_value[0];
}
"""

F32, F16 = np.float32, np.float16


def rng(seed=0):
    return np.random.default_rng(seed)


def run_intr(entry, args, **kw):
    xpiler.run(INTR, args, entry=entry, lang="bang", check=True, **kw)


def ew(kernel, op, a, b, s=0.0):
    out = np.full(a.shape, 7, dtype=a.dtype)
    run_intr(kernel, [a, b, out, op, int(a.size), s])
    return out


# ---------------------------------------------------------------------------------------------
# element-wise intrinsics

N = 256
BINARY = {0: np.add, 1: np.subtract, 2: np.multiply, 3: np.divide, 4: np.divide, 5: np.maximum, 6: np.maximum,
          7: np.minimum, 8: np.minimum, 9: np.greater_equal, 10: np.greater, 11: np.less_equal, 12: np.less,
          13: np.equal, 14: np.not_equal, 15: lambda a, b: (a != 0) & (b != 0),
          16: lambda a, b: (a != 0) | (b != 0), 17: lambda a, b: (a != 0) ^ (b != 0)}
SCALAR = {20: np.add, 21: np.subtract, 22: np.multiply, 23: np.add, 24: np.multiply, 25: np.divide,
          26: np.greater_equal, 27: np.greater, 28: np.less_equal, 29: np.less, 30: np.equal, 31: np.not_equal}


def inputs(dtype, seed=0):
    r = rng(seed)
    a = (r.integers(-8, 9, N) / 4).astype(dtype)          # exact small values, with repeats and zeros
    b = (r.integers(-8, 9, N) / 4).astype(dtype)
    b[b == 0] = 0.5
    a[:8] = b[:8]                                         # some equal pairs
    return a, b


@pytest.mark.parametrize("op", sorted(BINARY))
@pytest.mark.parametrize("kernel,dtype", [("ew_f32", F32), ("ew_f16", F16)])
def test_binary(kernel, dtype, op):
    a, b = inputs(dtype)
    got = ew(kernel, op, a, b)
    want = BINARY[op](a.astype(F32), b.astype(F32)).astype(dtype)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("op", sorted(SCALAR))
@pytest.mark.parametrize("kernel,dtype", [("ew_f32", F32), ("ew_f16", F16)])
def test_scalar(kernel, dtype, op):
    a, b = inputs(dtype)
    s = 0.75
    got = ew(kernel, op, a, b, s)
    want = SCALAR[op](a.astype(F32), F32(s)).astype(dtype)
    np.testing.assert_array_equal(got, want)


def test_integer_ops():
    r = rng(1)
    a = r.integers(-100, 101, N).astype(np.int32)
    b = r.integers(1, 20, N).astype(np.int32) * r.choice([-1, 1], N).astype(np.int32)
    exact = {0: a + b, 1: a - b, 2: a * b, 3: (np.abs(a) // np.abs(b)) * np.sign(a) * np.sign(b),
             5: np.maximum(a, b), 7: np.minimum(a, b), 9: (a >= b), 12: (a < b), 13: (a == b)}
    for op, want in exact.items():
        np.testing.assert_array_equal(ew("ew_i32", op, a, b), want.astype(np.int32), err_msg=f"op {op}")
    np.testing.assert_array_equal(ew("ew_i32", 22, a, b, 3), a * 3)
    for op, fn in {100: np.bitwise_and, 101: np.bitwise_or, 102: np.bitwise_xor}.items():
        np.testing.assert_array_equal(ew("ew_i32", op, a, b), fn(a, b), err_msg=f"op {op}")


def test_unary_exact():
    a, b = inputs(F32)
    pos = np.abs(a) + F32(0.25)
    np.testing.assert_array_equal(ew("ew_f32", 40, a, b), a * a)
    np.testing.assert_array_equal(ew("ew_f32", 41, pos, b), np.sqrt(pos))
    np.testing.assert_array_equal(ew("ew_f32", 42, pos, b), F32(1) / np.sqrt(pos))
    np.testing.assert_array_equal(ew("ew_f32", 43, b, b), F32(1) / b)
    np.testing.assert_array_equal(ew("ew_f32", 44, a, b), np.maximum(a, 0))
    np.testing.assert_array_equal(ew("ew_f32", 45, a, b), np.maximum(a, 0))
    np.testing.assert_array_equal(ew("ew_f32", 47, a, b), np.abs(a))
    np.testing.assert_array_equal(ew("ew_f32", 48, a, b), (a == 0).astype(F32))
    signed = a.copy()
    signed[0], signed[1] = 0.0, -0.0
    got = ew("ew_f32", 46, signed, b)
    np.testing.assert_array_equal(got, np.where(signed >= 0, 1, -1).astype(F32))
    assert got[0] == 1 and got[1] == 1                      # sign(+0) = sign(-0) = 1


def test_active_range_behaviour():
    x = np.linspace(-10, 10, N).astype(F32)
    x64 = x.astype(np.float64)
    b = np.ones(N, F32)
    cases = {
        50: np.where(x64 < -7.75, 5.96e-8, np.exp(x64)),
        51: np.exp(x64),
        52: np.where(x64 < -7.75, 0.0, np.where(x64 > 7.75, 1.0, 1 / (1 + np.exp(-x64)))),
        53: 0.5 * x64 * (1 + np.tanh(np.sqrt(2 / np.pi) * (x64 + 0.044715 * x64 ** 3))),
        54: np.tanh(x64),
    }
    for op, want in cases.items():
        np.testing.assert_allclose(ew("ew_f32", op, x, b), want.astype(F32), rtol=1e-6, atol=1e-9, err_msg=f"op {op}")
    got = ew("ew_f32", 52, x, b)
    assert np.all(got[x < -7.75] == 0) and np.all(got[x > 7.75] == 1)
    assert np.all(ew("ew_f32", 50, x, b)[x < -7.75] == F32(5.96e-8))
    pos = np.linspace(0.01, 100, N).astype(F32)
    p64 = pos.astype(np.float64)
    for op, want in {55: 1 / p64, 56: 1 / np.sqrt(p64), 57: np.sqrt(p64)}.items():
        np.testing.assert_allclose(ew("ew_f32", op, pos, b), want.astype(F32), rtol=1e-6, err_msg=f"op {op}")
    # half precision: computed exactly, rounded once to half
    xh = x.astype(F16)
    np.testing.assert_array_equal(ew("ew_f16", 54, xh, xh), np.tanh(xh.astype(np.float64)).astype(F16))


def test_cycle_fill_transpose_reduce():
    a, b = inputs(F32)
    seg = np.tile(b[:64], N // 64)
    np.testing.assert_array_equal(ew("ew_f32", 60, a, b), a + seg)
    np.testing.assert_array_equal(ew("ew_f32", 61, a, b), a - seg)
    np.testing.assert_array_equal(ew("ew_f32", 62, a, b), a * seg)
    for op in (70, 72, 73):
        np.testing.assert_array_equal(ew("ew_f32", op, a, b, 2.5), np.full(N, 2.5, F32))
    np.testing.assert_array_equal(ew("ew_f32", 71, a, b), np.zeros(N, F32))
    np.testing.assert_array_equal(ew("ew_f32", 80, a, b), a.reshape(16, N // 16).T.ravel())
    # __bang_reduce_sum: each 128-byte chunk's sum in its first element, 0 elsewhere
    for kernel, dtype, chunk in (("ew_f32", F32, 32), ("ew_f16", F16, 64)):
        x, y = inputs(dtype)
        want = np.zeros(N, dtype)
        want[::chunk] = x.astype(np.float64).reshape(-1, chunk).sum(axis=1).astype(dtype)
        np.testing.assert_array_equal(ew(kernel, 90, x, y), want)
    # in-place and overlapping operands
    np.testing.assert_array_equal(ew("ew_f32", 91, a, b), (a + b) * (a + b))
    x = a.copy()
    x[1:] = a[:-1] + b[:-1]
    np.testing.assert_array_equal(ew("ew_f32", 92, a, b), x + b)


def test_deprecated_div_leaves_reciprocal_in_tmp():
    src = ("#include <bang.h>\nextern \"C\" __mlu_global__ void k(float *a, float *b, float *out) {\n"
           "  __nram__ float x[256], y[256], t[256];\n  __memcpy(x, a, 1024, GDRAM2NRAM);\n"
           "  __memcpy(y, b, 1024, GDRAM2NRAM);\n  __bang_div(x, x, y, t, 256);\n  __bang_add(x, x, t, 256);\n"
           "  __memcpy(out, x, 1024, NRAM2GDRAM);\n}\n")
    a, b = inputs(F32)
    out = np.zeros(N, F32)
    xpiler.run(src, [a, b, out], lang="bang")
    np.testing.assert_array_equal(out, a / b + F32(1) / b)


def test_sum_argmax():
    a = rng(2).standard_normal(100).astype(F32)
    out = np.zeros(7, F32)
    run_intr("reduce_f32", [a, out, 100])
    np.testing.assert_allclose(out[0], a.astype(np.float64).sum(), rtol=1e-6)
    assert out[1] == a.max() and out[2] == np.argmax(a)
    assert out[3] == a.max() and out[4] == np.argmax(a)
    assert out[5] == a.min() and out[6] == np.argmin(a)


@pytest.mark.parametrize("mode,fn", [(0, "sumpool"), (1, "maxpool"), (2, "minpool"), (3, "avgpool")])
@pytest.mark.parametrize("shape,k,stride", [((5, 7, 3), (2, 3), None), ((9, 8, 4), (3, 2), (2, 1)),
                                            ((6, 9, 2), (2, 2), (1, 3))])
def test_pooling(mode, fn, shape, k, stride):
    from xpiler import reference
    H, W, C = shape
    x = (rng(3).integers(-8, 9, H * W * C) / 4).astype(F32).reshape(H, W, C)
    want = getattr(reference, fn)(x, window=k, stride=stride)
    out = np.zeros(want.size, F32)
    sh, sw = stride if stride else (0, 0)
    run_intr("pool_f32", [x, out, mode, C, H, W, k[0], k[1], sw, sh])   # stride width before height
    np.testing.assert_allclose(out.reshape(want.shape), want, rtol=1e-6)


def test_half_conversions_round_like_numpy():
    r = rng(4)
    h = np.arange(0, 1024, dtype=np.uint16).view(F16)
    n = 1024
    vals = np.concatenate([
        r.standard_normal(300) * np.exp2(r.integers(-26, 17, 300)),                     # every binade
        ((h[1:200].astype(F32) + np.nextafter(h[1:200], F16(np.inf)).astype(F32)) / 2),   # exact ties
        [65504, 65519.99, 65520, 70000, -70000, 1e-8, -1e-8, 2.0 ** -25, 2.0 ** -24, 3 * 2.0 ** -26, 0.0, -0.0],
    ]).astype(F32)
    a = np.zeros(n, F32)
    a[:vals.size] = vals
    a[vals.size:] = r.uniform(-1000, 1000, n - vals.size)
    outs = [np.zeros(n, F16), np.zeros(n, F32), np.zeros(n, F16), np.zeros(n, F16), np.zeros(n, F16)]
    run_intr("cvt", [a, *outs, n])
    with np.errstate(over="ignore"):
        rn = a.astype(F16)
        up = np.where(rn.astype(F32) >= a, rn, np.nextafter(rn, F16(np.inf)))
        down = np.where(rn.astype(F32) <= a, rn, np.nextafter(rn, F16(-np.inf)))
    np.testing.assert_array_equal(outs[0].view(np.uint16), rn.view(np.uint16))
    np.testing.assert_array_equal(outs[1], rn.astype(F32))
    tz = np.where(a >= 0, down, up)
    for got, want, name in ((outs[2], tz, "tz"), (outs[3], down, "rd"), (outs[4], up, "ru")):
        np.testing.assert_array_equal(got.view(np.uint16), want.view(np.uint16), err_msg=name)


def test_tensor_intrinsics():
    r = rng(5)
    x = r.standard_normal(96).astype(F32)
    w = r.standard_normal((40, 96)).astype(F32)
    out = np.zeros(40, F32)
    run_intr("mlp_f32", [x, w, out, 40, 96])
    np.testing.assert_allclose(out, (w.astype(np.float64) @ x).astype(F32), rtol=1e-6, atol=1e-6)
    # int8 / int16 with a fixed-point position: the result is scaled by 2^fix_position
    xi = r.integers(-128, 128, 200).astype(np.int8)
    wi = r.integers(-128, 128, (30, 200)).astype(np.int8)
    exact = wi.astype(np.int64) @ xi.astype(np.int64)
    for fix in (0, 3, -2):
        out = np.zeros(30, F32)
        run_intr("mlp_i8", [xi, wi, out, 30, 200, fix])
        np.testing.assert_array_equal(out, (exact * 2.0 ** fix).astype(F32))
    xs = r.integers(-50, 50, 64).astype(np.int16)
    ws = r.integers(-50, 50, (16, 64)).astype(np.int16)
    outh = np.zeros(16, F16)
    run_intr("mlp_i16", [xs, ws, outh, 16, 64, -4])
    np.testing.assert_array_equal(outh, ((ws.astype(np.int64) @ xs) * 2.0 ** -4).astype(F16))
    # matmul: b in WRAM holds B column-major ([N][K])
    A = r.standard_normal((6, 20)).astype(F32)
    B = r.standard_normal((20, 9)).astype(F32)
    out = np.zeros((6, 9), F32)
    run_intr("matmul_f32", [A, np.ascontiguousarray(B.T), out, 6, 20, 9])
    np.testing.assert_allclose(out, (A.astype(np.float64) @ B).astype(F32), rtol=1e-6, atol=1e-6)


def test_conv_intrinsic():
    from xpiler import reference
    r = rng(6)
    x = r.standard_normal((7, 9, 5)).astype(F32)          # HWC
    w = r.standard_normal((6, 3, 2, 5)).astype(F32)       # [Co][kh][kw][Ci]
    for sh, sw in ((1, 1), (2, 3)):
        want = reference.conv2d_nhwc(x, w, stride=(sh, sw))
        out = np.zeros(want.size, F32)
        run_intr("conv_f32", [x, w, out, 5, 7, 9, 3, 2, sw, sh, 6])
        np.testing.assert_allclose(out.reshape(want.shape), want, rtol=1e-5, atol=1e-5)
    xi = r.integers(-128, 128, (6, 6, 4)).astype(np.int8)
    wi = r.integers(-128, 128, (3, 2, 2, 4)).astype(np.int8)
    want = reference.conv2d_nhwc(xi, wi).astype(np.int64)
    out = np.zeros(want.size, F32)
    run_intr("conv_i8", [xi, wi, out, 4, 6, 6, 2, 2, 3, 1])
    np.testing.assert_array_equal(out.reshape(want.shape), (want * 2.0).astype(F32))


def test_memcpy_2d_3d():
    src = np.arange(10 * 12, dtype=F32).reshape(10, 12)
    out = np.full_like(src, -1)
    run_intr("copy2d", [src, out, 10, 5, 12])          # 5 columns of each of 10 rows (segnum = 9)
    want = np.full_like(src, -1)
    want[:, :5] = src[:, :5]
    np.testing.assert_array_equal(out, want)
    t = np.arange(4 * 6 * 10, dtype=F32).reshape(4, 6, 10)
    out = np.zeros(3 * 5 * 7, F32)
    run_intr("copy3d", [t, out, 3, 5, 7, 6, 10])       # a [3][5][7] block of a [4][6][10] tensor
    np.testing.assert_array_equal(out.reshape(3, 5, 7), t[:3, :5, :7])


# ---------------------------------------------------------------------------------------------
# execution model

def test_builtin_variables_union_and_block():
    out = np.full(16 * 12, -1, np.int32)
    xpiler.run(MODEL, [out], entry="builtins", launch={"task_dim": [8, 2, 1], "func_type": "UNION2"})
    i = np.arange(16)
    want = np.stack([i, i % 8, i // 8, 0 * i, 16 + 0 * i, 8 + 0 * i, 2 + 0 * i, 1 + 0 * i, i // 4, 4 + 0 * i,
                     i % 4, 4 + 0 * i], axis=1)
    np.testing.assert_array_equal(out.reshape(16, 12), want)
    out = np.full(3 * 12, -1, np.int32)
    xpiler.run(MODEL, [out], entry="builtins", launch={"task_dim": [3, 1, 1], "func_type": "BLOCK"})
    i = np.arange(3)
    z = 0 * i
    want = np.stack([i, i, z, z, z + 3, z + 3, z + 1, z + 1, z, z, i % 4, z + 4], axis=1)   # BLOCK: clusterDim 0
    np.testing.assert_array_equal(out.reshape(3, 12), want)


def test_union_dim_must_match_function_type():
    with pytest.raises(EmulationFault, match="UNION4 with dim.x = 8: dim.x must be a multiple of 16"):
        xpiler.run(MODEL, [np.zeros(8 * 12, np.int32)], entry="builtins",
                   launch={"task_dim": [8, 1, 1], "func_type": "UNION4"})


def test_each_task_has_its_own_nram_and_each_cluster_its_sram():
    out = np.zeros(16 * 3, np.int32)
    xpiler.run(MODEL, [out], entry="private_memory", launch={"task_dim": [16, 1, 1], "func_type": "UNION1"},
               check=True)
    i = np.arange(16)
    np.testing.assert_array_equal(out.reshape(16, 3), np.stack([i, 100 + i, 1000 + i // 4], axis=1))


def test_default_launch_rules():
    k = "extern \"C\" __mlu_global__ void k(float *x) {{ {} }}"
    assert bang.default_launch(k.format("x[clusterId * 4 + coreId] = 1;"), "k") == ((16, 1, 1), "UNION1")
    assert bang.default_launch(k.format("x[coreId] = 1;"), "k") == ((4, 1, 1), "UNION1")
    assert bang.default_launch(k.format("x[taskId] = 1; /* clusterId */"), "k") == ((1, 1, 1), "BLOCK")
    via_helper = "__mlu_func__ int where() { return clusterId; }\n" + k.format("x[where()] = 1;")
    assert bang.default_launch(via_helper, "k") == ((16, 1, 1), "UNION1")


def test_preparation_keeps_line_numbers():
    src = ("#include <bang.h>\n"                       # 1
           "__nram__ float g[8];\n"                    # 2
           "extern \"C\" __mlu_global__ void k(float *x) {\n"  # 3
           "  __nram__ float a[64], b[64];\n"          # 4
           "  for (int i = 0; i < 2; ++i) {\n"         # 5
           "    __nram__ float c[16];\n"               # 6
           "  }\n"                                     # 7
           "  undefined_function_here(a);\n"          # 8
           "}\n")
    with pytest.raises(CompileError) as err:
        xpiler.run(src, [np.zeros(4, F32)], lang="bang")
    assert re.search(r"<input>:8:\d+: error: .*undefined_function_here", str(err.value)), str(err.value)
    text, entry = bang.prepare_source(src)
    assert entry == "k_kernel" and "void k_kernel(float * x)" in text


def test_host_entry_launch_rewrite():
    text, entry = bang.prepare_source(suite.load_manifest("bang").get("relu_host.mlu").source)
    assert entry == "relu"
    assert "::xpiler_bang::launch(::xpiler_bang::LaunchCfg(dim, ktype, queue), relu_kernel, dx, dy, n)" in text


# ---------------------------------------------------------------------------------------------
# planted bugs: faults a device/toolchain would raise, and wrong results the emulation exposes

KERNEL = "#include <bang.h>\nextern \"C\" __mlu_global__ void k(float *A, float *out) {{\n{}\n}}\n"


def run_k(body, n=64, check=True, launch=None, **kw):
    A = np.arange(n, dtype=F32)
    out = np.zeros(n, F32)
    xpiler.run(KERNEL.format(body), [A, out], lang="bang", check=check, launch=launch, **kw)
    return out


def test_ok_kernel_runs():
    out = run_k("__nram__ float buf[64];\n__memcpy(buf, A, 256, GDRAM2NRAM);\n"
                "__bang_mul_scalar(buf, buf, 2.0f, 64);\n__memcpy(out, buf, 256, NRAM2GDRAM);")
    np.testing.assert_array_equal(out, 2 * np.arange(64, dtype=F32))


@pytest.mark.parametrize("decl,space", [
    ("__nram__ float big[170000];", "NRAM"),                                 # 680 KB > 640 KB usable
    ("__nram__ float a[100000];\n__nram__ float b[70000];", "NRAM"),          # together over capacity
    ("__wram__ float w[300000];", "WRAM"),                                   # 1.2 MB > 1 MB
    ("__mlu_shared__ float s[1100000];", "SRAM"),                            # 4.4 MB > 4 MB
])
def test_over_capacity_is_a_fault(decl, space):
    names = re.findall(r"(\w+)\[", decl)
    use = "".join(f"__memcpy({n}, A, 4, GDRAM2{space});\n" for n in names)
    with pytest.raises(EmulationFault, match=f"{space} over capacity.*'{names[-1]}'"):
        run_k(decl + "\n" + use)


def test_invalid_direction_is_a_fault():
    body = ("__wram__ float w1[64];\n__wram__ float w2[64];\n__memcpy(w1, A, 256, GDRAM2WRAM);\n"
            "__memcpy(w2, w1, 256, WRAM2WRAM);")
    with pytest.raises(EmulationFault, match="invalid direction WRAM2WRAM"):
        run_k(body)


def test_direction_must_match_the_spaces():
    body = "__nram__ float a[64];\n__nram__ float b[64];\n__memcpy(a, b, 256, GDRAM2NRAM);"
    with pytest.raises(EmulationFault, match=r"src \(GDRAM side of GDRAM2NRAM\) must be in GDRAM but points to NRAM"):
        run_k(body)


@pytest.mark.parametrize("access", ["w[3] = 1.0f;", "out[0] = w[5];", "float *p = w + 2; out[1] = *p;"])
def test_scalar_wram_access_is_a_fault(access):
    body = f"__wram__ float w[64];\n__memcpy(w, A, 256, GDRAM2WRAM);\n{access}"
    with pytest.raises(EmulationFault, match="scalar access to WRAM: byte .* of __wram__ array 'w'"):
        run_k(body)


def test_out_of_bounds_dma_is_a_fault():
    with pytest.raises(EmulationFault, match=r"bytes \[0, 260\) of NRAM array 'buf' \(256 bytes"):
        run_k("__nram__ float buf[64];\n__memcpy(buf, A, 65 * 4, GDRAM2NRAM);", n=128)
    with pytest.raises(EmulationFault, match="out-of-bounds GDRAM access"):
        run_k("__nram__ float buf[64];\n__memcpy(buf, A + 32, 64 * 4, GDRAM2NRAM);", check=True)
    with pytest.raises(EmulationFault, match="__bang_add: operand src1, bytes \\[0, 512\\) of NRAM array 'b'"):
        run_k("__nram__ float a[128];\n__nram__ float b[64];\n__bang_write_zero(a, 128);\n"
              "__bang_write_zero(b, 64);\n__bang_add(a, a, b, 128);")


def test_vector_operand_in_gdram_is_a_fault():
    with pytest.raises(EmulationFault, match="operand dst must be in NRAM but points to GDRAM"):
        run_k("__bang_add(out, A, A, 64);")


def test_barrier_in_divergent_code_deadlocks():
    with pytest.raises(EmulationFault, match=r"deadlock: task \d+ waits at __sync_cluster\(\) of cluster 0"):
        run_k("if (coreId == 3) return;\n__sync_cluster();", launch={"task_dim": [4], "func_type": "UNION1"})
    with pytest.raises(EmulationFault, match=r"deadlock: task \d+ waits at __sync_all\(\)"):
        run_k("if (taskId >= 12) return;\n__sync_all();", launch={"task_dim": [16], "func_type": "UNION1"})
    run_k("if (taskId >= 12) return;\n__sync_all();")      # one BLOCK task (default): no barrier partner needed


def test_strict_mode_checks_mlu2xx_alignment(monkeypatch):
    aligned = ("__nram__ float a[64];\n__nram__ float b[64];\n__memcpy(a, A, 256, GDRAM2NRAM);\n"
               "__memcpy(b, A, 256, GDRAM2NRAM);\n{}\n__memcpy(out, a, 256, NRAM2GDRAM);")
    misaligned = aligned.format("__bang_add(a + 1, a + 1, b, 32);")
    short = aligned.format("__bang_add(a, a, b, 10);")
    run_k(misaligned)                                  # fine on MLU3xx (default)
    run_k(short)
    monkeypatch.setenv("XPILER_BANG_STRICT", "1")
    with pytest.raises(EmulationFault, match="strict mode .* operand dst at NRAM offset 4 is not 64-byte aligned"):
        run_k(misaligned)
    with pytest.raises(EmulationFault, match="strict mode .* operand dst is 40 bytes, not a multiple of 128"):
        run_k(short)
    run_k(aligned.format("__bang_add(a, a, b, 64);"))


def test_wrong_2d_memcpy_stride_gives_a_wrong_result():
    entry = suite.load_manifest("bang").get("conv2d_nhwc_vec.mlu")
    good = entry.source
    bad = good.replace("W * CI * sizeof(float), KH - 1)", "(W - 1) * CI * sizeof(float), KH - 1)")
    assert bad != good
    assert suite.check_program(entry, check=True).passed
    result = suite.check_program(entry, src=bad, check=True)
    assert not result.passed and result.outputs[0].mismatches > 0


def test_missing_sync_cluster_gives_a_wrong_result():
    entry = suite.load_manifest("bang").get("softmax_sram.mlu")
    good = entry.source
    bad = good.replace("__sync_cluster();", "")
    assert bad.count("__sync_cluster();") == 0 and good.count("__sync_cluster();") == 2
    assert suite.check_program(entry, check=True).passed
    result = suite.check_program(entry, src=bad, check=True)
    assert not result.passed and result.outputs[0].mismatches > 0


def test_cnrt_faults():
    host = ("#include <cnrt.h>\n__mlu_global__ void k(float *x) {{ }}\n"
            "extern \"C\" void h(float *x) {{\n  float *d;\n  cnrtMalloc((void **)&d, 64);\n  {}\n}}\n")
    x = np.zeros(32, F32)
    with pytest.raises(EmulationFault, match="cnrtMemcpy: destination range \\[0, 128\\) is out of bounds of cnrtMalloc block"):
        xpiler.run(host.format("cnrtMemcpy(d, x, 128, CNRT_MEM_TRANS_DIR_HOST2DEV);"), [x], lang="bang")
    with pytest.raises(EmulationFault, match="cnrtFree.*not a pointer returned by cnrtMalloc"):
        xpiler.run(host.format("cnrtFree(d); cnrtFree(d);"), [x], lang="bang")


def test_gdram_variables_are_registered_for_check_mode():
    src = ("#include <bang.h>\n__mlu_device__ float table[64];\n"
           "extern \"C\" __mlu_global__ void k(float *A, float *out, int shift) {\n"
           "  __nram__ float buf[64];\n  __memcpy(table, A, 256, GDRAM2GDRAM);\n"
           "  __memcpy(buf, table + shift, 256, GDRAM2NRAM);\n  __memcpy(out, buf, 256, NRAM2GDRAM);\n}\n")
    A, out = np.arange(64, dtype=F32), np.zeros(64, F32)
    xpiler.run(src, [A, out, 0], lang="bang", check=True)
    np.testing.assert_array_equal(out, A)
    with pytest.raises(EmulationFault, match=r"bytes \[4, 260\) of __mlu_device__ variable 'table' \(256 bytes\)"):
        xpiler.run(src, [A, out, 1], lang="bang", check=True)


MLUOPS_STYLE = r"""/*************************************************************************
 * Copyright (C) [2022] by Cambricon, Inc.  — style sample (中文注释 ok)
 *************************************************************************/
#include "bang.h"
#include "mlu.h"

#define MAX_NRAM_SIZE (__MLU_NRAM_SIZE__ * 1024 - 128 * 1024)
#define ALIGN_SIZE 64
__nram__ char nram_buffer[MAX_NRAM_SIZE];

template <typename T>
__mlu_func__ void computeAbs(T *nram_output, T *nram_input, int deal_num) {
  __bang_active_abs(nram_output, nram_input, deal_num);
}

template <typename T>
__mlu_func__ void unionAbs(T *output, const T *input, int num) {
  int span = (MAX_NRAM_SIZE / 2) / sizeof(T) / ALIGN_SIZE * ALIGN_SIZE;
  T *nram_in = (T *)nram_buffer;
  T *nram_out = (T *)nram_buffer + span;
  int per_task = num / taskDim;
  int rem = num % taskDim;
  int offset = taskId * per_task + (taskId < rem ? taskId : rem);
  int count = per_task + (taskId < rem ? 1 : 0);
  for (int i = 0; i < count; i += span) {
    int deal = count - i < span ? count - i : span;
    __memcpy_async(nram_in, input + offset + i, deal * sizeof(T), GDRAM2NRAM);
    __sync();
    computeAbs(nram_out, nram_in, deal);
    __memcpy(output + offset + i, nram_out, deal * sizeof(T), NRAM2GDRAM);
  }
}

extern "C" {
__mlu_global__ void MLUKernelAbs(const void *input, void *output, int num, int dtype) {
  if (__is_mpu()) {
    return;
  }
  if (dtype == 0) {
    unionAbs((float *)output, (const float *)input, num);
  } else {
    unionAbs((half *)output, (const half *)input, num);
  }
}
}
"""


def test_mlu_ops_style_program():
    """Quoted Cambricon includes, a non-ASCII comment, a 640 KB file-scope NRAM buffer carved by casts,
    template __mlu_func__ helpers, void * parameters, an extern "C" { } block, __is_mpu()."""
    x = rng(7).standard_normal(1000).astype(F32)
    y = np.zeros_like(x)
    xpiler.run(MLUOPS_STYLE, [x, y, 1000, 0], lang="bang", check=True, launch={"task_dim": [16], "func_type": "UNION1"})
    np.testing.assert_array_equal(y, np.abs(x))
    xh, yh = x.astype(F16), np.zeros(1000, F16)
    xpiler.run(MLUOPS_STYLE, [xh, yh, 1000, 1], lang="bang", check=True, launch={"task_dim": [8], "func_type": "UNION2"})
    np.testing.assert_array_equal(yh, np.abs(xh))


def test_a_local_array_is_an_nram_operand():
    # a local without a qualifier lives on the task's stack, which is in NRAM on the MLU
    out = run_k("float loc[64];\n__memcpy(loc, A, 256, GDRAM2NRAM);\n__bang_mul_scalar(loc, loc, 3.0f, 64);\n"
                "__memcpy(out, loc, 256, NRAM2GDRAM);")
    np.testing.assert_array_equal(out, 3 * np.arange(64, dtype=F32))
