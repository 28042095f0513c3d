/* Taking an agent's input set: one message from each input port, the
 * channels of a fan-in port merged round-robin, each message numbered on its
 * port. One function for both runners (run.c fires what it takes at once;
 * window.c takes into a slot of its window, under its lock), so that the two
 * cannot differ in what they take, in which order, or how an ended input
 * closes the agent. Inline: it is on the per-message path of a stage. */
#ifndef MAESTRO_CORE_TAKE_H
#define MAESTRO_CORE_TAKE_H

#include "core/graph.h"

/* 1 when every channel of port `p` is closed and empty (nothing will come). */
int run_port_ended(struct inport *p);
/* 1 when every input port of `a` has ended. */
int run_inputs_ended(struct maestro_agent *a);

/* Index of the channel of port `p` the next take merges from: the first one
 * holding a message from where the last take left off (p->rr); -1 when none
 * does. Reads only: taking moves p->rr, looking does not, so a look before
 * the take (window.c's placement) does not skip a channel. */
static inline int run_port_next(const struct inport *p) {
  for (int k = 0; k < p->nch; k++) {
    int i = (p->rr + k) % p->nch;
    if (ring_peek(&p->ch[i]->ring)) return i;
  }
  return -1;
}

/* The channel of port `p` whose message the next take gets, or NULL. */
static inline struct chan *run_port_peek(const struct inport *p) {
  if (p->nch == 1) return ring_peek(&p->ch[0]->ring) ? p->ch[0] : NULL;
  int i = run_port_next(p);
  return i < 0 ? NULL : p->ch[i];
}

/* 1 when each input port of `a` holds a message. Else 0 and, when `ended`
 * is not NULL, *ended says whether the first empty port has ended. */
static inline int run_inputs_ready(struct maestro_agent *a, int *ended) {
  for (int p = 0; p < a->n_in; p++)
    if (!run_port_peek(&a->in[p])) {
      if (ended) *ended = run_port_ended(&a->in[p]);
      return 0;
    }
  return 1;
}

/* Aligns the heads of a join's ports (every port ready): when they carry
 * different origin sequences of one domain, the older ones are partners of
 * a message skipped on another branch: they go to the dead letters. Returns
 * 1 when the heads are aligned (or not comparable), 0 when it dropped some
 * (look again). */
int run_align_heads(struct maestro_agent *a);

/* 1 when a take would get an input set now (for a join: one whose messages
 * share their origin, see run_align_heads). Else 0 and, if the port lacking
 * a message has ended, the agent is AG_CLOSING: nothing more to fire on.
 * (window.c asks before placing a firing, run_take before taking.) */
static inline int run_can_take(struct maestro_agent *a) {
  int ended = 0;
  for (;;) {
    if (!run_inputs_ready(a, &ended)) break;
    if (!a->align || run_align_heads(a)) return 1;
  }
  if (ended) a->phase = AG_CLOSING;
  return 0;
}

/* Counts the message of port `ip` (index `p`) just popped from channel `c`. */
static inline void run_take_note(struct inport *ip, struct chan *c, int p, uint64_t *inseq,
                                 struct chan **inch, uint64_t *flow_in) {
  c->popped++;
  c->cons_dirty = 1;
  if (inseq) inseq[p] = ip->taken;
  ip->taken++;
  if (inch) inch[p] = c;
  if (flow_in && p == 0) *flow_in = (c->id << 32) | (c->popped & 0xffffffffu);
}

/* run_take for an agent whose only input port `ip` (&a->in[0]) has one
 * channel (a pipeline stage): takes without a peek first. */
static inline int run_take_one(struct maestro_agent *a, struct inport *ip, maestro_buf_t **in,
                               uint64_t *inseq, struct chan **inch, uint64_t *flow_in) {
  struct chan *c = ip->ch[0];
  if (!(in[0] = ring_pop_lazy(&c->ring))) {
    if (chan_ended(c)) a->phase = AG_CLOSING; /* run_port_ended of its one channel */
    return 0;
  }
  run_take_note(ip, c, 0, inseq, inch, flow_in);
  return 1;
}

/* Takes one input set of agent `a` (its only consumer: its runner, or the
 * window's lock held) into in[0..n_in): all ports or none. Fills, when not
 * NULL, inseq[p] with each message's sequence number on its port, inch[p]
 * with the channel it came from, and *flow_in with the flow id of port 0's
 * message (channel id << 32 | message index; for the trace). Returns 1 when
 * taken (always for an agent without inputs), 0 when some port has nothing:
 * then, if that port has ended, the agent is AG_CLOSING (it fires no more). */
static inline int run_take(struct maestro_agent *a, maestro_buf_t **in, uint64_t *inseq,
                           struct chan **inch, uint64_t *flow_in) {
  if (a->n_in == 1 && a->in[0].nch == 1)
    return run_take_one(a, &a->in[0], in, inseq, inch, flow_in);
  if (!a->n_in) return 1;
  if (!run_can_take(a)) return 0;
  for (int p = 0; p < a->n_in; p++) {
    struct inport *ip = &a->in[p];
    struct chan *c = ip->ch[0];
    if (ip->nch > 1) {
      /* A channel before the one seen may have filled since: it is as good. */
      int i = run_port_next(ip);
      c = ip->ch[i];
      ip->rr = (i + 1) % ip->nch;
    }
    in[p] = ring_pop_lazy(&c->ring);
    run_take_note(ip, c, p, inseq, inch, flow_in);
  }
  return 1;
}

/* The first input port of `a` whose message in in[] is not a whole number
 * of its elements, or -1. Per message on a stage's path: a mask for sizes
 * that are powers of two, a division only for the others. */
static inline int run_misfit(const struct maestro_agent *a, maestro_buf_t *const *in) {
  for (int p = 0; p < a->n_in; p++) {
    const struct inport *ip = &a->in[p];
    size_t n = in[p]->size;
    if (__builtin_expect(ip->ediv ? n % ip->esize != 0 : (n & ip->emask) != 0, 0)) return p;
  }
  return -1;
}

/* Takes everything still arriving at `a` (it fires no more) as dead letters
 * (MAESTRO_ECLOSED, numbered on their ports). Returns how many. */
uint64_t run_drain_inputs(struct maestro_agent *a);

#endif
