/* Issue 13: MAESTRO_FAULTS (base/fault.h) and the misuse a debug run must
 * name: a firing sending its borrowed input without retaining it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/runtime.h"
#include "engine_util.h"
#include "mem/pool.h"

static int misuse_rc;
static char misuse_err[512];

/* Sends its input as it is (no retain): refused, the input untouched. */
static int send_borrowed(maestro_fire_t *f) {
  int rc = maestro_fire_out(f, 0, maestro_fire_in(f, 0));
  if (!misuse_rc) {
    misuse_rc = rc;
    snprintf(misuse_err, sizeof misuse_err, "%s", maestro_last_error());
  }
  return MAESTRO_OK;
}

static void test_borrowed_input(void) {
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "borrow", &g) == MAESTRO_OK);
  uint64_t n = 50;
  maestro_agent_t *src = eng_add_source(g, "src", eng_count_source, &n);
  maestro_agent_t *bad = eng_add(g, "forwarder", send_borrowed, NULL);
  maestro_agent_t *ok = eng_add(g, "passer", eng_pass, NULL);
  CU_ASSERT_EQUAL(maestro_connect(g, src, "out", ok, "in", 4), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, ok, "out", bad, "in", 4), MAESTRO_OK);
  maestro_output_t *out;
  CU_ASSERT_EQUAL(maestro_graph_output(g, bad, "out", &out), MAESTRO_OK);
  struct mem_stats before, after;
  mem_get_stats(eng_rt, &before);
  CU_ASSERT_EQUAL(maestro_graph_start(g), MAESTRO_OK);
  uint64_t vals[64];
  CU_ASSERT_EQUAL(eng_drain(out, vals, 64), 0); /* every send refused: nothing queued */
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  mem_get_stats(eng_rt, &after);
  CU_ASSERT_EQUAL(misuse_rc, MAESTRO_EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(misuse_err, "agent 'forwarder'"));
  CU_ASSERT_PTR_NOT_NULL(strstr(misuse_err, "port 'out'"));
  CU_ASSERT_PTR_NOT_NULL(strstr(misuse_err, "input 'in'"));
  CU_ASSERT_EQUAL(after.overreleased, before.overreleased); /* the input was released once */
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(bad, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.fires, 50);
  CU_ASSERT_EQUAL(st.msgs_out, 0);
  maestro_graph_destroy(g);
}

static void test_faults_config(void) {
  maestro_config_t cfg;
  setenv("MAESTRO_FAULTS", "alloc=0.5,seed=7", 1);
  int rc = maestro_config_defaults(&cfg);
#ifdef MAESTRO_FAULT_INJECTION
  CU_ASSERT_EQUAL(rc, MAESTRO_OK);
  CU_ASSERT_STRING_EQUAL(cfg.faults, "alloc=0.5,seed=7");
  setenv("MAESTRO_FAULTS", "alloc=2", 1);
  CU_ASSERT_EQUAL(maestro_config_defaults(&cfg), MAESTRO_EINVAL);
  CU_ASSERT(eng_err_names("MAESTRO_FAULTS='alloc=2'"));
  setenv("MAESTRO_FAULTS", "disk=0.1", 1);
  CU_ASSERT_EQUAL(maestro_config_defaults(&cfg), MAESTRO_EINVAL);
  CU_ASSERT(eng_err_names("MAESTRO_FAULTS='disk=0.1'"));
  setenv("MAESTRO_FAULTS", "fire=0.1,", 1);
  CU_ASSERT_EQUAL(maestro_config_defaults(&cfg), MAESTRO_OK);
#else
  CU_ASSERT_EQUAL(rc, MAESTRO_EINVAL);
  CU_ASSERT(eng_err_names("this build has no fault injection"));
  maestro_config_defaults(&cfg);
  cfg.faults = "fire=0.1";
  maestro_runtime_t *rt = NULL;
  CU_ASSERT_EQUAL(maestro_runtime_create(&cfg, &rt), MAESTRO_EINVAL);
  CU_ASSERT(eng_err_names("cfg.faults='fire=0.1': this build has no fault injection"));
#endif
  unsetenv("MAESTRO_FAULTS");
  CU_ASSERT_EQUAL(maestro_config_defaults(&cfg), MAESTRO_OK);
  CU_ASSERT_PTR_NULL(cfg.faults);
}

#ifdef MAESTRO_FAULT_INJECTION
static maestro_runtime_t *faulty(const char *spec) {
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.devices = "none";
  cfg.stats = 0;
  cfg.ncpu = 1;
  cfg.faults = spec;
  maestro_runtime_t *rt = NULL;
  CU_ASSERT_FATAL(maestro_runtime_create(&cfg, &rt) == MAESTRO_OK);
  return rt;
}

/* Every allocation fails, as out of memory would. */
static void test_alloc_fault(void) {
  maestro_runtime_t *rt = faulty("alloc=1,seed=1");
  uint64_t v = 3;
  maestro_buf_t *b = NULL;
  CU_ASSERT_EQUAL(maestro_buf_from(rt, &v, sizeof v, &b), MAESTRO_ENOMEM);
  CU_ASSERT_PTR_NULL(b);
  CU_ASSERT_EQUAL(fault_count(&rt->fault, FAULT_ALLOC), 1);
  CU_ASSERT_EQUAL(fault_count(&rt->fault, FAULT_FIRE), 0);
  maestro_runtime_destroy(rt);
}

static atomic_int calls;
static int counted_pass(maestro_fire_t *f) {
  atomic_fetch_add(&calls, 1);
  return eng_pass(f);
}

/* Every firing fails before it runs: the supervisor (SKIP) dead-letters
 * each input with the injected failure's message naming the agent. */
static void test_fire_fault(void) {
  maestro_runtime_t *rt = faulty("fire=1,seed=1");
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(rt, "fire", &g) == MAESTRO_OK);
  maestro_agent_t *a = NULL;
  CU_ASSERT_FATAL(
      maestro_agent_add(g,
                        &(maestro_agent_desc_t){.name = "victim",
                                                .in = eng_u64_in,
                                                .n_in = 1,
                                                .out = eng_u64_out,
                                                .n_out = 1,
                                                .cpu = counted_pass,
                                                .supervisor.on_fail = MAESTRO_FAIL_SKIP},
                        &a) == MAESTRO_OK);
  maestro_input_t *in;
  maestro_output_t *dl;
  CU_ASSERT_EQUAL(maestro_graph_input(g, a, "in", &in), MAESTRO_OK);
  maestro_output_t *out;
  CU_ASSERT_EQUAL(maestro_graph_output(g, a, "out", &out), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_dead_letters(g, &dl), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_start(g), MAESTRO_OK);
  for (uint64_t i = 0; i < 10; i++)
    CU_ASSERT_EQUAL(maestro_input_push(in, eng_msg(rt, i)), MAESTRO_OK);
  maestro_input_close(in);
  long dead = 0;
  for (;;) {
    maestro_buf_t *b;
    maestro_letter_t w = {0};
    if (maestro_output_pop_letter(dl, &b, &w, 10000) != MAESTRO_OK) break;
    CU_ASSERT_EQUAL(eng_val(b), (uint64_t)dead);
    CU_ASSERT_EQUAL(w.status, MAESTRO_EAGENT);
    CU_ASSERT_PTR_NOT_NULL(w.reason && strstr(w.reason, "agent 'victim': injected"));
    maestro_buf_release(b);
    dead++;
  }
  CU_ASSERT_EQUAL(dead, 10);
  uint64_t vals[16];
  CU_ASSERT_EQUAL(eng_drain(out, vals, 16), 0);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(atomic_load(&calls), 0);
  CU_ASSERT_EQUAL(fault_count(&rt->fault, FAULT_FIRE), 10);
  maestro_graph_destroy(g);
  maestro_runtime_destroy(rt);
}
#endif

/* A buffer released twice inside a firing: the second release is refused and
 * reported; in debug builds (NDEBUG unset) the report names the agent. */
static char dbl_err[512];
static int release_twice(maestro_fire_t *f) {
  maestro_buf_t *b;
  int rc = maestro_fire_alloc(f, 64, &b);
  if (rc) return rc;
  maestro_buf_release(b);
  maestro_buf_release(b); /* the misuse */
  snprintf(dbl_err, sizeof dbl_err, "%s", maestro_last_error());
  return maestro_fire_out(f, 0, maestro_buf_retain(maestro_fire_in(f, 0)));
}

static void test_double_release_names_agent(void) {
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "dbl", &g) == MAESTRO_OK);
  maestro_agent_t *a = eng_add(g, "twice_released", release_twice, NULL);
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_input_push(in, eng_msg(eng_rt, 7)), MAESTRO_OK);
  maestro_input_close(in);
  uint64_t v = 0;
  CU_ASSERT_EQUAL(eng_drain(out, &v, 1), 1);
  CU_ASSERT_EQUAL(v, 7);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_graph_destroy(g);
  CU_ASSERT_PTR_NOT_NULL(strstr(dbl_err, "already released"));
#ifndef NDEBUG
  CU_ASSERT_PTR_NOT_NULL(strstr(dbl_err, "agent 'twice_released'"));
#endif
}

void register_suites(void) {
  ADD_SUITE("engine_faults", eng_suite_init, eng_suite_fini,
            {"a borrowed input sent without a retain", test_borrowed_input},
            {"MAESTRO_FAULTS", test_faults_config},
            {"a double release inside a firing names the agent", test_double_release_names_agent});
#ifdef MAESTRO_FAULT_INJECTION
  ADD_SUITE("engine_faults_injected", NULL, NULL, {"alloc faults", test_alloc_fault},
            {"fire faults", test_fire_fault});
#endif
}
