/* Inclusive prefix sum of an f32 message, in one launch for any n:
 * work-group 0 walks the input in chunks of lanes * 4 elements. Each lane
 * sums its 4 consecutive elements, the lanes' totals are scanned in local
 * memory (Hillis-Steele), and a running carry joins the chunks. Works with
 * any work-group size (lanes beyond 256 stay idle). */
#pragma OPENCL FP_CONTRACT ON

#define MAESTRO_SCAN_LANES 256u
#define MAESTRO_SCAN_PER 4u

__kernel void maestro_scan_sum(__global const float *x, __global float *y, uint n) {
  __local float part[MAESTRO_SCAN_LANES];
  if (get_group_id(0) != 0)
    return;
  uint lid = (uint)get_local_id(0);
  uint lanes = min((uint)get_local_size(0), MAESTRO_SCAN_LANES);
  int active = lid < lanes;
  float carry = 0.0f;
  for (uint base = 0; base < n; base += lanes * MAESTRO_SCAN_PER) {
    float v[MAESTRO_SCAN_PER];
    float s = 0.0f;
    uint first = base + lid * MAESTRO_SCAN_PER;
    for (uint j = 0; j < MAESTRO_SCAN_PER; j++) {
      uint i = first + j;
      s += (active && i < n) ? x[i] : 0.0f;
      v[j] = s;
    }
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
    float before = carry + ((active && lid > 0) ? part[lid - 1] : 0.0f);
    for (uint j = 0; j < MAESTRO_SCAN_PER; j++) {
      uint i = first + j;
      if (active && i < n)
        y[i] = before + v[j];
    }
    carry += part[lanes - 1];
    barrier(CLK_LOCAL_MEM_FENCE); /* everyone read part[] before the next chunk writes it */
  }
}
