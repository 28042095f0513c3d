/* A failed firing's own message reaches the user: maestro_graph_wait's
 * maestro_last_error() appends it to the agent's name and status, and each
 * dead letter of a failed firing carries it as .reason (NULL for messages
 * nobody took). A firing that fails without a message of its own never
 * shows a stale one left on its worker thread by an earlier firing. */
#include <stdio.h>
#include <string.h>

#include "engine_util.h"

/* value % 4: 1 fails with a message (maestro_fire_out to a port that does
 * not exist), 2 leaves a message behind but succeeds, 3 fails without a
 * message, 0 passes. */
static int picky(maestro_fire_t *f) {
  maestro_buf_t *in = maestro_fire_in(f, 0);
  switch (eng_val(in) % 4) {
  case 1: return maestro_fire_out(f, 7, maestro_buf_retain(in));
  case 2:
    (void)maestro_fire_out(f, 9, maestro_buf_retain(in)); /* ignored: it goes on */
    return maestro_fire_out(f, 0, maestro_buf_retain(in));
  case 3: return MAESTRO_EINVAL;
  default: return maestro_fire_out(f, 0, maestro_buf_retain(in));
  }
}

static int has(const char *msg, const char *part) {
  if (msg && strstr(msg, part)) return 1;
  fprintf(stderr, "message \"%s\" lacks \"%s\"\n", msg ? msg : "(null)", part);
  return 0;
}

typedef struct letters {
  int n;
  uint64_t val[16];
  int status[16];
  char reason[16][256];
  int null_reason[16];
} letters_t;

static void drain_letters(maestro_graph_t *g, letters_t *l) {
  maestro_output_t *dl;
  CU_ASSERT_FATAL(maestro_graph_dead_letters(g, &dl) == MAESTRO_OK);
  memset(l, 0, sizeof *l);
  maestro_buf_t *b;
  maestro_letter_t why;
  while (maestro_output_pop_letter(dl, &b, &why, 10000) == MAESTRO_OK) {
    if (l->n < 16) {
      l->val[l->n] = eng_val(b);
      l->status[l->n] = why.status;
      l->null_reason[l->n] = why.reason == NULL;
      snprintf(l->reason[l->n], sizeof l->reason[0], "%s", why.reason ? why.reason : "");
    }
    l->n++;
    maestro_buf_release(b);
  }
}

/* SKIP: 0..7 through picky; 1, 3, 5, 7 become dead letters saying why. */
static void skip_reasons(unsigned flags) {
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "reasons", &g) == MAESTRO_OK);
  maestro_agent_t *a = NULL;
  CU_ASSERT_FATAL(
      maestro_agent_add(g,
                        &(maestro_agent_desc_t){.name = "picky",
                                                .in = eng_u64_in,
                                                .n_in = 1,
                                                .out = eng_u64_out,
                                                .n_out = 1,
                                                .cpu = picky,
                                                .flags = flags,
                                                .supervisor = {.on_fail = MAESTRO_FAIL_SKIP}},
                        &a) == MAESTRO_OK);
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  CU_ASSERT_EQUAL(eng_feed(eng_rt, in, 8), MAESTRO_OK);
  uint64_t vals[8];
  CU_ASSERT_EQUAL(eng_drain(out, vals, 8), 4);
  letters_t l;
  drain_letters(g, &l);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(l.n, 4);
  for (int i = 0; i < 4; i++) {
    CU_ASSERT_EQUAL(l.val[i], (uint64_t)(2 * i + 1));
    CU_ASSERT_EQUAL(l.null_reason[i], 0);
    if (l.val[i] % 4 == 1) {
      CU_ASSERT(has(l.reason[i], "maestro_fire_out: agent 'picky' has no output port 7"));
    } else {
      CU_ASSERT_STRING_EQUAL(l.reason[i], "agent 'picky' failed with status -1 (invalid argument)");
    }
    CU_ASSERT(strstr(l.reason[i], "port 9") == NULL); /* never the stale message */
  }
  maestro_graph_destroy(g);
}

static void test_skip_reasons_stateful(void) {
  skip_reasons(0);
}

static void test_skip_reasons_stateless(void) {
  skip_reasons(MAESTRO_STATELESS);
}

/* STOP: wait names the graph, the agent, the status and the firing's own
 * words; the failed message says why, the ones nobody took have no reason. */
static void stop_message(unsigned flags) {
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "stops", &g) == MAESTRO_OK);
  maestro_agent_t *a = NULL;
  CU_ASSERT_FATAL(maestro_agent_add(g,
                                    &(maestro_agent_desc_t){.name = "picky",
                                                            .in = eng_u64_in,
                                                            .n_in = 1,
                                                            .out = eng_u64_out,
                                                            .n_out = 1,
                                                            .cpu = picky,
                                                            .flags = flags},
                                    &a) == MAESTRO_OK);
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  /* 0 passes, 1 fails; the rest may or may not be taken before the stop */
  for (uint64_t v = 0; v < 6; v++)
    (void)maestro_input_push(in, eng_msg(eng_rt, v == 0 ? 0 : v == 1 ? 1 : 4));
  maestro_input_close(in);
  CU_ASSERT(eng_drain(out, NULL, 0) >= 1);
  letters_t l;
  drain_letters(g, &l);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_EAGENT);
  CU_ASSERT(has(maestro_last_error(),
                "graph 'stops': agent 'picky' failed with status -1 (invalid argument): "
                "maestro_fire_out: agent 'picky' has no output port 7; its supervisor stopped "
                "the graph"));
  int failed = 0, closed = 0;
  for (int i = 0; i < l.n && i < 16; i++) {
    if (l.status[i] == MAESTRO_EINVAL) {
      failed++;
      CU_ASSERT_EQUAL(l.val[i], 1);
      CU_ASSERT(has(l.reason[i], "has no output port 7"));
    } else {
      closed++;
      CU_ASSERT_EQUAL(l.status[i], MAESTRO_ECLOSED);
      CU_ASSERT_EQUAL(l.null_reason[i], 1);
    }
  }
  CU_ASSERT_EQUAL(failed, 1);
  maestro_graph_destroy(g);
}

static void test_stop_message_stateful(void) {
  stop_message(0);
}

static void test_stop_message_stateless(void) {
  stop_message(MAESTRO_STATELESS);
}

void register_suites(void) {
  ADD_SUITE("engine_errors", eng_suite_init, eng_suite_fini,
            {"SKIP letters say why (stateful)", test_skip_reasons_stateful},
            {"SKIP letters say why (stateless)", test_skip_reasons_stateless},
            {"STOP message carries the firing's (stateful)", test_stop_message_stateful},
            {"STOP message carries the firing's (stateless)", test_stop_message_stateless});
}
