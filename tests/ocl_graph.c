/* Kernel agents inside graphs, on the real PoCL device: chains of device
 * agents pass the device replica (zero bytes between them, from the
 * counters), across two devices, device memory pressure with nothing lost,
 * hybrid fallback to the CPU when a launch fails, zero-copy. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/runtime.h"
#include "maestro.h"
#include "backend/opencl/ocl.h"
#include "testmain.h"
#include "testutil.h"

static const maestro_port_t f32_in[] = {{"in", MAESTRO_F32, 0}};
static const maestro_port_t f32_out[] = {{"out", MAESTRO_F32, 0}};
static const maestro_karg_t x2_args[] = {MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0),
                                         MAESTRO_KARG_COUNT(0), MAESTRO_KARG_F32(2.0f)};
static const maestro_kernel_t x2_kernel = {
    .source = "__kernel void scale(__global const float *x, __global float *y, uint n, float a)"
              "{ size_t i = get_global_id(0); if (i < n) y[i] = a * x[i]; }",
    .name = "scale",
    .args = x2_args,
    .n_args = 4,
    .range_port = 0};

/* A chain of `n` x2 agents on devices devs[i] (hybrid when `hybrid`). */
typedef struct {
  maestro_graph_t *g;
  maestro_agent_t *a[4];
  maestro_input_t *src;
  maestro_output_t *dst;
} chain_t;

static void chain_build(maestro_runtime_t *rt, chain_t *c, int n, const int *devs, int hybrid) {
  CU_ASSERT_FATAL(maestro_graph_create(rt, "chain", &c->g) == MAESTRO_OK);
  static const char *names[] = {"k0", "k1", "k2", "k3"};
  for (int i = 0; i < n; i++) {
    maestro_agent_desc_t d = {.name = names[i],
                              .in = f32_in,
                              .n_in = 1,
                              .out = f32_out,
                              .n_out = 1,
                              .cpu = hybrid ? testutil_scale2_cpu : NULL,
                              .kernel = &x2_kernel,
                              .affinity = {MAESTRO_ON_DEVICE, devs[i], 0}};
    CU_ASSERT_FATAL(maestro_agent_add(c->g, &d, &c->a[i]) == MAESTRO_OK);
    if (i) CU_ASSERT_FATAL(maestro_connect(c->g, c->a[i - 1], "out", c->a[i], "in", 4) == 0);
  }
  CU_ASSERT_FATAL(maestro_graph_input(c->g, c->a[0], "in", &c->src) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(c->g, c->a[n - 1], "out", &c->dst) == MAESTRO_OK);
  int rc = maestro_graph_start(c->g);
  if (rc) fprintf(stderr, "start: %s\n", maestro_last_error());
  CU_ASSERT_FATAL(rc == MAESTRO_OK);
}

typedef struct {
  maestro_runtime_t *rt;
  maestro_input_t *src;
  int msgs;
  size_t n;
} feeder_t;

static void *feed(void *arg) {
  feeder_t *f = arg;
  for (int m = 0; m < f->msgs; m++) {
    maestro_buf_t *b;
    if (maestro_buf_create(f->rt, f->n * sizeof(float), &b)) break;
    float *x = maestro_buf_data(b);
    for (size_t i = 0; i < f->n; i++)
      x[i] = (float)((m + (int)i) % 1000);
    if (maestro_input_push(f->src, b)) break;
  }
  maestro_input_close(f->src);
  return NULL;
}

/* Pushes `msgs` messages of `n` floats through, checks every result (x * 2^k).
 * Returns how many came out right. */
static int chain_run(maestro_runtime_t *rt, chain_t *c, int msgs, size_t n, int k) {
  feeder_t f = {rt, c->src, msgs, n};
  pthread_t th;
  pthread_create(&th, NULL, feed, &f);
  int good = 0, m = 0;
  maestro_buf_t *b;
  float factor = (float)(1 << k);
  while (maestro_output_pop(c->dst, &b, -1) == MAESTRO_OK) {
    const float *y = maestro_buf_cdata(b);
    int ok = y && maestro_buf_size(b) == n * sizeof(float);
    for (size_t i = 0; ok && i < n; i++)
      ok = y[i] == factor * (float)((m + (int)i) % 1000);
    good += ok;
    m++;
    maestro_buf_release(b);
  }
  pthread_join(th, NULL);
  int rc = maestro_graph_wait(c->g);
  if (rc) fprintf(stderr, "wait: %s\n", maestro_last_error());
  CU_ASSERT(rc == MAESTRO_OK);
  return good;
}

static void chain_on_one_device(int zero_copy) {
  maestro_runtime_t *rt = testutil_device_runtime(zero_copy, 0);
  chain_t c;
  int devs[] = {0, 0, 0};
  chain_build(rt, &c, 3, devs, 0);
  ocl_dev_stats_t s0, s1;
  ocl_dev_stats(rt, 0, &s0);
  enum { MSGS = 20 };
  size_t n = 10007;
  CU_ASSERT_EQUAL(chain_run(rt, &c, MSGS, n, 3), MSGS);
  ocl_dev_stats(rt, 0, &s1);
  uint64_t bytes = zero_copy ? 0 : (uint64_t)MSGS * n * sizeof(float);
  /* Input in, output out; nothing between the three kernels. */
  CU_ASSERT_EQUAL(s1.bytes_h2d - s0.bytes_h2d, bytes);
  CU_ASSERT_EQUAL(s1.bytes_d2h - s0.bytes_d2h, bytes);
  CU_ASSERT_EQUAL(s1.bytes_d2d - s0.bytes_d2d, 0);
  CU_ASSERT_EQUAL(s1.launches - s0.launches, 3 * MSGS);
  for (int i = 0; i < 3; i++) {
    maestro_agent_stats_t st;
    CU_ASSERT(maestro_agent_stats(c.a[i], &st) == MAESTRO_OK);
    CU_ASSERT_EQUAL(st.device_fires, MSGS);
  }
  maestro_graph_destroy(c.g);
  maestro_runtime_destroy(rt);
}

static void test_chain_copies(void) {
  chain_on_one_device(0);
}
static void test_chain_zero_copy(void) {
  chain_on_one_device(1);
}

static void test_two_devices(void) {
  maestro_runtime_t *rt = testutil_device_runtime(0, 0);
  if (maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE) < 2) {
    fprintf(stderr, "(one device: run with POCL_DEVICES=\"pthread pthread\")\n");
    maestro_runtime_destroy(rt);
    return;
  }
  chain_t c;
  int devs[] = {0, 1};
  chain_build(rt, &c, 2, devs, 0);
  enum { MSGS = 10 };
  size_t n = 4099;
  CU_ASSERT_EQUAL(chain_run(rt, &c, MSGS, n, 2), MSGS);
  ocl_dev_stats_t d0, d1;
  ocl_dev_stats(rt, 0, &d0);
  ocl_dev_stats(rt, 1, &d1);
  uint64_t bytes = (uint64_t)MSGS * n * sizeof(float);
  CU_ASSERT_EQUAL(d0.bytes_h2d, bytes);
  CU_ASSERT_EQUAL(d0.bytes_d2h, 0);     /* never through the host */
  CU_ASSERT_EQUAL(d1.bytes_d2d, bytes); /* a direct copy: one context */
  CU_ASSERT_EQUAL(d1.bytes_d2h, bytes);
  maestro_graph_destroy(c.g);
  maestro_runtime_destroy(rt);
}

/* 40 messages of 256 KiB through two device agents with 1 MiB of device
 * memory: evictions, and every message comes out right. */
static void test_memory_pressure(void) {
  maestro_runtime_t *rt = testutil_device_runtime(0, (size_t)1 << 20);
  chain_t c;
  int devs[] = {0, 0};
  chain_build(rt, &c, 2, devs, 0);
  enum { MSGS = 40 };
  CU_ASSERT_EQUAL(chain_run(rt, &c, MSGS, 65536, 2), MSGS);
  ocl_dev_stats_t s;
  ocl_dev_stats(rt, 0, &s);
  CU_ASSERT(s.mem_used <= s.mem_limit);
  maestro_graph_destroy(c.g);
  maestro_runtime_destroy(rt);
}

/* Messages bigger than the device memory limit: every launch fails, the
 * hybrid agent falls back to its CPU implementation, counted. */
static void test_hybrid_fallback(void) {
  maestro_runtime_t *rt = testutil_device_runtime(0, (size_t)64 << 10);
  chain_t c;
  int devs[] = {0};
  chain_build(rt, &c, 1, devs, 1);
  enum { MSGS = 6 };
  CU_ASSERT_EQUAL(chain_run(rt, &c, MSGS, 65536, 1), MSGS);
  maestro_agent_stats_t st;
  CU_ASSERT(maestro_agent_stats(c.a[0], &st) == MAESTRO_OK);
  CU_ASSERT_EQUAL(st.fallbacks, MSGS);
  CU_ASSERT_EQUAL(st.device_fires, 0);
  CU_ASSERT_EQUAL(st.failures, 0);
  maestro_graph_destroy(c.g);
  maestro_runtime_destroy(rt);
}

/* A kernel that does not compile stops maestro_graph_start with the log. */
/* A kernel agent's on_end runs on the CPU after every launch was emitted:
 * its message follows the last result, before end-of-stream. */
static atomic_int ends;
static int kernel_end(maestro_fire_t *f) {
  atomic_fetch_add(&ends, 1);
  maestro_buf_t *b;
  int rc = maestro_fire_alloc(f, sizeof(float), &b);
  if (rc) return rc;
  *(float *)maestro_buf_data(b) = -1.0f;
  return maestro_fire_out(f, 0, b);
}

static void test_kernel_on_end(void) {
  maestro_runtime_t *rt = testutil_device_runtime(0, 0);
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(rt, "kend", &g) == MAESTRO_OK);
  maestro_agent_t *k;
  maestro_agent_desc_t d = {.name = "k",
                            .in = f32_in,
                            .n_in = 1,
                            .out = f32_out,
                            .n_out = 1,
                            .kernel = &x2_kernel,
                            .on_end = kernel_end,
                            .affinity = {MAESTRO_ON_DEVICE, 0, 0}};
  CU_ASSERT_FATAL(maestro_agent_add(g, &d, &k) == MAESTRO_OK);
  maestro_input_t *src;
  maestro_output_t *dst;
  CU_ASSERT_FATAL(maestro_graph_input(g, k, "in", &src) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, k, "out", &dst) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  atomic_store(&ends, 0);
  enum { MSGS = 30 };
  size_t n = 1000;
  feeder_t f = {rt, src, MSGS, n};
  pthread_t th;
  pthread_create(&th, NULL, feed, &f);
  int m = 0, good = 0, marker_last = 0;
  maestro_buf_t *b;
  while (maestro_output_pop(dst, &b, -1) == MAESTRO_OK) {
    const float *y = maestro_buf_cdata(b);
    if (m < MSGS)
      good +=
          y && maestro_buf_size(b) == n * sizeof(float) && y[1] == 2.0f * (float)((m + 1) % 1000);
    else
      marker_last = maestro_buf_size(b) == sizeof(float) && y && y[0] == -1.0f;
    m++;
    maestro_buf_release(b);
  }
  pthread_join(th, NULL);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(m, MSGS + 1);
  CU_ASSERT_EQUAL(good, MSGS);
  CU_ASSERT_EQUAL(marker_last, 1);
  CU_ASSERT_EQUAL(atomic_load(&ends), 1);
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(k, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.device_fires, MSGS);
  maestro_graph_destroy(g);
  maestro_runtime_destroy(rt);
}

static void test_build_error_at_start(void) {
  maestro_runtime_t *rt = testutil_device_runtime(1, 0);
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(rt, "bad", &g) == MAESTRO_OK);
  maestro_kernel_t k = x2_kernel;
  k.source = "__kernel void scale(__global const float *x, __global float *y, uint n, float a)"
             "{ y[0] = x[0] * not_declared; }";
  maestro_agent_desc_t d = {.name = "broken",
                            .in = f32_in,
                            .n_in = 1,
                            .out = f32_out,
                            .n_out = 1,
                            .kernel = &k,
                            .affinity = {MAESTRO_ON_DEVICE, 0, 0}};
  maestro_agent_t *a;
  CU_ASSERT_FATAL(maestro_agent_add(g, &d, &a) == MAESTRO_OK);
  maestro_input_t *src;
  maestro_output_t *dst;
  maestro_graph_input(g, a, "in", &src);
  maestro_graph_output(g, a, "out", &dst);
  CU_ASSERT(maestro_graph_start(g) == MAESTRO_EBUILD);
  CU_ASSERT(strstr(maestro_last_error(), "broken") != NULL);
  CU_ASSERT(strstr(maestro_last_error(), "not_declared") != NULL);
  maestro_graph_destroy(g);
  maestro_runtime_destroy(rt);
}

void register_suites(void) {
  ADD_SUITE("ocl graph", NULL, NULL, {"chain, copies", test_chain_copies},
            {"chain, zero-copy", test_chain_zero_copy}, {"two devices", test_two_devices},
            {"memory pressure", test_memory_pressure}, {"hybrid fallback", test_hybrid_fallback},
            {"build error at start", test_build_error_at_start},
            {"kernel agent on_end", test_kernel_on_end});
}
