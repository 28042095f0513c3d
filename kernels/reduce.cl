/* Reductions (sum, min, max) of a whole f32 message into one f32, in one
 * launch for any n: work-group 0 loops over the input (each lane a strided
 * partial, coalesced), then a tree in local memory; other work-groups leave
 * at once. Works with any work-group size (lanes beyond 256 stay idle). */
#pragma OPENCL FP_CONTRACT ON

#define MAESTRO_RED_LANES 256u

#define MAESTRO_RED_SUM(a, b) ((a) + (b))
#define MAESTRO_RED_MIN(a, b) fmin((a), (b))
#define MAESTRO_RED_MAX(a, b) fmax((a), (b))

#define MAESTRO_REDUCE(NAME, OP, IDENTITY)                                                         \
  __kernel void NAME(__global const float *x, __global float *out, uint n) {                      \
    __local float part[MAESTRO_RED_LANES];                                                         \
    if (get_group_id(0) != 0)                                                                      \
      return; /* the whole group leaves: no barrier is split */                                   \
    uint lid = (uint)get_local_id(0);                                                              \
    uint lanes = min((uint)get_local_size(0), MAESTRO_RED_LANES);                                  \
    if (lid < lanes) {                                                                             \
      float acc = IDENTITY;                                                                        \
      for (uint i = lid; i < n; i += lanes)                                                        \
        acc = OP(acc, x[i]);                                                                       \
      part[lid] = acc;                                                                             \
    }                                                                                              \
    barrier(CLK_LOCAL_MEM_FENCE);                                                                  \
    for (uint width = lanes; width > 1;) {                                                         \
      uint hw = (width + 1) / 2;                                                                 \
      if (lid + hw < width)                                                                      \
        part[lid] = OP(part[lid], part[lid + hw]);                                               \
      barrier(CLK_LOCAL_MEM_FENCE);                                                                \
      width = hw;                                                                                \
    }                                                                                              \
    if (lid == 0)                                                                                  \
      out[0] = part[0];                                                                            \
  }

MAESTRO_REDUCE(maestro_reduce_sum, MAESTRO_RED_SUM, 0.0f)
MAESTRO_REDUCE(maestro_reduce_min, MAESTRO_RED_MIN, INFINITY)
MAESTRO_REDUCE(maestro_reduce_max, MAESTRO_RED_MAX, -INFINITY)
