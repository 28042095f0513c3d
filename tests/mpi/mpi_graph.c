/* Graphs across MPI ranks (runtime/backend/mpi), run by ctest under
 * `mpiexec -n 2` and `-n 3` (tests/mpi.cmake). Every rank runs every test,
 * in the same order: each declares the same graph (SPMD), and the checks
 * that only hold on one rank are made there. One runtime for the program:
 * it initialised MPI and finalises it when destroyed. */
#include <pthread.h>
#include <stdatomic.h>
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

static int pass(maestro_fire_t *f) {
  return maestro_fire_out(f, 0, maestro_buf_retain(maestro_fire_in(f, 0)));
}

static void add(maestro_graph_t *g, const char *name, maestro_cpu_fn fn, int n_in, int n_out,
                int rank, void *state, maestro_agent_t **a) {
  maestro_agent_desc_t d = {.name = name,
                            .in = bytes_in,
                            .n_in = n_in,
                            .out = bytes_out,
                            .n_out = n_out,
                            .cpu = fn,
                            .state = state,
                            .affinity = {.pref = MAESTRO_ON_CPU, .index = -1, .rank = rank}};
  CU_ASSERT_EQUAL_FATAL(maestro_agent_add(g, &d, a), MAESTRO_OK);
}

/* ---- ranks ---- */

static void test_ranks(void) {
  const char *size = getenv("OMPI_COMM_WORLD_SIZE");
  CU_ASSERT_PTR_NOT_NULL_FATAL(size);
  CU_ASSERT_EQUAL(nr, atoi(size));
  CU_ASSERT_EQUAL(me, atoi(getenv("OMPI_COMM_WORLD_RANK")));
  CU_ASSERT_TRUE(nr >= 2);
  /* An agent on a rank that does not exist is refused at once, naming it. */
  maestro_graph_t *g;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_create(rt, "ranks", &g), MAESTRO_OK);
  maestro_agent_t *a;
  maestro_agent_desc_t d = {
      .name = "far", .in = bytes_in, .n_in = 1, .cpu = pass, .affinity = {.rank = nr}};
  CU_ASSERT_EQUAL(maestro_agent_add(g, &d, &a), MAESTRO_ENODEV);
  CU_ASSERT_PTR_NOT_NULL(strstr(maestro_last_error(), "no rank"));
  d.affinity.rank = MAESTRO_RANK_ANY; /* only for stateless agents */
  CU_ASSERT_EQUAL(maestro_agent_add(g, &d, &a), MAESTRO_EINVAL);
  maestro_graph_destroy(g);
}

/* ---- 20,000 messages, 8 B to 1 MiB, across ranks and back ---- */

#define FLOW_N 20000

static size_t flow_size(uint64_t i) {
  /* Every 8th message is large (8 KiB .. 1 MiB), the others 8 B .. 4 KiB. */
  if (i % 8 == 7) return (size_t)8192 << (i / 8 % 8);
  return (size_t)8 << (i % 10);
}

static unsigned char flow_byte(uint64_t i, size_t j) {
  return (unsigned char)(i * 131u + j * 7u + (j >> 8));
}

static void *flow_push(void *arg) {
  maestro_input_t *in = arg;
  for (uint64_t i = 0; i < FLOW_N; i++) {
    size_t n = flow_size(i);
    maestro_buf_t *b;
    if (maestro_buf_create(rt, n, &b) != MAESTRO_OK) break;
    unsigned char *p = maestro_buf_data(b);
    for (size_t j = 0; j < n; j++)
      p[j] = flow_byte(i, j);
    size_t dims[2] = {n / 8, 8};
    if (i % 3 == 0) maestro_buf_set_shape(b, 2, dims);
    if (maestro_input_push(in, b) != MAESTRO_OK) break;
  }
  maestro_input_close(in);
  return NULL;
}

static void test_flow(void) {
  /* a (rank 0) -> b (last rank) -> c (rank 1) -> host on rank 0... with 2
   * ranks: 0 -> 1 -> 1 -> 0; with 3: 0 -> 2 -> 1 -> 0. Both ways. */
  maestro_graph_t *g;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_create(rt, "flow", &g), MAESTRO_OK);
  maestro_agent_t *a, *b, *c, *d;
  add(g, "a", pass, 1, 1, 0, NULL, &a);
  add(g, "b", pass, 1, 1, nr - 1, NULL, &b);
  add(g, "c", pass, 1, 1, 1, NULL, &c);
  add(g, "d", pass, 1, 1, 0, NULL, &d);
  CU_ASSERT_EQUAL(maestro_connect(g, a, "out", b, "in", 16), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, b, "out", c, "in", 16), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, c, "out", d, "in", 16), MAESTRO_OK);
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_input(g, a, "in", &in), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_output(g, d, "out", &out), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_start(g), MAESTRO_OK);
  if (me == 0) {
    pthread_t t;
    pthread_create(&t, NULL, flow_push, in);
    uint64_t n = 0, bad = 0, bad_shape = 0;
    maestro_buf_t *m;
    while (maestro_output_pop(out, &m, -1) == MAESTRO_OK) {
      size_t want = flow_size(n), sz = maestro_buf_size(m);
      const unsigned char *p = maestro_buf_cdata(m);
      if (sz != want) {
        bad++;
      } else {
        for (size_t j = 0; j < sz; j++)
          if (p[j] != flow_byte(n, j)) {
            bad++;
            break;
          }
      }
      size_t dims[3];
      int nd = maestro_buf_shape(m, dims);
      if (n % 3 == 0 ? (nd != 2 || dims[0] != want / 8 || dims[1] != 8) : nd != 0) bad_shape++;
      maestro_buf_release(m);
      n++;
    }
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(n, FLOW_N);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(bad_shape, 0);
  }
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  /* Every message crossed each remote channel once: counted on both sides. */
  maestro_agent_stats_t s;
  maestro_agent_t *mine = me == 0 ? a : me == nr - 1 ? b : c;
  CU_ASSERT_EQUAL(maestro_agent_stats(mine, &s), MAESTRO_OK);
  CU_ASSERT_EQUAL(s.fires, FLOW_N);
  maestro_graph_destroy(g);
}

/* ---- the ranks declare different graphs ---- */

static void test_spmd_mismatch(void) {
  maestro_graph_t *g;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_create(rt, "spmd", &g), MAESTRO_OK);
  maestro_agent_t *a, *b;
  add(g, "src", pass, 1, 1, 0, NULL, &a);
  add(g, me == 1 ? "odd" : "sink", pass, 1, 0, nr - 1, NULL, &b);
  CU_ASSERT_EQUAL(maestro_connect(g, a, "out", b, "in", 0), MAESTRO_OK);
  maestro_input_t *in;
  CU_ASSERT_EQUAL(maestro_graph_input(g, a, "in", &in), MAESTRO_OK);
  /* Every rank refuses, with the same message naming the first difference. */
  CU_ASSERT_EQUAL(maestro_graph_start(g), MAESTRO_EGRAPH);
  const char *e = maestro_last_error();
  if (!strstr(e, "rank 0 declares") || !strstr(e, "'sink'") || !strstr(e, "rank 1 declares") ||
      !strstr(e, "'odd'"))
    fprintf(stderr, "rank %d: %s\n", me, e);
  CU_ASSERT_PTR_NOT_NULL(strstr(e, "differs between ranks"));
  CU_ASSERT_PTR_NOT_NULL(strstr(e, "rank 0 declares \"agent 'sink'"));
  CU_ASSERT_PTR_NOT_NULL(strstr(e, "rank 1 declares \"agent 'odd'"));
  maestro_graph_destroy(g);
}

/* ---- push and pop on a rank that does not own the agent ---- */

static void test_estate(void) {
  maestro_graph_t *g;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_create(rt, "estate", &g), MAESTRO_OK);
  maestro_agent_t *a;
  add(g, "on1", pass, 1, 1, 1, NULL, &a);
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_input(g, a, "in", &in), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_output(g, a, "out", &out), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_start(g), MAESTRO_OK);
  uint64_t v = 42;
  maestro_buf_t *b, *m = NULL;
  CU_ASSERT_EQUAL(maestro_buf_from(rt, &v, sizeof v, &b), MAESTRO_OK);
  if (me == 1) {
    CU_ASSERT_EQUAL(maestro_input_push(in, b), MAESTRO_OK);
    CU_ASSERT_EQUAL(maestro_input_close(in), MAESTRO_OK);
    CU_ASSERT_EQUAL(maestro_output_pop(out, &m, -1), MAESTRO_OK);
    CU_ASSERT_EQUAL(maestro_buf_size(m), sizeof v);
    maestro_buf_release(m);
    CU_ASSERT_EQUAL(maestro_output_pop(out, &m, -1), MAESTRO_ECLOSED);
  } else {
    CU_ASSERT_EQUAL(maestro_input_push(in, b), MAESTRO_ESTATE);
    CU_ASSERT_PTR_NOT_NULL(strstr(maestro_last_error(), "'on1' is owned by rank 1"));
    CU_ASSERT_EQUAL(maestro_output_pop(out, &m, 0), MAESTRO_ESTATE);
    CU_ASSERT_PTR_NOT_NULL(strstr(maestro_last_error(), "owned by rank 1"));
    CU_ASSERT_PTR_NULL(m);
    CU_ASSERT_EQUAL(maestro_input_close(in), MAESTRO_OK);
  }
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_graph_destroy(g);
}

/* ---- an agent fails on rank 1: every rank sees it ---- */

struct count_src {
  uint64_t n, limit;
};

static int count_src(maestro_fire_t *f) {
  struct count_src *s = maestro_fire_state(f);
  if (s->n == s->limit) return MAESTRO_DONE;
  maestro_buf_t *b;
  int rc = maestro_fire_alloc(f, sizeof s->n, &b);
  if (rc) return rc;
  memcpy(maestro_buf_data(b), &s->n, sizeof s->n);
  s->n++;
  return maestro_fire_out(f, 0, b);
}

static int fail_at_100(maestro_fire_t *f) {
  uint64_t v;
  memcpy(&v, maestro_buf_cdata(maestro_fire_in(f, 0)), sizeof v);
  if (v == 100) return MAESTRO_EINVAL;
  return maestro_fire_out(f, 0, maestro_buf_retain(maestro_fire_in(f, 0)));
}

static int drop(maestro_fire_t *f) {
  (void)f;
  return MAESTRO_OK;
}

static void test_fail_on_rank1(void) {
  maestro_graph_t *g;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_create(rt, "fails", &g), MAESTRO_OK);
  struct count_src st = {0, 1000000}; /* would run long: the failure stops it */
  maestro_agent_t *a, *b, *c;
  add(g, "src", count_src, 0, 1, 0, &st, &a);
  add(g, "bad", fail_at_100, 1, 1, 1, NULL, &b);
  add(g, "end", drop, 1, 0, nr - 1, NULL, &c);
  CU_ASSERT_EQUAL(maestro_connect(g, a, "out", b, "in", 8), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, b, "out", c, "in", 8), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_start(g), MAESTRO_OK);
  int rc = maestro_graph_wait(g);
  CU_ASSERT_EQUAL(rc, MAESTRO_EAGENT);
  const char *e = maestro_last_error();
  if (!strstr(e, "agent 'bad' on rank 1 failed")) fprintf(stderr, "rank %d: %s\n", me, e);
  CU_ASSERT_PTR_NOT_NULL(strstr(e, "agent 'bad' on rank 1 failed with status -1"));
  if (me == 0) CU_ASSERT_TRUE(st.n < st.limit); /* the stop reached the source */
  /* The failed message is a dead letter on rank 0 (every rank's go there),
   * naming the rank where it failed, with the agent's reason; every other
   * letter is one no consumer took. */
  maestro_output_t *dl;
  CU_ASSERT_EQUAL(maestro_graph_dead_letters(g, &dl), MAESTRO_OK);
  maestro_buf_t *m;
  maestro_letter_t why;
  int failed = 0, other = 0;
  while (maestro_output_pop_letter(dl, &m, &why, 0) == MAESTRO_OK) {
    uint64_t v;
    memcpy(&v, maestro_buf_cdata(m), sizeof v);
    if (why.status == MAESTRO_EINVAL && !strcmp(why.agent, "bad") && v == 100 && why.rank == 1)
      failed++;
    else if (why.status == MAESTRO_ECLOSED)
      other++;
    maestro_buf_release(m);
  }
  CU_ASSERT_EQUAL(failed, me == 0 ? 1 : 0);
  if (me != 0) CU_ASSERT_EQUAL(other, 0);
  maestro_graph_destroy(g);
}

/* ---- every rank's dead letters reach rank 0's dead-letter output ---- */

#define LETTER_MSGS 30
#define LETTER_BIG  5000 /* more than a packet carries inline: sent on its own */

/* Message v: its number, then (for even v) LETTER_BIG bytes of (v + i). */
static int letter_src(maestro_fire_t *f) {
  struct count_src *s = maestro_fire_state(f);
  if (s->n == s->limit) return MAESTRO_DONE;
  size_t n = sizeof s->n + (s->n % 2 ? 0 : LETTER_BIG);
  maestro_buf_t *b;
  int rc = maestro_fire_alloc(f, n, &b);
  if (rc) return rc;
  unsigned char *p = maestro_buf_data(b);
  memcpy(p, &s->n, sizeof s->n);
  for (size_t i = sizeof s->n; i < n; i++)
    p[i] = (unsigned char)(s->n + i);
  s->n++;
  return maestro_fire_out(f, 0, b);
}

static int skip_thirds(maestro_fire_t *f) {
  uint64_t v;
  memcpy(&v, maestro_buf_cdata(maestro_fire_in(f, 0)), sizeof v);
  return v % 3 == 0 ? MAESTRO_EINVAL : MAESTRO_OK;
}

static void test_letters_to_rank0(void) {
  maestro_graph_t *g;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_create(rt, "letters", &g), MAESTRO_OK);
  struct count_src st = {0, LETTER_MSGS};
  maestro_agent_t *src;
  add(g, "src", letter_src, 0, 1, 0, &st, &src);
  /* One skipping agent per rank, each fed every message (fan-out). */
  for (int k = 0; k < nr; k++) {
    char name[32];
    snprintf(name, sizeof name, "skip%d", k);
    maestro_agent_desc_t d = {.name = name,
                              .in = bytes_in,
                              .n_in = 1,
                              .cpu = skip_thirds,
                              .supervisor = {.on_fail = MAESTRO_FAIL_SKIP},
                              .affinity = {.pref = MAESTRO_ON_CPU, .index = -1, .rank = k}};
    maestro_agent_t *a;
    CU_ASSERT_EQUAL_FATAL(maestro_agent_add(g, &d, &a), MAESTRO_OK);
    CU_ASSERT_EQUAL(maestro_connect(g, src, "out", a, "in", 4), MAESTRO_OK);
  }
  CU_ASSERT_EQUAL_FATAL(maestro_graph_start(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  /* Once the wait returned, rank 0 holds them all; the others none. */
  maestro_output_t *dl;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_dead_letters(g, &dl), MAESTRO_OK);
  int per_rank[16] = {0}, total = 0, bad = 0;
  uint64_t next_v[16] = {0};
  maestro_buf_t *m;
  maestro_letter_t why;
  while (maestro_output_pop_letter(dl, &m, &why, 0) == MAESTRO_OK) {
    total++;
    uint64_t v;
    const unsigned char *p = maestro_buf_cdata(m);
    memcpy(&v, p, sizeof v);
    char name[32];
    snprintf(name, sizeof name, "skip%d", why.rank);
    size_t n = sizeof v + (v % 2 ? 0 : LETTER_BIG);
    int ok = why.rank >= 0 && why.rank < nr && why.rank < 16 && why.agent &&
             !strcmp(why.agent, name) && why.port && !strcmp(why.port, "in") &&
             why.status == MAESTRO_EINVAL && why.seq == v && why.reason &&
             strstr(why.reason, name) && maestro_buf_size(m) == n;
    for (size_t i = sizeof v; ok && i < n; i++)
      ok = p[i] == (unsigned char)(v + i);
    /* Each rank's letters in the order they were made. */
    if (ok) ok = v == next_v[why.rank];
    if (ok) {
      per_rank[why.rank]++;
      next_v[why.rank] = v + 3;
    } else {
      bad++;
      fprintf(stderr,
              "rank %d: letter v=%llu rank %d agent %s port %s status %d seq %llu "
              "size %zu reason %s\n",
              me, (unsigned long long)v, why.rank, why.agent ? why.agent : "-",
              why.port ? why.port : "-", why.status, (unsigned long long)why.seq,
              maestro_buf_size(m), why.reason ? why.reason : "-");
    }
    maestro_buf_release(m);
  }
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL(total, me == 0 ? nr * (LETTER_MSGS / 3) : 0);
  for (int k = 0; k < nr && k < 16; k++)
    CU_ASSERT_EQUAL(per_rank[k], me == 0 ? LETTER_MSGS / 3 : 0);
  CU_ASSERT_EQUAL(maestro_output_pop_letter(dl, &m, &why, -1), MAESTRO_ECLOSED);
  maestro_graph_destroy(g);
}

/* ---- a cancel on rank 0 ends the graph on every rank ---- */

static void test_cancel(void) {
  maestro_graph_t *g;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_create(rt, "cancel", &g), MAESTRO_OK);
  struct count_src st = {0, 100000000}; /* runs until cancelled */
  maestro_agent_t *a, *b;
  add(g, "src", count_src, 0, 1, 0, &st, &a);
  add(g, "end", drop, 1, 0, nr - 1, NULL, &b);
  CU_ASSERT_EQUAL(maestro_connect(g, a, "out", b, "in", 8), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_start(g), MAESTRO_OK);
  if (me == 0) {
    struct timespec ts = {0, 50 * 1000000L};
    nanosleep(&ts, NULL);
    CU_ASSERT_EQUAL(maestro_graph_cancel(g), MAESTRO_OK);
  }
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_ECANCELED);
  if (me == 0) CU_ASSERT_TRUE(st.n > 0 && st.n < st.limit);
  maestro_graph_destroy(g);
}

/* ---- backpressure crosses ranks: a slow consumer holds the producer ---- */

static atomic_int slow_go;

static int slow_sink(maestro_fire_t *f) {
  (void)f;
  /* The first firing waits until rank 0 has looked (told by a host push on
   * a second input would need more ranks' agreement): a long sleep. */
  if (maestro_fire_seq(f) == 0) {
    struct timespec ts = {0, 400 * 1000000L};
    nanosleep(&ts, NULL);
  }
  atomic_fetch_add(&slow_go, 1);
  return MAESTRO_OK;
}

static void test_backpressure(void) {
  maestro_graph_t *g;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_create(rt, "bp", &g), MAESTRO_OK);
  struct count_src st = {0, 2000};
  maestro_agent_t *a, *b;
  add(g, "src", count_src, 0, 1, 0, &st, &a);
  add(g, "slow", slow_sink, 1, 0, 1, NULL, &b);
  CU_ASSERT_EQUAL(maestro_connect(g, a, "out", b, "in", 4), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_start(g), MAESTRO_OK);
  if (me == 0) {
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
    /* Held back by capacity 4: its ring here (4), credits (4: the receiver's
     * queue), the receiver's ring (4), one in the consumer's hands, and one
     * firing's overflow (1). Never the 2000 it would send unchecked. */
    maestro_agent_stats_t s;
    maestro_agent_stats(a, &s);
    printf("\n    source fired %llu times while the consumer slept\n", (unsigned long long)s.fires);
    CU_ASSERT_TRUE(s.fires <= 4 + 4 + 4 + 1 + 1 + 1);
  }
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  if (me == 1) CU_ASSERT_EQUAL(atomic_load(&slow_go), 2000);
  if (me == 0) CU_ASSERT_EQUAL(st.n, 2000);
  maestro_graph_destroy(g);
}

void register_suites(void) {
  ADD_SUITE("mpi", suite_init, suite_fini, {"ranks", test_ranks}, {"flow", test_flow},
            {"spmd_mismatch", test_spmd_mismatch}, {"estate", test_estate},
            {"fail_on_rank1", test_fail_on_rank1}, {"letters_to_rank0", test_letters_to_rank0},
            {"cancel", test_cancel}, {"backpressure", test_backpressure});
}
