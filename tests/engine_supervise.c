/* Supervision: STOP, RETRY (with .restart and .max_retries), SKIP and the
 * dead letters; destroying graphs and runtimes while they run. */
#include <pthread.h>
#include <stdlib.h>

#include "engine_util.h"

static uint64_t sup_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* An agent that fails on chosen messages. */
struct flaky {
  uint64_t fail_mod, fail_rem; /* fails when value % fail_mod == fail_rem */
  int fail_times;              /* how many attempts fail per such message (-1: all) */
  int status;                  /* the status a failed firing returns */
  atomic_int attempts_on_fail; /* firings on failing messages */
  atomic_int restarts;
  int restart_status;
  uint64_t fail_ns[8];    /* when each of the first failed attempts failed */
  uint64_t restart_ns[8]; /* when each of the first restarts was called */
  uint64_t last_value;    /* the message being retried */
  int tries_left;
};

static int flaky_fire(maestro_fire_t *f) {
  struct flaky *s = maestro_fire_state(f);
  uint64_t v = eng_val(maestro_fire_in(f, 0));
  if (v % s->fail_mod == s->fail_rem) {
    atomic_fetch_add(&s->attempts_on_fail, 1);
    if (v != s->last_value) {
      s->last_value = v;
      s->tries_left = s->fail_times;
    }
    if (s->tries_left != 0) {
      if (s->tries_left > 0) s->tries_left--;
      int k = atomic_load(&s->attempts_on_fail) - 1;
      if (k < 8) s->fail_ns[k] = sup_now_ns();
      return s->status;
    }
  }
  return eng_pass(f);
}

static int flaky_restart(void *state) {
  struct flaky *s = state;
  int k = atomic_fetch_add(&s->restarts, 1);
  if (k < 8) s->restart_ns[k] = sup_now_ns();
  return s->restart_status;
}

static maestro_agent_t *add_flaky(maestro_graph_t *g, const char *name, struct flaky *s,
                                  maestro_supervisor_t sup) {
  s->last_value = UINT64_MAX;
  maestro_agent_t *a = NULL;
  CU_ASSERT_EQUAL(maestro_agent_add(g,
                                    &(maestro_agent_desc_t){.name = name,
                                                            .in = eng_u64_in,
                                                            .n_in = 1,
                                                            .out = eng_u64_out,
                                                            .n_out = 1,
                                                            .cpu = flaky_fire,
                                                            .state = s,
                                                            .supervisor = sup},
                                    &a),
                  MAESTRO_OK);
  return a;
}

/* Drains the dead letters until they end (the graph finished), counting them
 * and checking each names `agent`. Returns the count, -1 on a timeout. */
static long drain_letters(maestro_output_t *dl, const char *agent, int status, uint64_t *seqs,
                          long cap) {
  long n = 0;
  for (;;) {
    maestro_buf_t *b = NULL;
    maestro_letter_t why = {0};
    int rc = maestro_output_pop_letter(dl, &b, &why, 10000);
    if (rc == MAESTRO_ECLOSED) return n;
    if (rc != MAESTRO_OK) return -1;
    if (agent) {
      CU_ASSERT_PTR_NOT_NULL(why.agent);
      if (why.agent) CU_ASSERT_STRING_EQUAL(why.agent, agent);
      CU_ASSERT_PTR_NOT_NULL(why.port);
      if (why.port) CU_ASSERT_STRING_EQUAL(why.port, "in");
      CU_ASSERT_EQUAL(why.status, status);
      CU_ASSERT_EQUAL(why.seq, eng_val(b)); /* the n-th message has value n here */
    }
    if (seqs && n < cap) seqs[n] = eng_val(b);
    n++;
    maestro_buf_release(b);
  }
}

/* SKIP: failing messages go to the dead letters, the rest flows on, the graph
 * ends OK, and the stats count the failures. */
static void test_skip(void) {
  static uint64_t n = 1000;
  static struct flaky fl = {.fail_mod = 10, .fail_rem = 3, .fail_times = -1, .status = -100};
  fl.status = MAESTRO_EINVAL;
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "skip", &g) == MAESTRO_OK);
  maestro_agent_t *s = eng_add_source(g, "s", eng_count_source, &n);
  maestro_agent_t *f =
      add_flaky(g, "flaky", &fl, (maestro_supervisor_t){.on_fail = MAESTRO_FAIL_SKIP});
  maestro_agent_t *t = eng_add(g, "tail", eng_pass, NULL);
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", f, "in", 2), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, f, "out", t, "in", 2), MAESTRO_OK);
  maestro_output_t *out, *dl;
  CU_ASSERT_FATAL(maestro_graph_output(g, t, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_dead_letters(g, &dl) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  uint64_t *vals = calloc(n, sizeof *vals);
  long got = eng_drain(out, vals, (long)n);
  CU_ASSERT_EQUAL(got, (long)(n - n / 10));
  long bad = 0;
  for (long i = 0; i < got; i++)
    bad += vals[i] % 10 == 3;
  for (long i = 1; i < got; i++)
    bad += vals[i] <= vals[i - 1];
  CU_ASSERT_EQUAL(bad, 0);
  uint64_t letters[100];
  CU_ASSERT_EQUAL(drain_letters(dl, "flaky", MAESTRO_EINVAL, letters, 100), (long)(n / 10));
  for (int i = 0; i < 100; i++)
    CU_ASSERT_EQUAL(letters[i], (uint64_t)i * 10 + 3);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(f, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.failures, n / 10);
  CU_ASSERT_EQUAL(st.dead_letters, n / 10);
  CU_ASSERT_EQUAL(st.msgs_in, n);
  CU_ASSERT_EQUAL(st.msgs_out, n - n / 10);
  CU_ASSERT_EQUAL(st.retries, 0);
  free(vals);
  maestro_graph_destroy(g);
}

/* STOP (the default): maestro_graph_wait says MAESTRO_EAGENT and names the
 * agent; what was produced before reaches the host; the failed message and
 * everything no consumer took become dead letters: nothing is lost. */
static void test_stop(void) {
  enum { N = 400, FAIL_AT = 57 };
  static struct flaky fl = {.fail_mod = 1000000, .fail_rem = FAIL_AT, .fail_times = -1};
  fl.status = MAESTRO_ENOMEM;
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "stop", &g) == MAESTRO_OK);
  maestro_agent_t *head = eng_add(g, "head", eng_pass, NULL);
  maestro_agent_t *f = add_flaky(g, "breaker", &fl, (maestro_supervisor_t){0});
  maestro_agent_t *t = eng_add(g, "tail", eng_pass, NULL);
  CU_ASSERT_EQUAL(maestro_connect(g, head, "out", f, "in", 8), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, f, "out", t, "in", 8), MAESTRO_OK);
  maestro_input_t *in;
  maestro_output_t *out, *dl;
  CU_ASSERT_FATAL(maestro_graph_input(g, head, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, t, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_dead_letters(g, &dl) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  /* Push until the graph refuses; every accepted message must come back.
   * A refused push hands its buffer over too (dead letter or released). */
  long accepted = 0, refused_dead = 0;
  int rc = MAESTRO_OK;
  for (uint64_t i = 0; i < N; i++) {
    maestro_buf_t *m = eng_msg(eng_rt, i);
    rc = maestro_input_push_timed(in, m, 5000);
    if (rc == MAESTRO_ETIMEDOUT) maestro_buf_release(m); /* the caller keeps it */
    if (rc != MAESTRO_OK) break;
    accepted++;
  }
  CU_ASSERT(rc == MAESTRO_OK || rc == MAESTRO_ECLOSED);
  CU_ASSERT(accepted > FAIL_AT);
  maestro_input_close(in);
  uint64_t *vals = calloc(N, sizeof *vals);
  long got = eng_drain(out, vals, N);
  CU_ASSERT(got >= 0 && got <= FAIL_AT);
  for (long i = 0; i < got; i++)
    CU_ASSERT_EQUAL(vals[i], (uint64_t)i);
  uint64_t *dead = calloc(N, sizeof *dead);
  long n_dead = drain_letters(dl, NULL, 0, dead, N);
  CU_ASSERT(n_dead >= 1);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_EAGENT);
  CU_ASSERT(eng_err_names("breaker"));
  /* Accounting: each accepted value was delivered or dead-lettered, once. */
  int *count = calloc(N, sizeof *count);
  for (long i = 0; i < got; i++)
    if (vals[i] < N) count[vals[i]]++;
  for (long i = 0; i < n_dead && i < N; i++)
    if (dead[i] < N) count[dead[i]]++;
  long wrong = 0;
  for (long i = 0; i < accepted; i++)
    wrong += count[i] != 1;
  CU_ASSERT_EQUAL(wrong, 0);
  if (rc == MAESTRO_ECLOSED && accepted < N) refused_dead = count[accepted];
  CU_ASSERT(refused_dead == 0 || refused_dead == 1);
  CU_ASSERT_EQUAL(got + n_dead, accepted + refused_dead);
  /* The failed message itself is among the letters. */
  CU_ASSERT_EQUAL(count[FAIL_AT], 1);
  long is_failed = 0;
  for (long i = 0; i < got; i++)
    is_failed += vals[i] == FAIL_AT;
  CU_ASSERT_EQUAL(is_failed, 0);
  CU_ASSERT_EQUAL(atomic_load(&fl.attempts_on_fail), 1);
  /* The stats of the failing agent. */
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(f, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.failures, 1);
  free(count);
  free(dead);
  free(vals);
  maestro_graph_destroy(g);
}

/* The failed message of a STOP carries the agent, port, status and seq. */
static void test_stop_letter(void) {
  static uint64_t n = 50;
  static struct flaky fl = {.fail_mod = 1000, .fail_rem = 20, .fail_times = -1};
  fl.status = MAESTRO_ENODEV;
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "stop_letter", &g) == MAESTRO_OK);
  maestro_agent_t *s = eng_add_source(g, "s", eng_count_source, &n);
  maestro_agent_t *f =
      add_flaky(g, "stopper", &fl, (maestro_supervisor_t){.on_fail = MAESTRO_FAIL_STOP});
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", f, "in", 100), MAESTRO_OK);
  maestro_output_t *out, *dl;
  CU_ASSERT_FATAL(maestro_graph_output(g, f, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_dead_letters(g, &dl) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  long got = eng_drain(out, NULL, 0);
  int found = 0;
  long letters = 0;
  for (;;) {
    maestro_buf_t *b;
    maestro_letter_t why = {0};
    int rc = maestro_output_pop_letter(dl, &b, &why, 10000);
    if (rc != MAESTRO_OK) {
      CU_ASSERT_EQUAL(rc, MAESTRO_ECLOSED);
      break;
    }
    letters++;
    if (why.status == MAESTRO_ENODEV) {
      found++;
      CU_ASSERT_STRING_EQUAL(why.agent, "stopper");
      CU_ASSERT_STRING_EQUAL(why.port, "in");
      CU_ASSERT_EQUAL(why.seq, 20);
      CU_ASSERT_EQUAL(eng_val(b), 20);
    } else {
      CU_ASSERT_EQUAL(why.status, MAESTRO_ECLOSED); /* not taken */
    }
    maestro_buf_release(b);
  }
  CU_ASSERT_EQUAL(found, 1);
  CU_ASSERT_EQUAL(got, 20);
  CU_ASSERT(got + letters <= (long)n);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_EAGENT);
  CU_ASSERT(eng_err_names("stopper"));
  /* The status of the failure is in the message too, by name or number. */
  CU_ASSERT(eng_err_names(maestro_strerror(MAESTRO_ENODEV)) || eng_err_names("-3") ||
            eng_err_names("ENODEV"));
  maestro_graph_destroy(g);
}

/* RETRY: .restart runs before each new attempt; within .max_retries the
 * message goes through and the graph ends OK. */
static void test_retry_recovers(void) {
  static uint64_t n = 100;
  static struct flaky fl = {.fail_mod = 25, .fail_rem = 7, .fail_times = 2};
  fl.status = MAESTRO_EINVAL;
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "retry", &g) == MAESTRO_OK);
  maestro_agent_t *s = eng_add_source(g, "s", eng_count_source, &n);
  maestro_agent_t *f =
      add_flaky(g, "retrier", &fl,
                (maestro_supervisor_t){
                    .on_fail = MAESTRO_FAIL_RETRY, .max_retries = 3, .restart = flaky_restart});
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", f, "in", 4), MAESTRO_OK);
  maestro_output_t *out, *dl;
  CU_ASSERT_FATAL(maestro_graph_output(g, f, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_dead_letters(g, &dl) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  uint64_t vals[100] = {0};
  CU_ASSERT_EQUAL(eng_drain(out, vals, 100), 100);
  for (int i = 0; i < 100; i++)
    CU_ASSERT_EQUAL(vals[i], (uint64_t)i);
  CU_ASSERT_EQUAL(drain_letters(dl, NULL, 0, NULL, 0), 0);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  /* 4 failing messages (7, 32, 57, 82), each failed twice then passed. */
  CU_ASSERT_EQUAL(atomic_load(&fl.attempts_on_fail), 4 * 3);
  CU_ASSERT_EQUAL(atomic_load(&fl.restarts), 4 * 2);
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(f, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.retries, 8);
  CU_ASSERT_EQUAL(st.failures, 8);
  CU_ASSERT_EQUAL(st.msgs_out, 100);
  maestro_graph_destroy(g);
}

/* RETRY past .max_retries stops the graph like STOP. */
static void test_retry_exhausted(void) {
  static uint64_t n = 100;
  static struct flaky fl = {.fail_mod = 1000, .fail_rem = 10, .fail_times = -1};
  fl.status = MAESTRO_EINVAL;
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "retry_out", &g) == MAESTRO_OK);
  maestro_agent_t *s = eng_add_source(g, "s", eng_count_source, &n);
  add_flaky(g, "stubborn", &fl,
            (maestro_supervisor_t){
                .on_fail = MAESTRO_FAIL_RETRY, .max_retries = 2, .restart = flaky_restart});
  maestro_agent_t *f = maestro_graph_agent(g, "stubborn");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", f, "in", 4), MAESTRO_OK);
  maestro_output_t *out, *dl;
  CU_ASSERT_FATAL(maestro_graph_output(g, f, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_dead_letters(g, &dl) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  CU_ASSERT_EQUAL(eng_drain(out, NULL, 0), 10);
  CU_ASSERT(drain_letters(dl, NULL, 0, NULL, 0) >= 1);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_EAGENT);
  CU_ASSERT(eng_err_names("stubborn"));
  CU_ASSERT_EQUAL(atomic_load(&fl.attempts_on_fail), 1 + 2);
  CU_ASSERT_EQUAL(atomic_load(&fl.restarts), 2);
  maestro_graph_destroy(g);
}

/* A .restart that fails stops the graph at once. */
static void test_restart_fails(void) {
  static uint64_t n = 30;
  static struct flaky fl = {.fail_mod = 1000, .fail_rem = 5, .fail_times = -1};
  fl.status = MAESTRO_EINVAL;
  fl.restart_status = MAESTRO_ENOMEM;
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "restart_fails", &g) == MAESTRO_OK);
  maestro_agent_t *s = eng_add_source(g, "s", eng_count_source, &n);
  maestro_agent_t *f =
      add_flaky(g, "unrestartable", &fl,
                (maestro_supervisor_t){
                    .on_fail = MAESTRO_FAIL_RETRY, .max_retries = 5, .restart = flaky_restart});
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", f, "in", 4), MAESTRO_OK);
  maestro_output_t *out, *dl;
  CU_ASSERT_FATAL(maestro_graph_output(g, f, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_dead_letters(g, &dl) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  CU_ASSERT_EQUAL(eng_drain(out, NULL, 0), 5);
  CU_ASSERT(drain_letters(dl, NULL, 0, NULL, 0) >= 1);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_EAGENT);
  CU_ASSERT(eng_err_names("unrestartable"));
  CU_ASSERT_EQUAL(atomic_load(&fl.restarts), 1);
  CU_ASSERT_EQUAL(atomic_load(&fl.attempts_on_fail), 1);
  maestro_graph_destroy(g);
}

/* A source that never ends. */
static int endless(maestro_fire_t *f) {
  maestro_buf_t *b;
  int rc = maestro_fire_alloc(f, 64, &b);
  if (rc != MAESTRO_OK) return rc;
  memset(maestro_buf_data(b), 1, 64);
  return maestro_fire_out(f, 0, b);
}

/* Destroying a running graph cancels it: no hang (the ctest timeout), no
 * leak (ASan), and the runtime keeps working for the next graph. */
static void test_destroy_running(void) {
  for (int round = 0; round < 5; round++) {
    maestro_graph_t *g;
    CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "forever", &g) == MAESTRO_OK);
    maestro_agent_t *s = eng_add_source(g, "endless", endless, NULL);
    maestro_agent_t *p = eng_add(g, "pass", eng_pass, NULL);
    maestro_agent_t *q = eng_add(g, "pass2", eng_pass, NULL);
    CU_ASSERT_EQUAL(maestro_connect(g, s, "out", p, "in", 4), MAESTRO_OK);
    CU_ASSERT_EQUAL(maestro_connect(g, p, "out", q, "in", 4), MAESTRO_OK);
    maestro_output_t *out, *dl;
    /* An output nobody drains, and a host input with queued messages. */
    CU_ASSERT_FATAL(maestro_graph_output(g, q, "out", &out) == MAESTRO_OK);
    CU_ASSERT_FATAL(maestro_graph_dead_letters(g, &dl) == MAESTRO_OK);
    maestro_agent_t *h = eng_add(g, "hostfed", eng_pass, NULL);
    maestro_agent_t *sink = NULL;
    CU_ASSERT_EQUAL(maestro_agent_add(g,
                                      &(maestro_agent_desc_t){.name = "sink",
                                                              .in = eng_u64_in,
                                                              .n_in = 1,
                                                              .cpu = eng_sink,
                                                              .affinity = {0, 0, 0}},
                                      &sink),
                    MAESTRO_OK);
    (void)sink;
    maestro_input_t *in;
    CU_ASSERT_FATAL(maestro_graph_input(g, h, "in", &in) == MAESTRO_OK);
    maestro_output_t *hout;
    CU_ASSERT_FATAL(maestro_graph_output(g, h, "out", &hout) == MAESTRO_OK);
    CU_ASSERT_EQUAL(maestro_connect(g, h, "out", sink, "in", 1), MAESTRO_OK);
    CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
    for (int i = 0; i < 3; i++)
      CU_ASSERT_EQUAL(maestro_input_push(in, eng_msg(eng_rt, i)), MAESTRO_OK);
    if (round % 2) {
      maestro_buf_t *b;
      CU_ASSERT_EQUAL(maestro_output_pop(out, &b, 10000), MAESTRO_OK);
      maestro_buf_release(b);
    }
    eng_sleep_us(round * 3000);
    maestro_graph_destroy(g);
  }
  /* The runtime still runs graphs. */
  static uint64_t n = 100;
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "after", &g) == MAESTRO_OK);
  maestro_agent_t *s = eng_add_source(g, "s", eng_count_source, &n);
  maestro_agent_t *p = eng_add(g, "p", eng_pass, NULL);
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", p, "in", 4), MAESTRO_OK);
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_output(g, p, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  CU_ASSERT_EQUAL(eng_drain(out, NULL, 0), 100);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_graph_destroy(g);
}

/* Destroying the runtime under a running graph cancels and frees the graph. */
static void test_runtime_destroy_running(void) {
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.devices = "none";
  cfg.stats = 0;
  cfg.ncpu = 2;
  for (int round = 0; round < 3; round++) {
    maestro_runtime_t *rt;
    CU_ASSERT_FATAL(maestro_runtime_create(&cfg, &rt) == MAESTRO_OK);
    maestro_graph_t *g;
    CU_ASSERT_FATAL(maestro_graph_create(rt, "orphan", &g) == MAESTRO_OK);
    maestro_agent_t *s = eng_add_source(g, "endless", endless, NULL);
    maestro_agent_t *p = eng_add(g, "pass", eng_pass, NULL);
    CU_ASSERT_EQUAL(maestro_connect(g, s, "out", p, "in", 2), MAESTRO_OK);
    maestro_output_t *out;
    CU_ASSERT_FATAL(maestro_graph_output(g, p, "out", &out) == MAESTRO_OK);
    CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
    eng_sleep_us(round * 2000);
    maestro_runtime_destroy(rt);
  }
}

/* "No thread is left waiting": host threads blocked in a push (the graph is
 * full) and in a pop (nothing will come) return MAESTRO_ECLOSED when the
 * graph is destroyed under them, and nothing is touched after it is freed
 * (ASan). */
static const maestro_port_t two_out[] = {{"out", MAESTRO_I64, 0}, {"never", MAESTRO_I64, 0}};

struct blocked {
  maestro_input_t *in;
  maestro_output_t *never;
  atomic_int push_rc, pop_rc, pushed;
};

static void *blocked_pusher(void *arg) {
  struct blocked *bl = arg;
  int rc;
  uint64_t i = 0;
  while ((rc = maestro_input_push(bl->in, eng_msg(eng_rt, i++))) == MAESTRO_OK)
    atomic_fetch_add(&bl->pushed, 1);
  atomic_store(&bl->push_rc, rc);
  return NULL;
}

static void *blocked_popper(void *arg) {
  struct blocked *bl = arg;
  maestro_buf_t *b = NULL;
  int rc = maestro_output_pop(bl->never, &b, -1);
  if (rc == MAESTRO_OK) maestro_buf_release(b);
  atomic_store(&bl->pop_rc, rc);
  return NULL;
}

static void test_destroy_wakes_host_threads(void) {
  for (int round = 0; round < 3; round++) {
    maestro_graph_t *g;
    CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "blocking", &g) == MAESTRO_OK);
    maestro_agent_t *a = NULL;
    CU_ASSERT_EQUAL(maestro_agent_add(g,
                                      &(maestro_agent_desc_t){.name = "a",
                                                              .in = eng_u64_in,
                                                              .n_in = 1,
                                                              .out = two_out,
                                                              .n_out = 2,
                                                              .cpu = eng_pass},
                                      &a),
                    MAESTRO_OK);
    static struct blocked bl;
    atomic_store(&bl.push_rc, 1);
    atomic_store(&bl.pop_rc, 1);
    atomic_store(&bl.pushed, 0);
    maestro_output_t *out;
    CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &bl.in) == MAESTRO_OK);
    CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &out) == MAESTRO_OK);
    CU_ASSERT_FATAL(maestro_graph_output(g, a, "never", &bl.never) == MAESTRO_OK);
    CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
    pthread_t tp, tq;
    pthread_create(&tp, NULL, blocked_pusher, &bl);
    pthread_create(&tq, NULL, blocked_popper, &bl);
    /* Wait until the pusher is stuck inside a push: its count has not moved
     * for 100 ms (a thread that is merely slow would touch the graph after
     * the destroy below). */
    int last = -1, still = 0;
    for (int i = 0; i < 5000 && still < 50; i++) {
      eng_sleep_us(2000);
      int now = atomic_load(&bl.pushed);
      still = now == last ? still + 1 : 0;
      last = now;
    }
    CU_ASSERT_EQUAL(atomic_load(&bl.push_rc), 1); /* still inside push */
    CU_ASSERT_EQUAL(atomic_load(&bl.pop_rc), 1);  /* still inside pop */
    maestro_graph_destroy(g);
    pthread_join(tp, NULL);
    pthread_join(tq, NULL);
    CU_ASSERT_EQUAL(atomic_load(&bl.push_rc), MAESTRO_ECLOSED);
    CU_ASSERT_EQUAL(atomic_load(&bl.pop_rc), MAESTRO_ECLOSED);
  }
}

/* A failing source stops the graph like any agent. */
static int failing_source(maestro_fire_t *f) {
  if (maestro_fire_seq(f) == 7) return MAESTRO_ENOMEM;
  return eng_count_source(f);
}

static void test_source_fails(void) {
  static uint64_t n = 100;
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "badsource", &g) == MAESTRO_OK);
  maestro_agent_t *s = eng_add_source(g, "wellspring", failing_source, &n);
  maestro_agent_t *p = eng_add(g, "p", eng_pass, NULL);
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", p, "in", 64), MAESTRO_OK);
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_output(g, p, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  long got = eng_drain(out, NULL, 0);
  CU_ASSERT(got >= 0 && got <= 7);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_EAGENT);
  CU_ASSERT(eng_err_names("wellspring"));
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(s, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.failures, 1);
  maestro_graph_destroy(g);
}

/* Restart intensity: each message ending in 3 fails twice, RETRY allows 5
 * retries per firing, but at most 3 restarts within a minute: message 3
 * takes 2, message 13 the 3rd, and its 2nd retry would be the 4th: the
 * supervisor escalates to a stop instead. */
static void test_intensity_escalates(void) {
  static uint64_t n = 1000;
  static struct flaky fl = {.fail_mod = 10, .fail_rem = 3, .fail_times = 2};
  fl.status = MAESTRO_EINVAL;
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "intensity", &g) == MAESTRO_OK);
  maestro_agent_t *s = eng_add_source(g, "s", eng_count_source, &n);
  maestro_agent_t *f = add_flaky(g, "flaky", &fl,
                                 (maestro_supervisor_t){.on_fail = MAESTRO_FAIL_RETRY,
                                                        .max_retries = 5,
                                                        .restart = flaky_restart,
                                                        .max_restarts = 3,
                                                        .within_ms = 60000});
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", f, "in", 4), MAESTRO_OK);
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_output(g, f, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  long got = eng_drain(out, NULL, 0);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_EAGENT);
  CU_ASSERT_TRUE(eng_err_names("flaky"));
  CU_ASSERT_TRUE(eng_err_names("more than 3 restarts within 60000 ms"));
  CU_ASSERT_EQUAL(got, 13); /* 0..12 (3 after its retries); 13 failed */
  CU_ASSERT_EQUAL(atomic_load(&fl.restarts), 3);
  CU_ASSERT_EQUAL(atomic_load(&fl.attempts_on_fail), 5); /* 3: 3 attempts; 13: 2 */
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(f, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.retries, 3);
  CU_ASSERT_EQUAL(st.failures, 4);
  maestro_graph_destroy(g);
}

/* The intensity window slides: one restart per 1 ms is allowed, and the
 * 2 ms backoff before each retry puts every restart past the previous one's
 * window, so all 3 retries of message 3 happen and the graph ends OK. */
static void test_intensity_window_slides(void) {
  static uint64_t n = 100;
  static struct flaky fl = {.fail_mod = 1000, .fail_rem = 3, .fail_times = 3};
  fl.status = MAESTRO_EINVAL;
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "slides", &g) == MAESTRO_OK);
  maestro_agent_t *s = eng_add_source(g, "s", eng_count_source, &n);
  maestro_agent_t *f = add_flaky(g, "flaky", &fl,
                                 (maestro_supervisor_t){.on_fail = MAESTRO_FAIL_RETRY,
                                                        .max_retries = 3,
                                                        .restart = flaky_restart,
                                                        .max_restarts = 1,
                                                        .within_ms = 1,
                                                        .backoff_ms = 2,
                                                        .backoff_max_ms = 2});
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", f, "in", 4), MAESTRO_OK);
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_output(g, f, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  CU_ASSERT_EQUAL(eng_drain(out, NULL, 0), (long)n);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(atomic_load(&fl.restarts), 3);
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(f, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.retries, 3);
  CU_ASSERT_EQUAL(st.failures, 3);
  maestro_graph_destroy(g);
}

/* Backoff: 1 ms before the first retry, doubling, capped at 3 ms: 1, 2, 3.
 * Each restart comes after the failure before it by at least its backoff
 * (lower bounds only: a sleep never ends early), in order. */
static void test_backoff_delays_retries(void) {
  static uint64_t n = 50;
  static struct flaky fl = {.fail_mod = 1000, .fail_rem = 7, .fail_times = 3};
  fl.status = MAESTRO_EINVAL;
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "backoff", &g) == MAESTRO_OK);
  maestro_agent_t *s = eng_add_source(g, "s", eng_count_source, &n);
  maestro_agent_t *f = add_flaky(g, "flaky", &fl,
                                 (maestro_supervisor_t){.on_fail = MAESTRO_FAIL_RETRY,
                                                        .max_retries = 3,
                                                        .restart = flaky_restart,
                                                        .backoff_ms = 1,
                                                        .backoff_max_ms = 3});
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", f, "in", 4), MAESTRO_OK);
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_output(g, f, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  uint64_t vals[50];
  CU_ASSERT_EQUAL(eng_drain(out, vals, 50), (long)n);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  long bad = 0;
  for (int i = 0; i < 50; i++)
    bad += vals[i] != (uint64_t)i;
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL(atomic_load(&fl.restarts), 3);
  CU_ASSERT_EQUAL(atomic_load(&fl.attempts_on_fail), 4);
  static const uint64_t want_ms[3] = {1, 2, 3};
  for (int i = 0; i < 3; i++) {
    CU_ASSERT_TRUE(fl.restart_ns[i] > fl.fail_ns[i]);
    CU_ASSERT_TRUE(fl.restart_ns[i] - fl.fail_ns[i] >= want_ms[i] * 1000000u);
    if (i < 2) CU_ASSERT_TRUE(fl.fail_ns[i + 1] > fl.restart_ns[i]); /* the 4th attempt works */
  }
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(f, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.retries, 3);
  maestro_graph_destroy(g);
}

/* Bad intensity or backoff fields are refused, naming the agent. */
static void test_supervisor_fields_checked(void) {
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "supfields", &g) == MAESTRO_OK);
  static const maestro_supervisor_t bad[] = {
      {.on_fail = MAESTRO_FAIL_RETRY, .max_restarts = -1, .within_ms = 10},
      {.on_fail = MAESTRO_FAIL_RETRY, .max_restarts = 2}, /* no window */
      {.on_fail = MAESTRO_FAIL_RETRY, .within_ms = -5},
      {.on_fail = MAESTRO_FAIL_RETRY, .backoff_ms = -1},
      {.on_fail = MAESTRO_FAIL_RETRY, .backoff_max_ms = -1},
  };
  for (int i = 0; i < 5; i++) {
    maestro_agent_t *a = NULL;
    CU_ASSERT_EQUAL(maestro_agent_add(g,
                                      &(maestro_agent_desc_t){.name = "badsup",
                                                              .in = eng_u64_in,
                                                              .n_in = 1,
                                                              .out = eng_u64_out,
                                                              .n_out = 1,
                                                              .cpu = eng_pass,
                                                              .supervisor = bad[i]},
                                      &a),
                    MAESTRO_EINVAL);
    CU_ASSERT_TRUE(eng_err_names("badsup"));
    CU_ASSERT_PTR_NULL(a);
  }
  maestro_graph_destroy(g);
}

/* wait_for: times out while a host input is open, then succeeds. */
static void test_wait_for(void) {
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "waitfor", &g) == MAESTRO_OK);
  maestro_agent_t *a = eng_add(g, "pass", eng_pass, NULL);
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &out) == MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_wait_for(g, 10), MAESTRO_ESTATE); /* not started */
  CU_ASSERT_EQUAL(maestro_graph_wait_for(NULL, 10), MAESTRO_EINVAL);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_wait_for(g, -2), MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(maestro_graph_wait_for(g, 0), MAESTRO_ETIMEDOUT);
  CU_ASSERT_EQUAL(maestro_graph_wait_for(g, 20), MAESTRO_ETIMEDOUT);
  CU_ASSERT_TRUE(eng_err_names("waitfor"));
  CU_ASSERT_EQUAL(eng_feed(eng_rt, in, 10), MAESTRO_OK);
  CU_ASSERT_EQUAL(eng_drain(out, NULL, 0), 10);
  CU_ASSERT_EQUAL(maestro_graph_wait_for(g, 30000), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_wait_for(g, 0), MAESTRO_OK); /* finished: at once */
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_graph_destroy(g);
}

/* Cancel: a long source into a pipeline nobody reads stops; every message
 * the source sent is either in the output or a dead letter marked
 * MAESTRO_ECANCELED, and wait says the graph was cancelled. */
static void test_cancel_running(void) {
  static uint64_t n = 100000000;
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "cancel", &g) == MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_cancel(g), MAESTRO_ESTATE); /* not started */
  maestro_agent_t *s = eng_add_source(g, "s", eng_count_source, &n);
  maestro_agent_t *a = eng_add(g, "pass", eng_pass, NULL);
  maestro_agent_t *b = eng_add(g, "inc", eng_inc, NULL);
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", a, "in", 16), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, a, "out", b, "in", 16), MAESTRO_OK);
  maestro_output_t *out, *dl;
  CU_ASSERT_FATAL(maestro_graph_output(g, b, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_dead_letters(g, &dl) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  /* Take a few, so the pipeline is known to run, then cancel it. */
  long first = 0;
  for (; first < 5; first++) {
    maestro_buf_t *m = NULL;
    if (maestro_output_pop(out, &m, 10000) != MAESTRO_OK) break;
    maestro_buf_release(m);
  }
  CU_ASSERT_EQUAL(first, 5);
  CU_ASSERT_EQUAL(maestro_graph_wait_for(g, 0), MAESTRO_ETIMEDOUT);
  CU_ASSERT_EQUAL(maestro_graph_cancel(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_cancel(g), MAESTRO_OK); /* idempotent */
  CU_ASSERT_EQUAL(maestro_graph_wait_for(g, 30000), MAESTRO_ECANCELED);
  CU_ASSERT_TRUE(eng_err_names("cancelled"));
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_ECANCELED);
  long rest = eng_drain(out, NULL, 0);
  long letters = 0, wrong = 0;
  for (;;) {
    maestro_buf_t *m = NULL;
    maestro_letter_t why = {0};
    int rc = maestro_output_pop_letter(dl, &m, &why, 10000);
    if (rc != MAESTRO_OK) {
      CU_ASSERT_EQUAL(rc, MAESTRO_ECLOSED);
      break;
    }
    letters++;
    wrong += why.status != MAESTRO_ECANCELED;
    maestro_buf_release(m);
  }
  CU_ASSERT_EQUAL(wrong, 0);
  maestro_agent_stats_t ss;
  CU_ASSERT_EQUAL(maestro_agent_stats(s, &ss), MAESTRO_OK);
  CU_ASSERT_TRUE(ss.msgs_out < n);
  CU_ASSERT_EQUAL((uint64_t)(first + rest + letters), ss.msgs_out);
  maestro_graph_destroy(g);
}

/* Cancelling a finished graph changes nothing. */
static void test_cancel_finished(void) {
  static uint64_t n = 10;
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "cancel_done", &g) == MAESTRO_OK);
  maestro_agent_t *s = eng_add_source(g, "s", eng_count_source, &n);
  maestro_agent_t *a = eng_add(g, "pass", eng_pass, NULL);
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", a, "in", 16), MAESTRO_OK);
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  CU_ASSERT_EQUAL(eng_drain(out, NULL, 0), 10);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_cancel(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_cancel(NULL), MAESTRO_EINVAL);
  maestro_graph_destroy(g);
}

void register_suites(void) {
  ADD_SUITE("engine_supervise", eng_suite_init, eng_suite_fini, {"SKIP to dead letters", test_skip},
            {"STOP accounts for every message", test_stop},
            {"STOP letter names the failure", test_stop_letter},
            {"RETRY recovers", test_retry_recovers},
            {"RETRY exhausted stops", test_retry_exhausted},
            {"restart failing stops", test_restart_fails},
            {"destroy while running", test_destroy_running},
            {"runtime destroy while running", test_runtime_destroy_running},
            {"a failing source stops the graph", test_source_fails},
            {"destroy wakes blocked host threads", test_destroy_wakes_host_threads},
            {"restart intensity escalates to STOP", test_intensity_escalates},
            {"restart intensity window slides", test_intensity_window_slides},
            {"backoff delays retries", test_backoff_delays_retries},
            {"supervisor fields checked", test_supervisor_fields_checked},
            {"wait_for times out then succeeds", test_wait_for},
            {"cancel stops a running graph", test_cancel_running},
            {"cancel after finish changes nothing", test_cancel_finished});
}
