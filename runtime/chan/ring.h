/* Bounded lock-free rings of pointers, two forms behind one interface:
 *
 * - single producer / single consumer (the default): each side keeps a
 *   cached copy of the other's index on its own cache line, so a push or pop
 *   touches the shared line only when the cache says full or empty. "Single"
 *   means one at a time: an agent's sends are serialised by the engine (one
 *   firing at a time, or emission under the agent's lock).
 * - multi-producer / single consumer (ring_init_mp): several threads push
 *   at once without a lock (D. Vyukov's bounded queue: a sequence number per
 *   cell says whether it is free, claimed or filled). Host inputs use it,
 *   since any number of host threads may push into one.
 *
 * The consumer side is single in both forms. */
#ifndef MAESTRO_CHAN_RING_H
#define MAESTRO_CHAN_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define RING_LINE 64

struct ring_cell {
  atomic_size_t seq; /* pos: free for push pos; pos + 1: filled by push pos */
  void *p;
};

struct ring {
  _Alignas(RING_LINE) atomic_size_t tail; /* written by the producer(s) */
  size_t head_cache;                      /* producer's view of head (SPSC) */
  int mp_p;                               /* multi-producer form (producer's copy) */
  _Alignas(RING_LINE) atomic_size_t head; /* written by the consumer */
  size_t tail_cache;                      /* consumer's view of tail (SPSC) */
  int mp_c;                               /* multi-producer form (consumer's copy) */
  _Alignas(RING_LINE) size_t cap;         /* messages it may hold */
  size_t mask;
  void **slots;            /* SPSC */
  struct ring_cell *cells; /* MPSC */
};

/* Sets the ring up for `cap` >= 1 messages. */
int ring_init(struct ring *r, size_t cap);
/* The multi-producer form; `cap` is rounded up to a power of two. */
int ring_init_mp(struct ring *r, size_t cap);
void ring_fini(struct ring *r);

static inline int ring_mp_push(struct ring *r, void *p) {
  size_t pos = atomic_load_explicit(&r->tail, memory_order_relaxed);
  for (;;) {
    struct ring_cell *c = &r->cells[pos & r->mask];
    size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
    intptr_t dif = (intptr_t)seq - (intptr_t)pos;
    if (dif == 0) {
      if (atomic_compare_exchange_weak_explicit(&r->tail, &pos, pos + 1, memory_order_relaxed,
                                                memory_order_relaxed)) {
        c->p = p;
        atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
        return 1;
      }
    } else if (dif < 0) {
      return 0; /* full: the cell still holds the message of a lap ago */
    } else {
      pos = atomic_load_explicit(&r->tail, memory_order_relaxed);
    }
  }
}

static inline void *ring_mp_peek(struct ring *r) {
  size_t pos = atomic_load_explicit(&r->head, memory_order_relaxed);
  struct ring_cell *c = &r->cells[pos & r->mask];
  if (atomic_load_explicit(&c->seq, memory_order_acquire) != pos + 1) return NULL;
  return c->p;
}

static inline void *ring_mp_pop(struct ring *r) {
  size_t pos = atomic_load_explicit(&r->head, memory_order_relaxed);
  struct ring_cell *c = &r->cells[pos & r->mask];
  if (atomic_load_explicit(&c->seq, memory_order_acquire) != pos + 1) return NULL;
  void *p = c->p;
  atomic_store_explicit(&c->seq, pos + r->mask + 1, memory_order_release);
  atomic_store_explicit(&r->head, pos + 1, memory_order_release);
  return p;
}

/* Producer: 1 when `p` went in, 0 when full. */
static inline int ring_push(struct ring *r, void *p) {
  if (r->mp_p) return ring_mp_push(r, p);
  size_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
  if (t - r->head_cache >= r->cap) {
    r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
    if (t - r->head_cache >= r->cap) return 0;
  }
  r->slots[t & r->mask] = p;
  atomic_store_explicit(&r->tail, t + 1, memory_order_release);
  return 1;
}

/* Consumer: the oldest message without taking it, or NULL when empty. */
static inline void *ring_peek(struct ring *r) {
  if (r->mp_c) return ring_mp_peek(r);
  size_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
  if (h == r->tail_cache) {
    r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (h == r->tail_cache) return NULL;
  }
  return r->slots[h & r->mask];
}

/* Consumer: takes the oldest message, or NULL when empty. */
static inline void *ring_pop(struct ring *r) {
  if (r->mp_c) return ring_mp_pop(r);
  size_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
  if (h == r->tail_cache) {
    r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (h == r->tail_cache) return NULL;
  }
  void *p = r->slots[h & r->mask];
  atomic_store_explicit(&r->head, h + 1, memory_order_release);
  return p;
}

/* Consumer: takes up to `n` messages at once (one index store); returns how many. */
static inline size_t ring_pop_n(struct ring *r, void **out, size_t n) {
  if (r->mp_c) {
    size_t k = 0;
    while (k < n && (out[k] = ring_mp_pop(r)))
      k++;
    return k;
  }
  size_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
  size_t avail = r->tail_cache - h;
  if (avail < n) {
    r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
    avail = r->tail_cache - h;
  }
  if (n > avail) n = avail;
  for (size_t i = 0; i < n; i++)
    out[i] = r->slots[(h + i) & r->mask];
  if (n) atomic_store_explicit(&r->head, h + n, memory_order_release);
  return n;
}

/* Either side (a snapshot): messages in the ring (in the multi-producer
 * form, also those claimed and not yet filled). */
static inline size_t ring_count(struct ring *r) {
  size_t h = atomic_load_explicit(&r->head, memory_order_acquire); /* head first: t >= h */
  size_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
  return t - h;
}

#endif
