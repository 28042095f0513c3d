/* 3x3 and 5x5 convolutions of a row-major f32 image (w columns, h rows,
 * n = w * h), clamp-to-edge, one work-item per output pixel. The weights
 * are applied as a correlation: k[0] is the top-left tap, at (x-r, y-r).
 * FP_CONTRACT OFF and the same order of taps as the CPU implementation:
 * both give the same bits. */
#pragma OPENCL FP_CONTRACT OFF

float maestro_conv_px(__global const float *in, int w, int h, int x, int y, int r,
                      const float *k) {
  float acc = 0.0f;
  int t = 0;
  for (int dy = -r; dy <= r; dy++) {
    int yy = clamp(y + dy, 0, h - 1);
    for (int dx = -r; dx <= r; dx++) {
      int xx = clamp(x + dx, 0, w - 1);
      float p = k[t++] * in[(size_t)yy * w + xx];
      acc = acc + p;
    }
  }
  return acc;
}

__kernel void maestro_conv3x3(__global const float *in, __global float *out, uint n, uint w,
                              uint h, float k0, float k1, float k2, float k3, float k4, float k5,
                              float k6, float k7, float k8) {
  size_t i = get_global_id(0);
  if (i >= n || (ulong)w * h != n)
    return;
  const float k[9] = {k0, k1, k2, k3, k4, k5, k6, k7, k8};
  out[i] = maestro_conv_px(in, (int)w, (int)h, (int)(i % w), (int)(i / w), 1, k);
}

__kernel void maestro_conv5x5(__global const float *in, __global float *out, uint n, uint w,
                              uint h, float k0, float k1, float k2, float k3, float k4, float k5,
                              float k6, float k7, float k8, float k9, float k10, float k11,
                              float k12, float k13, float k14, float k15, float k16, float k17,
                              float k18, float k19, float k20, float k21, float k22, float k23,
                              float k24) {
  size_t i = get_global_id(0);
  if (i >= n || (ulong)w * h != n)
    return;
  const float k[25] = {k0,  k1,  k2,  k3,  k4,  k5,  k6,  k7,  k8,  k9,  k10, k11, k12,
                       k13, k14, k15, k16, k17, k18, k19, k20, k21, k22, k23, k24};
  out[i] = maestro_conv_px(in, (int)w, (int)h, (int)(i % w), (int)(i / w), 2, k);
}
