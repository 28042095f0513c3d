/* An agent's .on_end: called once when every input has ended, after its last
 * firing was emitted and before its outputs close; what it sends reaches the
 * consumers before end-of-stream; a failure goes through the supervisor. */
#include <stdlib.h>

#include "engine_util.h"

#define END_MARK 0xe0d0e0d0ull

/* Counts messages by value % 10; sends the table (10 x u64) at the end. */
struct tally {
  uint64_t bucket[10];
  atomic_int ends;
  atomic_ullong fired;   /* firings completed (stateless: several at once) */
  uint64_t fired_at_end; /* .fired when on_end ran */
  int in_null;           /* maestro_fire_in returned NULL in on_end */
  int fail;              /* on_end returns this (0: succeeds) */
};

static int tally_fire(maestro_fire_t *f) {
  struct tally *t = maestro_fire_state(f);
  t->bucket[eng_val(maestro_fire_in(f, 0)) % 10]++;
  return MAESTRO_OK;
}

static int tally_end(maestro_fire_t *f) {
  struct tally *t = maestro_fire_state(f);
  atomic_fetch_add(&t->ends, 1);
  t->in_null = maestro_fire_in(f, 0) == NULL;
  maestro_buf_t *b;
  int rc = maestro_fire_alloc(f, sizeof t->bucket, &b);
  if (rc != MAESTRO_OK) return rc;
  memcpy(maestro_buf_data(b), t->bucket, sizeof t->bucket);
  return maestro_fire_out(f, 0, b);
}

static maestro_agent_t *add_end_agent(maestro_graph_t *g, const char *name, maestro_cpu_fn fire,
                                      maestro_cpu_fn end, void *state, unsigned flags,
                                      maestro_fail_t on_fail) {
  maestro_agent_t *a = NULL;
  CU_ASSERT_EQUAL(maestro_agent_add(g,
                                    &(maestro_agent_desc_t){.name = name,
                                                            .in = eng_u64_in,
                                                            .n_in = 1,
                                                            .out = eng_u64_out,
                                                            .n_out = 1,
                                                            .cpu = fire,
                                                            .on_end = end,
                                                            .state = state,
                                                            .flags = flags,
                                                            .supervisor = {.on_fail = on_fail}},
                                    &a),
                  MAESTRO_OK);
  return a;
}

static void test_end_table(void) {
  enum { N = 10000 };
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "end_table", &g) == MAESTRO_OK);
  struct tally t = {0};
  maestro_agent_t *a = add_end_agent(g, "tally", tally_fire, tally_end, &t, 0, MAESTRO_FAIL_STOP);
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  struct eng_feeder fd;
  eng_feeder_start(&fd, eng_rt, in, N, 0);
  maestro_buf_t *b = NULL;
  CU_ASSERT_EQUAL_FATAL(maestro_output_pop(out, &b, 10000), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_buf_size(b), 10 * sizeof(uint64_t));
  const uint64_t *v = maestro_buf_cdata(b);
  for (int i = 0; i < 10; i++)
    CU_ASSERT_EQUAL(v[i], N / 10);
  maestro_buf_release(b);
  CU_ASSERT_EQUAL(maestro_output_pop(out, &b, 10000), MAESTRO_ECLOSED);
  CU_ASSERT_EQUAL(eng_feeder_join(&fd), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(atomic_load(&t.ends), 1);
  CU_ASSERT_EQUAL(t.in_null, 1);
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(a, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.fires, N);
  CU_ASSERT_EQUAL(st.msgs_out, 1);
  maestro_graph_destroy(g);
}

/* Stateless: value + 1, counting firings done; on_end sends END_MARK. */
static int count_inc(maestro_fire_t *f) {
  struct tally *t = maestro_fire_state(f);
  int rc = eng_inc(f);
  atomic_fetch_add(&t->fired, 1);
  return rc;
}

static int mark_end(maestro_fire_t *f) {
  struct tally *t = maestro_fire_state(f);
  atomic_fetch_add(&t->ends, 1);
  t->fired_at_end = atomic_load(&t->fired);
  t->in_null = maestro_fire_in(f, 0) == NULL;
  maestro_buf_t *b = eng_msg(maestro_fire_runtime(f), END_MARK);
  if (!b) return MAESTRO_ENOMEM;
  int rc = maestro_fire_out(f, 0, b);
  return rc != MAESTRO_OK ? rc : t->fail;
}

/* Runs host -> mid (fn, on_end) -> pass -> host with `n` messages through
 * channels of capacity 2; fills vals, returns how many came out. */
static long run_chain(const char *name, maestro_cpu_fn fn, maestro_cpu_fn end, struct tally *t,
                      unsigned flags, maestro_fail_t on_fail, uint64_t n, uint64_t *vals, long cap,
                      int *wait_rc, maestro_agent_stats_t *st) {
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, name, &g) == MAESTRO_OK);
  maestro_agent_t *mid = add_end_agent(g, "mid", fn, end, t, flags, on_fail);
  maestro_agent_t *sink = eng_add(g, "pass", eng_pass, NULL);
  CU_ASSERT_EQUAL(maestro_connect(g, mid, "out", sink, "in", 2), MAESTRO_OK);
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_input(g, mid, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, sink, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  struct eng_feeder fd;
  eng_feeder_start(&fd, eng_rt, in, n, 0);
  long got = eng_drain(out, vals, cap);
  eng_feeder_join(&fd);
  *wait_rc = maestro_graph_wait(g);
  CU_ASSERT_EQUAL(maestro_agent_stats(mid, st), MAESTRO_OK);
  maestro_graph_destroy(g);
  return got;
}

static void test_end_chain(void) {
  enum { N = 500 };
  static uint64_t vals[N + 2];
  struct tally t = {0};
  int rc;
  maestro_agent_stats_t st;
  long got = run_chain("end_chain", count_inc, mark_end, &t, 0, MAESTRO_FAIL_STOP, N, vals, N + 2,
                       &rc, &st);
  CU_ASSERT_EQUAL(rc, MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(got, N + 1);
  for (long i = 0; i < N; i++)
    CU_ASSERT_EQUAL(vals[i], (uint64_t)i + 1);
  CU_ASSERT_EQUAL(vals[N], END_MARK);
  CU_ASSERT_EQUAL(atomic_load(&t.ends), 1);
  CU_ASSERT_EQUAL(t.fired_at_end, N);
  CU_ASSERT_EQUAL(t.in_null, 1);
}

static void test_end_stateless(void) {
  enum { N = 2000 };
  static uint64_t vals[N + 2];
  struct tally t = {0};
  int rc;
  maestro_agent_stats_t st;
  long got = run_chain("end_stateless", count_inc, mark_end, &t, MAESTRO_STATELESS,
                       MAESTRO_FAIL_STOP, N, vals, N + 2, &rc, &st);
  CU_ASSERT_EQUAL(rc, MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(got, N + 1);
  for (long i = 0; i < N; i++)
    CU_ASSERT_EQUAL(vals[i], (uint64_t)i + 1);
  CU_ASSERT_EQUAL(vals[N], END_MARK);
  CU_ASSERT_EQUAL(atomic_load(&t.ends), 1);
  CU_ASSERT_EQUAL(t.fired_at_end, N); /* after every firing */
  CU_ASSERT_EQUAL(st.fires, N);
  CU_ASSERT_EQUAL(st.msgs_out, N + 1);
}

static void test_end_fail_stop(void) {
  enum { N = 100 };
  static uint64_t vals[N + 2];
  struct tally t = {.fail = MAESTRO_EINVAL};
  int rc;
  maestro_agent_stats_t st;
  long got = run_chain("end_stop", count_inc, mark_end, &t, 0, MAESTRO_FAIL_STOP, N, vals, N + 2,
                       &rc, &st);
  CU_ASSERT_EQUAL(rc, MAESTRO_EAGENT);
  CU_ASSERT(eng_err_names("'mid'"));
  CU_ASSERT(eng_err_names("on_end"));
  /* What on_end sent before failing is dropped; the stop may also have sent
   * what was still on its way to the dead letters. */
  CU_ASSERT(got >= 0 && got <= N);
  for (long i = 0; i < got && i < N; i++)
    CU_ASSERT_EQUAL(vals[i], (uint64_t)i + 1);
  CU_ASSERT_EQUAL(atomic_load(&t.ends), 1);
  CU_ASSERT_EQUAL(st.failures, 1);
}

static void test_end_fail_skip(void) {
  enum { N = 100 };
  static uint64_t vals[N + 2];
  struct tally t = {.fail = MAESTRO_EINVAL};
  int rc;
  maestro_agent_stats_t st;
  long got = run_chain("end_skip", count_inc, mark_end, &t, MAESTRO_STATELESS, MAESTRO_FAIL_SKIP, N,
                       vals, N + 2, &rc, &st);
  CU_ASSERT_EQUAL(rc, MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(got, N);
  for (long i = 0; i < N; i++)
    CU_ASSERT_EQUAL(vals[i], (uint64_t)i + 1);
  CU_ASSERT_EQUAL(atomic_load(&t.ends), 1);
  CU_ASSERT_EQUAL(st.failures, 1);
  CU_ASSERT_EQUAL(st.msgs_out, N);
}

void register_suites(void) {
  ADD_SUITE("engine_end", eng_suite_init, eng_suite_fini,
            {"on_end sends a table of 10,000 messages", test_end_table},
            {"on_end in a chain: before end-of-stream", test_end_chain},
            {"stateless on_end after every firing", test_end_stateless},
            {"on_end failure with STOP", test_end_fail_stop},
            {"on_end failure with SKIP", test_end_fail_skip});
}
