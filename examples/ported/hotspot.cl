/* hotspot.cl: one explicit time step of a chip's temperature (a 2-D
 * five-point stencil with a power source), ported from Rodinia's "hotspot"
 * benchmark (Rodinia 3.1, opencl/hotspot/hotspot_kernel.cl and hotspot.c;
 * "Copyright (c)2008-2011 University of Virginia. All rights reserved.",
 * under Rodinia's BSD-style LICENSE: redistribution in source and binary
 * forms permitted provided the copyright notice, its conditions and
 * disclaimer are retained).
 * Where it comes from: the update rule, its coefficients (Cap, Rx, Ry, Rz,
 * step from the chip's size; ambient 80), the edge rule (a neighbour off the
 * grid is the cell itself) and the ping-pong between two grids follow
 * Rodinia; Rodinia's pyramid tiling (several steps per launch in __local
 * memory) is left out: here the host enqueues one launch per step, all of
 * a message's steps in one firing. This text is a rewrite, not Rodinia's
 * file. */
#define BLOCK 16

__kernel __attribute__((reqd_work_group_size(BLOCK, BLOCK, 1))) void
hotspot(__global const float *power, __global const float *temp_src, __global float *temp_dst,
        int grid_cols, int grid_rows, float step_div_Cap, float Rx_1, float Ry_1, float Rz_1,
        float amb_temp) {
  const int c = get_global_id(0), r = get_global_id(1);
  if (c >= grid_cols || r >= grid_rows) return;
  const int i = r * grid_cols + c;
  const float t = temp_src[i];
  const float n = temp_src[r > 0 ? i - grid_cols : i];
  const float s = temp_src[r < grid_rows - 1 ? i + grid_cols : i];
  const float w = temp_src[c > 0 ? i - 1 : i];
  const float e = temp_src[c < grid_cols - 1 ? i + 1 : i];
  temp_dst[i] = t + step_div_Cap * (power[i] + (s + n - 2.0f * t) * Ry_1 +
                                    (e + w - 2.0f * t) * Rx_1 + (amb_temp - t) * Rz_1);
}
