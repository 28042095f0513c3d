/* Input ports: whether they ended, and the dead letters of what arrives
 * after an agent stopped firing (the inline take is in take.h). */
#include <stdio.h>

#include "core/take.h"

int run_port_ended(struct inport *p) {
  for (int k = 0; k < p->nch; k++)
    if (!chan_ended(p->ch[k])) return 0;
  return 1;
}

int run_inputs_ended(struct maestro_agent *a) {
  for (int i = 0; i < a->n_in; i++)
    if (!run_port_ended(&a->in[i])) return 0;
  return 1;
}

int run_align_heads(struct maestro_agent *a) {
  uint64_t dom = 0, max = 0;
  int same = 1;
  for (int p = 0; p < a->n_in; p++) {
    struct inport *ip = &a->in[p];
    maestro_buf_t *b = ring_peek(&ip->ch[0]->ring);
    uint64_t o = atomic_load_explicit(&b->origin, memory_order_relaxed);
    uint64_t d = o >> ORIGIN_SHIFT, q = o & ORIGIN_SEQ_MASK;
    if (!d || (p && d != dom)) return 1; /* different sources: not comparable */
    if (p && q != max) same = 0;
    if (!p || q > max) max = q;
    dom = d;
  }
  if (same) return 1;
  uint64_t n = 0;
  for (int p = 0; p < a->n_in; p++) {
    struct inport *ip = &a->in[p];
    struct chan *c = ip->ch[0];
    maestro_buf_t *b;
    while ((b = ring_peek(&c->ring)) &&
           (atomic_load_explicit(&b->origin, memory_order_relaxed) & ORIGIN_SEQ_MASK) < max) {
      uint64_t q = atomic_load_explicit(&b->origin, memory_order_relaxed) & ORIGIN_SEQ_MASK;
      b = ring_pop(&c->ring);
      c->popped++;
      c->cons_dirty = 1;
      char why[256];
      snprintf(why, sizeof why,
               "partner of a skipped message: agent '%s' port '%s' got origin seq %llu of domain "
               "%llu, which another input port skipped (its next message is seq %llu)",
               a->name, ip->name, (unsigned long long)q, (unsigned long long)dom,
               (unsigned long long)max);
      dl_put(a->g, b, a->name, ip->name, MAESTRO_ECLOSED, ip->taken++,
             graph_keep_reason(a->g, a, MAESTRO_ECLOSED, why));
      n++;
    }
  }
  atomic_fetch_add_explicit(&a->st.dead_letters, n, memory_order_relaxed);
  return 0;
}

uint64_t run_drain_inputs(struct maestro_agent *a) {
  uint64_t n = 0;
  for (int i = 0; i < a->n_in; i++) {
    struct inport *p = &a->in[i];
    for (int k = 0; k < p->nch; k++) {
      struct chan *c = p->ch[k];
      maestro_buf_t *b;
      while ((b = ring_pop(&c->ring))) {
        c->popped++;
        c->cons_dirty = 1;
        dl_put(a->g, b, a->name, p->name, MAESTRO_ECLOSED, p->taken++, NULL);
        n++;
      }
    }
  }
  return n;
}
