/* matrixmul.cl: tiled matrix product C = A x B, ported from the NVIDIA
 * OpenCL SDK sample "matrixMul" (oclMatrixMul/matrixMul.cl, NVIDIA GPU
 * Computing SDK 3.x/4.x: "Copyright 1993-2010 NVIDIA Corporation. All
 * rights reserved.", distributed under the NVIDIA SDK end user licence
 * agreement; see the SDK for its terms).
 * Where it comes from: the algorithm, the tiling (BLOCK_SIZE x BLOCK_SIZE
 * work-groups, one tile of A and one of B staged in __local memory per
 * step), the argument order (C, A, B, As, Bs, wA, wB) and the AS/BS
 * accessors follow that sample; this text is a rewrite for Maestro's
 * examples, not the SDK's file. Like the original it needs every dimension
 * a multiple of BLOCK_SIZE (the host refuses others). */
#define BLOCK_SIZE 16
#define AS(i, j) As[(j) + (i)*BLOCK_SIZE]
#define BS(i, j) Bs[(j) + (i)*BLOCK_SIZE]

__kernel __attribute__((reqd_work_group_size(BLOCK_SIZE, BLOCK_SIZE, 1))) void
matrixMul(__global float *C, __global const float *A, __global const float *B,
          __local float *As, __local float *Bs, int wA, int wB) {
  const int bx = get_group_id(0), by = get_group_id(1);
  const int tx = get_local_id(0), ty = get_local_id(1);
  /* A's tiles of this block row, B's of this block column */
  const int aBegin = wA * BLOCK_SIZE * by, aEnd = aBegin + wA - 1, aStep = BLOCK_SIZE;
  const int bBegin = BLOCK_SIZE * bx, bStep = BLOCK_SIZE * wB;
  float Csub = 0.0f;
  for (int a = aBegin, b = bBegin; a <= aEnd; a += aStep, b += bStep) {
    AS(ty, tx) = A[a + wA * ty + tx];
    BS(ty, tx) = B[b + wB * ty + tx];
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int k = 0; k < BLOCK_SIZE; ++k)
      Csub += AS(ty, k) * BS(k, tx);
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  C[get_global_id(1) * get_global_size(0) + get_global_id(0)] = Csub;
}
