/* A hybrid agent whose firings all go to a device with more input waiting
 * than the device takes at once (runtime/core/window.c): while the device
 * is full, its lanes sleep until a launch completes. They used to wake each
 * other without end (the device lane, full, woke the agent's CPU lane,
 * which chose the device again and woke the device lane), tens of
 * thousands of runs taking the CPUs from the device's own threads. Counted
 * here by the lanes' runs: a few per firing. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/runtime.h"
#include "core/run.h"
#include "maestro.h"
#include "sched/perf.h"
#include "testmain.h"

#define N_MSG  32
#define N_ELEM 64
#define ITERS  60000u /* about 5 ms a launch on PoCL: the device stays full */

static const maestro_port_t u32_in[] = {{"in", MAESTRO_U32, 0}};
static const maestro_port_t u32_out[] = {{"out", MAESTRO_U32, 0}};
static const maestro_karg_t lcg_args[] = {MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0),
                                          MAESTRO_KARG_COUNT(0), MAESTRO_KARG_U32(ITERS)};
static const maestro_kernel_t lcg_cl = {
    .source = "__kernel void lcg(__global const uint *x, __global uint *y, uint n, uint k)"
              "{ size_t i = get_global_id(0); if (i >= n) return; uint v = x[i];"
              "  for (uint j = 0; j < k; j++) v = v * 1664525u + 1013904223u; y[i] = v; }",
    .name = "lcg",
    .args = lcg_args,
    .n_args = 4,
    .range_port = 0};

static uint32_t lcg(uint32_t v) {
  for (unsigned j = 0; j < ITERS; j++)
    v = v * 1664525u + 1013904223u;
  return v;
}

static int lcg_cpu(maestro_fire_t *f) {
  maestro_buf_t *in = maestro_fire_in(f, 0), *out;
  size_t n = maestro_buf_size(in) / sizeof(uint32_t);
  int rc = maestro_fire_alloc(f, n * sizeof(uint32_t), &out);
  if (rc) return rc;
  const uint32_t *x = maestro_buf_cdata(in);
  uint32_t *y = maestro_buf_data(out);
  for (size_t i = 0; i < n; i++)
    y[i] = lcg(x[i]);
  return maestro_fire_out(f, 0, out);
}

/* Models that send every firing of agent `name` to the device: calibrated,
 * the CPU at 10 s a firing (never worth it, and not explored in N_MSG
 * firings). */
static void seed_models(maestro_runtime_t *rt, const char *name) {
  char arch[PERF_NAME_MAX];
  CU_ASSERT_EQUAL_FATAL(perf_place_arch(rt, MAESTRO_PLACE_CPU, 0, arch, sizeof arch), MAESTRO_OK);
  struct perf_hist *cpu = perf_hist_get(rt->perf, name, arch);
  CU_ASSERT_EQUAL_FATAL(perf_place_arch(rt, MAESTRO_PLACE_DEVICE, 0, arch, sizeof arch),
                        MAESTRO_OK);
  struct perf_hist *dev = perf_hist_get(rt->perf, name, arch);
  CU_ASSERT_FATAL(cpu && dev);
  for (int i = 0; i < 10; i++) {
    perf_record(cpu, N_ELEM * sizeof(uint32_t), 10000000000ull);
    perf_record(dev, N_ELEM * sizeof(uint32_t), 1000);
  }
}

/* Pushes N_MSG messages at once, checks every output; returns the lanes'
 * runs and sets *dev to the firings on a device. */
static uint64_t run_full_device(maestro_runtime_t *rt, const char *name, maestro_affinity_t aff,
                                int stateless, uint64_t *dev) {
  if (aff.pref == MAESTRO_ANYWHERE) seed_models(rt, name);
  maestro_graph_t *g;
  maestro_agent_t *a;
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_create(rt, "full", &g), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(
      maestro_agent_add(g,
                        &(maestro_agent_desc_t){.name = name,
                                                .in = u32_in,
                                                .n_in = 1,
                                                .out = u32_out,
                                                .n_out = 1,
                                                .cpu = lcg_cpu,
                                                .kernel = &lcg_cl,
                                                .affinity = aff,
                                                .flags = stateless ? MAESTRO_STATELESS : 0u},
                        &a),
      MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_input(g, a, "in", &in), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_output(g, a, "out", &out), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_start(g), MAESTRO_OK);
  uint32_t x[N_ELEM];
  for (int m = 0; m < N_MSG; m++) {
    for (int i = 0; i < N_ELEM; i++)
      x[i] = (uint32_t)(m * N_ELEM + i);
    maestro_buf_t *b;
    CU_ASSERT_EQUAL_FATAL(maestro_buf_from(rt, x, sizeof x, &b), MAESTRO_OK);
    CU_ASSERT_EQUAL_FATAL(maestro_input_push(in, b), MAESTRO_OK);
  }
  maestro_input_close(in);
  int got = 0, bad = 0;
  maestro_buf_t *b;
  while (maestro_output_pop(out, &b, -1) == MAESTRO_OK) {
    const uint32_t *y = maestro_buf_cdata(b);
    if (maestro_buf_size(b) != sizeof x || y[0] != lcg((uint32_t)(got * N_ELEM)) ||
        y[N_ELEM - 1] != lcg((uint32_t)(got * N_ELEM + N_ELEM - 1)))
      bad++;
    got++;
    maestro_buf_release(b);
  }
  CU_ASSERT_EQUAL(got, N_MSG);
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  uint64_t runs = win_lane_runs((struct maestro_agent *)a);
  maestro_agent_stats_t st;
  maestro_agent_stats(a, &st);
  *dev = st.device_fires;
  maestro_graph_destroy(g);
  return runs;
}

/* Each firing: one run of the lane that takes it, one of the device lane
 * at its completion, one of the CPU lane woken by the push; a few more
 * where wake-ups cross. Before the fix: thousands. */
#define RUNS_MAX (4 * N_MSG)

static void full_device_lanes_sleep(void) {
  static const struct {
    maestro_pref_t pref;
    int stateless;
  } cases[] = {
      {MAESTRO_ON_DEVICE, 1}, {MAESTRO_ANYWHERE, 1}, {MAESTRO_ON_DEVICE, 0}, {MAESTRO_ANYWHERE, 0}};
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.stats = 0;
  cfg.perf_dir = "";
  maestro_runtime_t *rt;
  CU_ASSERT_EQUAL_FATAL(maestro_runtime_create(&cfg, &rt), MAESTRO_OK);
  if (maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE) == 0) {
    printf("(no OpenCL device: %s) ", maestro_runtime_cpu_only_reason(rt));
    maestro_runtime_destroy(rt);
    return;
  }
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char name[16];
    snprintf(name, sizeof name, "lcg%zu", i); /* models of its own */
    uint64_t dev;
    uint64_t runs = run_full_device(rt, name, (maestro_affinity_t){cases[i].pref, -1, 0},
                                    cases[i].stateless, &dev);
    if (runs > RUNS_MAX || dev != N_MSG)
      printf("(%s %s: %llu lane runs, %llu device firings) ",
             cases[i].pref == MAESTRO_ON_DEVICE ? "on-device" : "anywhere",
             cases[i].stateless ? "stateless" : "stateful", (unsigned long long)runs,
             (unsigned long long)dev);
    CU_ASSERT_EQUAL(dev, N_MSG);
    CU_ASSERT(runs <= RUNS_MAX);
  }
  maestro_runtime_destroy(rt);
}

void register_suites(void) {
  ADD_SUITE("window_wake", NULL, NULL, {"full_device_lanes_sleep", full_device_lanes_sleep});
}
