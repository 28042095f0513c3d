/* A channel: a bounded ring from one producer (an agent's output port or a
 * host input) to one consumer (an agent's input port or a host output), its
 * end-of-stream flag, and the producer's overflow of messages sent while the
 * ring was full (at most one firing's worth: a producer with overflow does
 * not fire again until it has drained). */
#ifndef MAESTRO_CHAN_H
#define MAESTRO_CHAN_H

#include <stdatomic.h>
#include <stdint.h>

#include "chan/ring.h"
#include "mem/buf.h"
#include "maestro.h"

struct chan {
  struct ring ring;
  _Alignas(64) atomic_int closed; /* producer ended the stream (after its last push) */
  atomic_int prod_waiting;        /* producer waits for space: consumer notifies it */

  struct maestro_agent *prod; /* NULL: host input `host_in` */
  struct maestro_agent *cons; /* NULL: host output `host_out` */
  struct maestro_input *host_in;
  struct maestro_output *host_out;
  int prod_port, cons_port;
  int capacity;
  uint64_t id; /* unique in the process: flow ids of its messages */

  /* Producer side (one producer at a time). */
  _Alignas(64) maestro_buf_t **pend; /* overflow FIFO */
  size_t pend_head, pend_n, pend_cap;
  uint64_t pushed;              /* messages sent (pushed or queued in the overflow) */
  int dirty;                    /* pushed since the consumer was last notified */
  uint64_t run_msgs, run_bytes; /* sent in this run, not yet in msgs/bytes (chan_publish) */
  atomic_int prod_cpu;          /* CPU place of the producer's last run that sent, or -1 */
  atomic_ullong msgs, bytes;

  /* Consumer side. */
  _Alignas(64) uint64_t popped;
  int cons_dirty; /* popped since the producer was last checked (2: head published, check due) */
  atomic_int cons_cpu; /* CPU place of the consumer's last run that took, or -1 */

  /* Bytes its messages moved across the host/device boundary for a device
   * consumer (h2d, d2d) or out of a device producer for the host (d2h),
   * added by the launch's completion (runtime/core/window.c). */
  _Alignas(64) atomic_ullong h2d, d2h, d2d;

  /* Its other end is on another rank (core/dist.h): the distribution
   * backend's record of it; NULL for a channel within the process. */
  void *remote;
  int remote_rank; /* the rank of that other end */

  struct chan *next; /* graph's list */
};

/* A new channel of `capacity` messages (>= 1); `mp`: several producers may
 * push at once (the multi-producer ring, capacity rounded up to a power of two). */
struct chan *chan_new(int capacity, int mp);
/* Frees the ring, releasing every message still in it or in its overflow. */
void chan_free(struct chan *c);

/* Producer: queues `b` in the overflow (ring full or overflow not empty). 0 or -1 (no memory). */
int chan_pend(struct chan *c, maestro_buf_t *b);
/* Producer: moves overflow into the ring; 1 when the overflow is now empty. */
int chan_flush(struct chan *c);
/* Producer: takes the oldest overflow message (for dead letters), or NULL. */
maestro_buf_t *chan_pend_take(struct chan *c);

/* Producer: sends `b` (ring if room and no overflow, else overflow). 0 or -1.
 * Counted in run_msgs/run_bytes until chan_publish. The ring's tail is
 * published in chunks (ring_push_lazy): the sender publishes the rest with
 * chan_publish before it notifies the consumer, and before end-of-stream
 * (chan_close). */
static inline int chan_send(struct chan *c, maestro_buf_t *b) {
  c->pushed++;
  c->dirty = 1;
  c->run_msgs++;
  c->run_bytes += b->size;
  if (c->pend_n == 0 && ring_push_lazy(&c->ring, b)) return 0;
  return chan_pend(c, b);
}

/* Producer, at the end of a run (with `dirty` set): publishes the ring's
 * tail (the consumer sees every message sent), and makes this run's sends
 * visible in the counters the stats read. Per run, not per message. */
static inline void chan_publish(struct chan *c) {
  ring_publish_tail(&c->ring);
  if (!c->run_msgs) return;
  atomic_store_explicit(&c->msgs,
                        atomic_load_explicit(&c->msgs, memory_order_relaxed) + c->run_msgs,
                        memory_order_relaxed);
  atomic_store_explicit(&c->bytes,
                        atomic_load_explicit(&c->bytes, memory_order_relaxed) + c->run_bytes,
                        memory_order_relaxed);
  c->run_msgs = c->run_bytes = 0;
}

/* The side that just ran on CPU place `cpu` records it in `at` (the other
 * side reads it to see whether the channel crosses cores). Stored only when
 * it changed: the line stays shared. */
static inline void chan_note_cpu(atomic_int *at, int cpu) {
  if (atomic_load_explicit(at, memory_order_relaxed) != cpu)
    atomic_store_explicit(at, cpu, memory_order_relaxed);
}

/* Producer: ends the stream after its last message (published first: a
 * consumer that sees `closed` and an empty ring has everything). */
static inline void chan_close(struct chan *c) {
  ring_publish_tail(&c->ring);
  atomic_store_explicit(&c->closed, 1, memory_order_release);
  c->dirty = 1;
}

/* Consumer, at the end of a run (with `cons_dirty` set): gives the slots of
 * every message it took back to the producer (before it looks whether the
 * producer waits for room). */
static inline void chan_publish_taken(struct chan *c) {
  ring_publish_head(&c->ring);
}

/* Consumer: 1 when the stream has ended and every message was taken. */
static inline int chan_ended(struct chan *c) {
  if (!atomic_load_explicit(&c->closed, memory_order_acquire)) return 0;
  return ring_peek(&c->ring) == NULL;
}

#endif
