/* A smoke run through the whole engine: source -> pass -> sink and
 * host input -> agent -> host output. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "maestro.h"
#include "testmain.h"

static maestro_runtime_t *rt;
static const maestro_port_t u64_in[] = {{"in", MAESTRO_I64, 0}};
static const maestro_port_t u64_out[] = {{"out", MAESTRO_I64, 0}};

struct src_state {
  int64_t next, n;
};

static int src_fire(maestro_fire_t *f) {
  struct src_state *s = maestro_fire_state(f);
  if (s->next == s->n) return MAESTRO_DONE;
  maestro_buf_t *b;
  int rc = maestro_fire_alloc(f, sizeof(int64_t), &b);
  if (rc) return rc;
  *(int64_t *)maestro_buf_data(b) = s->next++;
  return maestro_fire_out(f, 0, b);
}

static int pass_fire(maestro_fire_t *f) {
  return maestro_fire_out(f, 0, maestro_buf_retain(maestro_fire_in(f, 0)));
}

struct sink_state {
  int64_t expect, bad;
};

static int sink_fire(maestro_fire_t *f) {
  struct sink_state *s = maestro_fire_state(f);
  if (*(const int64_t *)maestro_buf_cdata(maestro_fire_in(f, 0)) != s->expect) s->bad++;
  s->expect++;
  return MAESTRO_OK;
}

static int smoke_init(void) {
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.devices = "none";
  cfg.stats = 0;
  return maestro_runtime_create(&cfg, &rt) == MAESTRO_OK ? 0 : 1;
}

static int smoke_fini(void) {
  maestro_runtime_destroy(rt);
  return 0;
}

static void smoke_pipeline(void) {
  maestro_graph_t *g;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_create(rt, "smoke", &g), MAESTRO_OK);
  struct src_state ss = {0, 100000};
  struct sink_state ks = {0, 0};
  maestro_agent_t *src, *p1, *p2, *sink;
  CU_ASSERT_EQUAL_FATAL(
      maestro_agent_add(
          g,
          &(maestro_agent_desc_t){
              .name = "src", .out = u64_out, .n_out = 1, .cpu = src_fire, .state = &ss},
          &src),
      MAESTRO_OK);
  maestro_agent_add(
      g,
      &(maestro_agent_desc_t){
          .name = "p1", .in = u64_in, .n_in = 1, .out = u64_out, .n_out = 1, .cpu = pass_fire},
      &p1);
  maestro_agent_add(
      g,
      &(maestro_agent_desc_t){
          .name = "p2", .in = u64_in, .n_in = 1, .out = u64_out, .n_out = 1, .cpu = pass_fire},
      &p2);
  maestro_agent_add(g,
                    &(maestro_agent_desc_t){
                        .name = "sink", .in = u64_in, .n_in = 1, .cpu = sink_fire, .state = &ks},
                    &sink);
  CU_ASSERT_EQUAL(maestro_connect(g, src, "out", p1, "in", 4), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, p1, "out", p2, "in", 0), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, p2, "out", sink, "in", 1), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_run(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(ks.expect, 100000);
  CU_ASSERT_EQUAL(ks.bad, 0);
  maestro_agent_stats_t st;
  maestro_agent_stats(p2, &st);
  CU_ASSERT_EQUAL(st.fires, 100000);
  CU_ASSERT_EQUAL(st.msgs_in, 100000);
  CU_ASSERT_EQUAL(st.bytes_out, 800000);
  maestro_graph_destroy(g);
}

static void smoke_host_io(void) {
  maestro_graph_t *g;
  maestro_agent_t *p;
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_create(rt, "hostio", &g), MAESTRO_OK);
  maestro_agent_add(
      g,
      &(maestro_agent_desc_t){
          .name = "p", .in = u64_in, .n_in = 1, .out = u64_out, .n_out = 1, .cpu = pass_fire},
      &p);
  CU_ASSERT_EQUAL(maestro_graph_input(g, p, "in", &in), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_output(g, p, "out", &out), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_start(g), MAESTRO_OK);
  int64_t got = 0, bad = 0;
  for (int64_t i = 0; i < 300; i++) {
    maestro_buf_t *b;
    maestro_buf_from(rt, &i, sizeof i, &b);
    CU_ASSERT_EQUAL(maestro_input_push(in, b), MAESTRO_OK);
    if (i % 3 != 2) { /* pops lag pushes by at most a third: within the capacities */
      CU_ASSERT_EQUAL(maestro_output_pop(out, &b, -1), MAESTRO_OK);
      if (*(const int64_t *)maestro_buf_cdata(b) != got) bad++;
      got++;
      maestro_buf_release(b);
    }
  }
  maestro_input_close(in);
  maestro_buf_t *b;
  int rc;
  while ((rc = maestro_output_pop(out, &b, -1)) == MAESTRO_OK) {
    if (*(const int64_t *)maestro_buf_cdata(b) != got) bad++;
    got++;
    maestro_buf_release(b);
  }
  CU_ASSERT_EQUAL(rc, MAESTRO_ECLOSED);
  CU_ASSERT_EQUAL(got, 300);
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_graph_destroy(g);
}

/* Several host threads push into one input at once (the lock-free
 * multi-producer path, and its slow path when full); every message arrives
 * once, each thread's in order. */
#define HP_THREADS 3
#define HP_EACH    3000
struct hp_arg {
  maestro_input_t *in;
  int64_t id;
  int fails;
};

static void *host_pusher(void *arg) {
  struct hp_arg *h = arg;
  for (int64_t i = 0; i < HP_EACH; i++) {
    int64_t v = h->id * 1000000 + i;
    maestro_buf_t *b;
    if (maestro_buf_from(rt, &v, sizeof v, &b) || maestro_input_push(h->in, b)) h->fails++;
  }
  return NULL;
}

static void smoke_many_host_pushers(void) {
  maestro_graph_t *g;
  maestro_agent_t *p;
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_create(rt, "pushers", &g), MAESTRO_OK);
  maestro_agent_add(
      g,
      &(maestro_agent_desc_t){
          .name = "p", .in = u64_in, .n_in = 1, .out = u64_out, .n_out = 1, .cpu = pass_fire},
      &p);
  maestro_graph_input(g, p, "in", &in);
  maestro_graph_output(g, p, "out", &out);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_start(g), MAESTRO_OK);
  pthread_t t[HP_THREADS];
  struct hp_arg args[HP_THREADS];
  for (int k = 0; k < HP_THREADS; k++) {
    args[k] = (struct hp_arg){in, k + 1, 0};
    pthread_create(&t[k], NULL, host_pusher, &args[k]);
  }
  int64_t next[HP_THREADS + 1] = {0};
  long got = 0, bad = 0;
  while (got < (long)HP_THREADS * HP_EACH) {
    maestro_buf_t *b;
    if (maestro_output_pop(out, &b, 10000) != MAESTRO_OK) break;
    int64_t v = *(const int64_t *)maestro_buf_cdata(b), id = v / 1000000, i = v % 1000000;
    if (id < 1 || id > HP_THREADS || i != next[id]) bad++;
    if (id >= 1 && id <= HP_THREADS) next[id] = i + 1;
    got++;
    maestro_buf_release(b);
  }
  for (int k = 0; k < HP_THREADS; k++) {
    pthread_join(t[k], NULL);
    CU_ASSERT_EQUAL(args[k].fails, 0);
  }
  CU_ASSERT_EQUAL(got, (long)HP_THREADS * HP_EACH);
  CU_ASSERT_EQUAL(bad, 0);
  maestro_input_close(in);
  maestro_buf_t *b;
  CU_ASSERT_EQUAL(maestro_output_pop(out, &b, -1), MAESTRO_ECLOSED);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_graph_destroy(g);
}

void register_smoke_tests(void) {
  ADD_SUITE("smoke", smoke_init, smoke_fini, {"pipeline", smoke_pipeline},
            {"host_io", smoke_host_io}, {"many_host_pushers", smoke_many_host_pushers});
}
