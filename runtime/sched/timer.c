/* Timers: one thread per runtime, started by the first graph that has an
 * agent with a period, that makes agents runnable at their deadlines.
 *
 * Entries (struct sched_timer, embedded in their agents) sit in a binary
 * heap ordered by deadline, under one mutex. The thread sleeps on a
 * condition variable (CLOCK_MONOTONIC) until the earliest deadline, or for
 * ever when the heap is empty: an idle runtime pays nothing. At a deadline
 * it takes the entry out and calls sched_notify on its task, holding the
 * mutex, so that once sched_timer_cancel has returned the thread does not
 * touch the entry again (its agent may then be freed). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/error.h"
#include "base/runtime.h"
#include "sched/sched.h"

struct sched_timers {
  pthread_mutex_t mu;
  pthread_cond_t cv; /* CLOCK_MONOTONIC */
  struct sched_timer **heap;
  int n, cap;
  int stop;
  pthread_t thread;
};

static void heap_swap(struct sched_timer **h, int i, int j) {
  struct sched_timer *t = h[i];
  h[i] = h[j];
  h[j] = t;
  h[i]->slot = i;
  h[j]->slot = j;
}

static void heap_up(struct sched_timer **h, int i) {
  while (i > 0) {
    int p = (i - 1) / 2;
    if (h[p]->due <= h[i]->due) break;
    heap_swap(h, i, p);
    i = p;
  }
}

static void heap_down(struct sched_timer **h, int n, int i) {
  for (;;) {
    int l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && h[l]->due < h[m]->due) m = l;
    if (r < n && h[r]->due < h[m]->due) m = r;
    if (m == i) return;
    heap_swap(h, i, m);
    i = m;
  }
}

/* Takes entry `e` (in the heap) out. */
static void heap_remove(struct sched_timers *ts, struct sched_timer *e) {
  int i = e->slot;
  e->slot = -1;
  if (--ts->n == i) return;
  ts->heap[i] = ts->heap[ts->n];
  ts->heap[i]->slot = i;
  heap_down(ts->heap, ts->n, i);
  heap_up(ts->heap, i);
}

static void *timer_main(void *arg) {
  struct maestro_runtime *rt = arg;
  struct sched_timers *ts = rt->timers;
  pthread_setname_np(pthread_self(), "maestro-timer");
  pthread_mutex_lock(&ts->mu);
  while (!ts->stop) {
    if (!ts->n) {
      pthread_cond_wait(&ts->cv, &ts->mu);
      continue;
    }
    struct sched_timer *e = ts->heap[0];
    uint64_t now = rt_now_ns();
    if (e->due > now) {
      struct timespec until = {(time_t)(e->due / 1000000000u), (long)(e->due % 1000000000u)};
      pthread_cond_timedwait(&ts->cv, &ts->mu, &until);
      continue;
    }
    heap_remove(ts, e);
    atomic_store_explicit(&e->armed, 0, memory_order_release);
    sched_notify(rt, e->task);
  }
  pthread_mutex_unlock(&ts->mu);
  return NULL;
}

int sched_timer_start(struct maestro_runtime *rt) {
  /* Graphs start from host threads, possibly several at once. */
  static pthread_mutex_t start_mu = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock(&start_mu);
  if (rt->timers) {
    pthread_mutex_unlock(&start_mu);
    return MAESTRO_OK;
  }
  struct sched_timers *ts = calloc(1, sizeof *ts);
  if (!ts) {
    pthread_mutex_unlock(&start_mu);
    return err_set(MAESTRO_ENOMEM, "sched: out of memory for the timer thread");
  }
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* rt_now_ns's clock */
  pthread_cond_init(&ts->cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&ts->mu, NULL);
  rt->timers = ts;
  int rc = pthread_create(&ts->thread, NULL, timer_main, rt);
  if (rc) {
    rt->timers = NULL;
    pthread_cond_destroy(&ts->cv);
    pthread_mutex_destroy(&ts->mu);
    free(ts);
    pthread_mutex_unlock(&start_mu);
    return err_set(MAESTRO_ESYS, "sched: pthread_create (timer thread): %s", strerror(rc));
  }
  pthread_mutex_unlock(&start_mu);
  return MAESTRO_OK;
}

void sched_timer_fini(struct maestro_runtime *rt) {
  struct sched_timers *ts = rt->timers;
  if (!ts) return;
  pthread_mutex_lock(&ts->mu);
  ts->stop = 1;
  pthread_cond_signal(&ts->cv);
  pthread_mutex_unlock(&ts->mu);
  pthread_join(ts->thread, NULL);
  pthread_cond_destroy(&ts->cv);
  pthread_mutex_destroy(&ts->mu);
  free(ts->heap);
  free(ts);
  rt->timers = NULL;
}

int sched_timer_arm(struct maestro_runtime *rt, struct sched_timer *e, uint64_t due_ns) {
  struct sched_timers *ts = rt->timers;
  pthread_mutex_lock(&ts->mu);
  if (e->slot < 0 && ts->n == ts->cap) {
    int cap = ts->cap ? ts->cap * 2 : 16;
    struct sched_timer **h = realloc(ts->heap, (size_t)cap * sizeof *h);
    if (!h) {
      pthread_mutex_unlock(&ts->mu);
      return err_set(MAESTRO_ENOMEM, "sched: out of memory for a timer");
    }
    ts->heap = h;
    ts->cap = cap;
  }
  e->due = due_ns;
  if (e->slot < 0) {
    e->slot = ts->n;
    ts->heap[ts->n++] = e;
  } else {
    heap_down(ts->heap, ts->n, e->slot);
  }
  heap_up(ts->heap, e->slot);
  atomic_store_explicit(&e->armed, 1, memory_order_relaxed);
  /* An earlier deadline than the one the thread sleeps towards. */
  if (e->slot == 0) pthread_cond_signal(&ts->cv);
  pthread_mutex_unlock(&ts->mu);
  return MAESTRO_OK;
}

void sched_timer_cancel(struct maestro_runtime *rt, struct sched_timer *e) {
  struct sched_timers *ts = rt->timers;
  if (!ts) return;
  pthread_mutex_lock(&ts->mu);
  if (e->slot >= 0) heap_remove(ts, e);
  atomic_store_explicit(&e->armed, 0, memory_order_relaxed);
  pthread_mutex_unlock(&ts->mu);
}
