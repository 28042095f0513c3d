/* How messages flow: ordering, end-of-stream through diamonds and fan-in,
 * fan-out sharing one buffer, copy-on-write, sources, cycles, several graphs
 * on one runtime. */
#include <pthread.h>
#include <stdlib.h>

#include "engine_util.h"

enum { N_ORDER = 20000 };

/* host -> inc -> inc -> inc -> host: every value arrives, +3, in order. */
static void test_chain_order(void) {
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "chain", &g) == MAESTRO_OK);
  maestro_agent_t *a = eng_add(g, "a", eng_inc, NULL);
  maestro_agent_t *b = eng_add(g, "b", eng_inc, NULL);
  maestro_agent_t *c = eng_add(g, "c", eng_inc, NULL);
  CU_ASSERT_EQUAL(maestro_connect(g, a, "out", b, "in", 4), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, b, "out", c, "in", 0), MAESTRO_OK);
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, c, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);

  /* A feeder thread pushes while this thread drains: small capacities
   * cannot block either side. */
  struct eng_feeder fd;
  eng_feeder_start(&fd, eng_rt, in, N_ORDER, 0);
  uint64_t *vals = calloc(N_ORDER, sizeof *vals);
  long n = eng_drain(out, vals, N_ORDER);
  CU_ASSERT_EQUAL(eng_feeder_join(&fd), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_input_close(in), MAESTRO_OK); /* idempotent */
  CU_ASSERT_EQUAL(n, N_ORDER);
  long bad = 0;
  for (long i = 0; i < n && i < N_ORDER; i++)
    bad += vals[i] != (uint64_t)i + 3;
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  /* After the end, pops keep saying ECLOSED. */
  maestro_buf_t *r = NULL;
  CU_ASSERT_EQUAL(maestro_output_pop(out, &r, 0), MAESTRO_ECLOSED);
  free(vals);
  maestro_graph_destroy(g);
}

/* A source returning MAESTRO_DONE ends its stream: the sink sees all of it in
 * order, then ECLOSED, and the graph finishes by itself. */
static void test_source_done(void) {
  static uint64_t n = 5000;
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "source", &g) == MAESTRO_OK);
  maestro_agent_t *s = eng_add_source(g, "numbers", eng_count_source, &n);
  maestro_agent_t *p = eng_add(g, "pass", eng_pass, NULL);
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", p, "in", 2), MAESTRO_OK);
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_output(g, p, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  uint64_t *vals = calloc(n, sizeof *vals);
  CU_ASSERT_EQUAL(eng_drain(out, vals, (long)n), (long)n);
  long bad = 0;
  for (uint64_t i = 0; i < n; i++)
    bad += vals[i] != i;
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  free(vals);
  maestro_graph_destroy(g);
}

/* A source that is done at once: end-of-stream alone reaches the host. */
static void test_empty_source(void) {
  static uint64_t zero = 0;
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "empty", &g) == MAESTRO_OK);
  maestro_agent_t *s = eng_add_source(g, "nothing", eng_count_source, &zero);
  maestro_agent_t *p = eng_add(g, "pass", eng_pass, NULL);
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", p, "in", 0), MAESTRO_OK);
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_output(g, p, "out", &out) == MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_run(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(eng_drain(out, NULL, 0), 0);
  maestro_graph_destroy(g);
}

/* Adds 1 << 40: tells the two branches of a diamond apart. */
static int tag(maestro_fire_t *f) {
  maestro_buf_t *out;
  int rc = maestro_fire_alloc(f, sizeof(uint64_t), &out);
  if (rc != MAESTRO_OK) return rc;
  uint64_t v = eng_val(maestro_fire_in(f, 0)) + (1ull << 40);
  memcpy(maestro_buf_data(out), &v, sizeof v);
  return maestro_fire_out(f, 0, out);
}

/* Diamond with fan-in: s -> {l, r} -> j, where j's single input port merges
 * both channels. j sees every message once per branch and ends only after
 * both branches ended. */
static void test_diamond_merge(void) {
  static uint64_t n = 3000;
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "diamond", &g) == MAESTRO_OK);
  maestro_agent_t *s = eng_add_source(g, "s", eng_count_source, &n);
  maestro_agent_t *l = eng_add(g, "l", eng_pass, NULL);
  maestro_agent_t *r = eng_add(g, "r", tag, NULL);
  maestro_agent_t *j = eng_add(g, "j", eng_pass, NULL);
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", l, "in", 3), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", r, "in", 1), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, l, "out", j, "in", 2), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, r, "out", j, "in", 5), MAESTRO_OK);
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_output(g, j, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  uint64_t *vals = calloc(2 * n, sizeof *vals);
  CU_ASSERT_EQUAL(eng_drain(out, vals, (long)(2 * n)), (long)(2 * n));
  /* Each value arrives once per branch, and each branch keeps its order
   * through the merge. */
  uint64_t next_l = 0, next_r = 0;
  long bad = 0;
  for (uint64_t i = 0; i < 2 * n; i++) {
    if (vals[i] >> 40)
      bad += (vals[i] & ((1ull << 40) - 1)) != next_r++;
    else
      bad += vals[i] != next_l++;
  }
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL(next_l, n);
  CU_ASSERT_EQUAL(next_r, n);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  free(vals);
  maestro_graph_destroy(g);
}

/* A join with two input ports fires on one message of each, pairwise in
 * order (the dataflow firing rule), and ends when both inputs ended. */
static int join_sum(maestro_fire_t *f) {
  uint64_t a = eng_val(maestro_fire_in(f, 0)), b = eng_val(maestro_fire_in(f, 1));
  maestro_buf_t *out;
  int rc = maestro_fire_alloc(f, sizeof(uint64_t), &out);
  if (rc != MAESTRO_OK) return rc;
  uint64_t v = a * 1000000 + b;
  memcpy(maestro_buf_data(out), &v, sizeof v);
  return maestro_fire_out(f, 0, out);
}

static void test_diamond_join(void) {
  static uint64_t n = 2000;
  static const maestro_port_t two_in[] = {{"x", MAESTRO_I64, 0}, {"y", MAESTRO_I64, 0}};
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "join", &g) == MAESTRO_OK);
  maestro_agent_t *s = eng_add_source(g, "s", eng_count_source, &n);
  maestro_agent_t *l = eng_add(g, "l", eng_pass, NULL);
  maestro_agent_t *r = eng_add(g, "r", eng_inc, NULL);
  maestro_agent_t *j = NULL;
  CU_ASSERT_EQUAL(maestro_agent_add(g,
                                    &(maestro_agent_desc_t){.name = "j",
                                                            .in = two_in,
                                                            .n_in = 2,
                                                            .out = eng_u64_out,
                                                            .n_out = 1,
                                                            .cpu = join_sum},
                                    &j),
                  MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", l, "in", 1), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", r, "in", 7), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, l, "out", j, "x", 2), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect_ports(g, r, 0, j, 1, 3), MAESTRO_OK);
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_output(g, j, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  uint64_t *vals = calloc(n, sizeof *vals);
  CU_ASSERT_EQUAL(eng_drain(out, vals, (long)n), (long)n);
  long bad = 0;
  for (uint64_t i = 0; i < n; i++)
    bad += vals[i] != i * 1000000 + i + 1;
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  free(vals);
  maestro_graph_destroy(g);
}

/* Fan-out: every consumer gets the very same buffer. Each consumer keeps a
 * reference to what it saw; afterwards the pointers match and the only
 * references left are the two we kept (and the host's popped one). */
enum { N_FAN = 300 };
struct keeper {
  maestro_buf_t *seen[N_FAN];
};

static int keep_and_pass(maestro_fire_t *f) {
  struct keeper *k = maestro_fire_state(f);
  maestro_buf_t *in = maestro_fire_in(f, 0);
  uint64_t seq = maestro_fire_seq(f);
  if (seq < N_FAN) k->seen[seq] = maestro_buf_retain(in);
  return MAESTRO_OK;
}

static void test_fanout_shares(void) {
#ifdef ENG_FAKE_DEVICE
  /* A consumer on a device place reads its own replica, not the producer's
   * buffer: identity holds between CPU places only (the fake variant pins
   * nothing, so it does not apply there). */
  return;
#endif
  static uint64_t n = N_FAN;
  static struct keeper kb, kc;
  memset(&kb, 0, sizeof kb);
  memset(&kc, 0, sizeof kc);
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "fanout", &g) == MAESTRO_OK);
  maestro_agent_t *s = eng_add_source(g, "s", eng_count_source, &n);
  maestro_agent_t *b = NULL, *c = NULL;
  CU_ASSERT_EQUAL(
      maestro_agent_add(
          g,
          &(maestro_agent_desc_t){
              .name = "b", .in = eng_u64_in, .n_in = 1, .cpu = keep_and_pass, .state = &kb},
          &b),
      MAESTRO_OK);
  CU_ASSERT_EQUAL(
      maestro_agent_add(
          g,
          &(maestro_agent_desc_t){
              .name = "c", .in = eng_u64_in, .n_in = 1, .cpu = keep_and_pass, .state = &kc},
          &c),
      MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", b, "in", 2), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", c, "in", 9), MAESTRO_OK);
  maestro_output_t *host;
  CU_ASSERT_FATAL(maestro_graph_output(g, s, "out", &host) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  maestro_buf_t *popped[N_FAN] = {0};
  long n_pop = 0;
  maestro_buf_t *r;
  int rc;
  while ((rc = maestro_output_pop(host, &r, 10000)) == MAESTRO_OK) {
    if (n_pop < N_FAN)
      popped[n_pop] = r;
    else
      maestro_buf_release(r);
    n_pop++;
  }
  CU_ASSERT_EQUAL(rc, MAESTRO_ECLOSED);
  CU_ASSERT_EQUAL(n_pop, N_FAN);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  long diff = 0, refs_bad = 0, vals_bad = 0;
  for (int i = 0; i < N_FAN; i++) {
    if (!kb.seen[i] || kb.seen[i] != kc.seen[i] || kb.seen[i] != popped[i]) {
      diff++;
      continue;
    }
    refs_bad += maestro_buf_refs(kb.seen[i]) != 3;
    vals_bad += eng_val(kb.seen[i]) != (uint64_t)i;
  }
  CU_ASSERT_EQUAL(diff, 0);
  CU_ASSERT_EQUAL(refs_bad, 0);
  CU_ASSERT_EQUAL(vals_bad, 0);
  for (int i = 0; i < N_FAN; i++) {
    maestro_buf_release(kb.seen[i]);
    maestro_buf_release(kc.seen[i]);
    maestro_buf_release(popped[i]);
  }
  maestro_graph_destroy(g);
}

/* Copy-on-write, outside a graph. */
static void test_cow_host(void) {
  uint64_t v = 42;
  maestro_buf_t *a;
  CU_ASSERT_FATAL(maestro_buf_from(eng_rt, &v, sizeof v, &a) == MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_buf_refs(a), 1);
  maestro_buf_t *p = a;
  CU_ASSERT_EQUAL(maestro_buf_writable(&p), MAESTRO_OK);
  CU_ASSERT_PTR_EQUAL(p, a); /* held alone: nothing copied */
  CU_ASSERT_PTR_NOT_NULL(maestro_buf_data(a));

  maestro_buf_t *shared = maestro_buf_retain(a);
  CU_ASSERT_PTR_EQUAL(shared, a);
  CU_ASSERT_EQUAL(maestro_buf_refs(a), 2);
  CU_ASSERT_PTR_NULL(maestro_buf_data(a)); /* shared: not writable */
  maestro_buf_t *mine = shared;
  CU_ASSERT_EQUAL(maestro_buf_writable(&mine), MAESTRO_OK);
  CU_ASSERT_PTR_NOT_EQUAL(mine, a); /* shared: a private copy */
  CU_ASSERT_EQUAL(maestro_buf_refs(a), 1);
  CU_ASSERT_EQUAL(maestro_buf_refs(mine), 1);
  CU_ASSERT_EQUAL(maestro_buf_size(mine), sizeof v);
  CU_ASSERT_EQUAL(eng_val(mine), 42);
  uint64_t *w = maestro_buf_data(mine);
  CU_ASSERT_PTR_NOT_NULL_FATAL(w);
  *w = 7;
  CU_ASSERT_EQUAL(eng_val(a), 42);
  CU_ASSERT_EQUAL(eng_val(mine), 7);
  maestro_buf_release(mine);
  maestro_buf_release(a);

  maestro_buf_t *z;
  CU_ASSERT_EQUAL(maestro_buf_create(eng_rt, 0, &z), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_buf_size(z), 0);
  maestro_buf_release(z);
  maestro_buf_release(NULL);
  CU_ASSERT_EQUAL(maestro_buf_writable(NULL), MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(maestro_buf_create(NULL, 8, &z), MAESTRO_EINVAL);
}

/* Copy-on-write inside a graph: one fan-out branch writes to the message it
 * was given and gets a copy; the other branch still sees the original. */
static int cow_writer(maestro_fire_t *f) {
  maestro_buf_t *b = maestro_buf_retain(maestro_fire_in(f, 0));
  int rc = maestro_buf_writable(&b);
  if (rc != MAESTRO_OK) return rc;
  uint64_t *p = maestro_buf_data(b);
  if (!p) {
    maestro_buf_release(b);
    return MAESTRO_EINVAL;
  }
  *p += 1000;
  return maestro_fire_out(f, 0, b);
}

static void test_cow_graph(void) {
  static uint64_t n = 500;
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "cow", &g) == MAESTRO_OK);
  maestro_agent_t *s = eng_add_source(g, "s", eng_count_source, &n);
  maestro_agent_t *w = eng_add(g, "writer", cow_writer, NULL);
  maestro_agent_t *r = eng_add(g, "reader", eng_pass, NULL);
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", w, "in", 4), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", r, "in", 4), MAESTRO_OK);
  maestro_output_t *ow, * or ;
  CU_ASSERT_FATAL(maestro_graph_output(g, w, "out", &ow) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, r, "out", & or) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  /* Drain both alternately so that neither branch stalls the other. */
  uint64_t nw = 0, nr = 0;
  long bad = 0;
  int open_w = 1, open_r = 1, spins = 0;
  while ((open_w || open_r) && spins < 100000) {
    maestro_buf_t *b;
    int rc;
    if (open_w) {
      rc = maestro_output_pop(ow, &b, 1);
      if (rc == MAESTRO_OK) {
        bad += eng_val(b) != nw++ + 1000;
        maestro_buf_release(b);
      } else if (rc == MAESTRO_ECLOSED)
        open_w = 0;
    }
    if (open_r) {
      rc = maestro_output_pop(or, &b, 1);
      if (rc == MAESTRO_OK) {
        bad += eng_val(b) != nr++;
        maestro_buf_release(b);
      } else if (rc == MAESTRO_ECLOSED)
        open_r = 0;
    }
    spins++;
  }
  CU_ASSERT_EQUAL(nw, n);
  CU_ASSERT_EQUAL(nr, n);
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_graph_destroy(g);
}

/* Several graphs running at once on one runtime keep their streams apart. */
struct graph_run {
  maestro_graph_t *g;
  maestro_input_t *in;
  maestro_output_t *out;
  uint64_t n, offset;
  long bad, got;
};

static void *drive_graph(void *arg) {
  struct graph_run *r = arg;
  struct eng_feeder fd;
  eng_feeder_start(&fd, eng_rt, r->in, r->n, r->offset);
  maestro_buf_t *b;
  while (maestro_output_pop(r->out, &b, 10000) == MAESTRO_OK) {
    r->bad += eng_val(b) != r->offset + (uint64_t)r->got + 1;
    r->got++;
    maestro_buf_release(b);
  }
  r->bad += eng_feeder_join(&fd) != MAESTRO_OK;
  return NULL;
}

static void test_several_graphs(void) {
  enum { NG = 3 };
  struct graph_run runs[NG];
  pthread_t th[NG];
  for (int k = 0; k < NG; k++) {
    struct graph_run *r = &runs[k];
    memset(r, 0, sizeof *r);
    r->n = 3000;
    r->offset = (uint64_t)k << 32;
    char name[16];
    snprintf(name, sizeof name, "g%d", k);
    CU_ASSERT_FATAL(maestro_graph_create(eng_rt, name, &r->g) == MAESTRO_OK);
    CU_ASSERT_STRING_EQUAL(maestro_graph_name(r->g), name);
    /* Same agent names in every graph: names are per graph. */
    maestro_agent_t *a = eng_add(r->g, "inc", eng_inc, NULL);
    maestro_agent_t *p = eng_add(r->g, "pass", eng_pass, NULL);
    CU_ASSERT_EQUAL(maestro_connect(r->g, a, "out", p, "in", 2), MAESTRO_OK);
    CU_ASSERT_FATAL(maestro_graph_input(r->g, a, "in", &r->in) == MAESTRO_OK);
    CU_ASSERT_FATAL(maestro_graph_output(r->g, p, "out", &r->out) == MAESTRO_OK);
    CU_ASSERT_FATAL(maestro_graph_start(r->g) == MAESTRO_OK);
  }
  for (int k = 0; k < NG; k++)
    pthread_create(&th[k], NULL, drive_graph, &runs[k]);
  for (int k = 0; k < NG; k++)
    pthread_join(th[k], NULL);
  for (int k = 0; k < NG; k++) {
    CU_ASSERT_EQUAL(runs[k].got, (long)runs[k].n);
    CU_ASSERT_EQUAL(runs[k].bad, 0);
    CU_ASSERT_EQUAL(maestro_graph_wait(runs[k].g), MAESTRO_OK);
    maestro_graph_destroy(runs[k].g);
  }
}

/* A cycle with capacity: a message loops through "step" and "back" until its
 * counter reaches zero, then leaves on "done". End-of-stream cannot flow
 * around a cycle, so the host collects the expected results and destroys
 * the still-running graph. */
static const maestro_port_t loop_out[] = {{"again", MAESTRO_I64, 0}, {"done", MAESTRO_I64, 0}};

static int loop_step(maestro_fire_t *f) {
  uint64_t v = eng_val(maestro_fire_in(f, 0));
  /* v = id << 8 | remaining turns */
  maestro_buf_t *out;
  int rc = maestro_fire_alloc(f, sizeof v, &out);
  if (rc != MAESTRO_OK) return rc;
  int port = (v & 0xff) == 0 ? 1 : 0;
  if (port == 0) v -= 1;
  memcpy(maestro_buf_data(out), &v, sizeof v);
  return maestro_fire_out(f, port, out);
}

static void test_cycle(void) {
  /* At most N messages are ever inside the cycle and each channel on it
   * holds more than N: it can never fill up and deadlock. */
  enum { N = 40, TURNS = 5, CAP = 64 };
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "cycle", &g) == MAESTRO_OK);
  maestro_agent_t *step = NULL;
  CU_ASSERT_EQUAL(maestro_agent_add(g,
                                    &(maestro_agent_desc_t){.name = "step",
                                                            .in = eng_u64_in,
                                                            .n_in = 1,
                                                            .out = loop_out,
                                                            .n_out = 2,
                                                            .cpu = loop_step},
                                    &step),
                  MAESTRO_OK);
  maestro_agent_t *back = eng_add(g, "back", eng_pass, NULL);
  CU_ASSERT_EQUAL(maestro_connect(g, step, "again", back, "in", CAP), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, back, "out", step, "in", CAP), MAESTRO_OK);
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_input(g, step, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, step, "done", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  int seen[N] = {0};
  long got = 0, bad = 0;
  for (uint64_t i = 0; i < N; i++)
    CU_ASSERT_EQUAL(maestro_input_push(in, eng_msg(eng_rt, i << 8 | TURNS)), MAESTRO_OK);
  while (got < N) {
    maestro_buf_t *b;
    if (maestro_output_pop(out, &b, 10000) != MAESTRO_OK) break;
    uint64_t v = eng_val(b);
    if ((v & 0xff) != 0 || (v >> 8) >= N)
      bad++;
    else
      seen[v >> 8]++;
    got++;
    maestro_buf_release(b);
  }
  CU_ASSERT_EQUAL(got, N);
  CU_ASSERT_EQUAL(bad, 0);
  long missing = 0;
  for (int i = 0; i < N; i++)
    missing += seen[i] != 1;
  CU_ASSERT_EQUAL(missing, 0);
  maestro_graph_destroy(g); /* still running: cancelled */
}

/* A join whose inputs end unevenly fires as long as both have a message;
 * what is left on the longer input becomes "not taken" dead letters (nothing
 * is lost silently), and the graph still ends OK. */
static void test_join_uneven_ends(void) {
  static const maestro_port_t two_in[] = {{"x", MAESTRO_I64, 0}, {"y", MAESTRO_I64, 0}};
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "uneven", &g) == MAESTRO_OK);
  maestro_agent_t *j = NULL;
  CU_ASSERT_EQUAL(maestro_agent_add(g,
                                    &(maestro_agent_desc_t){.name = "zip",
                                                            .in = two_in,
                                                            .n_in = 2,
                                                            .out = eng_u64_out,
                                                            .n_out = 1,
                                                            .cpu = join_sum},
                                    &j),
                  MAESTRO_OK);
  maestro_input_t *x, *y;
  maestro_output_t *out, *dl;
  CU_ASSERT_FATAL(maestro_graph_input(g, j, "x", &x) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_input(g, j, "y", &y) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, j, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_dead_letters(g, &dl) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  CU_ASSERT_EQUAL(eng_feed(eng_rt, x, 8), MAESTRO_OK);
  CU_ASSERT_EQUAL(eng_feed(eng_rt, y, 5), MAESTRO_OK);
  uint64_t vals[8] = {0};
  CU_ASSERT_EQUAL(eng_drain(out, vals, 8), 5);
  for (uint64_t i = 0; i < 5; i++)
    CU_ASSERT_EQUAL(vals[i], i * 1000000 + i);
  long letters = 0;
  for (;;) {
    maestro_buf_t *b;
    maestro_letter_t why = {0};
    int rc = maestro_output_pop_letter(dl, &b, &why, 10000);
    if (rc != MAESTRO_OK) {
      CU_ASSERT_EQUAL(rc, MAESTRO_ECLOSED);
      break;
    }
    CU_ASSERT_EQUAL(why.status, MAESTRO_ECLOSED);
    CU_ASSERT_STRING_EQUAL(why.agent, "zip");
    CU_ASSERT_STRING_EQUAL(why.port, "x");
    CU_ASSERT_EQUAL(eng_val(b), 5 + (uint64_t)letters);
    CU_ASSERT_EQUAL(why.seq, 5 + (uint64_t)letters);
    letters++;
    maestro_buf_release(b);
  }
  CU_ASSERT_EQUAL(letters, 3);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_graph_destroy(g);
}

/* Messages of every size class, from empty to 3 MiB, each filled with a
 * pattern: the sink keeps a reference to every one, so a pool that reused a
 * buffer still held would show as a changed pattern at the end. */
static int pattern_source(maestro_fire_t *f) {
  const size_t *sizes = maestro_fire_state(f);
  uint64_t seq = maestro_fire_seq(f);
  if (sizes[seq] == (size_t)-1) return MAESTRO_DONE;
  maestro_buf_t *b;
  int rc = maestro_fire_alloc(f, sizes[seq], &b);
  if (rc != MAESTRO_OK) return rc;
  if (maestro_buf_size(b) != sizes[seq]) {
    maestro_buf_release(b);
    return MAESTRO_EINVAL;
  }
  unsigned char *p = maestro_buf_data(b);
  for (size_t i = 0; i < sizes[seq]; i++)
    p[i] = (unsigned char)(seq * 31 + i);
  return maestro_fire_out(f, 0, b);
}

enum { N_SIZES = 64 };
struct hoard {
  maestro_buf_t *kept[N_SIZES];
  int n;
};

static int hoard_sink(maestro_fire_t *f) {
  struct hoard *h = maestro_fire_state(f);
  if (h->n < N_SIZES) h->kept[h->n++] = maestro_buf_retain(maestro_fire_in(f, 0));
  return MAESTRO_OK;
}

static void test_sizes_and_reuse(void) {
  static const maestro_port_t bytes_out[] = {{"out", MAESTRO_BYTES, 0}};
  static const maestro_port_t bytes_in[] = {{"in", MAESTRO_BYTES, 0}};
  static size_t sizes[N_SIZES + 1];
  static struct hoard h;
  memset(&h, 0, sizeof h);
  for (int i = 0; i < N_SIZES; i++) {
    size_t base = (size_t)1 << (i % 22); /* 1 B .. 2 MiB, around every power of two */
    sizes[i] = i == 0 ? 0 : base + (size_t)(i % 3) - 1;
  }
  sizes[N_SIZES - 1] = 3u << 20;
  sizes[N_SIZES] = (size_t)-1;
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "sizes", &g) == MAESTRO_OK);
  maestro_agent_t *s = NULL, *p = NULL, *k = NULL;
  CU_ASSERT_EQUAL(
      maestro_agent_add(
          g,
          &(maestro_agent_desc_t){
              .name = "src", .out = bytes_out, .n_out = 1, .cpu = pattern_source, .state = sizes},
          &s),
      MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_agent_add(g,
                                    &(maestro_agent_desc_t){.name = "pass",
                                                            .in = bytes_in,
                                                            .n_in = 1,
                                                            .out = bytes_out,
                                                            .n_out = 1,
                                                            .cpu = eng_pass},
                                    &p),
                  MAESTRO_OK);
  CU_ASSERT_EQUAL(
      maestro_agent_add(
          g,
          &(maestro_agent_desc_t){
              .name = "hoard", .in = bytes_in, .n_in = 1, .cpu = hoard_sink, .state = &h},
          &k),
      MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", p, "in", 2), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, p, "out", k, "in", 2), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_run(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(h.n, N_SIZES);
  long bad = 0;
  for (int i = 0; i < h.n; i++) {
    CU_ASSERT_EQUAL(maestro_buf_size(h.kept[i]), sizes[i]);
    const unsigned char *q = maestro_buf_cdata(h.kept[i]);
    if (sizes[i] && !q) bad++;
    for (size_t j = 0; q && j < sizes[i]; j++)
      bad += q[j] != (unsigned char)((uint64_t)i * 31 + j);
    CU_ASSERT_EQUAL(maestro_buf_refs(h.kept[i]), 1);
    maestro_buf_release(h.kept[i]);
  }
  CU_ASSERT_EQUAL(bad, 0);
  maestro_graph_destroy(g);
}

/* A long chain: 150 agents, every message through all of them. */
static void test_long_chain(void) {
  enum { LEN = 150, N = 500 };
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "long", &g) == MAESTRO_OK);
  maestro_agent_t *first = NULL, *prev = NULL;
  for (int i = 0; i < LEN; i++) {
    char name[16];
    snprintf(name, sizeof name, "a%d", i);
    maestro_agent_t *a = eng_add(g, name, eng_inc, NULL);
    if (prev) CU_ASSERT_EQUAL(maestro_connect(g, prev, "out", a, "in", 1 + i % 4), MAESTRO_OK);
    if (!first) first = a;
    prev = a;
  }
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_input(g, first, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, prev, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  struct eng_feeder fd;
  eng_feeder_start(&fd, eng_rt, in, N, 0);
  uint64_t vals[N] = {0};
  CU_ASSERT_EQUAL(eng_drain(out, vals, N), N);
  CU_ASSERT_EQUAL(eng_feeder_join(&fd), MAESTRO_OK);
  long bad = 0;
  for (int i = 0; i < N; i++)
    bad += vals[i] != (uint64_t)i + LEN;
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_graph_destroy(g);
}

/* Polling: pop with a 0 ms timeout says ETIMEDOUT while nothing is there. */
static void test_poll(void) {
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "poll", &g) == MAESTRO_OK);
  maestro_agent_t *a = eng_add(g, "a", eng_inc, NULL);
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  maestro_buf_t *b = NULL;
  CU_ASSERT_EQUAL(maestro_output_pop(out, &b, 0), MAESTRO_ETIMEDOUT);
  CU_ASSERT_EQUAL(maestro_output_pop(out, &b, 5), MAESTRO_ETIMEDOUT);
  CU_ASSERT_EQUAL(maestro_input_push(in, eng_msg(eng_rt, 41)), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_output_pop(out, &b, -1), MAESTRO_OK);
  CU_ASSERT_EQUAL(eng_val(b), 42);
  maestro_buf_release(b);
  CU_ASSERT_EQUAL(maestro_input_close(in), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_output_pop(out, &b, -1), MAESTRO_ECLOSED);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK); /* waiting twice is harmless */
  maestro_graph_destroy(g);
}

/* Inside a firing: the runtime, the sequence numbers of a two-input agent. */
static int check_fire(maestro_fire_t *f) {
  int *bad = maestro_fire_state(f);
  if (maestro_fire_runtime(f) != eng_rt) (*bad)++;
  if (eng_val(maestro_fire_in(f, 0)) != maestro_fire_seq(f)) (*bad)++;
  if (eng_val(maestro_fire_in(f, 1)) != maestro_fire_seq(f) + 100) (*bad)++;
  if (maestro_fire_in(f, 2) != NULL || maestro_fire_in(f, -1) != NULL) (*bad)++;
  maestro_buf_t *b = maestro_buf_retain(maestro_fire_in(f, 0));
  if (maestro_fire_out(f, 3, b) != MAESTRO_EINVAL) (*bad)++; /* no such port: released */
  return MAESTRO_OK;
}

static void test_fire_accessors(void) {
  static const maestro_port_t two_in[] = {{"x", MAESTRO_I64, 0}, {"y", MAESTRO_I64, 0}};
  static int bad;
  bad = 0;
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "accessors", &g) == MAESTRO_OK);
  maestro_agent_t *a = NULL;
  CU_ASSERT_EQUAL(maestro_agent_add(
                      g,
                      &(maestro_agent_desc_t){
                          .name = "two", .in = two_in, .n_in = 2, .cpu = check_fire, .state = &bad},
                      &a),
                  MAESTRO_OK);
  maestro_input_t *x, *y;
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "x", &x) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "y", &y) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  for (uint64_t i = 0; i < 20; i++) {
    CU_ASSERT_EQUAL(maestro_input_push(x, eng_msg(eng_rt, i)), MAESTRO_OK);
    CU_ASSERT_EQUAL(maestro_input_push(y, eng_msg(eng_rt, i + 100)), MAESTRO_OK);
  }
  maestro_input_close(x);
  maestro_input_close(y);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(bad, 0);
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(a, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.fires, 20);
  CU_ASSERT_EQUAL(st.msgs_in, 40);
  maestro_graph_destroy(g);
}

/* Several host threads push into one input at once: every message arrives
 * exactly once, and each thread's messages keep their order. */
enum { PUSHERS = 4, PER_PUSHER = 3000 };
struct pusher {
  maestro_input_t *in;
  uint64_t id;
  int rc;
};

static void *push_many(void *arg) {
  struct pusher *p = arg;
  p->rc = MAESTRO_OK;
  for (uint64_t i = 0; i < PER_PUSHER && p->rc == MAESTRO_OK; i++)
    p->rc = maestro_input_push(p->in, eng_msg(eng_rt, p->id << 32 | i));
  return NULL;
}

static void test_many_pushers(void) {
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "pushers", &g) == MAESTRO_OK);
  maestro_agent_t *a = eng_add(g, "a", eng_pass, NULL);
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  pthread_t th[PUSHERS];
  struct pusher ps[PUSHERS];
  for (int k = 0; k < PUSHERS; k++) {
    ps[k] = (struct pusher){.in = in, .id = (uint64_t)k};
    pthread_create(&th[k], NULL, push_many, &ps[k]);
  }
  uint64_t next[PUSHERS] = {0};
  long got = 0, bad = 0;
  while (got < PUSHERS * PER_PUSHER) {
    maestro_buf_t *b;
    if (maestro_output_pop(out, &b, 10000) != MAESTRO_OK) break;
    uint64_t v = eng_val(b), k = v >> 32;
    if (k >= PUSHERS || (v & 0xffffffffu) != next[k])
      bad++;
    else
      next[k]++;
    got++;
    maestro_buf_release(b);
  }
  for (int k = 0; k < PUSHERS; k++) {
    pthread_join(th[k], NULL);
    CU_ASSERT_EQUAL(ps[k].rc, MAESTRO_OK);
  }
  CU_ASSERT_EQUAL(got, PUSHERS * PER_PUSHER);
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL(maestro_input_close(in), MAESTRO_OK);
  CU_ASSERT_EQUAL(eng_drain(out, NULL, 0), 0);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_graph_destroy(g);
}

void register_suites(void) {
  ADD_SUITE("engine_flow", eng_suite_init, eng_suite_fini, {"chain keeps order", test_chain_order},
            {"source returns DONE", test_source_done}, {"empty source", test_empty_source},
            {"diamond with fan-in merge", test_diamond_merge},
            {"diamond with two-port join", test_diamond_join},
            {"fan-out shares one buffer", test_fanout_shares},
            {"copy-on-write (host)", test_cow_host}, {"copy-on-write (graph)", test_cow_graph},
            {"several graphs on one runtime", test_several_graphs},
            {"cycle with capacity", test_cycle}, {"join with uneven ends", test_join_uneven_ends},
            {"sizes and buffer reuse", test_sizes_and_reuse}, {"long chain", test_long_chain},
            {"polling", test_poll}, {"firing accessors", test_fire_accessors},
            {"several host threads push into one input", test_many_pushers});
}
