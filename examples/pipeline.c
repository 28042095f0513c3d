/* pipeline: the first Maestro program to read.
 *
 *   numbers --> square --+--> total      (an agent that keeps a running sum)
 *                        +--> the host   (main() prints every square)
 *
 * Three stages: a source agent, a transforming agent, and a fan-out of the
 * squares to a summing agent and to the host program. Agents never share
 * memory: each message is a buffer handed from one agent to the next, and a
 * fan-out gives every consumer the same buffer, without a copy. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "example_util.h" /* CHECK(call): prints maestro_last_error() and returns 1 on failure */
#include "maestro.h"

/* Every port carries 64-bit integers, one per message. */
static const maestro_port_t in_port[] = {{"in", MAESTRO_I64, 0}};
static const maestro_port_t out_port[] = {{"out", MAESTRO_I64, 0}};

/* A source has no inputs: the runtime fires it again and again until it
 * returns MAESTRO_DONE; end-of-stream then flows down the graph. */
static int numbers(maestro_fire_t *f) {
  int64_t i = (int64_t)maestro_fire_seq(f) + 1; /* 1, 2, 3, ... */
  if (i > 10) return MAESTRO_DONE;
  maestro_buf_t *out;
  int rc = maestro_fire_alloc(f, sizeof i, &out);
  if (rc != MAESTRO_OK) return rc;
  memcpy(maestro_buf_data(out), &i, sizeof i);
  return maestro_fire_out(f, 0, out); /* hands our reference over */
}

/* Fires once per input message; the input is only borrowed. */
static int square(maestro_fire_t *f) {
  const int64_t *x = maestro_buf_cdata(maestro_fire_in(f, 0));
  maestro_buf_t *out;
  int rc = maestro_fire_alloc(f, sizeof *x, &out);
  if (rc != MAESTRO_OK) return rc;
  *(int64_t *)maestro_buf_data(out) = *x * *x;
  return maestro_fire_out(f, 0, out);
}

/* A stateful agent: its .state is private and it fires one message at a time. */
static int total(maestro_fire_t *f) {
  int64_t *sum = maestro_fire_state(f);
  *sum += *(const int64_t *)maestro_buf_cdata(maestro_fire_in(f, 0));
  return MAESTRO_OK;
}

int main(void) {
  maestro_runtime_t *rt; /* one per process; NULL config = defaults + MAESTRO_* env */
  CHECK(maestro_runtime_create(NULL, &rt));
  maestro_graph_t *g;
  CHECK(maestro_graph_create(rt, "squares", &g));

  /* An agent: a name, typed ports, an implementation, optional state. */
  int64_t sum = 0;
  maestro_agent_desc_t numbers_desc = {
      .name = "numbers", .out = out_port, .n_out = 1, .cpu = numbers};
  maestro_agent_desc_t square_desc = {
      .name = "square", .in = in_port, .n_in = 1, .out = out_port, .n_out = 1, .cpu = square};
  maestro_agent_desc_t total_desc = {
      .name = "total", .in = in_port, .n_in = 1, .cpu = total, .state = &sum};
  maestro_agent_t *src, *sq, *tot;
  CHECK(maestro_agent_add(g, &numbers_desc, &src));
  CHECK(maestro_agent_add(g, &square_desc, &sq));
  CHECK(maestro_agent_add(g, &total_desc, &tot));

  /* Channels are bounded: a full one holds its producer back. */
  CHECK(maestro_connect(g, src, "out", sq, "in", 4));
  CHECK(maestro_connect(g, sq, "out", tot, "in", 4)); /* fan-out, branch 1 */
  maestro_output_t *squares;                          /* fan-out, branch 2 */
  CHECK(maestro_graph_output(g, sq, "out", &squares));

  CHECK(maestro_graph_start(g)); /* validates the whole graph, then runs it */
  maestro_buf_t *b;
  while (maestro_output_pop(squares, &b, -1) == MAESTRO_OK) { /* ECLOSED at the end */
    printf("%" PRId64 " ", *(const int64_t *)maestro_buf_cdata(b));
    maestro_buf_release(b); /* popped messages are ours to release */
  }
  CHECK(maestro_graph_wait(g)); /* every agent has finished: sum is final */
  printf("\nsum of squares: %" PRId64 "\n", sum);

  maestro_graph_destroy(g);
  maestro_runtime_destroy(rt);
  return sum == 385 ? 0 : 1;
}
