// sigmoid over (45, 25): OpenMP over rows, expf, static_cast indices.
#include <cmath>

extern "C" void sigmoid(float *input, float *output) {
  const int rows = 45, cols = 25;
  #pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      size_t idx = static_cast<size_t>(r) * static_cast<size_t>(cols) + static_cast<size_t>(c);
      float x = input[idx];
      output[idx] = 1.0f / (1.0f + expf(-x));
    }
  }
}
