/* The host's ends of a graph: inputs (maestro_input_push blocks the calling
 * thread while the channel is full: the only place a thread blocks on a
 * channel), outputs and the dead-letter output. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/error.h"
#include "base/fence.h"
#include "core/graph.h"
#include "core/trace.h"
#include "base/runtime.h"
#include "core/dist.h"
#include "mem/buf.h"

/* How long a host thread polls before it sleeps on a condition variable. */
#define HOST_SPIN_NS 20000

static void deadline_after(struct timespec *ts, int timeout_ms) {
  clock_gettime(CLOCK_REALTIME, ts);
  ts->tv_sec += timeout_ms / 1000;
  ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

/* Waits on `cv` until `ts` (NULL = for ever); 1 when the deadline passed. */
static int cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, const struct timespec *ts) {
  if (!ts) {
    pthread_cond_wait(cv, mu);
    return 0;
  }
  return pthread_cond_timedwait(cv, mu, ts) == ETIMEDOUT;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

void chan_notify_consumer(struct maestro_runtime *rt, struct chan *c) {
  if (c->cons) {
    sched_notify(rt, &c->cons->task);
    return;
  }
  if (c->remote) {
    rt->dist->notify(rt, c);
    return;
  }
  struct maestro_output *o = c->host_out;
  full_fence();
  if (atomic_load_explicit(&o->waiting, memory_order_relaxed)) {
    pthread_mutex_lock(&o->mu);
    pthread_cond_broadcast(&o->cv);
    pthread_mutex_unlock(&o->mu);
  }
}

void chan_notify_producer(struct maestro_runtime *rt, struct chan *c) {
  if (c->prod) {
    sched_notify(rt, &c->prod->task);
    return;
  }
  if (c->remote) {
    rt->dist->notify(rt, c);
    return;
  }
  struct maestro_input *in = c->host_in;
  pthread_mutex_lock(&in->mu);
  pthread_cond_broadcast(&in->cv);
  pthread_mutex_unlock(&in->mu);
}

/* ---- dead letters ---- */

void dl_put(struct maestro_graph *g, maestro_buf_t *b, const char *agent, const char *port,
            int status, uint64_t seq, const char *reason) {
  /* A cancel is why a stopped graph's messages are dropped: say so. */
  if (status == MAESTRO_ECLOSED && atomic_load_explicit(&g->cancelled, memory_order_relaxed))
    status = MAESTRO_ECANCELED;
  maestro_letter_t why = {.agent = agent,
                          .port = port,
                          .status = status,
                          .seq = seq,
                          .reason = reason,
                          .rank = g->rt->rank};
  /* Across ranks the letters go to rank 0's output (the backend carries them). */
  if (g->dist && g->rt->rank != 0 && g->rt->dist->letter && g->rt->dist->letter(g, b, &why)) return;
  dl_put_remote(g, b, &why);
}

void dl_put_remote(struct maestro_graph *g, maestro_buf_t *b, const maestro_letter_t *why) {
  struct maestro_output *o = &g->dl;
  struct letter *l = malloc(sizeof *l);
  if (!l) { /* nowhere to keep it: at least do not leak it */
    maestro_buf_release(b);
    return;
  }
  l->b = b;
  l->why = *why;
  l->next = NULL;
  pthread_mutex_lock(&o->mu);
  if (o->tail)
    o->tail->next = l;
  else
    o->head = l;
  o->tail = l;
  pthread_cond_broadcast(&o->cv);
  pthread_mutex_unlock(&o->mu);
}

void dl_close(struct maestro_graph *g) {
  struct maestro_output *o = &g->dl;
  pthread_mutex_lock(&o->mu);
  o->closed = 1;
  pthread_cond_broadcast(&o->cv);
  pthread_mutex_unlock(&o->mu);
}

static int dl_pop(struct maestro_output *o, maestro_buf_t **b, maestro_letter_t *why,
                  int timeout_ms) {
  struct timespec ts;
  if (timeout_ms > 0) deadline_after(&ts, timeout_ms);
  pthread_mutex_lock(&o->mu);
  for (;;) {
    struct letter *l = o->head;
    if (l) {
      o->head = l->next;
      if (!o->head) o->tail = NULL;
      pthread_mutex_unlock(&o->mu);
      *b = l->b;
      if (why) *why = l->why;
      free(l);
      return MAESTRO_OK;
    }
    if (o->closed) {
      pthread_mutex_unlock(&o->mu);
      return MAESTRO_ECLOSED;
    }
    if (timeout_ms == 0 || cond_wait_until(&o->cv, &o->mu, timeout_ms > 0 ? &ts : NULL)) {
      if (o->head) continue;
      pthread_mutex_unlock(&o->mu);
      return MAESTRO_ETIMEDOUT;
    }
  }
}

/* ---- outputs ---- */

void host_output_init(struct maestro_output *o, struct maestro_graph *g, struct chan *c) {
  o->g = g;
  o->c = c;
  pthread_mutex_init(&o->mu, NULL);
  pthread_cond_init(&o->cv, NULL);
  atomic_init(&o->waiting, 0);
  o->owner = -1;
}

void host_output_free(struct maestro_output *o) {
  for (struct letter *l = o->head, *n; l; l = n) {
    n = l->next;
    maestro_buf_release(l->b);
    free(l);
  }
  o->head = o->tail = NULL;
  pthread_mutex_destroy(&o->mu);
  pthread_cond_destroy(&o->cv);
}

void host_output_cancel(struct maestro_output *o) {
  if (o->c) atomic_store_explicit(&o->c->closed, 1, memory_order_release);
  pthread_mutex_lock(&o->mu);
  o->closed = 1;
  pthread_cond_broadcast(&o->cv);
  pthread_mutex_unlock(&o->mu);
}

/* Takes one message from the channel (the output's mutex held). */
static maestro_buf_t *out_take(struct maestro_output *o) {
  struct chan *c = o->c;
  maestro_buf_t *b = ring_pop(&c->ring);
  if (!b) return NULL;
  c->popped++;
  /* The message's arrow (core/run.c flow_out_of) ends on the host track. */
  if (o->g->tracing)
    trace_flow_end(o->g->rt, (c->id << 32) | (c->popped & 0xffffffffu), rt_now_ns());
  full_fence();
  if (atomic_load_explicit(&c->prod_waiting, memory_order_relaxed) &&
      atomic_exchange(&c->prod_waiting, 0))
    chan_notify_producer(o->g->rt, c);
  return b;
}

static int output_pop(maestro_output_t *o, maestro_buf_t **b, maestro_letter_t *why,
                      int timeout_ms) {
  if (!o || !b) return err_set(MAESTRO_EINVAL, "maestro_output_pop: %s is NULL", o ? "b" : "out");
  *b = NULL;
  if (!o->c) return dl_pop(o, b, why, timeout_ms);
  if (o->owner >= 0)
    return err_set(MAESTRO_ESTATE,
                   "maestro_output_pop: graph '%s': this output's agent is owned by rank %d "
                   "(this is rank %d): pop it there",
                   o->g->name, o->owner, o->g->rt->rank);
  if (why) memset(why, 0, sizeof *why);
  struct chan *c = o->c;
  struct timespec ts;
  if (timeout_ms > 0) deadline_after(&ts, timeout_ms);
  pthread_mutex_lock(&o->mu);
  /* Poll briefly first: waking a sleeping thread costs tens of microseconds. */
  uint64_t t0 = 0;
  for (unsigned spin = 0;; spin++) {
    if ((*b = out_take(o))) break;
    if (chan_ended(c)) {
      pthread_mutex_unlock(&o->mu);
      return MAESTRO_ECLOSED;
    }
    if (timeout_ms == 0) {
      pthread_mutex_unlock(&o->mu);
      return MAESTRO_ETIMEDOUT;
    }
    if (!t0) t0 = rt_now_ns();
    if ((spin & 31) == 0 && rt_now_ns() - t0 > HOST_SPIN_NS) {
      atomic_store(&o->waiting, 1);
      full_fence();
      if (ring_peek(&c->ring) || chan_ended(c)) {
        atomic_store(&o->waiting, 0);
        continue;
      }
      int timed_out = cond_wait_until(&o->cv, &o->mu, timeout_ms > 0 ? &ts : NULL);
      atomic_store(&o->waiting, 0);
      if (timed_out) {
        if ((*b = out_take(o))) break;
        pthread_mutex_unlock(&o->mu);
        return MAESTRO_ETIMEDOUT;
      }
      continue;
    }
    cpu_relax();
  }
  pthread_mutex_unlock(&o->mu);
  return MAESTRO_OK;
}

/* Host calls count themselves in g->host_users so that maestro_graph_destroy
 * waits for threads it woke to leave before it frees what they use. */
int maestro_output_pop_letter(maestro_output_t *o, maestro_buf_t **b, maestro_letter_t *why,
                              int timeout_ms) {
  if (!o || !b) return err_set(MAESTRO_EINVAL, "maestro_output_pop: %s is NULL", o ? "b" : "out");
  if (timeout_ms < 0) {
    int rc = core_refuse_in_firing("maestro_output_pop",
                                   "a firing may not wait for a message without a timeout (-1): "
                                   "the agents that would send it may need this worker");
    if (rc) {
      *b = NULL;
      return rc;
    }
  }
  struct maestro_graph *g = o->g;
  atomic_fetch_add(&g->host_users, 1);
  int rc = output_pop(o, b, why, timeout_ms);
  atomic_fetch_sub(&g->host_users, 1);
  return rc;
}

int maestro_output_pop(maestro_output_t *o, maestro_buf_t **b, int timeout_ms) {
  return maestro_output_pop_letter(o, b, NULL, timeout_ms);
}

/* ---- inputs ---- */

void host_input_free(struct maestro_input *in) {
  pthread_mutex_destroy(&in->mu);
  pthread_cond_destroy(&in->cv);
  free(in);
}

/* Closes the input's channel (the input's mutex held). */
/* Closes the input's channel (the input's mutex held): no push may land
 * after the end-of-stream flag, so wait for lock-free pushers in flight. */
static void input_close_locked(struct maestro_input *in) {
  if (atomic_load(&in->closed)) return;
  atomic_store(&in->closed, 1);
  while (atomic_load(&in->pushers) > 0)
    sched_yield();
  atomic_store_explicit(&in->c->closed, 1, memory_order_release);
}

void host_input_cancel(struct maestro_input *in) {
  pthread_mutex_lock(&in->mu);
  int was = atomic_load(&in->closed);
  input_close_locked(in);
  pthread_cond_broadcast(&in->cv);
  pthread_mutex_unlock(&in->mu);
  if (!was && in->g->state == GRAPH_STARTED) chan_notify_consumer(in->g->rt, in->c);
}

int maestro_input_close(maestro_input_t *in) {
  if (!in) return err_set(MAESTRO_EINVAL, "maestro_input_close: in is NULL");
  struct maestro_graph *g = in->g;
  atomic_fetch_add(&g->host_users, 1);
  host_input_cancel(in);
  atomic_fetch_sub(&g->host_users, 1);
  return MAESTRO_OK;
}

/* One push attempt (the input's mutex held): 1 when `b` went in. */
static int in_try_push(struct maestro_input *in, maestro_buf_t *b) {
  struct chan *c = in->c;
  size_t size = b->size; /* once pushed, `b` belongs to the consumer */
  /* Numbered before the push (after it, `b` is the consumer's); a full
   * ring leaves a gap, which alignment allows. */
  uint64_t o = atomic_fetch_add_explicit(&in->oseq, 1, memory_order_relaxed);
  atomic_store_explicit(&b->origin, in->dom | (o & ORIGIN_SEQ_MASK), memory_order_relaxed);
  if (!ring_push(&c->ring, b)) return 0;
  atomic_fetch_add_explicit(&in->seq, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&c->msgs, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&c->bytes, size, memory_order_relaxed);
  return 1;
}

static int input_push(maestro_input_t *in, maestro_buf_t *b, int timeout_ms);

int maestro_input_push_timed(maestro_input_t *in, maestro_buf_t *b, int timeout_ms) {
  if (!in) return input_push(in, b, timeout_ms);
  struct maestro_graph *g = in->g;
  atomic_fetch_add(&g->host_users, 1);
  int rc = input_push(in, b, timeout_ms);
  atomic_fetch_sub(&g->host_users, 1);
  return rc;
}

static int input_push(maestro_input_t *in, maestro_buf_t *b, int timeout_ms) {
  if (!in || !b) {
    if (b) maestro_buf_release(b);
    return err_set(MAESTRO_EINVAL, "maestro_input_push: %s is NULL", in ? "b" : "in");
  }
  struct maestro_graph *g = in->g;
  struct maestro_agent *a = in->a;
  const char *port = a->in[in->port].name;
  if (g->state != GRAPH_STARTED) {
    maestro_buf_release(b);
    return err_set(MAESTRO_ESTATE, "maestro_input_push: graph '%s' has not started", g->name);
  }
  if (in->owner >= 0) {
    maestro_buf_release(b);
    return err_set(MAESTRO_ESTATE,
                   "maestro_input_push: graph '%s': agent '%s' is owned by rank %d (this is rank "
                   "%d): push there",
                   g->name, a->name, in->owner, g->rt->rank);
  }
  struct chan *c = in->c;
  /* Fast path, no lock: the multi-producer ring takes it if there is room.
   * Counting ourselves in `pushers` before looking at `closed` lets a
   * closer wait for us (input_close_locked). */
  atomic_fetch_add(&in->pushers, 1);
  int pushed = !atomic_load(&in->closed) && !atomic_load(&g->stopped) && in_try_push(in, b);
  atomic_fetch_sub(&in->pushers, 1);
  if (pushed) {
    chan_notify_consumer(g->rt, c);
    return MAESTRO_OK;
  }
  struct timespec ts;
  if (timeout_ms > 0) deadline_after(&ts, timeout_ms);
  pthread_mutex_lock(&in->mu);
  for (;;) {
    if (atomic_load(&in->closed) || atomic_load(&g->stopped)) {
      uint64_t seq = atomic_fetch_add(&in->seq, 1);
      int closed = atomic_load(&in->closed);
      pthread_mutex_unlock(&in->mu);
      dl_put(g, b, a->name, port, MAESTRO_ECLOSED, seq, NULL);
      return err_set(MAESTRO_ECLOSED, "maestro_input_push: %s.%s: %s", a->name, port,
                     closed ? "input closed" : "graph stopped");
    }
    if (in_try_push(in, b)) break;
    if (timeout_ms == 0) {
      pthread_mutex_unlock(&in->mu);
      return err_set(MAESTRO_ETIMEDOUT, "maestro_input_push: %s.%s is full", a->name, port);
    }
    if (timeout_ms < 0 && core_firing) {
      /* Waiting for room without a timeout could hang: the consumer may need this worker. */
      uint64_t seq = atomic_fetch_add(&in->seq, 1);
      pthread_mutex_unlock(&in->mu);
      dl_put(g, b, a->name, port, MAESTRO_ESTATE, seq, NULL);
      char why[256];
      snprintf(why, sizeof why,
               "%s.%s is full and a firing may not wait for room without a timeout (-1); the "
               "message went to the dead letters",
               a->name, port);
      return core_refuse_in_firing("maestro_input_push", why);
    }
    /* Ask the consumer to wake us, then look again (it may just have made room). */
    atomic_store(&c->prod_waiting, 1);
    full_fence();
    if (in_try_push(in, b)) break;
    if (cond_wait_until(&in->cv, &in->mu, timeout_ms > 0 ? &ts : NULL)) {
      if (atomic_load(&in->closed) || atomic_load(&g->stopped)) continue;
      if (in_try_push(in, b)) break;
      pthread_mutex_unlock(&in->mu);
      return err_set(MAESTRO_ETIMEDOUT, "maestro_input_push: %s.%s stayed full", a->name, port);
    }
  }
  pthread_mutex_unlock(&in->mu);
  chan_notify_consumer(g->rt, c);
  return MAESTRO_OK;
}

int maestro_input_push(maestro_input_t *in, maestro_buf_t *b) {
  return maestro_input_push_timed(in, b, -1);
}
