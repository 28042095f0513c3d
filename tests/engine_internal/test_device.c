/* Agents with an OpenCL kernel through a graph: kernel-only agents run on
 * the device with several launches in flight and keep order; hybrid agents
 * are placed per firing and give the same results; a runtime without
 * devices refuses a kernel-only agent at start and runs a hybrid on CPU. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "maestro.h"
#include "sched/sched.h"
#include "testmain.h"
#include "testutil.h"

#define N_MSG  200
#define N_ELEM 1024

static const maestro_port_t f32_in[] = {{"in", MAESTRO_F32, 0}};
static const maestro_port_t f32_out[] = {{"out", MAESTRO_F32, 0}};
static const maestro_karg_t scale_args[] = {MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0),
                                            MAESTRO_KARG_COUNT(0)};
static const maestro_kernel_t scale_cl = {
    .source = "__kernel void scale(__global const float *x, __global float *y, uint n)"
              "{ size_t i = get_global_id(0); if (i < n) y[i] = 2.0f * x[i]; }",
    .name = "scale",
    .args = scale_args,
    .n_args = 3,
    .range_port = 0};

/* Pushes N_MSG messages (message m holds m, m+1, ...) and checks every
 * output in order. Returns the number of bad messages. */
static int run_scale(maestro_runtime_t *rt, maestro_cpu_fn cpu, maestro_affinity_t aff,
                     maestro_agent_stats_t *st, int *start_rc) {
  maestro_graph_t *g;
  maestro_agent_t *a;
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_create(rt, "dev", &g), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_agent_add(g,
                                          &(maestro_agent_desc_t){.name = "scale",
                                                                  .in = f32_in,
                                                                  .n_in = 1,
                                                                  .out = f32_out,
                                                                  .n_out = 1,
                                                                  .cpu = cpu,
                                                                  .kernel = &scale_cl,
                                                                  .affinity = aff},
                                          &a),
                        MAESTRO_OK);
  maestro_graph_input(g, a, "in", &in);
  maestro_graph_output(g, a, "out", &out);
  *start_rc = maestro_graph_start(g);
  if (*start_rc != MAESTRO_OK) {
    maestro_graph_destroy(g);
    return 0;
  }
  int bad = 0, got = 0;
  float x[N_ELEM];
  for (int m = 0; m < N_MSG; m++) {
    for (int i = 0; i < N_ELEM; i++)
      x[i] = (float)(m + i);
    maestro_buf_t *b;
    CU_ASSERT_EQUAL_FATAL(maestro_buf_from(rt, x, sizeof x, &b), MAESTRO_OK);
    CU_ASSERT_EQUAL(maestro_input_push(in, b), MAESTRO_OK);
    /* Pop as we go once a few are in flight, so the capacities never fill. */
    while (m - got >= 16) {
      CU_ASSERT_EQUAL_FATAL(maestro_output_pop(out, &b, -1), MAESTRO_OK);
      const float *y = maestro_buf_cdata(b);
      if (maestro_buf_size(b) != sizeof x || y[0] != 2.0f * (float)got ||
          y[N_ELEM - 1] != 2.0f * (float)(got + N_ELEM - 1))
        bad++;
      got++;
      maestro_buf_release(b);
    }
  }
  maestro_input_close(in);
  maestro_buf_t *b;
  while (maestro_output_pop(out, &b, -1) == MAESTRO_OK) {
    const float *y = maestro_buf_cdata(b);
    if (maestro_buf_size(b) != sizeof x || y[0] != 2.0f * (float)got ||
        y[N_ELEM - 1] != 2.0f * (float)(got + N_ELEM - 1))
      bad++;
    got++;
    maestro_buf_release(b);
  }
  CU_ASSERT_EQUAL(got, N_MSG);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_agent_stats(a, st);
  maestro_graph_destroy(g);
  return bad;
}

static maestro_runtime_t *make_rt(const char *devices) {
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.devices = devices;
  cfg.stats = 0;
  maestro_runtime_t *rt = NULL;
  CU_ASSERT_EQUAL(maestro_runtime_create(&cfg, &rt), MAESTRO_OK);
  return rt;
}

static void kernel_only_runs_on_device_in_order(void) {
  maestro_runtime_t *rt = make_rt("all");
  if (!rt) return;
  if (maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE) == 0) {
    printf("(no OpenCL device: %s) ", maestro_runtime_cpu_only_reason(rt));
    maestro_runtime_destroy(rt);
    return;
  }
  maestro_agent_stats_t st;
  int rc;
  CU_ASSERT_EQUAL(run_scale(rt, NULL, (maestro_affinity_t){MAESTRO_ANYWHERE, -1, 0}, &st, &rc), 0);
  CU_ASSERT_EQUAL(rc, MAESTRO_OK);
  CU_ASSERT_EQUAL(st.device_fires, N_MSG);
  CU_ASSERT_EQUAL(st.fires, N_MSG);
  CU_ASSERT_EQUAL(st.place_kind, MAESTRO_PLACE_DEVICE);
  CU_ASSERT_EQUAL(st.msgs_out, N_MSG);
  maestro_runtime_destroy(rt);
}

static void hybrid_is_placed_per_firing(void) {
  maestro_runtime_t *rt = make_rt("all");
  if (!rt) return;
  maestro_agent_stats_t st;
  int rc;
  CU_ASSERT_EQUAL(
      run_scale(rt, testutil_scale2_cpu, (maestro_affinity_t){MAESTRO_ANYWHERE, -1, 0}, &st, &rc),
      0);
  CU_ASSERT_EQUAL(rc, MAESTRO_OK);
  CU_ASSERT_EQUAL(st.fires, N_MSG);
  CU_ASSERT(st.device_fires <= N_MSG);
  if (maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE) > 0)
    CU_ASSERT(st.device_fires > 0); /* dmda measures every place kind at least once */
  maestro_runtime_destroy(rt);
}

static void hybrid_pinned_to_cpu_never_launches(void) {
  maestro_runtime_t *rt = make_rt("all");
  if (!rt) return;
  maestro_agent_stats_t st;
  int rc;
  CU_ASSERT_EQUAL(
      run_scale(rt, testutil_scale2_cpu, (maestro_affinity_t){MAESTRO_ON_CPU, -1, 0}, &st, &rc), 0);
  CU_ASSERT_EQUAL(st.device_fires, 0);
  CU_ASSERT_EQUAL(st.fires, N_MSG);
  maestro_runtime_destroy(rt);
}

static void no_device_kernel_only_fails_start_hybrid_runs_on_cpu(void) {
  maestro_runtime_t *rt = make_rt("none");
  if (!rt) return;
  maestro_agent_stats_t st;
  int rc;
  run_scale(rt, NULL, (maestro_affinity_t){MAESTRO_ANYWHERE, -1, 0}, &st, &rc);
  CU_ASSERT(rc < 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(maestro_last_error(), "scale"));
  CU_ASSERT_EQUAL(
      run_scale(rt, testutil_scale2_cpu, (maestro_affinity_t){MAESTRO_ANYWHERE, -1, 0}, &st, &rc),
      0);
  CU_ASSERT_EQUAL(rc, MAESTRO_OK);
  CU_ASSERT_EQUAL(st.fires, N_MSG);
  CU_ASSERT_EQUAL(st.device_fires, 0);
  maestro_runtime_destroy(rt);
}

/* source -> kernel agent -> sink that fails at message 50 (STOP): every
 * message the source made is delivered to the sink or a dead letter; and a
 * graph destroyed with launches in flight frees everything (ASan). */
#define N_STOP 300
struct src_state {
  int n;
};

static int src_fire(maestro_fire_t *f) {
  struct src_state *s = maestro_fire_state(f);
  if (maestro_fire_seq(f) >= (uint64_t)s->n) return MAESTRO_DONE;
  maestro_buf_t *b;
  int rc = maestro_fire_alloc(f, N_ELEM * sizeof(float), &b);
  if (rc) return rc;
  float *x = maestro_buf_data(b);
  for (int i = 0; i < N_ELEM; i++)
    x[i] = (float)i;
  return maestro_fire_out(f, 0, b);
}

struct sink_state {
  long seen, fail_at; /* fail_at < 0: never fails */
};

static int sink_fire(maestro_fire_t *f) {
  struct sink_state *s = maestro_fire_state(f);
  if ((long)maestro_fire_seq(f) == s->fail_at) return MAESTRO_EINVAL;
  s->seen++;
  return MAESTRO_OK;
}

static void build_src_kernel_sink(maestro_runtime_t *rt, maestro_graph_t **g, struct src_state *ss,
                                  struct sink_state *seen) {
  maestro_agent_t *src, *k, *sink;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_create(rt, "devstop", g), MAESTRO_OK);
  maestro_agent_add(*g,
                    &(maestro_agent_desc_t){
                        .name = "src", .out = f32_out, .n_out = 1, .cpu = src_fire, .state = ss},
                    &src);
  maestro_agent_add(*g,
                    &(maestro_agent_desc_t){.name = "scale",
                                            .in = f32_in,
                                            .n_in = 1,
                                            .out = f32_out,
                                            .n_out = 1,
                                            .kernel = &scale_cl},
                    &k);
  maestro_agent_add(*g,
                    &(maestro_agent_desc_t){
                        .name = "sink", .in = f32_in, .n_in = 1, .cpu = sink_fire, .state = seen},
                    &sink);
  maestro_connect(*g, src, "out", k, "in", 4);
  maestro_connect(*g, k, "out", sink, "in", 4);
}

static void stop_and_destroy_with_launches_in_flight(void) {
  maestro_runtime_t *rt = make_rt("all");
  if (!rt) return;
  if (maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE) == 0) {
    maestro_runtime_destroy(rt);
    return;
  }
  struct src_state ss = {N_STOP};
  struct sink_state seen = {0, 50};
  maestro_graph_t *g;
  build_src_kernel_sink(rt, &g, &ss, &seen);
  maestro_output_t *dl;
  maestro_graph_dead_letters(g, &dl);
  CU_ASSERT_EQUAL(maestro_graph_run(g), MAESTRO_EAGENT);
  CU_ASSERT_PTR_NOT_NULL(strstr(maestro_last_error(), "sink"));
  long letters = 0;
  maestro_buf_t *b;
  while (maestro_output_pop(dl, &b, -1) == MAESTRO_OK) {
    letters++;
    maestro_buf_release(b);
  }
  maestro_agent_stats_t st;
  maestro_agent_stats(maestro_graph_agent(g, "src"), &st);
  /* What the source sent = what the sink took (50 good + the failed one) + the rest dead. */
  CU_ASSERT_EQUAL((long)st.msgs_out, seen.seen + letters);
  CU_ASSERT(letters >= 1);
  maestro_graph_destroy(g);
  for (int rep = 0; rep < 3; rep++) { /* cancel mid-run */
    ss.n = 1000000;
    seen = (struct sink_state){0, -1}; /* never fails: destroyed mid-run */
    build_src_kernel_sink(rt, &g, &ss, &seen);
    CU_ASSERT_EQUAL(maestro_graph_start(g), MAESTRO_OK);
    struct timespec ts = {0, 20000000};
    nanosleep(&ts, NULL);
    maestro_graph_destroy(g);
  }
  maestro_runtime_destroy(rt);
}

/* A device kept full (4 launches in flight, more input waiting) costs no
 * worker runs while it computes: the kernel agent's lanes used to hand the
 * next firing to each other (the device lane found no room and woke the CPU
 * lane, which handed it back) until a launch ended, thousands of runs of
 * the device worker and a CPU worker a second, CPU taken from the kernels
 * on a CPU device. Each message now costs a few runs: its source firing,
 * the kernel agent's lanes taking it, launching it and emitting it, the
 * sink. */
#define N_FULL    24
#define SPIN_ELEM 64
static const maestro_port_t u32_in[] = {{"in", MAESTRO_U32, 0}};
static const maestro_port_t u32_out[] = {{"out", MAESTRO_U32, 0}};
static const maestro_kernel_t spin_cl = {
    .source = "__kernel void spin(__global const uint *x, __global uint *y, uint n)"
              "{ size_t i = get_global_id(0); if (i >= n) return; uint a = x[i];"
              "  for (int k = 0; k < 200000; k++) a = a * 1664525u + 1013904223u;"
              "  y[i] = a; }",
    .name = "spin",
    .args = scale_args,
    .n_args = 3,
    .range_port = 0};

static uint32_t spin_ref(uint32_t a) {
  for (int k = 0; k < 200000; k++)
    a = a * 1664525u + 1013904223u;
  return a;
}

static int u32_src_fire(maestro_fire_t *f) {
  uint64_t m = maestro_fire_seq(f);
  if (m >= N_FULL) return MAESTRO_DONE;
  maestro_buf_t *b;
  int rc = maestro_fire_alloc(f, SPIN_ELEM * sizeof(uint32_t), &b);
  if (rc) return rc;
  uint32_t *x = maestro_buf_data(b);
  for (int i = 0; i < SPIN_ELEM; i++)
    x[i] = (uint32_t)(m * SPIN_ELEM + (uint64_t)i);
  return maestro_fire_out(f, 0, b);
}

static int u32_sink_fire(maestro_fire_t *f) {
  long *bad = maestro_fire_state(f);
  uint64_t m = maestro_fire_seq(f);
  maestro_buf_t *b = maestro_fire_in(f, 0);
  const uint32_t *y = maestro_buf_cdata(b);
  if (maestro_buf_size(b) != SPIN_ELEM * sizeof(uint32_t) ||
      y[0] != spin_ref((uint32_t)(m * SPIN_ELEM)) ||
      y[SPIN_ELEM - 1] != spin_ref((uint32_t)(m * SPIN_ELEM + SPIN_ELEM - 1)))
    (*bad)++;
  return MAESTRO_OK;
}

static unsigned all_runs(maestro_runtime_t *rt, unsigned *dev) {
  unsigned cpu = 0;
  *dev = 0;
  int ncpu = maestro_runtime_nplaces(rt, MAESTRO_PLACE_CPU);
  int ndev = maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE);
  for (int i = 0; i < ncpu; i++)
    cpu += sched_runs(rt, MAESTRO_PLACE_CPU, i);
  for (int i = 0; i < ndev; i++)
    *dev += sched_runs(rt, MAESTRO_PLACE_DEVICE, i);
  return cpu;
}

static void full_device_costs_no_runs(void) {
  maestro_runtime_t *rt = make_rt("all");
  if (!rt) return;
  if (maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE) == 0) {
    maestro_runtime_destroy(rt);
    return;
  }
  maestro_graph_t *g;
  maestro_agent_t *src, *k, *sink;
  long bad = 0;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_create(rt, "full", &g), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(
      maestro_agent_add(
          g,
          &(maestro_agent_desc_t){.name = "src", .out = u32_out, .n_out = 1, .cpu = u32_src_fire},
          &src),
      MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_agent_add(g,
                                          &(maestro_agent_desc_t){.name = "spin",
                                                                  .in = u32_in,
                                                                  .n_in = 1,
                                                                  .out = u32_out,
                                                                  .n_out = 1,
                                                                  .kernel = &spin_cl},
                                          &k),
                        MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(
      maestro_agent_add(
          g,
          &(maestro_agent_desc_t){
              .name = "sink", .in = u32_in, .n_in = 1, .cpu = u32_sink_fire, .state = &bad},
          &sink),
      MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_connect(g, src, "out", k, "in", 4), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_connect(g, k, "out", sink, "in", 4), MAESTRO_OK);
  unsigned dev0, cpu0 = all_runs(rt, &dev0);
  CU_ASSERT_EQUAL(maestro_graph_run(g), MAESTRO_OK);
  unsigned dev1, cpu1 = all_runs(rt, &dev1);
  maestro_agent_stats_t st;
  maestro_agent_stats(k, &st);
  CU_ASSERT_EQUAL(st.device_fires, N_FULL);
  CU_ASSERT_EQUAL(bad, 0);
  maestro_agent_stats(sink, &st);
  CU_ASSERT_EQUAL(st.fires, N_FULL);
  /* Before: thousands of each while the device computed. */
  CU_ASSERT(dev1 - dev0 <= 4 * N_FULL + 16);
  CU_ASSERT(cpu1 - cpu0 <= 8 * N_FULL + 32);
  if (dev1 - dev0 > 4 * N_FULL + 16 || cpu1 - cpu0 > 8 * N_FULL + 32)
    printf("(runs for %d messages: device worker %u, CPU workers %u) ", N_FULL, dev1 - dev0,
           cpu1 - cpu0);
  maestro_graph_destroy(g);
  maestro_runtime_destroy(rt);
}

void register_suites(void) {
  ADD_SUITE(
      "device", NULL, NULL,
      {"kernel_only_runs_on_device_in_order", kernel_only_runs_on_device_in_order},
      {"hybrid_is_placed_per_firing", hybrid_is_placed_per_firing},
      {"hybrid_pinned_to_cpu_never_launches", hybrid_pinned_to_cpu_never_launches},
      {"no_device_kernel_only_fails_start", no_device_kernel_only_fails_start_hybrid_runs_on_cpu},
      {"stop_and_destroy_with_launches_in_flight", stop_and_destroy_with_launches_in_flight},
      {"full_device_costs_no_runs", full_device_costs_no_runs});
}
