// multi-scale deformable attention forward (Deformable DETR), wavefront-per-head layout: one 64-lane
// wavefront per (batch, query, head), lanes over the channels (d = lane, lane + 64); every lane
// computes the bilinear corner weights of each (level, point) and gathers its channel of the four
// corners (zero outside the map). value [N][S][M][D], spatial_shapes [L][2] (H, W), level_start_index
// [L], sampling_loc [N][Lq][M][L][P][2] (x, y in [0, 1]), attn_weight [N][Lq][M][L][P] -> output
// [N][Lq][M][D]. hipMemcpyToSymbol puts the level tables in __constant__ memory.
#include <hip/hip_runtime.h>
#include <math.h>

#define WAVE 64
#define MAX_LEVELS 8

__constant__ int c_shapes[MAX_LEVELS * 2];
__constant__ int c_start[MAX_LEVELS];

__device__ __forceinline__ float corner(const float* v, int y, int x, int H, int W, int stride) {
  return (y >= 0 && y < H && x >= 0 && x < W) ? v[(size_t)(y * W + x) * stride] : 0.0f;
}

__global__ void __launch_bounds__(256) ms_deform_attn_wave(const float* __restrict__ value,
                                                           const float* __restrict__ loc,
                                                           const float* __restrict__ attn, float* __restrict__ out,
                                                           int batch, int S, int M, int D, int levels, int Lq,
                                                           int points) {
  const int lane = hipThreadIdx_x % WAVE;
  const int item = hipBlockIdx_x * (hipBlockDim_x / WAVE) + hipThreadIdx_x / WAVE;  // (n, q, m)
  if (item >= batch * Lq * M) return;
  const int m = item % M, n = item / (Lq * M);
  const float* lp = loc + (size_t)item * levels * points * 2;
  const float* ap = attn + (size_t)item * levels * points;
  for (int d = lane; d < D; d += WAVE) {
    float acc = 0.0f;
    for (int l = 0; l < levels; ++l) {
      const int H = c_shapes[2 * l], W = c_shapes[2 * l + 1];
      const float* v = value + (((size_t)n * S + c_start[l]) * M + m) * D + d;
      for (int p = 0; p < points; ++p) {
        const float x = lp[(l * points + p) * 2] * W - 0.5f;
        const float y = lp[(l * points + p) * 2 + 1] * H - 0.5f;
        const float a = ap[l * points + p];
        if (!(y > -1.0f && x > -1.0f && y < H && x < W)) continue;
        const int x0 = (int)floorf(x), y0 = (int)floorf(y);
        const float fx = x - x0, fy = y - y0;
        const float s = (1.0f - fy) * ((1.0f - fx) * corner(v, y0, x0, H, W, M * D) + fx * corner(v, y0, x0 + 1, H, W, M * D)) +
                        fy * ((1.0f - fx) * corner(v, y0 + 1, x0, H, W, M * D) + fx * corner(v, y0 + 1, x0 + 1, H, W, M * D));
        acc += a * s;
      }
    }
    out[(size_t)item * D + d] = acc;
  }
}

extern "C" void ms_deform_attn(const float* value, const int* spatial_shapes, const int* level_start_index,
                               const float* sampling_loc, const float* attn_weight, float* output, int batch,
                               int spatial_size, int num_heads, int channels, int num_levels, int num_query,
                               int num_point) {
  const size_t vn = (size_t)batch * spatial_size * num_heads * channels;
  const size_t an = (size_t)batch * num_query * num_heads * num_levels * num_point;
  const size_t on = (size_t)batch * num_query * num_heads * channels;
  float *dv, *dl, *da, *dout;
  hipMalloc((void**)&dv, vn * sizeof(float));
  hipMalloc((void**)&dl, an * 2 * sizeof(float));
  hipMalloc((void**)&da, an * sizeof(float));
  hipMalloc((void**)&dout, on * sizeof(float));
  hipMemcpy(dv, value, vn * sizeof(float), hipMemcpyHostToDevice);
  hipMemcpy(dl, sampling_loc, an * 2 * sizeof(float), hipMemcpyHostToDevice);
  hipMemcpy(da, attn_weight, an * sizeof(float), hipMemcpyHostToDevice);
  hipMemcpyToSymbol(HIP_SYMBOL(c_shapes), spatial_shapes, num_levels * 2 * sizeof(int), 0, hipMemcpyHostToDevice);
  hipMemcpyToSymbol(HIP_SYMBOL(c_start), level_start_index, num_levels * sizeof(int), 0, hipMemcpyHostToDevice);
  const int items = batch * num_query * num_heads;
  hipLaunchKernelGGL(ms_deform_attn_wave, dim3((items + 3) / 4), dim3(256), 0, 0, dv, dl, da, dout, batch, spatial_size,
                     num_heads, channels, num_levels, num_query, num_point);
  hipMemcpy(output, dout, on * sizeof(float), hipMemcpyDeviceToHost);
  hipFree(dv);
  hipFree(dl);
  hipFree(da);
  hipFree(dout);
}
