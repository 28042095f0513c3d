/* Every public function, called with NULL or out-of-range arguments,
 * returns an error status (or NULL / 0 where it returns a pointer or a
 * size) and never crashes: "no abort/assert on user input". Statuses must
 * be negative and the message must be set. One suite per header. */
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "base/error.h"
#include "testmain.h"

static maestro_runtime_t *rt;

static int setup(void) {
  clear_maestro_env();
  return make_runtime("none", 0, &rt) == MAESTRO_OK ? 0 : 1;
}

static int teardown(void) {
  maestro_runtime_destroy(rt);
  return 0;
}

/* The call failed with a negative status and said why. */
#define CHECK_FAILS(call)                                                                          \
  do {                                                                                             \
    err_clear(); /* the message must come from this call */                                        \
    int rc_ = (call);                                                                              \
    if (rc_ >= 0 || maestro_last_error()[0] == '\0')                                               \
      fprintf(stderr, "  %s -> %d '%s'\n", #call, rc_, maestro_last_error());                      \
    CU_ASSERT_TRUE(rc_ < 0);                                                                       \
    CU_ASSERT_TRUE(maestro_last_error()[0] != '\0');                                               \
  } while (0)

static void test_runtime_h(void) {
  maestro_place_info_t p;
  CHECK_FAILS(maestro_runtime_create(NULL, NULL));
  CHECK_FAILS(maestro_runtime_nplaces(NULL, MAESTRO_PLACE_CPU));
  CHECK_FAILS(maestro_runtime_nplaces(rt, (maestro_place_kind_t)99));
  CHECK_FAILS(maestro_runtime_place_info(NULL, MAESTRO_PLACE_CPU, 0, &p));
  CHECK_FAILS(maestro_runtime_place_info(rt, MAESTRO_PLACE_CPU, 0, NULL));
  CHECK_FAILS(maestro_runtime_place_info(rt, MAESTRO_PLACE_CPU, -5, &p));
  CHECK_FAILS(maestro_runtime_place_info(rt, MAESTRO_PLACE_DEVICE, 0, &p));
  CU_ASSERT_PTR_NULL(maestro_runtime_cpu_only_reason(NULL));
  char pus[16];
  CHECK_FAILS(maestro_runtime_place_pus(NULL, 0, pus, sizeof pus));
  CHECK_FAILS(maestro_runtime_place_pus(rt, 0, NULL, sizeof pus));
  CHECK_FAILS(maestro_runtime_place_pus(rt, 0, pus, 0));
  CHECK_FAILS(maestro_runtime_place_pus(rt, -1, pus, sizeof pus));
  CHECK_FAILS(maestro_runtime_describe_topology(NULL, stdout, MAESTRO_DESCRIBE_TEXT));
  CHECK_FAILS(maestro_runtime_describe_topology(rt, NULL, MAESTRO_DESCRIBE_JSON));
  CHECK_FAILS(maestro_runtime_describe_topology(rt, stdout, (maestro_describe_format_t)7));
  maestro_link_info_t link;
  CHECK_FAILS(maestro_runtime_measure_link(NULL, 0, 0, &link));
  CHECK_FAILS(maestro_runtime_measure_link(rt, 0, 0, NULL));
  CHECK_FAILS(maestro_runtime_measure_link(rt, 0, 0, &link)); /* "none": no device place */
  maestro_runtime_destroy(NULL);
  CHECK_FAILS(maestro_config_defaults(NULL));
}

static void test_buffer_h(void) {
  maestro_buf_t *b = NULL;
  CHECK_FAILS(maestro_buf_create(NULL, 16, &b));
  CHECK_FAILS(maestro_buf_create(rt, 16, NULL));
  CHECK_FAILS(maestro_buf_from(NULL, "x", 1, &b));
  CHECK_FAILS(maestro_buf_from(rt, NULL, 16, &b));
  CHECK_FAILS(maestro_buf_from(rt, "x", 1, NULL));
  CHECK_FAILS(maestro_buf_writable(NULL));
  maestro_buf_t *none = NULL;
  CHECK_FAILS(maestro_buf_writable(&none));
  CU_ASSERT_EQUAL(maestro_buf_size(NULL), 0);
  CU_ASSERT_PTR_NULL(maestro_buf_data(NULL));
  CU_ASSERT_PTR_NULL(maestro_buf_cdata(NULL));
  CU_ASSERT_PTR_NULL(maestro_buf_retain(NULL));
  maestro_buf_release(NULL);
}

static void test_graph_h(void) {
  maestro_graph_t *g = NULL;
  maestro_agent_t *a = NULL;
  maestro_input_t *in = NULL;
  maestro_output_t *out = NULL;
  maestro_buf_t *b = NULL;
  maestro_letter_t why;
  CHECK_FAILS(maestro_graph_create(NULL, "g", &g));
  CHECK_FAILS(maestro_graph_create(rt, "g", NULL));
  CHECK_FAILS(maestro_graph_create(rt, NULL, &g));
  CHECK_FAILS(maestro_agent_add(NULL, NULL, &a));
  CHECK_FAILS(maestro_connect(NULL, NULL, "out", NULL, "in", 0));
  CHECK_FAILS(maestro_connect_ports(NULL, NULL, 0, NULL, 0, 0));
  CHECK_FAILS(maestro_graph_input(NULL, NULL, "in", &in));
  CHECK_FAILS(maestro_graph_output(NULL, NULL, "out", &out));
  CHECK_FAILS(maestro_graph_start(NULL));
  CHECK_FAILS(maestro_graph_wait(NULL));
  CHECK_FAILS(maestro_graph_run(NULL));
  CHECK_FAILS(maestro_input_push(NULL, NULL));
  CHECK_FAILS(maestro_input_push_timed(NULL, NULL, 0));
  CHECK_FAILS(maestro_input_close(NULL));
  CHECK_FAILS(maestro_output_pop(NULL, &b, 0));
  CHECK_FAILS(maestro_output_pop_letter(NULL, &b, &why, 0));
  CHECK_FAILS(maestro_graph_dead_letters(NULL, &out));
  CHECK_FAILS(maestro_graph_write_dot(NULL, stdout));
  CU_ASSERT_PTR_NULL(maestro_graph_name(NULL));
  CU_ASSERT_PTR_NULL(maestro_graph_agent(NULL, "x"));
  maestro_graph_destroy(NULL);

  /* On a real graph: NULL descriptors, names, ports and outputs. */
  CU_ASSERT_EQUAL_FATAL(maestro_graph_create(rt, "args", &g), MAESTRO_OK);
  CHECK_FAILS(maestro_agent_add(g, NULL, &a));
  CHECK_FAILS(maestro_agent_add(g, &(maestro_agent_desc_t){.name = NULL}, &a));
  CHECK_FAILS(maestro_graph_input(g, NULL, "in", &in));
  CHECK_FAILS(maestro_graph_dead_letters(g, NULL));
  CHECK_FAILS(maestro_graph_write_dot(g, NULL));
  CU_ASSERT_PTR_NULL(maestro_graph_agent(g, NULL));
  maestro_graph_destroy(g);
}

static void test_agent_h(void) {
  maestro_agent_stats_t s;
  CHECK_FAILS(maestro_agent_stats(NULL, &s));
  CU_ASSERT_PTR_NULL(maestro_agent_name(NULL));
  CU_ASSERT_PTR_NULL(maestro_fire_in(NULL, 0));
  maestro_buf_t *b = NULL;
  CHECK_FAILS(maestro_fire_alloc(NULL, 16, &b));
  CHECK_FAILS(maestro_fire_out(NULL, 0, NULL));
  CU_ASSERT_PTR_NULL(maestro_fire_state(NULL));
  CU_ASSERT_PTR_NULL(maestro_fire_runtime(NULL));
  maestro_place_kind_t k;
  CHECK_FAILS(maestro_fire_place(NULL, &k));
  CU_ASSERT_STRING_NOT_EQUAL(maestro_type_name((maestro_type_t)999), "");
  CU_ASSERT_EQUAL(maestro_type_size((maestro_type_t)999), 0);
}

static void test_kernels_h(void) {
  maestro_bundled_agent_t out;
  CHECK_FAILS(maestro_bundled_agent((maestro_bundled_t)999, "x", NULL, &out));
  CHECK_FAILS(maestro_bundled_agent(MAESTRO_BUNDLED_SCALE, "x", NULL, NULL));
  CU_ASSERT_PTR_NULL(maestro_bundled_kernel_name((maestro_bundled_t)999));
  CU_ASSERT_PTR_NULL(maestro_bundled_cpu((maestro_bundled_t)999));
  CU_ASSERT_PTR_NOT_NULL(maestro_bundled_source());
}

void register_suites(void) {
  ADD_SUITE("public API argument checks", setup, teardown, {"runtime.h, config.h", test_runtime_h},
            {"buffer.h", test_buffer_h}, {"graph.h", test_graph_h}, {"agent.h", test_agent_h},
            {"kernels.h", test_kernels_h});
}
