/* A work-stealing deque (Chase and Lev 2005, with the C11 memory orders of
 * Lê, Pop, Cohen and Zappa Nardelli 2013, "Correct and Efficient
 * Work-Stealing for Weak Memory Models").
 *
 * One thread owns it: only the owner pushes and takes, at the bottom, so
 * its newest item comes back first (the task it just made runnable, whose
 * input is still in this core's caches). Any thread steals at the top, the
 * oldest item. Push is a store and a release; take is a store, a full fence
 * and, only when one item is left, a compare-and-swap; a steal is a fence
 * and a compare-and-swap. The owner may steal from its own deque too (to
 * take its oldest item now and then, so that nothing waits for ever below
 * items that keep coming back).
 *
 * Items are words whose two low bits are tags (pointers aligned to 4 bytes,
 * tags or'ed in); the values 0..3 are never items. A thief may ask for the
 * top item only if it carries given tags: it then takes nothing else,
 * without touching what the word points to (a word it did not take may
 * point to memory already freed).
 *
 * The array grows by doubling when full; an outgrown array is kept until
 * sched_deque_fini, since a thief may still read it. */
#ifndef MAESTRO_SCHED_DEQUE_H
#define MAESTRO_SCHED_DEQUE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/fence.h"

/* What take and steal return instead of an item. */
#define SCHED_DEQUE_EMPTY ((uintptr_t)0) /* nothing there */
#define SCHED_DEQUE_ABORT ((uintptr_t)1) /* steal: lost a race with another taker; try again */
#define SCHED_DEQUE_SKIP  ((uintptr_t)2) /* steal: the top item lacks the tags asked for */
#define SCHED_DEQUE_TAGS  ((uintptr_t)3) /* the tag bits of an item */

struct sched_deque_array {
  int64_t size;                    /* a power of two */
  struct sched_deque_array *older; /* outgrown arrays, freed at fini */
  atomic_uintptr_t slot[];
};

struct sched_deque {
  _Alignas(64) _Atomic int64_t top;    /* thieves (and the owner's last take) */
  _Alignas(64) _Atomic int64_t bottom; /* the owner */
  _Atomic(struct sched_deque_array *) array;
};

/* Sets up an empty deque with room for `cap` items before it first grows
 * (rounded up to a power of two). 0, or -1 when out of memory. */
int sched_deque_init(struct sched_deque *q, size_t cap);
/* Frees its arrays (no thread may use it any more). */
void sched_deque_fini(struct sched_deque *q);
/* Owner, when full: doubles the array. 0, or -1 when out of memory. */
int sched_deque_grow(struct sched_deque *q, int64_t top, int64_t bottom);

/* Owner: puts `x` (>= 4) at the bottom. 0, or -1 when the deque was full
 * and could not grow (out of memory): `x` is not queued. */
static inline int sched_deque_push(struct sched_deque *q, uintptr_t x) {
  int64_t b = atomic_load_explicit(&q->bottom, memory_order_relaxed);
  int64_t t = atomic_load_explicit(&q->top, memory_order_acquire);
  struct sched_deque_array *a = atomic_load_explicit(&q->array, memory_order_relaxed);
  if (b - t > a->size - 1) {
    if (sched_deque_grow(q, t, b) != 0) return -1;
    a = atomic_load_explicit(&q->array, memory_order_relaxed);
  }
  atomic_store_explicit(&a->slot[b & (a->size - 1)], x, memory_order_relaxed);
  /* The paper's release fence then a relaxed store, as one release store
   * (which ThreadSanitizer can follow). */
  atomic_store_explicit(&q->bottom, b + 1, memory_order_release);
  return 0;
}

/* Owner: takes the bottom (newest) item, or SCHED_DEQUE_EMPTY. */
static inline uintptr_t sched_deque_take(struct sched_deque *q) {
  int64_t b = atomic_load_explicit(&q->bottom, memory_order_relaxed) - 1;
  struct sched_deque_array *a = atomic_load_explicit(&q->array, memory_order_relaxed);
  atomic_store_explicit(&q->bottom, b, memory_order_relaxed);
  /* The bottom lowered before top is read: a thief reading the old bottom
   * meets this take at the compare-and-swap on top (the one item left) or
   * sees the lower bottom. */
  full_fence();
  int64_t t = atomic_load_explicit(&q->top, memory_order_relaxed);
  uintptr_t x = SCHED_DEQUE_EMPTY;
  if (t <= b) {
    x = atomic_load_explicit(&a->slot[b & (a->size - 1)], memory_order_relaxed);
    if (t == b) {
      /* The last item: a thief may be taking it too. */
      if (!atomic_compare_exchange_strong_explicit(&q->top, &t, t + 1, memory_order_seq_cst,
                                                   memory_order_relaxed))
        x = SCHED_DEQUE_EMPTY;
      atomic_store_explicit(&q->bottom, b + 1, memory_order_relaxed);
    }
  } else {
    atomic_store_explicit(&q->bottom, b + 1, memory_order_relaxed);
  }
  return x;
}

/* Any thread: takes the top (oldest) item if it carries every tag bit of
 * `need` (0: any item). Returns it, SCHED_DEQUE_EMPTY, SCHED_DEQUE_SKIP (its
 * tags do not match: left there) or SCHED_DEQUE_ABORT (another taker won it). */
static inline uintptr_t sched_deque_steal(struct sched_deque *q, uintptr_t need) {
  int64_t t = atomic_load_explicit(&q->top, memory_order_acquire);
  /* top read before bottom: see sched_deque_take. */
  full_fence();
  int64_t b = atomic_load_explicit(&q->bottom, memory_order_acquire);
  if (t >= b) return SCHED_DEQUE_EMPTY;
  struct sched_deque_array *a = atomic_load_explicit(&q->array, memory_order_acquire);
  uintptr_t x = atomic_load_explicit(&a->slot[t & (a->size - 1)], memory_order_relaxed);
  if ((x & need) != need) return SCHED_DEQUE_SKIP;
  if (!atomic_compare_exchange_strong_explicit(&q->top, &t, t + 1, memory_order_seq_cst,
                                               memory_order_relaxed))
    return SCHED_DEQUE_ABORT;
  return x;
}

/* Any thread, a snapshot: items in the deque (0 when empty). */
static inline int64_t sched_deque_size(struct sched_deque *q) {
  int64_t b = atomic_load_explicit(&q->bottom, memory_order_relaxed);
  int64_t t = atomic_load_explicit(&q->top, memory_order_relaxed);
  return b > t ? b - t : 0;
}

/* Any thread, a hint: the tags of the top item, or -1 when it looks empty
 * (the item may be gone by the time the caller acts). */
static inline int sched_deque_top_tags(struct sched_deque *q) {
  int64_t t = atomic_load_explicit(&q->top, memory_order_acquire);
  int64_t b = atomic_load_explicit(&q->bottom, memory_order_acquire);
  if (t >= b) return -1;
  struct sched_deque_array *a = atomic_load_explicit(&q->array, memory_order_acquire);
  return (int)(atomic_load_explicit(&a->slot[t & (a->size - 1)], memory_order_relaxed) &
               SCHED_DEQUE_TAGS);
}

#endif
