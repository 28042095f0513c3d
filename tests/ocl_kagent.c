/* runtime/ocl on the real PoCL device, through the internal interface:
 * build errors, the program cache, launches, chains on one device and
 * across two, device memory pressure, read-back on the host, zero-copy. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/runtime.h"
#include "kern/kern.h"
#include <math.h>
#include "maestro.h"
#include "mem/buf.h"
#include "mem/pool.h"
#include "backend/opencl/ocl.h"
#include "testmain.h"
#include "testutil.h"

static const char *scale_src =
    "__kernel void scale(__global const float *x, __global float *y, uint n, float a)"
    "{ size_t i = get_global_id(0); if (i < n) y[i] = a * x[i]; }";

static const maestro_port_t f32_in[] = {{"in", MAESTRO_F32, 0}};
static const maestro_port_t f32_out[] = {{"out", MAESTRO_F32, 0}};

static maestro_kernel_t scale_kernel(const maestro_karg_t *args) {
  return (maestro_kernel_t){
      .source = scale_src, .name = "scale", .args = args, .n_args = 4, .range_port = 0};
}

static const maestro_karg_t scale2_args[] = {MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0),
                                             MAESTRO_KARG_COUNT(0), MAESTRO_KARG_F32(2.0f)};
static const maestro_karg_t scale3_args[] = {MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0),
                                             MAESTRO_KARG_COUNT(0), MAESTRO_KARG_F32(3.0f)};

/* Waits for launches: each done() stores its output in a slot. */
typedef struct {
  pthread_mutex_t m;
  pthread_cond_t c;
  int done;
  maestro_buf_t **slot;
  ocl_launch_result_t *res;
  int order[64]; /* launch index of each done(), in call order */
} waiter_t;
typedef struct {
  waiter_t *w;
  int i;
} ticket_t;

static void on_done(void *ctx, maestro_buf_t **out, const ocl_launch_result_t *r) {
  ticket_t *t = ctx;
  waiter_t *w = t->w;
  pthread_mutex_lock(&w->m);
  w->slot[t->i] = out[0];
  w->res[t->i] = *r;
  if (w->done < 64) w->order[w->done] = t->i;
  w->done++;
  pthread_cond_broadcast(&w->c);
  pthread_mutex_unlock(&w->m);
}

static void wait_for(waiter_t *w, int n) {
  pthread_mutex_lock(&w->m);
  while (w->done < n)
    pthread_cond_wait(&w->c, &w->m);
  pthread_mutex_unlock(&w->m);
}

/* One launch, waited for. */
static maestro_buf_t *run1(ocl_kagent_t *ka, int dev, maestro_buf_t *in, ocl_launch_result_t *res) {
  maestro_buf_t *slot[1] = {NULL};
  ocl_launch_result_t r[1];
  waiter_t w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, slot, r, {0}};
  ticket_t t = {&w, 0};
  int rc = ocl_launch(ka, dev, &in, on_done, &t);
  if (rc) fprintf(stderr, "launch: %s\n", maestro_last_error());
  CU_ASSERT_FATAL(rc == MAESTRO_OK);
  wait_for(&w, 1);
  CU_ASSERT(r[0].status == MAESTRO_OK);
  if (res) *res = r[0];
  return slot[0];
}

static maestro_buf_t *ramp(maestro_runtime_t *rt, size_t n) {
  float *x = malloc(n * sizeof *x);
  for (size_t i = 0; i < n; i++)
    x[i] = (float)(i % 1000);
  maestro_buf_t *b = NULL;
  CU_ASSERT_FATAL(maestro_buf_from(rt, x, n * sizeof *x, &b) == MAESTRO_OK);
  free(x);
  return b;
}

static int check_ramp(maestro_buf_t *b, size_t n, float factor) {
  const float *y = maestro_buf_cdata(b);
  if (!y || maestro_buf_size(b) != n * sizeof(float)) return 0;
  for (size_t i = 0; i < n; i++)
    if (y[i] != factor * (float)(i % 1000)) return 0;
  return 1;
}

static void test_build_error(void) {
  maestro_runtime_t *rt = testutil_device_runtime(1, 0);
  static const maestro_karg_t args[] = {MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0)};
  maestro_kernel_t k = {.source = "__kernel void broken(__global float *x, __global float *y)"
                                  "{ y[0] = x[0] + undefined_name; }",
                        .name = "broken",
                        .args = args,
                        .n_args = 2};
  ocl_kagent_t *ka = NULL;
  int rc = ocl_kagent_create(rt, "badagent", &k, f32_in, 1, f32_out, 1, &ka);
  CU_ASSERT(rc == MAESTRO_EBUILD);
  CU_ASSERT(ka == NULL);
  const char *msg = maestro_last_error();
  CU_ASSERT(strstr(msg, "badagent") != NULL);
  CU_ASSERT(strstr(msg, "undefined_name") != NULL); /* the compiler's log is there */
  /* A kernel name that is not in the program is a build problem too. */
  maestro_kernel_t k2 = scale_kernel(scale2_args);
  k2.name = "no_such_kernel";
  CU_ASSERT(ocl_kagent_create(rt, "named", &k2, f32_in, 1, f32_out, 1, &ka) == MAESTRO_EBUILD);
  CU_ASSERT(strstr(maestro_last_error(), "no_such_kernel") != NULL);
  /* An argument count that does not match the kernel. */
  maestro_kernel_t k3 = scale_kernel(scale2_args);
  k3.n_args = 3;
  CU_ASSERT(ocl_kagent_create(rt, "short", &k3, f32_in, 1, f32_out, 1, &ka) == MAESTRO_EINVAL);
  maestro_runtime_destroy(rt);
}

static void test_program_cache(void) {
  char dir[] = "/tmp/maestro-kcache-XXXXXX";
  CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
  setenv("MAESTRO_KERNEL_CACHE", dir, 1);
  maestro_runtime_t *rt = testutil_device_runtime(1, 0);
  int ndev = maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE);
  maestro_kernel_t k = scale_kernel(scale2_args);
  ocl_kagent_t *a = NULL, *b = NULL;
  ocl_prog_stats_t s0, s1, s2;
  ocl_prog_stats(rt, &s0);
  CU_ASSERT_FATAL(ocl_kagent_create(rt, "a", &k, f32_in, 1, f32_out, 1, &a) == MAESTRO_OK);
  ocl_prog_stats(rt, &s1);
  /* Identical devices may share the binary the first one left on disk. */
  CU_ASSERT(s1.builds + s1.disk_hits == s0.builds + s0.disk_hits + (uint64_t)ndev);
  CU_ASSERT(s1.builds > s0.builds);
  /* Same source and options, another agent: no rebuild. */
  maestro_kernel_t k2 = scale_kernel(scale3_args);
  CU_ASSERT_FATAL(ocl_kagent_create(rt, "b", &k2, f32_in, 1, f32_out, 1, &b) == MAESTRO_OK);
  ocl_prog_stats(rt, &s2);
  CU_ASSERT(s2.builds == s1.builds);
  CU_ASSERT(s2.cache_hits == s1.cache_hits + (uint64_t)ndev);
  /* Other options: a new build. */
  ocl_kagent_t *c = NULL;
  k2.options = "-cl-fast-relaxed-math";
  CU_ASSERT_FATAL(ocl_kagent_create(rt, "c", &k2, f32_in, 1, f32_out, 1, &c) == MAESTRO_OK);
  ocl_prog_stats(rt, &s2);
  CU_ASSERT(s2.builds + s2.disk_hits == s1.builds + s1.disk_hits + (uint64_t)ndev);
  CU_ASSERT(s2.builds > s1.builds);
  ocl_kagent_destroy(a);
  ocl_kagent_destroy(b);
  ocl_kagent_destroy(c);
  maestro_runtime_destroy(rt);
  /* A second runtime finds the binaries on disk. */
  rt = testutil_device_runtime(1, 0);
  ocl_prog_stats(rt, &s0);
  CU_ASSERT_FATAL(ocl_kagent_create(rt, "a", &k, f32_in, 1, f32_out, 1, &a) == MAESTRO_OK);
  ocl_prog_stats(rt, &s1);
  CU_ASSERT(s1.disk_hits == s0.disk_hits + (uint64_t)ndev);
  CU_ASSERT(s1.builds == s0.builds);
  maestro_buf_t *in = ramp(rt, 1000);
  maestro_buf_t *out = run1(a, 0, in, NULL);
  CU_ASSERT(check_ramp(out, 1000, 2.0f));
  maestro_buf_release(out);
  maestro_buf_release(in);
  ocl_kagent_destroy(a);
  maestro_runtime_destroy(rt);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CU_ASSERT(system(cmd) == 0);
  unsetenv("MAESTRO_KERNEL_CACHE");
}

/* in -> scale2 -> scale3 -> scale2 on one device, then read on the host. */
static void chain_one_device(int zero_copy) {
  maestro_runtime_t *rt = testutil_device_runtime(zero_copy, 0);
  maestro_kernel_t k2 = scale_kernel(scale2_args), k3 = scale_kernel(scale3_args);
  ocl_kagent_t *a, *b;
  CU_ASSERT_FATAL(ocl_kagent_create(rt, "x2", &k2, f32_in, 1, f32_out, 1, &a) == MAESTRO_OK);
  CU_ASSERT_FATAL(ocl_kagent_create(rt, "x3", &k3, f32_in, 1, f32_out, 1, &b) == MAESTRO_OK);
  /* Sizes that are not work-group multiples, and 1. */
  size_t sizes[] = {1, 1000, 100003};
  for (int s = 0; s < 3; s++) {
    size_t n = sizes[s];
    ocl_dev_stats_t d0, d1;
    CU_ASSERT(ocl_dev_stats(rt, 0, &d0) == MAESTRO_OK);
    maestro_buf_t *in = ramp(rt, n);
    ocl_launch_result_t r1, r2, r3;
    maestro_buf_t *m1 = run1(a, 0, in, &r1);
    maestro_buf_t *m2 = run1(b, 0, m1, &r2);
    maestro_buf_t *m3 = run1(a, 0, m2, &r3);
    CU_ASSERT(ocl_buf_valid_on(m3, 0));
    /* Between the kernels nothing crossed the boundary. */
    CU_ASSERT(r2.bytes_h2d == 0 && r2.bytes_d2h == 0 && r2.bytes_d2d == 0);
    CU_ASSERT(r3.bytes_h2d == 0 && r3.bytes_d2h == 0 && r3.bytes_d2d == 0);
    CU_ASSERT(r1.bytes_h2d == (zero_copy ? 0 : n * sizeof(float)));
    CU_ASSERT(r1.t_end_ns >= r1.t_start_ns);
    CU_ASSERT(check_ramp(m3, n, 12.0f));
    CU_ASSERT(ocl_dev_stats(rt, 0, &d1) == MAESTRO_OK);
    /* Exactly the input in and the output out, or nothing at all. */
    uint64_t bytes = zero_copy ? 0 : n * sizeof(float);
    CU_ASSERT_EQUAL(d1.bytes_h2d - d0.bytes_h2d, bytes);
    CU_ASSERT_EQUAL(d1.bytes_d2h - d0.bytes_d2h, bytes);
    CU_ASSERT_EQUAL(d1.bytes_d2d - d0.bytes_d2d, 0);
    CU_ASSERT_EQUAL(d1.launches - d0.launches, 3);
    CU_ASSERT_EQUAL(d1.zero_copy, zero_copy);
    maestro_buf_release(in);
    maestro_buf_release(m1);
    maestro_buf_release(m2);
    maestro_buf_release(m3);
  }
  ocl_kagent_destroy(a);
  ocl_kagent_destroy(b);
  maestro_runtime_destroy(rt);
}

static void test_chain_copies(void) {
  chain_one_device(0);
}
static void test_chain_zero_copy(void) {
  chain_one_device(1);
}

/* A host write after a device run: the device replica is stale and the next
 * launch sees the new bytes. */
static void test_host_write_invalidates(void) {
  for (int zc = 0; zc < 2; zc++) {
    maestro_runtime_t *rt = testutil_device_runtime(zc, 0);
    maestro_kernel_t k2 = scale_kernel(scale2_args);
    ocl_kagent_t *a;
    CU_ASSERT_FATAL(ocl_kagent_create(rt, "x2", &k2, f32_in, 1, f32_out, 1, &a) == MAESTRO_OK);
    maestro_buf_t *in = ramp(rt, 4096);
    maestro_buf_t *o1 = run1(a, 0, in, NULL);
    CU_ASSERT(check_ramp(o1, 4096, 2.0f));
    float *x = maestro_buf_data(in);
    CU_ASSERT_FATAL(x != NULL);
    for (int i = 0; i < 4096; i++)
      x[i] = 3.0f * (float)(i % 1000);
    CU_ASSERT(!ocl_buf_valid_on(in, 0));
    maestro_buf_t *o2 = run1(a, 0, in, NULL);
    CU_ASSERT(check_ramp(o2, 4096, 6.0f));
    maestro_buf_release(o1);
    maestro_buf_release(o2);
    maestro_buf_release(in);
    ocl_kagent_destroy(a);
    maestro_runtime_destroy(rt);
  }
}

/* dev 0 -> dev 1: a direct copy (one context), and the host reads dev 1. */
static void test_two_devices(void) {
  maestro_runtime_t *rt = testutil_device_runtime(0, 0);
  if (maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE) < 2) {
    fprintf(stderr, "(one device: run with POCL_DEVICES=\"pthread pthread\")\n");
    maestro_runtime_destroy(rt);
    return;
  }
  maestro_kernel_t k2 = scale_kernel(scale2_args), k3 = scale_kernel(scale3_args);
  ocl_kagent_t *a, *b;
  CU_ASSERT_FATAL(ocl_kagent_create(rt, "x2", &k2, f32_in, 1, f32_out, 1, &a) == MAESTRO_OK);
  CU_ASSERT_FATAL(ocl_kagent_create(rt, "x3", &k3, f32_in, 1, f32_out, 1, &b) == MAESTRO_OK);
  size_t n = 65537, bytes = n * sizeof(float);
  maestro_buf_t *in = ramp(rt, n);
  ocl_launch_result_t r1, r2;
  maestro_buf_t *m1 = run1(a, 0, in, &r1);
  maestro_buf_t *m2 = run1(b, 1, m1, &r2);
  CU_ASSERT_EQUAL(r1.bytes_h2d, bytes);
  CU_ASSERT_EQUAL(r2.bytes_d2d, bytes);
  CU_ASSERT_EQUAL(r2.bytes_h2d, 0);
  CU_ASSERT(check_ramp(m2, n, 6.0f));
  ocl_dev_stats_t d0, d1;
  ocl_dev_stats(rt, 0, &d0);
  ocl_dev_stats(rt, 1, &d1);
  CU_ASSERT_EQUAL(d0.bytes_d2h, 0); /* m1 never went through the host */
  CU_ASSERT_EQUAL(d1.bytes_d2d, bytes);
  CU_ASSERT_EQUAL(d1.bytes_d2h, bytes);
  maestro_buf_release(in);
  maestro_buf_release(m1);
  maestro_buf_release(m2);
  /* Zero-copy on both devices: nothing moves at all. */
  ocl_kagent_destroy(a);
  ocl_kagent_destroy(b);
  maestro_runtime_destroy(rt);
  rt = testutil_device_runtime(1, 0);
  CU_ASSERT_FATAL(ocl_kagent_create(rt, "x2", &k2, f32_in, 1, f32_out, 1, &a) == MAESTRO_OK);
  CU_ASSERT_FATAL(ocl_kagent_create(rt, "x3", &k3, f32_in, 1, f32_out, 1, &b) == MAESTRO_OK);
  in = ramp(rt, n);
  m1 = run1(a, 0, in, &r1);
  m2 = run1(b, 1, m1, &r2);
  CU_ASSERT(check_ramp(m2, n, 6.0f));
  ocl_dev_stats(rt, 0, &d0);
  ocl_dev_stats(rt, 1, &d1);
  CU_ASSERT_EQUAL(d0.bytes_h2d + d0.bytes_d2h + d0.bytes_d2d, 0);
  CU_ASSERT_EQUAL(d1.bytes_h2d + d1.bytes_d2h + d1.bytes_d2d, 0);
  maestro_buf_release(in);
  maestro_buf_release(m1);
  maestro_buf_release(m2);
  ocl_kagent_destroy(a);
  ocl_kagent_destroy(b);
  maestro_runtime_destroy(rt);
}

/* Devices in different contexts (MAESTRO_OCL_CONTEXTS=device): no direct
 * copy; dev0 -> host -> dev1. */
static void test_two_contexts(void) {
  setenv("MAESTRO_OCL_CONTEXTS", "device", 1);
  maestro_runtime_t *rt = testutil_device_runtime(0, 0);
  unsetenv("MAESTRO_OCL_CONTEXTS");
  if (maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE) < 2) {
    maestro_runtime_destroy(rt);
    return;
  }
  maestro_kernel_t k2 = scale_kernel(scale2_args), k3 = scale_kernel(scale3_args);
  ocl_kagent_t *a, *b;
  CU_ASSERT_FATAL(ocl_kagent_create(rt, "x2", &k2, f32_in, 1, f32_out, 1, &a) == MAESTRO_OK);
  CU_ASSERT_FATAL(ocl_kagent_create(rt, "x3", &k3, f32_in, 1, f32_out, 1, &b) == MAESTRO_OK);
  size_t n = 3001, bytes = n * sizeof(float);
  maestro_buf_t *in = ramp(rt, n);
  ocl_launch_result_t r2;
  maestro_buf_t *m1 = run1(a, 0, in, NULL);
  maestro_buf_t *m2 = run1(b, 1, m1, &r2);
  CU_ASSERT_EQUAL(r2.bytes_d2d, 0);
  CU_ASSERT_EQUAL(r2.bytes_h2d, bytes);
  CU_ASSERT(check_ramp(m2, n, 6.0f));
  ocl_dev_stats_t d0, d1;
  ocl_dev_stats(rt, 0, &d0);
  ocl_dev_stats(rt, 1, &d1);
  CU_ASSERT_EQUAL(d0.bytes_d2h, bytes); /* m1 came back through the host */
  CU_ASSERT_EQUAL(d1.bytes_d2d, 0);
  maestro_buf_release(in);
  maestro_buf_release(m1);
  maestro_buf_release(m2);
  ocl_kagent_destroy(a);
  ocl_kagent_destroy(b);
  maestro_runtime_destroy(rt);
}

/* An agent built for device 1 only: not launched on device 0. */
static void test_built_on_some(void) {
  maestro_runtime_t *rt = testutil_device_runtime(1, 0);
  if (maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE) < 2) {
    maestro_runtime_destroy(rt);
    return;
  }
  maestro_kernel_t k2 = scale_kernel(scale2_args);
  ocl_kagent_t *a;
  ocl_prog_stats_t s0, s1;
  ocl_prog_stats(rt, &s0);
  CU_ASSERT_FATAL(ocl_kagent_create_on(rt, "x2", &k2, f32_in, 1, f32_out, 1, 1u << 1, &a) ==
                  MAESTRO_OK);
  ocl_prog_stats(rt, &s1);
  CU_ASSERT_EQUAL(s1.builds + s1.disk_hits + s1.cache_hits,
                  s0.builds + s0.disk_hits + s0.cache_hits + 1);
  maestro_buf_t *in = ramp(rt, 100);
  CU_ASSERT(ocl_launch(a, 0, &in, on_done, NULL) == MAESTRO_ENODEV);
  maestro_buf_t *out = run1(a, 1, in, NULL);
  CU_ASSERT(check_ramp(out, 100, 2.0f));
  maestro_buf_release(out);
  maestro_buf_release(in);
  ocl_kagent_destroy(a);
  CU_ASSERT(ocl_kagent_create_on(rt, "none", &k2, f32_in, 1, f32_out, 1, 1u << 5, &a) ==
            MAESTRO_ENODEV);
  maestro_runtime_destroy(rt);
}

/* 48 messages of 256 KiB in flight through a 1 MiB device: replicas are
 * evicted (the only copies written back first) and nothing is lost. */
static void test_memory_pressure(void) {
  enum { N = 48 };
  size_t n = 65536; /* 256 KiB of f32 */
  maestro_runtime_t *rt = testutil_device_runtime(0, (size_t)1 << 20);
  maestro_kernel_t k2 = scale_kernel(scale2_args);
  ocl_kagent_t *a;
  CU_ASSERT_FATAL(ocl_kagent_create(rt, "x2", &k2, f32_in, 1, f32_out, 1, &a) == MAESTRO_OK);
  maestro_buf_t *in[N], *slot[N];
  ocl_launch_result_t res[N];
  ticket_t t[N];
  waiter_t w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, slot, res, {0}};
  for (int i = 0; i < N; i++) {
    in[i] = ramp(rt, n);
    t[i] = (ticket_t){&w, i};
    int rc = ocl_launch(a, 0, &in[i], on_done, &t[i]);
    if (rc) fprintf(stderr, "launch %d: %s\n", i, maestro_last_error());
    CU_ASSERT_FATAL(rc == MAESTRO_OK);
  }
  wait_for(&w, N);
  ocl_dev_stats_t s;
  ocl_dev_stats(rt, 0, &s);
  CU_ASSERT(s.mem_used <= s.mem_limit);
  CU_ASSERT(s.evictions > 0);
  for (int i = 0; i < N; i++) {
    CU_ASSERT(res[i].status == MAESTRO_OK);
    CU_ASSERT(check_ramp(slot[i], n, 2.0f));
    maestro_buf_release(slot[i]);
    maestro_buf_release(in[i]);
  }
  /* A message bigger than the whole limit fails cleanly. */
  maestro_buf_t *big = ramp(rt, (size_t)1 << 19);
  CU_ASSERT(ocl_launch(a, 0, &big, on_done, &t[0]) == MAESTRO_ENOMEM);
  CU_ASSERT(strstr(maestro_last_error(), "MAESTRO_DEVICE_MEM") != NULL);
  maestro_buf_release(big);
  ocl_kagent_destroy(a);
  maestro_runtime_destroy(rt);
}

/* Pipelined launches keep their order and their results. */
static void test_pipelined(void) {
  enum { N = 64 };
  maestro_runtime_t *rt = testutil_device_runtime(0, 0);
  maestro_kernel_t k3 = scale_kernel(scale3_args);
  ocl_kagent_t *a;
  CU_ASSERT_FATAL(ocl_kagent_create(rt, "x3", &k3, f32_in, 1, f32_out, 1, &a) == MAESTRO_OK);
  maestro_buf_t *in[N], *slot[N];
  ocl_launch_result_t res[N];
  ticket_t t[N];
  waiter_t w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, slot, res, {0}};
  for (int i = 0; i < N; i++) {
    in[i] = ramp(rt, 1000 + (size_t)i);
    t[i] = (ticket_t){&w, i};
    CU_ASSERT_FATAL(ocl_launch(a, 0, &in[i], on_done, &t[i]) == MAESTRO_OK);
  }
  wait_for(&w, N);
  for (int i = 0; i < N; i++) {
    CU_ASSERT(check_ramp(slot[i], 1000 + (size_t)i, 3.0f));
    CU_ASSERT_EQUAL(w.order[i], i); /* done() in launch order */
    CU_ASSERT(res[i].t_end_ns >= res[i].t_start_ns);
    maestro_buf_release(slot[i]);
    maestro_buf_release(in[i]);
  }
  CU_ASSERT(ocl_transfer_cost_ns(rt, 0, 1 << 20) > 0); /* copies cost time */
  ocl_kagent_destroy(a);
  maestro_runtime_destroy(rt);
}

/* ocl_launch_ex with an output marked for the host: its read rides behind
 * the kernel, the host replica is valid at done(), and reading it later
 * moves nothing more. */
static void test_host_outputs(void) {
  maestro_runtime_t *rt = testutil_device_runtime(0, 0);
  maestro_kernel_t k2 = scale_kernel(scale2_args);
  ocl_kagent_t *a;
  CU_ASSERT_FATAL(ocl_kagent_create(rt, "x2", &k2, f32_in, 1, f32_out, 1, &a) == MAESTRO_OK);
  size_t n = 5000;
  maestro_buf_t *in = ramp(rt, n), *slot[1] = {NULL};
  ocl_launch_result_t r[1];
  waiter_t w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, slot, r, {0}};
  ticket_t t = {&w, 0};
  CU_ASSERT_FATAL(ocl_launch_ex(a, 0, &in, 1u, on_done, &t) == MAESTRO_OK);
  wait_for(&w, 1);
  CU_ASSERT(r[0].status == MAESTRO_OK);
  CU_ASSERT_EQUAL(r[0].bytes_d2h, n * sizeof(float));
  CU_ASSERT(atomic_load(&slot[0]->host_valid) == 1);
  ocl_dev_stats_t s0, s1;
  ocl_dev_stats(rt, 0, &s0);
  CU_ASSERT(check_ramp(slot[0], n, 2.0f));
  ocl_dev_stats(rt, 0, &s1);
  CU_ASSERT_EQUAL(s1.bytes_d2h, s0.bytes_d2h);
  CU_ASSERT(ocl_buf_valid_on(slot[0], 0)); /* still usable on the device */
  maestro_buf_release(slot[0]);
  maestro_buf_release(in);
  ocl_kagent_destroy(a);
  maestro_runtime_destroy(rt);
}

/* A steady stream of 4 MiB messages with K launches in flight at once: once
 * a first round has filled the pools, later rounds allocate no new host
 * buffer (the pool's own count), no new device memory (the device's bytes
 * in use) and no new zero-copy wrap, with zero-copy and with copies; the
 * buffers the pools hand back hold new values each round and are never
 * taken as valid on the device from their last life. The pools used to
 * keep 4 buffers of each class above 2 MiB: every round past the first
 * allocated (and faulted in) the rest afresh, 16 of the 20 here; and every
 * zero-copy message created a wrap of its host bytes (20 a round). */
static void large_steady(int zero_copy) {
  enum { K = 10, ROUNDS = 4 };
  const size_t n = (size_t)1 << 20; /* 4 MiB of f32 */
  maestro_runtime_t *rt = testutil_device_runtime(zero_copy, 0);
  maestro_kernel_t k2 = scale_kernel(scale2_args);
  ocl_kagent_t *a;
  CU_ASSERT_FATAL(ocl_kagent_create(rt, "x2", &k2, f32_in, 1, f32_out, 1, &a) == MAESTRO_OK);
  struct mem_stats s1 = {0}, s;
  ocl_dev_stats_t d1 = {0}, d;
  for (int round = 0; round < ROUNDS; round++) {
    maestro_buf_t *in[K], *slot[K];
    ocl_launch_result_t res[K];
    ticket_t t[K];
    waiter_t w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, slot, res, {0}};
    int stale = 0;
    for (int i = 0; i < K; i++) {
      CU_ASSERT_FATAL(maestro_buf_create(rt, n * sizeof(float), &in[i]) == MAESTRO_OK);
      /* A pooled buffer keeps its replica records, never their validity. */
      stale += ocl_buf_valid_on(in[i], 0);
      float *x = maestro_buf_data(in[i]);
      for (size_t j = 0; j < n; j++)
        x[j] = (float)((j + (size_t)i + (size_t)round) % 1000);
    }
    CU_ASSERT_EQUAL(stale, 0);
    for (int i = 0; i < K; i++) {
      t[i] = (ticket_t){&w, i};
      CU_ASSERT_FATAL(ocl_launch_ex(a, 0, &in[i], 1u, on_done, &t[i]) == MAESTRO_OK);
    }
    wait_for(&w, K);
    int good = 0;
    for (int i = 0; i < K; i++) {
      const float *y = maestro_buf_cdata(slot[i]);
      size_t r = (size_t)round;
      good += res[i].status == MAESTRO_OK && y && y[0] == 2.0f * (float)(((size_t)i + r) % 1000) &&
              y[n - 1] == 2.0f * (float)((n - 1 + (size_t)i + r) % 1000);
    }
    CU_ASSERT_EQUAL(good, K);
    for (int i = 0; i < K; i++) {
      maestro_buf_release(slot[i]);
      maestro_buf_release(in[i]);
    }
    mem_get_stats(rt, &s);
    CU_ASSERT_FATAL(ocl_dev_stats(rt, 0, &d) == MAESTRO_OK);
    if (round == 0) {
      s1 = s;
      d1 = d;
      CU_ASSERT(s1.fresh >= 2 * K); /* K inputs and K outputs alive at once */
      continue;
    }
    if (s.fresh != s1.fresh || d.mem_used != d1.mem_used || d.wraps != d1.wraps)
      printf("\n    %s, round %d: %llu new host buffers since the first round, device memory "
             "%llu -> %llu bytes, %llu new zero-copy wraps",
             zero_copy ? "zero-copy" : "copies", round, s.fresh - s1.fresh,
             (unsigned long long)d1.mem_used, (unsigned long long)d.mem_used,
             (unsigned long long)(d.wraps - d1.wraps));
    CU_ASSERT_EQUAL(s.fresh, s1.fresh);
    /* PoCL's device shares the host's memory coherently: the wraps of the
     * pooled host bytes serve their next lives (none with copies). */
    CU_ASSERT_EQUAL(d.wraps, d1.wraps);
    if (!zero_copy) CU_ASSERT_EQUAL(d.wraps, 0);
    CU_ASSERT_EQUAL(s.reused - s1.reused, (unsigned long long)(2 * K * round));
    CU_ASSERT_EQUAL(d.mem_used, d1.mem_used);
  }
  ocl_kagent_destroy(a);
  maestro_runtime_destroy(rt);
}

static void test_large_steady_zero_copy(void) {
  large_steady(1);
}

static void test_large_steady_copies(void) {
  large_steady(0);
}

/* MAESTRO_KARG_SCRATCH: zero-filled for every launch, even when the pool
 * hands back memory an earlier launch wrote to. */
static void test_scratch(void) {
  maestro_runtime_t *rt = testutil_device_runtime(1, 0);
  static const maestro_karg_t args[] = {MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0),
                                        MAESTRO_KARG_SCRATCH(64)};
  maestro_kernel_t k = {.source = "__kernel void s(__global const float *x, __global float *y,"
                                  " __global uint *scr) { if (get_global_id(0) == 0) {"
                                  " y[0] = x[0] + (float)scr[0] + (float)scr[15]; scr[0] = 123;"
                                  " scr[15] = 7; } }",
                        .name = "s",
                        .args = args,
                        .n_args = 3};
  ocl_kagent_t *a;
  CU_ASSERT_FATAL(ocl_kagent_create(rt, "scratch", &k, f32_in, 1, f32_out, 1, &a) == MAESTRO_OK);
  maestro_buf_t *in = ramp(rt, 1);
  for (int i = 0; i < 3; i++) {
    maestro_buf_t *out = run1(a, 0, in, NULL);
    const float *y = maestro_buf_cdata(out);
    CU_ASSERT(y && y[0] == 0.0f);
    maestro_buf_release(out);
  }
  ocl_dev_stats_t s;
  ocl_dev_stats(rt, 0, &s);
  CU_ASSERT(s.mem_used > 0); /* scratch memory went back to the pool */
  maestro_buf_release(in);
  ocl_kagent_destroy(a);
  static const maestro_karg_t bad[] = {MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0),
                                       MAESTRO_KARG_SCRATCH(0)};
  k.args = bad;
  CU_ASSERT(ocl_kagent_create(rt, "bad", &k, f32_in, 1, f32_out, 1, &a) == MAESTRO_EINVAL);
  maestro_runtime_destroy(rt);
}

/* Runs bundled agent `which` on `ins` (one launch), returns its output. */
static maestro_buf_t *run_bundled(maestro_runtime_t *rt, maestro_bundled_t which,
                                  const maestro_bundled_params_t *p, maestro_buf_t **ins) {
  static maestro_bundled_agent_t ba; /* kernel/args point into it */
  CU_ASSERT_FATAL(kern_bundled_kernel(which, p, &ba) == MAESTRO_OK);
  const maestro_port_t *in, *out;
  int n_in, n_out;
  CU_ASSERT_FATAL(kern_bundled_ports(which, &in, &n_in, &out, &n_out) == MAESTRO_OK);
  ocl_kagent_t *ka = NULL;
  int rc = ocl_kagent_create(rt, "bundled", &ba.kernel, in, n_in, out, n_out, &ka);
  if (rc) fprintf(stderr, "bundled: %s\n", maestro_last_error());
  CU_ASSERT_FATAL(rc == MAESTRO_OK);
  maestro_buf_t *slot[1] = {NULL};
  ocl_launch_result_t r[1];
  waiter_t w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, slot, r, {0}};
  ticket_t t = {&w, 0};
  CU_ASSERT_FATAL(ocl_launch(ka, 0, ins, on_done, &t) == MAESTRO_OK);
  wait_for(&w, 1);
  CU_ASSERT(r[0].status == MAESTRO_OK);
  ocl_kagent_destroy(ka);
  return slot[0];
}

/* The bundled kernels (.source = NULL) through kernel agents, against their
 * CPU implementations, on sizes that are not work-group multiples, 1 and 0. */
static void test_bundled(void) {
  maestro_runtime_t *rt = testutil_device_runtime(1, 0);
  size_t sizes[] = {0, 1, 1000, 100003};
  for (int s = 0; s < 4; s++) {
    size_t n = sizes[s];
    float *x = malloc((n + 1) * sizeof *x);
    for (size_t i = 0; i < n; i++)
      x[i] = (float)((i * 7919) % 101) / 10.0f;
    maestro_buf_t *in;
    CU_ASSERT_FATAL(maestro_buf_from(rt, x, n * sizeof *x, &in) == MAESTRO_OK);
    maestro_bundled_params_t p = {.a = 3.0f};
    maestro_buf_t *o = run_bundled(rt, MAESTRO_BUNDLED_REDUCE_SUM, &p, &in);
    CU_ASSERT_FATAL(maestro_buf_size(o) == sizeof(float));
    float want = kern_reduce(MAESTRO_BUNDLED_REDUCE_SUM, x, n);
    float got = *(const float *)maestro_buf_cdata(o);
    CU_ASSERT(fabsf(got - want) <= 1e-3f * (fabsf(want) + 1.0f));
    maestro_buf_release(o);
    o = run_bundled(rt, MAESTRO_BUNDLED_SCALE, &p, &in);
    CU_ASSERT(maestro_buf_size(o) == n * sizeof(float));
    if (n) {
      const float *y = maestro_buf_cdata(o);
      int ok = 1;
      for (size_t i = 0; i < n; i++)
        ok &= y[i] == 3.0f * x[i];
      CU_ASSERT(ok);
    }
    maestro_buf_release(o);
    maestro_buf_release(in);
    free(x);
  }
  /* SGEMM 33 x 17 x 20 (not tile multiples). */
  uint32_t m = 33, nn = 17, k = 20;
  float *a = malloc(m * k * sizeof *a), *b = malloc(k * nn * sizeof *b),
        *c = malloc(m * nn * sizeof *c);
  for (uint32_t i = 0; i < m * k; i++)
    a[i] = (float)(i % 13) - 6.0f;
  for (uint32_t i = 0; i < k * nn; i++)
    b[i] = (float)(i % 7) - 3.0f;
  kern_sgemm(a, b, c, m, nn, k);
  maestro_buf_t *ins[2];
  maestro_buf_from(rt, a, m * k * sizeof *a, &ins[0]);
  maestro_buf_from(rt, b, k * nn * sizeof *b, &ins[1]);
  maestro_bundled_params_t p = {.m = m, .n = nn, .k = k};
  maestro_buf_t *o = run_bundled(rt, MAESTRO_BUNDLED_SGEMM, &p, ins);
  CU_ASSERT_FATAL(maestro_buf_size(o) == m * nn * sizeof(float));
  const float *y = maestro_buf_cdata(o);
  int ok = 1;
  for (uint32_t i = 0; i < m * nn; i++)
    ok &= fabsf(y[i] - c[i]) <= 1e-3f * (fabsf(c[i]) + 1.0f);
  CU_ASSERT(ok);
  maestro_buf_release(o);
  maestro_buf_release(ins[0]);
  maestro_buf_release(ins[1]);
  free(a);
  free(b);
  free(c);
  maestro_runtime_destroy(rt);
}

void register_suites(void) {
  ADD_SUITE("ocl", NULL, NULL, {"build error", test_build_error},
            {"program cache", test_program_cache}, {"chain, copies", test_chain_copies},
            {"chain, zero-copy", test_chain_zero_copy},
            {"host write invalidates", test_host_write_invalidates},
            {"two devices", test_two_devices}, {"memory pressure", test_memory_pressure},
            {"pipelined", test_pipelined}, {"bundled kernels", test_bundled},
            {"host outputs", test_host_outputs}, {"built on some devices", test_built_on_some},
            {"scratch", test_scratch}, {"two contexts", test_two_contexts},
            {"large messages, steady state, zero-copy", test_large_steady_zero_copy},
            {"large messages, steady state, copies", test_large_steady_copies});
}
