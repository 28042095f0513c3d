/* A MAESTRO_RANK_ANY agent with a device implementation across MPI ranks
 * (core/serve.c, core/window.c, runtime/backend/mpi/any.c), run by ctest
 * under `mpiexec -n 2` and `-n 3`, with PoCL's device and with two
 * ("POCL_DEVICES=pthread pthread"; tests/mpi.cmake). Every rank places the
 * firings it gets among its own CPU places and devices: with the CPU side
 * far slower, every rank fires some on its devices; rank 0 still emits
 * every output, exact, in input order. A kernel that does not build on a
 * serving rank fails the graph on every rank, naming agent and rank. */
#include <mpi.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "maestro.h"
#include "mpi_test.h"
#include "testmain.h"

static maestro_runtime_t *rt;
static int me, nr, ndev;

static int suite_init(void) {
  maestro_config_t cfg;
  mpi_test_config(&cfg);
  cfg.devices = NULL; /* the default devices: PoCL here */
  if (mpi_test_start(&cfg, &rt, &me, &nr)) return -1;
  ndev = maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE);
  return 0;
}

static int suite_fini(void) {
  maestro_runtime_destroy(rt);
  return 0;
}

static const maestro_port_t u32_in[] = {{"in", MAESTRO_U32, 0}};
static const maestro_port_t u32_out[] = {{"out", MAESTRO_U32, 0}};
static const maestro_karg_t mix_args[] = {MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0),
                                          MAESTRO_KARG_COUNT(0)};
static const maestro_kernel_t mix_kernel = {
    .source = "__kernel void mixu(__global const uint *x, __global uint *y, uint n)"
              "{ size_t i = get_global_id(0); if (i >= n) return; uint v = x[i];"
              "  for (int k = 0; k < 512; k++) v = v * 2654435761u + 7u;"
              "  y[i] = v; }",
    .name = "mixu",
    .args = mix_args,
    .n_args = 3,
    .range_port = 0};
/* The same, but it does not build (given on the ranks other than 0). */
static const maestro_kernel_t bad_kernel = {
    .source = "__kernel void mixu(__global const uint *x, __global uint *y, uint n)"
              "{ size_t i = get_global_id(0); if (i < n) y[i] = x[i] * no_such_name; }",
    .name = "mixu",
    .args = mix_args,
    .n_args = 3,
    .range_port = 0};

/* What the kernel computes of one element: integers, exact everywhere. */
static uint32_t mixed(uint32_t v) {
  for (int k = 0; k < 512; k++)
    v = v * 2654435761u + 7u;
  return v;
}

/* The CPU side: the same exact integers as the kernel, made slower (+2 ms). */
static int mix_cpu(maestro_fire_t *f) {
  maestro_buf_t *in = maestro_fire_in(f, 0), *o;
  size_t n = maestro_buf_size(in);
  int rc = maestro_fire_alloc(f, n, &o);
  if (rc) return rc;
  const uint32_t *x = maestro_buf_cdata(in);
  uint32_t *y = maestro_buf_data(o);
  for (size_t i = 0; i < n / 4; i++)
    y[i] = mixed(x[i]);
  mpi_test_spin(2000000);
  return maestro_fire_out(f, 0, o);
}

#define ELEMS 1024

static uint32_t elem(int m, int i) {
  return (uint32_t)m * 100003u + (uint32_t)i;
}

struct stream {
  maestro_input_t *in;
  int n;
};

static void *push_all(void *arg) {
  struct stream *s = arg;
  for (int m = 0; m < s->n; m++) {
    maestro_buf_t *b;
    if (maestro_buf_create(rt, ELEMS * sizeof(uint32_t), &b) != MAESTRO_OK) break;
    uint32_t *x = maestro_buf_data(b);
    for (int i = 0; i < ELEMS; i++)
      x[i] = elem(m, i);
    if (maestro_input_push(s->in, b) != MAESTRO_OK) break;
  }
  maestro_input_close(s->in);
  return NULL;
}

static maestro_agent_t *add_hybrid(maestro_graph_t *g, const char *name,
                                   const maestro_kernel_t *k) {
  maestro_agent_desc_t d = {
      .name = name,
      .in = u32_in,
      .n_in = 1,
      .out = u32_out,
      .n_out = 1,
      .cpu = mix_cpu,
      .kernel = k,
      .flags = MAESTRO_STATELESS,
      .affinity = {.pref = MAESTRO_ANYWHERE, .index = -1, .rank = MAESTRO_RANK_ANY}};
  maestro_agent_t *a;
  CU_ASSERT_EQUAL_FATAL(maestro_agent_add(g, &d, &a), MAESTRO_OK);
  return a;
}

static void gather(uint64_t mine, uint64_t *all) {
  unsigned long long v = mine, got[64] = {0};
  MPI_Allgather(&v, 1, MPI_UNSIGNED_LONG_LONG, got, 1, MPI_UNSIGNED_LONG_LONG, MPI_COMM_WORLD);
  for (int r = 0; r < nr; r++)
    all[r] = got[r];
}

/* ---- every rank fires some firings on its devices ---- */

static void test_devices_everywhere(void) {
  CU_ASSERT_TRUE_FATAL(ndev >= 1);
  const int n = 1000;
  maestro_graph_t *g;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_create(rt, "anydev", &g), MAESTRO_OK);
  maestro_agent_t *a = add_hybrid(g, "mix", &mix_kernel);
  struct stream s = {NULL, n};
  maestro_output_t *out;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_input(g, a, "in", &s.in), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_output(g, a, "out", &out), MAESTRO_OK);
  int rc = maestro_graph_start(g);
  if (rc) fprintf(stderr, "rank %d: %s\n", me, maestro_last_error());
  CU_ASSERT_EQUAL_FATAL(rc, MAESTRO_OK);
  if (me == 0) {
    pthread_t t;
    pthread_create(&t, NULL, push_all, &s);
    int got = 0, bad = 0;
    maestro_buf_t *m;
    while (maestro_output_pop(out, &m, -1) == MAESTRO_OK) {
      const uint32_t *y = maestro_buf_cdata(m);
      if (maestro_buf_size(m) != ELEMS * sizeof(uint32_t)) {
        bad++;
      } else {
        for (int i = 0; i < ELEMS; i++)
          if (y[i] != mixed(elem(got, i))) {
            bad++;
            break;
          }
      }
      maestro_buf_release(m);
      got++;
    }
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(got, n);
    CU_ASSERT_EQUAL(bad, 0);
  }
  rc = maestro_graph_wait(g);
  if (rc) fprintf(stderr, "rank %d: %s\n", me, maestro_last_error());
  CU_ASSERT_EQUAL(rc, MAESTRO_OK);
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(a, &st), MAESTRO_OK);
  uint64_t fires[64] = {0}, dev[64] = {0}, cpu[64] = {0};
  gather(st.fires, fires);
  gather(st.device_fires, dev);
  gather(st.cpu_fires, cpu);
  uint64_t sum = 0, remote = 0, remote_dev = 0;
  for (int r = 0; r < nr; r++) {
    sum += fires[r];
    CU_ASSERT_EQUAL(dev[r] + cpu[r], fires[r]);
    CU_ASSERT_TRUE(dev[r] > 0); /* every rank ran some on its devices */
    if (r) remote += fires[r], remote_dev += dev[r];
  }
  CU_ASSERT_EQUAL(sum, (uint64_t)n); /* each firing ran once, on one rank */
  /* Rank 0 knows where they ran: per rank, and on a device or not. */
  CU_ASSERT_EQUAL(st.remote_fires, me == 0 ? remote : 0);
  CU_ASSERT_EQUAL(st.remote_device_fires, me == 0 ? remote_dev : 0);
  for (int r = 0; r < nr; r++) {
    uint64_t f = 0;
    CU_ASSERT_EQUAL(maestro_agent_rank_fires(a, r, &f), MAESTRO_OK);
    CU_ASSERT_EQUAL(f, r == me || me == 0 ? fires[r] : 0);
  }
  if (me == 0) {
    fprintf(stderr, "\n  %d ranks, %d device(s) each: firings per rank (device, CPU)", nr, ndev);
    for (int r = 0; r < nr; r++)
      fprintf(stderr, " (%llu, %llu)", (unsigned long long)dev[r], (unsigned long long)cpu[r]);
    fprintf(stderr, "\n");
  }
  maestro_graph_destroy(g);
}

/* ---- a kernel that does not build on the other ranks ---- */

static void test_build_fails_remote(void) {
  maestro_graph_t *g;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_create(rt, "anybad", &g), MAESTRO_OK);
  maestro_agent_t *a = add_hybrid(g, "badmix", me == 0 ? &mix_kernel : &bad_kernel);
  struct stream s = {NULL, 200};
  maestro_output_t *out;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_input(g, a, "in", &s.in), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_output(g, a, "out", &out), MAESTRO_OK);
  /* Every rank starts (a rank refusing alone would leave the others
   * waiting for it); the graph then fails everywhere. */
  CU_ASSERT_EQUAL_FATAL(maestro_graph_start(g), MAESTRO_OK);
  if (me == 0) {
    pthread_t t;
    pthread_create(&t, NULL, push_all, &s);
    maestro_buf_t *m;
    while (maestro_output_pop(out, &m, -1) == MAESTRO_OK)
      maestro_buf_release(m);
    pthread_join(t, NULL);
  }
  int rc = maestro_graph_wait(g);
  const char *e = maestro_last_error();
  if (rc != MAESTRO_EAGENT) fprintf(stderr, "rank %d: rc %d\n", me, rc);
  CU_ASSERT_EQUAL(rc, MAESTRO_EAGENT);
  /* Named: the agent, a rank other than 0, why. */
  int named = strstr(e, "agent 'badmix' on rank ") && !strstr(e, "on rank 0") &&
              strstr(e, "cannot be set up on this rank");
  if (!named || me == 0) fprintf(stderr, "\n  rank %d: %s\n", me, e);
  CU_ASSERT_TRUE(named);
  maestro_graph_destroy(g);
}

/* ---- a kernel-only MAESTRO_RANK_ANY agent is refused, named ---- */

static void test_kernel_only_refused(void) {
  maestro_graph_t *g;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_create(rt, "anyk", &g), MAESTRO_OK);
  maestro_agent_desc_t d = {
      .name = "konly",
      .in = u32_in,
      .n_in = 1,
      .out = u32_out,
      .n_out = 1,
      .kernel = &mix_kernel,
      .flags = MAESTRO_STATELESS,
      .affinity = {.pref = MAESTRO_ANYWHERE, .index = -1, .rank = MAESTRO_RANK_ANY}};
  maestro_agent_t *a;
  CU_ASSERT_EQUAL(maestro_agent_add(g, &d, &a), MAESTRO_EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(maestro_last_error(), "agent 'konly'"));
  CU_ASSERT_PTR_NOT_NULL(strstr(maestro_last_error(), "needs a .cpu"));
  maestro_graph_destroy(g);
}

void register_suites(void) {
  ADD_SUITE("mpi_any_dev", suite_init, suite_fini, {"devices everywhere", test_devices_everywhere},
            {"build fails on a serving rank", test_build_fails_remote},
            {"kernel-only refused", test_kernel_only_refused});
}
