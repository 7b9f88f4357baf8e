"""A flat index decoded digit by digit runs as the nest of its digits (passes/delinearize.py): one GPU
thread per NHWC output element, on the CPU the channel the SIMD lane and no division per lane."""

from __future__ import annotations

import numpy as np

import xpiler
from xpiler import ir
from xpiler.passes.delinearize import delinearized

AVGPOOL = """
__global__ void avgpool_kernel(const float *x, float *y, int N, int H, int W, int C) {
  int Ho = H / 2, Wo = W / 2;
  int idx = blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= N * Ho * Wo * C) return;
  int c = idx % C;
  int ow = (idx / C) % Wo;
  int oh = (idx / (C * Wo)) % Ho;
  int n = idx / (C * Wo * Ho);
  float s = 0.0f;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) s += x[((n * H + oh * 2 + i) * W + ow * 2 + j) * C + c];
  y[idx] = s * 0.25f;
}
extern "C" void avgpool(const float *x, float *y, int N, int H, int W, int C, int blocks) {
  int total = N * (H / 2) * (W / 2) * C;
  float *dx, *dy;
  cudaMalloc(&dx, sizeof(float) * N * H * W * C);
  cudaMalloc(&dy, sizeof(float) * total);
  cudaMemcpy(dx, x, sizeof(float) * N * H * W * C, cudaMemcpyHostToDevice);
  cudaMemcpy(dy, y, sizeof(float) * total, cudaMemcpyHostToDevice);
  avgpool_kernel<<<blocks, 128>>>(dx, dy, N, H, W, C);
  cudaMemcpy(y, dy, sizeof(float) * total, cudaMemcpyDeviceToHost);
  cudaFree(dx);
  cudaFree(dy);
}
"""


def _avgpool(x):
    n, h, w, c = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2, c).sum(axis=(2, 4)) * np.float32(0.25)


def test_a_flat_nhwc_index_runs_as_the_nest_of_its_digits():
    code = xpiler.translate(AVGPOOL, to="vnni", source="cuda")
    fast = code.split("} else {")[0]
    # the nest, when the loop runs over exactly N * Ho * Wo * C elements with positive radices
    assert "if (C > 0 && Wo > 0 && Ho > 0 && N > 0 && (long long)C * Wo * Ho * N == __xp_end) {" in fast
    assert "for (int __xp_digit3 = 0; __xp_digit3 < N; ++__xp_digit3) {" in fast
    assert "for (int __xp_digit1 = 0; __xp_digit1 < Wo; ++__xp_digit1) {" in fast
    # each digit expression is its counter; the channel is the lane
    assert "int ow = __xp_digit1;" in fast and "const int __xp_digit0 = __xp_strip_1 + __xp_lane_1;" in fast
    assert "(idx / (C * Wo)) % Ho" not in fast.split("if (C > 0")[1]
    x = np.random.default_rng(3).standard_normal((2, 10, 6, 24)).astype(np.float32)
    total = 2 * 5 * 3 * 24
    y = np.zeros(total, np.float32)
    xpiler.run(code, [x, y, 2, 10, 6, 24, (total + 127) // 128], entry="avgpool", lang="vnni")
    np.testing.assert_allclose(y, _avgpool(x).ravel(), rtol=1e-6, atol=1e-6)


def test_a_grid_smaller_than_the_tensor_takes_the_flat_loop():
    # two blocks of 128 threads cover the first 256 elements only: not the whole nest
    code = xpiler.translate(AVGPOOL, to="vnni", source="cuda")
    x = np.random.default_rng(4).standard_normal((2, 10, 6, 24)).astype(np.float32)
    y = np.full(720, -7.0, np.float32)
    xpiler.run(code, [x, y, 2, 10, 6, 24, 2], entry="avgpool", lang="vnni")
    want = _avgpool(x).ravel()
    np.testing.assert_allclose(y[:256], want[:256], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(y[256:], np.float32(-7.0))


def _decode(body_src: str, stop: str = "N * H * C"):
    """delinearized() on a loop over ``g`` whose body is the C statements ``body_src``."""
    module = xpiler.lift(f"void f(float *y, int N, int H, int C) {{ for (int g = 0; g < {stop}; ++g) {{ "
                         f"{body_src} }} }}", source="vnni")
    loop = next(n for n in ir.walk(next(module.functions()).body) if isinstance(n, ir.For))
    names = iter(f"d{k}" for k in range(10))
    return delinearized("g", loop.canonical()[2], loop.canonical()[2], list(loop.body.body), "g",
                        lambda name: next(names), lambda v, e, s: [ir.For(None, None, None, ir.Block(tuple(s)))])


def test_digits_must_form_a_chain_of_places():
    assert _decode("y[g] = g % C + (g / C) % H + g / (C * H);") is not None
    # (g / H) % N: the place H is not the product of the radices below (C)
    assert _decode("y[g] = g % C + (g / H) % N;") is None
    # a radix the loop changes is not a radix
    assert _decode("int C2 = C; C2 += 1; y[g] = g % C2 + g / C2;") is None
    # the top digit's extent must be the bound's remaining factor
    assert _decode("y[g] = g % C + g / C;", stop="N * C + 1") is None
    # a jump of the flat loop: in the nest, a `break` would leave the innermost digit's loop only
    assert _decode("if (y[g] > 0.0f) break; y[g] = g % C + g / C;") is None


# TVM's style: the block size spelled out (blockIdx.x * 256 + threadIdx.x), the digits of a (8, 7, 7)
# output as g / 49, (g % 49) / 7 and g % 7, the guard a constant
TVM_DIGITS = """
__global__ void k(const float *x, float *y) {
  if (((int)blockIdx.x) * 256 + ((int)threadIdx.x) < 392) {
    int g = ((int)blockIdx.x) * 256 + ((int)threadIdx.x);
    y[g] = x[((g / 49) * 9 + ((g % 49) / 7)) * 9 + (g % 7) + 10] * 2.0f;
  }
}
extern "C" void run(const float *x, float *y, int threads) {
  float *dx, *dy;
  cudaMalloc(&dx, sizeof(float) * 8 * 81);
  cudaMalloc(&dy, sizeof(float) * 392);
  cudaMemcpy(dx, x, sizeof(float) * 8 * 81, cudaMemcpyHostToDevice);
  cudaMemcpy(dy, y, sizeof(float) * 392, cudaMemcpyHostToDevice);
  k<<<2, threads>>>(dx, dy);
  cudaMemcpy(y, dy, sizeof(float) * 392, cudaMemcpyDeviceToHost);
  cudaFree(dx);
  cudaFree(dy);
}
"""


def test_a_block_size_spelled_out_joins_under_a_launch_check_and_constant_digits_decode():
    code = xpiler.translate(TVM_DIGITS, to="vnni", source="cuda")
    # joined where the launch has 256 threads per block; the digits of 392 = 8 * 7 * 7 a nest
    assert "(unsigned long long)blockDim.x == 256u" in code
    assert "for (int __xp_digit0 = 0; __xp_digit0 < 7; ++__xp_digit0) {" in code
    assert "if ((long long)7 * 7 * 8 == __xp_end) {" in code
    x = np.random.default_rng(4).standard_normal(8 * 81).astype(np.float32)
    for threads in (256, 128):   # 128: the kernel's own arithmetic covers g = b * 256 + t, t < 128
        y = np.full(392, -1.0, np.float32)
        xpiler.run(code, [x, y, threads], entry="run", lang="vnni")
        expect = np.full(392, -1.0, np.float32)
        for b in range(2):
            for t in range(threads):
                g = b * 256 + t
                if g < 392:
                    expect[g] = x[((g // 49) * 9 + (g % 49) // 7) * 9 + g % 7 + 10] * 2.0
        np.testing.assert_array_equal(y, expect)


# TVM's pooling without a guard (the grid exactly the elements): digits as g / 7168, (g >> 9) % 14
# and t & 511 (TVM simplified (b * 1024 + t) & 511), the accumulator an array of one element
TVM_POOL = """
__global__ void k(const float *data, float *out) {
  float acc_local[1];
  acc_local[0] = 0.0f;
  for (int rv = 0; rv < 2; ++rv)
    acc_local[0] = acc_local[0] + data[((((int)blockIdx.x) * 1024 + ((int)threadIdx.x)) / 7168) * 14336 + rv * 7168
                                      + (((((int)blockIdx.x) * 1024 + ((int)threadIdx.x)) >> 9) % 14) * 512
                                      + (((int)threadIdx.x) & 511)];
  out[((int)blockIdx.x) * 1024 + ((int)threadIdx.x)] = acc_local[0];
}
extern "C" void run(const float *data, float *out, int rows) {
  float *dd, *dout;
  cudaMalloc(&dd, sizeof(float) * rows * 14336);
  cudaMalloc(&dout, sizeof(float) * rows * 7168);
  cudaMemcpy(dd, data, sizeof(float) * rows * 14336, cudaMemcpyHostToDevice);
  k<<<rows * 7, 1024>>>(dd, dout);
  cudaMemcpy(out, dout, sizeof(float) * rows * 7168, cudaMemcpyDeviceToHost);
  cudaFree(dd);
  cudaFree(dout);
}
"""


def test_shift_and_mask_digits_and_a_grid_of_exactly_the_elements_decode():
    code = xpiler.translate(TVM_POOL, to="vnni", source="cuda")
    # t & 511 is the global index's residue; the top digit's extent the trip count over 7168
    assert "__xp_digit2 < ((int)((unsigned long long)gridDim.x * 1024)) / 7168;" in code
    assert "acc_local[1]" not in code   # the one-element accumulator is a scalar (unit-arrays)
    rng = np.random.default_rng(9)
    for rows in (1, 3):
        data = rng.standard_normal(rows * 14336).astype(np.float32)
        out = np.zeros(rows * 7168, np.float32)
        xpiler.run(code, [data, out, rows], entry="run", lang="vnni")
        g = np.arange(rows * 7168)
        base = (g // 7168) * 14336 + ((g >> 9) % 14) * 512 + (g & 511)
        np.testing.assert_allclose(out, data[base] + data[base + 7168], rtol=1e-6)
