/* The raw CLBlast loop that examples/clblast_gemm --bench and
 * bench/libagents measure their SGEMM agents against: the library called by
 * hand on the runtime's device 0, one message at a time. Each caller fills
 * its own matrices and checks its own products. */
#ifndef MAESTRO_EXAMPLE_RAW_CLBLAST_H
#define MAESTRO_EXAMPLE_RAW_CLBLAST_H

#include <stdlib.h>

#include "example_util.h"
#include "raw_ocl.h"
#include <clblast_c.h>

/* `msgs` n x n x n products on device 0 of rt, in a queue of its own: for
 * message i, fill(A, B, n, i) on the host, write both, CLBlastSgemm
 * (row-major, C = A x B), read C back (blocking), right(C, n, i). Returns
 * how many products were right (it stops at a CLBlast error), -1 when no
 * queue could be made on device 0; the loop's seconds in *secs. */
static inline int raw_clblast_sgemm(maestro_runtime_t *rt, size_t n, int msgs,
                                    void (*fill)(float *a, float *b, size_t n, size_t seq),
                                    int (*right)(const float *c, size_t n, size_t seq),
                                    double *secs) {
  cl_context ctx;
  cl_device_id dev;
  cl_command_queue q = raw_ocl_queue(rt, 0, &ctx, &dev);
  if (!q) return -1;
  size_t bytes = n * n * sizeof(float);
  cl_int e;
  cl_mem a = clCreateBuffer(ctx, CL_MEM_READ_ONLY, bytes, NULL, &e);
  cl_mem b = clCreateBuffer(ctx, CL_MEM_READ_ONLY, bytes, NULL, &e);
  cl_mem c = clCreateBuffer(ctx, CL_MEM_READ_WRITE, bytes, NULL, &e);
  float *ha = malloc(bytes), *hb = malloc(bytes), *hc = malloc(bytes);
  int ok = 0;
  double t0 = now_s();
  for (int i = 0; a && b && c && ha && hb && hc && i < msgs; i++) {
    fill(ha, hb, n, (size_t)i);
    clEnqueueWriteBuffer(q, a, CL_FALSE, 0, bytes, ha, 0, NULL, NULL);
    clEnqueueWriteBuffer(q, b, CL_FALSE, 0, bytes, hb, 0, NULL, NULL);
    if (CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, n, n, n, 1.0f,
                     a, 0, n, b, 0, n, 0.0f, c, 0, n, &q, NULL) != CLBlastSuccess)
      break;
    clEnqueueReadBuffer(q, c, CL_TRUE, 0, bytes, hc, 0, NULL, NULL);
    ok += right(hc, n, (size_t)i);
  }
  *secs = now_s() - t0;
  free(ha);
  free(hb);
  free(hc);
  if (a) clReleaseMemObject(a);
  if (b) clReleaseMemObject(b);
  if (c) clReleaseMemObject(c);
  clReleaseCommandQueue(q);
  return ok;
}

#endif
