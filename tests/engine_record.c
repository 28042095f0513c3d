/* Element sizes on input ports: a message that is not a whole number of its
 * port's elements is refused before a CPU agent fires on it (a dead letter
 * with MAESTRO_EINVAL, as for a kernel, naming agent, port and sizes, through the supervisor),
 * and MAESTRO_RECORD ports carry structs of their .size. Built again with the
 * fake device (tests/backend.cmake). */
#include "engine_util.h"

struct rec {
  int32_t a, b, c; /* 12 bytes */
};

static const maestro_port_t rec_in[] = {{"in", MAESTRO_RECORD, sizeof(struct rec)}};
static const maestro_port_t rec_out[] = {{"out", MAESTRO_RECORD, sizeof(struct rec)}};

/* Sends each record's a + b + c, one i32... as a record whose a holds the sum. */
static int rec_sum(maestro_fire_t *f) {
  maestro_buf_t *in = maestro_fire_in(f, 0);
  size_t n = maestro_buf_size(in) / sizeof(struct rec);
  const struct rec *r = maestro_buf_cdata(in);
  maestro_buf_t *out;
  int rc = maestro_fire_alloc(f, sizeof(struct rec), &out);
  if (rc != MAESTRO_OK) return rc;
  struct rec s = {0, (int32_t)n, 0};
  for (size_t i = 0; i < n; i++)
    s.a += r[i].a + r[i].b + r[i].c;
  memcpy(maestro_buf_data(out), &s, sizeof s);
  return maestro_fire_out(f, 0, out);
}

static atomic_int fired;
static int count_pass(maestro_fire_t *f) {
  atomic_fetch_add(&fired, 1);
  return eng_pass(f);
}

static maestro_buf_t *bytes_msg(size_t n, uint8_t fill) {
  maestro_buf_t *b = NULL;
  if (maestro_buf_create(eng_rt, n, &b) != MAESTRO_OK) return NULL;
  if (n) memset(maestro_buf_data(b), fill, n);
  return b;
}

/* One letter: checks it names `agent`.in, `status`, and that its reason says
 * each of `words`. */
static void check_letter(maestro_output_t *dl, size_t bytes, const char *const *words, int n) {
  maestro_buf_t *b = NULL;
  maestro_letter_t why = {0};
  CU_ASSERT_EQUAL_FATAL(maestro_output_pop_letter(dl, &b, &why, 10000), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_buf_size(b), bytes);
  CU_ASSERT_EQUAL(why.status, MAESTRO_EINVAL);
  CU_ASSERT(why.agent && strcmp(why.agent, "k") == 0);
  CU_ASSERT(why.port && strcmp(why.port, "in") == 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(why.reason);
  for (int i = 0; i < n; i++) {
    if (!strstr(why.reason, words[i])) printf("\n    reason '%s' lacks '%s'", why.reason, words[i]);
    CU_ASSERT_PTR_NOT_NULL(strstr(why.reason, words[i]));
  }
  maestro_buf_release(b);
}

static void test_i64_refuses_3_bytes(void) {
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "rec_i64", &g) == MAESTRO_OK);
  maestro_agent_t *k = NULL;
  CU_ASSERT_EQUAL(
      maestro_agent_add(g,
                        &(maestro_agent_desc_t){.name = "k",
                                                .in = eng_u64_in,
                                                .n_in = 1,
                                                .out = eng_u64_out,
                                                .n_out = 1,
                                                .cpu = count_pass,
                                                .supervisor.on_fail = MAESTRO_FAIL_SKIP},
                        &k),
      MAESTRO_OK);
  maestro_input_t *in;
  maestro_output_t *out, *dl;
  CU_ASSERT_FATAL(maestro_graph_input(g, k, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, k, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_dead_letters(g, &dl) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  atomic_store(&fired, 0);
  CU_ASSERT_EQUAL(maestro_input_push(in, eng_msg(eng_rt, 1)), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_input_push(in, bytes_msg(3, 0)), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_input_push(in, bytes_msg(16, 0)), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_input_close(in), MAESTRO_OK);
  uint64_t v[4];
  CU_ASSERT_EQUAL(eng_drain(out, v, 4), 2);
  const char *words[] = {"'k'", "'in'", "3 bytes", "8-byte"};
  check_letter(dl, 3, words, 4);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(atomic_load(&fired), 2); /* never fired on the 3 bytes */
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(k, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.failures, 1);
  CU_ASSERT_EQUAL(st.dead_letters, 1);
  maestro_graph_destroy(g);

  /* STOP: the graph fails naming the port and the sizes. */
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "rec_i64_stop", &g) == MAESTRO_OK);
  k = eng_add(g, "k", count_pass, NULL);
  CU_ASSERT_FATAL(maestro_graph_input(g, k, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, k, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_input_push(in, bytes_msg(3, 0)), MAESTRO_OK);
  maestro_input_close(in);
  eng_drain(out, NULL, 0);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_EAGENT);
  CU_ASSERT(eng_err_names("'in'") && eng_err_names("3 bytes") && eng_err_names("8-byte"));
  maestro_graph_destroy(g);
}

static void test_record_port(void) {
  CU_ASSERT_STRING_EQUAL(maestro_type_name(MAESTRO_RECORD), "record");
  CU_ASSERT_EQUAL(maestro_type_size(MAESTRO_RECORD), 0);
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "rec", &g) == MAESTRO_OK);
  maestro_agent_t *k = NULL;
  CU_ASSERT_EQUAL(
      maestro_agent_add(g,
                        &(maestro_agent_desc_t){.name = "k",
                                                .in = rec_in,
                                                .n_in = 1,
                                                .out = rec_out,
                                                .n_out = 1,
                                                .cpu = rec_sum,
                                                .supervisor.on_fail = MAESTRO_FAIL_SKIP},
                        &k),
      MAESTRO_OK);
  maestro_input_t *in;
  maestro_output_t *out, *dl;
  CU_ASSERT_FATAL(maestro_graph_input(g, k, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, k, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_dead_letters(g, &dl) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  struct rec r3[3] = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}};
  maestro_buf_t *b;
  CU_ASSERT_FATAL(maestro_buf_from(eng_rt, r3, sizeof r3[0], &b) == MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_input_push(in, b), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_input_push(in, bytes_msg(20, 1)), MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_buf_from(eng_rt, r3, sizeof r3, &b) == MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_input_push(in, b), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_input_close(in), MAESTRO_OK);
  struct rec got[2];
  int n = 0;
  while (maestro_output_pop(out, &b, 10000) == MAESTRO_OK) {
    CU_ASSERT_EQUAL(maestro_buf_size(b), sizeof(struct rec));
    if (n < 2) memcpy(&got[n], maestro_buf_cdata(b), sizeof got[n]);
    n++;
    maestro_buf_release(b);
  }
  CU_ASSERT_EQUAL_FATAL(n, 2);
  CU_ASSERT_EQUAL(got[0].a, 6);
  CU_ASSERT_EQUAL(got[0].b, 1);
  CU_ASSERT_EQUAL(got[1].a, 45);
  CU_ASSERT_EQUAL(got[1].b, 3);
  const char *words[] = {"'k'", "'in'", "record", "20 bytes", "12-byte"};
  check_letter(dl, 20, words, 5);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_graph_destroy(g);
}

static void test_record_connect(void) {
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "rec_connect", &g) == MAESTRO_OK);
  static const maestro_port_t r16_in[] = {{"in", MAESTRO_RECORD, 16}};
  static const maestro_port_t r0_in[] = {{"in", MAESTRO_RECORD, 0}};
  static const maestro_port_t i64_bad[] = {{"in", MAESTRO_I64, 4}};
  maestro_agent_t *p = NULL, *c = NULL, *x = NULL;
  CU_ASSERT_EQUAL(
      maestro_agent_add(
          g,
          &(maestro_agent_desc_t){
              .name = "p", .in = rec_in, .n_in = 1, .out = rec_out, .n_out = 1, .cpu = rec_sum},
          &p),
      MAESTRO_OK);
  CU_ASSERT_EQUAL(
      maestro_agent_add(
          g, &(maestro_agent_desc_t){.name = "c", .in = r16_in, .n_in = 1, .cpu = eng_sink}, &c),
      MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, p, "out", c, "in", 0), MAESTRO_ETYPE);
  CU_ASSERT(eng_err_names("p.out") && eng_err_names("c.in") && eng_err_names("12 bytes") &&
            eng_err_names("16 bytes"));
  CU_ASSERT_EQUAL(
      maestro_agent_add(
          g, &(maestro_agent_desc_t){.name = "x", .in = r0_in, .n_in = 1, .cpu = eng_sink}, &x),
      MAESTRO_EINVAL);
  CU_ASSERT(eng_err_names("'x'") && eng_err_names(".size"));
  CU_ASSERT_EQUAL(
      maestro_agent_add(
          g, &(maestro_agent_desc_t){.name = "y", .in = i64_bad, .n_in = 1, .cpu = eng_sink}, &x),
      MAESTRO_EINVAL);
  CU_ASSERT(eng_err_names("'y'") && eng_err_names(".size"));
  maestro_graph_destroy(g);
}

void register_suites(void) {
  ADD_SUITE("engine_record", eng_suite_init, eng_suite_fini,
            {"a 3-byte message on an i64 port is refused", test_i64_refuses_3_bytes},
            {"a RECORD port passes whole records", test_record_port},
            {"RECORD ports connect only at one size", test_record_connect});
}
