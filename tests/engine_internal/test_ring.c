/* The SPSC ring: order, bounds, wrap-around, and a two-thread transfer. */
#include <pthread.h>
#include <stdint.h>

#include "chan/ring.h"
#include "testmain.h"

static void ring_order_and_bound(void) {
  struct ring r;
  CU_ASSERT_EQUAL_FATAL(ring_init(&r, 5), 0);
  for (uintptr_t round = 0; round < 10; round++) { /* wraps the 8-slot array */
    for (uintptr_t i = 1; i <= 5; i++)
      CU_ASSERT_EQUAL(ring_push(&r, (void *)(round * 10 + i)), 1);
    CU_ASSERT_EQUAL(ring_push(&r, (void *)99), 0); /* capacity 5, not 8 */
    CU_ASSERT_EQUAL(ring_count(&r), 5);
    CU_ASSERT_PTR_EQUAL(ring_peek(&r), (void *)(round * 10 + 1));
    for (uintptr_t i = 1; i <= 5; i++)
      CU_ASSERT_PTR_EQUAL(ring_pop(&r), (void *)(round * 10 + i));
    CU_ASSERT_PTR_NULL(ring_pop(&r));
  }
  ring_fini(&r);
}

static void ring_pop_n_takes_at_most_what_is_there(void) {
  struct ring r;
  CU_ASSERT_EQUAL_FATAL(ring_init(&r, 4), 0);
  void *out[8];
  for (uintptr_t i = 1; i <= 3; i++)
    ring_push(&r, (void *)i);
  CU_ASSERT_EQUAL(ring_pop_n(&r, out, 8), 3);
  CU_ASSERT_PTR_EQUAL(out[0], (void *)1);
  CU_ASSERT_PTR_EQUAL(out[2], (void *)3);
  CU_ASSERT_EQUAL(ring_pop_n(&r, out, 8), 0);
  ring_fini(&r);
}

#define N_TRANSFER 200000
static void *producer(void *arg) {
  struct ring *r = arg;
  for (uintptr_t i = 1; i <= N_TRANSFER; i++)
    while (!ring_push(r, (void *)i))
      ;
  return NULL;
}

static void ring_two_threads_keep_order(void) {
  struct ring r;
  CU_ASSERT_EQUAL_FATAL(ring_init(&r, 16), 0);
  pthread_t t;
  pthread_create(&t, NULL, producer, &r);
  uintptr_t expect = 1, bad = 0;
  while (expect <= N_TRANSFER) {
    void *p = ring_pop(&r);
    if (!p) continue;
    if ((uintptr_t)p != expect) bad++;
    expect++;
  }
  pthread_join(t, NULL);
  CU_ASSERT_EQUAL(bad, 0);
  ring_fini(&r);
}

void register_ring_tests(void) {
  ADD_SUITE("ring", NULL, NULL, {"order_and_bound", ring_order_and_bound},
            {"pop_n", ring_pop_n_takes_at_most_what_is_there},
            {"two_threads_keep_order", ring_two_threads_keep_order});
}
