/* A stateful hybrid agent whose launch is refused at enqueue (its kernel's
 * input check) falls back to its CPU function on its own CPU lane, never on
 * the device worker beside a CPU firing of the same agent: its state is
 * touched by one firing at a time (checked here, and by TSan in the tsan
 * preset), outputs keep input order, nothing is lost. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "maestro.h"
#include "testmain.h"

#define N_MSG 300

static const maestro_port_t f32_in[] = {{"in", MAESTRO_F32, 0}};
static const maestro_port_t f32_out[] = {{"out", MAESTRO_F32, 0}};
static const maestro_karg_t args[] = {MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0),
                                      MAESTRO_KARG_COUNT(0)};

/* The device takes only messages of an even element count. */
static int even_only(maestro_kcheck_t *c) {
  if (c->count[0] % 2 == 0) return MAESTRO_OK;
  snprintf(c->why, c->why_len, "input 0 '%s' holds %zu elements, odd", c->ports[0], c->count[0]);
  return MAESTRO_EINVAL;
}

static const maestro_kernel_t twice_cl = {
    .source = "__kernel void twice(__global const float *x, __global float *y, uint n)"
              "{ size_t i = get_global_id(0); if (i < n) y[i] = 2.0f * x[i]; }",
    .name = "twice",
    .args = args,
    .n_args = 3,
    .range_port = 0,
    .check = even_only};

struct state {
  atomic_int inside, overlaps;
  long fires; /* plain on purpose: two firings at once are a data race TSan reports */
};

static int twice_cpu(maestro_fire_t *f) {
  struct state *st = maestro_fire_state(f);
  if (atomic_fetch_add(&st->inside, 1) != 0) atomic_fetch_add(&st->overlaps, 1);
  st->fires++;
  maestro_buf_t *in = maestro_fire_in(f, 0);
  size_t n = maestro_buf_size(in) / sizeof(float);
  maestro_buf_t *out;
  int rc = maestro_fire_alloc(f, n * sizeof(float), &out);
  if (rc == MAESTRO_OK) {
    const float *x = maestro_buf_cdata(in);
    float *y = maestro_buf_data(out);
    /* Slow enough that device firings and refusals happen meanwhile. */
    for (int rep = 0; rep < 3000; rep++)
      for (size_t i = 0; i < n; i++)
        y[i] = 2.0f * x[i];
    rc = maestro_fire_out(f, 0, out);
  }
  atomic_fetch_sub(&st->inside, 1);
  return rc;
}

static void refused_launch_falls_back_serially(void) {
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.sched = "eager"; /* a device while it has room, else the CPU: both at once */
  cfg.stats = 0;
  maestro_runtime_t *rt;
  CU_ASSERT_EQUAL_FATAL(maestro_runtime_create(&cfg, &rt), MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE) >= 1);
  static struct state st;
  memset(&st, 0, sizeof st);
  maestro_graph_t *g;
  maestro_agent_t *a;
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_create(rt, "fb", &g), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_agent_add(g,
                                          &(maestro_agent_desc_t){.name = "twice",
                                                                  .in = f32_in,
                                                                  .n_in = 1,
                                                                  .out = f32_out,
                                                                  .n_out = 1,
                                                                  .cpu = twice_cpu,
                                                                  .kernel = &twice_cl,
                                                                  .state = &st},
                                          &a),
                        MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_input(g, a, "in", &in), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_output(g, a, "out", &out), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_start(g), MAESTRO_OK);
  int got = 0, bad = 0;
  float x[65];
  maestro_buf_t *b;
  for (int m = 0; m < N_MSG; m++) {
    size_t n = 64 + (size_t)(m % 3 == 0); /* every third is odd: refused by the device */
    for (size_t i = 0; i < n; i++)
      x[i] = (float)(m + (int)i);
    CU_ASSERT_EQUAL_FATAL(maestro_buf_from(rt, x, n * sizeof(float), &b), MAESTRO_OK);
    CU_ASSERT_EQUAL(maestro_input_push(in, b), MAESTRO_OK);
    if (m == N_MSG - 1) maestro_input_close(in);
    /* Pop as we go, then everything once closed. */
    while (m - got >= 32 || m == N_MSG - 1) {
      if (maestro_output_pop(out, &b, 20000) != MAESTRO_OK) break;
      const float *y = maestro_buf_cdata(b);
      size_t want = 64 + (size_t)(got % 3 == 0);
      if (maestro_buf_size(b) != want * sizeof(float) || y[0] != 2.0f * (float)got ||
          y[want - 1] != 2.0f * (float)(got + (int)want - 1))
        bad++;
      maestro_buf_release(b);
      got++;
    }
  }
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_agent_stats_t s;
  CU_ASSERT_EQUAL(maestro_agent_stats(a, &s), MAESTRO_OK);
  CU_ASSERT_EQUAL(got, N_MSG);
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL(atomic_load(&st.overlaps), 0);
  CU_ASSERT_EQUAL((uint64_t)st.fires + s.device_fires, (uint64_t)N_MSG);
  CU_ASSERT(s.fallbacks >= 1); /* some odd message went to the device and was refused */
  CU_ASSERT(s.device_fires >= 1);
  printf("\n  fallbacks %llu device fires %llu cpu fires %ld\n", (unsigned long long)s.fallbacks,
         (unsigned long long)s.device_fires, st.fires);
  maestro_graph_destroy(g);
  maestro_runtime_destroy(rt);
}

void register_suites(void) {
  ADD_SUITE("hybrid_fallback", NULL, NULL,
            {"refused launch falls back serially", refused_launch_falls_back_serially});
}
