/* maestro_buf_truncate: a buffer held alone shrinks and keeps its first
 * bytes; a shared one or a larger size is refused. Built again with the fake
 * device (tests/backend.cmake): a message that fired there has a replica on
 * it, freed by the truncation (eng_suite_fini checks none is left). */
#include "engine_util.h"

static void test_truncate_alone(void) {
  uint8_t src[100];
  for (int i = 0; i < 100; i++)
    src[i] = (uint8_t)i;
  maestro_buf_t *b = NULL;
  CU_ASSERT_FATAL(maestro_buf_from(eng_rt, src, sizeof src, &b) == MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_buf_set_shape(b, 2, (size_t[]){10, 10}), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_buf_truncate(b, 100), MAESTRO_OK); /* same size: nothing changes */
  CU_ASSERT_EQUAL(maestro_buf_shape(b, NULL), 2);
  CU_ASSERT_EQUAL(maestro_buf_truncate(b, 40), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_buf_size(b), 40);
  CU_ASSERT_EQUAL(maestro_buf_shape(b, NULL), 0); /* {10, 10} does not fit 40 bytes */
  CU_ASSERT_EQUAL(memcmp(maestro_buf_cdata(b), src, 40), 0);
  CU_ASSERT_EQUAL(maestro_buf_set_shape(b, 1, (size_t[]){10}), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_buf_truncate(b, 20), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_buf_shape(b, NULL), 1); /* 10 elements of 2 bytes */
  CU_ASSERT_EQUAL(maestro_buf_truncate(b, 21), MAESTRO_EINVAL);
  CU_ASSERT(eng_err_names("21") && eng_err_names("20"));
  CU_ASSERT_EQUAL(maestro_buf_size(b), 20);
  CU_ASSERT_EQUAL(maestro_buf_truncate(b, 0), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_buf_size(b), 0);
  CU_ASSERT_EQUAL(maestro_buf_truncate(NULL, 0), MAESTRO_EINVAL);
  maestro_buf_release(b);
}

static void test_truncate_shared(void) {
  maestro_buf_t *b = eng_msg(eng_rt, 7);
  CU_ASSERT_FATAL(b != NULL);
  maestro_buf_retain(b);
  CU_ASSERT_EQUAL(maestro_buf_truncate(b, 4), MAESTRO_ESTATE);
  CU_ASSERT(eng_err_names("shared"));
  CU_ASSERT_EQUAL(maestro_buf_size(b), 8);
  maestro_buf_release(b);
  CU_ASSERT_EQUAL(maestro_buf_truncate(b, 4), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_buf_size(b), 4);
  maestro_buf_release(b);
}

/* Messages that went through an agent (on the fake device in that build),
 * each truncated when it comes out: the kept bytes are the agent's. */
static void test_truncate_after_agent(void) {
  enum { N = 64 };
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "trunc", &g) == MAESTRO_OK);
  maestro_agent_t *a = eng_add(g, "inc", eng_inc, NULL);
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  CU_ASSERT_EQUAL(eng_feed(eng_rt, in, N), MAESTRO_OK);
  long n = 0;
  maestro_buf_t *b;
  while (maestro_output_pop(out, &b, 10000) == MAESTRO_OK) {
    CU_ASSERT_EQUAL(maestro_buf_truncate(b, 4), MAESTRO_OK);
    CU_ASSERT_EQUAL(maestro_buf_size(b), 4);
    uint32_t lo = 0;
    memcpy(&lo, maestro_buf_cdata(b), 4);
    CU_ASSERT_EQUAL(lo, (uint32_t)n + 1); /* little-endian low half of n + 1 */
    maestro_buf_release(b);
    n++;
  }
  CU_ASSERT_EQUAL(n, N);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_graph_destroy(g);
}

void register_suites(void) {
  ADD_SUITE("engine_truncate", eng_suite_init, eng_suite_fini,
            {"truncate a buffer held alone", test_truncate_alone},
            {"truncate a shared buffer is refused", test_truncate_shared},
            {"truncate messages from an agent", test_truncate_after_agent});
}
