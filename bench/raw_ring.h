/* The baseline of the message benchmarks (pipeline, cross): a raw
 * single-producer/single-consumer ring between two pinned threads, the
 * floor no runtime beats. */
#ifndef MAESTRO_BENCH_RAW_RING_H
#define MAESTRO_BENCH_RAW_RING_H

#include <stdatomic.h>

#include "bench_util.h"

/* ---- the baseline: a raw SPSC ring with cached indices ----
 * Each side reads the other's index only when its cached copy says the ring
 * is full (producer) or empty (consumer). `batch` > 1 publishes the index
 * every `batch` messages instead of every message (the reference figures' "batched 32"
 * floor). A side that spins long yields its core: on a shared machine a pure
 * spin would wait for the other side's next time slice. */
enum { RING = 1024 };
struct ring {
  _Alignas(64) atomic_size_t head; /* written by the consumer */
  _Alignas(64) atomic_size_t tail; /* written by the producer */
  _Alignas(64) uint64_t slot[RING];
  long n;
  size_t batch;
  uint64_t sum;
};

static inline void spin_wait(unsigned *spins) {
  if (++*spins % 256 == 0) sched_yield();
}

static void *ring_consumer(void *arg) {
  struct ring *r = arg;
  bench_pin(1);
  size_t head = 0, tail = 0;
  unsigned spins = 0;
  uint64_t sum = 0;
  for (long i = 0; i < r->n; i++) {
    while (head == tail) {
      tail = atomic_load_explicit(&r->tail, memory_order_acquire);
      if (head == tail) spin_wait(&spins);
    }
    sum += r->slot[head % RING];
    head++;
    if (head % r->batch == 0 || i == r->n - 1)
      atomic_store_explicit(&r->head, head, memory_order_release);
  }
  r->sum = sum;
  return NULL;
}

static void *ring_producer(void *arg) {
  struct ring *r = arg;
  bench_pin(0);
  size_t tail = 0, head = 0;
  unsigned spins = 0;
  for (long i = 0; i < r->n; i++) {
    while (tail - head == RING) {
      head = atomic_load_explicit(&r->head, memory_order_acquire);
      if (tail - head == RING) spin_wait(&spins);
    }
    r->slot[tail % RING] = (uint64_t)i;
    tail++;
    if (tail % r->batch == 0 || i == r->n - 1)
      atomic_store_explicit(&r->tail, tail, memory_order_release);
  }
  return NULL;
}

/* Both ends run on threads of their own, pinned to two different cores; the
 * main thread stays unpinned for the runtime that follows. Best of three:
 * noise only ever slows a run down. */
static double bench_raw_ring_rate(const char *bench, long n, size_t batch) {
  static struct ring r;
  double best = 0;
  for (int rep = 0; rep < 3; rep++) {
    atomic_store(&r.head, 0);
    atomic_store(&r.tail, 0);
    r.n = n;
    r.batch = batch;
    pthread_t prod, cons;
    uint64_t t0 = bench_now_ns();
    pthread_create(&cons, NULL, ring_consumer, &r);
    pthread_create(&prod, NULL, ring_producer, &r);
    pthread_join(prod, NULL);
    pthread_join(cons, NULL);
    uint64_t t = bench_now_ns() - t0;
    if (r.sum != (uint64_t)n * (uint64_t)(n - 1) / 2)
      bench_fail(bench, "the raw ring's consumer summed %llu, expected %llu",
                 (unsigned long long)r.sum,
                 (unsigned long long)n * (unsigned long long)(n - 1) / 2);
    double rate = (double)n / ((double)t / 1e9);
    if (rate > best) best = rate;
  }
  return best;
}

#endif
