/* Faults on a rank serving a MAESTRO_RANK_ANY agent for rank 0
 * (runtime/backend/mpi/any.c, core/serve.c), injected on rank 1 only
 * (MAESTRO_FAULTS, Debug builds), run by ctest under `mpiexec -n 2` with
 * MAESTRO_TEST_FAULT naming the item:
 * - "answer", "serve": out of memory while queueing a firing's outcome, or
 *   while taking a firing in. The firing's answer must still reach rank 0,
 *   whose window waits for it: the graph fails on every rank with a
 *   message naming the agent and rank 1, and every rank's
 *   maestro_graph_wait returns (it hung before).
 * - "launch": every device launch there is refused: a hybrid agent's
 *   firings there fall back to its CPU implementation, every output exact
 *   and in order, none counted on a device. */
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
static int me, nr;
static char faults[64];

static int suite_init(void) {
  /* The rank is known only once the runtime runs: Open MPI's says it. */
  const char *r = getenv("OMPI_COMM_WORLD_RANK"), *item = getenv("MAESTRO_TEST_FAULT");
  if (!r || !item) {
    fprintf(stderr, "run under mpiexec with MAESTRO_TEST_FAULT set\n");
    return -1;
  }
  snprintf(faults, sizeof faults, "%s=1,seed=7", item);
  maestro_config_t cfg;
  mpi_test_config(&cfg);
  if (!strcmp(item, "launch")) cfg.devices = NULL;
  cfg.faults = atoi(r) == 1 ? faults : NULL;
  if (mpi_test_start(&cfg, &rt, &me, &nr)) return -1;
  return 0;
}

static int suite_fini(void) {
  maestro_runtime_destroy(rt);
  return 0;
}

static const maestro_port_t bytes_in[] = {{"in", MAESTRO_BYTES, 0}};
static const maestro_port_t bytes_out[] = {{"out", MAESTRO_BYTES, 0}};

/* 1 ms a firing: worth sending to rank 1. */
static int heavy(maestro_fire_t *f) {
  mpi_test_spin(1000000);
  return maestro_fire_out(f, 0, maestro_buf_retain(maestro_fire_in(f, 0)));
}

struct stream {
  maestro_input_t *in;
  int n;
};

static void *push_words(void *arg) {
  struct stream *s = arg;
  for (uint64_t i = 0; i < (uint64_t)s->n; i++) {
    maestro_buf_t *b;
    if (maestro_buf_from(rt, &i, sizeof i, &b) != MAESTRO_OK) break;
    if (maestro_input_push(s->in, b) != MAESTRO_OK) break;
  }
  maestro_input_close(s->in);
  return NULL;
}

static void test_oom_on_rank1(void) {
  CU_ASSERT_TRUE_FATAL(nr == 2);
  maestro_graph_t *g;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_create(rt, "anyoom", &g), MAESTRO_OK);
  maestro_agent_desc_t d = {
      .name = "heavy",
      .in = bytes_in,
      .n_in = 1,
      .out = bytes_out,
      .n_out = 1,
      .cpu = heavy,
      .flags = MAESTRO_STATELESS,
      .affinity = {.pref = MAESTRO_ON_CPU, .index = -1, .rank = MAESTRO_RANK_ANY}};
  maestro_agent_t *a;
  CU_ASSERT_EQUAL_FATAL(maestro_agent_add(g, &d, &a), MAESTRO_OK);
  struct stream s = {NULL, 2000};
  maestro_output_t *out;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_input(g, a, "in", &s.in), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_output(g, a, "out", &out), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_start(g), MAESTRO_OK);
  uint64_t popped = 0;
  int ordered = 1;
  if (me == 0) {
    pthread_t t;
    pthread_create(&t, NULL, push_words, &s);
    maestro_buf_t *m;
    uint64_t last = 0;
    while (maestro_output_pop(out, &m, -1) == MAESTRO_OK) {
      uint64_t v;
      memcpy(&v, maestro_buf_cdata(m), sizeof v);
      if (popped && v <= last) ordered = 0;
      last = v;
      popped++;
      maestro_buf_release(m);
    }
    pthread_join(t, NULL);
  }
  int rc = maestro_graph_wait(g); /* returns on every rank: it hung here */
  const char *e = maestro_last_error();
  int named = strstr(e, "heavy") && strstr(e, "rank 1") && strstr(e, "out of memory");
  if (!named || rc != MAESTRO_EAGENT || me == 0)
    fprintf(stderr, "\n  rank %d: rc %d: %s\n", me, rc, e);
  CU_ASSERT_EQUAL(rc, MAESTRO_EAGENT);
  CU_ASSERT_TRUE(named);
  CU_ASSERT_TRUE(ordered);
  CU_ASSERT_TRUE(popped < 2000); /* the firings that failed on rank 1 never came out */
  maestro_graph_destroy(g);
}

/* ---- launches refused on rank 1: its CPU implementation fires them ---- */

static const maestro_port_t u32_in[] = {{"in", MAESTRO_U32, 0}};
static const maestro_port_t u32_out[] = {{"out", MAESTRO_U32, 0}};
static const maestro_karg_t inc_args[] = {MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0),
                                          MAESTRO_KARG_COUNT(0)};
static const maestro_kernel_t inc_kernel = {
    .source = "__kernel void incr(__global const uint *x, __global uint *y, uint n)"
              "{ size_t i = get_global_id(0); if (i >= n) return; uint v = x[i];"
              "  for (int k = 0; k < 512; k++) v = v * 2654435761u + 7u;"
              "  y[i] = v; }",
    .name = "incr",
    .args = inc_args,
    .n_args = 3,
    .range_port = 0};

static uint32_t mixed(uint32_t v) {
  for (int k = 0; k < 512; k++)
    v = v * 2654435761u + 7u;
  return v;
}

/* The same as the kernel, 2 ms slower: firings are worth sending away. */
static int inc_cpu(maestro_fire_t *f) {
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

static void *push_vectors(void *arg) {
  struct stream *s = arg;
  for (int m = 0; m < s->n; m++) {
    maestro_buf_t *b;
    if (maestro_buf_create(rt, ELEMS * 4, &b) != MAESTRO_OK) break;
    uint32_t *x = maestro_buf_data(b);
    for (int i = 0; i < ELEMS; i++)
      x[i] = (uint32_t)(m * 1000 + i);
    if (maestro_input_push(s->in, b) != MAESTRO_OK) break;
  }
  maestro_input_close(s->in);
  return NULL;
}

static void test_launch_refused_on_rank1(void) {
  CU_ASSERT_TRUE_FATAL(nr == 2);
  CU_ASSERT_TRUE_FATAL(maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE) >= 1);
  const int n = 600;
  maestro_graph_t *g;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_create(rt, "anylaunch", &g), MAESTRO_OK);
  maestro_agent_desc_t d = {
      .name = "inc",
      .in = u32_in,
      .n_in = 1,
      .out = u32_out,
      .n_out = 1,
      .cpu = inc_cpu,
      .kernel = &inc_kernel,
      .flags = MAESTRO_STATELESS,
      .affinity = {.pref = MAESTRO_ANYWHERE, .index = -1, .rank = MAESTRO_RANK_ANY}};
  maestro_agent_t *a;
  CU_ASSERT_EQUAL_FATAL(maestro_agent_add(g, &d, &a), MAESTRO_OK);
  struct stream s = {NULL, n};
  maestro_output_t *out;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_input(g, a, "in", &s.in), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_output(g, a, "out", &out), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_start(g), MAESTRO_OK);
  if (me == 0) {
    pthread_t t;
    pthread_create(&t, NULL, push_vectors, &s);
    int got = 0, bad = 0;
    maestro_buf_t *m;
    while (maestro_output_pop(out, &m, -1) == MAESTRO_OK) {
      const uint32_t *y = maestro_buf_cdata(m);
      int ok = maestro_buf_size(m) == ELEMS * 4;
      for (int i = 0; ok && i < ELEMS; i++)
        ok = y[i] == mixed((uint32_t)(got * 1000 + i));
      bad += !ok;
      got++;
      maestro_buf_release(m);
    }
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(got, n);
    CU_ASSERT_EQUAL(bad, 0);
  }
  int rc = maestro_graph_wait(g);
  if (rc) fprintf(stderr, "rank %d: %s\n", me, maestro_last_error());
  CU_ASSERT_EQUAL(rc, MAESTRO_OK);
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(a, &st), MAESTRO_OK);
  unsigned long long mine[4] = {st.fires, st.device_fires, st.fallbacks, st.cpu_fires}, all[8];
  MPI_Allgather(mine, 4, MPI_UNSIGNED_LONG_LONG, all, 4, MPI_UNSIGNED_LONG_LONG, MPI_COMM_WORLD);
  CU_ASSERT_EQUAL(all[0] + all[4], (unsigned long long)n);
  CU_ASSERT_TRUE(all[4] > 0);      /* rank 1 got firings, */
  CU_ASSERT_EQUAL(all[5], 0);      /* none ran on its device, */
  CU_ASSERT_EQUAL(all[7], all[4]); /* all on its CPU, */
  CU_ASSERT_TRUE(all[6] > 0);      /* those placed on its device by falling back */
  CU_ASSERT_TRUE(all[6] <= all[4]);
  if (me == 0) CU_ASSERT_EQUAL(st.remote_device_fires, 0);
  if (me == 0)
    fprintf(stderr, "\n  firings rank 0 %llu (device %llu), rank 1 %llu (fallbacks %llu)\n", all[0],
            all[1], all[4], all[6]);
  maestro_graph_destroy(g);
}

void register_suites(void) {
  if (!strcmp(getenv("MAESTRO_TEST_FAULT") ? getenv("MAESTRO_TEST_FAULT") : "", "launch"))
    ADD_SUITE("mpi_any_faults", suite_init, suite_fini,
              {"launches refused on rank 1", test_launch_refused_on_rank1});
  else
    ADD_SUITE("mpi_any_faults", suite_init, suite_fini,
              {"out of memory on rank 1", test_oom_on_rank1});
}
