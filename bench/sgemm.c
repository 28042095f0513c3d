/* sgemm: GFLOP/s of the bundled SGEMM agent (kernels/sgemm.cl through a
 * graph, pinned to device 0) against the same kernel called raw through
 * OpenCL in the same run, and of the CPU implementation (runtime/kern).
 *
 *   sgemm [N] [REPS]     square N x N matrices, REPS multiplications each
 *
 * Both device figures count a whole message: inputs to the device, the
 * kernel, the product back to the host (the raw loop: write A and B,
 * enqueue, read C, wait). The raw kernel alone is printed too. The ratio
 * printed is agent / raw (1.0 = no overhead). Every figure is the best of
 * REPS (the machine is shared and noisy); the agent's is the mean over a
 * stream of REPS messages, which pipelines, and its own best. */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kern/kern.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* GFLOP/s of one n x n x n product taking `s` seconds. */
static double gflops(uint32_t n, double s) {
  return 2.0 * n * n * (double)n / s * 1e-9;
}

static float max_err(const float *a, const float *b, size_t n) {
  float e = 0;
  for (size_t i = 0; i < n; i++)
    e = fmaxf(e, fabsf(a[i] - b[i]));
  return e;
}

#define CHECK(x)                                                                                   \
  do {                                                                                             \
    cl_int e_ = (x);                                                                               \
    if (e_ != CL_SUCCESS) {                                                                        \
      fprintf(stderr, "%s:%d: %s = %d\n", __FILE__, __LINE__, #x, e_);                             \
      return -1;                                                                                   \
    }                                                                                              \
  } while (0)

/* The raw baseline: the bundled kernel with the bundled agent's own
 * argument bindings and work-group size. Fills *msg_s (whole messages) and
 * *kern_s (kernels only, inputs already on the device). */
static int raw_sgemm(const maestro_bundled_agent_t *ba, const float *a, const float *b, float *c,
                     int reps, double *msg_s, double *kern_s) {
  const maestro_bundled_params_t *p = &ba->params;
  size_t na = (size_t)p->m * p->k, nb = (size_t)p->k * p->n, nc = (size_t)p->m * p->n;
  cl_platform_id plat;
  cl_device_id dev;
  cl_int err;
  CHECK(clGetPlatformIDs(1, &plat, NULL));
  CHECK(clGetDeviceIDs(plat, CL_DEVICE_TYPE_ALL, 1, &dev, NULL));
  cl_context ctx = clCreateContext(NULL, 1, &dev, NULL, NULL, &err);
  CHECK(err);
  cl_command_queue q = clCreateCommandQueue(ctx, dev, 0, &err);
  CHECK(err);
  const char *src = maestro_bundled_source();
  cl_program prog = clCreateProgramWithSource(ctx, 1, &src, NULL, &err);
  CHECK(err);
  CHECK(clBuildProgram(prog, 1, &dev, "", NULL, NULL));
  cl_kernel k = clCreateKernel(prog, ba->kernel.name, &err);
  CHECK(err);
  cl_mem ma = clCreateBuffer(ctx, CL_MEM_READ_ONLY, na * 4, NULL, &err);
  CHECK(err);
  cl_mem mb = clCreateBuffer(ctx, CL_MEM_READ_ONLY, nb * 4, NULL, &err);
  CHECK(err);
  cl_mem mc = clCreateBuffer(ctx, CL_MEM_WRITE_ONLY, nc * 4, NULL, &err);
  CHECK(err);
  cl_uint uv[5] = {(cl_uint)na, (cl_uint)nb, p->m, p->n, p->k};
  CHECK(clSetKernelArg(k, 0, sizeof ma, &ma));
  CHECK(clSetKernelArg(k, 1, sizeof mb, &mb));
  CHECK(clSetKernelArg(k, 2, sizeof mc, &mc));
  for (cl_uint i = 0; i < 5; i++)
    CHECK(clSetKernelArg(k, 3 + i, sizeof(cl_uint), &uv[i]));
  size_t local = ba->kernel.local_size;
  size_t items = ba->kernel.global_count; /* one work-group per tile of C, as the agent asks */
  size_t global = (items + local - 1) / local * local;
  /* warm-up (and the result checked by the caller) */
  CHECK(clEnqueueWriteBuffer(q, ma, CL_FALSE, 0, na * 4, a, 0, NULL, NULL));
  CHECK(clEnqueueWriteBuffer(q, mb, CL_FALSE, 0, nb * 4, b, 0, NULL, NULL));
  CHECK(clEnqueueNDRangeKernel(q, k, 1, NULL, &global, &local, 0, NULL, NULL));
  CHECK(clEnqueueReadBuffer(q, mc, CL_TRUE, 0, nc * 4, c, 0, NULL, NULL));

  *msg_s = *kern_s = 1e30;
  for (int r = 0; r < reps; r++) {
    double t0 = now_s();
    CHECK(clEnqueueWriteBuffer(q, ma, CL_FALSE, 0, na * 4, a, 0, NULL, NULL));
    CHECK(clEnqueueWriteBuffer(q, mb, CL_FALSE, 0, nb * 4, b, 0, NULL, NULL));
    CHECK(clEnqueueNDRangeKernel(q, k, 1, NULL, &global, &local, 0, NULL, NULL));
    CHECK(clEnqueueReadBuffer(q, mc, CL_TRUE, 0, nc * 4, c, 0, NULL, NULL));
    *msg_s = fmin(*msg_s, now_s() - t0);
  }
  for (int r = 0; r < reps; r++) {
    double t0 = now_s();
    CHECK(clEnqueueNDRangeKernel(q, k, 1, NULL, &global, &local, 0, NULL, NULL));
    CHECK(clFinish(q));
    *kern_s = fmin(*kern_s, now_s() - t0);
  }
  clReleaseMemObject(ma);
  clReleaseMemObject(mb);
  clReleaseMemObject(mc);
  clReleaseKernel(k);
  clReleaseProgram(prog);
  clReleaseCommandQueue(q);
  clReleaseContext(ctx);
  return 0;
}

#include <maestro.h>

/* The bundled SGEMM agent pinned to device 0, one message in flight at a
 * time like the raw loop: push A and B, pop C, read it on the host. */
static int agent_sgemm(maestro_bundled_agent_t *ba, const float *a, const float *b, float *c,
                       int reps, double *s, uint64_t *device_fires) {
  const maestro_bundled_params_t p = ba->params;
  size_t na = (size_t)p.m * p.k, nb = (size_t)p.k * p.n, nc = (size_t)p.m * p.n;
  maestro_runtime_t *rt;
  int st = maestro_runtime_create(NULL, &rt);
  if (st != MAESTRO_OK) return st;
  if (maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE) < 1) {
    maestro_runtime_destroy(rt);
    return 1;
  }
  maestro_graph_t *g = NULL;
  maestro_agent_t *ag;
  maestro_input_t *in_a, *in_b;
  maestro_output_t *out;
  if ((st = maestro_bundled_agent(MAESTRO_BUNDLED_SGEMM, "sgemm", &p, ba)) != MAESTRO_OK) goto done;
  ba->desc.affinity = (maestro_affinity_t){MAESTRO_ON_DEVICE, 0};
  if ((st = maestro_graph_create(rt, "bench_sgemm", &g)) ||
      (st = maestro_agent_add(g, &ba->desc, &ag)) ||
      (st = maestro_graph_input(g, ag, "a", &in_a)) ||
      (st = maestro_graph_input(g, ag, "b", &in_b)) ||
      (st = maestro_graph_output(g, ag, "c", &out)) || (st = maestro_graph_start(g)))
    goto done;
  *s = 1e30;
  for (int r = -1; r < reps && st == MAESTRO_OK; r++) { /* r = -1: warm-up */
    maestro_buf_t *ma, *mb, *mc;
    if ((st = maestro_buf_from(rt, a, na * 4, &ma)) != MAESTRO_OK) break;
    if ((st = maestro_buf_from(rt, b, nb * 4, &mb)) != MAESTRO_OK) {
      maestro_buf_release(ma);
      break;
    }
    double t0 = now_s();
    if ((st = maestro_input_push(in_a, ma)) || (st = maestro_input_push(in_b, mb)) ||
        (st = maestro_output_pop(out, &mc, -1)))
      break;
    const float *cc = maestro_buf_cdata(mc);
    double t = now_s() - t0;
    if (r >= 0) *s = fmin(*s, t);
    if (!cc || maestro_buf_size(mc) != nc * 4)
      st = MAESTRO_EINVAL;
    else
      memcpy(c, cc, nc * 4);
    maestro_buf_release(mc);
  }
  maestro_input_close(in_a);
  maestro_input_close(in_b);
  int wst = maestro_graph_wait(g);
  if (st == MAESTRO_OK) st = wst;
  maestro_agent_stats_t as;
  *device_fires = maestro_agent_stats(ag, &as) == MAESTRO_OK ? as.device_fires : 0;
done:
  maestro_graph_destroy(g);
  maestro_runtime_destroy(rt);
  return st;
}

int main(int argc, char **argv) {
  uint32_t n = argc > 1 ? (uint32_t)atoi(argv[1]) : 512;
  int reps = argc > 2 ? atoi(argv[2]) : 5;
  if (n < 1 || reps < 1) {
    fprintf(stderr, "usage: sgemm [N >= 1] [REPS >= 1]\n");
    return 2;
  }
  static maestro_bundled_agent_t ba;
  maestro_bundled_params_t p = {.m = n, .n = n, .k = n};
  if (kern_bundled_kernel(MAESTRO_BUNDLED_SGEMM, &p, &ba) != MAESTRO_OK) {
    fprintf(stderr, "sgemm: %s\n", maestro_last_error());
    return 1;
  }
  size_t nn = (size_t)n * n;
  float *a = malloc(nn * 4), *b = malloc(nn * 4), *want = malloc(nn * 4), *c = malloc(nn * 4);
  unsigned s = 1;
  for (size_t i = 0; i < nn; i++) {
    s = s * 1103515245u + 12345u;
    a[i] = (float)(s >> 16 & 1023) / 1024.0f - 0.5f;
    s = s * 1103515245u + 12345u;
    b[i] = (float)(s >> 16 & 1023) / 1024.0f - 0.5f;
  }
  printf("sgemm %ux%u, best of %d (one message = A and B in, C out)\n", n, n, reps);

  double cpu_s = 1e30;
  for (int r = 0; r < reps; r++) {
    double t0 = now_s();
    kern_sgemm(a, b, want, n, n, n);
    cpu_s = fmin(cpu_s, now_s() - t0);
  }
  printf("  cpu (runtime/kern, 1 thread)   %8.2f GFLOP/s\n", gflops(n, cpu_s));

  double raw_s, kern_s;
  if (raw_sgemm(&ba, a, b, c, reps, &raw_s, &kern_s) != 0) {
    fprintf(stderr, "sgemm: raw OpenCL failed (no device?)\n");
    return 1;
  }
  float tol = 1e-5f * (float)n + 1e-6f;
  if (max_err(c, want, nn) > tol) {
    fprintf(stderr, "sgemm: raw result differs from the CPU one by %g\n", max_err(c, want, nn));
    return 1;
  }
  printf("  raw OpenCL, kernel only        %8.2f GFLOP/s\n", gflops(n, kern_s));
  printf("  raw OpenCL, whole message      %8.2f GFLOP/s   (baseline)\n", gflops(n, raw_s));
  printf("  cpu vs raw message (GFLOP/s)   %8.2fx\n", raw_s / cpu_s);

  double agent_s;
  memset(c, 0, nn * 4);
  uint64_t device_fires = 0;
  int st = agent_sgemm(&ba, a, b, c, reps, &agent_s, &device_fires);
  if (st > 0) {
    printf("  agent                          (skipped: no OpenCL device)\n");
  } else if (st < 0) {
    fprintf(stderr, "sgemm: agent run failed: %s\n", maestro_last_error());
    return 1;
  } else {
    if (max_err(c, want, nn) > tol) {
      fprintf(stderr, "sgemm: agent result differs by %g\n", max_err(c, want, nn));
      return 1;
    }
    /* pinned to the device; say so if the engine fired it elsewhere */
    printf("  bundled agent, %-16s%8.2f GFLOP/s\n", device_fires ? "device 0" : "RAN ON A CPU",
           gflops(n, agent_s));
    printf("  agent / raw message            %8.2fx   (1.0 = no overhead)\n", raw_s / agent_s);
  }
  free(a), free(b), free(want), free(c);
  return 0;
}
