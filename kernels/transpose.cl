/* Transpose of a row-major f32 matrix of h rows and w columns (n = w * h)
 * into w rows of h columns. With work-groups of 256, each group moves
 * 16x16 tiles through local memory (coalesced reads and writes) and loops
 * over tiles, so any global range is enough; with another work-group size
 * it falls back to one element per work-item. */
#define MAESTRO_TILE 16u

__kernel void maestro_transpose(__global const float *in, __global float *out, uint n, uint w,
                                uint h) {
  __local float tile[MAESTRO_TILE][MAESTRO_TILE + 1];
  if ((ulong)w * h != n)
    return; /* mismatched message: the CPU implementation reports it */
  if (get_local_size(0) != MAESTRO_TILE * MAESTRO_TILE) {
    for (size_t i = get_global_id(0); i < n; i += get_global_size(0)) {
      uint x = (uint)(i % w), y = (uint)(i / w);
      out[(size_t)x * h + y] = in[i];
    }
    return;
  }
  uint lid = (uint)get_local_id(0);
  uint tx = lid % MAESTRO_TILE, ty = lid / MAESTRO_TILE;
  uint tiles_x = (w + MAESTRO_TILE - 1) / MAESTRO_TILE;
  uint tiles = tiles_x * ((h + MAESTRO_TILE - 1) / MAESTRO_TILE);
  for (uint t = (uint)get_group_id(0); t < tiles; t += (uint)get_num_groups(0)) {
    uint bx = (t % tiles_x) * MAESTRO_TILE, by = (t / tiles_x) * MAESTRO_TILE;
    uint x = bx + tx, y = by + ty;
    if (x < w && y < h)
      tile[ty][tx] = in[(size_t)y * w + x];
    barrier(CLK_LOCAL_MEM_FENCE);
    uint ox = by + tx, oy = bx + ty; /* output column (input row), output row */
    if (ox < h && oy < w)
      out[(size_t)oy * h + ox] = tile[tx][ty];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
}
