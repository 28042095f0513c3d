/* Stateless agents fire on several workers at once (issue 3), a stateful
 * agent never overlaps itself. */
#include <stdio.h>

#include "engine_util.h"

static atomic_int sl_running, sl_max_running;

/* A stateless agent whose firings sleep 2 ms: with two workers, two firings
 * overlap at some point (a stateful agent never overlaps itself). Not a
 * timing assertion: over 60 sleeping firings the second worker only has to
 * wake up once. */
static int sleepy(maestro_fire_t *f) {
  int now = atomic_fetch_add(&sl_running, 1) + 1;
  int m = atomic_load(&sl_max_running);
  while (now > m && !atomic_compare_exchange_weak(&sl_max_running, &m, now)) {
  }
  eng_sleep_us(2000);
  atomic_fetch_sub(&sl_running, 1);
  return eng_pass(f);
}

static int run_sleepy(unsigned flags) {
  static uint64_t n = 60;
  atomic_store(&sl_running, 0);
  atomic_store(&sl_max_running, 0);
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "sleepy", &g) == MAESTRO_OK);
  maestro_agent_t *s = eng_add_source(g, "s", eng_count_source, &n);
  maestro_agent_t *w = NULL;
  CU_ASSERT_EQUAL(maestro_agent_add(g,
                                    &(maestro_agent_desc_t){.name = "sleepy",
                                                            .in = eng_u64_in,
                                                            .n_in = 1,
                                                            .out = eng_u64_out,
                                                            .n_out = 1,
                                                            .cpu = sleepy,
                                                            .flags = flags},
                                    &w),
                  MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", w, "in", 16), MAESTRO_OK);
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_output(g, w, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  uint64_t vals[60];
  CU_ASSERT_EQUAL(eng_drain(out, vals, 60), 60);
  for (int i = 0; i < 60; i++)
    CU_ASSERT_EQUAL(vals[i], (uint64_t)i);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_graph_destroy(g);
  return atomic_load(&sl_max_running);
}

static void test_stateless_concurrent(void) {
  CU_ASSERT_EQUAL(run_sleepy(0), 1); /* stateful: one firing at a time */
  if (maestro_runtime_nplaces(eng_rt, MAESTRO_PLACE_CPU) < 2) return;
  int most = run_sleepy(MAESTRO_STATELESS);
  printf("\n    stateless, 2 ms firings: up to %d at once\n", most);
  CU_ASSERT(most >= 2);
}

void register_suites(void) {
  ADD_SUITE("engine_stateless", eng_suite_init, eng_suite_fini,
            {"stateless fires concurrently", test_stateless_concurrent});
}
