/* The scheduler's run queues (runtime/sched/deque.h, inject.h): the
 * work-stealing deque alone and under an owner that pushes and takes while
 * thieves steal, and the inject queue under several producers; every item
 * must be taken exactly once. Run under ThreadSanitizer too (tsan preset):
 * each item carries a value written before its push and checked by whoever
 * takes it, so a missing release/acquire shows as a race.
 *
 * The concurrent tests draw their interleavings from a seed, printed; set
 * SCHED_QUEUE_SEED to run one again. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sched/deque.h"
#include "sched/inject.h"
#include "testmain.h"

/* xorshift64*: the tests' interleavings. */
static uint64_t rnd(uint64_t *s) {
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * UINT64_C(2685821657736338717);
}

static uint64_t seed(void) {
  const char *e = getenv("SCHED_QUEUE_SEED");
  uint64_t s = e && *e ? strtoull(e, NULL, 0) : (uint64_t)time(NULL) ^ (uint64_t)clock();
  if (!s) s = 1;
  printf("\n    seed %llu (SCHED_QUEUE_SEED=%llu to repeat)", (unsigned long long)s,
         (unsigned long long)s);
  return s;
}

/* ---- one thread ---- */

static void deque_lifo_fifo_and_growth(void) {
  struct sched_deque q;
  CU_ASSERT_EQUAL_FATAL(sched_deque_init(&q, 4), 0);
  CU_ASSERT_EQUAL(sched_deque_take(&q), SCHED_DEQUE_EMPTY);
  CU_ASSERT_EQUAL(sched_deque_steal(&q, 0), SCHED_DEQUE_EMPTY);
  /* 1000 items through an array of 8: it grows seven times. */
  for (uintptr_t i = 1; i <= 1000; i++)
    CU_ASSERT_EQUAL(sched_deque_push(&q, i << 2), 0);
  CU_ASSERT_EQUAL(sched_deque_size(&q), 1000);
  CU_ASSERT_EQUAL(atomic_load(&q.array)->size, 1024);
  /* The owner takes the newest, a thief the oldest. */
  CU_ASSERT_EQUAL(sched_deque_take(&q), (uintptr_t)1000 << 2);
  CU_ASSERT_EQUAL(sched_deque_steal(&q, 0), (uintptr_t)1 << 2);
  CU_ASSERT_EQUAL(sched_deque_take(&q), (uintptr_t)999 << 2);
  CU_ASSERT_EQUAL(sched_deque_steal(&q, 0), (uintptr_t)2 << 2);
  uintptr_t sum = 0, n = 0, x;
  while ((x = sched_deque_take(&q)) != SCHED_DEQUE_EMPTY) {
    sum += x >> 2;
    n++;
  }
  CU_ASSERT_EQUAL(n, 996);
  CU_ASSERT_EQUAL(sum, (uintptr_t)(1000 * 1001 / 2 - 1 - 2 - 999 - 1000));
  CU_ASSERT_EQUAL(sched_deque_size(&q), 0);
  CU_ASSERT_EQUAL(sched_deque_take(&q), SCHED_DEQUE_EMPTY);
  /* Wrapped around: indices past the array's size still find their slots. */
  for (int round = 0; round < 3; round++) {
    for (uintptr_t i = 1; i <= 700; i++)
      sched_deque_push(&q, i << 2);
    for (uintptr_t i = 1; i <= 700; i++)
      CU_ASSERT_EQUAL(sched_deque_steal(&q, 0), i << 2);
  }
  CU_ASSERT_EQUAL(atomic_load(&q.array)->size, 1024);
  sched_deque_fini(&q);
}

static void deque_steal_asks_for_tags(void) {
  struct sched_deque q;
  CU_ASSERT_EQUAL_FATAL(sched_deque_init(&q, 8), 0);
  sched_deque_push(&q, (uintptr_t)1 << 2);      /* untagged */
  sched_deque_push(&q, (uintptr_t)2 << 2 | 1u); /* tagged */
  CU_ASSERT_EQUAL(sched_deque_top_tags(&q), 0);
  /* The top item lacks the tag: nothing taken, it stays. */
  CU_ASSERT_EQUAL(sched_deque_steal(&q, 1), SCHED_DEQUE_SKIP);
  CU_ASSERT_EQUAL(sched_deque_size(&q), 2);
  CU_ASSERT_EQUAL(sched_deque_steal(&q, 0), (uintptr_t)1 << 2);
  CU_ASSERT_EQUAL(sched_deque_top_tags(&q), 1);
  CU_ASSERT_EQUAL(sched_deque_steal(&q, 1), ((uintptr_t)2 << 2) | 1u);
  CU_ASSERT_EQUAL(sched_deque_top_tags(&q), -1);
  sched_deque_fini(&q);
}

/* ---- an owner and thieves ---- */

enum { DQ_ITEMS = 1000000, DQ_THIEVES = 2 };

struct item {
  uint64_t value; /* written before the push, checked by the taker */
  atomic_int taken;
};

struct dq_run {
  struct sched_deque q;
  struct item *items;
  atomic_int done;    /* the owner has pushed everything */
  atomic_int started; /* thieves running */
  atomic_long stolen[DQ_THIEVES], bad;
};

struct thief_arg {
  struct dq_run *r;
  int id;
};

static void take_item(struct dq_run *r, uintptr_t x) {
  struct item *it = (struct item *)(x & ~SCHED_DEQUE_TAGS);
  long i = it - r->items;
  if (i < 0 || i >= DQ_ITEMS || it->value != (uint64_t)i * 7 + 3 || (x & 3) != (uintptr_t)(i & 1))
    atomic_fetch_add(&r->bad, 1);
  atomic_fetch_add(&it->taken, 1);
}

static void *thief(void *arg) {
  struct thief_arg *a = arg;
  struct dq_run *r = a->r;
  long n = 0;
  atomic_fetch_add(&r->started, 1);
  for (;;) {
    int done = atomic_load(&r->done);
    /* Thief 1 takes only tagged items (the odd ones), as a worker takes
     * only tasks worth moving. */
    uintptr_t x = sched_deque_steal(&r->q, a->id == 1 ? 1 : 0);
    if (x == SCHED_DEQUE_EMPTY && done) break;
    if (x == SCHED_DEQUE_EMPTY || x == SCHED_DEQUE_ABORT || x == SCHED_DEQUE_SKIP) continue;
    take_item(r, x);
    n++;
  }
  atomic_store(&r->stolen[a->id], n);
  return NULL;
}

static void deque_owner_and_thieves(int nthieves) {
  uint64_t s = seed();
  struct dq_run *r = calloc(1, sizeof *r);
  CU_ASSERT_FATAL(r != NULL);
  r->items = calloc(DQ_ITEMS, sizeof *r->items);
  CU_ASSERT_FATAL(r->items != NULL);
  /* A small first array: it grows while thieves read it. */
  CU_ASSERT_EQUAL_FATAL(sched_deque_init(&r->q, 2), 0);
  pthread_t th[DQ_THIEVES];
  struct thief_arg ta[DQ_THIEVES];
  for (int i = 0; i < nthieves; i++) {
    ta[i] = (struct thief_arg){r, i};
    pthread_create(&th[i], NULL, thief, &ta[i]);
  }
  while (atomic_load(&r->started) < nthieves)
    ;
  long owner_took = 0;
  for (long i = 0; i < DQ_ITEMS;) {
    /* Mostly one push then one take, the race for the last item with the
     * thieves; now and then a burst that the thieves share and that makes
     * the array grow while they read it. */
    uint64_t pick = rnd(&s) % 64;
    long burst = pick < 48 ? 1 : pick < 63 ? 1 + (long)(rnd(&s) % 16) : 1 + (long)(rnd(&s) % 4096);
    for (long k = 0; k < burst && i < DQ_ITEMS; k++, i++) {
      r->items[i].value = (uint64_t)i * 7 + 3;
      CU_ASSERT_EQUAL_FATAL(sched_deque_push(&r->q, (uintptr_t)&r->items[i] | (uintptr_t)(i & 1)),
                            0);
    }
    long takes = pick < 48 ? 1 : (long)(rnd(&s) % (uint64_t)(burst + 1));
    for (long k = 0; k < takes; k++) {
      uintptr_t x = sched_deque_take(&r->q);
      if (x == SCHED_DEQUE_EMPTY) break;
      take_item(r, x);
      owner_took++;
    }
  }
  /* The rest: the owner takes from the bottom while thieves still steal. */
  uintptr_t x;
  while ((x = sched_deque_take(&r->q)) != SCHED_DEQUE_EMPTY) {
    take_item(r, x);
    owner_took++;
  }
  atomic_store(&r->done, 1);
  long stolen = 0;
  for (int i = 0; i < nthieves; i++) {
    pthread_join(th[i], NULL);
    stolen += atomic_load(&r->stolen[i]);
  }
  long once = 0, twice = 0, never = 0;
  for (long i = 0; i < DQ_ITEMS; i++) {
    int t = atomic_load(&r->items[i].taken);
    once += t == 1;
    twice += t > 1;
    never += t == 0;
  }
  printf(": %d thieves, owner took %ld, thieves %ld", nthieves, owner_took, stolen);
  CU_ASSERT_EQUAL(once, DQ_ITEMS);
  CU_ASSERT_EQUAL(twice, 0);
  CU_ASSERT_EQUAL(never, 0);
  CU_ASSERT_EQUAL(owner_took + stolen, DQ_ITEMS);
  CU_ASSERT_EQUAL(atomic_load(&r->bad), 0);
  CU_ASSERT_EQUAL(sched_deque_size(&r->q), 0);
  sched_deque_fini(&r->q);
  free(r->items);
  free(r);
}

static void deque_one_thief(void) {
  deque_owner_and_thieves(1);
}
static void deque_two_thieves(void) {
  deque_owner_and_thieves(2);
}

/* ---- the inject queue ---- */

static void inject_order_and_empty(void) {
  struct sched_inject q;
  sched_inject_init(&q);
  struct sched_node n[3];
  CU_ASSERT_EQUAL(sched_inject_busy(&q), 0);
  CU_ASSERT_PTR_NULL(sched_inject_pop(&q));
  /* The push says whether the queue was empty. */
  CU_ASSERT_EQUAL(sched_inject_push(&q, &n[0]), 1);
  CU_ASSERT_EQUAL(sched_inject_push(&q, &n[1]), 0);
  CU_ASSERT_EQUAL(sched_inject_busy(&q), 1);
  CU_ASSERT_PTR_EQUAL(sched_inject_pop(&q), &n[0]);
  CU_ASSERT_EQUAL(sched_inject_push(&q, &n[2]), 0);
  CU_ASSERT_PTR_EQUAL(sched_inject_pop(&q), &n[1]);
  CU_ASSERT_PTR_EQUAL(sched_inject_pop(&q), &n[2]);
  CU_ASSERT_PTR_NULL(sched_inject_pop(&q));
  CU_ASSERT_EQUAL(sched_inject_busy(&q), 0);
  /* A node taken may be queued again. */
  CU_ASSERT_EQUAL(sched_inject_push(&q, &n[0]), 1);
  CU_ASSERT_PTR_EQUAL(sched_inject_pop(&q), &n[0]);
  CU_ASSERT_EQUAL(sched_inject_busy(&q), 0);
}

/* The consumer takes its last node Y: it checks that Y is the newest, puts
 * the stub behind it, and a push of N came between the check and the stub.
 * The newest node is then the stub again while N waits: the queue must not
 * look empty (a worker would park with N in its queue). */
static void inject_not_empty_behind_the_stub(void) {
  struct sched_inject q;
  sched_inject_init(&q);
  struct sched_node x, y, n;
  sched_inject_push(&q, &x);
  sched_inject_push(&q, &y);
  CU_ASSERT_PTR_EQUAL(sched_inject_pop(&q), &x);
  /* The race, step by step: N pushed, then the consumer's stub. */
  sched_inject_push(&q, &n);
  sched_inject_push(&q, &q.stub);
  CU_ASSERT_PTR_EQUAL(sched_inject_pop(&q), &y);
  CU_ASSERT_EQUAL(sched_inject_busy(&q), 1);
  CU_ASSERT_PTR_EQUAL(sched_inject_pop(&q), &n);
  CU_ASSERT_EQUAL(sched_inject_busy(&q), 0);
  CU_ASSERT_PTR_NULL(sched_inject_pop(&q));
  CU_ASSERT_EQUAL(sched_inject_push(&q, &x), 1);
  CU_ASSERT_PTR_EQUAL(sched_inject_pop(&q), &x);
}

enum { INJ_PRODUCERS = 3, INJ_EACH = 60000, INJ_CONSUMERS = 2 };

struct inj_item {
  struct sched_node node;
  uint64_t value; /* producer << 32 | its sequence number */
};

struct inj_run {
  struct sched_inject q;
  atomic_int taker; /* the consumer role, as runtime/sched/worker.c hands it over */
  struct inj_item *items;
  atomic_int producers_left;
  atomic_long taken, bad;
  atomic_int *seen;
  /* Each producer's last sequence number taken: checked under the role. */
  long last[INJ_PRODUCERS];
  atomic_long was_empty;
};

struct inj_arg {
  struct inj_run *r;
  int id;
  uint64_t seed;
};

static void *inj_producer(void *arg) {
  struct inj_arg *a = arg;
  struct inj_run *r = a->r;
  uint64_t s = a->seed;
  for (long i = 0; i < INJ_EACH; i++) {
    struct inj_item *it = &r->items[a->id * INJ_EACH + i];
    it->value = (uint64_t)a->id << 32 | (uint64_t)i;
    if (sched_inject_push(&r->q, &it->node)) atomic_fetch_add(&r->was_empty, 1);
    /* Pauses now and then: the consumers drain the queue often, so that
     * pushes meet a consumer taking the last node. */
    if ((rnd(&s) & 1) == 0)
      for (volatile int k = (int)(rnd(&s) % 2000); k > 0; k--)
        ;
  }
  atomic_fetch_sub(&r->producers_left, 1);
  return NULL;
}

static void *inj_consumer(void *arg) {
  struct inj_run *r = arg;
  for (;;) {
    int left = atomic_load(&r->producers_left);
    if (atomic_exchange_explicit(&r->taker, 1, memory_order_acquire)) continue;
    struct sched_node *n = sched_inject_pop(&r->q);
    if (n) {
      struct inj_item *it = (struct inj_item *)n;
      long idx = it - r->items;
      int p = (int)(it->value >> 32);
      long seq = (long)(it->value & 0xffffffffu);
      /* Per producer, in the order pushed. */
      if (idx < 0 || idx >= INJ_PRODUCERS * INJ_EACH || p != idx / INJ_EACH ||
          seq != idx % INJ_EACH || seq != r->last[p] + 1)
        atomic_fetch_add(&r->bad, 1);
      r->last[p] = seq;
      atomic_fetch_add(&r->seen[idx], 1);
      atomic_fetch_add(&r->taken, 1);
    }
    int empty = !n && !sched_inject_busy(&r->q);
    atomic_store_explicit(&r->taker, 0, memory_order_release);
    if (empty && left == 0) break;
  }
  return NULL;
}

static void inject_producers_and_consumers(void) {
  uint64_t s = seed();
  struct inj_run *r = calloc(1, sizeof *r);
  CU_ASSERT_FATAL(r != NULL);
  r->items = calloc(INJ_PRODUCERS * INJ_EACH, sizeof *r->items);
  r->seen = calloc(INJ_PRODUCERS * INJ_EACH, sizeof *r->seen);
  CU_ASSERT_FATAL(r->items && r->seen);
  sched_inject_init(&r->q);
  atomic_init(&r->producers_left, INJ_PRODUCERS);
  for (int p = 0; p < INJ_PRODUCERS; p++)
    r->last[p] = -1;
  pthread_t pt[INJ_PRODUCERS], ct[INJ_CONSUMERS];
  struct inj_arg pa[INJ_PRODUCERS];
  for (int i = 0; i < INJ_CONSUMERS; i++)
    pthread_create(&ct[i], NULL, inj_consumer, r);
  for (int i = 0; i < INJ_PRODUCERS; i++) {
    pa[i] = (struct inj_arg){r, i, rnd(&s) | 1};
    pthread_create(&pt[i], NULL, inj_producer, &pa[i]);
  }
  for (int i = 0; i < INJ_PRODUCERS; i++)
    pthread_join(pt[i], NULL);
  for (int i = 0; i < INJ_CONSUMERS; i++)
    pthread_join(ct[i], NULL);
  long once = 0;
  for (long i = 0; i < INJ_PRODUCERS * INJ_EACH; i++)
    once += atomic_load(&r->seen[i]) == 1;
  printf(": %d producers, %d consumers taking turns: %ld taken, %ld pushes found it empty",
         INJ_PRODUCERS, INJ_CONSUMERS, atomic_load(&r->taken), atomic_load(&r->was_empty));
  CU_ASSERT_EQUAL(once, INJ_PRODUCERS * INJ_EACH);
  CU_ASSERT_EQUAL(atomic_load(&r->taken), INJ_PRODUCERS * INJ_EACH);
  CU_ASSERT_EQUAL(atomic_load(&r->bad), 0);
  CU_ASSERT(atomic_load(&r->was_empty) >= 1);
  CU_ASSERT(atomic_load(&r->was_empty) <= INJ_PRODUCERS * INJ_EACH);
  CU_ASSERT_EQUAL(sched_inject_busy(&r->q), 0);
  free(r->items);
  free(r->seen);
  free(r);
}

void register_suites(void) {
  ADD_SUITE("sched_deque", NULL, NULL,
            {"LIFO for the owner, FIFO for thieves, growth", deque_lifo_fifo_and_growth},
            {"a thief asks for tags", deque_steal_asks_for_tags},
            {"owner and one thief: each item once", deque_one_thief},
            {"owner and two thieves: each item once", deque_two_thieves});
  ADD_SUITE("sched_inject", NULL, NULL,
            {"order, and the push says it was empty", inject_order_and_empty},
            {"not empty while a node waits behind the stub", inject_not_empty_behind_the_stub},
            {"3 producers, 2 consumers in turn: each node once, in order",
             inject_producers_and_consumers});
}
