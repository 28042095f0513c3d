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
 * The consumer side is single in both forms.
 *
 * Batched publication (SPSC form): each side moves a private index (tail_w,
 * head_r) and stores the shared one (tail, head) only when it publishes.
 * ring_push / ring_pop publish at once; the engine's runner uses
 * ring_push_lazy / ring_pop_lazy, which publish when the ring looks full
 * (push) or empty (pop), and every `pub_n` messages (ring_set_chunk), and
 * otherwise leave it to ring_publish_tail / ring_publish_head (the end of an
 * agent's run, every few firings of a chain that crosses cores). The index
 * lines then move once per batch instead of once per message. The other side
 * sees only what was published: a lazy side must publish before it waits on,
 * or tells, the other side. */
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
  /* Published indices, each on a line of its own: written by one side,
   * read by the other. */
  _Alignas(RING_LINE) atomic_size_t tail; /* published by the producer(s) */
  _Alignas(RING_LINE) atomic_size_t head; /* published by the consumer */
  /* Producer's private line (SPSC). */
  _Alignas(RING_LINE) size_t tail_w; /* next slot written: tail_w >= tail */
  size_t tail_limit; /* a push at tail_w < tail_limit needs no look at head nor publish */
  size_t tail_pub;   /* the producer's copy of tail */
  size_t head_cache; /* producer's view of head */
  int mp_p;          /* multi-producer form (producer's copy) */
  /* Consumer's private line (SPSC). */
  _Alignas(RING_LINE) size_t head_r; /* next slot read: head_r >= head */
  size_t head_limit; /* a pop at head_r < head_limit needs no look at tail nor publish */
  size_t head_pub;   /* the consumer's copy of head */
  size_t tail_cache; /* consumer's view of tail */
  int mp_c;          /* multi-producer form (consumer's copy) */
  _Alignas(RING_LINE) size_t cap; /* messages it may hold */
  size_t mask;
  size_t pub_n;            /* a lazy side publishes at least every pub_n messages */
  void **slots;            /* SPSC */
  struct ring_cell *cells; /* MPSC */
};

/* Sets the ring up for `cap` >= 1 messages. */
int ring_init(struct ring *r, size_t cap);
/* The multi-producer form; `cap` is rounded up to a power of two. */
int ring_init_mp(struct ring *r, size_t cap);
void ring_fini(struct ring *r);
/* A lazy side publishes at least every `n` messages (default: the capacity,
 * that is only when full or empty). Before any push or pop. */
void ring_set_chunk(struct ring *r, size_t n);

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

/* The limits fold both tests of a side's fast path (room or messages by
 * its cached view of the other index, and its chunk not yet due) into one
 * compare. Each may be low (the other side moved on), never high. */
static inline size_t ring_min(size_t a, size_t b) {
  return a < b ? a : b;
}

/* Producer: makes every message pushed so far visible to the consumer. */
static inline void ring_publish_tail(struct ring *r) {
  if (r->mp_p) return; /* each push published itself */
  size_t t = r->tail_w;
  if (r->tail_pub != t) {
    r->tail_pub = t;
    atomic_store_explicit(&r->tail, t, memory_order_release);
  }
  r->tail_limit = t + ring_min(r->head_cache + r->cap - t, r->pub_n);
}

/* Consumer: gives the slots of every message taken so far back to the producer. */
static inline void ring_publish_head(struct ring *r) {
  if (r->mp_c) return; /* each pop published itself */
  size_t h = r->head_r;
  if (r->head_pub != h) {
    r->head_pub = h;
    atomic_store_explicit(&r->head, h, memory_order_release);
  }
  r->head_limit = h + ring_min(r->tail_cache - h, r->pub_n);
}

/* ring_push_lazy at tail_limit: publishes a chunk that is due, looks at head
 * when the cached one says full; 0 when full (published first: the producer
 * is about to wait, the consumer must see what it is to drain). */
static inline int ring_push_slow(struct ring *r, size_t t) {
  if (t - r->head_cache >= r->cap) {
    r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
    if (t - r->head_cache >= r->cap) {
      ring_publish_tail(r);
      return 0;
    }
  }
  if (t - r->tail_pub >= r->pub_n)
    ring_publish_tail(r); /* also sets the limit */
  else
    r->tail_limit = t + ring_min(r->head_cache + r->cap - t, r->tail_pub + r->pub_n - t);
  return 1;
}

/* Producer: 1 when `p` went in, 0 when full. Publishes the tail every pub_n
 * messages and when full; the rest waits for ring_publish_tail. */
static inline int ring_push_lazy(struct ring *r, void *p) {
  if (r->mp_p) return ring_mp_push(r, p);
  size_t t = r->tail_w;
  if (__builtin_expect(t == r->tail_limit, 0) && !ring_push_slow(r, t)) return 0;
  r->slots[t & r->mask] = p;
  r->tail_w = t + 1;
  return 1;
}

/* Producer: ring_push_lazy, published at once. */
static inline int ring_push(struct ring *r, void *p) {
  if (r->mp_p) return ring_mp_push(r, p);
  int ok = ring_push_lazy(r, p);
  ring_publish_tail(r);
  return ok;
}

/* Consumer: 1 when no published message is left (the tail is re-read only
 * when the cached one says so). */
static inline int ring_spsc_empty(struct ring *r, size_t h) {
  if (h != r->tail_cache) return 0;
  r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
  return h == r->tail_cache;
}

/* Consumer: the oldest message without taking it, or NULL when empty. */
static inline void *ring_peek(struct ring *r) {
  if (r->mp_c) return ring_mp_peek(r);
  size_t h = r->head_r;
  if (ring_spsc_empty(r, h)) return NULL;
  return r->slots[h & r->mask];
}

/* ring_pop_lazy at head_limit: publishes a chunk that is due, and, when the
 * cached tail says empty, gives back what it took (the producer may be
 * waiting for room) before it looks at the tail; 0 when empty. */
static inline int ring_pop_slow(struct ring *r, size_t h) {
  if (h == r->tail_cache) {
    ring_publish_head(r);
    if (ring_spsc_empty(r, h)) {
      r->head_limit = h;
      return 0;
    }
  }
  if (h - r->head_pub >= r->pub_n)
    ring_publish_head(r); /* also sets the limit */
  else
    r->head_limit = h + ring_min(r->tail_cache - h, r->head_pub + r->pub_n - h);
  return 1;
}

/* Consumer: takes the oldest message, or NULL when empty. Publishes the head
 * every pub_n messages and when the ring looks empty; the rest waits for
 * ring_publish_head. */
static inline void *ring_pop_lazy(struct ring *r) {
  if (r->mp_c) return ring_mp_pop(r);
  size_t h = r->head_r;
  if (__builtin_expect(h == r->head_limit, 0) && !ring_pop_slow(r, h)) return NULL;
  void *p = r->slots[h & r->mask];
  r->head_r = h + 1;
  return p;
}

/* Consumer: ring_pop_lazy, published at once. */
static inline void *ring_pop(struct ring *r) {
  if (r->mp_c) return ring_mp_pop(r);
  void *p = ring_pop_lazy(r);
  ring_publish_head(r);
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
  size_t h = r->head_r;
  size_t avail = r->tail_cache - h;
  if (avail < n) {
    r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
    avail = r->tail_cache - h;
  }
  if (n > avail) n = avail;
  for (size_t i = 0; i < n; i++)
    out[i] = r->slots[(h + i) & r->mask];
  r->head_r = h + n;
  ring_publish_head(r);
  return n;
}

/* Either side (a snapshot): messages published into the ring and not
 * published as taken (in the multi-producer form, also those claimed and not
 * yet filled). */
static inline size_t ring_count(struct ring *r) {
  size_t h = atomic_load_explicit(&r->head, memory_order_acquire); /* head first: t >= h */
  size_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
  return t - h;
}

#endif
