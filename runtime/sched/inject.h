/* An unbounded multi-producer, single-consumer queue of intrusive nodes
 * (D. Vyukov's, as Pony's actor message queue): a push is one atomic
 * exchange and one store, from any thread, and never allocates; a pop is a
 * few plain loads and stores by the one consumer.
 *
 * The push says whether the queue was empty (Pony's messageq_push does the
 * same): only such a push may have to wake a consumer that parked, since a
 * consumer looks at its queue after saying it parks and does not sleep
 * while the queue holds anything.
 *
 * A pop may find the queue not empty but its oldest link not yet written
 * (a producer between its exchange and its store): it returns NULL and the
 * consumer looks again later; sched_inject_busy() still says "not empty".
 *
 * "One consumer" means one at a time: several threads may take turns as
 * the consumer if something orders their turns (runtime/sched/worker.c
 * hands the role over with a flag). */
#ifndef MAESTRO_SCHED_INJECT_H
#define MAESTRO_SCHED_INJECT_H

#include <stdatomic.h>
#include <stddef.h>

struct sched_node {
  _Atomic(struct sched_node *) next;
};

struct sched_inject {
  _Alignas(64) _Atomic(struct sched_node *) head; /* the newest: producers */
  _Alignas(64) _Atomic(struct sched_node *) tail; /* the oldest: the consumer */
  struct sched_node stub; /* stands in for the last node when the queue is drained */
};

static inline void sched_inject_init(struct sched_inject *q) {
  atomic_init(&q->stub.next, NULL);
  atomic_init(&q->head, &q->stub);
  atomic_init(&q->tail, &q->stub);
}

/* Any thread: queues `n` (in no queue now). 1 when the queue was empty. */
static inline int sched_inject_push(struct sched_inject *q, struct sched_node *n) {
  atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
  struct sched_node *prev = atomic_exchange_explicit(&q->head, n, memory_order_seq_cst);
  atomic_store_explicit(&prev->next, n, memory_order_release);
  return prev == &q->stub;
}

/* The consumer: the oldest node, or NULL (empty, or a push half done). */
static inline struct sched_node *sched_inject_pop(struct sched_inject *q) {
  struct sched_node *tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
  struct sched_node *next = atomic_load_explicit(&tail->next, memory_order_acquire);
  if (tail == &q->stub) {
    if (!next) return NULL;
    atomic_store_explicit(&q->tail, next, memory_order_relaxed);
    tail = next;
    next = atomic_load_explicit(&next->next, memory_order_acquire);
  }
  if (next) {
    atomic_store_explicit(&q->tail, next, memory_order_relaxed);
    return tail;
  }
  if (tail != atomic_load_explicit(&q->head, memory_order_acquire)) return NULL; /* half done */
  /* `tail` is the last node: the stub goes behind it, so that taking it
   * leaves the queue with a node to hang the next push on. */
  sched_inject_push(q, &q->stub);
  next = atomic_load_explicit(&tail->next, memory_order_acquire);
  if (!next) return NULL; /* a push came between: its link is not written yet */
  atomic_store_explicit(&q->tail, next, memory_order_relaxed);
  return tail;
}

/* The consumer: the oldest node without taking it, or NULL (empty, or a
 * push half done). The next pop returns it, or NULL. */
static inline struct sched_node *sched_inject_peek(struct sched_inject *q) {
  struct sched_node *tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
  if (tail == &q->stub) return atomic_load_explicit(&tail->next, memory_order_acquire);
  return tail;
}

/* Any thread, a snapshot: 0 when the queue is empty (the stub alone is in
 * it, as both its newest and its oldest node), 1 when it holds a node or a
 * push is half done. The head alone would not do: a consumer that put the
 * stub behind its last node while another push came leaves that push's
 * node in the queue behind the head. */
static inline int sched_inject_busy(struct sched_inject *q) {
  return atomic_load_explicit(&q->head, memory_order_seq_cst) != &q->stub ||
         atomic_load_explicit(&q->tail, memory_order_seq_cst) != &q->stub;
}

#endif
