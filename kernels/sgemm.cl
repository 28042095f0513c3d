/* C = A * B, row-major: A is m x k, B is k x n, C is m x n. With
 * work-groups of 256 each group computes 16x16 tiles of C, staging 16x16
 * tiles of A and B in local memory, and loops over C's tiles (so any global
 * range works); with another work-group size it falls back to one element
 * of C per work-item. na, nb: element counts of the A and B messages. */
#pragma OPENCL FP_CONTRACT ON
#define MAESTRO_GTILE 16u

__kernel void maestro_sgemm(__global const float *A, __global const float *B, __global float *C,
                            uint na, uint nb, uint m, uint n, uint k) {
  __local float As[MAESTRO_GTILE][MAESTRO_GTILE];
  __local float Bs[MAESTRO_GTILE][MAESTRO_GTILE + 1];
  if ((ulong)m * k != na || (ulong)k * n != nb)
    return; /* mismatched messages: the CPU implementation reports it */
  if (get_local_size(0) != MAESTRO_GTILE * MAESTRO_GTILE) {
    for (size_t i = get_global_id(0); i < (size_t)m * n; i += get_global_size(0)) {
      size_t row = i / n, col = i % n;
      float acc = 0.0f;
      for (uint kk = 0; kk < k; kk++)
        acc += A[row * k + kk] * B[(size_t)kk * n + col];
      C[i] = acc;
    }
    return;
  }
  uint lid = (uint)get_local_id(0);
  uint tx = lid % MAESTRO_GTILE, ty = lid / MAESTRO_GTILE;
  uint tiles_n = (n + MAESTRO_GTILE - 1) / MAESTRO_GTILE;
  uint tiles = tiles_n * ((m + MAESTRO_GTILE - 1) / MAESTRO_GTILE);
  for (uint t = (uint)get_group_id(0); t < tiles; t += (uint)get_num_groups(0)) {
    uint row = (t / tiles_n) * MAESTRO_GTILE + ty;
    uint col = (t % tiles_n) * MAESTRO_GTILE + tx;
    float acc = 0.0f;
    for (uint k0 = 0; k0 < k; k0 += MAESTRO_GTILE) {
      As[ty][tx] = (row < m && k0 + tx < k) ? A[(size_t)row * k + k0 + tx] : 0.0f;
      Bs[ty][tx] = (k0 + ty < k && col < n) ? B[(size_t)(k0 + ty) * n + col] : 0.0f;
      barrier(CLK_LOCAL_MEM_FENCE);
      for (uint kk = 0; kk < MAESTRO_GTILE; kk++)
        acc += As[ty][kk] * Bs[kk][tx];
      barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (row < m && col < n)
      C[(size_t)row * n + col] = acc;
  }
}
