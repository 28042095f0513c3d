/* Input ports: whether they ended, and the dead letters of what arrives
 * after an agent stopped firing (the inline take is in take.h). */
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
