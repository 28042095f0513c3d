/* Taking an input set (runtime/core/take.h), shared by both runners: the
 * channels of a fan-in port take turns, a set is taken whole or not at all,
 * messages are numbered on their port, and an ended port closes the agent.
 * Messages are stand-in pointers: run_take only moves them. */
#include <stdint.h>
#include <string.h>

#include "chan/chan.h"
#include "core/take.h"
#include "testmain.h"

#define MSG(v) ((maestro_buf_t *)(uintptr_t)(v))

/* An agent with `nport` ports, port 0 fed by `nch0` channels, the others by one. */
struct rig {
  struct maestro_agent a;
  struct inport port[2];
  struct chan *ch[3];
};

static void rig_init(struct rig *r, int nport, int nch0) {
  memset(r, 0, sizeof *r);
  r->a.n_in = nport;
  r->a.in = r->port;
  int k = 0;
  for (int p = 0; p < nport; p++) {
    int n = p == 0 ? nch0 : 1;
    r->port[p].ch = &r->ch[k];
    r->port[p].nch = n;
    for (int i = 0; i < n; i++, k++) {
      r->ch[k] = chan_new(8, 0);
      CU_ASSERT_PTR_NOT_NULL_FATAL(r->ch[k]);
    }
  }
}

static void rig_fini(struct rig *r) {
  for (int k = 0; k < 3; k++)
    if (r->ch[k]) {
      CU_ASSERT_PTR_NULL(ring_peek(&r->ch[k]->ring)); /* stand-ins must not be released */
      chan_free(r->ch[k]);
    }
}

/* Two channels with 4 messages each: the take alternates between them, so
 * neither waits behind the other (both were ready at every take). */
static void take_merge_alternates(void) {
  struct rig r;
  rig_init(&r, 1, 2);
  for (uintptr_t i = 1; i <= 4; i++) {
    CU_ASSERT_EQUAL(ring_push(&r.ch[0]->ring, MSG(i)), 1);
    CU_ASSERT_EQUAL(ring_push(&r.ch[1]->ring, MSG(10 + i)), 1);
  }
  static const uintptr_t expect[8] = {1, 11, 2, 12, 3, 13, 4, 14};
  for (int n = 0; n < 8; n++) {
    maestro_buf_t *in[1] = {NULL};
    uint64_t seq[1] = {99};
    struct chan *from[1] = {NULL};
    uint64_t flow = 0;
    CU_ASSERT_EQUAL_FATAL(run_take(&r.a, in, seq, from, &flow), 1);
    CU_ASSERT_PTR_EQUAL(in[0], MSG(expect[n]));
    CU_ASSERT_EQUAL(seq[0], (uint64_t)n);
    struct chan *c = r.ch[n % 2];
    CU_ASSERT_PTR_EQUAL(from[0], c);
    CU_ASSERT_EQUAL(flow, (c->id << 32) | (uint64_t)(n / 2 + 1));
  }
  CU_ASSERT_EQUAL(r.port[0].taken, 8);
  CU_ASSERT_EQUAL(r.ch[0]->popped, 4);
  CU_ASSERT_EQUAL(r.ch[1]->popped, 4);
  CU_ASSERT_EQUAL(r.a.phase, AG_RUN);
  rig_fini(&r);
}

/* A look (run_port_peek, window.c's placement) does not move the merge. */
static void take_peek_does_not_skip(void) {
  struct rig r;
  rig_init(&r, 1, 2);
  ring_push(&r.ch[0]->ring, MSG(1));
  ring_push(&r.ch[1]->ring, MSG(2));
  CU_ASSERT_PTR_EQUAL(run_port_peek(&r.port[0]), r.ch[0]);
  CU_ASSERT_PTR_EQUAL(run_port_peek(&r.port[0]), r.ch[0]);
  maestro_buf_t *in[1];
  CU_ASSERT_EQUAL(run_take(&r.a, in, NULL, NULL, NULL), 1);
  CU_ASSERT_PTR_EQUAL(in[0], MSG(1));
  CU_ASSERT_PTR_EQUAL(run_port_peek(&r.port[0]), r.ch[1]);
  CU_ASSERT_EQUAL(run_take(&r.a, in, NULL, NULL, NULL), 1);
  CU_ASSERT_PTR_EQUAL(in[0], MSG(2));
  CU_ASSERT_PTR_NULL(run_port_peek(&r.port[0]));
  rig_fini(&r);
}

/* Two ports, the second empty: nothing is taken from the first; once the
 * second has a message both are taken; once it has ended the agent closes. */
static void take_all_or_none(void) {
  struct rig r;
  rig_init(&r, 2, 1);
  ring_push(&r.ch[0]->ring, MSG(1));
  ring_push(&r.ch[0]->ring, MSG(2));
  maestro_buf_t *in[2] = {NULL, NULL};
  int ended = -1;
  CU_ASSERT_EQUAL(run_inputs_ready(&r.a, &ended), 0);
  CU_ASSERT_EQUAL(ended, 0);
  CU_ASSERT_EQUAL(run_take(&r.a, in, NULL, NULL, NULL), 0);
  CU_ASSERT_EQUAL(r.a.phase, AG_RUN); /* port 1 may still get a message */
  CU_ASSERT_EQUAL(ring_count(&r.ch[0]->ring), 2);
  CU_ASSERT_EQUAL(r.port[0].taken, 0);
  ring_push(&r.ch[1]->ring, MSG(7));
  CU_ASSERT_EQUAL(run_inputs_ready(&r.a, NULL), 1);
  CU_ASSERT_EQUAL(run_take(&r.a, in, NULL, NULL, NULL), 1);
  CU_ASSERT_PTR_EQUAL(in[0], MSG(1));
  CU_ASSERT_PTR_EQUAL(in[1], MSG(7));
  CU_ASSERT_EQUAL(r.ch[0]->cons_dirty, 1);
  CU_ASSERT_EQUAL(r.ch[1]->cons_dirty, 1);
  atomic_store(&r.ch[1]->closed, 1);
  CU_ASSERT_EQUAL(run_inputs_ready(&r.a, &ended), 0);
  CU_ASSERT_EQUAL(ended, 1);
  CU_ASSERT_EQUAL(run_take(&r.a, in, NULL, NULL, NULL), 0);
  CU_ASSERT_EQUAL(r.a.phase, AG_CLOSING);
  chan_publish_taken(r.ch[0]); /* as the end of the run does: takes are published in batches */
  CU_ASSERT_EQUAL(ring_count(&r.ch[0]->ring), 1); /* left for the drain */
  CU_ASSERT_PTR_EQUAL(ring_pop(&r.ch[0]->ring), MSG(2));
  rig_fini(&r);
}

/* One port, one channel (the stage's path without a peek): closes the
 * agent only once the channel is closed and empty. */
static void take_single_channel_end(void) {
  struct rig r;
  rig_init(&r, 1, 1);
  maestro_buf_t *in[1];
  uint64_t seq[1];
  ring_push(&r.ch[0]->ring, MSG(5));
  atomic_store(&r.ch[0]->closed, 1);
  CU_ASSERT_EQUAL(run_take(&r.a, in, seq, NULL, NULL), 1);
  CU_ASSERT_PTR_EQUAL(in[0], MSG(5));
  CU_ASSERT_EQUAL(seq[0], 0);
  CU_ASSERT_EQUAL(r.a.phase, AG_RUN);
  CU_ASSERT_EQUAL(run_take(&r.a, in, seq, NULL, NULL), 0);
  CU_ASSERT_EQUAL(r.a.phase, AG_CLOSING);
  CU_ASSERT_EQUAL(r.port[0].taken, 1);
  rig_fini(&r);
}

void register_take_tests(void) {
  ADD_SUITE("take", NULL, NULL, {"merge alternates between channels", take_merge_alternates},
            {"a peek does not move the merge", take_peek_does_not_skip},
            {"all ports or none; an ended port closes", take_all_or_none},
            {"one channel: closes once ended", take_single_channel_end});
}
