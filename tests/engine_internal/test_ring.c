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

/* Multi-producer form: 4 threads push (thread << 32 | i) at once; the
 * consumer sees every message once, each thread's in its order. */
#define MP_THREADS 4
#define MP_EACH    50000
struct mp_arg {
  struct ring *r;
  uintptr_t id;
};

static void *mp_producer(void *arg) {
  struct mp_arg *a = arg;
  for (uintptr_t i = 1; i <= MP_EACH; i++)
    while (!ring_push(a->r, (void *)((a->id << 32) | i)))
      ;
  return NULL;
}

static void ring_mp_many_producers(void) {
  struct ring r;
  CU_ASSERT_EQUAL_FATAL(ring_init_mp(&r, 64), 0);
  CU_ASSERT_EQUAL(r.cap, 64);
  pthread_t t[MP_THREADS];
  struct mp_arg args[MP_THREADS];
  for (int k = 0; k < MP_THREADS; k++) {
    args[k] = (struct mp_arg){&r, (uintptr_t)k + 1};
    pthread_create(&t[k], NULL, mp_producer, &args[k]);
  }
  uintptr_t next[MP_THREADS + 1] = {0};
  long got = 0, bad = 0;
  while (got < (long)MP_THREADS * MP_EACH) {
    void *p = ring_peek(&r);
    if (!p) continue;
    if (ring_pop(&r) != p) bad++;
    uintptr_t v = (uintptr_t)p, id = v >> 32, i = v & 0xffffffffu;
    if (id < 1 || id > MP_THREADS || i != next[id] + 1) bad++;
    if (id >= 1 && id <= MP_THREADS) next[id] = i;
    got++;
  }
  for (int k = 0; k < MP_THREADS; k++)
    pthread_join(t[k], NULL);
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_PTR_NULL(ring_pop(&r));
  ring_fini(&r);
}

static void ring_mp_bound(void) {
  struct ring r;
  CU_ASSERT_EQUAL_FATAL(ring_init_mp(&r, 5), 0); /* rounded up to 8 */
  for (uintptr_t i = 1; i <= 8; i++)
    CU_ASSERT_EQUAL(ring_push(&r, (void *)i), 1);
  CU_ASSERT_EQUAL(ring_push(&r, (void *)9), 0);
  CU_ASSERT_EQUAL(ring_count(&r), 8);
  void *out[16];
  CU_ASSERT_EQUAL(ring_pop_n(&r, out, 16), 8);
  CU_ASSERT_PTR_EQUAL(out[7], (void *)8);
  CU_ASSERT_EQUAL(ring_push(&r, (void *)10), 1); /* the next lap */
  CU_ASSERT_PTR_EQUAL(ring_pop(&r), (void *)10);
  ring_fini(&r);
}

/* ---- batched publication (ring_push_lazy / ring_pop_lazy) ---- */

/* A lazy side publishes each chunk of pub_n messages (here 16) as the next
 * message goes in or out, and the rest when told; the other side sees only
 * what was published. */
static void ring_lazy_publishes_in_chunks(void) {
  struct ring r;
  CU_ASSERT_EQUAL_FATAL(ring_init(&r, 64), 0);
  CU_ASSERT_EQUAL(r.pub_n, 64); /* by default, only when full or empty */
  ring_set_chunk(&r, 16);
  for (uintptr_t i = 1; i <= 16; i++)
    CU_ASSERT_EQUAL(ring_push_lazy(&r, (void *)i), 1);
  CU_ASSERT_EQUAL(ring_count(&r), 0);
  CU_ASSERT_PTR_NULL(ring_peek(&r)); /* nothing published yet */
  CU_ASSERT_EQUAL(ring_push_lazy(&r, (void *)17), 1);
  CU_ASSERT_EQUAL(ring_count(&r), 16);
  for (uintptr_t i = 18; i <= 19; i++)
    CU_ASSERT_EQUAL(ring_push_lazy(&r, (void *)i), 1);
  CU_ASSERT_EQUAL(ring_count(&r), 16);
  ring_publish_tail(&r);
  CU_ASSERT_EQUAL(ring_count(&r), 19);
  for (uintptr_t i = 1; i <= 16; i++)
    CU_ASSERT_PTR_EQUAL(ring_pop_lazy(&r), (void *)i);
  CU_ASSERT_EQUAL(ring_count(&r), 19); /* taken, not yet given back */
  CU_ASSERT_PTR_EQUAL(ring_pop_lazy(&r), (void *)17);
  CU_ASSERT_EQUAL(ring_count(&r), 3);
  for (uintptr_t i = 18; i <= 19; i++)
    CU_ASSERT_PTR_EQUAL(ring_pop_lazy(&r), (void *)i);
  CU_ASSERT_EQUAL(ring_count(&r), 3);
  CU_ASSERT_PTR_NULL(ring_pop_lazy(&r)); /* looks empty: gives the slots back first */
  CU_ASSERT_EQUAL(ring_count(&r), 0);
  ring_fini(&r);
}

/* A lazy push that finds the ring full publishes what it holds (the
 * producer is about to wait: the consumer must see it), and the bound is
 * the capacity, published or not. */
static void ring_lazy_full_publishes(void) {
  struct ring r;
  CU_ASSERT_EQUAL_FATAL(ring_init(&r, 13), 0);
  ring_set_chunk(&r, 3);
  for (uintptr_t i = 1; i <= 13; i++)
    CU_ASSERT_EQUAL(ring_push_lazy(&r, (void *)i), 1);
  CU_ASSERT_EQUAL(ring_count(&r), 12); /* published at 3, 6, 9, 12 */
  CU_ASSERT_EQUAL(ring_push_lazy(&r, (void *)14), 0);
  CU_ASSERT_EQUAL(ring_count(&r), 13);
  CU_ASSERT_PTR_EQUAL(ring_pop_lazy(&r), (void *)1);
  CU_ASSERT_EQUAL(ring_push_lazy(&r, (void *)14), 0); /* the slot is not given back yet */
  ring_publish_head(&r);
  CU_ASSERT_EQUAL(ring_push_lazy(&r, (void *)14), 1);
  CU_ASSERT_EQUAL(ring_push_lazy(&r, (void *)15), 0);
  for (uintptr_t i = 2; i <= 14; i++)
    CU_ASSERT_PTR_EQUAL(ring_pop_lazy(&r), (void *)i);
  CU_ASSERT_PTR_NULL(ring_pop_lazy(&r));
  ring_fini(&r);
}

/* Two threads, both sides lazy, small rings (every lap through the full and
 * empty paths), with and without chunks: every message once, in order. The producer publishes its
 * last chunk when done, as a run's end does. */
#define N_LAZY 100000
static void *lazy_producer(void *arg) {
  struct ring *r = arg;
  for (uintptr_t i = 1; i <= N_LAZY; i++)
    while (!ring_push_lazy(r, (void *)i))
      ;
  ring_publish_tail(r);
  return NULL;
}

static void ring_lazy_two_threads_keep_order(void) {
  static const size_t caps[][2] = {{1, 1}, {2, 2}, {2, 1},   {3, 3},
                                   {3, 2}, {5, 2}, {64, 64}, {64, 16}};
  for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
    struct ring r;
    CU_ASSERT_EQUAL_FATAL(ring_init(&r, caps[c][0]), 0);
    ring_set_chunk(&r, caps[c][1]);
    pthread_t t;
    pthread_create(&t, NULL, lazy_producer, &r);
    uintptr_t expect = 1, bad = 0;
    while (expect <= N_LAZY) {
      void *p = ring_pop_lazy(&r);
      if (!p) continue;
      if ((uintptr_t)p != expect) bad++;
      expect++;
    }
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_PTR_NULL(ring_pop_lazy(&r));
    CU_ASSERT_EQUAL(ring_count(&r), 0);
    ring_fini(&r);
  }
}

void register_ring_tests(void) {
  ADD_SUITE("ring", NULL, NULL, {"order_and_bound", ring_order_and_bound},
            {"pop_n", ring_pop_n_takes_at_most_what_is_there},
            {"two_threads_keep_order", ring_two_threads_keep_order},
            {"mp_many_producers", ring_mp_many_producers}, {"mp_bound", ring_mp_bound},
            {"lazy_publishes_in_chunks", ring_lazy_publishes_in_chunks},
            {"lazy_full_publishes", ring_lazy_full_publishes},
            {"lazy_two_threads_keep_order", ring_lazy_two_threads_keep_order});
}
