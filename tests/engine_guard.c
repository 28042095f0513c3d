/* Issue 13: a graph destroyed while threads wait on it, calls that would
 * hang when made from inside a firing, cycles that can never end, and CPU
 * functions returning a status no firing may return. Public API only.
 * ENGINE_GUARD_TEST=<test name> runs one test (a hang before a fix shows
 * alone). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine_util.h"

/* ---- destroy while threads wait ---- */

/* Whether thread `tid` sleeps (state 'S' in /proc): a thread that announced
 * it is about to call maestro_graph_wait and then sleeps is inside that call. */
static int thread_sleeps(pid_t tid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  const char *p = strrchr(buf, ')'); /* the name may hold spaces */
  return p && p[1] == ' ' && p[2] == 'S';
}

static void wait_until_asleep(atomic_int *tid) {
  while (atomic_load(tid) == 0)
    eng_sleep_us(10);
  while (!thread_sleeps((pid_t)atomic_load(tid)))
    eng_sleep_us(10);
}

struct blocked {
  pthread_t th;
  atomic_int tid; /* set just before the blocking call */
  maestro_graph_t *g;
  maestro_output_t *out;
  maestro_input_t *in;
  maestro_buf_t *bufs[65];
  atomic_int pushed;
  int rc;
  int named; /* the message says why */
};

static void *waiter_main(void *arg) {
  struct blocked *w = arg;
  atomic_store(&w->tid, (int)syscall(SYS_gettid));
  w->rc = maestro_graph_wait(w->g);
  w->named = eng_err_names("destroyed while waiting");
  return NULL;
}

static void *popper_main(void *arg) {
  struct blocked *w = arg;
  maestro_buf_t *b = NULL;
  atomic_store(&w->tid, (int)syscall(SYS_gettid));
  w->rc = maestro_output_pop(w->out, &b, -1);
  if (b) maestro_buf_release(b);
  return NULL;
}

/* Pushes 64 messages (the input's capacity: nobody takes them), then a 65th
 * that blocks; the buffers exist beforehand so that the only place it can
 * sleep after the 64th push is inside the 65th. */
static void *pusher_main(void *arg) {
  struct blocked *w = arg;
  for (int i = 0; i < 64; i++) {
    if (maestro_input_push(w->in, w->bufs[i]) != MAESTRO_OK) return NULL;
    atomic_fetch_add(&w->pushed, 1);
  }
  atomic_store(&w->tid, (int)syscall(SYS_gettid));
  w->rc = maestro_input_push(w->in, w->bufs[64]);
  return NULL;
}

static const maestro_port_t join_in[] = {{"x", MAESTRO_I64, 0}, {"y", MAESTRO_I64, 0}};

static int join_sink(maestro_fire_t *f) {
  (void)f;
  return MAESTRO_OK;
}

/* Waiting for a graph while another thread destroys it: destroy wakes the
 * waiter, which reports it, and frees the graph only once the waiter (and
 * host threads blocked in pop and push) have left. ASan (debug preset)
 * reported a use after free here before the fix. */
static void test_destroy_while_waiting(void) {
  enum { ROUNDS = 1000 };
  long estate = 0, named = 0, ok_or_estate = 0, popped_closed = 0, pushed_closed = 0, pushed = 0;
  for (int r = 0; r < ROUNDS; r++) {
    int kind = r % 4; /* 0: + a popper, 1: + a pusher, 2: input closed first, 3: alone */
    maestro_graph_t *g;
    CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "waited", &g) == MAESTRO_OK);
    maestro_agent_t *j = NULL;
    CU_ASSERT_FATAL(maestro_agent_add(g,
                                      &(maestro_agent_desc_t){.name = "join",
                                                              .in = join_in,
                                                              .n_in = 2,
                                                              .out = eng_u64_out,
                                                              .n_out = 1,
                                                              .cpu = join_sink},
                                      &j) == MAESTRO_OK);
    maestro_input_t *x, *y;
    maestro_output_t *out;
    CU_ASSERT_FATAL(maestro_graph_input(g, j, "x", &x) == MAESTRO_OK);
    CU_ASSERT_FATAL(maestro_graph_input(g, j, "y", &y) == MAESTRO_OK);
    CU_ASSERT_FATAL(maestro_graph_output(g, j, "out", &out) == MAESTRO_OK);
    CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
    struct blocked w = {.g = g}, h = {.g = g, .out = out, .in = x};
    atomic_init(&w.tid, 0);
    atomic_init(&h.tid, 0);
    atomic_init(&h.pushed, 0);
    pthread_create(&w.th, NULL, waiter_main, &w);
    if (kind == 0) pthread_create(&h.th, NULL, popper_main, &h);
    if (kind == 1) {
      for (int i = 0; i < 65; i++)
        h.bufs[i] = eng_msg(eng_rt, (uint64_t)i);
      pthread_create(&h.th, NULL, pusher_main, &h);
    }
    wait_until_asleep(&w.tid);
    if (kind <= 1) wait_until_asleep(&h.tid);
    if (kind == 2) {
      maestro_input_close(x);
      maestro_input_close(y);
    }
    maestro_graph_destroy(g);
    pthread_join(w.th, NULL);
    if (kind <= 1) pthread_join(h.th, NULL);
    if (kind == 2) {
      ok_or_estate += w.rc == MAESTRO_OK || (w.rc == MAESTRO_ESTATE && w.named);
    } else {
      estate += w.rc == MAESTRO_ESTATE;
      named += w.named;
    }
    if (kind == 0) popped_closed += h.rc == MAESTRO_ECLOSED;
    if (kind == 1) {
      pushed_closed += h.rc == MAESTRO_ECLOSED;
      pushed += atomic_load(&h.pushed);
    }
  }
  CU_ASSERT_EQUAL(estate, ROUNDS / 4 * 3);
  CU_ASSERT_EQUAL(named, ROUNDS / 4 * 3);
  CU_ASSERT_EQUAL(ok_or_estate, ROUNDS / 4);
  CU_ASSERT_EQUAL(popped_closed, ROUNDS / 4);
  CU_ASSERT_EQUAL(pushed_closed, ROUNDS / 4);
  CU_ASSERT_EQUAL(pushed, 64L * (ROUNDS / 4));
}

/* ---- calls from inside a firing ---- */

/* A source whose first firing makes one call (`call`) and records its
 * status and message, then returns MAESTRO_DONE. */
struct probe {
  int (*call)(struct probe *p);
  maestro_graph_t *own, *other;
  maestro_output_t *out;
  maestro_input_t *in;
  int calls;
  int rc, rc2;
  char msg[1024];
  atomic_int done;
};

static int probe_fire(maestro_fire_t *f) {
  struct probe *p = maestro_fire_state(f);
  if (p->calls++ == 0) {
    p->rc = p->call(p);
    snprintf(p->msg, sizeof p->msg, "%s", maestro_last_error());
    atomic_store(&p->done, 1);
  }
  return MAESTRO_DONE;
}

/* A graph "own" with the probe (sending to a host output) and `p` wired. */
static maestro_graph_t *probe_graph(struct probe *p) {
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "own", &g) == MAESTRO_OK);
  maestro_agent_t *src = eng_add_source(g, "probe", probe_fire, p);
  CU_ASSERT_FATAL(maestro_graph_output(g, src, "out", &p->out) == MAESTRO_OK);
  p->own = g;
  atomic_init(&p->done, 0);
  return g;
}

/* A started graph "other" (one agent fed by a host input that stays open). */
static maestro_graph_t *other_graph(maestro_input_t **in, int start) {
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "other", &g) == MAESTRO_OK);
  maestro_agent_t *a = eng_add(g, "o", eng_sink, NULL);
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", in) == MAESTRO_OK);
  if (start) CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  return g;
}

static int call_wait_own(struct probe *p) {
  return maestro_graph_wait(p->own);
}

static int call_wait_other(struct probe *p) {
  return maestro_graph_wait(p->other);
}

static int call_run_other(struct probe *p) {
  return maestro_graph_run(p->other);
}

static int call_destroy_own(struct probe *p) {
  maestro_graph_destroy(p->own);
  return MAESTRO_OK;
}

static int call_destroy_other(struct probe *p) {
  maestro_graph_destroy(p->other);
  return MAESTRO_OK;
}

static int call_runtime_destroy(struct probe *p) {
  (void)p;
  maestro_runtime_destroy(eng_rt);
  return MAESTRO_OK;
}

static int call_pop_own(struct probe *p) {
  maestro_buf_t *b = NULL;
  /* A bounded wait is allowed: nothing comes, so it times out. */
  p->rc2 = maestro_output_pop(p->out, &b, 0);
  return maestro_output_pop(p->out, &b, -1);
}

/* Runs a graph whose probe makes `call`; the graph must then finish normally. */
static void run_probe(struct probe *p) {
  maestro_graph_t *g = probe_graph(p);
  CU_ASSERT_EQUAL(maestro_graph_run(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(p->calls, 1);
  maestro_buf_t *b = NULL;
  CU_ASSERT_EQUAL(maestro_output_pop(p->out, &b, 10000), MAESTRO_ECLOSED);
  maestro_graph_destroy(g);
}

static void test_firing_wait_own(void) {
  struct probe p = {.call = call_wait_own};
  run_probe(&p);
  CU_ASSERT_EQUAL(p.rc, MAESTRO_ESTATE);
  CU_ASSERT_PTR_NOT_NULL(
      strstr(p.msg, "maestro_graph_wait called from inside a firing of agent 'probe'"));
}

/* Waiting on another graph is refused too: the worker running the firing may
 * be the one the other graph needs (one worker, or two graphs waiting on each
 * other). */
static void test_firing_wait_other(void) {
  maestro_input_t *in;
  struct probe p = {.call = call_wait_other, .other = other_graph(&in, 1)};
  run_probe(&p);
  CU_ASSERT_EQUAL(p.rc, MAESTRO_ESTATE);
  CU_ASSERT_PTR_NOT_NULL(
      strstr(p.msg, "maestro_graph_wait called from inside a firing of agent 'probe'"));
  CU_ASSERT_EQUAL(maestro_input_close(in), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_wait(p.other), MAESTRO_OK);
  maestro_graph_destroy(p.other);
}

/* maestro_graph_run is refused before it starts anything. */
static void test_firing_run_other(void) {
  maestro_input_t *in;
  struct probe p = {.call = call_run_other, .other = other_graph(&in, 0)};
  run_probe(&p);
  CU_ASSERT_EQUAL(p.rc, MAESTRO_ESTATE);
  CU_ASSERT_PTR_NOT_NULL(
      strstr(p.msg, "maestro_graph_run called from inside a firing of agent 'probe'"));
  CU_ASSERT_EQUAL(maestro_graph_start(p.other), MAESTRO_OK); /* it had not started */
  CU_ASSERT_EQUAL(maestro_input_close(in), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_wait(p.other), MAESTRO_OK);
  maestro_graph_destroy(p.other);
}

static void test_firing_destroy_own(void) {
  struct probe p = {.call = call_destroy_own};
  run_probe(&p);
  CU_ASSERT_PTR_NOT_NULL(
      strstr(p.msg, "maestro_graph_destroy called from inside a firing of agent 'probe'"));
}

static void test_firing_destroy_other(void) {
  maestro_input_t *in;
  struct probe p = {.call = call_destroy_other, .other = other_graph(&in, 1)};
  run_probe(&p);
  CU_ASSERT_PTR_NOT_NULL(
      strstr(p.msg, "maestro_graph_destroy called from inside a firing of agent 'probe'"));
  /* Left running: it still takes messages and ends. */
  CU_ASSERT_EQUAL(maestro_input_push(in, eng_msg(eng_rt, 1)), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_input_close(in), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_wait(p.other), MAESTRO_OK);
  maestro_graph_destroy(p.other);
}

static void test_firing_runtime_destroy(void) {
  struct probe p = {.call = call_runtime_destroy};
  run_probe(&p);
  CU_ASSERT_PTR_NOT_NULL(
      strstr(p.msg, "maestro_runtime_destroy called from inside a firing of agent 'probe'"));
  /* The runtime still runs graphs. */
  maestro_input_t *in;
  maestro_graph_t *o = other_graph(&in, 1);
  CU_ASSERT_EQUAL(eng_feed(eng_rt, in, 10), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_wait(o), MAESTRO_OK);
  maestro_graph_destroy(o);
}

static void test_firing_pop_own(void) {
  struct probe p = {.call = call_pop_own};
  run_probe(&p);
  CU_ASSERT_EQUAL(p.rc2, MAESTRO_ETIMEDOUT);
  CU_ASSERT_EQUAL(p.rc, MAESTRO_ESTATE);
  CU_ASSERT_PTR_NOT_NULL(
      strstr(p.msg, "maestro_output_pop called from inside a firing of agent 'probe'"));
}

/* Pushes into its own graph's input "x" of a join that cannot fire (its "y"
 * gets nothing): 64 pushes fill it, the 65th would block for ever. */
static int call_push_own(struct probe *p) {
  for (int i = 0; i < 64; i++) {
    int rc = maestro_input_push(p->in, eng_msg(eng_rt, (uint64_t)i));
    if (rc != MAESTRO_OK) return rc;
    p->rc2++;
  }
  return maestro_input_push(p->in, eng_msg(eng_rt, 64));
}

static void test_firing_push_own(void) {
  struct probe p = {.call = call_push_own};
  maestro_graph_t *g = probe_graph(&p);
  maestro_agent_t *j = NULL;
  CU_ASSERT_FATAL(
      maestro_agent_add(
          g, &(maestro_agent_desc_t){.name = "join", .in = join_in, .n_in = 2, .cpu = join_sink},
          &j) == MAESTRO_OK);
  maestro_input_t *y;
  maestro_output_t *dl;
  CU_ASSERT_FATAL(maestro_graph_input(g, j, "x", &p.in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_input(g, j, "y", &y) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_dead_letters(g, &dl) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  while (!atomic_load(&p.done))
    eng_sleep_us(100);
  CU_ASSERT_EQUAL(p.rc2, 64);
  CU_ASSERT_EQUAL(p.rc, MAESTRO_ESTATE);
  CU_ASSERT_PTR_NOT_NULL(
      strstr(p.msg, "maestro_input_push called from inside a firing of agent 'probe'"));
  /* y ends with nothing: the join stops, x's 64 messages are not taken. */
  CU_ASSERT_EQUAL(maestro_input_close(p.in), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_input_close(y), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  long letters = 0, refused = 0, not_taken = 0;
  for (;;) {
    maestro_buf_t *b = NULL;
    maestro_letter_t why;
    if (maestro_output_pop_letter(dl, &b, &why, 10000) != MAESTRO_OK) break;
    letters++;
    refused += why.status == MAESTRO_ESTATE && eng_val(b) == 64;
    not_taken += why.status == MAESTRO_ECLOSED;
    maestro_buf_release(b);
  }
  CU_ASSERT_EQUAL(letters, 65);
  CU_ASSERT_EQUAL(refused, 1);
  CU_ASSERT_EQUAL(not_taken, 64);
  maestro_graph_destroy(g);
}

/* A supervisor's restart runs on the worker too: the same refusals. */
static struct probe restart_probe;

static int restart_waits(void *state) {
  (void)state;
  restart_probe.rc = maestro_graph_wait(restart_probe.own);
  snprintf(restart_probe.msg, sizeof restart_probe.msg, "%s", maestro_last_error());
  restart_probe.calls++;
  return 0;
}

static int fail_first(maestro_fire_t *f) {
  int *fired = maestro_fire_state(f);
  return (*fired)++ == 0 ? MAESTRO_EINVAL : MAESTRO_OK;
}

static void test_restart_wait_own(void) {
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "restart", &g) == MAESTRO_OK);
  int fired = 0;
  maestro_agent_t *a = NULL;
  CU_ASSERT_FATAL(
      maestro_agent_add(g,
                        &(maestro_agent_desc_t){.name = "retried",
                                                .in = eng_u64_in,
                                                .n_in = 1,
                                                .cpu = fail_first,
                                                .state = &fired,
                                                .supervisor = {.on_fail = MAESTRO_FAIL_RETRY,
                                                               .max_retries = 1,
                                                               .restart = restart_waits}},
                        &a) == MAESTRO_OK);
  maestro_input_t *in;
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &in) == MAESTRO_OK);
  restart_probe.own = g;
  restart_probe.calls = 0;
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  CU_ASSERT_EQUAL(eng_feed(eng_rt, in, 3), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(fired, 4);
  CU_ASSERT_EQUAL(restart_probe.calls, 1);
  CU_ASSERT_EQUAL(restart_probe.rc, MAESTRO_ESTATE);
  CU_ASSERT_PTR_NOT_NULL(strstr(
      restart_probe.msg, "maestro_graph_wait called from inside a firing of agent 'retried'"));
  maestro_graph_destroy(g);
}

/* ---- cycles that can never end ---- */

static void check_start_refused(maestro_graph_t *g, const char *cycle, const char *not_named) {
  CU_ASSERT_EQUAL(maestro_graph_start(g), MAESTRO_EGRAPH);
  CU_ASSERT_PTR_NOT_NULL(strstr(maestro_last_error(), cycle));
  CU_ASSERT_PTR_NOT_NULL(strstr(maestro_last_error(), "can never end"));
  if (not_named) CU_ASSERT_PTR_NULL(strstr(maestro_last_error(), not_named));
  if (strstr(maestro_last_error(), cycle) == NULL) printf("\n  got: %s\n", maestro_last_error());
}

/* a -> b -> a with nothing entering: no agent ever fires, none ends. */
static void test_cycle_closed(void) {
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "closed", &g) == MAESTRO_OK);
  maestro_agent_t *a = eng_add(g, "a", eng_pass, NULL), *b = eng_add(g, "b", eng_pass, NULL);
  CU_ASSERT_EQUAL(maestro_connect(g, a, "out", b, "in", 0), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, b, "out", a, "in", 0), MAESTRO_OK);
  check_start_refused(g, "the cycle 'b' -> 'a' -> 'b' can never end", NULL);
  maestro_graph_destroy(g);
}

/* An agent fed only by itself. */
static void test_cycle_self(void) {
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "self", &g) == MAESTRO_OK);
  maestro_agent_t *s = eng_add(g, "s", eng_pass, NULL);
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", s, "in", 0), MAESTRO_OK);
  check_start_refused(g, "the cycle 's' -> 's' can never end", NULL);
  maestro_graph_destroy(g);
}

/* Agent "c", fed by the cycle a <-> b, can never end either; the message
 * names the cycle, the cause, and not "c". */
static void test_cycle_downstream_named(void) {
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "down", &g) == MAESTRO_OK);
  maestro_agent_t *c = eng_add(g, "c", eng_sink, NULL);
  maestro_agent_t *a = eng_add(g, "a", eng_pass, NULL), *b = eng_add(g, "b", eng_pass, NULL);
  CU_ASSERT_EQUAL(maestro_connect(g, a, "out", b, "in", 0), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, b, "out", a, "in", 0), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, a, "out", c, "in", 0), MAESTRO_OK);
  check_start_refused(g, "the cycle 'b' -> 'a' -> 'b' can never end", "'c'");
  maestro_graph_destroy(g);
}

/* A join "j" whose port "x" is a host input and whose port "y" comes round
 * the cycle j -> k -> j: it never fires (y waits for j itself), but x ends
 * when the host closes it, so j stops, closes its output and k, then j,
 * finish: accepted, and it finishes. */
static void test_cycle_ended_from_outside(void) {
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "ends", &g) == MAESTRO_OK);
  maestro_agent_t *j = NULL;
  CU_ASSERT_FATAL(maestro_agent_add(g,
                                    &(maestro_agent_desc_t){.name = "j",
                                                            .in = join_in,
                                                            .n_in = 2,
                                                            .out = eng_u64_out,
                                                            .n_out = 1,
                                                            .cpu = join_sink},
                                    &j) == MAESTRO_OK);
  maestro_agent_t *k = eng_add(g, "k", eng_pass, NULL);
  CU_ASSERT_EQUAL(maestro_connect(g, j, "out", k, "in", 0), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, k, "out", j, "y", 0), MAESTRO_OK);
  maestro_input_t *x;
  CU_ASSERT_FATAL(maestro_graph_input(g, j, "x", &x) == MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_start(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_input_close(x), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_graph_destroy(g);
}

/* A cycle fed by a source through a fan-in port: accepted (an agent on it
 * may return MAESTRO_DONE; here "turn" does after 3 turns of the message). */
static int turn_fire(maestro_fire_t *f) {
  uint64_t v = eng_val(maestro_fire_in(f, 0));
  if (v >= 3) return MAESTRO_DONE;
  maestro_buf_t *out;
  int rc = maestro_fire_alloc(f, sizeof v, &out);
  if (rc != MAESTRO_OK) return rc;
  v++;
  memcpy(maestro_buf_data(out), &v, sizeof v);
  return maestro_fire_out(f, 0, out);
}

static void test_cycle_fed_by_source(void) {
  static uint64_t one = 1;
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "fed", &g) == MAESTRO_OK);
  maestro_agent_t *src = eng_add_source(g, "src", eng_count_source, &one);
  maestro_agent_t *t = eng_add(g, "turn", turn_fire, NULL), *b = eng_add(g, "back", eng_pass, NULL);
  CU_ASSERT_EQUAL(maestro_connect(g, src, "out", t, "in", 0), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, t, "out", b, "in", 0), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, b, "out", t, "in", 0), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_run(g), MAESTRO_OK);
  maestro_graph_destroy(g);
}

/* ---- statuses no firing may return ---- */

static int return_seven(maestro_fire_t *f) {
  (void)f;
  return 7;
}

static int source_two(maestro_fire_t *f) {
  (void)f;
  return 2;
}

/* Odd values: 5, which the SKIP supervisor treats as any failure. */
static int odd_five(maestro_fire_t *f) {
  if (eng_val(maestro_fire_in(f, 0)) % 2) return 5;
  return eng_pass(f);
}

static void test_positive_status_stops(void) {
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "seven", &g) == MAESTRO_OK);
  maestro_agent_t *a = eng_add(g, "seven", return_seven, NULL);
  maestro_input_t *in;
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  int rc = eng_feed(eng_rt, in, 1);
  CU_ASSERT(rc == MAESTRO_OK || rc == MAESTRO_ECLOSED);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_EAGENT);
  CU_ASSERT(eng_err_names("agent 'seven': its CPU function returned 7"));
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(a, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.failures, 1);
  maestro_graph_destroy(g);
}

static void test_positive_status_source(void) {
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "two", &g) == MAESTRO_OK);
  maestro_agent_t *s = eng_add_source(g, "two", source_two, NULL);
  maestro_agent_t *k = eng_add(g, "k", eng_sink, NULL);
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", k, "in", 0), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_run(g), MAESTRO_EAGENT);
  CU_ASSERT(eng_err_names("agent 'two': its CPU function returned 2"));
  maestro_graph_destroy(g);
}

/* Through the supervisor: SKIP sends the odd inputs to the dead letters with
 * the message; RETRY retries first. Stateless too (the windowed runner). */
static void positive_status_skip(unsigned flags) {
  enum { N = 20 };
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "five", &g) == MAESTRO_OK);
  maestro_agent_t *a = NULL;
  CU_ASSERT_FATAL(
      maestro_agent_add(g,
                        &(maestro_agent_desc_t){.name = "five",
                                                .in = eng_u64_in,
                                                .n_in = 1,
                                                .out = eng_u64_out,
                                                .n_out = 1,
                                                .cpu = odd_five,
                                                .flags = flags,
                                                .supervisor = {.on_fail = MAESTRO_FAIL_SKIP}},
                        &a) == MAESTRO_OK);
  maestro_input_t *in;
  maestro_output_t *out, *dl;
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_dead_letters(g, &dl) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  CU_ASSERT_EQUAL(eng_feed(eng_rt, in, N), MAESTRO_OK);
  uint64_t vals[N];
  CU_ASSERT_EQUAL(eng_drain(out, vals, N), N / 2);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  long letters = 0, named = 0, odd = 0;
  for (;;) {
    maestro_buf_t *b = NULL;
    maestro_letter_t why;
    if (maestro_output_pop_letter(dl, &b, &why, 10000) != MAESTRO_OK) break;
    letters++;
    odd += eng_val(b) % 2 == 1 && why.status == MAESTRO_EAGENT;
    named += why.reason && strstr(why.reason, "agent 'five': its CPU function returned 5");
    maestro_buf_release(b);
  }
  CU_ASSERT_EQUAL(letters, N / 2);
  CU_ASSERT_EQUAL(odd, N / 2);
  CU_ASSERT_EQUAL(named, N / 2);
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(a, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.failures, N / 2);
  maestro_graph_destroy(g);
}

static void test_positive_status_skip(void) {
  positive_status_skip(0);
}

static void test_positive_status_skip_stateless(void) {
  positive_status_skip(MAESTRO_STATELESS);
}

/* ---- registration ---- */

void register_suites(void) {
  static const test_entry_t all[] = {
      {"destroy while waiting", test_destroy_while_waiting},
      {"firing: wait on own graph", test_firing_wait_own},
      {"firing: wait on another graph", test_firing_wait_other},
      {"firing: run another graph", test_firing_run_other},
      {"firing: destroy own graph", test_firing_destroy_own},
      {"firing: destroy another started graph", test_firing_destroy_other},
      {"firing: destroy the runtime", test_firing_runtime_destroy},
      {"firing: pop own output for ever", test_firing_pop_own},
      {"firing: push into own full input", test_firing_push_own},
      {"restart: wait on own graph", test_restart_wait_own},
      {"cycle with nothing entering", test_cycle_closed},
      {"agent fed by itself", test_cycle_self},
      {"cycle upstream of an agent", test_cycle_downstream_named},
      {"cycle ended from outside", test_cycle_ended_from_outside},
      {"cycle fed by a source", test_cycle_fed_by_source},
      {"positive status stops the graph", test_positive_status_stops},
      {"positive status from a source", test_positive_status_source},
      {"positive status skipped", test_positive_status_skip},
      {"positive status skipped, stateless", test_positive_status_skip_stateless},
  };
  const char *only = getenv("ENGINE_GUARD_TEST");
  CU_pSuite s = test_suite("engine_guard", eng_suite_init, eng_suite_fini, NULL, 0);
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    if (!only || strcmp(only, all[i].name) == 0) CU_add_test(s, all[i].name, all[i].fn);
}
