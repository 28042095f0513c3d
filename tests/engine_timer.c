/* Timers (maestro_agent_desc_t.period_ms): a periodic source fires on its
 * grid without holding a worker, missed ticks coalesce, an agent with inputs
 * gets timeout firings only while its inputs are silent, a stop or a destroy
 * ends the timers. Counts are exact where the program decides them; where the
 * clock does, only what must hold whatever the machine's load: a deadline is
 * never early (an upper bound on firings, a lower bound on spans). */
#include <stdlib.h>

#include "engine_util.h"

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#define MAX_TICKS 4096

/* A periodic source: sends its firing number; MAESTRO_DONE at firing
 * `limit` (0 = never); firing 0 sleeps `slow_ms`. Records when each firing
 * began. */
struct ticker {
  uint64_t limit;
  int slow_ms;
  atomic_ullong fires;
  uint64_t at[MAX_TICKS];
  atomic_int timeout_seen; /* maestro_fire_timeout was 1 in a source firing */
};

static int ticker_fire(maestro_fire_t *f) {
  struct ticker *t = maestro_fire_state(f);
  uint64_t k = maestro_fire_seq(f);
  if (k < MAX_TICKS) t->at[k] = now_ns();
  if (maestro_fire_timeout(f)) atomic_store(&t->timeout_seen, 1);
  if (t->limit && k >= t->limit) return MAESTRO_DONE;
  atomic_fetch_add(&t->fires, 1);
  if (k == 0 && t->slow_ms) eng_sleep_us(t->slow_ms * 1000L);
  maestro_buf_t *b;
  int rc = maestro_fire_alloc(f, sizeof k, &b);
  if (rc) return rc;
  memcpy(maestro_buf_data(b), &k, sizeof k);
  return maestro_fire_out(f, 0, b);
}

static maestro_agent_t *add_ticker(maestro_graph_t *g, struct ticker *t, int period_ms) {
  maestro_agent_t *a = NULL;
  CU_ASSERT_EQUAL(maestro_agent_add(g,
                                    &(maestro_agent_desc_t){.name = "ticker",
                                                            .out = eng_u64_out,
                                                            .n_out = 1,
                                                            .cpu = ticker_fire,
                                                            .state = t,
                                                            .period_ms = period_ms},
                                    &a),
                  MAESTRO_OK);
  return a;
}

/* A 10 ms source that ends after N firings: exactly N messages, in order,
 * and no firing before its deadline (N firings span at least N-1 periods). */
static void test_source_count(void) {
  enum { N = 12, P = 10 };
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "tick_count", &g) == MAESTRO_OK);
  struct ticker *t = calloc(1, sizeof *t);
  t->limit = N;
  maestro_agent_t *a = add_ticker(g, t, P);
  /* Through a plain stage (which the fake device, when registered, may fire). */
  maestro_agent_t *pass = eng_add(g, "pass", eng_pass, NULL);
  CU_ASSERT_EQUAL(maestro_connect(g, a, "out", pass, "in", 0), MAESTRO_OK);
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_output(g, pass, "out", &out) == MAESTRO_OK);
  uint64_t t0 = now_ns();
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  uint64_t vals[N + 1];
  CU_ASSERT_EQUAL(eng_drain(out, vals, N + 1), N);
  for (int i = 0; i < N; i++)
    CU_ASSERT_EQUAL(vals[i], (uint64_t)i);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  uint64_t span = now_ns() - t0;
  CU_ASSERT_EQUAL(atomic_load(&t->fires), N);
  CU_ASSERT(span >= (uint64_t)(N - 1) * P * 1000000u);
  /* Firing k comes at start + k periods or later (firing 0 itself may be late). */
  CU_ASSERT(t->at[N - 1] - t0 >= (uint64_t)(N - 1) * P * 1000000u);
  CU_ASSERT_EQUAL(atomic_load(&t->timeout_seen), 0);
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(a, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.fires, N + 1); /* the last one returned MAESTRO_DONE */
  CU_ASSERT_EQUAL(st.msgs_out, N);
  maestro_graph_destroy(g);
  free(t);
}

/* A 10 ms source that never ends, cancelled after its 30th message: it
 * took at least 29 periods (the grid is never early) and the process burned
 * far less CPU than wall time meanwhile (it waits, it does not spin). After
 * the cancel no firing comes. */
static void test_source_idle_cost(void) {
  enum { P = 10, N = 30 };
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "tick_idle", &g) == MAESTRO_OK);
  struct ticker *t = calloc(1, sizeof *t);
  maestro_agent_t *a = add_ticker(g, t, P);
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &out) == MAESTRO_OK);
  uint64_t c0 = cpu_ns(), t0 = now_ns();
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  for (int i = 0; i < N; i++) {
    maestro_buf_t *b = NULL;
    CU_ASSERT_EQUAL_FATAL(maestro_output_pop(out, &b, 10000), MAESTRO_OK);
    CU_ASSERT_EQUAL(eng_val(b), (uint64_t)i);
    maestro_buf_release(b);
  }
  uint64_t wall = now_ns() - t0, cpu = cpu_ns() - c0;
  CU_ASSERT_EQUAL(maestro_graph_cancel(g), MAESTRO_OK);
  uint64_t until_cancel = now_ns() - t0;
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_ECANCELED);
  uint64_t fires = atomic_load(&t->fires);
  printf("\n    %d messages in %.0f ms (period %d ms), process CPU %.1f ms\n", N, wall / 1e6, P,
         cpu / 1e6);
  CU_ASSERT(wall >= (uint64_t)(N - 1) * P * 1000000u);
  /* More may have come before the cancel, never more than the grid holds. */
  CU_ASSERT(fires >= N && fires <= until_cancel / (P * 1000000u) + 1);
  CU_ASSERT(cpu < wall / 2);
  eng_sleep_us(3 * P * 1000);
  CU_ASSERT_EQUAL(atomic_load(&t->fires), fires);
  maestro_graph_destroy(g);
  free(t);
}

/* Ticks missed during a slow firing are coalesced: firing 0 takes 100 ms
 * (ten periods); the next one comes once, then the grid resumes, so firings
 * 1 to 4 are spread over periods (caught-up ticks would come at once). */
static void test_source_coalesce(void) {
  enum { P = 10 };
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "tick_coalesce", &g) == MAESTRO_OK);
  struct ticker *t = calloc(1, sizeof *t);
  t->limit = 5;
  t->slow_ms = 100;
  maestro_agent_t *a = add_ticker(g, t, P);
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  CU_ASSERT_EQUAL(eng_drain(out, NULL, 0), 5);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(atomic_load(&t->fires), 5);
  CU_ASSERT(t->at[1] - t->at[0] >= 100u * 1000000u);
  /* Firing 2's deadline is the first grid point after firing 1 began, and
   * 3 and 4 follow a period apart: some 2 periods; caught-up ticks would
   * come within microseconds. */
  CU_ASSERT(t->at[4] - t->at[1] > (uint64_t)P * 1000000u);
  maestro_graph_destroy(g);
  free(t);
}

/* An agent with inputs and a period: counts messages and timeouts; each
 * timeout firing sends a heartbeat (UINT64_MAX), each message its value. */
struct watch {
  atomic_int timeouts, msgs, bad; /* bad: a timeout firing with an input */
  atomic_int ends;
};

static int watch_fire(maestro_fire_t *f) {
  struct watch *w = maestro_fire_state(f);
  maestro_buf_t *in = maestro_fire_in(f, 0);
  if (maestro_fire_timeout(f)) {
    if (in) atomic_store(&w->bad, 1);
    atomic_fetch_add(&w->timeouts, 1);
    maestro_buf_t *b;
    int rc = maestro_fire_alloc(f, sizeof(uint64_t), &b);
    if (rc) return rc;
    uint64_t v = UINT64_MAX;
    memcpy(maestro_buf_data(b), &v, sizeof v);
    return maestro_fire_out(f, 0, b);
  }
  if (!in) atomic_store(&w->bad, 1);
  atomic_fetch_add(&w->msgs, 1);
  return maestro_fire_out(f, 0, maestro_buf_retain(in));
}

static int watch_end(maestro_fire_t *f) {
  struct watch *w = maestro_fire_state(f);
  atomic_fetch_add(&w->ends, 1);
  return MAESTRO_OK;
}

static maestro_agent_t *add_watch(maestro_graph_t *g, struct watch *w, int period_ms) {
  maestro_agent_t *a = NULL;
  CU_ASSERT_EQUAL(maestro_agent_add(g,
                                    &(maestro_agent_desc_t){.name = "watch",
                                                            .in = eng_u64_in,
                                                            .n_in = 1,
                                                            .out = eng_u64_out,
                                                            .n_out = 1,
                                                            .cpu = watch_fire,
                                                            .on_end = watch_end,
                                                            .state = w,
                                                            .period_ms = period_ms},
                                    &a),
                  MAESTRO_OK);
  return a;
}

/* Silent input: heartbeats come (each a timeout firing without input); a
 * message in between is passed on; after the input closes, none. */
static void test_timeout_silent(void) {
  enum { P = 20 };
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "timeout_silent", &g) == MAESTRO_OK);
  struct watch w = {0};
  maestro_agent_t *a = add_watch(g, &w, P);
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &out) == MAESTRO_OK);
  uint64_t t0 = now_ns();
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  maestro_buf_t *b = NULL;
  /* Two heartbeats, a message, two more heartbeats. */
  for (int i = 0; i < 2; i++) {
    CU_ASSERT_EQUAL_FATAL(maestro_output_pop(out, &b, 10000), MAESTRO_OK);
    CU_ASSERT_EQUAL(eng_val(b), UINT64_MAX);
    maestro_buf_release(b);
  }
  CU_ASSERT(now_ns() - t0 >= 2u * P * 1000000u); /* never early */
  CU_ASSERT_EQUAL(maestro_input_push(in, eng_msg(eng_rt, 7)), MAESTRO_OK);
  /* Heartbeats may still come before the message is taken: all counted. */
  int seen7 = 0, beats = 0, all_beats = 2;
  while (beats < 2) {
    CU_ASSERT_EQUAL_FATAL(maestro_output_pop(out, &b, 10000), MAESTRO_OK);
    uint64_t v = eng_val(b);
    maestro_buf_release(b);
    if (v == 7) seen7++;
    if (v == UINT64_MAX) {
      all_beats++;
      beats += seen7 > 0;
    }
  }
  CU_ASSERT_EQUAL(seen7, 1);
  CU_ASSERT_EQUAL(maestro_input_close(in), MAESTRO_OK);
  long rest = eng_drain(out, NULL, 0);
  CU_ASSERT(rest >= 0);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  int timeouts = atomic_load(&w.timeouts);
  CU_ASSERT_EQUAL(timeouts, all_beats + rest);
  CU_ASSERT_EQUAL(atomic_load(&w.msgs), 1);
  CU_ASSERT_EQUAL(atomic_load(&w.bad), 0);
  CU_ASSERT_EQUAL(atomic_load(&w.ends), 1);
  eng_sleep_us(3 * P * 1000);
  CU_ASSERT_EQUAL(atomic_load(&w.timeouts), timeouts); /* none after the end */
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(a, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.msgs_in, 1);
  CU_ASSERT_EQUAL(st.fires, (uint64_t)timeouts + 1);
  maestro_graph_destroy(g);
}

/* Messages every 50 ms for 1.25 s with a 1 s period: each message restarts
 * the wait, so no timeout firing at all (one would come at 1 s if they did
 * not). */
static void test_timeout_flowing(void) {
  enum { P = 1000, N = 25, GAP_MS = 50 };
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "timeout_flowing", &g) == MAESTRO_OK);
  struct watch w = {0};
  maestro_agent_t *a = add_watch(g, &w, P);
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  for (int i = 0; i < N; i++) {
    CU_ASSERT_EQUAL(maestro_input_push(in, eng_msg(eng_rt, (uint64_t)i)), MAESTRO_OK);
    maestro_buf_t *b = NULL;
    CU_ASSERT_EQUAL_FATAL(maestro_output_pop(out, &b, 10000), MAESTRO_OK);
    CU_ASSERT_EQUAL(eng_val(b), (uint64_t)i);
    maestro_buf_release(b);
    eng_sleep_us(GAP_MS * 1000);
  }
  CU_ASSERT_EQUAL(maestro_input_close(in), MAESTRO_OK);
  CU_ASSERT_EQUAL(eng_drain(out, NULL, 0), 0);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(atomic_load(&w.timeouts), 0);
  CU_ASSERT_EQUAL(atomic_load(&w.msgs), N);
  CU_ASSERT_EQUAL(atomic_load(&w.bad), 0);
  maestro_graph_destroy(g);
}

/* A timeout firing that fails under STOP stops the graph, naming the agent. */
static int failing_timeout(maestro_fire_t *f) {
  if (maestro_fire_timeout(f)) return MAESTRO_EINVAL;
  return MAESTRO_OK;
}

static void test_timeout_fail(void) {
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "timeout_fail", &g) == MAESTRO_OK);
  maestro_agent_t *a = NULL;
  CU_ASSERT_EQUAL(maestro_agent_add(g,
                                    &(maestro_agent_desc_t){.name = "beater",
                                                            .in = eng_u64_in,
                                                            .n_in = 1,
                                                            .cpu = failing_timeout,
                                                            .period_ms = 5},
                                    &a),
                  MAESTRO_OK);
  maestro_input_t *in;
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_EAGENT);
  CU_ASSERT(eng_err_names("'beater'"));
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(a, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.failures, 1);
  CU_ASSERT_EQUAL(st.fires, 1);
  maestro_graph_destroy(g);
}

/* Destroying running graphs with armed timers (a source, a silent agent)
 * is clean; a later graph on the same runtime still gets its timers. */
static void test_destroy_armed(void) {
  for (int round = 0; round < 3; round++) {
    maestro_graph_t *g;
    CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "armed", &g) == MAESTRO_OK);
    struct ticker *t = calloc(1, sizeof *t);
    struct watch w = {0};
    maestro_agent_t *src = add_ticker(g, t, 1 + round * 7);
    maestro_agent_t *wa = add_watch(g, &w, 3 + round);
    CU_ASSERT_EQUAL(maestro_connect(g, src, "out", wa, "in", 4), MAESTRO_OK);
    CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
    eng_sleep_us(20000 * round);
    maestro_graph_destroy(g);
    uint64_t n = atomic_load(&t->fires);
    eng_sleep_us(20000);
    CU_ASSERT_EQUAL(atomic_load(&t->fires), n);
    free(t);
  }
}

static int nop_fire(maestro_fire_t *f) {
  (void)f;
  return MAESTRO_OK;
}

static void test_validate(void) {
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "period_validate", &g) == MAESTRO_OK);
  maestro_agent_t *a = NULL;
  CU_ASSERT_EQUAL(
      maestro_agent_add(
          g,
          &(maestro_agent_desc_t){
              .name = "negative", .out = eng_u64_out, .n_out = 1, .cpu = nop_fire, .period_ms = -5},
          &a),
      MAESTRO_EINVAL);
  CU_ASSERT(eng_err_names("'negative'"));
  CU_ASSERT(eng_err_names("period_ms -5"));
  CU_ASSERT_PTR_NULL(a);
  CU_ASSERT_EQUAL(maestro_agent_add(g,
                                    &(maestro_agent_desc_t){.name = "many",
                                                            .in = eng_u64_in,
                                                            .n_in = 1,
                                                            .cpu = nop_fire,
                                                            .flags = MAESTRO_STATELESS,
                                                            .period_ms = 10},
                                    &a),
                  MAESTRO_EINVAL);
  CU_ASSERT(eng_err_names("'many'"));
  CU_ASSERT(eng_err_names("MAESTRO_STATELESS"));
  /* A stateless source may have a period: sources fire one at a time anyway. */
  CU_ASSERT_EQUAL(maestro_agent_add(g,
                                    &(maestro_agent_desc_t){.name = "src",
                                                            .out = eng_u64_out,
                                                            .n_out = 1,
                                                            .cpu = nop_fire,
                                                            .flags = MAESTRO_STATELESS,
                                                            .period_ms = 10},
                                    &a),
                  MAESTRO_OK);
  maestro_graph_destroy(g);
}

void register_suites(void) {
  ADD_SUITE("engine_timer", eng_suite_init, eng_suite_fini,
            {"periodic source: exact count, never early", test_source_count},
            {"periodic source: waits without burning CPU", test_source_idle_cost},
            {"periodic source: missed ticks coalesce", test_source_coalesce},
            {"timeout firings while input is silent", test_timeout_silent},
            {"no timeout firing while messages flow", test_timeout_flowing},
            {"a failing timeout firing stops the graph", test_timeout_fail},
            {"destroy with armed timers", test_destroy_armed},
            {"period_ms validation", test_validate});
}
