/* Device failover: a launch a device refuses moves to another device place
 * that has an implementation (before the CPU implementation takes it),
 * nothing lost, counted in the agent's .failovers. Two fake devices of the
 * test-only backend (tests/backend_fake.c), the first refusing every launch
 * as a device out of resources would. */
#include <stdlib.h>

#include "backend_fake.h"
#include "engine_util.h"

static maestro_runtime_t *fo_rt;

static int fo_init(void) {
  if (fake_backend_register() != MAESTRO_OK || fake_backend_register_second() != MAESTRO_OK)
    return -1;
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.devices = "none";
  cfg.stats = 0;
  cfg.sched = "eager"; /* the first device first, while it has room */
  if (maestro_runtime_create(&cfg, &fo_rt) != MAESTRO_OK) return -1;
  return maestro_runtime_nplaces(fo_rt, MAESTRO_PLACE_DEVICE) == 2 ? 0 : -1;
}

static int fo_fini(void) {
  maestro_runtime_destroy(fo_rt);
  fo_rt = NULL;
  return 0;
}

/* Every launch on device 0 is refused: each moves to device 1 (or, when it
 * has no room, to the CPU function); every message arrives, in order, and
 * the refusals are all accounted for. */
static void test_failover_to_second_device(void) {
  static uint64_t n = 2000;
  fake_refuse_first(1);
  struct fake_stats before, after;
  fake_stats_get(&before);
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(fo_rt, "failover", &g) == MAESTRO_OK);
  maestro_agent_t *s = eng_add_source(g, "s", eng_count_source, &n);
  maestro_agent_t *a = eng_add(g, "inc", eng_inc, NULL);
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", a, "in", 16), MAESTRO_OK);
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  uint64_t *vals = calloc(n, sizeof *vals);
  CU_ASSERT_FATAL(vals != NULL);
  CU_ASSERT_EQUAL(eng_drain(out, vals, (long)n), (long)n);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  long bad = 0;
  for (uint64_t i = 0; i < n; i++)
    bad += vals[i] != i + 1;
  CU_ASSERT_EQUAL(bad, 0);
  free(vals);
  fake_stats_get(&after);
  uint64_t refused = after.refused - before.refused;
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(a, &st), MAESTRO_OK);
  CU_ASSERT_TRUE(refused > 0);
  CU_ASSERT_TRUE(st.failovers > 0);
  CU_ASSERT_EQUAL(st.failovers + st.fallbacks, refused);
  CU_ASSERT_EQUAL(st.failures, 0);
  CU_ASSERT_EQUAL(st.fires, n);
  CU_ASSERT_EQUAL(after.firings - before.firings, st.device_fires);
  CU_ASSERT_EQUAL(st.device_fires + st.cpu_fires, n);
  maestro_graph_destroy(g);
  fake_refuse_first(0);
}

/* Without refusals nothing fails over. */
static void test_no_failover_when_all_take(void) {
  static uint64_t n = 500;
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(fo_rt, "nofailover", &g) == MAESTRO_OK);
  maestro_agent_t *s = eng_add_source(g, "s", eng_count_source, &n);
  maestro_agent_t *a = eng_add(g, "inc", eng_inc, NULL);
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", a, "in", 16), MAESTRO_OK);
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  CU_ASSERT_EQUAL(eng_drain(out, NULL, 0), (long)n);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(a, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.failovers, 0);
  CU_ASSERT_EQUAL(st.fallbacks, 0);
  CU_ASSERT_TRUE(st.device_fires > 0);
  maestro_graph_destroy(g);
}

/* Device 0 takes every launch and then fails it (a lost device): each such
 * firing moves to device 1, launched by device 1's lane; the agent may run
 * on devices only, so nothing reaches its CPU function and every message
 * arrives, in order, once. */
static int cpu_calls_lost;
static int inc_counting_cpu(maestro_fire_t *f) {
  maestro_place_kind_t kind;
  maestro_fire_place(f, &kind);
  if (kind == MAESTRO_PLACE_CPU) __atomic_add_fetch(&cpu_calls_lost, 1, __ATOMIC_RELAXED);
  return eng_inc(f);
}

static void test_failover_after_launch(void) {
  static uint64_t n = 1000;
  fake_lose_first(1);
  struct fake_stats before, after;
  fake_stats_get(&before);
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(fo_rt, "lost", &g) == MAESTRO_OK);
  maestro_agent_t *s = eng_add_source(g, "s", eng_count_source, &n);
  maestro_agent_t *a = NULL;
  CU_ASSERT_FATAL(maestro_agent_add(g,
                                    &(maestro_agent_desc_t){.name = "inc",
                                                            .in = eng_u64_in,
                                                            .n_in = 1,
                                                            .out = eng_u64_out,
                                                            .n_out = 1,
                                                            .cpu = inc_counting_cpu,
                                                            .affinity = {MAESTRO_ON_DEVICE, -1, 0}},
                                    &a) == MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", a, "in", 16), MAESTRO_OK);
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  uint64_t *vals = calloc(n, sizeof *vals);
  CU_ASSERT_FATAL(vals != NULL);
  CU_ASSERT_EQUAL(eng_drain(out, vals, (long)n), (long)n);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  long bad = 0;
  for (uint64_t i = 0; i < n; i++)
    bad += vals[i] != i + 1;
  CU_ASSERT_EQUAL(bad, 0);
  free(vals);
  fake_lose_first(0);
  fake_stats_get(&after);
  uint64_t lost = after.lost - before.lost;
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(a, &st), MAESTRO_OK);
  printf("\n    %llu launches lost on device 0, %llu failovers\n", (unsigned long long)lost,
         (unsigned long long)st.failovers);
  CU_ASSERT_TRUE(lost > 0);
  CU_ASSERT_EQUAL(st.failovers, lost); /* every lost launch moved, once */
  CU_ASSERT_EQUAL(st.fallbacks, 0);
  CU_ASSERT_EQUAL(st.failures, 0);
  CU_ASSERT_EQUAL(cpu_calls_lost, 0);
  CU_ASSERT_EQUAL(st.device_fires, n);
  maestro_graph_destroy(g);
}

void register_suites(void) {
  ADD_SUITE("engine_failover", fo_init, fo_fini,
            {"refused launches fail over to another device", test_failover_to_second_device},
            {"no failover when every device takes", test_no_failover_when_all_take},
            {"a launch lost after it was taken fails over", test_failover_after_launch});
}
