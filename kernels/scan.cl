/* Inclusive prefix sum of an f32 message, in one launch for any n:
 * work-group 0 walks the input in chunks of lanes * 32 elements. Each lane
 * sums its 32 consecutive elements, the lanes' totals are scanned in local
 * memory (Hillis-Steele), then each lane walks its elements again writing
 * the running sums, starting from the carry of the chunks before and the
 * totals of the lanes before. Consecutive elements per lane keep a CPU
 * device (PoCL runs work-items one after another) on whole cache lines, and
 * 32 of them per barrier keep the barriers rare: 3-5x faster on PoCL than 4
 * per lane. Works with any work-group size (lanes beyond 256 stay idle). A
 * scan across work-groups would need one group to wait for another, which
 * OpenCL 1.2 does not promise to allow. */
#pragma OPENCL FP_CONTRACT ON

#define MAESTRO_SCAN_LANES 256u
#define MAESTRO_SCAN_PER 32u

__kernel void maestro_scan_sum(__global const float *x, __global float *y, uint n) {
  __local float part[MAESTRO_SCAN_LANES];
  if (get_group_id(0) != 0)
    return;
  uint lid = (uint)get_local_id(0);
  uint lanes = min((uint)get_local_size(0), MAESTRO_SCAN_LANES);
  int active = lid < lanes;
  float carry = 0.0f;
  for (uint base = 0; base < n; base += lanes * MAESTRO_SCAN_PER) {
    uint first = base + lid * MAESTRO_SCAN_PER;
    uint last = min(first + MAESTRO_SCAN_PER, n);
    float s = 0.0f;
    if (active)
      for (uint i = first; i < last; i++)
        s += x[i];
    if (active)
      part[lid] = s;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint off = 1; off < lanes; off <<= 1) {
      float t = (active && lid >= off) ? part[lid - off] : 0.0f;
      barrier(CLK_LOCAL_MEM_FENCE);
      if (active)
        part[lid] += t;
      barrier(CLK_LOCAL_MEM_FENCE);
    }
    float run = carry + ((active && lid > 0) ? part[lid - 1] : 0.0f);
    if (active)
      for (uint i = first; i < last; i++) {
        run += x[i];
        y[i] = run;
      }
    carry += part[lanes - 1];
    barrier(CLK_LOCAL_MEM_FENCE); /* everyone read part[] before the next chunk writes it */
  }
}
