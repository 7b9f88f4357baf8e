// gemv / dense (112, 128) @ (128,) in TVM's style: the vector staged in shared memory by a fused
// loop, then one row per thread with a local accumulator and a guard on the 112 rows (grid: 2 blocks
// of 64, from the guard).
extern "C" __global__ void __launch_bounds__(64) default_function_kernel(float* __restrict__ A, float* __restrict__ x, float* __restrict__ T_matmul) {
  float T_matmul_local[1];
  __shared__ float x_shared[128];
  for (int ax0_outer = 0; ax0_outer < 2; ++ax0_outer) {
    x_shared[((ax0_outer * 64) + ((int)threadIdx.x))] = x[((ax0_outer * 64) + ((int)threadIdx.x))];
  }
  __syncthreads();
  if (((((int)blockIdx.x) * 64) + ((int)threadIdx.x)) < 112) {
    T_matmul_local[0] = 0.000000e+00f;
    for (int k = 0; k < 128; ++k) {
      T_matmul_local[0] = (T_matmul_local[0] + (A[(((((int)blockIdx.x) * 8192) + (((int)threadIdx.x) * 128)) + k)] * x_shared[k]));
    }
    T_matmul[((((int)blockIdx.x) * 64) + ((int)threadIdx.x))] = T_matmul_local[0];
  }
}
