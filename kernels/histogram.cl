/* 256-bin histograms into a u32[256] message, in one launch for any n:
 * work-group 0 counts into local memory with local atomics, then writes
 * the bins; other work-groups leave at once (so the output needs no
 * zeroing before the launch). Works with any work-group size. */
#pragma OPENCL FP_CONTRACT OFF

#define MAESTRO_HIST_BODY(BIN)                                                                     \
  __local uint bins[256];                                                                          \
  if (get_group_id(0) != 0)                                                                        \
    return;                                                                                        \
  uint lid = (uint)get_local_id(0), lanes = (uint)get_local_size(0);                               \
  for (uint b = lid; b < 256u; b += lanes)                                                         \
    bins[b] = 0;                                                                                   \
  barrier(CLK_LOCAL_MEM_FENCE);                                                                    \
  for (uint i = lid; i < n; i += lanes)                                                            \
    atomic_inc(&bins[BIN(x[i])]);                                                                  \
  barrier(CLK_LOCAL_MEM_FENCE);                                                                    \
  for (uint b = lid; b < 256u; b += lanes)                                                         \
    hist[b] = bins[b];

#define MAESTRO_HIST_U8_BIN(v) (v)

/* hist[v] = number of bytes equal to v. */
__kernel void maestro_histogram_u8(__global const uchar *x, __global uint *hist, uint n) {
  MAESTRO_HIST_BODY(MAESTRO_HIST_U8_BIN)
}

/* Bin of v over [lo, lo + 256 / scale): t = (v - lo) * scale, truncated;
 * below the range (and NaN) -> bin 0, at or above it -> bin 255. The host
 * computes scale = 256 / (hi - lo) once so that CPU and device agree. */
uint maestro_hist_f32_bin(float v, float lo, float scale) {
  float t = (v - lo) * scale;
  if (!(t >= 0.0f))
    return 0;
  if (t >= 256.0f)
    return 255;
  return min((uint)t, 255u);
}

#define MAESTRO_HIST_F32_BIN(v) maestro_hist_f32_bin((v), lo, scale)

__kernel void maestro_histogram_f32(__global const float *x, __global uint *hist, uint n, float lo,
                                    float scale) {
  MAESTRO_HIST_BODY(MAESTRO_HIST_F32_BIN)
}
