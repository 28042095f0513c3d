/* The work-stealing deque's arrays (runtime/sched/deque.h). */
#include <stdlib.h>

#include "sched/deque.h"

static struct sched_deque_array *array_new(int64_t size) {
  struct sched_deque_array *a = malloc(sizeof *a + (size_t)size * sizeof a->slot[0]);
  if (!a) return NULL;
  a->size = size;
  a->older = NULL;
  for (int64_t i = 0; i < size; i++)
    atomic_init(&a->slot[i], 0);
  return a;
}

int sched_deque_init(struct sched_deque *q, size_t cap) {
  int64_t size = 8;
  while ((size_t)size < cap)
    size *= 2;
  struct sched_deque_array *a = array_new(size);
  if (!a) return -1;
  atomic_init(&q->top, 0);
  atomic_init(&q->bottom, 0);
  atomic_init(&q->array, a);
  return 0;
}

void sched_deque_fini(struct sched_deque *q) {
  struct sched_deque_array *a = atomic_load_explicit(&q->array, memory_order_relaxed);
  while (a) {
    struct sched_deque_array *older = a->older;
    free(a);
    a = older;
  }
  atomic_store_explicit(&q->array, NULL, memory_order_relaxed);
}

int sched_deque_grow(struct sched_deque *q, int64_t top, int64_t bottom) {
  struct sched_deque_array *a = atomic_load_explicit(&q->array, memory_order_relaxed);
  struct sched_deque_array *n = array_new(a->size * 2);
  if (!n) return -1;
  /* Items keep their indices (top..bottom): a thief that read the old
   * array finds the same item there, and its compare-and-swap on top
   * decides who has it. Items below a stolen top are copied needlessly. */
  for (int64_t i = top; i < bottom; i++)
    atomic_store_explicit(&n->slot[i & (n->size - 1)],
                          atomic_load_explicit(&a->slot[i & (a->size - 1)], memory_order_relaxed),
                          memory_order_relaxed);
  n->older = a;
  atomic_store_explicit(&q->array, n, memory_order_release);
  return 0;
}
