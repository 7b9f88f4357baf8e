// multi-scale deformable attention forward (Deformable DETR's ms_deform_attn, the im2col kernel of
// mmcv / the reference CUDA op): one thread per output element (batch, query, head, channel) in a
// grid-stride CUDA_KERNEL_LOOP, a templated __device__ bilinear sampler taking its arguments by
// reference, int64 spatial shapes and level start indices. value [N][S][M][D], sampling_loc
// [N][Lq][M][L][P][2] (x, y in [0, 1]), attn_weight [N][Lq][M][L][P] -> output [N][Lq][M*D].
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>

#define CUDA_KERNEL_LOOP(i, n) for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += blockDim.x * gridDim.x)

const int CUDA_NUM_THREADS = 1024;
inline int GET_BLOCKS(const int N, const int num_threads) { return (N + num_threads - 1) / num_threads; }

template <typename scalar_t>
__device__ scalar_t ms_deform_attn_im2col_bilinear(const scalar_t*& bottom_data, const int& height, const int& width,
                                                   const int& nheads, const int& channels, const scalar_t& h,
                                                   const scalar_t& w, const int& m, const int& c) {
  const int h_low = floor(h);
  const int w_low = floor(w);
  const int h_high = h_low + 1;
  const int w_high = w_low + 1;

  const scalar_t lh = h - h_low;
  const scalar_t lw = w - w_low;
  const scalar_t hh = 1 - lh, hw = 1 - lw;

  const int w_stride = nheads * channels;
  const int h_stride = width * w_stride;
  const int h_low_ptr_offset = h_low * h_stride;
  const int h_high_ptr_offset = h_low_ptr_offset + h_stride;
  const int w_low_ptr_offset = w_low * w_stride;
  const int w_high_ptr_offset = w_low_ptr_offset + w_stride;
  const int base_ptr = m * channels + c;

  scalar_t v1 = 0;
  if (h_low >= 0 && w_low >= 0) {
    const int ptr1 = h_low_ptr_offset + w_low_ptr_offset + base_ptr;
    v1 = bottom_data[ptr1];
  }
  scalar_t v2 = 0;
  if (h_low >= 0 && w_high <= width - 1) {
    const int ptr2 = h_low_ptr_offset + w_high_ptr_offset + base_ptr;
    v2 = bottom_data[ptr2];
  }
  scalar_t v3 = 0;
  if (h_high <= height - 1 && w_low >= 0) {
    const int ptr3 = h_high_ptr_offset + w_low_ptr_offset + base_ptr;
    v3 = bottom_data[ptr3];
  }
  scalar_t v4 = 0;
  if (h_high <= height - 1 && w_high <= width - 1) {
    const int ptr4 = h_high_ptr_offset + w_high_ptr_offset + base_ptr;
    v4 = bottom_data[ptr4];
  }

  const scalar_t w1 = hh * hw, w2 = hh * lw, w3 = lh * hw, w4 = lh * lw;
  const scalar_t val = (w1 * v1 + w2 * v2 + w3 * v3 + w4 * v4);
  return val;
}

template <typename scalar_t>
__global__ void ms_deformable_im2col_gpu_kernel(const int n, const scalar_t* data_value,
                                                const int64_t* data_spatial_shapes,
                                                const int64_t* data_level_start_index,
                                                const scalar_t* data_sampling_loc, const scalar_t* data_attn_weight,
                                                const int batch_size, const int spatial_size, const int num_heads,
                                                const int channels, const int num_levels, const int num_query,
                                                const int num_point, scalar_t* data_col) {
  CUDA_KERNEL_LOOP(index, n) {
    int _temp = index;
    const int c_col = _temp % channels;
    _temp /= channels;
    const int sampling_index = _temp;
    const int m_col = _temp % num_heads;
    _temp /= num_heads;
    _temp /= num_query;
    const int b_col = _temp;

    scalar_t* data_col_ptr = data_col + index;
    int data_weight_ptr = sampling_index * num_levels * num_point;
    int data_loc_w_ptr = data_weight_ptr << 1;
    const int qid_stride = num_heads * channels;
    const int data_value_ptr_init_offset = b_col * spatial_size * qid_stride;
    scalar_t col = 0;

    for (int l_col = 0; l_col < num_levels; ++l_col) {
      const int level_start_id = data_level_start_index[l_col];
      const int spatial_h_ptr = l_col << 1;
      const int spatial_h = data_spatial_shapes[spatial_h_ptr];
      const int spatial_w = data_spatial_shapes[spatial_h_ptr + 1];
      const scalar_t* data_value_ptr = data_value + (data_value_ptr_init_offset + level_start_id * qid_stride);
      for (int p_col = 0; p_col < num_point; ++p_col) {
        const scalar_t loc_w = data_sampling_loc[data_loc_w_ptr];
        const scalar_t loc_h = data_sampling_loc[data_loc_w_ptr + 1];
        const scalar_t weight = data_attn_weight[data_weight_ptr];

        const scalar_t h_im = loc_h * spatial_h - 0.5f;
        const scalar_t w_im = loc_w * spatial_w - 0.5f;

        if (h_im > -1 && w_im > -1 && h_im < spatial_h && w_im < spatial_w) {
          col += ms_deform_attn_im2col_bilinear(data_value_ptr, spatial_h, spatial_w, num_heads, channels, h_im, w_im,
                                                m_col, c_col) *
                 weight;
        }

        data_weight_ptr += 1;
        data_loc_w_ptr += 2;
      }
    }
    *data_col_ptr = col;
  }
}

extern "C" void ms_deform_attn_forward(const float* value, const int64_t* spatial_shapes,
                                       const int64_t* level_start_index, const float* sampling_loc,
                                       const float* attn_weight, float* output, int batch, int spatial_size,
                                       int num_heads, int channels, int num_levels, int num_query, int num_point) {
  const size_t value_n = (size_t)batch * spatial_size * num_heads * channels;
  const size_t loc_n = (size_t)batch * num_query * num_heads * num_levels * num_point;
  const int num_kernels = batch * num_query * num_heads * channels;
  float *d_value, *d_loc, *d_attn, *d_out;
  int64_t *d_shapes, *d_start;
  cudaMalloc(&d_value, value_n * sizeof(float));
  cudaMalloc(&d_shapes, num_levels * 2 * sizeof(int64_t));
  cudaMalloc(&d_start, num_levels * sizeof(int64_t));
  cudaMalloc(&d_loc, loc_n * 2 * sizeof(float));
  cudaMalloc(&d_attn, loc_n * sizeof(float));
  cudaMalloc(&d_out, num_kernels * sizeof(float));
  cudaMemcpy(d_value, value, value_n * sizeof(float), cudaMemcpyHostToDevice);
  cudaMemcpy(d_shapes, spatial_shapes, num_levels * 2 * sizeof(int64_t), cudaMemcpyHostToDevice);
  cudaMemcpy(d_start, level_start_index, num_levels * sizeof(int64_t), cudaMemcpyHostToDevice);
  cudaMemcpy(d_loc, sampling_loc, loc_n * 2 * sizeof(float), cudaMemcpyHostToDevice);
  cudaMemcpy(d_attn, attn_weight, loc_n * sizeof(float), cudaMemcpyHostToDevice);
  const int num_threads = CUDA_NUM_THREADS;
  ms_deformable_im2col_gpu_kernel<float><<<GET_BLOCKS(num_kernels, num_threads), num_threads, 0>>>(
      num_kernels, d_value, d_shapes, d_start, d_loc, d_attn, batch, spatial_size, num_heads, channels, num_levels,
      num_query, num_point, d_out);
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) printf("error in ms_deformable_im2col_cuda: %s\n", cudaGetErrorString(err));
  cudaMemcpy(output, d_out, num_kernels * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(d_value);
  cudaFree(d_shapes);
  cudaFree(d_start);
  cudaFree(d_loc);
  cudaFree(d_attn);
  cudaFree(d_out);
}
