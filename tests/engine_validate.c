/* Every validation error: the status, and a message naming the culprit. */
#include <stdlib.h>

#include "engine_util.h"

static const maestro_port_t f32_in[] = {{"in", MAESTRO_F32, 0}};
static const maestro_port_t dup_ports[] = {{"x", MAESTRO_I64, 0}, {"x", MAESTRO_I64, 0}};

static maestro_graph_t *new_graph(const char *name) {
  maestro_graph_t *g = NULL;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, name, &g) == MAESTRO_OK);
  return g;
}

static void test_null_arguments(void) {
  maestro_graph_t *g = NULL;
  CU_ASSERT_EQUAL(maestro_graph_create(NULL, "x", &g), MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(maestro_graph_create(eng_rt, "x", NULL), MAESTRO_EINVAL);
  g = new_graph("nulls");
  maestro_agent_t *a = NULL;
  CU_ASSERT_EQUAL(
      maestro_agent_add(NULL, &(maestro_agent_desc_t){.name = "a", .cpu = eng_pass}, &a),
      MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(maestro_agent_add(g, NULL, &a), MAESTRO_EINVAL);
  /* No name. */
  CU_ASSERT_EQUAL(
      maestro_agent_add(
          g,
          &(maestro_agent_desc_t){
              .in = eng_u64_in, .n_in = 1, .out = eng_u64_out, .n_out = 1, .cpu = eng_pass},
          &a),
      MAESTRO_EINVAL);
  /* No implementation: the message names the agent. */
  CU_ASSERT_EQUAL(
      maestro_agent_add(
          g,
          &(maestro_agent_desc_t){
              .name = "lazy", .in = eng_u64_in, .n_in = 1, .out = eng_u64_out, .n_out = 1},
          &a),
      MAESTRO_EINVAL);
  CU_ASSERT(eng_err_names("lazy"));
  /* n_in > 0 with no port array. */
  CU_ASSERT_EQUAL(
      maestro_agent_add(
          g,
          &(maestro_agent_desc_t){
              .name = "portless", .n_in = 1, .out = eng_u64_out, .n_out = 1, .cpu = eng_pass},
          &a),
      MAESTRO_EINVAL);
  CU_ASSERT(eng_err_names("portless"));
  /* Negative port count. */
  CU_ASSERT_EQUAL(
      maestro_agent_add(g,
                        &(maestro_agent_desc_t){
                            .name = "negative", .in = eng_u64_in, .n_in = -1, .cpu = eng_pass},
                        &a),
      MAESTRO_EINVAL);

  maestro_agent_t *p = eng_add(g, "p", eng_pass, NULL);
  maestro_agent_t *q = eng_add(g, "q", eng_pass, NULL);
  CU_ASSERT_EQUAL(maestro_connect(NULL, p, "out", q, "in", 1), MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(maestro_connect(g, NULL, "out", q, "in", 1), MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(maestro_connect(g, p, "out", NULL, "in", 1), MAESTRO_EINVAL);
  CU_ASSERT_NOT_EQUAL(maestro_connect(g, p, NULL, q, "in", 1), MAESTRO_OK);
  CU_ASSERT_NOT_EQUAL(maestro_connect(g, p, "out", q, NULL, 1), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, p, "out", q, "in", -1), MAESTRO_EINVAL);
  CU_ASSERT_NOT_EQUAL(maestro_connect_ports(g, p, 5, q, 0, 1), MAESTRO_OK);
  CU_ASSERT_NOT_EQUAL(maestro_connect_ports(g, p, 0, q, -1, 1), MAESTRO_OK);
  maestro_input_t *in = NULL;
  maestro_output_t *out = NULL;
  CU_ASSERT_EQUAL(maestro_graph_input(NULL, p, "in", &in), MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(maestro_graph_input(g, p, "in", NULL), MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(maestro_graph_output(g, NULL, "out", &out), MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(maestro_graph_dead_letters(NULL, &out), MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(maestro_graph_start(NULL), MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(maestro_graph_wait(NULL), MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(maestro_input_push(NULL, NULL), MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(maestro_input_close(NULL), MAESTRO_EINVAL);
  maestro_buf_t *b = NULL;
  CU_ASSERT_EQUAL(maestro_output_pop(NULL, &b, 0), MAESTRO_EINVAL);
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(NULL, &st), MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(maestro_agent_stats(p, NULL), MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(maestro_graph_write_dot(NULL, stdout), MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(maestro_graph_write_dot(g, NULL), MAESTRO_EINVAL);
  CU_ASSERT_PTR_NULL(maestro_graph_agent(g, "nobody"));
  CU_ASSERT_PTR_EQUAL(maestro_graph_agent(g, "p"), p);
  CU_ASSERT_STRING_EQUAL(maestro_agent_name(q), "q");
  maestro_graph_destroy(NULL);
  maestro_graph_destroy(g);
}

static void test_duplicate_names(void) {
  maestro_graph_t *g = new_graph("dups");
  eng_add(g, "twin", eng_pass, NULL);
  maestro_agent_t *a = NULL;
  CU_ASSERT_EQUAL(maestro_agent_add(g,
                                    &(maestro_agent_desc_t){.name = "twin",
                                                            .in = eng_u64_in,
                                                            .n_in = 1,
                                                            .out = eng_u64_out,
                                                            .n_out = 1,
                                                            .cpu = eng_pass},
                                    &a),
                  MAESTRO_EGRAPH);
  CU_ASSERT(eng_err_names("twin"));
  CU_ASSERT_EQUAL(maestro_agent_add(g,
                                    &(maestro_agent_desc_t){.name = "doubled",
                                                            .in = dup_ports,
                                                            .n_in = 2,
                                                            .out = eng_u64_out,
                                                            .n_out = 1,
                                                            .cpu = eng_pass},
                                    &a),
                  MAESTRO_EGRAPH);
  CU_ASSERT(eng_err_names("doubled"));
  CU_ASSERT(eng_err_names("x"));
  maestro_graph_destroy(g);
}

static void test_unknown_port(void) {
  maestro_graph_t *g = new_graph("unknown");
  maestro_agent_t *p = eng_add(g, "producer", eng_pass, NULL);
  maestro_agent_t *c = eng_add(g, "consumer", eng_pass, NULL);
  CU_ASSERT_EQUAL(maestro_connect(g, p, "outt", c, "in", 1), MAESTRO_EGRAPH);
  CU_ASSERT(eng_err_names("outt"));
  CU_ASSERT(eng_err_names("producer"));
  CU_ASSERT_EQUAL(maestro_connect(g, p, "out", c, "inn", 1), MAESTRO_EGRAPH);
  CU_ASSERT(eng_err_names("inn"));
  CU_ASSERT(eng_err_names("consumer"));
  /* An input port used as an output and vice versa. */
  CU_ASSERT_EQUAL(maestro_connect(g, p, "in", c, "out", 1), MAESTRO_EGRAPH);
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_EQUAL(maestro_graph_input(g, p, "nope", &in), MAESTRO_EGRAPH);
  CU_ASSERT(eng_err_names("nope"));
  CU_ASSERT_EQUAL(maestro_graph_output(g, c, "nada", &out), MAESTRO_EGRAPH);
  CU_ASSERT(eng_err_names("nada"));
  maestro_graph_destroy(g);
}

static void test_type_mismatch(void) {
  maestro_graph_t *g = new_graph("types");
  maestro_agent_t *p = eng_add(g, "ints", eng_pass, NULL);
  maestro_agent_t *f = NULL;
  CU_ASSERT_EQUAL(
      maestro_agent_add(
          g, &(maestro_agent_desc_t){.name = "floats", .in = f32_in, .n_in = 1, .cpu = eng_pass},
          &f),
      MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, p, "out", f, "in", 1), MAESTRO_ETYPE);
  CU_ASSERT(eng_err_names("floats"));
  CU_ASSERT(eng_err_names("ints"));
  CU_ASSERT_EQUAL(maestro_connect_ports(g, p, 0, f, 0, 1), MAESTRO_ETYPE);
  maestro_graph_destroy(g);
}

static void test_unconnected_input(void) {
  maestro_graph_t *g = new_graph("unconnected");
  maestro_agent_t *a = eng_add(g, "fed", eng_pass, NULL);
  maestro_agent_t *b = eng_add(g, "starved", eng_pass, NULL);
  maestro_input_t *in;
  CU_ASSERT_EQUAL(maestro_graph_input(g, a, "in", &in), MAESTRO_OK);
  (void)b;
  CU_ASSERT_EQUAL(maestro_graph_start(g), MAESTRO_EGRAPH);
  CU_ASSERT(eng_err_names("starved"));
  CU_ASSERT(eng_err_names("in"));
  /* Nothing ran: the graph can be fixed and started. */
  CU_ASSERT_EQUAL(maestro_connect(g, a, "out", b, "in", 0), MAESTRO_OK);
  maestro_output_t *out;
  CU_ASSERT_EQUAL(maestro_graph_output(g, b, "out", &out), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_start(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(eng_feed(eng_rt, in, 10), MAESTRO_OK);
  CU_ASSERT_EQUAL(eng_drain(out, NULL, 0), 10);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_graph_destroy(g);
}

static void test_after_start(void) {
  maestro_graph_t *g = new_graph("started");
  maestro_agent_t *a = eng_add(g, "a", eng_pass, NULL);
  maestro_agent_t *b = eng_add(g, "b", eng_pass, NULL);
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_EQUAL(maestro_graph_input(g, a, "in", &in), MAESTRO_OK);
  /* Pushing before the start is refused, and the caller's buffer handed over. */
  CU_ASSERT_EQUAL(maestro_input_push(in, eng_msg(eng_rt, 1)), MAESTRO_ESTATE);
  CU_ASSERT_EQUAL(maestro_connect(g, a, "out", b, "in", 0), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_output(g, b, "out", &out), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_start(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_start(g), MAESTRO_ESTATE);
  CU_ASSERT_EQUAL(maestro_connect(g, a, "out", b, "in", 0), MAESTRO_ESTATE);
  maestro_agent_t *late = NULL;
  CU_ASSERT_EQUAL(
      maestro_agent_add(
          g, &(maestro_agent_desc_t){.name = "late", .in = eng_u64_in, .n_in = 1, .cpu = eng_pass},
          &late),
      MAESTRO_ESTATE);
  maestro_input_t *in2;
  CU_ASSERT_EQUAL(maestro_graph_input(g, b, "in", &in2), MAESTRO_ESTATE);
  CU_ASSERT_EQUAL(eng_feed(eng_rt, in, 3), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_input_push(in, eng_msg(eng_rt, 9)), MAESTRO_ECLOSED);
  CU_ASSERT_EQUAL(eng_drain(out, NULL, 0), 3);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_graph_destroy(g);
}

static void test_bad_affinity(void) {
  maestro_graph_t *g = new_graph("affinity");
  int ncpu = maestro_runtime_nplaces(eng_rt, MAESTRO_PLACE_CPU);
  CU_ASSERT_FATAL(ncpu > 0);
  maestro_agent_t *a = NULL;
  CU_ASSERT_EQUAL(maestro_agent_add(g,
                                    &(maestro_agent_desc_t){.name = "faraway",
                                                            .in = eng_u64_in,
                                                            .n_in = 1,
                                                            .cpu = eng_pass,
                                                            .affinity = {MAESTRO_ON_CPU, ncpu, 0}},
                                    &a),
                  MAESTRO_ENODEV);
  CU_ASSERT(eng_err_names("faraway"));
  /* A device affinity without a device implementation cannot be honoured
   * (with the test-only backend registered, a CPU function is one: its
   * fake device runs it). */
#ifdef ENG_FAKE_DEVICE
  CU_ASSERT_EQUAL(maestro_agent_add(g,
                                    &(maestro_agent_desc_t){.name = "ondevice",
                                                            .in = eng_u64_in,
                                                            .n_in = 1,
                                                            .cpu = eng_pass,
                                                            .affinity = {MAESTRO_ON_DEVICE, 0, 0}},
                                    &a),
                  MAESTRO_OK);
#else
  CU_ASSERT_EQUAL(maestro_agent_add(g,
                                    &(maestro_agent_desc_t){.name = "nodevice",
                                                            .in = eng_u64_in,
                                                            .n_in = 1,
                                                            .cpu = eng_pass,
                                                            .affinity = {MAESTRO_ON_DEVICE, 0, 0}},
                                    &a),
                  MAESTRO_EINVAL);
  CU_ASSERT(eng_err_names("nodevice"));
#endif
  CU_ASSERT_EQUAL(maestro_agent_add(g,
                                    &(maestro_agent_desc_t){.name = "anycpu",
                                                            .in = eng_u64_in,
                                                            .n_in = 1,
                                                            .cpu = eng_pass,
                                                            .affinity = {MAESTRO_ON_CPU, -1, 0}},
                                    &a),
                  MAESTRO_OK);
  maestro_graph_destroy(g);
}

/* A graph that never started, or was only half built, is destroyed cleanly
 * (ASan checks the leaks). */
static void test_destroy_unstarted(void) {
  maestro_graph_t *g = new_graph("unstarted");
  maestro_agent_t *a = eng_add(g, "a", eng_pass, NULL);
  maestro_agent_t *b = eng_add(g, "b", eng_pass, NULL);
  CU_ASSERT_EQUAL(maestro_connect(g, a, "out", b, "in", 3), MAESTRO_OK);
  maestro_input_t *in;
  maestro_output_t *out, *dl;
  CU_ASSERT_EQUAL(maestro_graph_input(g, a, "in", &in), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_output(g, b, "out", &out), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_dead_letters(g, &dl), MAESTRO_OK);
  maestro_graph_destroy(g);
}

/* At most one host input per input port; a refused call names the port. */
static void test_second_host_input(void) {
  maestro_graph_t *g = new_graph("twohosts");
  maestro_agent_t *a = eng_add(g, "a", eng_pass, NULL);
  maestro_input_t *in1 = NULL, *in2 = NULL;
  CU_ASSERT_EQUAL(maestro_graph_input(g, a, "in", &in1), MAESTRO_OK);
  CU_ASSERT(maestro_graph_input(g, a, "in", &in2) < 0);
  CU_ASSERT(eng_err_names("in"));
  CU_ASSERT(eng_err_names("a"));
  maestro_graph_destroy(g);
}

/* Capacities are sane: negative or huge ones are refused, naming the channel. */
static void test_capacity_bounds(void) {
  maestro_graph_t *g = new_graph("capacities");
  maestro_agent_t *p = eng_add(g, "producer", eng_pass, NULL);
  maestro_agent_t *c = eng_add(g, "consumer", eng_pass, NULL);
  CU_ASSERT_EQUAL(maestro_connect(g, p, "out", c, "in", 2147483647), MAESTRO_EINVAL);
  CU_ASSERT(eng_err_names("producer"));
  CU_ASSERT(eng_err_names("consumer"));
  CU_ASSERT_EQUAL(maestro_connect(g, p, "out", c, "in", -5), MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(maestro_connect(g, p, "out", c, "in", 1), MAESTRO_OK);
  maestro_graph_destroy(g);
}

/* On a runtime without devices: a kernel-only agent is refused at start
 * (naming it), a hybrid agent runs its CPU implementation. */
static const maestro_karg_t inc_args[] = {MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0),
                                          MAESTRO_KARG_COUNT(0)};
static const maestro_kernel_t inc_cl = {
    .source = "__kernel void inc(__global const long *x, __global long *y, uint n)"
              "{ size_t i = get_global_id(0); if (i < n) y[i] = x[i] + 1; }",
    .name = "inc",
    .args = inc_args,
    .n_args = 3,
    .range_port = 0};

static void test_kernel_without_devices(void) {
  if (maestro_runtime_nplaces(eng_rt, MAESTRO_PLACE_DEVICE) != 0) return; /* CPU-only runtime */
  maestro_graph_t *g = new_graph("kernel_only");
  maestro_agent_t *k = NULL;
  CU_ASSERT_EQUAL(maestro_agent_add(g,
                                    &(maestro_agent_desc_t){.name = "gpu_only",
                                                            .in = eng_u64_in,
                                                            .n_in = 1,
                                                            .out = eng_u64_out,
                                                            .n_out = 1,
                                                            .kernel = &inc_cl},
                                    &k),
                  MAESTRO_OK);
  maestro_input_t *in;
  CU_ASSERT_EQUAL(maestro_graph_input(g, k, "in", &in), MAESTRO_OK);
  CU_ASSERT(maestro_graph_start(g) < 0);
  CU_ASSERT(eng_err_names("gpu_only"));
  maestro_graph_destroy(g);

  g = new_graph("hybrid");
  maestro_agent_t *h = NULL;
  CU_ASSERT_EQUAL(maestro_agent_add(g,
                                    &(maestro_agent_desc_t){.name = "both",
                                                            .in = eng_u64_in,
                                                            .n_in = 1,
                                                            .out = eng_u64_out,
                                                            .n_out = 1,
                                                            .cpu = eng_inc,
                                                            .kernel = &inc_cl},
                                    &h),
                  MAESTRO_OK);
  maestro_output_t *out;
  CU_ASSERT_EQUAL(maestro_graph_input(g, h, "in", &in), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_output(g, h, "out", &out), MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  CU_ASSERT_EQUAL(eng_feed(eng_rt, in, 20), MAESTRO_OK);
  uint64_t vals[20] = {0};
  CU_ASSERT_EQUAL(eng_drain(out, vals, 20), 20);
  for (int i = 0; i < 20; i++)
    CU_ASSERT_EQUAL(vals[i], (uint64_t)i + 1);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(h, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.device_fires, 0);
  CU_ASSERT_EQUAL(st.place_kind, MAESTRO_PLACE_CPU);
  CU_ASSERT_EQUAL(st.fires, 20);
  maestro_graph_destroy(g);
}

void register_suites(void) {
  ADD_SUITE("engine_validate", eng_suite_init, eng_suite_fini,
            {"NULL arguments", test_null_arguments}, {"duplicate names", test_duplicate_names},
            {"unknown port", test_unknown_port}, {"type mismatch", test_type_mismatch},
            {"unconnected input", test_unconnected_input}, {"after start", test_after_start},
            {"bad affinity index", test_bad_affinity},
            {"destroy unstarted", test_destroy_unstarted},
            {"second host input on a port", test_second_host_input},
            {"capacity bounds", test_capacity_bounds},
            {"kernels without devices", test_kernel_without_devices});
}
