/* Issue 13: injected device launch and transfer failures (MAESTRO_FAULTS,
 * Debug builds) on the real PoCL device: a hybrid agent falls back to its
 * CPU implementation for every message, nothing lost, each fallback
 * counted. */
#include <stdio.h>
#include <string.h>

#include "base/runtime.h"
#include "maestro.h"
#include "testmain.h"
#include "testutil.h"

#ifdef MAESTRO_FAULT_INJECTION
static const maestro_port_t f32_in[] = {{"in", MAESTRO_F32, 0}};
static const maestro_port_t f32_out[] = {{"out", MAESTRO_F32, 0}};
static const maestro_karg_t x2_args[] = {MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0),
                                         MAESTRO_KARG_COUNT(0), MAESTRO_KARG_F32(2.0f)};
static const maestro_kernel_t x2_kernel = {
    .source = "__kernel void scale(__global const float *x, __global float *y, uint n, float a)"
              "{ size_t i = get_global_id(0); if (i < n) y[i] = a * x[i]; }",
    .name = "scale",
    .args = x2_args,
    .n_args = 4,
    .range_port = 0};

enum { MSGS = 8, N = 1000 };

/* Runs MSGS messages through one hybrid x2 agent on device 0 under `spec`;
 * checks every result and returns the runtime's fault count of `kind`. */
static void run_hybrid(const char *spec, enum fault_kind kind) {
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.devices = "0";
  cfg.zero_copy = 0; /* copies to the device: transfers */
  cfg.stats = 0;
  cfg.faults = spec;
  maestro_runtime_t *rt = NULL;
  int rc = maestro_runtime_create(&cfg, &rt);
  if (rc) fprintf(stderr, "runtime: %s\n", maestro_last_error());
  CU_ASSERT_FATAL(rc == MAESTRO_OK);
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(rt, "faults", &g) == MAESTRO_OK);
  maestro_agent_desc_t d = {.name = "x2",
                            .in = f32_in,
                            .n_in = 1,
                            .out = f32_out,
                            .n_out = 1,
                            .cpu = testutil_scale2_cpu,
                            .kernel = &x2_kernel,
                            .affinity = {MAESTRO_ON_DEVICE, 0, 0}};
  maestro_agent_t *a;
  maestro_input_t *src;
  maestro_output_t *dst;
  CU_ASSERT_FATAL(maestro_agent_add(g, &d, &a) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &src) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &dst) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  for (int m = 0; m < MSGS; m++) {
    maestro_buf_t *b;
    CU_ASSERT_FATAL(maestro_buf_create(rt, N * sizeof(float), &b) == MAESTRO_OK);
    float *x = maestro_buf_data(b);
    for (int i = 0; i < N; i++)
      x[i] = (float)(m + i);
    CU_ASSERT_EQUAL(maestro_input_push(src, b), MAESTRO_OK);
  }
  maestro_input_close(src);
  int good = 0, m = 0;
  maestro_buf_t *b;
  while (maestro_output_pop(dst, &b, 20000) == MAESTRO_OK) {
    const float *y = maestro_buf_cdata(b);
    int ok = maestro_buf_size(b) == N * sizeof(float);
    for (int i = 0; ok && i < N; i++)
      ok = y[i] == 2.0f * (float)(m + i);
    good += ok;
    m++;
    maestro_buf_release(b);
  }
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(good, MSGS);
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(a, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.device_fires, 0);
  CU_ASSERT_EQUAL(st.fallbacks, MSGS);
  CU_ASSERT_EQUAL(st.failures, 0);
  printf(" [%llu faults, %llu fallbacks]", fault_count(&rt->fault, kind),
         (unsigned long long)st.fallbacks);
  CU_ASSERT_EQUAL(fault_count(&rt->fault, kind), MSGS); /* one launch per message, no retry */
  maestro_graph_destroy(g);
  maestro_runtime_destroy(rt);
}

static void test_launch_faults(void) {
  run_hybrid("launch=1,seed=5", FAULT_LAUNCH);
}

static void test_xfer_faults(void) {
  run_hybrid("xfer=1,seed=5", FAULT_XFER);
}
#endif

static void test_release_refuses(void) {
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.devices = "none";
  cfg.faults = "launch=0.5";
  maestro_runtime_t *rt = NULL;
  int rc = maestro_runtime_create(&cfg, &rt);
#ifdef MAESTRO_FAULT_INJECTION
  CU_ASSERT_EQUAL(rc, MAESTRO_OK);
#else
  CU_ASSERT_EQUAL(rc, MAESTRO_EINVAL);
#endif
  maestro_runtime_destroy(rt);
}

void register_suites(void) {
  ADD_SUITE("ocl faults", NULL, NULL, {"only Debug builds inject", test_release_refuses});
#ifdef MAESTRO_FAULT_INJECTION
  ADD_SUITE("ocl faults injected", NULL, NULL, {"launch faults: CPU fallback", test_launch_faults},
            {"transfer faults: CPU fallback", test_xfer_faults});
#endif
}
