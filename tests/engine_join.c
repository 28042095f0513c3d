/* Aligned joins under SKIP (docs/engine.md, "Aligned joins"): a diamond
 * (source -> two branches -> a join) where one branch skips a share of its
 * messages. The join must always fire on copies of the same source message,
 * the partners of skipped messages go to the dead letters, and the graph
 * ends OK (no hang once the branches drift apart). */
#include <stdio.h>
#include <stdlib.h>

#include "engine_util.h"

enum { JOIN_N = 10000 };
#define JOIN_SEED UINT64_C(0x5eed1234abcd)

/* Deterministic failure choice: a seeded hash of the value. */
static uint64_t join_hash(uint64_t v) {
  uint64_t x = v ^ JOIN_SEED;
  x ^= x >> 33;
  x *= UINT64_C(0xff51afd7ed558ccd);
  x ^= x >> 33;
  x *= UINT64_C(0xc4ceb9fe1a85ec53);
  x ^= x >> 33;
  return x;
}

static unsigned join_pct; /* the share of values the skipping branch fails on */

static int join_fails(uint64_t v) {
  return join_hash(v) % 100 < join_pct;
}

/* Branch "a": passes the buffer on (shared with branch "b"), fails on the chosen values. */
static int skipper(maestro_fire_t *f) {
  uint64_t v = eng_val(maestro_fire_in(f, 0));
  if (join_fails(v)) return MAESTRO_EINVAL;
  return maestro_fire_out(f, 0, maestro_buf_retain(maestro_fire_in(f, 0)));
}

struct join_state {
  atomic_ullong fires, misaligned;
};

/* The join: "a" carries v, "b" carries v + 1 (a new buffer); sends v. */
static int join_fire(maestro_fire_t *f) {
  struct join_state *s = maestro_fire_state(f);
  uint64_t a = eng_val(maestro_fire_in(f, 0)), b = eng_val(maestro_fire_in(f, 1));
  atomic_fetch_add(&s->fires, 1);
  if (b != a + 1) atomic_fetch_add(&s->misaligned, 1);
  return maestro_fire_out(f, 0, maestro_buf_retain(maestro_fire_in(f, 0)));
}

static void run_diamond(unsigned pct, unsigned b_flags) {
  static uint64_t n = JOIN_N;
  join_pct = pct;
  uint64_t skipped = 0;
  for (uint64_t v = 0; v < n; v++)
    skipped += (uint64_t)join_fails(v);
  uint64_t last_kept = 0; /* partners of skips after it end as drained, not aligned */
  for (uint64_t v = 0; v < n; v++)
    if (!join_fails(v)) last_kept = v;
  uint64_t skipped_before_last = 0;
  for (uint64_t v = 0; v < last_kept; v++)
    skipped_before_last += (uint64_t)join_fails(v);
  printf("\n    diamond: %u%% SKIP, seed 0x%llx: %llu of %llu skipped\n", pct,
         (unsigned long long)JOIN_SEED, (unsigned long long)skipped, (unsigned long long)n);

  static const maestro_port_t jin[] = {{"a", MAESTRO_I64, 0}, {"b", MAESTRO_I64, 0}};
  struct join_state js = {0};
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "diamond", &g) == MAESTRO_OK);
  maestro_agent_t *src = eng_add_source(g, "src", eng_count_source, &n);
  maestro_agent_t *a = NULL, *b = NULL, *j = NULL;
  CU_ASSERT_EQUAL(
      maestro_agent_add(g,
                        &(maestro_agent_desc_t){.name = "skipper",
                                                .in = eng_u64_in,
                                                .n_in = 1,
                                                .out = eng_u64_out,
                                                .n_out = 1,
                                                .cpu = skipper,
                                                .supervisor = {.on_fail = MAESTRO_FAIL_SKIP}},
                        &a),
      MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_agent_add(g,
                                    &(maestro_agent_desc_t){.name = "inc",
                                                            .in = eng_u64_in,
                                                            .n_in = 1,
                                                            .out = eng_u64_out,
                                                            .n_out = 1,
                                                            .cpu = eng_inc,
                                                            .flags = b_flags},
                                    &b),
                  MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_agent_add(g,
                                    &(maestro_agent_desc_t){.name = "join",
                                                            .in = jin,
                                                            .n_in = 2,
                                                            .out = eng_u64_out,
                                                            .n_out = 1,
                                                            .cpu = join_fire,
                                                            .state = &js},
                                    &j),
                  MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, src, "out", a, "in", 16), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, src, "out", b, "in", 16), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, a, "out", j, "a", 16), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, b, "out", j, "b", 16), MAESTRO_OK);
  maestro_output_t *out, *dl;
  CU_ASSERT_FATAL(maestro_graph_output(g, j, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_dead_letters(g, &dl) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);

  unsigned char *delivered = calloc(n, 1), *skip_dl = calloc(n, 1), *partner_dl = calloc(n, 1);
  uint64_t *vals = calloc(n, sizeof *vals);
  long got = eng_drain(out, vals, (long)n); /* -1: 10 s without a message (a hang) */
  CU_ASSERT_NOT_EQUAL_FATAL(got, -1);
  uint64_t bad = 0;
  for (long i = 0; i < got; i++) {
    if (vals[i] >= n || delivered[vals[i]])
      bad++;
    else
      delivered[vals[i]] = 1;
  }
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_buf_t *lb;
  maestro_letter_t why;
  uint64_t partners = 0, partner_reasons = 0, other = 0;
  while (maestro_output_pop_letter(dl, &lb, &why, 0) == MAESTRO_OK) {
    uint64_t v = eng_val(lb);
    maestro_buf_release(lb);
    if (!strcmp(why.agent, "skipper") && why.status == MAESTRO_EINVAL && v < n && !skip_dl[v]) {
      skip_dl[v] = 1;
    } else if (!strcmp(why.agent, "join") && !strcmp(why.port, "b") && v >= 1 && v <= n &&
               !partner_dl[v - 1]) {
      partner_dl[v - 1] = 1;
      partners++;
      if (why.reason && strstr(why.reason, "partner of a skipped message")) partner_reasons++;
    } else {
      other++;
    }
  }
  /* Every source message delivered once, or skipped (and its partner dead) once. */
  uint64_t wrong = 0;
  for (uint64_t v = 0; v < n; v++) {
    int f = join_fails(v);
    wrong += delivered[v] != !f || skip_dl[v] != f || partner_dl[v] != f;
  }
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL(other, 0);
  CU_ASSERT_EQUAL(wrong, 0);
  CU_ASSERT_EQUAL((uint64_t)got + skipped, n);
  CU_ASSERT_EQUAL(partners, skipped);
  CU_ASSERT_EQUAL(partner_reasons, skipped_before_last);
  CU_ASSERT_EQUAL(atomic_load(&js.misaligned), 0);
  CU_ASSERT_EQUAL(atomic_load(&js.fires), (uint64_t)got);
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(j, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.dead_letters, skipped);
  free(delivered);
  free(skip_dl);
  free(partner_dl);
  free(vals);
  maestro_graph_destroy(g);
}

static void test_skip_1(void) {
  run_diamond(1, 0);
}
static void test_skip_5(void) {
  run_diamond(5, 0);
}
static void test_skip_20(void) {
  run_diamond(20, 0);
}
/* The other branch stateless: its outputs take their origin in window.c. */
static void test_skip_20_stateless(void) {
  run_diamond(20, MAESTRO_STATELESS);
}

void register_suites(void) {
  ADD_SUITE("engine_join", eng_suite_init, eng_suite_fini, {"diamond, 1% SKIP", test_skip_1},
            {"diamond, 5% SKIP", test_skip_5}, {"diamond, 20% SKIP", test_skip_20},
            {"diamond, 20% SKIP, stateless branch", test_skip_20_stateless});
}
