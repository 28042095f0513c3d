/* matrixmul.cl: tiled matrix product C = A x B, standing in for the NVIDIA
 * OpenCL SDK sample "matrixMul" (oclMatrixMul) in Maestro's examples: the
 * same algorithm and launch (16 x 16 work-groups fixed by
 * reqd_work_group_size, one 16 x 16 tile of A and one of B staged in
 * __local memory per step, the same argument list C, A, B, As, Bs, wA, wB),
 * so that a host program written for the sample drives it unchanged.
 * Where it comes from: written for Maestro from that sample's published
 * algorithm (the textbook tiling); no text of NVIDIA's file is copied, as
 * the SDK's licence ("Copyright 1993-2010 NVIDIA Corporation", NVIDIA SDK
 * EULA) is not one under which its file may be redistributed here.
 * Every dimension must be a multiple of TILE (the host refuses others). */
#define TILE 16

__kernel __attribute__((reqd_work_group_size(TILE, TILE, 1))) void
matrixMul(__global float *c, __global const float *a, __global const float *b,
          __local float *tile_a, __local float *tile_b, int a_cols, int b_cols) {
  const int lx = get_local_id(0), ly = get_local_id(1);
  const int col = get_global_id(0), row = get_global_id(1);
  float sum = 0.0f;
  for (int t = 0; t < a_cols; t += TILE) {
    tile_a[ly * TILE + lx] = a[row * a_cols + t + lx];
    tile_b[ly * TILE + lx] = b[(t + ly) * b_cols + col];
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int k = 0; k < TILE; k++)
      sum += tile_a[ly * TILE + k] * tile_b[k * TILE + lx];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  c[row * b_cols + col] = sum;
}
