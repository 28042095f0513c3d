/* MAESTRO_RANK_ANY agents across MPI ranks (runtime/backend/mpi/any.c,
 * core/window.c, core/serve.c), run by ctest under `mpiexec -n 2` and `-n 3`
 * (tests/mpi.cmake). Rank 0 owns such an agent and emits its outputs in
 * input order; each firing runs where it is expected to end first. Every
 * rank runs every test in the same order (SPMD); the firings each rank ran
 * are gathered at the end of a test with MPI. */
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

static int suite_init(void) {
  maestro_config_t cfg;
  mpi_test_config(&cfg);
  if (mpi_test_start(&cfg, &rt, &me, &nr)) return -1;
  return 0;
}

static int suite_fini(void) {
  maestro_runtime_destroy(rt);
  return 0;
}

static const maestro_port_t bytes_in[] = {{"in", MAESTRO_BYTES, 0}};
static const maestro_port_t bytes_out[] = {{"out", MAESTRO_BYTES, 0}};

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Each output byte is its input byte + 1; the firing works `work_ns`. */
static uint64_t work_ns;

static int plus_one(maestro_fire_t *f) {
  maestro_buf_t *in = maestro_fire_in(f, 0), *o;
  size_t n = maestro_buf_size(in);
  int rc = maestro_fire_alloc(f, n, &o);
  if (rc) return rc;
  const unsigned char *p = maestro_buf_cdata(in);
  unsigned char *q = maestro_buf_data(o);
  for (size_t j = 0; j < n; j++)
    q[j] = (unsigned char)(p[j] + 1);
  if (work_ns) mpi_test_spin(work_ns);
  return maestro_fire_out(f, 0, o);
}

static maestro_agent_t *add_any(maestro_graph_t *g, const char *name, maestro_cpu_fn fn,
                                maestro_fail_t on_fail) {
  maestro_agent_desc_t d = {
      .name = name,
      .in = bytes_in,
      .n_in = 1,
      .out = bytes_out,
      .n_out = 1,
      .cpu = fn,
      .flags = MAESTRO_STATELESS,
      .supervisor = {.on_fail = on_fail},
      .affinity = {.pref = MAESTRO_ON_CPU, .index = -1, .rank = MAESTRO_RANK_ANY}};
  maestro_agent_t *a;
  CU_ASSERT_EQUAL_FATAL(maestro_agent_add(g, &d, &a), MAESTRO_OK);
  return a;
}

/* The firings of `a` each rank ran, gathered on every rank. */
static void gather_fires(maestro_agent_t *a, uint64_t *per_rank) {
  maestro_agent_stats_t s;
  CU_ASSERT_EQUAL(maestro_agent_stats(a, &s), MAESTRO_OK);
  unsigned long long mine = s.fires, all[64] = {0};
  MPI_Allgather(&mine, 1, MPI_UNSIGNED_LONG_LONG, all, 1, MPI_UNSIGNED_LONG_LONG, MPI_COMM_WORLD);
  for (int r = 0; r < nr; r++)
    per_rank[r] = all[r];
}

/* Rank 0 sees where the firings went: per rank, what each rank counted
 * itself; the other ranks see only their own. */
static void check_rank_view(maestro_agent_t *a, const uint64_t *per_rank) {
  maestro_agent_stats_t s;
  CU_ASSERT_EQUAL(maestro_agent_stats(a, &s), MAESTRO_OK);
  uint64_t others = 0;
  for (int r = 0; r < nr; r++) {
    uint64_t f = 12345;
    CU_ASSERT_EQUAL(maestro_agent_rank_fires(a, r, &f), MAESTRO_OK);
    CU_ASSERT_EQUAL(f, r == me || me == 0 ? per_rank[r] : 0);
    if (r != 0) others += per_rank[r];
  }
  CU_ASSERT_EQUAL(s.remote_fires, me == 0 ? others : 0);
  uint64_t f = 7;
  CU_ASSERT_EQUAL(maestro_agent_rank_fires(a, nr, &f), MAESTRO_EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(maestro_last_error(), "rank"));
  CU_ASSERT_EQUAL(maestro_agent_rank_fires(a, -1, &f), MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(maestro_agent_rank_fires(a, 0, NULL), MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(f, 7);
}

/* ---- a stream through a RANK_ANY agent: exact, in input order ---- */

struct stream {
  maestro_input_t *in;
  int n;
};

static int small_only; /* every message 8 bytes */

static size_t msg_size(int i) {
  if (small_only) return 8;
  /* 8 B .. 4 KiB inline, every 16th 16 KiB .. 128 KiB (sent on their own). */
  if (i % 16 == 15) return (size_t)16384 << (i / 16 % 4);
  return (size_t)8 << (i % 10);
}

static unsigned char msg_byte(int i, size_t j) {
  return (unsigned char)(i * 131u + j * 7u + (j >> 8));
}

static void *push_all(void *arg) {
  struct stream *s = arg;
  for (int i = 0; i < s->n; i++) {
    size_t n = msg_size(i);
    maestro_buf_t *b;
    if (maestro_buf_create(rt, n, &b) != MAESTRO_OK) break;
    unsigned char *p = maestro_buf_data(b);
    for (size_t j = 0; j < n; j++)
      p[j] = msg_byte(i, j);
    if (i % 3 == 0) {
      size_t dims[2] = {n / 8, 8};
      maestro_buf_set_shape(b, 2, dims);
    }
    if (maestro_input_push(s->in, b) != MAESTRO_OK) break;
  }
  maestro_input_close(s->in);
  return NULL;
}

/* Runs `n` messages through a RANK_ANY agent working `ns` each; checks
 * every output on rank 0; returns (on every rank) the firings per rank. */
static void run_stream(const char *name, int n, uint64_t ns, uint64_t *per_rank) {
  maestro_graph_t *g;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_create(rt, name, &g), MAESTRO_OK);
  maestro_agent_t *a = add_any(g, name, plus_one, MAESTRO_FAIL_STOP);
  struct stream s = {NULL, n};
  maestro_output_t *out;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_input(g, a, "in", &s.in), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_output(g, a, "out", &out), MAESTRO_OK);
  work_ns = ns;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_start(g), MAESTRO_OK);
  if (me == 0) {
    pthread_t t;
    pthread_create(&t, NULL, push_all, &s);
    int got = 0, bad = 0, bad_shape = 0;
    maestro_buf_t *m;
    while (maestro_output_pop(out, &m, -1) == MAESTRO_OK) {
      size_t want = msg_size(got), sz = maestro_buf_size(m);
      const unsigned char *p = maestro_buf_cdata(m);
      if (sz != want) {
        bad++;
      } else {
        for (size_t j = 0; j < sz; j++)
          if (p[j] != (unsigned char)(msg_byte(got, j) + 1)) {
            bad++;
            break;
          }
      }
      (void)bad_shape; /* the agent makes new buffers: no shape to keep */
      maestro_buf_release(m);
      got++;
    }
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(got, n);
    CU_ASSERT_EQUAL(bad, 0);
  }
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  gather_fires(a, per_rank);
  uint64_t sum = 0;
  for (int r = 0; r < nr; r++)
    sum += per_rank[r];
  CU_ASSERT_EQUAL(sum, (uint64_t)n); /* each firing ran once, on one rank */
  check_rank_view(a, per_rank);
  if (me == 0) {
    fprintf(stderr, "  %s (%d ranks, %llu ns a firing): firings per rank", name, nr,
            (unsigned long long)ns);
    for (int r = 0; r < nr; r++)
      fprintf(stderr, " %llu", (unsigned long long)per_rank[r]);
    fprintf(stderr, "\n");
  }
  maestro_graph_destroy(g);
}

static void test_order(void) {
  /* 20,000 messages of 8 B to 128 KiB, 20 us of work each: some go to
   * other ranks, all come out in input order, each byte + 1. */
  uint64_t per[64];
  run_stream("order", 20000, 20000, per);
}

static void test_expensive(void) {
  /* 1 ms of CPU a firing: worth sending to every other rank. */
  uint64_t per[64];
  run_stream("heavy", 300, 1000000, per);
  for (int r = 0; r < nr; r++)
    CU_ASSERT_TRUE(per[r] > 0);
}

static void test_cheap(void) {
  /* Sub-microsecond firings (8 bytes + 1): a round trip costs more than the firing, so
   * rank 0 fires nearly all (a firing the model sees slowed down by a busy
   * machine may go elsewhere now and then). */
  uint64_t per[64];
  small_only = 1; /* 8 bytes: a firing of a few instructions */
  run_stream("cheap", 20000, 0, per);
  small_only = 0;
  CU_ASSERT_TRUE(per[0] >= 19000);
}

/* ---- a firing fails on rank 1: the agent's policy, naming agent and rank ---- */

static int fail_on_1(maestro_fire_t *f) {
  if (me == 1) return MAESTRO_EINVAL;
  mpi_test_spin(1000000);
  return maestro_fire_out(f, 0, maestro_buf_retain(maestro_fire_in(f, 0)));
}

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

static char fail_msg[2048];

static void run_failing(maestro_fail_t on_fail, uint64_t *per_rank, int *rc, uint64_t *popped,
                        int *letters) {
  maestro_graph_t *g;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_create(rt, "anyfail", &g), MAESTRO_OK);
  maestro_agent_t *a = add_any(g, "flaky", fail_on_1, on_fail);
  struct stream s = {NULL, 300};
  maestro_output_t *out;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_input(g, a, "in", &s.in), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_output(g, a, "out", &out), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_start(g), MAESTRO_OK);
  *popped = 0;
  if (me == 0) {
    pthread_t t;
    pthread_create(&t, NULL, push_words, &s);
    maestro_buf_t *m;
    uint64_t last = 0;
    int ordered = 1;
    while (maestro_output_pop(out, &m, -1) == MAESTRO_OK) {
      uint64_t v;
      memcpy(&v, maestro_buf_cdata(m), sizeof v);
      if (*popped && v <= last) ordered = 0;
      last = v;
      (*popped)++;
      maestro_buf_release(m);
    }
    pthread_join(t, NULL);
    CU_ASSERT_TRUE(ordered);
  }
  *rc = maestro_graph_wait(g);
  snprintf(fail_msg, sizeof fail_msg, "%s", maestro_last_error());
  /* Dead letters: the failed firings' inputs, on rank 0 (their owner). */
  maestro_output_t *dl;
  *letters = 0;
  CU_ASSERT_EQUAL(maestro_graph_dead_letters(g, &dl), MAESTRO_OK);
  maestro_buf_t *m;
  maestro_letter_t why;
  while (maestro_output_pop_letter(dl, &m, &why, 0) == MAESTRO_OK) {
    if (why.status == MAESTRO_EINVAL && !strcmp(why.agent, "flaky")) (*letters)++;
    maestro_buf_release(m);
  }
  gather_fires(a, per_rank);
  maestro_graph_destroy(g);
}

static void test_fail_on_rank1(void) {
  uint64_t per[64], popped;
  int rc, letters;
  run_failing(MAESTRO_FAIL_STOP, per, &rc, &popped, &letters);
  CU_ASSERT_EQUAL(rc, MAESTRO_EAGENT);
  const char *e = fail_msg;
  if (!strstr(e, "agent 'flaky' on rank 1 failed")) fprintf(stderr, "rank %d: %s\n", me, e);
  CU_ASSERT_PTR_NOT_NULL(strstr(e, "agent 'flaky' on rank 1 failed with status -1"));
  CU_ASSERT_TRUE(per[1] > 0);
  if (me == 0) CU_ASSERT_TRUE(letters >= 1);
}

static void test_skip_on_rank1(void) {
  /* MAESTRO_FAIL_SKIP: the firings that failed on rank 1 are dead letters on
   * rank 0, the others come out in order, and the graph ends well. */
  uint64_t per[64], popped;
  int rc, letters;
  run_failing(MAESTRO_FAIL_SKIP, per, &rc, &popped, &letters);
  CU_ASSERT_EQUAL(rc, MAESTRO_OK);
  CU_ASSERT_TRUE(per[1] > 0);
  if (me == 0) {
    CU_ASSERT_EQUAL(popped + (uint64_t)letters, 300);
    CU_ASSERT_EQUAL((uint64_t)letters, per[1]);
  }
}

/* ---- a cancel on rank 0 while firings are on other ranks ---- */

static void test_cancel(void) {
  maestro_graph_t *g;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_create(rt, "anycancel", &g), MAESTRO_OK);
  maestro_agent_t *a = add_any(g, "heavy", plus_one, MAESTRO_FAIL_STOP);
  struct stream s = {NULL, 100000};
  maestro_output_t *out;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_input(g, a, "in", &s.in), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_output(g, a, "out", &out), MAESTRO_OK);
  work_ns = 1000000;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_start(g), MAESTRO_OK);
  if (me == 0) {
    pthread_t t;
    pthread_create(&t, NULL, push_all, &s);
    maestro_buf_t *m;
    int got = 0;
    uint64_t t0 = now_ns();
    while (maestro_output_pop(out, &m, -1) == MAESTRO_OK) {
      maestro_buf_release(m);
      if (++got == 50) CU_ASSERT_EQUAL(maestro_graph_cancel(g), MAESTRO_OK);
    }
    pthread_join(t, NULL);
    CU_ASSERT_TRUE(got >= 50 && got < 100000);
    CU_ASSERT_TRUE(now_ns() - t0 < 60000000000ull);
  }
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_ECANCELED);
  maestro_graph_destroy(g);
}

void register_suites(void) {
  ADD_SUITE("mpi_any", suite_init, suite_fini, {"order", test_order}, {"expensive", test_expensive},
            {"cheap", test_cheap}, {"fail_on_rank1", test_fail_on_rank1},
            {"skip_on_rank1", test_skip_on_rank1}, {"cancel", test_cancel});
}
