/* C = A * B, row-major: A is m x k, B is k x n, C is m x n.
 *
 * With work-groups of 256 (16 x 16 work-items) each group computes 64 x 64
 * tiles of C: it stages a 64 x 16 tile of A and a 16 x 64 tile of B in local
 * memory (16 x 16 = 256 work-items, 4 loads each) and every work-item keeps a
 * 4 x 4 block of C in registers, rows ty + 16 i and columns tx + 16 j, so that
 * neighbouring work-items touch neighbouring columns (coalesced on a GPU,
 * vector lanes on a CPU device). Groups loop over C's tiles, so any global
 * range works. With another work-group size it falls back to one element of
 * C per work-item. na, nb: element counts of the A and B messages. */
#pragma OPENCL FP_CONTRACT ON
#define MAESTRO_GB 64u /* C tile edge */
#define MAESTRO_GK 16u /* depth of a staged tile */

__kernel void maestro_sgemm(__global const float *A, __global const float *B, __global float *C,
                            uint na, uint nb, uint m, uint n, uint k) {
  __local float As[MAESTRO_GK][MAESTRO_GB + 1]; /* As[kk][row]: A transposed */
  __local float Bs[MAESTRO_GK][MAESTRO_GB];
  if ((ulong)m * k != na || (ulong)k * n != nb)
    return; /* mismatched messages: the CPU implementation reports it */
  if (get_local_size(0) != 256) {
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
  uint tx = lid % 16u, ty = lid / 16u;
  uint tiles_n = (n + MAESTRO_GB - 1) / MAESTRO_GB;
  uint tiles = tiles_n * ((m + MAESTRO_GB - 1) / MAESTRO_GB);
  for (uint t = (uint)get_group_id(0); t < tiles; t += (uint)get_num_groups(0)) {
    uint row0 = (t / tiles_n) * MAESTRO_GB, col0 = (t % tiles_n) * MAESTRO_GB;
    float acc[4][4];
    for (uint i = 0; i < 4; i++)
      for (uint j = 0; j < 4; j++)
        acc[i][j] = 0.0f;
    for (uint k0 = 0; k0 < k; k0 += MAESTRO_GK) {
      /* A tile: 64 rows x 16 deep; work-item (tx, ty) loads column tx of rows ty + 16 i */
      for (uint i = 0; i < 4; i++) {
        uint r = row0 + ty + 16u * i, c = k0 + tx;
        As[tx][ty + 16u * i] = (r < m && c < k) ? A[(size_t)r * k + c] : 0.0f;
      }
      /* B tile: 16 deep x 64 columns; work-item (tx, ty) loads row ty, columns tx + 16 j */
      for (uint j = 0; j < 4; j++) {
        uint r = k0 + ty, c = col0 + tx + 16u * j;
        Bs[ty][tx + 16u * j] = (r < k && c < n) ? B[(size_t)r * n + c] : 0.0f;
      }
      barrier(CLK_LOCAL_MEM_FENCE);
      for (uint kk = 0; kk < MAESTRO_GK; kk++) {
        float a[4], b[4];
        for (uint i = 0; i < 4; i++)
          a[i] = As[kk][ty + 16u * i];
        for (uint j = 0; j < 4; j++)
          b[j] = Bs[kk][tx + 16u * j];
        for (uint i = 0; i < 4; i++)
          for (uint j = 0; j < 4; j++)
            acc[i][j] += a[i] * b[j];
      }
      barrier(CLK_LOCAL_MEM_FENCE);
    }
    for (uint i = 0; i < 4; i++)
      for (uint j = 0; j < 4; j++) {
        uint r = row0 + ty + 16u * i, c = col0 + tx + 16u * j;
        if (r < m && c < n)
          C[(size_t)r * n + c] = acc[i][j];
      }
  }
}
