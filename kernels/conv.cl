/* 3x3 and 5x5 convolutions of a row-major f32 image (w columns, h rows,
 * n = w * h), clamp-to-edge, one work-item per output pixel. The weights
 * are applied as a correlation: k[0] is the top-left tap, at (x-r, y-r).
 * FP_CONTRACT OFF and the same order of taps as the CPU implementation
 * (row by row, left to right, one multiply then one add each): both give
 * the same bits. The radius is a compile-time constant in each kernel so
 * that the taps unroll; the clamped coordinates are computed once per row
 * and column, not per tap. */
#pragma OPENCL FP_CONTRACT OFF

#define MAESTRO_CONV_BODY(R)                                                                       \
  size_t i = get_global_id(0);                                                                     \
  if (i >= n || (ulong)w * h != n)                                                                 \
    return;                                                                                        \
  int W = (int)w, H = (int)h;                                                                      \
  int y = (int)(i / w);                                                                            \
  int x = (int)i - y * W;                                                                          \
  int xs[2 * R + 1];                                                                               \
  for (int d = -R; d <= R; d++)                                                                    \
    xs[d + R] = clamp(x + d, 0, W - 1);                                                            \
  float acc = 0.0f;                                                                                \
  for (int dy = -R; dy <= R; dy++) {                                                               \
    __global const float *row = in + (size_t)clamp(y + dy, 0, H - 1) * w;                          \
    for (int dx = 0; dx <= 2 * R; dx++) {                                                          \
      float p = k[(dy + R) * (2 * R + 1) + dx] * row[xs[dx]];                                      \
      acc = acc + p;                                                                               \
    }                                                                                              \
  }                                                                                                \
  out[i] = acc;

__kernel void maestro_conv3x3(__global const float *in, __global float *out, uint n, uint w,
                              uint h, float k0, float k1, float k2, float k3, float k4, float k5,
                              float k6, float k7, float k8) {
  const float k[9] = {k0, k1, k2, k3, k4, k5, k6, k7, k8};
  MAESTRO_CONV_BODY(1)
}

__kernel void maestro_conv5x5(__global const float *in, __global float *out, uint n, uint w,
                              uint h, float k0, float k1, float k2, float k3, float k4, float k5,
                              float k6, float k7, float k8, float k9, float k10, float k11,
                              float k12, float k13, float k14, float k15, float k16, float k17,
                              float k18, float k19, float k20, float k21, float k22, float k23,
                              float k24) {
  const float k[25] = {k0,  k1,  k2,  k3,  k4,  k5,  k6,  k7,  k8,  k9,  k10, k11, k12,
                       k13, k14, k15, k16, k17, k18, k19, k20, k21, k22, k23, k24};
  MAESTRO_CONV_BODY(2)
}
