// conv1d, valid, stride 1: input length 1000, kernel 3 -> 998 outputs.
extern "C" void conv1d(float *input, float *kernel, float *output) {
  for (int i = 0; i < 998; ++i) {
    float acc = 0.0f;
    for (int k = 0; k < 3; ++k) acc += input[i + k] * kernel[k];
    output[i] = acc;
  }
}
