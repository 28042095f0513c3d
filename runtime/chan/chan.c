/* Channel setup and the producer's overflow FIFO. */
#include "chan/chan.h"

#include <stdlib.h>
#include <string.h>

#include "mem/buf.h"

static atomic_ullong next_chan_id = 1;

struct chan *chan_new(int capacity, int mp) {
  struct chan *c = aligned_alloc(64, (sizeof(struct chan) + 63) & ~(size_t)63);
  if (!c) return NULL;
  memset(c, 0, sizeof *c);
  if ((mp ? ring_init_mp(&c->ring, (size_t)capacity) : ring_init(&c->ring, (size_t)capacity)) !=
      0) {
    free(c);
    return NULL;
  }
  atomic_init(&c->closed, 0);
  atomic_init(&c->prod_waiting, 0);
  atomic_init(&c->prod_cpu, -1);
  atomic_init(&c->cons_cpu, -1);
  atomic_init(&c->msgs, 0);
  atomic_init(&c->bytes, 0);
  c->capacity = (int)c->ring.cap;
  c->id = atomic_fetch_add(&next_chan_id, 1);
  return c;
}

void chan_free(struct chan *c) {
  if (!c) return;
  maestro_buf_t *b;
  ring_publish_tail(&c->ring); /* sent in a run that never published (a stop) */
  while ((b = ring_pop(&c->ring)))
    maestro_buf_release(b);
  while ((b = chan_pend_take(c)))
    maestro_buf_release(b);
  free(c->pend);
  ring_fini(&c->ring);
  free(c);
}

int chan_pend(struct chan *c, maestro_buf_t *b) {
  if (c->pend_n == c->pend_cap) {
    size_t cap = c->pend_cap ? c->pend_cap * 2 : 16;
    maestro_buf_t **p = malloc(cap * sizeof *p);
    if (!p) return -1;
    for (size_t i = 0; i < c->pend_n; i++)
      p[i] = c->pend[(c->pend_head + i) % c->pend_cap];
    free(c->pend);
    c->pend = p;
    c->pend_head = 0;
    c->pend_cap = cap;
  }
  c->pend[(c->pend_head + c->pend_n) % c->pend_cap] = b;
  c->pend_n++;
  return 0;
}

maestro_buf_t *chan_pend_take(struct chan *c) {
  if (!c->pend_n) return NULL;
  maestro_buf_t *b = c->pend[c->pend_head];
  c->pend_head = (c->pend_head + 1) % c->pend_cap;
  c->pend_n--;
  return b;
}

int chan_flush(struct chan *c) {
  while (c->pend_n) {
    if (!ring_push_lazy(&c->ring, c->pend[c->pend_head])) return 0; /* published: full */
    c->pend_head = (c->pend_head + 1) % c->pend_cap;
    c->pend_n--;
    c->dirty = 1;
  }
  return 1;
}
