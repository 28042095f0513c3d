/* Shared by the OpenCL benchmarks: a runtime, a kernel agent, waiting for
 * launches, and the raw-OpenCL baseline's setup. */
#ifndef MAESTRO_BENCH_OCL_COMMON_H
#define MAESTRO_BENCH_OCL_COMMON_H

#include <CL/cl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/runtime.h"
#include "maestro.h"
#include "mem/buf.h"
#include "backend/opencl/ocl.h"

#define SCALE_SRC                                                                                  \
  "__kernel void scale(__global const float *x, __global float *y, uint n, float a)"               \
  "{ size_t i = get_global_id(0); if (i < n) y[i] = a * x[i]; }"

static inline double now_s(void) {
  return (double)rt_now_ns() * 1e-9;
}

static inline maestro_runtime_t *bench_rt(int zero_copy) {
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.zero_copy = zero_copy ? -1 : 0;
  cfg.stats = 0;
  maestro_runtime_t *rt = NULL;
  if (maestro_runtime_create(&cfg, &rt) || maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE) < 1) {
    fprintf(stderr, "no runtime with a device: %s\n", maestro_last_error());
    exit(1);
  }
  return rt;
}

/* A FIFO of launch completions: done() pushes, the bench pops in order. */
typedef struct {
  pthread_mutex_t m;
  pthread_cond_t c;
  unsigned long pushed, popped;
  maestro_buf_t *out[256];
  ocl_launch_result_t res[256];
} done_q_t;

static inline void done_q_init(done_q_t *q) {
  memset(q, 0, sizeof *q);
  pthread_mutex_init(&q->m, NULL);
  pthread_cond_init(&q->c, NULL);
}

static inline void done_q_cb(void *ctx, maestro_buf_t **out, const ocl_launch_result_t *r) {
  done_q_t *q = ctx;
  pthread_mutex_lock(&q->m);
  q->out[q->pushed % 256] = out[0];
  q->res[q->pushed % 256] = *r;
  q->pushed++;
  pthread_cond_signal(&q->c);
  pthread_mutex_unlock(&q->m);
}

static inline maestro_buf_t *done_q_pop(done_q_t *q, ocl_launch_result_t *r) {
  pthread_mutex_lock(&q->m);
  while (q->popped == q->pushed)
    pthread_cond_wait(&q->c, &q->m);
  maestro_buf_t *b = q->out[q->popped % 256];
  if (r) *r = q->res[q->popped % 256];
  q->popped++;
  pthread_mutex_unlock(&q->m);
  return b;
}

/* The raw baseline: its own context and queue on the first device. */
typedef struct {
  cl_context ctx;
  cl_command_queue q;
  cl_kernel k;
  cl_program p;
  cl_device_id dev;
} raw_cl_t;

static inline void raw_init(raw_cl_t *r, const char *src, const char *name) {
  cl_platform_id plat;
  cl_int e = clGetPlatformIDs(1, &plat, NULL);
  e |= clGetDeviceIDs(plat, CL_DEVICE_TYPE_ALL, 1, &r->dev, NULL);
  r->ctx = clCreateContext(NULL, 1, &r->dev, NULL, NULL, &e);
  r->q = clCreateCommandQueue(r->ctx, r->dev, 0, &e);
  r->p = clCreateProgramWithSource(r->ctx, 1, &src, NULL, &e);
  e |= clBuildProgram(r->p, 1, &r->dev, NULL, NULL, NULL);
  r->k = clCreateKernel(r->p, name, &e);
  if (e != CL_SUCCESS) {
    fprintf(stderr, "raw OpenCL setup failed: %d\n", (int)e);
    exit(1);
  }
}

static inline void raw_fini(raw_cl_t *r) {
  clReleaseKernel(r->k);
  clReleaseProgram(r->p);
  clReleaseCommandQueue(r->q);
  clReleaseContext(r->ctx);
}

static inline ocl_kagent_t *scale_agent(maestro_runtime_t *rt, const char *name) {
  static const maestro_port_t in[] = {{"in", MAESTRO_F32, 0}};
  static const maestro_port_t out[] = {{"out", MAESTRO_F32, 0}};
  static const maestro_karg_t args[] = {MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0),
                                        MAESTRO_KARG_COUNT(0), MAESTRO_KARG_F32(2.0f)};
  maestro_kernel_t k = {
      .source = SCALE_SRC, .name = "scale", .args = args, .n_args = 4, .range_port = 0};
  ocl_kagent_t *ka = NULL;
  if (ocl_kagent_create(rt, name, &k, in, 1, out, 1, &ka)) {
    fprintf(stderr, "kernel agent: %s\n", maestro_last_error());
    exit(1);
  }
  return ka;
}

#endif
