/* 256-bin histograms into a u32[256] message, in one launch for any n.
 * Up to 64 work-groups each count a share of the input (blocks of 16
 * elements interleaved over lanes, as in reduce.cl) into local
 * memory (local atomics), then add their non-zero bins into `scratch`, a
 * zero-filled buffer of 1 + 256 uints private to the launch (global
 * atomics); the group that finishes last (an atomic counter in scratch[0])
 * copies the totals to the output. Works with any work-group size and any
 * global range (groups beyond 64 leave at once). */
#pragma OPENCL FP_CONTRACT OFF

#define MAESTRO_HIST_GROUPS 64u

#define MAESTRO_HIST_BODY(BIN)                                                                     \
  __local uint bins[256];                                                                          \
  __local int is_last;                                                                             \
  uint g = (uint)get_group_id(0);                                                                  \
  uint ng = min((uint)get_num_groups(0), MAESTRO_HIST_GROUPS);                                     \
  if (g >= ng)                                                                                     \
    return;                                                                                        \
  uint lid = (uint)get_local_id(0), lanes = (uint)get_local_size(0);                               \
  for (uint b = lid; b < 256u; b += lanes)                                                         \
    bins[b] = 0;                                                                                   \
  barrier(CLK_LOCAL_MEM_FENCE);                                                                    \
  uint nb = n / 16u; /* whole blocks of 16, interleaved over lanes (see reduce.cl) */             \
  for (uint b = g * lanes + lid; b < nb; b += ng * lanes)                                          \
    for (uint j = 0; j < 16u; j++)                                                                 \
      atomic_inc(&bins[BIN(x[b * 16u + j])]);                                                      \
  for (uint i = nb * 16u + g * lanes + lid; i < n; i += ng * lanes)                                \
    atomic_inc(&bins[BIN(x[i])]);                                                                  \
  barrier(CLK_LOCAL_MEM_FENCE);                                                                    \
  for (uint b = lid; b < 256u; b += lanes)                                                         \
    if (bins[b])                                                                                   \
      atomic_add(&scratch[1 + b], bins[b]);                                                        \
  barrier(CLK_GLOBAL_MEM_FENCE); /* every add of this group before the count */                   \
  if (lid == 0) {                                                                                  \
    mem_fence(CLK_GLOBAL_MEM_FENCE);                                                               \
    is_last = atomic_inc(&scratch[0]) == ng - 1;                                                   \
  }                                                                                                \
  barrier(CLK_LOCAL_MEM_FENCE);                                                                    \
  if (!is_last)                                                                                    \
    return;                                                                                        \
  for (uint b = lid; b < 256u; b += lanes)                                                         \
    hist[b] = atomic_or(&scratch[1 + b], 0u);

#define MAESTRO_HIST_U8_BIN(v) (v)

/* hist[v] = number of bytes equal to v. */
__kernel void maestro_histogram_u8(__global const uchar *x, __global uint *hist, uint n,
                                   __global uint *scratch) {
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
                                    float scale, __global uint *scratch) {
  MAESTRO_HIST_BODY(MAESTRO_HIST_F32_BIN)
}
