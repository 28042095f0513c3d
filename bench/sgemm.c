/* sgemm: GFLOP/s of the bundled SGEMM agent (kernels/sgemm.cl through a
 * graph, pinned to device 0) against the same kernel called raw through
 * OpenCL in the same run, and of the CPU implementation (runtime/kern).
 *
 *   sgemm [N] [REPS]     square N x N matrices, REPS multiplications each
 *
 * Both device figures count a whole message: A and B to the device, the
 * kernel, C back on the host. The raw loop writes A and B, enqueues, reads C
 * and waits; the agent run pushes A and B, pops C and reads it on the host.
 * The raw kernel alone is printed too. Raw and agent messages alternate, one
 * of each per round, so that both see the same load on this shared machine;
 * figures are the best of REPS, and the ratio agent / raw is the median of
 * the per-round ratios (1.0 = no overhead). */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <maestro.h>
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

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

#define CHECK(x)                                                                                   \
  do {                                                                                             \
    cl_int e_ = (x);                                                                               \
    if (e_ != CL_SUCCESS) {                                                                        \
      fprintf(stderr, "%s:%d: %s = %d\n", __FILE__, __LINE__, #x, e_);                             \
      return -1;                                                                                   \
    }                                                                                              \
  } while (0)

/* ---- the raw baseline: the bundled kernel with the bundled agent's own
 * argument bindings, work-group size and range ---- */
typedef struct raw {
  cl_context ctx;
  cl_command_queue q;
  cl_program prog;
  cl_kernel k;
  cl_mem a, b, c;
  size_t na, nb, nc, global, local;
} raw_t;

static int raw_open(raw_t *r, const maestro_bundled_agent_t *ba) {
  const maestro_bundled_params_t *p = &ba->params;
  r->na = (size_t)p->m * p->k, r->nb = (size_t)p->k * p->n, r->nc = (size_t)p->m * p->n;
  cl_platform_id plat;
  cl_device_id dev;
  cl_int err;
  CHECK(clGetPlatformIDs(1, &plat, NULL));
  CHECK(clGetDeviceIDs(plat, CL_DEVICE_TYPE_ALL, 1, &dev, NULL));
  r->ctx = clCreateContext(NULL, 1, &dev, NULL, NULL, &err);
  CHECK(err);
  r->q = clCreateCommandQueue(r->ctx, dev, 0, &err);
  CHECK(err);
  const char *src = maestro_bundled_source();
  r->prog = clCreateProgramWithSource(r->ctx, 1, &src, NULL, &err);
  CHECK(err);
  CHECK(clBuildProgram(r->prog, 1, &dev, "", NULL, NULL));
  r->k = clCreateKernel(r->prog, ba->kernel.name, &err);
  CHECK(err);
  r->a = clCreateBuffer(r->ctx, CL_MEM_READ_ONLY, r->na * 4, NULL, &err);
  CHECK(err);
  r->b = clCreateBuffer(r->ctx, CL_MEM_READ_ONLY, r->nb * 4, NULL, &err);
  CHECK(err);
  r->c = clCreateBuffer(r->ctx, CL_MEM_WRITE_ONLY, r->nc * 4, NULL, &err);
  CHECK(err);
  cl_uint uv[5] = {(cl_uint)r->na, (cl_uint)r->nb, p->m, p->n, p->k};
  CHECK(clSetKernelArg(r->k, 0, sizeof r->a, &r->a));
  CHECK(clSetKernelArg(r->k, 1, sizeof r->b, &r->b));
  CHECK(clSetKernelArg(r->k, 2, sizeof r->c, &r->c));
  for (cl_uint i = 0; i < 5; i++)
    CHECK(clSetKernelArg(r->k, 3 + i, sizeof(cl_uint), &uv[i]));
  r->local = ba->kernel.local_size;
  r->global = (ba->kernel.global_count + r->local - 1) / r->local * r->local;
  return 0;
}

/* One whole message; `kernel_only`: the kernel alone, inputs in place. */
static int raw_once(raw_t *r, const float *a, const float *b, float *c, int kernel_only) {
  if (!kernel_only) {
    CHECK(clEnqueueWriteBuffer(r->q, r->a, CL_FALSE, 0, r->na * 4, a, 0, NULL, NULL));
    CHECK(clEnqueueWriteBuffer(r->q, r->b, CL_FALSE, 0, r->nb * 4, b, 0, NULL, NULL));
  }
  CHECK(clEnqueueNDRangeKernel(r->q, r->k, 1, NULL, &r->global, &r->local, 0, NULL, NULL));
  if (!kernel_only) CHECK(clEnqueueReadBuffer(r->q, r->c, CL_TRUE, 0, r->nc * 4, c, 0, NULL, NULL));
  CHECK(clFinish(r->q));
  return 0;
}

static void raw_close(raw_t *r) {
  clReleaseMemObject(r->a);
  clReleaseMemObject(r->b);
  clReleaseMemObject(r->c);
  clReleaseKernel(r->k);
  clReleaseProgram(r->prog);
  clReleaseCommandQueue(r->q);
  clReleaseContext(r->ctx);
}

/* ---- the bundled SGEMM agent pinned to device 0 ---- */
typedef struct agent {
  maestro_runtime_t *rt;
  maestro_graph_t *g;
  maestro_agent_t *ag;
  maestro_input_t *in_a, *in_b;
  maestro_output_t *out;
} agent_t;

/* MAESTRO_OK, 1 when there is no device, or a failure. */
static int agent_open(agent_t *x, maestro_bundled_agent_t *ba) {
  int st = maestro_runtime_create(NULL, &x->rt);
  if (st != MAESTRO_OK) return st;
  if (maestro_runtime_nplaces(x->rt, MAESTRO_PLACE_DEVICE) < 1) return 1;
  maestro_bundled_params_t p = ba->params;
  if ((st = maestro_bundled_agent(MAESTRO_BUNDLED_SGEMM, "sgemm", &p, ba)) != MAESTRO_OK) return st;
  ba->desc.affinity = (maestro_affinity_t){MAESTRO_ON_DEVICE, 0, 0};
  if ((st = maestro_graph_create(x->rt, "bench_sgemm", &x->g)) ||
      (st = maestro_agent_add(x->g, &ba->desc, &x->ag)) ||
      (st = maestro_graph_input(x->g, x->ag, "a", &x->in_a)) ||
      (st = maestro_graph_input(x->g, x->ag, "b", &x->in_b)) ||
      (st = maestro_graph_output(x->g, x->ag, "c", &x->out)))
    return st;
  return maestro_graph_start(x->g);
}

/* One message; the buffers are made before the clock starts (the raw loop
 * also starts from A and B in host memory). */
static int agent_once(agent_t *x, const float *a, const float *b, float *c, size_t na, size_t nb,
                      size_t nc, double *s) {
  maestro_buf_t *ma, *mb, *mc;
  int st;
  if ((st = maestro_buf_from(x->rt, a, na * 4, &ma)) != MAESTRO_OK) return st;
  if ((st = maestro_buf_from(x->rt, b, nb * 4, &mb)) != MAESTRO_OK) {
    maestro_buf_release(ma);
    return st;
  }
  double t0 = now_s();
  if ((st = maestro_input_push(x->in_a, ma)) || (st = maestro_input_push(x->in_b, mb)) ||
      (st = maestro_output_pop(x->out, &mc, -1)))
    return st;
  const float *cc = maestro_buf_cdata(mc);
  *s = now_s() - t0;
  if (!cc || maestro_buf_size(mc) != nc * 4)
    st = MAESTRO_EINVAL;
  else
    memcpy(c, cc, nc * 4);
  maestro_buf_release(mc);
  return st;
}

/* Ends the stream; returns the graph's status and the agent's device firings. */
static int agent_close(agent_t *x, uint64_t *device_fires) {
  int st = MAESTRO_OK;
  *device_fires = 0;
  if (x->g && x->in_a) {
    maestro_input_close(x->in_a);
    maestro_input_close(x->in_b);
    st = maestro_graph_wait(x->g);
    maestro_agent_stats_t as;
    if (maestro_agent_stats(x->ag, &as) == MAESTRO_OK) *device_fires = as.device_fires;
  }
  maestro_graph_destroy(x->g);
  maestro_runtime_destroy(x->rt);
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
  double *ratio = malloc((size_t)reps * sizeof *ratio);
  int rc = 1; /* until every figure is printed */
  if (!a || !b || !want || !c || !ratio) {
    fprintf(stderr, "sgemm: out of memory\n");
    goto out;
  }
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

  static raw_t raw;
  static agent_t ag;
  float tol = 1e-5f * (float)n + 1e-6f;
  if (raw_open(&raw, &ba) != 0 || raw_once(&raw, a, b, c, 0) != 0) {
    fprintf(stderr, "sgemm: raw OpenCL failed (no device?)\n");
    goto out;
  }
  if (max_err(c, want, nn) > tol) {
    fprintf(stderr, "sgemm: FAILED: raw result differs from the CPU one by %g\n",
            max_err(c, want, nn));
    goto out;
  }
  int ast = agent_open(&ag, &ba);
  double t, agent_s = 1e30, raw_s = 1e30, kern_s = 1e30;
  if (ast == MAESTRO_OK) { /* warm-up, and the result checked */
    memset(c, 0, nn * 4);
    ast = agent_once(&ag, a, b, c, nn, nn, nn, &t);
    if (ast == MAESTRO_OK && max_err(c, want, nn) > tol) {
      fprintf(stderr, "sgemm: FAILED: agent result differs by %g\n", max_err(c, want, nn));
      goto out;
    }
  }
  for (int r = 0; r < reps; r++) {
    double t0 = now_s();
    if (raw_once(&raw, a, b, c, 0) != 0) goto out;
    double rt_ = now_s() - t0;
    if (max_err(c, want, nn) > tol) {
      fprintf(stderr, "sgemm: FAILED: raw result of round %d differs by %g\n", r,
              max_err(c, want, nn));
      goto out;
    }
    raw_s = fmin(raw_s, rt_);
    t0 = now_s();
    if (raw_once(&raw, a, b, c, 1) != 0) goto out;
    kern_s = fmin(kern_s, now_s() - t0);
    if (ast == MAESTRO_OK) {
      memset(c, 0, nn * 4);
      if ((ast = agent_once(&ag, a, b, c, nn, nn, nn, &t)) != MAESTRO_OK) break;
      if (max_err(c, want, nn) > tol) {
        fprintf(stderr, "sgemm: FAILED: agent result of round %d differs by %g\n", r,
                max_err(c, want, nn));
        goto out;
      }
      agent_s = fmin(agent_s, t);
      ratio[r] = rt_ / t;
    }
  }
  raw_close(&raw);
  printf("  raw OpenCL, kernel only        %8.2f GFLOP/s\n", gflops(n, kern_s));
  printf("  raw OpenCL, whole message      %8.2f GFLOP/s   (baseline)\n", gflops(n, raw_s));
  printf("  cpu vs raw message (GFLOP/s)   %8.2fx\n", raw_s / cpu_s);

  uint64_t device_fires = 0;
  int cst = agent_close(&ag, &device_fires);
  if (ast == 1) {
    printf("  agent                          (skipped: no OpenCL device)\n");
  } else if (ast != MAESTRO_OK || cst != MAESTRO_OK) {
    fprintf(stderr, "sgemm: agent run failed: %s\n", maestro_last_error());
    goto out;
  } else {
    qsort(ratio, (size_t)reps, sizeof *ratio, cmp_double);
    /* pinned to the device; say so if the engine fired it elsewhere */
    printf("  bundled agent, %-16s%8.2f GFLOP/s\n",
           device_fires == (uint64_t)reps + 1 ? "device 0" : "NOT ALL ON DEVICE",
           gflops(n, agent_s));
    printf("  agent / raw message            %8.2fx   (median of %d rounds; 1.0 = no overhead)\n",
           ratio[reps / 2], reps);
  }
  rc = 0;
out:
  free(a), free(b), free(want), free(c), free(ratio);
  return rc;
}
