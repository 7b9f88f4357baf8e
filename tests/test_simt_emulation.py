"""The CUDA/HIP CPU emulation (xpiler/oracle/simt.py, runtime/simt_emu.h, runtime/fibers.h):
exact semantics of the SIMT primitives, launch derivation of bare kernels, checking mode, and
planted bugs that the emulation must expose."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

import xpiler
from xpiler import EmulationFault, suite
from xpiler.oracle import simt

RUNTIME = simt.RUNTIME_DIR


def run(src, args, **kw):
    kw.setdefault("backend", "emulate")
    xpiler.run(src, args, **kw)


def f32(*shape, lo=-1.0, hi=1.0, seed=0):
    return np.random.default_rng(seed).uniform(lo, hi, size=shape).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# fibers.h on its own (a C++ driver compiled with g++), with the x86-64 switch and with ucontext

FIBER_DRIVER = r"""
#include "fibers.h"
#include <cstdio>
#include <string>
#include <vector>
static thread_local int g_index = -1;
static void hook(int i, void *) { g_index = i; }
struct Ctx { int n; std::vector<int> a; std::vector<int> order; long sum; };
static void reduce(int i, void *c) {
  Ctx *x = (Ctx *)c;
  if (g_index != i) xpiler_fault("switch hook not called before fiber %d", i);
  x->order.push_back(i);
  x->a[i] = i + 1;
  xpf::barrier();
  for (int s = x->n / 2; s > 0; s >>= 1) { if (i < s) x->a[i] += x->a[i + s]; xpf::barrier(); }
  for (int k = 0; k < 3; ++k) xpf::barrier(i / 32 * 32, 32);   // warp-sized subsets
  if (i == 0) x->sum = x->a[0];
}
static void no_barrier(int i, void *c) {
  Ctx *x = (Ctx *)c;
  x->a[i] = i + 1;
  for (int s = x->n / 2; s > 0; s >>= 1) if (i < s) x->a[i] += x->a[i + s];
  if (i == 0) x->sum = x->a[0];
}
static void divergent(int i, void *) { if (i % 2) xpf::barrier(); }
int main(int argc, char **argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  xpf::Options o; o.on_switch = hook;
  if (mode == "ok") {
    for (int rep = 0; rep < 3; ++rep) {          // stacks are reused across groups
      Ctx c{256, std::vector<int>(256), {}, 0};
      xpf::run(256, reduce, &c, o);
      if (c.sum != 256 * 257 / 2) xpiler_fault("wrong sum %ld", c.sum);
      for (int i = 0; i < 256; ++i) if (c.order[i] != i) xpiler_fault("fibers do not start in index order");
    }
    Ctx c{256, std::vector<int>(256), {}, 0};
    xpf::run(256, no_barrier, &c, o);
    printf("without barrier: %ld\n", c.sum);      // fiber 0 runs alone: reads unwritten values
    return 0;
  }
  if (mode == "deadlock") xpf::run(64, divergent, nullptr, o);
  if (mode == "outside") xpf::barrier();
  return 0;
}
"""


@pytest.fixture(scope="module")
def fiber_programs(tmp_path_factory):
    if shutil.which("g++") is None:
        pytest.skip("g++ not installed")
    d = tmp_path_factory.mktemp("fibers")
    (d / "driver.cpp").write_text(FIBER_DRIVER)
    out = {}
    for name, flags in (("asm", []), ("ucontext", ["-DXPILER_FIBERS_UCONTEXT"])):
        exe = d / name
        subprocess.run(["g++", "-std=c++17", "-O2", *flags, f"-I{RUNTIME}", str(d / "driver.cpp"), "-o", str(exe)],
                       check=True, capture_output=True, text=True)
        out[name] = exe
    return out


@pytest.mark.parametrize("switch", ["asm", "ucontext"])
def test_fibers_barriers_order_and_faults(fiber_programs, switch):
    exe = str(fiber_programs[switch])
    ok = subprocess.run([exe, "ok"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert "without barrier: 1\n" == ok.stdout   # fiber 0 summed before anyone else wrote
    dead = subprocess.run([exe, "deadlock"], capture_output=True, text=True, timeout=60)
    assert dead.returncode == 86 and "XPILER_FAULT: deadlock" in dead.stderr, dead.stderr
    assert "32 of them reached" in dead.stderr and "32 of 64 fibers finished" in dead.stderr
    outside = subprocess.run([exe, "outside"], capture_output=True, text=True, timeout=60)
    assert outside.returncode == 86 and "barrier outside a fiber group" in outside.stderr


# ---------------------------------------------------------------------------------------------
# warp primitives: exact semantics, CUDA (32 lanes) and HIP (64 lanes)

SHFL_CUDA = r"""
__global__ void shfl_all(const int* arg, int* out, int n) {
  int t = threadIdx.x;
  int v = 1000 + t;
  int k = 0;
  for (int w = 1; w <= 32; w *= 2) {
    out[(k++) * n + t] = __shfl_sync(0xffffffff, v, arg[0], w);
    out[(k++) * n + t] = __shfl_up_sync(0xffffffff, v, arg[1], w);
    out[(k++) * n + t] = __shfl_down_sync(0xffffffff, v, arg[2], w);
    out[(k++) * n + t] = __shfl_xor_sync(0xffffffff, v, arg[3], w);
  }
  out[(k++) * n + t] = (int)__ballot_sync(0xffffffff, (t % 3) == 0);
  out[(k++) * n + t] = __any_sync(0xffffffff, t == 37);
  out[(k++) * n + t] = __all_sync(0xffffffff, t < 40);
  out[(k++) * n + t] = __syncthreads_count(t % 5 == 0);
  out[(k++) * n + t] = __syncthreads_or(t == 63) + 2 * __syncthreads_and(t < 64);
  out[(k++) * n + t] = __shfl_sync(0xffffffff, __half2float(__float2half(0.5f * t)) * 2.0f, 3);
}
extern "C" void run(const int* arg, int* out, int n) { shfl_all<<<1, n>>>(arg, out, n); }
"""

SHFL_HIP = r"""
#include <hip/hip_runtime.h>
__global__ void shfl_all(const int* arg, int* out, int n) {
  int t = hipThreadIdx_x;
  int v = 1000 + t;
  int k = 0;
  for (int w = 1; w <= 64; w *= 2) {
    out[(k++) * n + t] = __shfl(v, arg[0], w);
    out[(k++) * n + t] = __shfl_up(v, arg[1], w);
    out[(k++) * n + t] = __shfl_down(v, arg[2], w);
    out[(k++) * n + t] = __shfl_xor(v, arg[3], w);
  }
  unsigned long long b = __ballot((t % 3) == 0);
  out[(k++) * n + t] = (int)(b & 0xffffffffu);
  out[(k++) * n + t] = (int)(b >> 32);
  out[(k++) * n + t] = __any(t == 37);
  out[(k++) * n + t] = __all(t < 40);
  out[(k++) * n + t] = warpSize;
}
extern "C" void run(const int* arg, int* out, int n) { hipLaunchKernelGGL(shfl_all, dim3(1), dim3(n), 0, 0, arg, out, n); }
"""


def _shfl_model(n, warp, widths, src, delta_up, delta_down, mask):
    """Shuffle results of every lane (a lane beyond the block reads 0): CUDA's (warp 32) or HIP's (warp
    64; __shfl does not reduce the source lane modulo the width)."""
    rows = []
    for w in widths:
        idx, up, down, xor = [], [], [], []
        for t in range(n):
            lane, w0 = t % warp, t - t % warp
            nl = min(warp, n - w0)
            seg = lane & ~(w - 1)
            s = seg + (src & (w - 1)) if warp == 32 else (seg + src) % 64
            idx.append(1000 + w0 + s if s < nl else 0)
            s = lane if (lane - seg) - delta_up < 0 else lane - delta_up
            up.append(1000 + w0 + s if s < nl else 0)
            s = lane if (lane - seg) + delta_down >= w else lane + delta_down
            down.append(1000 + w0 + s if s < nl else 0)
            s = lane ^ mask
            if s >= seg + w:
                s = lane
            xor.append(1000 + w0 + s if s < nl else 0)
        rows += [idx, up, down, xor]
    return rows


@pytest.mark.parametrize("n", [64, 80])
def test_cuda_warp_primitives_exact(n):
    arg = np.array([5, 3, 2, 6], np.int32)
    rows = 6 * 4 + 6
    out = np.zeros((rows, n), np.int32)
    run(SHFL_CUDA, [arg, out, n], lang="cuda")
    expected = _shfl_model(n, 32, [1, 2, 4, 8, 16, 32], 5, 3, 2, 6)
    np.testing.assert_array_equal(out[:24], np.array(expected))
    t = np.arange(n)
    ballot = np.zeros(n, np.int64)
    for w0 in range(0, n, 32):
        lanes = t[w0:w0 + 32]
        ballot[w0:w0 + 32] = sum(1 << int(x - w0) for x in lanes if x % 3 == 0)
    np.testing.assert_array_equal(out[24].astype(np.uint32), ballot.astype(np.uint32))
    np.testing.assert_array_equal(out[25], [int(any(x == 37 for x in t[w:w + 32])) for w in t - t % 32])
    np.testing.assert_array_equal(out[26], [int(all(x < 40 for x in t[w:w + 32])) for w in t - t % 32])
    np.testing.assert_array_equal(out[27], np.full(n, (t % 5 == 0).sum()))
    np.testing.assert_array_equal(out[28], np.full(n, int(n > 63) + 2 * int(n <= 64)))
    np.testing.assert_array_equal(out[29], t - t % 32 + 3)   # lane 3 of each warp (through half)


def test_hip_wavefront_primitives_exact():
    n = 128
    arg = np.array([9, 5, 33, 17], np.int32)
    out = np.zeros((7 * 4 + 5, n), np.int32)
    run(SHFL_HIP, [arg, out, n], lang="hip")
    expected = _shfl_model(n, 64, [1, 2, 4, 8, 16, 32, 64], 9, 5, 33, 17)
    np.testing.assert_array_equal(out[:28], np.array(expected))
    bits = sum(1 << i for i in range(64) if i % 3 == 0)
    lo = np.int64(bits & 0xffffffff).astype(np.uint32).view(np.int32)
    hi = np.int64(bits >> 32).astype(np.uint32).view(np.int32)
    # wavefront 1 (threads 64..127): t % 3 == 0 for lanes with (64 + i) % 3 == 0
    bits1 = sum(1 << i for i in range(64) if (64 + i) % 3 == 0)
    np.testing.assert_array_equal(out[28][:64], lo)
    np.testing.assert_array_equal(out[29][:64], hi)
    np.testing.assert_array_equal(out[28][64:].view(np.uint32), np.uint32(bits1 & 0xffffffff))
    np.testing.assert_array_equal(out[30], [1] * 64 + [0] * 64)
    np.testing.assert_array_equal(out[31], [0] * 128)
    np.testing.assert_array_equal(out[32], [64] * 128)


def test_partial_masks_and_tvm_style_reduction():
    # lanes 0..15 reduce among themselves with a 0xffff mask while every lane executes the shuffle
    src = r"""
    __global__ void k(const float* x, float* out) {
      float v = x[threadIdx.x];
      unsigned mask = __activemask() & 0xffffu;
      for (int o = 8; o > 0; o >>= 1) v += __shfl_down_sync(mask, v, o, 32);
      if (threadIdx.x == 0) out[0] = v;
      if (threadIdx.x < 16) {
        float w = x[threadIdx.x];
        for (int o = 8; o > 0; o >>= 1) w += __shfl_xor_sync(0x0000ffff, w, o);
        out[1 + threadIdx.x] = w;
      }
      __syncwarp();
      out[17 + threadIdx.x] = __shfl_sync(0xffffffff, x[threadIdx.x], 31 - threadIdx.x);
    }
    extern "C" void f(const float* x, float* out) { k<<<1, 32>>>(x, out); }
    """
    x = f32(32)
    out = np.zeros(49, np.float32)
    run(src, [x, out], lang="cuda")
    assert out[0] == pytest.approx(x[:16].sum(), rel=1e-5)
    np.testing.assert_allclose(out[1:17], np.full(16, x[:16].sum()), rtol=1e-5)
    np.testing.assert_array_equal(out[17:], x[::-1])


# Divergent warp operations: the lanes of a branch run a shuffle among themselves, the others are
# inactive (reading one gives 0, as on AMD hardware and on an NVIDIA H200).

INACTIVE_HIP = r"""
#include <hip/hip_runtime.h>
__global__ void k(const int* x, int* out, int n) {
  int t = threadIdx.x, lane = t % 64;
  int v = x[t];
  int r0 = -1, r1, r2, r3, b_lo = -1, b_hi = -1, an = -1, al = -1, fl = -1, r5 = -1;
  if (lane < 32) {                       // half a wavefront, 32-lane segments (CUDA -> HIP)
    int s = v;
    for (int o = 16; o > 0; o >>= 1) s += __shfl_down(s, o, 32);
    r0 = s;
  }
  __syncthreads();                       // the other half waits here meanwhile
  if (lane % 2 == 0) r1 = __shfl_xor(v, 2);   // even lanes read even lanes
  else r1 = __shfl_xor(v, 1);                 // odd lanes read even lanes: inactive here
  r2 = __shfl(v, 63 - lane);                  // converged again
  int acc = v;
  for (int i = 0; i < lane % 4; ++i) acc += __shfl_xor(acc, 1);   // lanes leave the loop one by one
  r3 = acc;
  if (lane >= 8 && lane < 40) {
    unsigned long long b = __ballot(v & 1);
    b_lo = (int)(b & 0xffffffffu);
    b_hi = (int)(b >> 32);
    an = __any(v % 7 == 0);
    al = __all(v > 10);
    fl = __builtin_amdgcn_readfirstlane(v);
  }
  int k = 0;
  out[(k++) * n + t] = r0; out[(k++) * n + t] = r1; out[(k++) * n + t] = r2; out[(k++) * n + t] = r3;
  out[(k++) * n + t] = b_lo; out[(k++) * n + t] = b_hi; out[(k++) * n + t] = an; out[(k++) * n + t] = al;
  out[(k++) * n + t] = fl;
  if (lane >= 48) return;
  r5 = __shfl_down(v, 8);                // lanes 40..47 read returned lanes 48..55
  out[k * n + t] = r5;
}
extern "C" void f(const int* x, int* out, int n) { hipLaunchKernelGGL(k, dim3(1), dim3(n), 0, 0, x, out, n); }
"""


def _inactive_hip_model(x):
    n = x.size
    out = np.full((10, n), -1, np.int64)
    for w0 in range(0, n, 64):
        v = x[w0:w0 + 64].astype(np.int64)
        s = v[:32].copy()
        for o in (16, 8, 4, 2, 1):
            s = np.array([s[l] + (s[l + o] if l + o < 32 else s[l]) for l in range(32)])
        out[0, w0:w0 + 32] = s
        out[1, w0:w0 + 64] = [v[l ^ 2] if l % 2 == 0 else 0 for l in range(64)]
        out[2, w0:w0 + 64] = v[::-1]
        acc = v.copy()
        for i in range(3):
            active = [l % 4 > i for l in range(64)]
            acc = np.array([acc[l] + (acc[l ^ 1] if active[l ^ 1] else 0) if active[l] else acc[l] for l in range(64)])
        out[3, w0:w0 + 64] = acc
        lanes = range(8, 40)
        bits = sum(1 << l for l in lanes if v[l] & 1)
        out[4, w0 + 8:w0 + 40] = np.int64(bits & 0xffffffff).astype(np.uint32).view(np.int32)
        out[5, w0 + 8:w0 + 40] = bits >> 32
        out[6, w0 + 8:w0 + 40] = int(any(v[l] % 7 == 0 for l in lanes))
        out[7, w0 + 8:w0 + 40] = int(all(v[l] > 10 for l in lanes))
        out[8, w0 + 8:w0 + 40] = v[8]
        out[9, w0:w0 + 48] = [v[l + 8] if l + 8 < 48 else 0 for l in range(48)]
    return out


def test_hip_divergent_lanes_shuffle_among_themselves():
    x = np.random.default_rng(3).integers(1, 100, 128).astype(np.int32)
    out = np.full((10, 128), -1, np.int32)
    run(INACTIVE_HIP, [x, out, 128], lang="hip")
    np.testing.assert_array_equal(out, _inactive_hip_model(x))


INACTIVE_CUDA = r"""
__global__ void k(const int* x, int* out, int n) {
  int t = threadIdx.x, lane = t % 32;
  int v = x[t];
  int r0, r1 = -1, r2, r3 = -1, r4 = -1;
  if (lane < 16) {
    r0 = (int)__activemask();
    r1 = (int)__ballot_sync(0x0000ffff, v & 1);
    int s = v;
    for (int o = 8; o > 0; o >>= 1) s += __shfl_xor_sync(0x0000ffff, s, o);
    r2 = s;
  } else {
    r0 = (int)__activemask();
    r2 = __shfl_down_sync(0xffff0000u, v, 4);
  }
  out[t] = r0; out[n + t] = r1; out[2 * n + t] = r2;
  if (t >= 32 && lane >= 24) return;     // the second warp loses lanes 24..31
  r3 = __shfl_down_sync(0xffffffff, v, 4);   // lanes 20..23 of warp 1 read exited lanes: 0 on an H200
  r4 = __reduce_add_sync(0xffffffff, v);
  out[3 * n + t] = r3; out[4 * n + t] = r4;
}
extern "C" void f(const int* x, int* out, int n) { k<<<1, n>>>(x, out, n); }
"""


def test_cuda_divergent_lanes_and_exited_lanes():
    x = np.random.default_rng(4).integers(1, 100, 64).astype(np.int32)
    out = np.full((5, 64), -1, np.int32)
    run(INACTIVE_CUDA, [x, out, 64], lang="cuda")
    expect = np.full((5, 64), -1, np.int64)
    for w0 in (0, 32):
        v = x[w0:w0 + 32].astype(np.int64)
        expect[0, w0:w0 + 32] = [0xffff] * 16 + [np.int64(0xffff0000).astype(np.uint32).view(np.int32)] * 16
        expect[1, w0:w0 + 16] = sum(1 << l for l in range(16) if v[l] & 1)
        expect[2, w0:w0 + 16] = v[:16].sum()
        expect[2, w0 + 16:w0 + 32] = [v[l + 4] if l + 4 < 32 else v[l] for l in range(16, 32)]
        live = 32 if w0 == 0 else 24
        expect[3, w0:w0 + live] = [v[l + 4] if l + 4 < live else 0 if l + 4 < 32 else v[l] for l in range(live)]
        expect[4, w0:w0 + live] = v[:live].sum()
    np.testing.assert_array_equal(out, expect)



H200_SHUFFLES = r"""
__global__ void exited(const int *x, int *out) {
  int t = threadIdx.x;
  if (t >= 24) return;
  int v = x[t];
  out[t] = __shfl_down_sync(0xffffffff, v, 4);
  out[32 + t] = __shfl_xor_sync(0xffffffff, v, 16);
  out[64 + t] = __shfl_sync(0xffffffff, v, 30);
}
__global__ void partial(const int *x, int *out) {
  int t = threadIdx.x, v = x[t];
  out[t] = __shfl_down_sync(0xffffffff, v, 8);
  out[80 + t] = __shfl_xor_sync(0xffffffff, v, 16);
}
__global__ void outside(const int *x, int *out) {
  int t = threadIdx.x, v = x[t];
  unsigned mask = __activemask() & 0xffffu;
  out[t] = __shfl_sync(mask, v, 0, 32);
  out[32 + t] = __shfl_down_sync(mask, v, 8, 32);
}
extern "C" void f(const int *x, int *e, int *p, int *o) {
  exited<<<1, 32>>>(x, e);
  partial<<<1, 80>>>(x, p);
  outside<<<1, 32>>>(x, o);
}
"""


def test_cuda_shuffles_read_what_an_h200_reads():
    """An NVIDIA H200 (2026-11-21) ran these kernels: exited lanes and lanes beyond the block read 0,
    lanes outside their own mask still provide their values."""
    x = np.arange(1000, 1080, dtype=np.int32)
    e, p, o = np.full(96, -1, np.int32), np.full(160, -1, np.int32), np.full(64, -1, np.int32)
    run(H200_SHUFFLES, [x, e, p, o], lang="cuda")
    n = -1
    np.testing.assert_array_equal(e, [*range(1004, 1024), 0, 0, 0, 0, *[n] * 8, *range(1016, 1024), *[0] * 8,
                                      *range(1000, 1008), *[n] * 8, *[0] * 24, *[n] * 8])
    down = [*range(1008, 1032), *range(1024, 1032)]
    np.testing.assert_array_equal(p, [*down, *(d + 32 for d in down), *range(1072, 1080), *[0] * 8,
                                      *range(1016, 1032), *range(1000, 1016), *range(1048, 1064), *range(1032, 1048),
                                      *[0] * 16])
    np.testing.assert_array_equal(o, [*[1000] * 32, *range(1008, 1032), *range(1024, 1032)])

def test_warp_matrix_operation_needs_every_lane():
    src = WMMA.replace("LA", "row_major").replace("LB", "row_major").replace("MC", "mem_row_major").replace(
        "MD", "mem_row_major").replace("wmma::mma_sync(c, a, b, c);", "if (threadIdx.x >= 16) return;\n  wmma::mma_sync(c, a, b, c);")
    with pytest.raises(EmulationFault, match=r"wmma::mma_sync: only 16 of the 32 lanes of warp 0 of block \(0,0,0\) "
                                             r"take part \(a warp-wide matrix operation in divergent code or after an "
                                             r"early return\)"):
        run(src, [np.zeros((16, 24), np.float16), np.zeros((16, 24), np.float16), np.zeros((16, 16), np.float32),
                  np.zeros((16, 16), np.float32)], lang="cuda")



NAMED_BARRIERS = r"""
__global__ void k(const int* x, int* y, int wait_for) {
  __shared__ int s[128];
  int t = threadIdx.x, pair = t / 64;
  s[t] = x[t];
  __barrier_sync_count(1 + pair, pair == 0 ? 64 : 32);  // the second pair: 16 threads, a warp cut short
  y[t] = s[64 * pair + (t % 64 ^ (pair == 0 ? 63 : 15))];
  if (pair == 1) return;
  __barrier_sync_count(1, wait_for);
  s[t] = 2 * y[t];
  __barrier_sync_count(1, 64);
  y[t] += s[63 - t];
}
extern "C" void f(const int* x, int* y, int wait_for) { k<<<1, 80>>>(x, y, wait_for); }
"""


def test_named_barriers_synchronise_their_warps():
    x = np.arange(100, 180, dtype=np.int32)
    y = np.zeros(80, np.int32)
    run(NAMED_BARRIERS, [x, y, 64], lang="cuda")
    t = np.arange(80)
    swapped = np.where(t < 64, x[(t % 64) ^ 63], x[64 + (t % 64 ^ 15) % 16])
    np.testing.assert_array_equal(y, np.where(t < 64, swapped + 2 * swapped[63 - t % 64], swapped))
    with pytest.raises(EmulationFault, match=r"deadlock: named barrier 1 \(__barrier_sync_count\) of block \(0,0,0\) "
                                             r"never completes: thread \(0,0,0\) waits there with 64 threads arrived, "
                                             r"16 threads of the block have returned"):
        run(NAMED_BARRIERS, [x, y, 96], lang="cuda")

def test_atomics_across_concurrent_blocks():
    src = r"""
    __global__ void k(const float* x, float* fsum, int* isum, unsigned* umax, int* imin, int* cas_count, int n) {
      int i = blockIdx.x * blockDim.x + threadIdx.x;
      if (i < n) {
        atomicAdd(fsum, x[i]);
        atomicAdd(isum, 1);
        atomicMax(umax, (unsigned)i);
        atomicMin(imin, -i);
        int old = atomicCAS(cas_count, 0, 0);
        while (true) { int seen = atomicCAS(cas_count, old, old + 2); if (seen == old) break; old = seen; }
        __threadfence();
      }
    }
    extern "C" void f(const float* x, float* fsum, int* isum, unsigned* umax, int* imin, int* cas_count, int n) {
      float* d; cudaMalloc(&d, n * sizeof(float)); cudaMemcpy(d, x, n * sizeof(float), cudaMemcpyHostToDevice);
      float* s; int *is, *mn, *cc; unsigned* mx;
      cudaMalloc(&s, 4); cudaMalloc(&is, 4); cudaMalloc(&mx, 4); cudaMalloc(&mn, 4); cudaMalloc(&cc, 4);
      cudaMemset(s, 0, 4); cudaMemset(is, 0, 4); cudaMemset(mx, 0, 4); cudaMemset(mn, 0, 4); cudaMemset(cc, 0, 4);
      k<<<(n + 127) / 128, 128>>>(d, s, is, mx, mn, cc, n);
      cudaMemcpy(fsum, s, 4, cudaMemcpyDeviceToHost); cudaMemcpy(isum, is, 4, cudaMemcpyDeviceToHost);
      cudaMemcpy(umax, mx, 4, cudaMemcpyDeviceToHost); cudaMemcpy(imin, mn, 4, cudaMemcpyDeviceToHost);
      cudaMemcpy(cas_count, cc, 4, cudaMemcpyDeviceToHost);
    }
    """
    n = 100_000
    x = f32(n, lo=0, hi=1)
    outs = [np.zeros(1, np.float32), np.zeros(1, np.int32), np.zeros(1, np.uint32), np.zeros(1, np.int32),
            np.zeros(1, np.int32)]
    run(src, [x, *outs, n], lang="cuda")
    assert outs[0][0] == pytest.approx(x.sum(dtype=np.float64), rel=1e-4)
    assert outs[1][0] == n and outs[2][0] == n - 1 and outs[3][0] == -(n - 1) and outs[4][0] == 2 * n


def test_half_conversions_round_to_nearest_even():
    src = r"""
    #include <cuda_fp16.h>
    __global__ void k(const float* x, half* h, float* back, half* sum, int n) {
      int i = blockIdx.x * blockDim.x + threadIdx.x;
      if (i < n) {
        h[i] = __float2half(x[i]);
        back[i] = __half2float(h[i]);
        sum[i] = __hadd(h[i], __hmul(h[i], __float2half(0.5f)));
      }
    }
    extern "C" void f(const float* x, half* h, float* back, half* sum, int n) {
      float *dx, *db; half *dh, *ds;
      cudaMalloc(&dx, n * 4); cudaMalloc(&db, n * 4); cudaMalloc(&dh, n * 2); cudaMalloc(&ds, n * 2);
      cudaMemcpy(dx, x, n * 4, cudaMemcpyHostToDevice);
      k<<<(n + 255) / 256, 256>>>(dx, dh, db, ds, n);
      cudaMemcpy(h, dh, n * 2, cudaMemcpyDeviceToHost); cudaMemcpy(back, db, n * 4, cudaMemcpyDeviceToHost);
      cudaMemcpy(sum, ds, n * 2, cudaMemcpyDeviceToHost);
    }
    """
    all_halves = np.arange(0, 0x7c00, dtype=np.uint16).view(np.float16).astype(np.float64)
    mids = ((all_halves[:-1] + all_halves[1:]) / 2).astype(np.float32)       # exact ties
    special = np.array([65504, 65519.99, 65520, 1e9, -1e9, 2.0 ** -25, 2.0 ** -24, 3 * 2.0 ** -26, 1e-10, -0.0,
                        np.inf, -np.inf], np.float32)
    x = np.concatenate([mids, -mids, special, f32(5000, lo=-70000, hi=70000)]).astype(np.float32)
    n = x.size
    h = np.zeros(n, np.float16)
    back = np.zeros(n, np.float32)
    s = np.zeros(n, np.float16)
    run(src, [x, h, back, s, n], lang="cuda")
    with np.errstate(over="ignore", invalid="ignore"):
        hx = x.astype(np.float16)
        np.testing.assert_array_equal(h.view(np.uint16), hx.view(np.uint16))
        np.testing.assert_array_equal(back, hx.astype(np.float32))
        expect = (hx.astype(np.float64) + (hx.astype(np.float64) * 0.5).astype(np.float16)).astype(np.float16)
    np.testing.assert_array_equal(s.view(np.uint16), expect.view(np.uint16))


# ---------------------------------------------------------------------------------------------
# WMMA and MFMA layouts against numpy

WMMA = r"""
#include <mma.h>
using namespace nvcuda;
__global__ void k(const half* A, const half* B, const float* C, float* D) {
  wmma::fragment<wmma::matrix_a, 16, 16, 16, half, wmma::LA> a;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, half, wmma::LB> b;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> c;
  wmma::load_matrix_sync(a, A, 24);
  wmma::load_matrix_sync(b, B, 24);
  wmma::load_matrix_sync(c, C, 16, wmma::MC);
  wmma::mma_sync(c, a, b, c);
  for (int i = 0; i < c.num_elements; ++i) c.x[i] = c.x[i] * 2.0f;
  wmma::store_matrix_sync(D, c, 16, wmma::MD);
}
extern "C" void f(const half* A, const half* B, const float* C, float* D) { k<<<1, 32>>>(A, B, C, D); }
"""


@pytest.mark.parametrize("la,lb,mc,md", [("row_major", "row_major", "mem_row_major", "mem_row_major"),
                                         ("col_major", "col_major", "mem_col_major", "mem_row_major"),
                                         ("row_major", "col_major", "mem_row_major", "mem_col_major")])
def test_wmma_layouts(la, lb, mc, md):
    rng = np.random.default_rng(1)
    A = rng.uniform(-1, 1, (16, 24)).astype(np.float16)   # ldm 24: padded rows / columns
    B = rng.uniform(-1, 1, (16, 24)).astype(np.float16)
    C = rng.uniform(-1, 1, (16, 16)).astype(np.float32)
    D = np.zeros((16, 16), np.float32)
    src = WMMA.replace("LA", la).replace("LB", lb).replace("MC", mc).replace("MD", md)
    run(src, [A, B, C, D], lang="cuda")
    a = A[:, :16].astype(np.float64) if la == "row_major" else A[:, :16].T.astype(np.float64)
    b = B[:, :16].astype(np.float64) if lb == "row_major" else B[:, :16].T.astype(np.float64)
    c = C if mc == "mem_row_major" else C.T
    d = 2 * (a @ b + c)
    np.testing.assert_allclose(D if md == "mem_row_major" else D.T, d, rtol=1e-5, atol=1e-5)


MFMA = r"""
#include <hip/hip_runtime.h>
typedef _Float16 half4 __attribute__((ext_vector_type(4)));
typedef float float4_ __attribute__((ext_vector_type(4)));
typedef float float16_ __attribute__((ext_vector_type(16)));
// A[M][K] row-major, B[K][N] row-major, C/D[M][N]; one wavefront, layouts of reference/simt.md.
__global__ void k16h(const _Float16* A, const _Float16* B, const float* C, float* D) {
  int l = threadIdx.x; half4 a, b; float4_ c;
  for (int i = 0; i < 4; ++i) { a[i] = A[(l % 16) * 16 + 4 * (l / 16) + i]; b[i] = B[(4 * (l / 16) + i) * 16 + l % 16];
                                c[i] = C[(4 * (l / 16) + i) * 16 + l % 16]; }
  float4_ d = __builtin_amdgcn_mfma_f32_16x16x16f16(a, b, c, 0, 0, 0);
  for (int i = 0; i < 4; ++i) D[(4 * (l / 16) + i) * 16 + l % 16] = d[i];
}
__global__ void k32h(const _Float16* A, const _Float16* B, const float* C, float* D) {
  int l = threadIdx.x; half4 a, b; float16_ c;
  for (int i = 0; i < 4; ++i) { a[i] = A[(l % 32) * 8 + 4 * (l / 32) + i]; b[i] = B[(4 * (l / 32) + i) * 32 + l % 32]; }
  for (int j = 0; j < 16; ++j) c[j] = C[(8 * (j / 4) + 4 * (l / 32) + j % 4) * 32 + l % 32];
  float16_ d = __builtin_amdgcn_mfma_f32_32x32x8f16(a, b, c, 0, 0, 0);
  for (int j = 0; j < 16; ++j) D[(8 * (j / 4) + 4 * (l / 32) + j % 4) * 32 + l % 32] = d[j];
}
__global__ void k16f(const float* A, const float* B, const float* C, float* D) {
  int l = threadIdx.x; float4_ c;
  for (int i = 0; i < 4; ++i) c[i] = C[(4 * (l / 16) + i) * 16 + l % 16];
  float4_ d = __builtin_amdgcn_mfma_f32_16x16x4f32(A[(l % 16) * 4 + l / 16], B[(l / 16) * 16 + l % 16], c, 0, 0, 0);
  for (int i = 0; i < 4; ++i) D[(4 * (l / 16) + i) * 16 + l % 16] = d[i];
}
__global__ void k32f(const float* A, const float* B, const float* C, float* D) {
  int l = threadIdx.x; float16_ c;
  for (int j = 0; j < 16; ++j) c[j] = C[(8 * (j / 4) + 4 * (l / 32) + j % 4) * 32 + l % 32];
  float16_ d = __builtin_amdgcn_mfma_f32_32x32x2f32(A[(l % 32) * 2 + l / 32], B[(l / 32) * 32 + l % 32], c, 0, 0, 0);
  for (int j = 0; j < 16; ++j) D[(8 * (j / 4) + 4 * (l / 32) + j % 4) * 32 + l % 32] = d[j];
}
extern "C" void f16h(const _Float16* A, const _Float16* B, const float* C, float* D) { hipLaunchKernelGGL(k16h, dim3(1), dim3(64), 0, 0, A, B, C, D); }
extern "C" void f32h(const _Float16* A, const _Float16* B, const float* C, float* D) { hipLaunchKernelGGL(k32h, dim3(1), dim3(64), 0, 0, A, B, C, D); }
extern "C" void f16f(const float* A, const float* B, const float* C, float* D) { hipLaunchKernelGGL(k16f, dim3(1), dim3(64), 0, 0, A, B, C, D); }
extern "C" void f32f(const float* A, const float* B, const float* C, float* D) { hipLaunchKernelGGL(k32f, dim3(1), dim3(64), 0, 0, A, B, C, D); }
"""


@pytest.mark.parametrize("entry,m,n,k,dtype", [("f16h", 16, 16, 16, np.float16), ("f32h", 32, 32, 8, np.float16),
                                               ("f16f", 16, 16, 4, np.float32), ("f32f", 32, 32, 2, np.float32)])
def test_mfma_layouts(entry, m, n, k, dtype):
    rng = np.random.default_rng(2)
    A = rng.uniform(-1, 1, (m, k)).astype(dtype)
    B = rng.uniform(-1, 1, (k, n)).astype(dtype)
    C = rng.uniform(-1, 1, (m, n)).astype(np.float32)
    D = np.zeros((m, n), np.float32)
    run(MFMA, [A, B, C, D], lang="hip", entry=entry)
    np.testing.assert_allclose(D, A.astype(np.float64) @ B.astype(np.float64) + C, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# launches: <<<>>> rewriting, dynamic shared memory, default launch of bare kernels

def test_launch_forms_dynamic_shared_and_templates():
    src = r"""
    #include <cuda_runtime.h>
    extern __shared__ float file_scope_smem[];
    template <typename T, int SCALE>
    __global__ void scale(const T* x, T* y, int n) {
      int i = blockIdx.x * blockDim.x + threadIdx.x;
      if (i < n) y[i] = x[i] * SCALE;
    }
    __global__ void reverse_block(const float* x, float* y) {
      extern __shared__ __align__(16) float buf[];
      int t = threadIdx.x + threadIdx.y * blockDim.x;
      int n = blockDim.x * blockDim.y;
      buf[t] = x[blockIdx.x * n + t];
      __syncthreads();
      file_scope_smem[n + t] = buf[n - 1 - t];   // same dynamic buffer, second half
      __syncthreads();
      y[blockIdx.x * n + t] = file_scope_smem[n + t];
    }
    extern "C" void f(const float* x, float* y, float* z, int n) {
      cudaStream_t s; cudaStreamCreate(&s);
      scale<float, 3><<<dim3((n + 63) / 64), dim3(64), 0, s>>>(x, y, n);
      reverse_block<<<n / 96, dim3(32, 3), 2 * 96 * sizeof(float)>>>(x, z);
      cudaStreamSynchronize(s); cudaStreamDestroy(s);
    }
    """
    n = 960
    x = f32(n)
    y = np.zeros(n, np.float32)
    z = np.zeros(n, np.float32)
    run(src, [x, y, z, n], lang="cuda")
    np.testing.assert_array_equal(y, x * 3)
    np.testing.assert_array_equal(z, x.reshape(-1, 96)[:, ::-1].reshape(-1))


def test_device_attributes_cuda_and_hip():
    """cudaDeviceGetAttribute / hipDeviceGetAttribute (a grid-stride grid sized from the SM or CU count)
    agree with the device properties; the warp size is the dialect's."""
    cuda = r"""
    #include <cuda_runtime.h>
    extern "C" void attrs(int* out) {
      int dev = 0;
      cudaGetDevice(&dev);
      cudaDeviceGetAttribute(&out[0], cudaDevAttrMultiProcessorCount, dev);
      cudaDeviceGetAttribute(&out[1], cudaDevAttrWarpSize, dev);
      cudaDeviceGetAttribute(&out[2], cudaDevAttrMaxThreadsPerBlock, dev);
      cudaDeviceGetAttribute(&out[3], cudaDevAttrMaxSharedMemoryPerBlock, dev);
      cudaDeviceProp prop;
      cudaGetDeviceProperties(&prop, dev);
      out[4] = prop.multiProcessorCount;
      out[5] = prop.warpSize;
    }
    """
    hip = r"""
    #include <hip/hip_runtime.h>
    extern "C" void attrs(int* out) {
      int dev = 0;
      hipGetDevice(&dev);
      hipDeviceGetAttribute(&out[0], hipDeviceAttributeMultiprocessorCount, dev);
      hipDeviceGetAttribute(&out[1], hipDeviceAttributeWarpSize, dev);
      hipDeviceGetAttribute(&out[2], hipDeviceAttributeMaxThreadsPerBlock, dev);
      hipDeviceGetAttribute(&out[3], hipDeviceAttributeMaxSharedMemoryPerBlock, dev);
      hipDeviceProp_t prop;
      hipGetDeviceProperties(&prop, dev);
      out[4] = prop.multiProcessorCount;
      out[5] = prop.warpSize;
    }
    """
    for lang, src, warp in (("cuda", cuda, 32), ("hip", hip, 64)):
        out = np.zeros(6, np.int32)
        run(src, [out], lang=lang)
        assert out[0] == out[4] > 0 and out[1] == out[5] == warp and out[2] == 1024 and out[3] >= 49152, (lang, out)


def test_compile_errors_point_at_the_users_line():
    src = "__global__ void k(float* x) {\n  int i = threadIdx.x;\n  x[i] = undefined_name;\n}\n" \
          "extern \"C\" void f(float* x) { k<<<1, 32>>>(x); }\n"
    with pytest.raises(xpiler.CompileError) as info:
        run(src, [np.zeros(32, np.float32)], lang="cuda")
    assert re.search(r"<input>:3:\d+: error: .undefined_name", str(info.value)), str(info.value)


def _eval_c(expr: str, **values) -> int:
    py = expr.replace("::std::max<long long>({", "max([").replace("})", "])").replace("(long long)", "")
    py = re.sub(r"(\d+)LL", r"\1", py).replace("/", "//")
    return int(eval(py, {"max": max}, values))


@pytest.mark.parametrize("body,launch_bounds,grid_x,block_x", [
    ("if (((int)blockIdx.x * 256 + (int)threadIdx.x) < n) y[0] = 0;", "__launch_bounds__(256)", 4, 256),
    ("int idx = blockIdx.x * blockDim.x + threadIdx.x; if (idx >= n) return; y[idx] = 0;", "__launch_bounds__(128)", 8, 128),
    ("for (int o = 0; o < 8; ++o) { if (((o * 262144) + (((int)blockIdx.x) * 1024)) + ((int)threadIdx.x) < 2048000) "
     "y[0] = 0; }", "__launch_bounds__(1024)", 256, 1024),
    ("for (int i = blockIdx.x * 64 + threadIdx.x; i <= n - 1; i += 64 * gridDim.x) y[i] = 0;", "", 16, 64),
    ("if (blockIdx.x < n / 10) y[blockIdx.x] = 0;", "__launch_bounds__(1)", 100, 1),
    ("y[threadIdx.x] = 0;", "__launch_bounds__(32)", 1, 32),
])
def test_default_launch_derivation(body, launch_bounds, grid_x, block_x):
    src = f"__global__ void {launch_bounds} k(float* y, int n) {{ {body} }}"
    kernel = simt._kernels(src)[0]["k"]
    grid, block = simt.default_launch(kernel)
    assert block == (block_x, 1, 1)
    assert _eval_c(grid[0], n=1000) == grid_x
    assert grid[1:] == ("1", "1")


def test_bare_kernel_runs_with_derived_and_explicit_launch():
    src = r"""
    __global__ void __launch_bounds__(128) axpy(const float* __restrict__ x, float* __restrict__ y, float a, int n) {
      int i = blockIdx.x * blockDim.x + threadIdx.x;
      if (i < n) y[i] = a * x[i] + y[i];
    }"""
    n = 1000
    x, y = f32(n), f32(n, seed=1)
    expect = 2.5 * x + y
    run(src, [x, y, 2.5, n], lang="cuda")
    np.testing.assert_allclose(y, expect, rtol=1e-6)
    nolb = "__global__ void k(float* y) { y[blockIdx.y * 4 + threadIdx.y] += 1.0f; }"
    with pytest.raises(simt.LaunchUnknown, match="launch="):
        run(nolb, [np.zeros(8, np.float32)], lang="cuda")
    z = np.zeros(8, np.float32)
    run(nolb, [z], lang="cuda", launch={"grid": (1, 2), "block": (1, 4)})
    np.testing.assert_array_equal(z, np.ones(8))


# ---------------------------------------------------------------------------------------------
# checking mode and faults

def test_check_mode_faults_name_buffer_and_index():
    host = r"""
    __global__ void k(const float* x, float* y, int n) {
      int i = blockIdx.x * blockDim.x + threadIdx.x;
      if (i <= n) y[i] = x[i] * 2.0f;          // off by one: i == n is past the end
    }
    extern "C" void f(const float* x, float* y, int n) {
      float *d_x, *d_y;
      cudaMalloc((void**)&d_x, n * sizeof(float)); cudaMalloc((void**)&d_y, (n + 1) * sizeof(float));
      cudaMemcpy(d_x, x, n * sizeof(float), cudaMemcpyHostToDevice);
      k<<<(n + 127) / 128, 128>>>(d_x, d_y, n);
      cudaMemcpy(y, d_y, n * sizeof(float), cudaMemcpyDeviceToHost);
    }"""
    n = 1000
    with pytest.raises(EmulationFault, match=r"out-of-bounds read of buffer 'd_x' .* element index 1000 .*block \(7,0,0\) thread \(104,0,0\)"):
        run(host, [f32(n), np.zeros(n, np.float32), n], lang="cuda", check=True)
    shared = r"""
    __global__ void __launch_bounds__(64) k(float* x) {
      __shared__ float t[64];
      t[threadIdx.x] = x[threadIdx.x];
      __syncthreads();
      x[threadIdx.x] = t[threadIdx.x + 1];
    }"""
    with pytest.raises(EmulationFault, match=r"out-of-bounds index 64 into an array of type 'float \[64\]' at input\.cu:6"):
        run(shared, [f32(64)], lang="cuda", check=True)
    hostptr = r"""
    __global__ void k(float* x, int n) { int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) x[i] = 0; }
    extern "C" void f(float* x, int n) { k<<<(n + 31) / 32, 32>>>(x, n); }"""
    with pytest.raises(EmulationFault, match="argument 1 points into host buffer 'x'"):
        run(hostptr, [f32(64), 64], lang="cuda", check=True)
    copy = r"""
    extern "C" void f(const float* x, float* y, int n) {
      float* d; cudaMalloc(&d, n * sizeof(float));
      cudaMemcpy(d, x, (n + 4) * sizeof(float), cudaMemcpyHostToDevice);
    }"""
    with pytest.raises(EmulationFault, match="cudaMemcpy of 4112 bytes"):
        run(copy, [f32(1024), f32(1024), 1024], lang="cuda", check=True)
    deref = r"""
    extern "C" void f(float* y, int n) {
      float *d, *pinned;
      cudaMalloc(&d, n * sizeof(float)); cudaMallocHost(&pinned, n * sizeof(float));
      pinned[0] = 1.0f;                           // pinned host memory: fine
      cudaMemset(d, 0, n * sizeof(float));
      y[0] = d[3];                                // a device pointer dereferenced by host code
    }"""
    with pytest.raises(EmulationFault, match="host code reads device buffer 'd' .* at byte offset 12"):
        run(deref, [f32(16), 16], lang="cuda", check=True)
    config = r"""
    __global__ void k(float* x) { x[threadIdx.x] = 0; }
    extern "C" void f(float* x) { k<<<1, 2048>>>(x); }"""
    with pytest.raises(EmulationFault, match="invalid launch configuration of k: block .* 2048 threads"):
        run(config, [f32(2048)], lang="cuda")


def test_stack_overflow_is_a_fault(monkeypatch):
    src = r"""
    __global__ void k(const float* x, float* y) {
      float big[200000];
      for (int i = 0; i < 200000; ++i) big[i] = i * x[0];
      y[threadIdx.x] = big[199999 - threadIdx.x];
    }
    extern "C" void f(const float* x, float* y) { k<<<1, 4>>>(x, y); }"""
    x = np.ones(1, np.float32)
    with pytest.raises(EmulationFault, match="stack overflow .*XPILER_FIBER_STACK"):
        run(src, [x, np.zeros(4, np.float32)], lang="cuda")
    monkeypatch.setenv("XPILER_FIBER_STACK", str(2 << 20))
    y = np.zeros(4, np.float32)
    run(src, [x, y], lang="cuda")
    np.testing.assert_array_equal(y, [199999, 199998, 199997, 199996])


# ---------------------------------------------------------------------------------------------
# planted bugs in suite programs: the emulation must expose each

def _mutant(entry, old, new, count=1):
    text = entry.source
    assert text.count(old) >= 1, (entry.file, old)
    return text.replace(old, new, count)


def test_planted_off_by_one_index_gives_a_wrong_result():
    entry = suite.load_manifest("cuda").get("gemm_shared_tiled.cu")
    assert suite.check_program(entry, "cuda").passed
    bad = _mutant(entry, "Bs[k][tx]", "Bs[k][tx + 1 < TILE ? tx + 1 : tx]")
    assert not suite.check_program(entry, "cuda", src=bad).passed
    hip = suite.load_manifest("hip").get("conv1d_valid.hip")
    bad = _mutant(hip, "x[i + 2] * c_filter[2]", "x[i + 1] * c_filter[2]")
    assert not suite.check_program(hip, "hip", src=bad).passed


def test_planted_missing_syncthreads_gives_a_wrong_result():
    entry = suite.load_manifest("cuda").get("softmax_block_shared.cu")
    text = entry.source
    # drop the barrier inside the tree reduction of the sum (the last one; a wrong max would not
    # change a softmax)
    last = text.rindex("    __syncthreads();\n  }")
    bad = text[:last] + "    /* missing __syncthreads(); */\n  }" + text[last + len("    __syncthreads();\n  }"):]
    assert bad != text
    result = suite.check_program(entry, "cuda", src=bad)
    assert not result.passed, "a missing __syncthreads in a shared-memory reduction must give a wrong result"
    hip = suite.load_manifest("hip").get("gemm_tiled_lds.hip")
    bad = _mutant(hip, "    __syncthreads();\n    for (int k = 0; k < TS; ++k)", "    for (int k = 0; k < TS; ++k)")
    assert not suite.check_program(hip, "hip", src=bad).passed


def test_planted_wrong_shuffle_offset_gives_a_wrong_result():
    entry = suite.load_manifest("cuda").get("softmax_warp_xor.cu")
    bad = _mutant(entry, "for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync",
                  "for (int offset = 8; offset > 0; offset >>= 1) v += __shfl_xor_sync")
    assert not suite.check_program(entry, "cuda", src=bad).passed
    hip = suite.load_manifest("hip").get("gemv_wave.hip")
    bad = _mutant(hip, "for (int off = 32; off > 0; off >>= 1)", "for (int off = 16; off > 0; off >>= 1)")
    assert not suite.check_program(hip, "hip", src=bad).passed   # a 32-lane assumption on 64-lane wavefronts


def test_planted_out_of_bounds_write_is_caught_in_check_mode():
    entry = suite.load_manifest("cuda").get("gelu_grid_stride.cu")
    bad = _mutant(entry, "out[i] = gelu_tanh(in[i]);", "out[i + 1] = gelu_tanh(in[i]);")
    with pytest.raises(EmulationFault, match=r"out-of-bounds write of buffer 'd_out' \(16384 bytes, 4096 elements\) "
                                             r"at element index 4096"):
        suite.check_program(entry, "cuda", src=bad, check=True)
    bare = suite.load_manifest("cuda").get("add_tvm_fused.cu")   # a bare kernel on host buffers: shadows
    bad = _mutant(bare, "T_add[(((ax0", "T_add[1 + (((ax0")
    with pytest.raises(EmulationFault, match=r"out-of-bounds write of buffer 'T_add' \(8192000 bytes, 2048000 elements\) "
                                             r"at element index 2048000"):
        suite.check_program(bare, "cuda", src=bad, check=True)
    bad = bare.source.replace("< 2048000", "< 2048001")
    with pytest.raises(EmulationFault, match=r"out-of-bounds read of buffer '(A|B)' .* at element index 2048000"):
        suite.check_program(bare, "cuda", src=bad, check=True)


def test_planted_barrier_in_divergent_branch_is_reported():
    src = r"""
    __global__ void __launch_bounds__(64) k(const float* x, float* y) {
      __shared__ float s[64];
      if (threadIdx.x < 32) {
        s[threadIdx.x] = x[threadIdx.x];
        __syncthreads();                       // only half of the block gets here
        y[threadIdx.x] = s[31 - threadIdx.x];
      }
    }"""
    with pytest.raises(EmulationFault, match=r"deadlock: __syncthreads\(\) not reached by all threads of block \(0,0,0\): "
                                             r"thread \(0,0,0\) waits there with 32 of 64 threads, 32 threads have returned"):
        run(src, [f32(64), np.zeros(64, np.float32)], lang="cuda")
    entry = suite.load_manifest("cuda").get("layernorm_shfl_down.cu")
    bad = _mutant(entry, "  const float* xr = x + (size_t)blockIdx.x * cols;",
                  "  if (blockIdx.x == 3 && threadIdx.x >= 192) return;\n  const float* xr = x + (size_t)blockIdx.x * cols;")
    with pytest.raises(EmulationFault, match=r"deadlock: __syncthreads\(\) not reached by all threads of block \(3,0,0\)"):
        suite.check_program(entry, "cuda", src=bad)
    hip = suite.load_manifest("hip").get("softmax_wave64.hip")
    bad = _mutant(hip, "float m = fmaxf(a, b);", "float m = fmaxf(a, b);\n  if (lane < 32) return;")
    # lanes 32..63 go on alone and read the returned lanes 0..31, which AMD hardware gives as 0
    assert not suite.check_program(hip, "hip", src=bad).passed


# ---------------------------------------------------------------------------------------------
# the native GPU backend (no GPU here) and the GPU cross-check bundle

def test_gpu_backend_without_gpu_raises_tool_missing(monkeypatch):
    from xpiler.oracle import gpu
    monkeypatch.setenv("XPILER_NO_GPU", "1")
    src = "__global__ void __launch_bounds__(64) k(float* y, int n) { int i = blockIdx.x * 64 + threadIdx.x; if (i < n) y[i] = 1; }"
    with pytest.raises(xpiler.ToolMissing, match="no NVIDIA GPU"):
        gpu.prepare(src, lang="cuda")
    with pytest.raises(xpiler.ToolMissing):
        run(src, [np.zeros(100, np.float32), 100], lang="cuda", backend="native")
    # the translation unit nvcc would compile: wrapper with device shadows, hip2cuda for HIP
    text, entry = gpu.prepare_source(src, lang="cuda")
    assert entry == "k_kernel" and "xgpu_shadows.dev(y" in text and "k<<<dim3(" in text
    hip = suite.load_manifest("hip").get("sign_2d.hip")
    text, entry = gpu.prepare_source(hip.source, lang="hip", entry=hip.entry)
    assert "// (xpiler: hip2cuda.h) #include <hip/hip_runtime.h>" in text and entry == "sign"
    assert text.count("\n") == hip.source.count("\n") + 1          # lines keep their numbers
    assert "-include" in gpu.nvcc_flags("hip") and "hip2cuda.h" in gpu.nvcc_flags("hip")


def test_gpu_crosscheck_bundle_build_run_compare(tmp_path):
    import importlib.util
    import json
    import sys
    tool = simt.RUNTIME_DIR.parents[2] / "tools" / "gpu_crosscheck.py"
    bundle = tmp_path / "bundle"
    only = ["cuda__gemm_wmma_tvm", "hip__sign_2d", "hip__softmax_wave64", "hip__gemm_mfma_16x16x16f16"]
    proc = subprocess.run([sys.executable, str(tool), "build", str(bundle), "--only", *only, "--max-input-mb", "0.05"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    manifest = json.loads((bundle / "cases.json").read_text())
    assert [c["id"] for c in manifest["cases"]] == ["cuda__gemm_wmma_tvm", "hip__sign_2d"]
    reasons = {s["id"]: s["reason"] for s in manifest["skipped"]}
    assert "64-lane" in reasons["hip__softmax_wave64"] and "MFMA" in reasons["hip__gemm_mfma_16x16x16f16"]
    for f in ("gpu_crosscheck.py", "hip2cuda.h", "simt_gpu.h", "fault.h", "README.md", "programs/hip__sign_2d.cu"):
        assert (bundle / f).exists(), f
    # the bundle's copy runs without xpiler: big inputs are regenerated bit for bit from their sha256
    spec = importlib.util.spec_from_file_location("bundle_tool", bundle / "gpu_crosscheck.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    gemm = manifest["cases"][0]
    regenerated = [a for a in gemm["args"] if a["role"] != "scalar" and a["npy"] is None]
    assert regenerated, "inputs above --max-input-mb are left out of the bundle"
    for a in regenerated:
        assert mod._load_arg(bundle, a).shape == tuple(a["shape"])
    if shutil.which("nvcc"):
        res = tmp_path / "compiled"
        proc = subprocess.run([sys.executable, str(bundle / "gpu_crosscheck.py"), "run", "--bundle", str(bundle),
                               "--out", str(res), "--compile-only", "--arch", "sm_90", "--jobs", "2"],
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        statuses = {c: r["status"] for c, r in json.loads((res / "results.json").read_text())["cases"].items()}
        assert statuses == {"cuda__gemm_wmma_tvm": "compiled", "hip__sign_2d": "compiled"}
    # compare: GPU results as the runner writes them (here: the emulation's own outputs)
    results = tmp_path / "results"
    samples, cases = {}, {}
    for case in manifest["cases"]:
        cases[case["id"]] = {"status": "ok", "times_s": [0.001]}
        for a in case["args"]:
            if a["role"] == "output":
                out = np.load(bundle / "emulation" / case["id"] / f"{a['name']}.npy")
                (results / "outputs" / case["id"]).mkdir(parents=True, exist_ok=True)
                np.save(results / "outputs" / case["id"] / f"{a['name']}.npy", out)
                idx = mod.sample_indices(out.size)
                samples[f"{case['id']}/{a['name']}/idx"] = idx
                samples[f"{case['id']}/{a['name']}/val"] = out.reshape(-1)[idx]
    np.savez(results / "samples.npz", **samples)
    (results / "results.json").write_text(json.dumps({"cases": cases, "gpu": "test"}))
    compare = lambda: subprocess.run([sys.executable, str(tool), "compare", str(bundle), str(results)],
                                     capture_output=True, text=True, timeout=120)
    proc = compare()
    assert proc.returncode == 0 and "2 of 2 cases agree" in proc.stdout, proc.stdout + proc.stderr
    bad = np.load(results / "outputs" / "hip__sign_2d" / "out.npy")
    bad.reshape(-1)[7] += 0.5
    np.save(results / "outputs" / "hip__sign_2d" / "out.npy", bad)
    proc = compare()
    assert proc.returncode == 1 and "1 MISMATCHES" in proc.stdout, proc.stdout
    shutil.rmtree(results / "outputs")                    # samples only: what a remote run returns
    proc = compare()
    assert proc.returncode == 0 and "full" in proc.stdout, proc.stdout
