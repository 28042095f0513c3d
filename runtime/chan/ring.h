/* A bounded single-producer / single-consumer ring of pointers. Each side
 * keeps a cached copy of the other's index on its own cache line, so a push
 * or pop touches the shared line only when the cache says full or empty.
 * "Single" means one at a time: the engine serialises each side (an agent
 * fires one firing at a time; host inputs and outputs take a mutex), so the
 * same ring is also the multi-producer form behind a lock. */
#ifndef MAESTRO_CHAN_RING_H
#define MAESTRO_CHAN_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define RING_LINE 64

struct ring {
  _Alignas(RING_LINE) atomic_size_t tail; /* written by the producer */
  size_t head_cache;                      /* producer's view of head */
  _Alignas(RING_LINE) atomic_size_t head; /* written by the consumer */
  size_t tail_cache;                      /* consumer's view of tail */
  _Alignas(RING_LINE) size_t cap;         /* messages it may hold */
  size_t mask;
  void **slots;
};

/* Sets the ring up for `cap` >= 1 messages. */
int ring_init(struct ring *r, size_t cap);
void ring_fini(struct ring *r);

/* Producer: 1 when `p` went in, 0 when full. */
static inline int ring_push(struct ring *r, void *p) {
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
  size_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
  if (h == r->tail_cache) {
    r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (h == r->tail_cache) return NULL;
  }
  return r->slots[h & r->mask];
}

/* Consumer: takes the oldest message, or NULL when empty. */
static inline void *ring_pop(struct ring *r) {
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

/* Either side (a snapshot): messages in the ring. */
static inline size_t ring_count(struct ring *r) {
  size_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
  size_t h = atomic_load_explicit(&r->head, memory_order_acquire);
  return t - h;
}

#endif
