/* Chains across cores with batched ring publication (issue 9): agents
 * pinned to different CPU places, channels of 1, 2 and 3 messages so that
 * the batches hit the full-ring path all the time. Every message arrives
 * once and in order, the producer never runs more than the ring ahead of
 * its consumer (backpressure), and end-of-stream comes only after the last
 * message. Several rounds each: a missed publication shows as a hang or a
 * lost message only some of the time. */
#include <stdio.h>

#include "engine_util.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ENG_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define ENG_SANITIZED 1
#endif
#endif
#ifndef ENG_SANITIZED
#define ENG_SANITIZED 0
#endif

enum { ROUNDS = ENG_SANITIZED ? 2 : 4, MSGS = ENG_SANITIZED ? 3000 : 20000 };

static maestro_affinity_t on_cpu(int i) {
  int n = maestro_runtime_nplaces(eng_rt, MAESTRO_PLACE_CPU);
  return (maestro_affinity_t){.pref = MAESTRO_ON_CPU, .index = i % (n > 0 ? n : 1)};
}

/* ---- a chain source@0 -> pass@1 -> pass@0 -> sink@1 ---- */

struct src_state {
  uint64_t n;
  atomic_ullong made;
  atomic_ullong *eaten; /* by the first pass */
  atomic_ullong max_lag;
};

/* Sends 0..n-1; records how far it ran ahead of the first pass. */
static int lag_source(maestro_fire_t *f) {
  struct src_state *s = maestro_fire_state(f);
  uint64_t seq = maestro_fire_seq(f);
  if (seq >= s->n) return MAESTRO_DONE;
  uint64_t lag = atomic_load(&s->made) - atomic_load(s->eaten);
  if (lag > atomic_load(&s->max_lag)) atomic_store(&s->max_lag, lag);
  atomic_fetch_add(&s->made, 1);
  maestro_buf_t *b;
  int rc = maestro_fire_alloc(f, sizeof seq, &b);
  if (rc != MAESTRO_OK) return rc;
  memcpy(maestro_buf_data(b), &seq, sizeof seq);
  return maestro_fire_out(f, 0, b);
}

static int counting_pass(maestro_fire_t *f) {
  atomic_ullong *eaten = maestro_fire_state(f);
  int rc = maestro_fire_out(f, 0, maestro_buf_retain(maestro_fire_in(f, 0)));
  atomic_fetch_add(eaten, 1);
  return rc;
}

struct sink_state {
  uint64_t next, errors, at_end;
  int ended;
};

static int order_sink(maestro_fire_t *f) {
  struct sink_state *s = maestro_fire_state(f);
  s->errors += eng_val(maestro_fire_in(f, 0)) != s->next;
  s->next++;
  return MAESTRO_OK;
}

/* End-of-stream: how many messages had arrived by then. */
static int order_sink_end(maestro_fire_t *f) {
  struct sink_state *s = maestro_fire_state(f);
  s->at_end = s->next;
  s->ended++;
  return MAESTRO_OK;
}

static void run_chain(int cap, unsigned stateless_mid) {
  uint64_t ring = cap ? (uint64_t)cap : 64; /* 0: the default capacity */
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "cross", &g) == MAESTRO_OK);
  atomic_ullong eaten = 0, eaten2 = 0;
  struct src_state ss = {.n = MSGS, .eaten = &eaten};
  atomic_init(&ss.made, 0);
  atomic_init(&ss.max_lag, 0);
  struct sink_state sk = {0, 0, 0, 0};
  maestro_agent_t *src, *p0, *p1, *snk;
  CU_ASSERT_EQUAL(maestro_agent_add(g,
                                    &(maestro_agent_desc_t){.name = "source",
                                                            .out = eng_u64_out,
                                                            .n_out = 1,
                                                            .cpu = lag_source,
                                                            .state = &ss,
                                                            .affinity = on_cpu(0)},
                                    &src),
                  MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_agent_add(g,
                                    &(maestro_agent_desc_t){.name = "pass0",
                                                            .in = eng_u64_in,
                                                            .n_in = 1,
                                                            .out = eng_u64_out,
                                                            .n_out = 1,
                                                            .cpu = counting_pass,
                                                            .state = &eaten,
                                                            .affinity = on_cpu(1)},
                                    &p0),
                  MAESTRO_OK);
  /* The middle one, when stateless, fires on any worker (the windowed runner). */
  const maestro_affinity_t anywhere = {0}, cpu0 = on_cpu(0);
  CU_ASSERT_EQUAL(
      maestro_agent_add(g,
                        &(maestro_agent_desc_t){.name = "pass1",
                                                .in = eng_u64_in,
                                                .n_in = 1,
                                                .out = eng_u64_out,
                                                .n_out = 1,
                                                .cpu = counting_pass,
                                                .state = &eaten2,
                                                .flags = stateless_mid,
                                                .affinity = stateless_mid ? anywhere : cpu0},
                        &p1),
      MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_agent_add(g,
                                    &(maestro_agent_desc_t){.name = "sink",
                                                            .in = eng_u64_in,
                                                            .n_in = 1,
                                                            .cpu = order_sink,
                                                            .on_end = order_sink_end,
                                                            .state = &sk,
                                                            .affinity = on_cpu(1)},
                                    &snk),
                  MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, src, "out", p0, "in", cap), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, p0, "out", p1, "in", cap), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, p1, "out", snk, "in", cap), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_run(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(sk.next, MSGS);
  CU_ASSERT_EQUAL(sk.errors, 0);
  CU_ASSERT_EQUAL(sk.ended, 1);
  CU_ASSERT_EQUAL(sk.at_end, MSGS); /* end-of-stream after the last message */
  CU_ASSERT_EQUAL(atomic_load(&eaten), MSGS);
  CU_ASSERT_EQUAL(atomic_load(&eaten2), MSGS);
  /* At a firing's start the source's overflow is empty: what it made and
   * the first pass has not yet eaten is in the ring (at most `cap`, the
   * published head or not) or in that pass's firing (1). */
  CU_ASSERT(atomic_load(&ss.max_lag) <= ring + 1);
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(p0, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.msgs_in, MSGS);
  CU_ASSERT_EQUAL(st.msgs_out, MSGS);
  CU_ASSERT_EQUAL(st.dead_letters, 0);
  CU_ASSERT_EQUAL(maestro_agent_stats(snk, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.msgs_in, MSGS);
  if (sk.next != MSGS || sk.errors || atomic_load(&ss.max_lag) > ring + 1)
    printf("\n    capacity %d: sink got %llu (%llu out of order), source ran %llu ahead\n", cap,
           (unsigned long long)sk.next, (unsigned long long)sk.errors,
           (unsigned long long)atomic_load(&ss.max_lag));
  maestro_graph_destroy(g);
}

static void test_chain_small_caps(void) {
  for (int r = 0; r < ROUNDS; r++)
    for (int cap = 1; cap <= 3; cap++)
      run_chain(cap, 0);
}

static void test_chain_stateless_mid(void) {
  for (int r = 0; r < ROUNDS; r++)
    for (int cap = 1; cap <= 3; cap++)
      run_chain(cap, MAESTRO_STATELESS);
}

/* The default capacity (64): chunks of 16 published within a run. */
static void test_chain_default_cap(void) {
  for (int r = 0; r < ROUNDS; r++)
    run_chain(0, 0);
}

/* ---- fan-in: sources on both cores into one port of a sink ---- */

struct tag_src {
  uint64_t n, tag;
};

static int tag_source(maestro_fire_t *f) {
  struct tag_src *s = maestro_fire_state(f);
  uint64_t seq = maestro_fire_seq(f);
  if (seq >= s->n) return MAESTRO_DONE;
  uint64_t v = s->tag << 32 | seq;
  maestro_buf_t *b;
  int rc = maestro_fire_alloc(f, sizeof v, &b);
  if (rc != MAESTRO_OK) return rc;
  memcpy(maestro_buf_data(b), &v, sizeof v);
  return maestro_fire_out(f, 0, b);
}

struct merge_sink {
  uint64_t next[2], errors, at_end;
};

static int merge_sink_fire(maestro_fire_t *f) {
  struct merge_sink *s = maestro_fire_state(f);
  uint64_t v = eng_val(maestro_fire_in(f, 0)), tag = v >> 32;
  if (tag > 1) {
    s->errors++;
    return MAESTRO_OK;
  }
  s->errors += (v & 0xffffffffu) != s->next[tag];
  s->next[tag]++;
  return MAESTRO_OK;
}

static int merge_sink_end(maestro_fire_t *f) {
  struct merge_sink *s = maestro_fire_state(f);
  s->at_end = s->next[0] + s->next[1];
  return MAESTRO_OK;
}

static void test_fan_in_small_caps(void) {
  for (int r = 0; r < ROUNDS; r++)
    for (int cap = 1; cap <= 3; cap++) {
      maestro_graph_t *g;
      CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "fanin", &g) == MAESTRO_OK);
      struct tag_src ts[2] = {{MSGS, 0}, {MSGS, 1}};
      struct merge_sink ms = {{0, 0}, 0, 0};
      maestro_agent_t *src[2], *snk;
      for (int k = 0; k < 2; k++) {
        char name[16];
        snprintf(name, sizeof name, "source%d", k);
        CU_ASSERT_EQUAL(maestro_agent_add(g,
                                          &(maestro_agent_desc_t){.name = name,
                                                                  .out = eng_u64_out,
                                                                  .n_out = 1,
                                                                  .cpu = tag_source,
                                                                  .state = &ts[k],
                                                                  .affinity = on_cpu(k)},
                                          &src[k]),
                        MAESTRO_OK);
      }
      CU_ASSERT_EQUAL(maestro_agent_add(g,
                                        &(maestro_agent_desc_t){.name = "sink",
                                                                .in = eng_u64_in,
                                                                .n_in = 1,
                                                                .cpu = merge_sink_fire,
                                                                .on_end = merge_sink_end,
                                                                .state = &ms,
                                                                .affinity = on_cpu(1)},
                                        &snk),
                      MAESTRO_OK);
      for (int k = 0; k < 2; k++)
        CU_ASSERT_EQUAL(maestro_connect(g, src[k], "out", snk, "in", cap), MAESTRO_OK);
      CU_ASSERT_EQUAL(maestro_graph_run(g), MAESTRO_OK);
      CU_ASSERT_EQUAL(ms.next[0], MSGS);
      CU_ASSERT_EQUAL(ms.next[1], MSGS);
      CU_ASSERT_EQUAL(ms.errors, 0);
      CU_ASSERT_EQUAL(ms.at_end, 2 * MSGS);
      maestro_graph_destroy(g);
    }
}

void register_suites(void) {
  ADD_SUITE("cross", eng_suite_init, eng_suite_fini,
            {"chain across cores, capacities 1-3", test_chain_small_caps},
            {"chain across cores, stateless middle, capacities 1-3", test_chain_stateless_mid},
            {"chain across cores, default capacity", test_chain_default_cap},
            {"fan-in from both cores, capacities 1-3", test_fan_in_small_caps});
}
