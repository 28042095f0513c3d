/* Ring setup (the hot paths are inline in ring.h). */
#include "chan/ring.h"

#include <stdlib.h>

int ring_init(struct ring *r, size_t cap) {
  size_t n = 1;
  while (n < cap)
    n <<= 1;
  r->slots = calloc(n, sizeof *r->slots);
  if (!r->slots) return -1;
  atomic_init(&r->tail, 0);
  atomic_init(&r->head, 0);
  r->head_cache = r->tail_cache = r->tail_w = r->head_r = 0;
  r->cap = cap;
  r->mask = n - 1;
  /* No chunks by default: the engine publishes a crossing chain's rings
   * every few firings itself (core/run.c), and a chain on one core loses
   * nothing by publishing only when full, empty, or at the end of a run. */
  r->pub_n = cap;
  r->tail_pub = r->head_pub = 0;
  r->tail_limit = cap;
  r->head_limit = 0; /* empty */
  r->cells = NULL;
  r->mp_p = r->mp_c = 0;
  return 0;
}

int ring_init_mp(struct ring *r, size_t cap) {
  size_t n = 1;
  while (n < cap)
    n <<= 1;
  r->cells = calloc(n, sizeof *r->cells);
  if (!r->cells) return -1;
  for (size_t i = 0; i < n; i++)
    atomic_init(&r->cells[i].seq, i);
  r->slots = NULL;
  atomic_init(&r->tail, 0);
  atomic_init(&r->head, 0);
  r->head_cache = r->tail_cache = r->tail_w = r->head_r = 0;
  r->cap = n;
  r->mask = n - 1;
  r->pub_n = 1;
  r->tail_pub = r->head_pub = r->tail_limit = r->head_limit = 0;
  r->mp_p = r->mp_c = 1;
  return 0;
}

void ring_set_chunk(struct ring *r, size_t n) {
  r->pub_n = n ? n : 1;
  ring_publish_tail(r); /* sets both limits anew */
  ring_publish_head(r);
}

void ring_fini(struct ring *r) {
  free(r->slots);
  free(r->cells);
  r->slots = NULL;
  r->cells = NULL;
}
