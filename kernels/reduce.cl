/* Reductions (sum, min, max) of a whole f32 message into one f32, in one
 * launch for any n. Up to 64 work-groups each reduce a share of the input
 * and leave their partial in `scratch`, a zero-filled buffer of
 * 1 + 64 uints private to the launch; the group that finishes last (an
 * atomic counter in scratch[0]) combines the partials in group order and
 * writes the result. Deterministic for a given launch shape. Works with any
 * work-group size (lanes beyond 256 stay idle) and any global range
 * (groups beyond 64 leave at once).
 *
 * Each lane reads whole blocks of 16 floats (one 64-byte line, vload16),
 * blocks interleaved over lanes: a GPU warp still reads one contiguous
 * stretch per step (coalesced), and a CPU device (PoCL runs a work-group's
 * work-items one after another) uses every cache line it touches. Reading
 * one float per lane with a lane stride ran 20x slower on PoCL. */
#pragma OPENCL FP_CONTRACT ON

#define MAESTRO_RED_LANES 256u
#define MAESTRO_RED_GROUPS 64u

#define MAESTRO_RED_SUM(a, b) ((a) + (b))
#define MAESTRO_RED_MIN(a, b) fmin((a), (b))
#define MAESTRO_RED_MAX(a, b) fmax((a), (b))

/* part[0] = OP over part[0 .. width); every work-item of the group calls it. */
#define MAESTRO_RED_TREE(OP, part, width0, lid)                                                    \
  for (uint width = (width0); width > 1;) {                                                        \
    uint hw = (width + 1) / 2;                                                                     \
    if ((lid) + hw < width)                                                                        \
      part[lid] = OP(part[lid], part[(lid) + hw]);                                                 \
    barrier(CLK_LOCAL_MEM_FENCE);                                                                  \
    width = hw;                                                                                    \
  }

#define MAESTRO_REDUCE(NAME, OP, IDENTITY)                                                         \
  __kernel void NAME(__global const float *x, __global float *out, uint n,                        \
                     __global uint *scratch) {                                                     \
    __local float part[MAESTRO_RED_LANES];                                                         \
    __local int is_last;                                                                           \
    uint g = (uint)get_group_id(0);                                                                \
    uint ng = min((uint)get_num_groups(0), MAESTRO_RED_GROUPS);                                    \
    if (g >= ng)                                                                                   \
      return; /* the whole group leaves: no barrier is split */                                   \
    uint lid = (uint)get_local_id(0);                                                              \
    uint lanes = min((uint)get_local_size(0), MAESTRO_RED_LANES);                                  \
    if (lid < lanes) {                                                                             \
      float acc = IDENTITY;                                                                        \
      uint nb = n / 16u; /* whole blocks of 16 (a cache line), interleaved over lanes */          \
      for (uint b = g * lanes + lid; b < nb; b += ng * lanes) {                                    \
        float16 v = vload16(b, x);                                                                 \
        float8 h8 = OP(v.lo, v.hi);                                                                \
        float4 h4 = OP(h8.lo, h8.hi);                                                              \
        float2 h2 = OP(h4.lo, h4.hi);                                                              \
        acc = OP(acc, OP(h2.x, h2.y));                                                             \
      }                                                                                            \
      for (uint i = nb * 16u + g * lanes + lid; i < n; i += ng * lanes)                            \
        acc = OP(acc, x[i]);                                                                       \
      part[lid] = acc;                                                                             \
    }                                                                                              \
    barrier(CLK_LOCAL_MEM_FENCE);                                                                  \
    MAESTRO_RED_TREE(OP, part, lanes, lid)                                                         \
    if (lid == 0) {                                                                                \
      atomic_xchg(&scratch[1 + g], as_uint(part[0]));                                              \
      mem_fence(CLK_GLOBAL_MEM_FENCE);                                                             \
      is_last = atomic_inc(&scratch[0]) == ng - 1;                                                 \
    }                                                                                              \
    barrier(CLK_LOCAL_MEM_FENCE);                                                                  \
    if (!is_last)                                                                                  \
      return; /* uniform in the group */                                                           \
    if (lid < lanes) {                                                                             \
      float acc = IDENTITY;                                                                        \
      for (uint j = lid; j < ng; j += lanes)                                                       \
        acc = OP(acc, as_float(atomic_or(&scratch[1 + j], 0u)));                                  \
      part[lid] = acc;                                                                             \
    }                                                                                              \
    barrier(CLK_LOCAL_MEM_FENCE);                                                                  \
    MAESTRO_RED_TREE(OP, part, lanes, lid)                                                         \
    if (lid == 0)                                                                                  \
      out[0] = part[0];                                                                            \
  }

MAESTRO_REDUCE(maestro_reduce_sum, MAESTRO_RED_SUM, 0.0f)
MAESTRO_REDUCE(maestro_reduce_min, MAESTRO_RED_MIN, INFINITY)
MAESTRO_REDUCE(maestro_reduce_max, MAESTRO_RED_MAX, -INFINITY)
