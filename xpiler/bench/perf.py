"""Program speed against library baselines: ``python -m xpiler.bench perf`` (docs/benchmarks.md).

What is timed
-------------
- **VNNI / C**, natively on this CPU: each suite program of ``examples/suite/vnni`` (or, with
  ``--from D``, the translation of D's suite into VNNI) against the strongest CPU library available
  for the same op and shape: PyTorch CPU (oneDNN / MKL / fbgemm) when ``torch`` imports, else numpy
  (BLAS for the GEMM family, the numpy reference for the rest).
- **CUDA** (and **HIP** through the oracle's HIP-to-CUDA header, once ``xpiler/oracle/gpu.py`` provides
  it) on an NVIDIA GPU against PyTorch (cuBLAS / cuDNN) for the same op and shape. Without a GPU here
  the section says ``skipped: no NVIDIA GPU``; ``--export-gpu-bundle DIR`` writes a self-contained
  directory to run on a machine that has one, ``--import-gpu-results FILE`` folds its results back.

Speed ratio = library time / program time: above 1 the program is faster than the library, below 1
slower (the paper's 0.78x means its translated programs take 1/0.78 = 1.28 times the library's time).
Each row is a median over ``--repeat`` timed calls after ``--warmup`` untimed ones; the summary is the
geometric mean of the ratios of the programs whose output matched the reference.

Timing path (compilation and process start excluded)
----------------------------------------------------
A *timing harness* is compiled into the program's shared library, next to the program:
``xpiler_bench_time(<the entry's parameters>, int warmup, int iters, float max_seconds, double *times,
int *done)`` calls the entry ``warmup`` times, then times ``iters`` calls one by one
(``clock_gettime(CLOCK_MONOTONIC)`` on the CPU), stopping early once ``max_seconds`` have passed
(at least 3 calls). The library is built once (cached by content hash) and the harness is called once
through the oracle's child process (:func:`xpiler.oracle.child.call`), so neither the compiler nor
the process start nor ctypes' per-call cost is inside any timed interval. The outputs of the last call
are then compared with the numpy reference.

On the GPU the harness (``.cu``) times each call of the host entry with CUDA events, and a prelude
force-included into every translation unit (``-include xpiler_bench_prelude.cuh``) wraps
``cudaMemcpy``/``cudaMemcpyAsync``: it records an event after the last host-to-device copy and one
before the first device-to-host copy of each call. The time between them is the *device time* of the
entry (its kernels and the launch gaps between them, no allocation or transfers); it is compared with
the library's time on device-resident tensors, also measured with CUDA events. The end-to-end time of
the entry (allocation, copies both ways, kernels) is reported next to it.

The bundle
----------
``--export-gpu-bundle DIR`` writes ``bundle.json`` (programs, argument specs, tolerances, nvcc flags),
``programs/<name>/`` (the program, the harness, any headers the oracle's GPU backend needs),
``xpiler_bench_perf.py`` (a copy of this module: everything above the line "xpiler-dependent part"
uses only the standard library, numpy, ctypes and, optionally, torch), ``xpiler_reference.py`` (a copy
of :mod:`xpiler.reference`, numpy only) and ``run_bundle.py``. On the GPU machine::

    python3 run_bundle.py [--repeat N] [--out results.json]

builds every program with nvcc, runs them one after another in a child process (a fresh one after any
failure; inputs drawn from a fixed seed, the reference computed there), times each and its PyTorch
baseline, and writes ``results.json`` after every program (``--deadline S`` stops starting programs
after S seconds, for time-limited machines).
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import statistics
import subprocess
import sys
import time
import zlib
from datetime import datetime, timezone

import numpy as np

SCHEMA = "xpiler.bench.perf/1"
GPU_RESULTS_SCHEMA = "xpiler.bench.gpu-results/1"
BUNDLE_SCHEMA = "xpiler.bench.gpu-bundle/1"
HARNESS_ENTRY = "xpiler_bench_time"
PRELUDE_NAME = "xpiler_bench_prelude.cuh"
DEFAULT_REPEAT = 30
DEFAULT_WARMUP = 3
DEFAULT_MAX_SECONDS = 2.0
_SEED = 20240601

RATIO_MEANING = ("speed ratio = library time / program time: > 1 means the program is faster than the library, "
                 "< 1 slower")


# =============================================================================================
# Standalone part: standard library, numpy, ctypes, optional torch. Copied into GPU bundles.
# =============================================================================================

def geomean(values) -> float | None:
    """Geometric mean of the positive finite values (None when there are none)."""
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v)) and float(v) > 0]
    if not vals:
        return None
    return math.exp(sum(math.log(v) for v in vals) / len(vals))


def summarize(seconds) -> dict:
    """``{"median_ms", "min_ms", "n"}`` of per-call times in seconds."""
    s = [float(x) for x in seconds]
    if not s:
        return {"median_ms": None, "min_ms": None, "n": 0}
    return {"median_ms": statistics.median(s) * 1e3, "min_ms": min(s) * 1e3, "n": len(s)}


def ratio(library: dict | None, program: dict | None) -> float | None:
    """library median / program median (> 1: the program is faster)."""
    if not library or not program or not library.get("median_ms") or not program.get("median_ms"):
        return None
    return library["median_ms"] / program["median_ms"]


C_TYPES = {"float32": "float", "float64": "double", "int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t",
           "uint16": "uint16_t", "int32": "int", "uint32": "uint32_t", "int64": "int64_t", "float16": "uint16_t"}
_CTYPES = {"float32": ctypes.c_float, "float64": ctypes.c_double, "int8": ctypes.c_int8, "uint8": ctypes.c_uint8,
           "int16": ctypes.c_int16, "uint16": ctypes.c_uint16, "int32": ctypes.c_int, "uint32": ctypes.c_uint32,
           "int64": ctypes.c_int64}


def _params(params) -> tuple[str, str, str]:
    """(parameter types, declaration list, call list) of an entry's parameters ``[(role, dtype), ...]``
    (arrays are passed as ``void *``, scalars as their C type)."""
    types = [C_TYPES[dtype] if role == "scalar" else "void *" for role, dtype in params]
    decl = [f"{t} p{i}" if not t.endswith("*") else f"{t}p{i}" for i, t in enumerate(types)]
    return ", ".join(types) or "void", ", ".join(decl), ", ".join(f"p{i}" for i in range(len(types)))


def harness_c(entry: str, params, *, cpp: bool) -> str:
    """The CPU timing harness for ``entry`` (parameters ``[(role, dtype)]``): C, or C++ with ``cpp``."""
    types, decl, call = _params(params)
    sep = ", " if decl else ""
    return f"""// xpiler.bench timing harness (generated): times calls of {entry}() in-process.
#include <stdint.h>
#include <time.h>
#ifdef __cplusplus
extern "C" {{
#endif
void {entry}({types});

static double xpiler_bench_now(void) {{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}}

void {HARNESS_ENTRY}({decl}{sep}int warmup, int iters, float max_seconds, double *times, int *done) {{
  int i, n = 0;
  double start;
  for (i = 0; i < warmup; ++i) {entry}({call});
  start = xpiler_bench_now();
  while (n < iters) {{
    double t0 = xpiler_bench_now();
    {entry}({call});
    times[n++] = xpiler_bench_now() - t0;
    if (n >= 3 && xpiler_bench_now() - start > (double)max_seconds) break;
  }}
  *done = n;
}}
#ifdef __cplusplus
}}
#endif
"""


PRELUDE_CUDA = r"""// xpiler.bench prelude (generated), force-included into every translation unit with -include.
// Wraps cudaMemcpy / cudaMemcpyAsync so that the timing harness can time the device work of a host
// entry between its last host-to-device copy and its first device-to-host copy.
#ifndef XPILER_BENCH_PRELUDE
#define XPILER_BENCH_PRELUDE
#include <cuda_runtime.h>
#ifdef __cplusplus
extern "C" void xpiler_bench_mark(int what, cudaStream_t stream);
static inline cudaMemcpyKind xpiler_bench_kind(void *dst, const void *src, cudaMemcpyKind kind) {
  if (kind != cudaMemcpyDefault) return kind;
  cudaPointerAttributes a, b;
  bool dst_dev = cudaPointerGetAttributes(&a, dst) == cudaSuccess && a.type == cudaMemoryTypeDevice;
  bool src_dev = cudaPointerGetAttributes(&b, src) == cudaSuccess && b.type == cudaMemoryTypeDevice;
  (void)cudaGetLastError();
  if (dst_dev && !src_dev) return cudaMemcpyHostToDevice;
  if (src_dev && !dst_dev) return cudaMemcpyDeviceToHost;
  return kind;
}
static inline cudaError_t xpiler_bench_cudaMemcpy(void *dst, const void *src, size_t n, cudaMemcpyKind kind) {
  cudaMemcpyKind k = xpiler_bench_kind(dst, src, kind);
  if (k == cudaMemcpyDeviceToHost) xpiler_bench_mark(1, 0);
  cudaError_t e = cudaMemcpy(dst, src, n, kind);
  if (k == cudaMemcpyHostToDevice) xpiler_bench_mark(0, 0);
  return e;
}
static inline cudaError_t xpiler_bench_cudaMemcpyAsync(void *dst, const void *src, size_t n, cudaMemcpyKind kind,
                                                       cudaStream_t stream = 0) {
  cudaMemcpyKind k = xpiler_bench_kind(dst, src, kind);
  if (k == cudaMemcpyDeviceToHost) xpiler_bench_mark(1, stream);
  cudaError_t e = cudaMemcpyAsync(dst, src, n, kind, stream);
  if (k == cudaMemcpyHostToDevice) xpiler_bench_mark(0, stream);
  return e;
}
#define cudaMemcpy xpiler_bench_cudaMemcpy
#define cudaMemcpyAsync xpiler_bench_cudaMemcpyAsync
#endif
#endif
"""


def harness_cuda(entry: str, params) -> str:
    """The GPU timing harness (CUDA C++) for ``entry``; returns a cudaError_t code (0: success)."""
    types, decl, call = _params(params)
    sep = ", " if decl else ""
    return f"""// xpiler.bench GPU timing harness (generated): times calls of {entry}() with CUDA events.
#include <cuda_runtime.h>
#include <stdint.h>
#include <time.h>
extern "C" void {entry}({types});

static cudaEvent_t xb_h2d, xb_d2h;
static int xb_armed = 0, xb_seen_h2d = 0, xb_seen_d2h = 0;

extern "C" void xpiler_bench_mark(int what, cudaStream_t stream) {{
  if (!xb_armed || xb_seen_d2h) return;
  if (what == 0) {{ cudaEventRecord(xb_h2d, stream); xb_seen_h2d = 1; }}
  else {{ cudaEventRecord(xb_d2h, stream); xb_seen_d2h = 1; }}
}}

static double xb_now(void) {{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}}

extern "C" int {HARNESS_ENTRY}({decl}{sep}int warmup, int iters, float max_seconds, double *total_ms,
                                double *device_ms, int *done) {{
  cudaEvent_t begin, end;
  cudaError_t err;
  int n = 0;
  double start;
  cudaEventCreate(&begin); cudaEventCreate(&end); cudaEventCreate(&xb_h2d); cudaEventCreate(&xb_d2h);
  for (int i = 0; i < warmup; ++i) {entry}({call});
  cudaDeviceSynchronize();
  if ((err = cudaGetLastError()) != cudaSuccess) return (int)err;
  xb_armed = 1;
  start = xb_now();
  while (n < iters) {{
    float ms = 0.0f;
    xb_seen_h2d = xb_seen_d2h = 0;
    cudaEventRecord(begin, 0);
    {entry}({call});
    cudaEventRecord(end, 0);
    cudaEventSynchronize(end);
    cudaEventElapsedTime(&ms, begin, end);
    total_ms[n] = ms;
    if (xb_seen_d2h) {{
      cudaEventElapsedTime(&ms, xb_seen_h2d ? xb_h2d : begin, xb_d2h);
      device_ms[n] = ms;
    }} else {{
      device_ms[n] = total_ms[n];
    }}
    ++n;
    if (n >= 3 && xb_now() - start > (double)max_seconds) break;
  }}
  xb_armed = 0;
  *done = n;
  err = cudaGetLastError();
  cudaEventDestroy(begin); cudaEventDestroy(end); cudaEventDestroy(xb_h2d); cudaEventDestroy(xb_d2h);
  return (int)err;
}}
"""


# ---------------------------------------------------------------------------------------------
# inputs and comparison (bundle side; on this machine xpiler.suite makes the inputs)

def make_inputs(args: list[dict], key: str, seed: int = _SEED) -> list:
    """Arguments from specs like the manifest's (``role``, ``dtype``, ``shape``, ``range``, ``value``):
    random inputs from a fixed seed (never constant), randomly pre-filled outputs, scalar values."""
    rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
    int_range = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-100, 100), "uint16": (0, 200),
                 "int32": (-100, 100), "uint32": (0, 200), "int64": (-100, 100)}
    out = []
    for a in args:
        dt = np.dtype(a["dtype"])
        if a["role"] == "scalar":
            v = a["value"]
            out.append(int(v) if a["dtype"] == "int32" else float(v) if a["dtype"] == "float32" else dt.type(v))
            continue
        shape = tuple(a["shape"])
        if a["role"] == "input":
            if a.get("value") is not None:
                buf = np.array(a["value"], dtype=dt).reshape(shape)
            else:
                lo, hi = a.get("range") or ((-1.0, 1.0) if dt.kind == "f" else int_range[a["dtype"]])
                if dt.kind == "f":
                    buf = rng.uniform(lo, hi, size=shape).astype(dt)
                else:
                    buf = rng.integers(int(lo), int(hi), size=shape, endpoint=True, dtype=np.int64).astype(dt)
                flat = buf.reshape(-1)
                if flat.size > 1 and np.all(flat == flat[0]):
                    flat[0] = np.asarray(hi if flat[0] != hi else lo, dtype=dt)
        elif dt.kind == "f":
            buf = rng.uniform(-1000.0, 1000.0, size=shape).astype(dt)
        else:
            info = np.iinfo(dt)
            buf = rng.integers(max(info.min, -10**6), min(info.max, 10**6), size=shape, endpoint=True).astype(dt)
        out.append(np.ascontiguousarray(buf))
    return out


def compare(actual, expected, rtol: float, atol: float) -> dict:
    """``{"ok", "max_abs_err", "mismatches", "size"}``: element-wise ``|a - e| <= atol + rtol*|e|``
    (exact for integers when both tolerances are 0; NaN matches NaN)."""
    a, e = np.asarray(actual), np.asarray(expected)
    if a.size != e.size:
        return {"ok": False, "max_abs_err": None, "mismatches": int(e.size), "size": int(e.size),
                "note": f"shape {a.shape} vs {e.shape}"}
    a, e = a.reshape(e.shape), e
    if a.dtype.kind in "iu" and e.dtype.kind in "iu" and rtol == 0 and atol == 0:
        ok = a.astype(np.int64) == e.astype(np.int64)
        diff = np.abs(a.astype(np.int64) - e.astype(np.int64)).astype(np.float64)
    else:
        af, ef = a.astype(np.float64), e.astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            diff = np.abs(af - ef)
            ok = (diff <= atol + rtol * np.abs(ef)) | (np.isnan(af) & np.isnan(ef)) | ((af == ef) & np.isinf(ef))
        diff = np.where(np.isnan(diff), np.inf, diff)
    bad = int(np.count_nonzero(~ok))
    m = float(diff.max(initial=0.0))
    return {"ok": bad == 0, "max_abs_err": m if math.isfinite(m) else str(m), "mismatches": bad, "size": int(e.size)}


# ---------------------------------------------------------------------------------------------
# library baselines

def _pair(v) -> tuple[int, int]:
    if isinstance(v, (list, tuple)):
        return int(v[0]), int(v[1])
    return int(v), int(v)


def _import_torch():
    try:
        import torch  # noqa: F401
        return torch
    except Exception:  # noqa: BLE001 - torch is optional
        return None


def library_description(torch, device: str) -> str:
    if torch is None:
        return f"numpy {np.__version__} (BLAS for the GEMM family, numpy code for the rest)"
    if device == "cuda":
        return f"PyTorch {torch.__version__} on the GPU (cuBLAS / cuDNN; fp32 without TF32, like the programs)"
    return (f"PyTorch {torch.__version__} CPU (oneDNN / MKL / fbgemm), {torch.get_num_threads()} threads; numpy "
            f"{np.__version__} BLAS for the GEMM family too (the faster one counts)")


def torch_candidates(torch, op: str, inputs: list, params: dict, outputs: list, device: str = "cpu") -> list:
    """Library implementations of ``op`` on ``inputs`` (numpy arrays): a list of
    ``(name, fn, result, note)``: ``fn()`` runs the op on tensors already on ``device``; ``result()``
    gives the last output as a numpy array in the program's layout (None when it cannot be compared
    with the reference, ``note`` says why)."""
    F = torch.nn.functional
    dev = torch.device(device)
    t = [torch.from_numpy(np.array(x, copy=True)).to(dev) for x in inputs]
    out_dtype = np.dtype(outputs[0]["dtype"])
    out_shape = tuple(outputs[0]["shape"])
    cands = []
    last = {}

    def add(name, make, layout=lambda r: r, note=None):
        def fn():
            last["r"] = make()
            return last["r"]

        def result():
            r = layout(last["r"])
            return r.detach().to("cpu").numpy().reshape(out_shape) if hasattr(r, "detach") else np.asarray(r)
        cands.append((name, fn, result if note is None else None, note))

    def emptylike(shape, dtype=torch.float32):
        return torch.empty(shape, dtype=dtype, device=dev)

    floats = all(x.dtype.kind == "f" for x in inputs if x.dtype.kind in "fiu")
    if op in ("add", "sign", "relu", "sigmoid", "gelu"):
        x = t[0]
        o = torch.empty_like(x)
        if op == "add":
            add("torch.add", lambda: torch.add(t[0], t[1], out=o))
        elif op == "sign":
            add("torch.sign", lambda: torch.sign(x, out=o))
        elif op == "relu":
            add("torch.relu", lambda: torch.relu(x))
            add("torch.clamp_min(out=)", lambda: torch.clamp_min(x, 0, out=o))
        elif op == "sigmoid":
            add("torch.sigmoid", lambda: torch.sigmoid(x, out=o))
        else:
            add("F.gelu(tanh)", lambda: F.gelu(x, approximate="tanh"))
    elif op == "softmax":
        axis = int(params.get("axis", -1))
        add("torch.softmax", lambda: torch.softmax(t[0], dim=axis))
    elif op == "layernorm":
        x = t[0]
        gamma = t[1] if len(t) > 1 else None
        beta = t[2] if len(t) > 2 else None
        eps = float(params.get("eps", 1e-5))
        add("F.layer_norm", lambda: F.layer_norm(x, (x.shape[-1],), gamma, beta, eps))
    elif op == "rmsnorm":
        x = t[0]
        gamma = t[1] if len(t) > 1 else None
        eps = float(params.get("eps", 1e-5))
        if hasattr(F, "rms_norm"):
            add("F.rms_norm", lambda: F.rms_norm(x, (x.shape[-1],), gamma, eps))
        add("torch (x * rsqrt(mean(x^2) + eps) * gamma)",
            lambda: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * (gamma if gamma is not None else 1.0))
    elif op in ("gemm", "bmm", "gemv"):
        _gemm_candidates(torch, op, inputs, t, params, out_dtype, out_shape, dev, add, emptylike)
    elif op == "conv1d":
        x, w = t
        stride, pad = int(params.get("stride", 1)), int(params.get("padding", 0))
        if floats:
            if x.dim() == 1:
                add("F.conv1d", lambda: F.conv1d(x.view(1, 1, -1), w.view(1, 1, -1), stride=stride, padding=pad))
            else:
                add("F.conv1d", lambda: F.conv1d(x, w, stride=stride, padding=pad))
    elif op in ("conv2d_nhwc", "depthwise_conv"):
        x = t[0] if t[0].dim() == 4 else t[0].unsqueeze(0)
        xc = x.permute(0, 3, 1, 2)                       # NCHW view, channels_last strides: no copy
        stride, pad = _pair(params.get("stride", 1)), _pair(params.get("padding", 0))
        nhwc = (lambda r: r.permute(0, 2, 3, 1))
        if op == "conv2d_nhwc" and floats:
            wc = t[1].permute(0, 3, 1, 2)                # [Co][Kh][Kw][Ci] -> [Co][Ci][Kh][Kw], channels_last
            add("F.conv2d (channels_last)", lambda: F.conv2d(xc, wc, stride=stride, padding=pad), nhwc)
        elif op == "conv2d_nhwc" and device == "cpu" and inputs[0].dtype == np.uint8 and inputs[1].dtype == np.int8:
            _qconv_candidate(torch, inputs, stride, pad, add)
        elif op == "depthwise_conv" and floats:
            w = t[1] if t[1].dim() == 3 else t[1][..., 0]
            wc = w.permute(2, 0, 1).unsqueeze(1).contiguous(memory_format=torch.contiguous_format)
            c = x.shape[3]
            add("F.conv2d (depthwise, channels_last)",
                lambda: F.conv2d(xc, wc, stride=stride, padding=pad, groups=c), nhwc)
    elif op == "conv2d_nchw":
        stride, pad = _pair(params.get("stride", 1)), _pair(params.get("padding", 0))
        if floats:
            add("F.conv2d", lambda: F.conv2d(t[0], t[1], stride=stride, padding=pad))
        elif device == "cpu" and inputs[0].dtype == np.uint8 and inputs[1].dtype == np.int8:
            _qconv_candidate(torch, inputs, stride, pad, add, nchw=True)
    elif op in ("maxpool", "avgpool", "minpool", "sumpool") and floats:
        x = t[0] if t[0].dim() == 4 else t[0].unsqueeze(0)
        xc = x.permute(0, 3, 1, 2)
        k = _pair(params.get("window", 2))
        s = _pair(params.get("stride")) if params.get("stride") is not None else k
        nhwc = (lambda r: r.permute(0, 2, 3, 1))
        if op == "maxpool":
            add("F.max_pool2d", lambda: F.max_pool2d(xc, k, s), nhwc)
        elif op == "avgpool":
            add("F.avg_pool2d", lambda: F.avg_pool2d(xc, k, s), nhwc)
        elif op == "sumpool":
            add("F.avg_pool2d(divisor_override=1)", lambda: F.avg_pool2d(xc, k, s, divisor_override=1), nhwc)
        else:
            add("-F.max_pool2d(-x) (no min pool in PyTorch)", lambda: -F.max_pool2d(-xc, k, s), nhwc)
    elif op == "mha":
        q, k, v = t
        layout = params.get("layout", "bhld")
        if layout == "blhd":
            q, k, v = (z.transpose(-3, -2) for z in (q, k, v))
        scale = params.get("scale")
        causal = bool(params.get("causal", False))
        back = (lambda r: r.transpose(-3, -2)) if layout == "blhd" else (lambda r: r)
        kwargs = {"is_causal": causal}
        if scale is not None:
            kwargs["scale"] = float(scale)
        add("F.scaled_dot_product_attention", lambda: F.scaled_dot_product_attention(q, k, v, **kwargs), back)
    elif op == "deformable_attention":
        _deform_candidate(torch, inputs, t, params, add)
    return cands


def _gemm_candidates(torch, op, inputs, t, params, out_dtype, out_shape, dev, add, emptylike):
    b_layout = params.get("b_layout", "kn")
    A = t[0]
    if op == "gemv":
        Bm = t[1]
    else:
        B = t[1]
        if b_layout == "nk":
            Bm = B.transpose(-1, -2)                     # a transposed view: BLAS takes it as is
        elif b_layout == "vnni":                         # Bp[K/4][N][4] -> B[K][N], unpacked once (untimed)
            k4, n = B.shape[-3], B.shape[-2]
            Bm = B.transpose(-1, -2).reshape(*B.shape[:-3], k4 * 4, n).contiguous()
        else:
            Bm = B
    a_dt, b_dt = np.dtype(inputs[0].dtype), np.dtype(inputs[1].dtype)
    if a_dt.kind == "f" and b_dt.kind == "f":
        if a_dt == np.float16:
            add("torch.matmul (fp16) -> float32", lambda: torch.matmul(A, Bm).float())
            return
        o = emptylike(out_shape)
        if op == "gemv":
            add("torch.mv", lambda: torch.mv(A, Bm, out=o))
        elif op == "bmm":
            add("torch.bmm", lambda: torch.bmm(A, Bm, out=o))
        else:
            add("torch.matmul", lambda: torch.matmul(A, Bm, out=o))
        return
    if a_dt.kind not in "iu" or b_dt.kind not in "iu":
        return
    # integer GEMM/GEMV: PyTorch has int8 x int8 -> int32 (torch._int_mm) and u8 x s8 -> requantized u8
    # (quantized linear, fbgemm/oneDNN on the CPU). Both do the same amount of VNNI work as the program.
    if hasattr(torch, "_int_mm"):
        A8 = A.view(torch.int8) if a_dt == np.uint8 else A
        B8 = (Bm if op != "gemv" else Bm.view(-1, 1)).contiguous()
        B8 = B8.view(torch.int8) if b_dt == np.uint8 else B8
        exact = a_dt == np.int8 and b_dt == np.int8 and out_dtype == np.int32
        to_f = out_dtype.kind == "f"

        if op == "bmm":
            def int_mm():
                r = torch.stack([torch._int_mm(A8[b], B8[b]) for b in range(A8.shape[0])])
                return r.float() if to_f else r
        else:
            def int_mm():
                r = torch._int_mm(A8, B8)
                return r.float() if to_f else r
        add("torch._int_mm (int8 x int8 -> int32)" + (", per batch" if op == "bmm" else ""), int_mm,
            note=None if exact else "not compared: PyTorch has no u8 x s8 -> s32 GEMM; the same shape runs as s8 x s8")
    if dev.type == "cpu" and a_dt == np.uint8 and b_dt == np.int8 and op == "gemm":
        try:
            w = Bm.transpose(0, 1).contiguous()          # [N][K] int8 weight
            wq = torch._make_per_tensor_quantized_tensor(w, 1.0, 0)
            packed = torch.ops.quantized.linear_prepack(wq, None)
            xq = torch._make_per_tensor_quantized_tensor(A, 1.0, 0)
            add("quantized.linear (u8 x s8, fbgemm/oneDNN, requantized u8 out)",
                lambda: torch.ops.quantized.linear(xq, packed, 64.0, 0),
                note="not compared: requantized uint8 output")
        except Exception:  # noqa: BLE001 - quantized engines are optional
            pass


def _qconv_candidate(torch, inputs, stride, pad, add, nchw: bool = False):
    """int8 convolution through PyTorch's quantized engine (fbgemm / oneDNN, VNNI on this CPU)."""
    try:
        x = torch.from_numpy(np.array(inputs[0], copy=True))
        x = x if x.dim() == 4 else x.unsqueeze(0)
        w = torch.from_numpy(np.array(inputs[1], copy=True))
        if not nchw:                                     # NHWC data, [Co][Kh][Kw][Ci] filter -> NCHW views
            x, w = x.permute(0, 3, 1, 2), w.permute(0, 3, 1, 2)
        w = w.contiguous()
        xq = torch._make_per_tensor_quantized_tensor(x, 1.0, 0)
        wq = torch._make_per_tensor_quantized_tensor(w, 1.0, 0)
        packed = torch.ops.quantized.conv2d_prepack(wq, None, list(stride), list(pad), [1, 1], 1)
        add("quantized.conv2d (u8 x s8, fbgemm/oneDNN, requantized u8 out)",
            lambda: torch.ops.quantized.conv2d(xq, packed, 64.0, 0), note="not compared: requantized uint8 output")
    except Exception:  # noqa: BLE001
        pass


def _deform_candidate(torch, inputs, t, params, add):
    """Deformable DETR's PyTorch core (``ms_deform_attn_core_pytorch``: ``F.grid_sample`` per level)."""
    F = torch.nn.functional
    value = t[0]
    if len(t) == 5:
        shapes = np.asarray(inputs[1]).reshape(-1, 2)
        locs, weights = t[3], t[4]
    elif len(t) == 3:
        shapes = np.asarray(params["spatial_shapes"]).reshape(-1, 2)
        locs, weights = t[1], t[2]
    else:
        return
    shapes = [(int(h), int(w)) for h, w in shapes]
    N, S, M, D = value.shape
    _, Lq, _, L, P, _ = locs.shape
    if sum(h * w for h, w in shapes) != S:
        return
    grids = 2 * locs - 1
    attn = weights.transpose(1, 2).reshape(N * M, 1, Lq, L * P)

    def run():
        per_level = value.split([h * w for h, w in shapes], dim=1)
        sampled = []
        for lvl, (h, w) in enumerate(shapes):
            v = per_level[lvl].flatten(2).transpose(1, 2).reshape(N * M, D, h, w)
            g = grids[:, :, :, lvl].transpose(1, 2).flatten(0, 1)
            sampled.append(F.grid_sample(v, g, mode="bilinear", padding_mode="zeros", align_corners=False))
        out = (torch.stack(sampled, dim=-2).flatten(-2) * attn).sum(-1).view(N, M * D, Lq)
        return out.transpose(1, 2)
    add("grid_sample core (Deformable DETR's PyTorch implementation)", run)


def numpy_candidates(op: str, inputs: list, params: dict, reference) -> list:
    """The fallback without PyTorch: numpy's BLAS-backed matmul for float GEMM/GEMV/BMM, else the numpy
    reference itself (``xpiler.reference``)."""
    cands = []
    last = {}
    floats = all(np.asarray(x).dtype == np.float32 for x in inputs)
    if op in ("gemm", "gemv", "bmm") and floats and params.get("b_layout", "kn") in ("kn", "nk"):
        A, B = inputs
        Bm = np.swapaxes(B, -1, -2) if params.get("b_layout") == "nk" else B

        def fn():
            last["r"] = np.matmul(A, Bm)
            return last["r"]
        cands.append(("numpy.matmul (BLAS)", fn, lambda: last["r"], None))
    else:
        fn_ref = getattr(reference, op)

        def fn():
            last["r"] = fn_ref(*inputs, **params)
            return last["r"]
        cands.append((f"numpy (xpiler.reference.{op})", fn,
                      lambda: last["r"][0] if isinstance(last["r"], tuple) else last["r"], None))
    return cands


def time_cpu(fn, *, warmup: int, repeat: int, max_seconds: float) -> list[float]:
    """Per-call seconds of ``fn()`` (``warmup`` untimed calls first; stops after ``max_seconds``, >= 3 calls)."""
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= 3 and time.perf_counter() - start > max_seconds:
            break
    return times


def time_cuda(torch, fn, *, warmup: int, repeat: int, max_seconds: float) -> list[float]:
    """Per-call seconds of ``fn()`` on the GPU, measured with CUDA events around each call."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    start = time.perf_counter()
    for _ in range(repeat):
        begin.record()
        fn()
        end.record()
        end.synchronize()
        times.append(begin.elapsed_time(end) / 1e3)
        if len(times) >= 3 and time.perf_counter() - start > max_seconds:
            break
    return times


def call_floor(torch=None, device: str = "cpu", repeat: int = 200) -> dict:
    """The library's per-call floor: the median time of an add of two 1-element arrays (PyTorch's dispatch
    and, on the GPU, one kernel launch), for reading the ratios of tiny programs."""
    if torch is None:
        a, b, o = np.ones(1, np.float32), np.ones(1, np.float32), np.empty(1, np.float32)
        return summarize(time_cpu(lambda: np.add(a, b, out=o), warmup=10, repeat=repeat, max_seconds=1.0))
    a = torch.ones(1, device=device)
    b, o = torch.ones_like(a), torch.empty_like(a)
    timer = time_cuda if device == "cuda" else (lambda t, fn, **kw: time_cpu(fn, **kw))
    return summarize(timer(torch, lambda: torch.add(a, b, out=o), warmup=10, repeat=repeat, max_seconds=1.0))


def baseline(op: str, inputs: list, params: dict, outputs: list, expected: list | None, *, device: str = "cpu",
             warmup: int = DEFAULT_WARMUP, repeat: int = DEFAULT_REPEAT, max_seconds: float = DEFAULT_MAX_SECONDS,
             torch=None, reference=None, tolerance=(1e-3, 1e-3)) -> dict | None:
    """Time every library candidate for ``op`` and return the fastest whose output (when comparable)
    matches the reference: ``{"name", "median_ms", "min_ms", "n", "check", "candidates": [...]}``;
    None when the library has no implementation of the op for these dtypes."""
    if torch is not None:
        cands = torch_candidates(torch, op, inputs, params, outputs, device)
        if device == "cpu" and op in ("gemm", "gemv", "bmm"):      # numpy's BLAS may be the faster library
            cands += [c for c in numpy_candidates(op, inputs, params, reference) if c[0].startswith("numpy.matmul")]
    else:
        cands = numpy_candidates(op, inputs, params, reference)
    timed = []
    for name, fn, result, note in cands:
        entry = {"name": name}
        try:
            if device == "cuda":
                times = time_cuda(torch, fn, warmup=warmup, repeat=repeat, max_seconds=max_seconds)
            else:
                times = time_cpu(fn, warmup=warmup, repeat=repeat, max_seconds=max_seconds)
        except Exception as exc:  # noqa: BLE001 - a candidate that does not run is reported, not fatal
            entry.update({"error": f"{type(exc).__name__}: {str(exc)[:300]}"})
            timed.append(entry)
            continue
        entry.update(summarize(times))
        if result is None:
            entry["check"] = note or "not compared"
        elif expected is None:
            entry["check"] = "not compared: no reference"
        else:
            try:
                c = compare(result(), expected[0], *tolerance)
                entry["check"] = "ok" if c["ok"] else f"MISMATCH ({c['mismatches']}/{c['size']}, max abs err {c['max_abs_err']})"
            except Exception as exc:  # noqa: BLE001
                entry["check"] = f"not compared: {type(exc).__name__}: {exc}"
        timed.append(entry)
    usable = [c for c in timed if c.get("median_ms") and not c.get("check", "").startswith("MISMATCH")]
    if not usable:
        why = "; ".join(f"{c['name']}: {c.get('error') or c.get('check')}" for c in timed)
        return None if not timed else {"name": None, "median_ms": None, "min_ms": None, "n": 0,
                                       "check": f"no usable library candidate ({why})", "candidates": timed}
    best = min(usable, key=lambda c: c["median_ms"])
    return {**{k: best[k] for k in ("name", "median_ms", "min_ms", "n", "check")}, "candidates": timed}


# ---------------------------------------------------------------------------------------------
# the GPU bundle runner (runs on the GPU machine: numpy, ctypes, nvcc, optional torch)

def _gpu_present(torch) -> tuple[bool, str]:
    if torch is not None:
        try:
            if torch.cuda.is_available():
                return True, torch.cuda.get_device_name(0)
            return False, "no NVIDIA GPU (torch.cuda.is_available() is False)"
        except Exception as exc:  # noqa: BLE001
            return False, f"no NVIDIA GPU ({exc})"
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
        gpus = [ln for ln in out.stdout.splitlines() if ln.startswith("GPU ")]
        if gpus:
            return True, gpus[0]
    except (OSError, subprocess.SubprocessError):
        pass
    return False, "no NVIDIA GPU"


def _nvcc_version() -> str | None:
    try:
        out = subprocess.run(["nvcc", "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = [ln for ln in out.stdout.splitlines() if "release" in ln]
    return lines[0].strip() if lines else out.stdout.strip()[-200:]


def _bundle_compile(root: str, prog: dict, arch: str, timeout: float) -> tuple[str | None, float, str]:
    """Compile one bundle program into ``programs/<name>/lib.so``; (error or None, seconds, command)."""
    pdir = os.path.join(root, prog["dir"])
    flags = [f.replace("{BUNDLE}", root) for f in prog["flags"]]
    if not any(f.startswith(("-arch", "--gpu-architecture", "-gencode", "--generate-code")) for f in flags):
        flags.append(f"-arch={arch}")
    libs = [f for f in flags if f.startswith(("-l", "-L", "-Wl,"))]
    flags = [f for f in flags if f not in libs]
    srcs = [s for s in prog["sources"] if not s.endswith((".h", ".hpp", ".cuh", ".inc"))]
    cmd = ["nvcc", *flags, "-shared", "-Xcompiler", "-fPIC", "-o", "lib.so", *srcs, *libs]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=pdir, capture_output=True, text=True, timeout=timeout, errors="replace")
    except FileNotFoundError:
        return "nvcc not installed", 0.0, " ".join(cmd)
    except subprocess.TimeoutExpired:
        return f"nvcc did not finish within {timeout:g} s", time.perf_counter() - start, " ".join(cmd)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        return f"nvcc failed (exit {proc.returncode}): {(proc.stderr + proc.stdout).strip()[-3000:]}", seconds, " ".join(cmd)
    return None, seconds, " ".join(cmd)


def _bundle_one(root: str, prog: dict, opts: dict) -> dict:
    """Run one compiled bundle program and its baseline (in a child process of the runner)."""
    sys.path.insert(0, root)
    import xpiler_reference as reference  # the bundle's copy
    torch = _import_torch()
    rec = {"status": "ok", "reason": None}
    args = make_inputs(prog["args"], prog["key"])
    inputs = [a for a, s in zip(args, prog["args"]) if s["role"] == "input"]
    out_idx = [i for i, s in enumerate(prog["args"]) if s["role"] == "output"]
    expected = None
    try:
        res = getattr(reference, prog["op"])(*[np.array(x, copy=True) for x in inputs], **prog["params"])
        expected = list(res) if isinstance(res, (tuple, list)) else [res]
    except Exception as exc:  # noqa: BLE001
        rec["reference_error"] = f"{type(exc).__name__}: {exc}"
    lib = ctypes.CDLL(os.path.join(root, prog["dir"], "lib.so"))
    fn = getattr(lib, HARNESS_ENTRY)
    register = getattr(lib, "xpiler_register_buffer", None)   # the oracle's bare-kernel wrappers read extents
    if register is not None:
        register.argtypes, register.restype = [ctypes.c_void_p, ctypes.c_size_t], None
        for a in args:
            if isinstance(a, np.ndarray):
                register(ctypes.c_void_p(a.ctypes.data), a.nbytes)
    argtypes, argv = [], []
    for a, spec in zip(args, prog["args"]):
        if spec["role"] == "scalar":
            ct = _CTYPES[spec["dtype"]]
            argtypes.append(ct)
            argv.append(ct(a))
        else:
            argtypes.append(ctypes.c_void_p)
            argv.append(ctypes.c_void_p(a.ctypes.data))
    repeat = int(opts["repeat"])
    total = np.zeros(repeat, dtype=np.float64)
    device = np.zeros(repeat, dtype=np.float64)
    done = np.zeros(1, dtype=np.int32)
    fn.argtypes = argtypes + [ctypes.c_int, ctypes.c_int, ctypes.c_float, ctypes.c_void_p, ctypes.c_void_p,
                              ctypes.c_void_p]
    fn.restype = ctypes.c_int
    err = fn(*argv, int(opts["warmup"]), repeat, float(opts["max_seconds"]), ctypes.c_void_p(total.ctypes.data),
             ctypes.c_void_p(device.ctypes.data), ctypes.c_void_p(done.ctypes.data))
    n = int(done[0])
    if err != 0:
        return {"status": "failed", "reason": f"CUDA error {err} while running the program", "correct": False}
    rec["program"] = summarize(device[:n] / 1e3)
    rec["program_total"] = summarize(total[:n] / 1e3)
    if expected is not None:
        checks = [compare(args[i], e, *prog["tolerance"][k]) for k, (i, e) in enumerate(zip(out_idx, expected))]
        rec["correct"] = all(c["ok"] for c in checks)
        rec["check"] = "ok" if rec["correct"] else "; ".join(
            f"{c['mismatches']}/{c['size']} outside tolerance (max abs err {c['max_abs_err']})" for c in checks if not c["ok"])
        if not rec["correct"]:
            rec.update({"status": "failed", "reason": "wrong result: " + rec["check"]})
    else:
        rec["correct"] = None
        rec["check"] = "not compared: " + rec.get("reference_error", "no reference")
    if torch is not None and torch.cuda.is_available():
        # float32 programs compute in IEEE fp32: so does the library (PyTorch lets cuDNN use TF32 by default,
        # which is faster and misses the 1e-3 tolerance)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        outs = [s for s in prog["args"] if s["role"] == "output"]
        rec["library_floor_ms"] = call_floor(torch, "cuda", repeat=50).get("median_ms")
        rec["library"] = baseline(prog["op"], inputs, prog["params"], outs, expected, device="cuda",
                                  warmup=int(opts["warmup"]), repeat=repeat, max_seconds=float(opts["max_seconds"]),
                                  torch=torch, tolerance=tuple(prog["tolerance"][0]))
        if rec["library"] is None:
            rec["library_reason"] = f"PyTorch has no GPU implementation of {prog['op']} for these dtypes"
    else:
        rec["library"] = None
        rec["library_reason"] = "PyTorch with CUDA is not importable here"
    rec["ratio"] = ratio(rec.get("library"), rec.get("program"))
    return rec


class _BundleWorker:
    """One child process that runs bundle programs one after another (``run_bundle.py --serve``): PyTorch
    and the CUDA context start once, not once per program. A program that fails, crashes or runs past the
    timeout ends the child (a CUDA error leaves its context unusable); the next program gets a fresh one."""

    def __init__(self, root: str, opts: dict):
        self.root, self.opts = root, opts
        self.proc = None
        self.log = None
        self.pending = b""

    def _start(self) -> None:
        import tempfile
        self.log = tempfile.TemporaryFile(mode="w+", errors="replace")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(self.root, "run_bundle.py"), "--serve",
             "--repeat", str(self.opts["repeat"]), "--warmup", str(self.opts["warmup"]),
             "--max-seconds", str(self.opts["max_seconds"])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, bufsize=0)
        self.pending = b""

    def stop(self) -> None:
        """End the child (if it runs) and close its pipes and log."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.proc.stdin.close()
            self.proc.stdout.close()
            self.proc = None
        if self.log is not None:
            self.log.close()
            self.log = None

    def _stderr_tail(self) -> str:
        self.log.seek(0)
        return self.log.read().strip()[-1500:]

    def _line(self, deadline: float) -> str | None:
        """The child's next line of output; "" at its end, None at the deadline. Reads the pipe's file
        descriptor directly: a buffered reader may hold a whole line that ``select`` no longer sees."""
        import select
        while b"\n" not in self.pending:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                return None
            chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
            if not chunk:
                return ""
            self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        return line.decode(errors="replace") + "\n"

    def run(self, name: str, timeout: float) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        self.proc.stdin.write((name + "\n").encode())
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while True:
            line = self._line(deadline)
            if line is None:
                self.stop()
                return {"status": "failed", "correct": False, "reason": f"timed out after {timeout:g} s"}
            if not line:            # the child died: a crash inside the program or the library
                status, tail = self.proc.wait(), self._stderr_tail()
                self.stop()
                return {"status": "failed", "correct": False,
                        "reason": f"the program's process ended with status {status}: {tail}"}
            if line.startswith("XPILER_BENCH_RESULT "):
                rec = json.loads(line.split(" ", 1)[1])
                if rec.get("status") != "ok":
                    self.stop()
                return rec


def _serve(root: str, progs: dict, opts: dict) -> int:
    """The worker side of :class:`_BundleWorker`: one program name per line in, one result line out."""
    for line in sys.stdin:
        name = line.strip()
        try:
            rec = _bundle_one(root, progs[name], opts)
        except Exception as exc:  # noqa: BLE001
            rec = {"status": "failed", "reason": f"{type(exc).__name__}: {exc}", "correct": False}
        sys.stdout.write("XPILER_BENCH_RESULT " + json.dumps(rec) + "\n")
        sys.stdout.flush()
        if rec.get("status") != "ok":
            return 0
    return 0


def bundle_main(argv=None, root: str | None = None) -> int:
    """``python3 run_bundle.py [--repeat N] [--warmup N] [--max-seconds S] [--only NAME ...]
    [--compile-only] [--deadline S] [--out results.json]``: build and time every program of the bundle.
    The results file is rewritten after every program (``"complete": false`` until the last one), so a
    run that is cut off keeps what it measured."""
    import argparse
    root = os.path.abspath(root or os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(prog="run_bundle.py", description="time the bundle's programs on this GPU")
    ap.add_argument("--repeat", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--max-seconds", type=float, default=None)
    ap.add_argument("--only", nargs="+", metavar="NAME")
    ap.add_argument("--compile-only", action="store_true", help="build every program, run nothing")
    ap.add_argument("--out", default=None, help="results file (default: results.json in the bundle)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per program run")
    ap.add_argument("--deadline", type=float, default=None,
                    help="start no program after this many seconds; the rest are reported as skipped")
    ap.add_argument("--arch", default=None, help="nvcc -arch (default: native with a GPU, else sm_90)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel nvcc runs")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    started = time.monotonic()
    with open(os.path.join(root, "bundle.json")) as fh:
        bundle = json.load(fh)
    if bundle.get("schema") != BUNDLE_SCHEMA:
        print(f"run_bundle.py: {root}/bundle.json is not a {BUNDLE_SCHEMA} bundle", file=sys.stderr)
        return 2
    opts = dict(bundle.get("options", {}))
    for key in ("repeat", "warmup", "max_seconds"):
        if getattr(a, key) is not None:
            opts[key] = getattr(a, key)
    progs = {p["name"]: p for p in bundle["programs"]}
    if a.serve:
        return _serve(root, progs, opts)
    torch = _import_torch()
    have_gpu, device = _gpu_present(torch)
    arch = a.arch or ("native" if have_gpu else "sm_90")
    names = a.only or list(progs)
    unknown = [n for n in names if n not in progs]
    if unknown:
        print(f"run_bundle.py: no program {', '.join(map(repr, unknown))} in the bundle", file=sys.stderr)
        return 2
    path = a.out or os.path.join(root, "results.json")
    header = {"schema": GPU_RESULTS_SCHEMA, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "device": device if have_gpu else None, "gpu": have_gpu, "skip_reason": None if have_gpu else device,
              "nvcc": _nvcc_version(), "torch": getattr(torch, "__version__", None),
              "library": library_description(torch, "cuda") if torch is not None else None,
              "python": sys.version.split()[0], "numpy": np.__version__, "options": opts}
    results: list[dict] = []

    def write(complete: bool) -> None:
        tmp = path + ".tmp"
        with open(tmp, "w") as fh:
            json.dump({**header, "complete": complete, "programs": results}, fh, indent=1)
        os.replace(tmp, path)

    # compile everything first, in parallel (nvcc runs are independent); then time one program at a time
    from concurrent.futures import ThreadPoolExecutor
    todo = [n for n in names if not progs[n].get("skip") and not progs[n].get("fail")]
    print(f"run_bundle.py: compiling {len(todo)} programs with nvcc -arch={arch} ({a.jobs} at a time)",
          file=sys.stderr, flush=True)
    with ThreadPoolExecutor(max(1, a.jobs)) as pool:
        compiled = dict(zip(todo, pool.map(lambda n: _bundle_compile(root, progs[n], arch, a.timeout), todo)))
    worker = _BundleWorker(root, opts)
    try:
        for i, name in enumerate(names, 1):
            prog = progs[name]
            rec = {k: prog.get(k) for k in ("name", "dialect", "op", "file", "entry", "variant", "shape", "source_of")}
            if prog.get("fail"):
                rec.update({"status": "failed", "reason": prog["fail"], "correct": False})
            elif prog.get("skip"):
                rec.update({"status": "skipped", "reason": prog["skip"]})
            else:
                err, secs, cmd = compiled[name]
                rec["compile_seconds"] = secs
                if err:
                    rec.update({"status": "failed", "reason": f"compile: {err}", "correct": False})
                elif a.compile_only or not have_gpu:
                    rec.update({"status": "skipped", "compiled": True,
                                "reason": "compiled only (--compile-only)" if a.compile_only else f"skipped: {device}"})
                elif a.deadline is not None and time.monotonic() - started > a.deadline:
                    rec.update({"status": "skipped", "compiled": True,
                                "reason": f"not run: the run's deadline ({a.deadline:g} s) had passed"})
                else:
                    rec["compiled"] = True
                    rec.update(worker.run(name, a.timeout))
            results.append(rec)
            write(complete=False)
            prog_ms = (rec.get("program") or {}).get("median_ms")
            lib_ms = (rec.get("library") or {}).get("median_ms") if rec.get("library") else None
            print(f"[{i}/{len(names)}] {name}: {rec['status']}"
                  + (f" program {prog_ms:.4f} ms" if prog_ms else "") + (f" library {lib_ms:.4f} ms" if lib_ms else "")
                  + (f" ({rec['reason'][:200]})" if rec.get("reason") else ""), file=sys.stderr, flush=True)
    finally:
        worker.stop()
    write(complete=True)
    print(f"wrote {path}", file=sys.stderr)
    return 0


# =============================================================================================
# xpiler-dependent part (imports xpiler lazily; never runs inside a bundle)
# =============================================================================================

def _shape_summary(program) -> str:
    shapes = [("x".join(map(str, a.shape)) + ("" if a.dtype == "float32" else f" {a.dtype}"))
              for a in program.args if a.role == "input"]
    return ", ".join(shapes)


def _translate_for(program, target: str) -> str:
    from .accuracy import _translate
    return _translate(program.source, target, program)


def time_native(src: str, program, *, warmup: int, repeat: int, max_seconds: float, timeout: float = 300.0):
    """Build ``src`` natively with the timing harness, time its entry on the manifest's arguments.

    Returns ``(per-call seconds, args)`` (the args hold the last call's outputs)."""
    from .. import suite
    from ..oracle import prepare
    from ..oracle.build import BuildSpec, build
    from ..oracle.child import call, shared_empty
    spec = prepare(src, entry=program.entry, lang="vnni", backend="native")
    cpp = os.path.basename(spec.compiler) != "gcc"
    harness = harness_c(spec.entry, [(a.role, a.dtype) for a in program.args], cpp=cpp)
    name = "xpiler_bench_harness." + ("cpp" if cpp else "c")
    timed = BuildSpec(sources=(*spec.sources, (name, harness)), compiler=spec.compiler, flags=spec.flags,
                      entry=HARNESS_ENTRY, display_names=spec.display_names)
    library = build(timed)
    args = suite.make_args(program)
    times = shared_empty(max(1, repeat), np.float64)
    done = shared_empty(1, np.int32)
    done[0] = 0
    call(library, HARNESS_ENTRY, [*args, int(warmup), int(max(1, repeat)), float(max_seconds), times, done], timeout)
    return [float(x) for x in times[:int(done[0])]], args


# The library baselines of the CPU section run in a separate, *spawned* process. The process that
# forks the programs' children must never have run PyTorch: torch ships its own libgomp.so.1, a program
# built with -fopenmp and loaded in a forked child would bind to that already-loaded copy, whose thread
# pool does not exist after the fork, and hang at its first parallel region.

_WORKER: dict = {}


def _worker_init(use_torch: bool, threads: int | None) -> None:  # pragma: no cover - in the worker
    import warnings
    warnings.filterwarnings("ignore", category=UserWarning)    # torch's deprecation notes on quantized tensors
    torch = _import_torch() if use_torch else None
    if torch is not None and threads:
        torch.set_num_threads(int(threads))
    _WORKER["torch"] = torch


def _worker_describe() -> str:  # pragma: no cover - in the worker
    return library_description(_WORKER.get("torch"), "cpu")


def _worker_floor() -> dict:  # pragma: no cover - in the worker
    return call_floor(_WORKER.get("torch"), "cpu")


def _worker_baseline(kwargs: dict):  # pragma: no cover - in the worker
    from .. import reference
    return baseline(torch=_WORKER.get("torch"), reference=reference, **kwargs)


class LibraryWorker:
    """PyTorch (else numpy) baselines in a spawned process (see above); restarted if it dies."""

    def __init__(self, use_torch: bool = True, threads: int | None = None):
        self.args = (bool(use_torch), threads)
        self.pool = None

    def _pool(self):
        if self.pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor
            self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_worker_init, initargs=self.args)
        return self.pool

    def describe(self) -> str:
        return self._pool().submit(_worker_describe).result(timeout=600)

    def floor(self) -> dict:
        """The library's per-call floor (:func:`call_floor`), measured in the worker."""
        return self._pool().submit(_worker_floor).result(timeout=600)

    def baseline(self, timeout: float = 600.0, **kwargs):
        try:
            return self._pool().submit(_worker_baseline, kwargs).result(timeout=timeout)
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def run_cpu(programs, *, warmup: int, repeat: int, max_seconds: float, translate_from: str | None = None,
            progress=None, library: LibraryWorker | None = None) -> list[dict]:
    """The VNNI section's rows: every program timed natively, then the library baseline."""
    from .. import suite
    rows = []
    for i, p in enumerate(programs, 1):
        row = {"name": p.id, "dialect": "vnni", "op": p.op, "file": p.file, "entry": p.entry,
               "variant": getattr(p, "variant", "") or "", "shape": _shape_summary(p),
               "source_of": f"translated from {translate_from}" if translate_from else "suite",
               "status": "ok", "reason": None, "correct": None, "program": None, "library": None, "ratio": None}
        rows.append(row)
        try:
            src = _translate_for(p, "vnni") if translate_from else p.source
        except Exception as exc:  # noqa: BLE001
            row.update({"status": "failed", "correct": False, "reason": f"translate: {type(exc).__name__}: {exc}"})
            if progress:
                progress(i, len(programs), row)
            continue
        try:
            times, args = time_native(src, p, warmup=warmup, repeat=repeat, max_seconds=max_seconds)
        except Exception as exc:  # noqa: BLE001
            row.update({"status": "failed", "correct": False, "reason": f"{type(exc).__name__}: {str(exc)[:1500]}"})
            if progress:
                progress(i, len(programs), row)
            continue
        row["program"] = summarize(times)
        expected = suite.reference_outputs(p, args)
        outs = [(k, a) for k, a in enumerate(p.args) if a.role == "output"]
        checks = [compare(args[k], e, *p.tolerance_for(a)) for (k, a), e in zip(outs, expected)]
        row["correct"] = all(c["ok"] for c in checks)
        row["check"] = "ok" if row["correct"] else "; ".join(
            f"{a.name}: {c['mismatches']}/{c['size']} outside tolerance (max abs err {c['max_abs_err']})"
            for (k, a), c in zip(outs, checks) if not c["ok"])
        if not row["correct"]:
            row["status"] = "failed"
            row["reason"] = "wrong result: " + row["check"]
        if library is not None:
            inputs = [np.array(args[k], copy=True) for k, a in enumerate(p.args) if a.role == "input"]
            try:
                row["library"] = library.baseline(
                    op=p.op, inputs=inputs, params=dict(p.params),
                    outputs=[{"dtype": a.dtype, "shape": list(a.shape)} for _, a in outs],
                    expected=[np.asarray(e) for e in expected], device="cpu", warmup=warmup, repeat=repeat,
                    max_seconds=max_seconds, tolerance=p.tolerance_for(outs[0][1]))
                if row["library"] is None:
                    row["library_reason"] = f"the library has no implementation of {p.op} for these dtypes"
            except Exception as exc:  # noqa: BLE001
                row["library"] = None
                row["library_reason"] = f"baseline failed: {type(exc).__name__}: {exc}"
        row["ratio"] = ratio(row["library"], row["program"])
        if progress:
            progress(i, len(programs), row)
    return rows


# ---------------------------------------------------------------------------------------------
# the GPU bundle (export here, run there, import here)

def _gpu_spec(src: str, program, dialect: str):
    """(sources, flags, entry, skip reason) for building ``src`` on an NVIDIA GPU."""
    from ..launch import Launch
    from ..oracle import _resolve_entry, functions
    entry = _resolve_entry(src, dialect, program.entry)
    try:
        from ..oracle import gpu   # the oracle's native CUDA/HIP backend, once it has landed
    except ImportError:
        gpu = None
    if gpu is not None and hasattr(gpu, "prepare_source"):
        try:
            text, entry = gpu.prepare_source(src, lang=dialect, entry=entry, launch=Launch.coerce(program.launch))
        except Exception as exc:  # noqa: BLE001
            return None, None, entry, f"the oracle's GPU backend cannot prepare it: {type(exc).__name__}: {exc}"
        # the bundle's runner picks the architecture (native on the GPU machine)
        flags = [f for f in gpu.nvcc_flags(dialect) if not f.startswith("-arch")]
        return [(gpu.SOURCE_NAME, text)], flags, entry, None
    if dialect == "hip":
        return None, None, entry, ("the HIP-to-CUDA header (xpiler/oracle/gpu.py, runtime/hip2cuda.h) is not "
                                   "available yet, so HIP programs cannot run on an NVIDIA GPU")
    hosts = [f for f in functions(src) if f.name == entry and f.is_host and f.extern_c]
    if not hosts:
        return None, None, entry, (f"{entry} is the wrapper of a bare kernel, which the oracle's GPU backend "
                                   f"(xpiler/oracle/gpu.py, not available yet) generates")
    return [("program.cu", src)], ["-O2"], entry, None


def export_gpu_bundle(directory, programs, *, dialects=("cuda", "hip"), translate_from: str | None = None,
                      warmup: int = DEFAULT_WARMUP, repeat: int = DEFAULT_REPEAT,
                      max_seconds: float = DEFAULT_MAX_SECONDS) -> dict:
    """Write the self-contained GPU bundle (see the module docstring) for ``programs`` into ``directory``.

    ``programs`` are suite entries of the GPU dialects (or, with ``translate_from``, of that dialect, to be
    translated into each of ``dialects``). Returns the bundle description (``bundle.json``)."""
    import shutil
    from pathlib import Path
    from .. import reference as reference_module
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    (root / "programs").mkdir(exist_ok=True)
    (root / "include").mkdir(exist_ok=True)
    shutil.copyfile(__file__, root / "xpiler_bench_perf.py")
    shutil.copyfile(reference_module.__file__, root / "xpiler_reference.py")
    (root / "run_bundle.py").write_text(
        "#!/usr/bin/env python3\n"
        '"""Times the programs of this xpiler.bench GPU bundle: python3 run_bundle.py [--help]."""\n'
        "import os\nimport sys\n\n"
        "ROOT = os.path.dirname(os.path.abspath(__file__))\nsys.path.insert(0, ROOT)\n"
        "import xpiler_bench_perf  # noqa: E402\n\n"
        "if __name__ == '__main__':\n    sys.exit(xpiler_bench_perf.bundle_main(sys.argv[1:], ROOT))\n")
    (root / "common").mkdir(exist_ok=True)
    (root / "common" / PRELUDE_NAME).write_text(PRELUDE_CUDA)
    include_map: dict[str, str] = {}

    def bundle_path(path: str) -> str:
        real = os.path.realpath(path)
        if real not in include_map:
            dest = root / "include" / str(len(include_map))
            if os.path.isdir(real):
                shutil.copytree(real, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.so", "*.o"))
            else:
                dest.mkdir(parents=True)
                shutil.copyfile(real, dest / os.path.basename(real))
                include_map[real] = f"{{BUNDLE}}/include/{len(include_map)}/{os.path.basename(real)}"
                return include_map[real]
            include_map[real] = f"{{BUNDLE}}/include/{len(include_map)}"
        return include_map[real]

    system = ("/usr/include", "/usr/local/include", "/usr/lib", "/usr/local/cuda", "/opt/rocm")
    entries = []
    for p in programs:
        targets = [p.dialect] if translate_from is None else list(dialects)
        for dialect in targets:
            variant = getattr(p, "variant", "") or ""
            name = (f"{dialect}__{os.path.splitext(p.file)[0]}" + ("" if p.entry in p.file else f"__{p.entry}")
                    + ("".join(c if c.isalnum() else "_" for c in f"__{variant}") if variant else ""))
            if translate_from is not None:
                name = f"{translate_from}-to-{name}"
            rec = {"name": name, "dialect": dialect, "op": p.op, "file": p.file, "entry": p.entry, "variant": variant,
                   "shape": _shape_summary(p), "key": f"{p.dialect}/{p.file}/{p.entry}/{variant}",
                   "source_of": f"translated from {translate_from}" if translate_from else "suite",
                   "args": [{"name": a.name, "role": a.role, "dtype": a.dtype,
                             "shape": list(a.shape) if a.shape else None,
                             "range": list(a.range) if a.range else None, "value": a.value} for a in p.args],
                   "params": p.params,
                   "tolerance": [list(p.tolerance_for(a)) for a in p.outputs],
                   "dir": f"programs/{name}", "sources": [], "flags": [], "skip": None, "fail": None}
            try:
                src = _translate_for(p, dialect) if translate_from else p.source
            except Exception as exc:  # noqa: BLE001 - a failed translation is a failure, not a skip
                rec["fail"] = f"translate: {type(exc).__name__}: {str(exc)[:500]}"
                entries.append(rec)
                continue
            if dialect == "hip" and "__builtin_amdgcn_" in src:
                rec["skip"] = ("uses AMD matrix-core builtins (__builtin_amdgcn_*), which do not exist on an NVIDIA "
                               "GPU: it runs in the CPU emulation only")
                entries.append(rec)
                continue
            sources, flags, entry, skip = _gpu_spec(src, p, dialect)
            if skip:
                rec["skip"] = skip
                entries.append(rec)
                continue
            pdir = root / rec["dir"]
            pdir.mkdir(parents=True, exist_ok=True)
            for fname, text in sources:
                (pdir / fname).write_text(text)
            harness = harness_cuda(entry, [(a.role, a.dtype) for a in p.args])
            (pdir / "xpiler_bench_harness.cu").write_text(harness)
            new_flags = ["-include", f"{{BUNDLE}}/common/{PRELUDE_NAME}"]
            it = iter(flags)
            for f in it:
                if f in ("-I", "-isystem", "-include"):
                    value = next(it, "")
                    keep = value.startswith(system) or not os.path.exists(value)
                    new_flags += [f, value if keep else bundle_path(value)]
                elif f.startswith("-I") and len(f) > 2:
                    d = f[2:]
                    new_flags.append(f if d.startswith(system) or not os.path.isdir(d) else "-I" + bundle_path(d))
                else:
                    new_flags.append(f)
            rec["sources"] = [fname for fname, _ in sources] + ["xpiler_bench_harness.cu"]
            rec["flags"] = new_flags
            rec["entry"] = entry
            entries.append(rec)
    bundle = {"schema": BUNDLE_SCHEMA, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "options": {"warmup": warmup, "repeat": repeat, "max_seconds": max_seconds,
                          "translate_from": translate_from},
              "programs": entries}
    (root / "bundle.json").write_text(json.dumps(bundle, indent=1) + "\n")
    (root / "README.txt").write_text(
        "xpiler.bench GPU bundle: the suite programs with a CUDA-event timing harness, and a runner that\n"
        "needs only python3 with numpy (torch for the library baseline) and nvcc.\n\n"
        "    python3 run_bundle.py                 # build, check, time; writes results.json\n"
        "    python3 run_bundle.py --compile-only  # only build every program\n\n"
        "Then, on the machine with xpiler: python -m xpiler.bench perf --import-gpu-results results.json\n")
    return bundle


def load_gpu_results(path) -> dict:
    with open(path) as fh:
        data = json.load(fh)
    if not isinstance(data, dict) or data.get("schema") != GPU_RESULTS_SCHEMA:
        raise ValueError(f"{path}: not a {GPU_RESULTS_SCHEMA} file (from run_bundle.py)")
    return data


def _gpu_sections_from_results(data: dict, dialects) -> list[dict]:
    sections = []
    for d in dialects:
        rows = [r for r in data["programs"] if r.get("dialect") == d]
        if not data.get("gpu"):
            sections.append(_section(d, f"NVIDIA GPU ({data.get('source', 'imported')})", [],
                                     skipped=f"skipped: {data.get('skip_reason') or 'no NVIDIA GPU'} (on the bundle's machine)",
                                     library=data.get("library")))
            continue
        origin = (data.get("options") or {}).get("translate_from")
        label = f"{data.get('device')} (imported results, nvcc: {data.get('nvcc')})" + (
            f"; programs translated from {origin.upper()}" if origin else "")
        section = _section(d, label, rows, library=data.get("library"),
                           skipped=None if rows else f"no {d} programs in the imported results")
        floors = [r["library_floor_ms"] for r in rows if r.get("library_floor_ms")]
        section["library_floor_ms"] = statistics.median(floors) if floors else None
        sections.append(section)
    return sections


def _section(dialect: str, platform: str, rows: list, *, skipped: str | None = None, library: str | None = None) -> dict:
    good = [r["ratio"] for r in rows if r.get("ratio") and r.get("correct")]
    per_op: dict[str, list] = {}
    for r in rows:
        if r.get("ratio") and r.get("correct"):
            per_op.setdefault(r["op"], []).append(r["ratio"])
    return {"dialect": dialect, "platform": platform, "library": library, "status": "skipped" if skipped else "ok",
            "reason": skipped, "programs": rows, "geomean_ratio": geomean(good), "geomean_over": len(good),
            "per_op_geomean": {op: geomean(v) for op, v in sorted(per_op.items())}}


# ---------------------------------------------------------------------------------------------
# report

def _fmt_ms(v) -> str:
    """A time given in ms, in the unit that reads best (us, ms, s), 3 significant digits."""
    if v is None:
        return "-"
    for scale, unit in ((1e3, "us"), (1.0, "ms"), (1e-3, "s")):
        x = v * scale
        if x < 1000 or unit == "s":
            return (f"{x:.3g}" if x >= 1 else f"{x:.2f}") + f" {unit}"
    return f"{v} ms"  # pragma: no cover


def _fmt_ratio(v) -> str:
    return "-" if v is None else f"{v:.2f}x"


def format_section(section: dict) -> list[str]:
    lines = [f"== {section['dialect'].upper()} on {section['platform']}"]
    if section.get("library"):
        floor = section.get("library_floor_ms")
        lines.append(f"   library: {section['library']}" + (
            f"; per-call floor (an add of 1 element): {_fmt_ms(floor)}" if floor else ""))
    if section["status"] == "skipped":
        lines.append(f"   {section['reason']}")
        return lines
    gpu = section["dialect"] in ("cuda", "hip")
    head = ["op", "program", "inputs", "program time" + (" (device)" if gpu else "")]
    if gpu:
        head.append("end-to-end")
    head += ["library", "library time", "ratio", "correct"]
    rows = []
    for r in section["programs"]:
        lib = r.get("library") or {}
        row = [r["op"], r["file"] + ("" if r["entry"] in r["file"] else f":{r['entry']}"), r.get("shape", ""),
               _fmt_ms((r.get("program") or {}).get("median_ms"))]
        if gpu:
            row.append(_fmt_ms((r.get("program_total") or {}).get("median_ms")))
        libname = lib.get("name") or r.get("library_reason") or lib.get("check") or "-"
        row += [libname if len(libname) <= 48 else libname[:45] + "...", _fmt_ms(lib.get("median_ms")),
                _fmt_ratio(r.get("ratio")),
                "yes" if r.get("correct") else ("no" if r.get("correct") is False else "?")]
        rows.append(row)
    widths = [max(len(str(x[i])) for x in [head] + rows) for i in range(len(head))]
    lines.append("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |")
    lines.append("| " + " | ".join("-" * w for w in widths) + " |")
    lines += ["| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths)) + " |" for row in rows]
    failed = [r for r in section["programs"] if r.get("status") != "ok" and r.get("reason")]
    for r in failed:
        lines.append(f"   {r['file']}: {r['status']}: {r['reason'][:300]}")
    gm = section["geomean_ratio"]
    verdict = ("" if gm is None else " (the program is faster than the library)" if gm > 1.005
               else " (the library is faster)" if gm < 0.995 else " (parity)")
    lines.append(f"   geometric mean of ratios over {section['geomean_over']} correct programs: {_fmt_ratio(gm)}{verdict}")
    if section.get("load_warning"):
        lines.append(f"   warning: {section['load_warning']}")
    if section["per_op_geomean"]:
        lines.append("   per op: " + ", ".join(f"{op} {_fmt_ratio(v)}" for op, v in section["per_op_geomean"].items()))
    return lines


def format_report(report: dict) -> str:
    from . import published
    lines = [f"xpiler perf benchmark: {RATIO_MEANING}.", "times: medians over repeated calls after warm-up "
             f"(repeat {report['options']['repeat']}, warm-up {report['options']['warmup']}); compilation and "
             "process start excluded (docs/benchmarks.md)", ""]
    for s in report["sections"]:
        lines += format_section(s)
        lines.append("")
    lines.append(f"published ({published.PAPER}): translated programs reach {published.PERF_MEAN_VS_LIBRARY:g}x of "
                 f"the vendor libraries on average; best {published.PERF_BEST[0]:g}x ({published.PERF_BEST[1]}); "
                 f"GEMV {published.PERF_GEMV_RANGE[0]:g}-{published.PERF_GEMV_RANGE[1]:g}x")
    return "\n".join(lines)


def _load() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def _machine() -> dict:
    from .accuracy import _machine as machine
    info = machine()
    info["OMP_NUM_THREADS"] = os.environ.get("OMP_NUM_THREADS")
    return info


# ---------------------------------------------------------------------------------------------
# command line

def add_arguments(parser) -> None:
    parser.add_argument("--dialect", action="append", metavar="D",
                        help="vnni, cuda, hip or all (repeat or comma-separate; default all)")
    parser.add_argument("--ops", nargs="+", metavar="OP", help="only these operators")
    parser.add_argument("--from", dest="translate_from", metavar="D",
                        help="time the translations of D's suite programs instead of the dialect's own suite")
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT, help=f"timed calls (default {DEFAULT_REPEAT})")
    parser.add_argument("--warmup", type=int, default=DEFAULT_WARMUP, help=f"untimed calls first (default {DEFAULT_WARMUP})")
    parser.add_argument("--max-seconds", type=float, default=DEFAULT_MAX_SECONDS,
                        help="stop timing one program after this long (at least 3 calls)")
    parser.add_argument("--json", metavar="PATH", help="write the report as JSON")
    parser.add_argument("--export-gpu-bundle", metavar="DIR",
                        help="write a self-contained bundle of the CUDA/HIP programs to time on a GPU machine")
    parser.add_argument("--import-gpu-results", metavar="FILE",
                        help="fold the results.json of a bundle run into the report (GPU sections)")
    parser.add_argument("--no-torch", action="store_true", help="use the numpy baseline even if torch imports")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads of the programs (OMP_NUM_THREADS) and of the library (default 1; 0: the "
                             "runtimes' defaults, all cores)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")


def _dialect_list(values) -> list[str]:
    from ..dialects import canonical
    from .accuracy import _split
    names = _split(values)
    if not names or "all" in names:
        return ["vnni", "cuda", "hip"]
    out = []
    for n in names:
        d = canonical(n)
        if d == "bang":
            raise ValueError("bang programs cannot be timed here: there is no MLU (only the CPU emulation)")
        if d not in out:
            out.append(d)
    return out


def _programs(dialect: str, ops):
    from .accuracy import load_programs
    programs, suites = load_programs([dialect], set(ops) if ops else None)
    return programs, suites.get(dialect, {})


def main(args) -> int:
    from ..errors import XpilerError
    from ..oracle import toolchains
    from .accuracy import _split
    try:
        dialects = _dialect_list(args.dialect)
        translate_from = None
        if args.translate_from:
            from ..dialects import canonical
            translate_from = canonical(args.translate_from)
    except (XpilerError, ValueError) as exc:
        print(f"xpiler.bench perf: {exc}", file=sys.stderr)
        return 2
    ops = _split(args.ops) or None
    if ops:
        from .. import reference
        unknown = [o for o in ops if o not in reference.OPERATORS]
        if unknown:
            print(f"xpiler.bench perf: unknown operator(s) {', '.join(unknown)}", file=sys.stderr)
            return 2
    repeat, warmup = max(1, args.repeat), max(0, args.warmup)

    def load(dialect):
        return _programs(translate_from or dialect, ops)

    if args.export_gpu_bundle:
        gpu_dialects = [d for d in dialects if d in ("cuda", "hip")] or ["cuda", "hip"]
        programs = []
        if translate_from:
            programs, _ = load(None)
        else:
            for d in gpu_dialects:
                programs += load(d)[0]
        bundle = export_gpu_bundle(args.export_gpu_bundle, programs, dialects=gpu_dialects,
                                   translate_from=translate_from, warmup=warmup, repeat=repeat,
                                   max_seconds=args.max_seconds)
        ready = [p for p in bundle["programs"] if not p["skip"] and not p["fail"]]
        failed = [p for p in bundle["programs"] if p["fail"]]
        print(f"wrote {args.export_gpu_bundle}: {len(ready)} programs to time, {len(failed)} failed to translate, "
              f"{len(bundle['programs']) - len(ready) - len(failed)} skipped")
        for p in bundle["programs"]:
            if p["fail"] or p["skip"]:
                print(f"  {'failed' if p['fail'] else 'skipped'} {p['name']}: {p['fail'] or p['skip']}")
        print(f"on the GPU machine: python3 {os.path.join(args.export_gpu_bundle, 'run_bundle.py')}; then here: "
              f"python -m xpiler.bench perf --import-gpu-results results.json")
        return 0

    quiet = args.quiet

    def progress(i, n, row):
        if not quiet:
            prog = (row.get("program") or {}).get("median_ms")
            lib = (row.get("library") or {}).get("median_ms") if row.get("library") else None
            print(f"[{i}/{n}] {row['file']}: {row['status']}" + (f" program {prog:.4f} ms" if prog else "")
                  + (f", library {lib:.4f} ms" if lib else ""), file=sys.stderr, flush=True)

    sections = []
    imported = None
    if args.import_gpu_results:
        try:
            imported = load_gpu_results(args.import_gpu_results)
        except (OSError, ValueError) as exc:
            print(f"xpiler.bench perf: {exc}", file=sys.stderr)
            return 2
    for d in dialects:
        if d == "vnni":
            programs, info = load("vnni")
            cpu = _machine().get("cpu", "this CPU")
            if not programs:
                sections.append(_section("vnni", cpu, [], skipped=f"skipped: {info.get('missing') or 'no programs selected'}"))
                continue
            if args.threads:
                # read by the programs' OpenMP runtime and numpy's OpenBLAS (both load after this point)
                os.environ["OMP_NUM_THREADS"] = str(args.threads)
            load_before = _load()
            with LibraryWorker(use_torch=not args.no_torch, threads=args.threads or None) as library:
                rows = run_cpu(programs, warmup=warmup, repeat=repeat, max_seconds=args.max_seconds,
                               translate_from=translate_from, progress=progress, library=library)
                description = library.describe()
                floor = library.floor()
            section = _section("vnni", f"{cpu} ({os.cpu_count()} CPUs, native, program threads: "
                                       f"{os.environ.get('OMP_NUM_THREADS') or 'OpenMP default'})", rows,
                               library=description)
            section["library_floor_ms"] = floor.get("median_ms")
            section["load_average"] = [load_before, _load()]
            busy = max(x for x in section["load_average"] if x is not None) if any(section["load_average"]) else None
            if busy is not None and busy > (os.cpu_count() or 1):
                section["load_warning"] = (f"the machine was busy (load average up to {busy:.1f} on {os.cpu_count()} "
                                           f"CPUs): other processes share the cores, timings are noisy")
            sections.append(section)
        else:
            if imported is not None:
                sections += _gpu_sections_from_results(imported, [d])
                continue
            if not toolchains.can_run_cuda():
                sections.append(_section(d, "NVIDIA GPU", [], skipped=(
                    f"skipped: no NVIDIA GPU ({toolchains.cuda_missing_reason()}); time it elsewhere with "
                    f"--export-gpu-bundle DIR, then --import-gpu-results FILE")))
                continue
            sections += _run_gpu_here(d, load(d)[0], translate_from, warmup, repeat, args.max_seconds, quiet)
    report = {"schema": SCHEMA, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "ratio": RATIO_MEANING, "machine": _machine(),
              "options": {"dialects": dialects, "ops": ops, "from": translate_from, "repeat": repeat, "warmup": warmup,
                          "max_seconds": args.max_seconds, "imported": args.import_gpu_results},
              "sections": sections}
    print(format_report(report))
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=1)
            fh.write("\n")
    return 0


def _run_gpu_here(dialect, programs, translate_from, warmup, repeat, max_seconds, quiet) -> list[dict]:
    """A GPU is present here: export a bundle into a temporary directory, run it, import its results."""
    import tempfile
    with tempfile.TemporaryDirectory(prefix="xpiler-gpu-bundle-") as tmp:
        export_gpu_bundle(tmp, programs, dialects=[dialect], translate_from=translate_from, warmup=warmup,
                          repeat=repeat, max_seconds=max_seconds)
        out = os.path.join(tmp, "results.json")
        subprocess.run([sys.executable, os.path.join(tmp, "run_bundle.py"), "--out", out],
                       stderr=subprocess.DEVNULL if quiet else None, check=False)
        if not os.path.exists(out):
            return [_section(dialect, "NVIDIA GPU", [], skipped="failed: the bundle runner wrote no results")]
        data = load_gpu_results(out)
        data["source"] = "this machine"
        return _gpu_sections_from_results(data, [dialect])
