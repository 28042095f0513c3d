/* .cl implementations (maestro/opencl.h) on the real PoCL device: an agent
 * that builds its own program with the firing's context and enqueues two
 * kernels per firing, chained between CPU agents; the refusals of the
 * clfire calls; a failing .cl function (dead letters, CPU fallback);
 * maestro_runtime_cl_device; a separable blur (two 1-D passes and a device
 * temporary) in one agent against a CPU reference. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maestro.h"
#ifdef CL_SUCCESS
#error "maestro.h must not pull in the OpenCL headers (maestro/opencl.h does)"
#endif
#include "maestro/opencl.h"
#include "testmain.h"
#include "testutil.h"

static const maestro_port_t i32_in[] = {{"in", MAESTRO_I32, 0}};
static const maestro_port_t i32_out[] = {{"out", MAESTRO_I32, 0}};

/* ---- CPU agents around the device one ---- */

typedef struct {
  int msgs;
  int long_every; /* every long_every-th message has 9 elements instead of 8 (0: never) */
  size_t n;       /* elements of a message */
} src_t;

static size_t src_len(const src_t *s, uint64_t m) {
  return s->long_every && m % (uint64_t)s->long_every == (uint64_t)s->long_every - 1 ? s->n + 1
                                                                                     : s->n;
}

static int src_cpu(maestro_fire_t *f) {
  src_t *s = maestro_fire_state(f);
  uint64_t m = maestro_fire_seq(f);
  if (m >= (uint64_t)s->msgs) return MAESTRO_DONE;
  size_t n = src_len(s, m);
  maestro_buf_t *b;
  int rc = maestro_fire_alloc(f, n * sizeof(int32_t), &b);
  if (rc) return rc;
  int32_t *x = maestro_buf_data(b);
  for (size_t i = 0; i < n; i++)
    x[i] = (int32_t)(m * 1000 + i);
  return maestro_fire_out(f, 0, b);
}

/* y = x - 1 (after the device agent: undoes its + 1). */
static int minus1_cpu(maestro_fire_t *f) {
  maestro_buf_t *in = maestro_fire_in(f, 0), *b;
  size_t n = maestro_buf_size(in) / sizeof(int32_t);
  int rc = maestro_fire_alloc(f, n * sizeof(int32_t), &b);
  if (rc) return rc;
  const int32_t *x = maestro_buf_cdata(in);
  int32_t *y = maestro_buf_data(b);
  for (size_t i = 0; i < n; i++)
    y[i] = x[i] - 1;
  return maestro_fire_out(f, 0, b);
}

/* The device agent's CPU twin: y = 6x + 1 (refuses 9-element messages
 * only in the .cl version, to test the fallback). */
static int affine_cpu(maestro_fire_t *f) {
  maestro_buf_t *in = maestro_fire_in(f, 0), *b;
  size_t n = maestro_buf_size(in) / sizeof(int32_t);
  int rc = maestro_fire_alloc(f, n * sizeof(int32_t), &b);
  if (rc) return rc;
  const int32_t *x = maestro_buf_cdata(in);
  int32_t *y = maestro_buf_data(b);
  for (size_t i = 0; i < n; i++)
    y[i] = 6 * x[i] + 1;
  return maestro_fire_out(f, 0, b);
}

/* ---- the .cl agent: y = 3 * (2x) + 1 in two kernels through a temporary ---- */

static const char affine_src[] =
    "__kernel void affine(__global const int *x, __global int *y, int a, int b)"
    "{ size_t i = get_global_id(0); y[i] = a * x[i] + b; }";

enum { MAXDEV = 4 };

typedef struct {
  pthread_mutex_t lock;
  cl_device_id devs[MAXDEV];
  cl_program progs[MAXDEV];
  int ndev;
  /* What the firings saw. */
  atomic_int fires, twice_refused, null_ev_refused, bad_port_refused, ctx_mismatch, failed;
  maestro_runtime_t *rt; /* maestro_runtime_cl_device(rt, 0): the firings on device 0 see it */
  int fail_long;         /* fail (after allocating the output) on 9-element messages */
  int refusals;          /* try the refused calls in every firing */
} clstate_t;

/* The program for this firing's device, built once with its context. */
static cl_program program_for(clstate_t *s, maestro_clfire_t *f) {
  cl_device_id dev = maestro_clfire_device(f);
  cl_program p = NULL;
  pthread_mutex_lock(&s->lock);
  for (int i = 0; i < s->ndev; i++)
    if (s->devs[i] == dev) p = s->progs[i];
  if (!p && s->ndev < MAXDEV) {
    const char *src = affine_src;
    cl_int e;
    p = clCreateProgramWithSource(maestro_clfire_context(f), 1, &src, NULL, &e);
    if (p && clBuildProgram(p, 1, &dev, "", NULL, NULL) != CL_SUCCESS) {
      clReleaseProgram(p);
      p = NULL;
    }
    if (p) {
      s->devs[s->ndev] = dev;
      s->progs[s->ndev++] = p;
    }
  }
  pthread_mutex_unlock(&s->lock);
  return p;
}

static int enqueue_affine(maestro_clfire_t *f, cl_program p, cl_mem x, cl_mem y, size_t n, int a,
                          int b, cl_event *ev) {
  cl_int e;
  cl_kernel k = clCreateKernel(p, "affine", &e);
  if (!k) return MAESTRO_ECL;
  e = clSetKernelArg(k, 0, sizeof x, &x);
  e |= clSetKernelArg(k, 1, sizeof y, &y);
  e |= clSetKernelArg(k, 2, sizeof a, &a);
  e |= clSetKernelArg(k, 3, sizeof b, &b);
  if (e == CL_SUCCESS)
    e = clEnqueueNDRangeKernel(maestro_clfire_queue(f), k, 1, NULL, &n, NULL, 0, NULL, ev);
  clReleaseKernel(k); /* the enqueued command keeps it */
  return e == CL_SUCCESS ? MAESTRO_OK : MAESTRO_ECL;
}

static int affine_cl(maestro_clfire_t *f) {
  clstate_t *s = maestro_clfire_state(f);
  atomic_fetch_add(&s->fires, 1);
  cl_context ctx0;
  cl_device_id dev0;
  if (maestro_runtime_cl_device(s->rt, 0, &ctx0, &dev0) == MAESTRO_OK &&
      dev0 == maestro_clfire_device(f) && ctx0 != maestro_clfire_context(f))
    atomic_fetch_add(&s->ctx_mismatch, 1);
  cl_program p = program_for(s, f);
  if (!p) return MAESTRO_EBUILD;
  maestro_buf_t *inb = maestro_clfire_in_buf(f, 0);
  size_t n = maestro_buf_size(inb) / sizeof(int32_t);
  cl_mem x = maestro_clfire_in(f, 0), y = NULL, again = NULL;
  if (!x) return MAESTRO_EINVAL;
  int rc = maestro_clfire_out(f, 0, n * sizeof(int32_t), &y);
  if (rc) return rc;
  if (s->refusals) {
    if (maestro_clfire_out(f, 0, 4, &again) == MAESTRO_EINVAL && again == NULL)
      atomic_fetch_add(&s->twice_refused, 1);
    if (maestro_clfire_out(f, 1, 4, &again) == MAESTRO_EINVAL &&
        maestro_clfire_out(f, -1, 4, &again) == MAESTRO_EINVAL &&
        maestro_clfire_out(f, 0, 4, NULL) == MAESTRO_EINVAL)
      atomic_fetch_add(&s->bad_port_refused, 1);
    if (maestro_clfire_done_after(f, NULL) == MAESTRO_EINVAL)
      atomic_fetch_add(&s->null_ev_refused, 1);
  }
  if (s->fail_long && n == 9) {
    atomic_fetch_add(&s->failed, 1);
    return MAESTRO_EINVAL; /* after allocating its output: the runtime drops it */
  }
  cl_int e;
  cl_mem tmp =
      clCreateBuffer(maestro_clfire_context(f), CL_MEM_READ_WRITE, n * sizeof(int32_t), NULL, &e);
  if (!tmp) return MAESTRO_ENOMEM;
  cl_event ev = NULL;
  rc = enqueue_affine(f, p, x, tmp, n, 2, 0, NULL);
  if (!rc) rc = enqueue_affine(f, p, tmp, y, n, 3, 1, &ev);
  clReleaseMemObject(tmp); /* freed once the commands using it end */
  if (!rc) rc = maestro_clfire_done_after(f, ev);
  if (ev) clReleaseEvent(ev);
  return rc;
}

static clstate_t *clstate_new(maestro_runtime_t *rt) {
  clstate_t *s = calloc(1, sizeof *s);
  s->rt = rt;
  pthread_mutex_init(&s->lock, NULL);
  return s;
}

static void clstate_free(clstate_t *s) {
  for (int i = 0; i < s->ndev; i++)
    clReleaseProgram(s->progs[i]);
  pthread_mutex_destroy(&s->lock);
  free(s);
}

/* source -> (.cl, or hybrid) -> minus1 -> output; returns the messages that
 * came out exactly right (y = 6x: x = m * 1000 + i). */
typedef struct {
  maestro_graph_t *g;
  maestro_agent_t *dev;
  maestro_output_t *dst, *dead;
} pipe_t;

static void pipe_build(maestro_runtime_t *rt, pipe_t *p, src_t *src, clstate_t *s, int hybrid,
                       int dev_index, maestro_fail_t on_fail) {
  CU_ASSERT_FATAL(maestro_graph_create(rt, "clpipe", &p->g) == MAESTRO_OK);
  maestro_agent_t *a0, *a2;
  maestro_agent_desc_t d0 = {
      .name = "src", .out = i32_out, .n_out = 1, .cpu = src_cpu, .state = src};
  maestro_agent_desc_t d1 = {.name = "affine",
                             .in = i32_in,
                             .n_in = 1,
                             .out = i32_out,
                             .n_out = 1,
                             .cpu = hybrid ? affine_cpu : NULL,
                             .cl = affine_cl,
                             .state = s,
                             .affinity = {MAESTRO_ON_DEVICE, dev_index, 0},
                             .supervisor = {.on_fail = on_fail}};
  maestro_agent_desc_t d2 = {.name = "minus1",
                             .in = i32_in,
                             .n_in = 1,
                             .out = i32_out,
                             .n_out = 1,
                             .cpu = minus1_cpu,
                             .affinity = {MAESTRO_ON_CPU, -1, 0}};
  CU_ASSERT_FATAL(maestro_agent_add(p->g, &d0, &a0) == MAESTRO_OK);
  int rc = maestro_agent_add(p->g, &d1, &p->dev);
  if (rc) fprintf(stderr, "add: %s\n", maestro_last_error());
  CU_ASSERT_FATAL(rc == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_agent_add(p->g, &d2, &a2) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_connect(p->g, a0, "out", p->dev, "in", 8) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_connect(p->g, p->dev, "out", a2, "in", 8) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(p->g, a2, "out", &p->dst) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_dead_letters(p->g, &p->dead) == MAESTRO_OK);
  rc = maestro_graph_start(p->g);
  if (rc) fprintf(stderr, "start: %s\n", maestro_last_error());
  CU_ASSERT_FATAL(rc == MAESTRO_OK);
}

/* Pops every result: how many came out exactly right, and how many in all. */
static int pipe_drain(pipe_t *p, const src_t *src, int *total) {
  int good = 0, got = 0;
  maestro_buf_t *b;
  uint64_t m = 0;
  while (maestro_output_pop(p->dst, &b, -1) == MAESTRO_OK) {
    /* Messages the device refused are missing (dead letters): skip them. */
    while (src->long_every && src_len(src, m) != maestro_buf_size(b) / sizeof(int32_t))
      m++;
    const int32_t *y = maestro_buf_cdata(b);
    size_t n = src_len(src, m);
    int ok = y && maestro_buf_size(b) == n * sizeof(int32_t);
    for (size_t i = 0; ok && i < n; i++)
      ok = y[i] == 6 * (int32_t)(m * 1000 + i);
    good += ok;
    got++;
    m++;
    maestro_buf_release(b);
  }
  *total = got;
  return good;
}

static void chain_run(int dev_index) {
  maestro_runtime_t *rt = testutil_device_runtime(1, 0);
  clstate_t *s = clstate_new(rt);
  src_t src = {.msgs = 1000, .n = 257};
  pipe_t p;
  pipe_build(rt, &p, &src, s, 0, dev_index, MAESTRO_FAIL_STOP);
  int total = 0;
  CU_ASSERT_EQUAL(pipe_drain(&p, &src, &total), 1000);
  CU_ASSERT_EQUAL(total, 1000);
  int rc = maestro_graph_wait(p.g);
  if (rc) fprintf(stderr, "wait: %s\n", maestro_last_error());
  CU_ASSERT_EQUAL(rc, MAESTRO_OK);
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(p.dev, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.device_fires, 1000);
  CU_ASSERT_EQUAL(st.cpu_fires, 0);
  CU_ASSERT_EQUAL(atomic_load(&s->fires), 1000);
  CU_ASSERT_EQUAL(atomic_load(&s->ctx_mismatch), 0);
  int ndev = maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE);
  CU_ASSERT(s->ndev >= 1 && s->ndev <= ndev);
  maestro_graph_destroy(p.g);
  maestro_runtime_destroy(rt);
  clstate_free(s);
}

static void test_chain_one_device(void) {
  chain_run(0);
}

/* Any device: with POCL_DEVICES="pthread pthread" the firings spread. */
static void test_chain_any_device(void) {
  chain_run(-1);
}

static void test_refusals(void) {
  maestro_runtime_t *rt = testutil_device_runtime(0, 0);
  clstate_t *s = clstate_new(rt);
  s->refusals = 1;
  src_t src = {.msgs = 50, .n = 64};
  pipe_t p;
  pipe_build(rt, &p, &src, s, 0, 0, MAESTRO_FAIL_STOP);
  int total = 0;
  CU_ASSERT_EQUAL(pipe_drain(&p, &src, &total), 50);
  CU_ASSERT_EQUAL(maestro_graph_wait(p.g), MAESTRO_OK);
  CU_ASSERT_EQUAL(atomic_load(&s->twice_refused), 50);
  CU_ASSERT_EQUAL(atomic_load(&s->bad_port_refused), 50);
  CU_ASSERT_EQUAL(atomic_load(&s->null_ev_refused), 50);
  maestro_graph_destroy(p.g);
  maestro_runtime_destroy(rt);
  clstate_free(s);
}

/* A device-only agent whose .cl function fails on every 4th message: those
 * go to the dead letters (MAESTRO_FAIL_SKIP), the others come out right. */
static void test_failure_dead_letters(void) {
  maestro_runtime_t *rt = testutil_device_runtime(0, 0);
  clstate_t *s = clstate_new(rt);
  s->fail_long = 1;
  src_t src = {.msgs = 100, .n = 8, .long_every = 4};
  pipe_t p;
  pipe_build(rt, &p, &src, s, 0, 0, MAESTRO_FAIL_SKIP);
  int total = 0;
  CU_ASSERT_EQUAL(pipe_drain(&p, &src, &total), 75);
  CU_ASSERT_EQUAL(total, 75);
  CU_ASSERT_EQUAL(maestro_graph_wait(p.g), MAESTRO_OK);
  int dead = 0, named = 0;
  maestro_buf_t *b;
  maestro_letter_t why;
  while (maestro_output_pop_letter(p.dead, &b, &why, -1) == MAESTRO_OK) {
    dead += maestro_buf_size(b) == 9 * sizeof(int32_t) && why.status == MAESTRO_EINVAL &&
            !strcmp(why.agent, "affine");
    named += why.reason && strstr(why.reason, ".cl function") != NULL;
    maestro_buf_release(b);
  }
  CU_ASSERT_EQUAL(dead, 25);
  CU_ASSERT_EQUAL(named, 25);
  CU_ASSERT_EQUAL(atomic_load(&s->failed), 25);
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(p.dev, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.dead_letters, 25);
  maestro_graph_destroy(p.g);
  maestro_runtime_destroy(rt);
  clstate_free(s);
}

/* The same failures for a hybrid agent: its CPU implementation takes them. */
static void test_failure_fallback(void) {
  maestro_runtime_t *rt = testutil_device_runtime(0, 0);
  clstate_t *s = clstate_new(rt);
  s->fail_long = 1;
  src_t src = {.msgs = 100, .n = 8, .long_every = 4};
  pipe_t p;
  pipe_build(rt, &p, &src, s, 1, 0, MAESTRO_FAIL_STOP);
  int total = 0;
  CU_ASSERT_EQUAL(pipe_drain(&p, &src, &total), 100);
  CU_ASSERT_EQUAL(total, 100);
  CU_ASSERT_EQUAL(maestro_graph_wait(p.g), MAESTRO_OK);
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(p.dev, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.fallbacks, 25);
  CU_ASSERT_EQUAL(atomic_load(&s->failed), 25);
  maestro_graph_destroy(p.g);
  maestro_runtime_destroy(rt);
  clstate_free(s);
}

static void test_cl_device(void) {
  maestro_runtime_t *rt = testutil_device_runtime(0, 0);
  int ndev = maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE);
  cl_context ctx = (cl_context)1;
  cl_device_id dev = (cl_device_id)1;
  CU_ASSERT_EQUAL(maestro_runtime_cl_device(NULL, 0, &ctx, &dev), MAESTRO_EINVAL);
  CU_ASSERT_PTR_NULL(ctx);
  CU_ASSERT_PTR_NULL(dev);
  CU_ASSERT_EQUAL(maestro_runtime_cl_device(rt, -1, &ctx, &dev), MAESTRO_ENODEV);
  CU_ASSERT_PTR_NOT_NULL(strstr(maestro_last_error(), "no OpenCL device place -1"));
  CU_ASSERT_EQUAL(maestro_runtime_cl_device(rt, ndev, &ctx, &dev), MAESTRO_ENODEV);
  CU_ASSERT_EQUAL(maestro_runtime_cl_device(rt, 1000, &ctx, &dev), MAESTRO_ENODEV);
  CU_ASSERT_PTR_NULL(ctx);
  for (int i = 0; i < ndev; i++) {
    CU_ASSERT_EQUAL(maestro_runtime_cl_device(rt, i, &ctx, &dev), MAESTRO_OK);
    CU_ASSERT_PTR_NOT_NULL(ctx);
    CU_ASSERT_PTR_NOT_NULL(dev);
    cl_device_type t = 0;
    CU_ASSERT_EQUAL(clGetDeviceInfo(dev, CL_DEVICE_TYPE, sizeof t, &t, NULL), CL_SUCCESS);
    cl_uint n = 0;
    CU_ASSERT_EQUAL(clGetContextInfo(ctx, CL_CONTEXT_NUM_DEVICES, sizeof n, &n, NULL), CL_SUCCESS);
    CU_ASSERT(n >= 1);
  }
  CU_ASSERT_EQUAL(maestro_runtime_cl_device(rt, 0, NULL, NULL), MAESTRO_OK);
  maestro_runtime_destroy(rt);
}

static void test_add_refusals(void) {
  maestro_runtime_t *rt = testutil_device_runtime(0, 0);
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(rt, "refuse", &g) == MAESTRO_OK);
  static const maestro_karg_t args[] = {MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0)};
  maestro_kernel_t k = {.source = affine_src, .name = "affine", .args = args, .n_args = 2};
  maestro_agent_desc_t d = {.name = "both",
                            .in = i32_in,
                            .n_in = 1,
                            .out = i32_out,
                            .n_out = 1,
                            .kernel = &k,
                            .cl = affine_cl};
  maestro_agent_t *a = (maestro_agent_t *)1;
  CU_ASSERT_EQUAL(maestro_agent_add(g, &d, &a), MAESTRO_EINVAL);
  CU_ASSERT_PTR_NULL(a);
  CU_ASSERT_PTR_NOT_NULL(strstr(maestro_last_error(), "both .kernel and .cl"));
  d.kernel = NULL;
  d.affinity = (maestro_affinity_t){MAESTRO_ON_CPU, 0, 0};
  CU_ASSERT_EQUAL(maestro_agent_add(g, &d, &a), MAESTRO_EINVAL); /* no .cpu for a CPU */
  d.affinity = (maestro_affinity_t){MAESTRO_ON_DEVICE, 1000, 0};
  CU_ASSERT_EQUAL(maestro_agent_add(g, &d, &a), MAESTRO_ENODEV);
  d.affinity = (maestro_affinity_t){MAESTRO_ON_DEVICE, 0, 0};
  CU_ASSERT_EQUAL(maestro_agent_add(g, &d, &a), MAESTRO_OK);
  maestro_graph_destroy(g);
  maestro_runtime_destroy(rt);
}

/* ---- a separable blur: [1 2 1]/4 across, then down, in one agent ---- */

enum { BW = 61, BH = 37 };

static const char blur_src[] =
    "__kernel void pass(__global const float *x, __global float *y, int w, int h, int dx, int dy)"
    "{ int i = get_global_id(0), j = get_global_id(1);"
    "  int i0 = max(i - dx, 0), j0 = max(j - dy, 0);"
    "  int i1 = min(i + dx, w - 1), j1 = min(j + dy, h - 1);"
    "  y[j * w + i] = (x[j0 * w + i0] + 2.0f * x[j * w + i] + x[j1 * w + i1]) * 0.25f; }";

typedef struct {
  pthread_mutex_t lock;
  cl_program prog;
  atomic_int fires;
  int no_done_after; /* name no event: the runtime waits for the queue */
} blur_t;

static int blur_pass(maestro_clfire_t *f, cl_program p, cl_mem x, cl_mem y, int dx, int dy,
                     cl_event *ev) {
  cl_int e;
  cl_kernel k = clCreateKernel(p, "pass", &e);
  if (!k) return MAESTRO_ECL;
  int w = BW, h = BH;
  e = clSetKernelArg(k, 0, sizeof x, &x);
  e |= clSetKernelArg(k, 1, sizeof y, &y);
  e |= clSetKernelArg(k, 2, sizeof w, &w);
  e |= clSetKernelArg(k, 3, sizeof h, &h);
  e |= clSetKernelArg(k, 4, sizeof dx, &dx);
  e |= clSetKernelArg(k, 5, sizeof dy, &dy);
  size_t global[2] = {BW, BH};
  if (e == CL_SUCCESS)
    e = clEnqueueNDRangeKernel(maestro_clfire_queue(f), k, 2, NULL, global, NULL, 0, NULL, ev);
  clReleaseKernel(k);
  return e == CL_SUCCESS ? MAESTRO_OK : MAESTRO_ECL;
}

static int blur_cl(maestro_clfire_t *f) {
  blur_t *s = maestro_clfire_state(f);
  atomic_fetch_add(&s->fires, 1);
  pthread_mutex_lock(&s->lock);
  if (!s->prog) {
    const char *src = blur_src;
    cl_device_id dev = maestro_clfire_device(f);
    cl_int e;
    cl_program p = clCreateProgramWithSource(maestro_clfire_context(f), 1, &src, NULL, &e);
    if (p && clBuildProgram(p, 1, &dev, "", NULL, NULL) == CL_SUCCESS)
      s->prog = p;
    else if (p)
      clReleaseProgram(p);
  }
  cl_program p = s->prog;
  pthread_mutex_unlock(&s->lock);
  if (!p) return MAESTRO_EBUILD;
  size_t bytes = (size_t)BW * BH * sizeof(float);
  if (maestro_buf_size(maestro_clfire_in_buf(f, 0)) != bytes) return MAESTRO_EINVAL;
  cl_mem y;
  int rc = maestro_clfire_out(f, 0, bytes, &y);
  if (rc) return rc;
  cl_int e;
  cl_mem tmp = clCreateBuffer(maestro_clfire_context(f), CL_MEM_READ_WRITE, bytes, NULL, &e);
  if (!tmp) return MAESTRO_ENOMEM;
  cl_event ev = NULL;
  rc = blur_pass(f, p, maestro_clfire_in(f, 0), tmp, 1, 0, NULL);
  if (!rc) rc = blur_pass(f, p, tmp, y, 0, 1, s->no_done_after ? NULL : &ev);
  clReleaseMemObject(tmp);
  if (!rc && !s->no_done_after) rc = maestro_clfire_done_after(f, ev);
  if (ev) clReleaseEvent(ev);
  return rc;
}

/* 1 when the n floats are equal, value by value (exact: the kernel and the
 * reference do the same operations in the same order). */
static int same_floats(const float *a, const float *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (a[i] != b[i]) return 0;
  return 1;
}

static void blur_ref(const float *x, float *y) {
  static float t[BW * BH];
  for (int pass = 0; pass < 2; pass++) {
    const float *in = pass ? t : x;
    float *out = pass ? y : t;
    int dx = pass ? 0 : 1, dy = pass ? 1 : 0;
    for (int j = 0; j < BH; j++)
      for (int i = 0; i < BW; i++) {
        int i0 = i - dx < 0 ? 0 : i - dx, j0 = j - dy < 0 ? 0 : j - dy;
        int i1 = i + dx > BW - 1 ? BW - 1 : i + dx, j1 = j + dy > BH - 1 ? BH - 1 : j + dy;
        out[j * BW + i] = (in[j0 * BW + i0] + 2.0f * in[j * BW + i] + in[j1 * BW + i1]) * 0.25f;
      }
  }
}

static void separable_blur(int no_done_after) {
  maestro_runtime_t *rt = testutil_device_runtime(0, 0);
  blur_t s = {.no_done_after = no_done_after};
  pthread_mutex_init(&s.lock, NULL);
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(rt, "blur", &g) == MAESTRO_OK);
  static const maestro_port_t fin[] = {{"in", MAESTRO_F32, 0}}, fout[] = {{"out", MAESTRO_F32, 0}};
  maestro_agent_desc_t d = {.name = "blur",
                            .in = fin,
                            .n_in = 1,
                            .out = fout,
                            .n_out = 1,
                            .cl = blur_cl,
                            .state = &s,
                            .affinity = {MAESTRO_ON_DEVICE, 0, 0}};
  maestro_agent_t *a;
  maestro_input_t *src;
  maestro_output_t *dst;
  CU_ASSERT_FATAL(maestro_agent_add(g, &d, &a) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &src) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &dst) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  enum { MSGS = 6 };
  static float x[MSGS][BW * BH], ref[BW * BH];
  int good = 0;
  for (int m = 0; m < MSGS; m++) {
    /* Small integers: every sum and the 0.25 scaling are exact in float. */
    for (int i = 0; i < BW * BH; i++)
      x[m][i] = (float)((i * 7 + m * 13) % 256);
    maestro_buf_t *b;
    CU_ASSERT_FATAL(maestro_buf_create(rt, sizeof x[m], &b) == MAESTRO_OK);
    memcpy(maestro_buf_data(b), x[m], sizeof x[m]);
    CU_ASSERT_FATAL(maestro_input_push(src, b) == MAESTRO_OK);
    maestro_buf_t *r;
    CU_ASSERT_FATAL(maestro_output_pop(dst, &r, -1) == MAESTRO_OK);
    blur_ref(x[m], ref);
    good += maestro_buf_size(r) == sizeof ref &&
            same_floats(maestro_buf_cdata(r), ref, sizeof ref / sizeof ref[0]);
    maestro_buf_release(r);
  }
  maestro_input_close(src);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(good, MSGS);
  CU_ASSERT_EQUAL(atomic_load(&s.fires), MSGS);
  maestro_graph_destroy(g);
  maestro_runtime_destroy(rt);
  if (s.prog) clReleaseProgram(s.prog);
  pthread_mutex_destroy(&s.lock);
}

static void test_separable_blur(void) {
  separable_blur(0);
}

static void test_separable_blur_no_event(void) {
  separable_blur(1);
}

void register_suites(void) {
  ADD_SUITE("clfire", NULL, NULL, {"chain on device 0, 1000 messages", test_chain_one_device},
            {"chain on any device", test_chain_any_device}, {"refusals", test_refusals},
            {"failure: dead letters", test_failure_dead_letters},
            {"failure: CPU fallback", test_failure_fallback},
            {"maestro_runtime_cl_device", test_cl_device}, {"add refusals", test_add_refusals},
            {"separable blur", test_separable_blur},
            {"separable blur, no done_after", test_separable_blur_no_event});
}
