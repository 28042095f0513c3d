/* Workers: one thread per CPU place, pinned, and one per device place.
 *
 * Run queues, all lock-free (runtime/sched/deque.h, inject.h):
 * - each CPU worker has a work-stealing deque of the unpinned tasks it made
 *   runnable itself (a firing's consumers and producers, a source that
 *   yields). It takes its newest first (what it just produced is still in
 *   its caches); idle workers steal the oldest, and only a task worth
 *   moving (sched_task_stealable, tagged in the deque's word when queued)
 *   unless the owner runs a costly or a lasting task;
 * - each worker has an inject queue (multi-producer, single consumer) for
 *   the unpinned tasks other threads make runnable for it: host pushes,
 *   device completions, other workers. Its consumer is the owner, or a
 *   thief holding the queue's taker flag: for its oldest task if worth
 *   moving, or whatever it is while the owner is in a costly or a lasting
 *   run;
 * - each worker has a second inject queue for the tasks pinned to it (and a
 *   device worker's tasks), which only it takes.
 * Each push says whether it must wake someone: a push on an inject queue
 * that was empty wakes its worker if that one parked (a worker does not
 * park while a queue of its own holds anything); a task worth stealing
 * wakes a parked worker that can take it. A parked runtime costs nothing.
 *
 * Fairness: a worker takes its oldest task (the deque's top, then the inject
 * queues) after a task yielded and every FAIR_PICKS picks, so that tasks
 * that keep making each other runnable do not hold the others for ever.
 *
 * A run that lasts (a firing that computes or blocks for long) must not
 * hold what is queued behind it: each worker counts its runs (run_seq, odd
 * while one is in progress), and an idle worker that sees the same run in
 * progress for LONG_RUN_NS may take anything unpinned from that worker,
 * whatever its past cost. An idle worker therefore parks with a timeout
 * (WATCH_NS) while another worker is awake with tasks queued, and whoever
 * queues behind an awake worker wakes a worker parked without one. */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fence.h"
#include "base/runtime.h"
#include "mem/buf.h"
#include "base/stats_rec.h"
#include "sched/deque.h"
#include "sched/inject.h"
#include "sched/place.h"
#include "sched/sched.h"

/* How long an idle worker waits for its own queue before it steals: agents
 * stay where they ran (their caches, their neighbours) unless a worker has
 * really nothing to do. */
#define STEAL_NS 4000
/* How long an idle worker spins before it parks (a device worker: only while
 * its tasks have been coming within that time, see worker_main). */
#define SPIN_NS 30000
/* A run in progress this long holds its queue no more (see above). */
#define LONG_RUN_NS 2000000
/* How often a parked worker looks for such a run while another is awake:
 * what waits behind one is taken within LONG_RUN_NS + WATCH_NS. */
#define WATCH_NS 2000000
/* Every FAIR_PICKS-th pick takes the oldest task (a power of two). */
#define FAIR_PICKS 16
/* A task in a deque: worth stealing (sched_task_stealable, not pinned). */
#define TAG_MOVABLE ((uintptr_t)1)

struct worker {
  struct sched_deque dq;             /* CPU workers: unpinned tasks this worker queued */
  struct sched_inject inj;           /* unpinned tasks queued by other threads */
  _Alignas(64) atomic_int inj_taker; /* 1 while a thread is inj's consumer */
  struct sched_inject pin;           /* tasks pinned here, a device worker's tasks: owner only */
  _Alignas(64) atomic_int heavy;     /* running a costly task: all it has queued may be taken */
  atomic_uint run_seq;               /* runs begun + runs ended: odd while one is in progress */
  /* The owner's own (never read by others). */
  unsigned picks;                 /* tasks picked */
  int oldest_next;                /* a task yielded: take the oldest next */
  uint64_t gap_ns;                /* device workers: recent idle gap before a task (average) */
  _Alignas(64) atomic_int parked; /* PARK_* */
  atomic_uint futex;
  /* The thief's view of the other workers' runs: the run_seq it last saw
   * and when it first saw it (this worker's own, only it reads them). */
  unsigned *seen_seq;
  uint64_t *seen_at;
  _Alignas(64) atomic_ullong busy_ns, fires;
  struct sched *s;
  int index; /* in s->w: CPU places first, then devices */
  int dev;   /* device place, or -1 */
  pthread_t thread;
  int started;
};

struct sched {
  struct maestro_runtime *rt;
  sched_run_fn run; /* core_task_run: fires a batch of a task */
  int n;            /* CPU workers */
  atomic_int ndev;  /* device workers, after them in w (room for PLACE_MAX_DEVICES) */
  struct worker *w;
  atomic_int stop;
  atomic_int nparked;
  atomic_int nsleeping; /* workers parked with no timeout (PARK_SLEEP) */
};

/* worker.parked: awake; parked with a timeout, watching the others' runs;
 * parked until woken. */
enum { PARK_NO = 0, PARK_WATCH, PARK_SLEEP };

static _Thread_local struct worker *tls_worker;

int sched_current_cpu(void) {
  return tls_worker && tls_worker->dev < 0 ? tls_worker->index : -1;
}

static void futex_wait(atomic_uint *addr, unsigned val) {
  syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(atomic_uint *addr) {
  syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* ---- run queues ---- */

static inline struct sched_task *node_task(struct sched_node *n) {
  return n ? (struct sched_task *)((char *)n - offsetof(struct sched_task, node)) : NULL;
}

static inline struct sched_task *word_task(uintptr_t x) {
  return (struct sched_task *)(x & ~SCHED_DEQUE_TAGS);
}

/* Pinned, or a device worker's: only the owner takes it. */
static inline int task_pinned(const struct sched_task *t) {
  return t->pin >= 0 || t->dev >= 0;
}

/* Not pinned and worth stealing (sched_task_stealable). Read BEFORE the task
 * is queued: once queued, another worker may run and finish it and its
 * graph be freed. */
static inline int task_movable(const struct sched_task *t) {
  return !task_pinned(t) && sched_task_stealable(t);
}

/* Something queued that another worker could take (the pinned queue aside). */
static inline int has_queued(struct worker *w) {
  return sched_deque_size(&w->dq) > 0 || sched_inject_busy(&w->inj);
}

/* The oldest task of `w`'s unpinned inject queue, taken by its owner or a
 * thief; with `movable`, only a task worth moving (a thief's take while `w`
 * runs nothing costly). NULL when empty, or another thread is taking. A
 * task still in the queue may be read: it is queued, so its graph lives. */
static struct sched_task *inj_take(struct worker *w, int movable) {
  if (!sched_inject_busy(&w->inj)) return NULL;
  if (atomic_exchange_explicit(&w->inj_taker, 1, memory_order_acquire)) return NULL;
  struct sched_task *t = NULL;
  if (!movable || ((t = node_task(sched_inject_peek(&w->inj))) && task_movable(t)))
    t = node_task(sched_inject_pop(&w->inj));
  else
    t = NULL;
  atomic_store_explicit(&w->inj_taker, 0, memory_order_release);
  return t;
}

/* The oldest task of `w`'s deque if it carries `need` (TAG_MOVABLE, or 0
 * for any), or NULL. */
static struct sched_task *dq_steal(struct worker *w, uintptr_t need) {
  if (sched_deque_size(&w->dq) == 0) return NULL;
  for (;;) {
    uintptr_t x = sched_deque_steal(&w->dq, need);
    if (x == SCHED_DEQUE_ABORT) continue; /* another taker won that one: look again */
    return x == SCHED_DEQUE_EMPTY || x == SCHED_DEQUE_SKIP ? NULL : word_task(x);
  }
}

/* The owner's next task: its newest, or its oldest now and then. */
static struct sched_task *own_task(struct worker *w) {
  struct sched_task *t;
  if (w->dev >= 0) return node_task(sched_inject_pop(&w->pin));
  int fair = (++w->picks & (FAIR_PICKS - 1)) == 0;
  if (fair && ((t = node_task(sched_inject_pop(&w->pin))) || (t = inj_take(w, 0)))) return t;
  if (fair || w->oldest_next) {
    w->oldest_next = 0;
    if ((t = dq_steal(w, 0))) return t;
  }
  /* The take's fence only when there is something to take (an idle worker
   * comes here in its spin loop). */
  if (sched_deque_size(&w->dq) > 0) {
    uintptr_t x = sched_deque_take(&w->dq);
    if (x != SCHED_DEQUE_EMPTY) return word_task(x);
  }
  if ((t = node_task(sched_inject_pop(&w->pin)))) return t;
  return inj_take(w, 0);
}

/* 1 when worker `v` has been in one run for LONG_RUN_NS or more, as far as
 * `w` (an idle CPU worker) has watched it. */
static int run_stuck(struct worker *w, struct worker *v, uint64_t now) {
  unsigned seq = atomic_load_explicit(&v->run_seq, memory_order_relaxed);
  if (!(seq & 1)) return 0;
  if (seq != w->seen_seq[v->index]) {
    w->seen_seq[v->index] = seq;
    w->seen_at[v->index] = now;
    return 0;
  }
  return now - w->seen_at[v->index] >= LONG_RUN_NS;
}

/* A task of CPU worker `v` for an idle worker: the oldest of its deque or
 * of its inject queue if worth moving; while `v` runs a costly task or
 * `stuck` (a run that lasts), whatever its cost. */
static struct sched_task *steal_from(struct worker *v, int stuck) {
  int any = stuck || atomic_load_explicit(&v->heavy, memory_order_relaxed);
  struct sched_task *t = dq_steal(v, any ? 0 : TAG_MOVABLE);
  if (!t) t = inj_take(v, !any);
  return t;
}

/* Its own next task, or with `steal` (an idle CPU worker) one from another
 * worker; `now` is the time (rt_now_ns) when stealing. */
static struct sched_task *find_task(struct worker *w, int steal, uint64_t now) {
  struct sched_task *t = own_task(w);
  if (t || w->dev >= 0 || !steal) return t;
  struct sched *s = w->s;
  for (int k = 1; k < s->n; k++) {
    struct worker *v = &s->w[(w->index + k) % s->n];
    if ((t = steal_from(v, run_stuck(w, v, now)))) return t;
  }
  return NULL;
}

/* Called by a worker about to park, after saying so (seq_cst): anything it
 * would take? */
static int work_visible(struct worker *w) {
  struct sched *s = w->s;
  if (sched_inject_busy(&w->pin)) return 1;
  if (w->dev >= 0) return 0;
  if (sched_deque_size(&w->dq) > 0 || sched_inject_busy(&w->inj)) return 1;
  /* What it could steal: a busy worker's queue of tasks that stay there
   * must not keep this one awake. */
  for (int k = 0; k < s->n; k++) {
    struct worker *v = &s->w[k];
    if (k == w->index) continue;
    int tags = sched_deque_top_tags(&v->dq);
    if (tags >= 0 && (tags & TAG_MOVABLE)) return 1;
    if (atomic_load_explicit(&v->heavy, memory_order_seq_cst) && has_queued(v)) return 1;
  }
  return 0;
}

/* Wakes `w` if it is parked; 1 if it was. */
static int wake(struct worker *w) {
  int p = atomic_load(&w->parked);
  if (p == PARK_NO || !atomic_compare_exchange_strong(&w->parked, &p, PARK_NO)) return 0;
  atomic_fetch_add(&w->futex, 1);
  futex_wake(&w->futex);
  return 1;
}

/* A task was queued behind awake worker `target`, whose run in progress
 * may last: a CPU worker parked without a timeout must come and watch it. */
static void wake_watcher(struct sched *s, struct worker *target) {
  if (target->dev >= 0 || atomic_load_explicit(&s->nsleeping, memory_order_relaxed) == 0) return;
  for (int k = 1; k < s->n; k++) {
    struct worker *v = &s->w[(target->index + k) % s->n];
    int p = PARK_SLEEP;
    if (atomic_load_explicit(&v->parked, memory_order_relaxed) == PARK_SLEEP &&
        atomic_compare_exchange_strong(&v->parked, &p, PARK_NO)) {
      atomic_fetch_add(&v->futex, 1);
      futex_wake(&v->futex);
      return;
    }
  }
}

/* After queueing a task on `target` (the push and a full fence done):
 * `mine` is 1 when the push may have to wake `target` itself (an inject
 * queue found empty); `movable` and `pinned` were read before the push. */
static void wake_for(struct sched *s, struct worker *target, int mine, int movable, int pinned) {
  if (atomic_load_explicit(&s->nparked, memory_order_seq_cst) == 0) return;
  if (mine && wake(target)) return;
  if (pinned || target->dev >= 0) return;
  if (!movable && !atomic_load_explicit(&target->heavy, memory_order_relaxed)) {
    wake_watcher(s, target);
    return;
  }
  /* Worth stealing, or queued behind a costly run: another worker may take it. */
  if (tls_worker == target || has_queued(target)) {
    for (int k = 1; k < s->n; k++)
      if (wake(&s->w[(target->index + k) % s->n])) return;
  }
}

/* Queues `t` (state QUEUED, counted in its graph's active) on `target`. */
static void queue_task(struct sched *s, struct worker *target, struct sched_task *t) {
  int movable = task_movable(t), pinned = task_pinned(t);
  int mine;
  if (pinned) {
    mine = sched_inject_push(&target->pin, &t->node);
  } else if (target == tls_worker &&
             sched_deque_push(&target->dq, (uintptr_t)t | (movable ? TAG_MOVABLE : 0)) == 0) {
    /* Its own deque: it is awake. The fence orders the push before the
     * look at who parked (a parking worker says so, then looks at the
     * queues). */
    full_fence();
    mine = 0;
  } else {
    /* Another worker's (or its own, out of memory for its deque). The
     * exchange in the push is a full barrier. */
    mine = sched_inject_push(&target->inj, &t->node);
  }
  if (target == tls_worker) mine = 0;
  wake_for(s, target, mine, movable, pinned);
}

/* 1 when CPU worker `home` cannot run a task soon and worker `w` (another
 * CPU worker, the caller) may run it instead: `home` is parked, or has been
 * in one run for LONG_RUN_NS as far as `w` has watched it. */
static int away(struct worker *w, int home) {
  struct worker *h = &w->s->w[home];
  if (atomic_load_explicit(&h->parked, memory_order_relaxed)) return 1;
  if (!(atomic_load_explicit(&h->run_seq, memory_order_relaxed) & 1)) return 0;
  return run_stuck(w, h, rt_now_ns());
}

void sched_notify(struct maestro_runtime *rt, struct sched_task *t) {
  struct sched *s = rt->sched;
  full_fence();
  int st = atomic_load_explicit(&t->state, memory_order_seq_cst);
  for (;;) {
    if (st == TASK_QUEUED || st == TASK_AGAIN) return;
    int want = st == TASK_IDLE ? TASK_QUEUED : TASK_AGAIN;
    if (atomic_compare_exchange_weak(&t->state, &st, want)) {
      if (want == TASK_AGAIN) return;
      break;
    }
  }
  atomic_fetch_add(t->active, 1);
  struct worker *w = tls_worker;
  /* Where it last ran (its data is in that core's caches), unless that
   * worker sleeps and the caller is a worker that can run it instead. */
  int here = w && w->s == s && w->dev < 0;
  int target;
  if (t->dev >= 0)
    target = s->n + t->dev;
  else if (t->pin >= 0)
    target = t->pin;
  else if (t->home >= 0 && t->home < s->n && !(here && t->home != w->index && away(w, t->home)))
    target = t->home;
  else
    target = here ? w->index : 0;
  queue_task(s, &s->w[target], t);
}

/* Runs `t` (state QUEUED) until it waits, or queues it again if it yields. */
static void run_task(struct worker *w, struct sched_task *t) {
  struct sched *s = w->s;
  atomic_store(&t->state, TASK_RUNNING);
  for (;;) {
    full_fence();
    /* A task worth moving stays where it was moved. A cheap one keeps its
     * home (where its part of the graph lives, sched.h): run elsewhere
     * because its worker was away (parked, or held by a run that lasts, or
     * by the system), it goes back there when next made runnable, so that
     * a chain split by a stall joins up again. */
    if (w->dev < 0 && (sched_task_stealable(t) || t->home < 0)) t->home = w->index;
    /* Single writer: a plain increment, published relaxed. */
    unsigned seq = atomic_load_explicit(&w->run_seq, memory_order_relaxed);
    atomic_store_explicit(&w->run_seq, seq + 1, memory_order_relaxed);
    int r = s->run(t, w->dev >= 0 ? w->dev : w->index);
    atomic_store_explicit(&w->run_seq, seq + 2, memory_order_relaxed);
    if (r == TASK_YIELD) {
      atomic_store(&t->state, TASK_QUEUED);
      /* Behind what it made runnable: the oldest goes next. */
      w->oldest_next = 1;
      queue_task(s, w, t);
      return;
    }
    int running = TASK_RUNNING;
    atomic_int *active = t->active;
    if (atomic_compare_exchange_strong(&t->state, &running, TASK_IDLE)) {
      /* Last touch of the task: its graph may be freed once active is 0. */
      atomic_fetch_sub(active, 1);
      return;
    }
    atomic_store(&t->state, TASK_RUNNING); /* it was TASK_AGAIN: go on */
  }
}

/* 1 when another CPU worker is awake (may be in a run that lasts) with
 * tasks queued behind it that could be taken. (One queued later wakes this
 * one: wake_watcher.) */
static int other_awake_queued(struct worker *w) {
  struct sched *s = w->s;
  for (int k = 0; k < s->n; k++)
    if (k != w->index && atomic_load(&s->w[k].parked) == PARK_NO && has_queued(&s->w[k])) return 1;
  return 0;
}

/* Parks `w` until woken, or, for a CPU worker while another is awake with
 * tasks queued, for WATCH_NS at most (each such wake costs some 25 us on a
 * VM: never while no task waits). Returns 1 when it woke by that timeout. */
static int park(struct worker *w) {
  struct sched *s = w->s;
  unsigned v = atomic_load(&w->futex);
  /* Announced as sleeping first: whoever then queues behind an awake worker
   * sees it (wake_watcher), and the count is undone if it watches instead. */
  atomic_store(&w->parked, PARK_SLEEP);
  atomic_fetch_add(&s->nparked, 1);
  int watch = 0;
  if (w->dev < 0) {
    atomic_fetch_add(&s->nsleeping, 1);
    if (other_awake_queued(w)) {
      int p = PARK_SLEEP;
      watch = atomic_compare_exchange_strong(&w->parked, &p, PARK_WATCH);
    }
    if (watch) atomic_fetch_sub(&s->nsleeping, 1);
  }
  int timed_out = 0;
  if (!work_visible(w) && !atomic_load(&s->stop)) {
    if (watch) {
      struct timespec ts = {0, WATCH_NS};
      timed_out = syscall(SYS_futex, &w->futex, FUTEX_WAIT_PRIVATE, v, &ts, NULL, 0) != 0 &&
                  errno == ETIMEDOUT;
    } else {
      futex_wait(&w->futex, v);
    }
  }
  if (w->dev < 0 && !watch) atomic_fetch_sub(&s->nsleeping, 1);
  atomic_store(&w->parked, PARK_NO);
  atomic_fetch_sub(&s->nparked, 1);
  return timed_out;
}

static void *worker_main(void *arg) {
  struct worker *w = arg;
  struct sched *s = w->s;
  struct maestro_runtime *rt = s->rt;
  char name[16];
  snprintf(name, sizeof name, w->dev >= 0 ? "maestro-dev%d" : "maestro-cpu%d",
           (w->dev >= 0 ? w->dev : w->index) % 1000);
  pthread_setname_np(pthread_self(), name);
  if (w->dev < 0) place_bind_cpu(rt, w->index);
  tls_worker = w;
  mem_thread_attach(rt, w->dev >= 0 ? rt->dev_info[w->dev].numa_node
                                    : rt->cpu_info[w->index].numa_node);
  uint64_t idle_since = 0;
  unsigned spins = 0;
  int watched = 0; /* back from a watch that timed out: look once, park again */
  while (!atomic_load_explicit(&s->stop, memory_order_acquire)) {
    uint64_t now = idle_since && w->dev < 0 && (watched || (spins & 7) == 0) ? rt_now_ns() : 0;
    struct sched_task *t = find_task(w, watched || (now && now - idle_since > STEAL_NS), now);
    if (t) {
      if (w->dev >= 0 && idle_since) {
        /* Capped, so that a long wait weighs no more than a few short ones. */
        uint64_t gap = rt_now_ns() - idle_since;
        if (gap > 4 * SPIN_NS) gap = 4 * SPIN_NS;
        w->gap_ns = (w->gap_ns * 3 + gap) / 4;
      }
      int heavy = sched_task_stealable(t);
      atomic_store_explicit(&w->heavy, heavy, memory_order_relaxed);
      /* What waits behind a costly task may go to an idle worker: wake one. */
      if (heavy && w->dev < 0 && has_queued(w) &&
          atomic_load_explicit(&s->nparked, memory_order_relaxed))
        for (int k = 1; k < s->n; k++)
          if (wake(&s->w[(w->index + k) % s->n])) break;
      run_task(w, t);
      atomic_store_explicit(&w->heavy, 0, memory_order_relaxed);
      idle_since = 0;
      watched = 0;
      continue;
    }
    if (!idle_since) idle_since = rt_now_ns();
    if (w->dev >= 0) {
      /* A device worker's tasks come from other threads (a completion, a
       * lane handing it a firing): it spins only while they have come
       * within SPIN_NS of it going idle (small launches in quick
       * succession), else parks at once. A spin after every wake of a
       * worker whose launches last longer cost a CPU device the CPU its
       * kernels run on. idle_since stays set across the park: the gap
       * measured is the whole wait. */
      if (w->gap_ns >= SPIN_NS || ((++spins & 63) == 0 && rt_now_ns() - idle_since > SPIN_NS))
        park(w);
      else
        cpu_relax();
      continue;
    }
    if (watched || ((++spins & 63) == 0 && rt_now_ns() - idle_since > SPIN_NS)) {
      watched = park(w);
      idle_since = watched ? rt_now_ns() : 0;
      continue;
    }
    cpu_relax();
  }
  mem_thread_detach();
  tls_worker = NULL;
  return NULL;
}

/* Sets up and starts workers [from, to) of s->w (CPU places first, then
 * devices). On failure the ones set up are left for sched_fini. */
static int start_workers(struct sched *s, int from, int to) {
  for (int i = from; i < to; i++) {
    struct worker *w = &s->w[i];
    w->s = s;
    w->index = i;
    w->dev = i < s->n ? -1 : i - s->n;
    sched_inject_init(&w->inj);
    sched_inject_init(&w->pin);
    if (sched_deque_init(&w->dq, w->dev < 0 ? 64 : 1) != 0)
      return err_set(MAESTRO_ENOMEM, "sched: out of memory for worker %d", i);
    if (w->dev < 0) {
      w->seen_seq = calloc((size_t)s->n, sizeof *w->seen_seq);
      w->seen_at = calloc((size_t)s->n, sizeof *w->seen_at);
      if (!w->seen_seq || !w->seen_at)
        return err_set(MAESTRO_ENOMEM, "sched: out of memory for worker %d", i);
    }
  }
  for (int i = from; i < to; i++) {
    int rc = pthread_create(&s->w[i].thread, NULL, worker_main, &s->w[i]);
    if (rc) return err_set(MAESTRO_ESYS, "sched: pthread_create: %s", strerror(rc));
    s->w[i].started = 1;
  }
  return MAESTRO_OK;
}

/* The places' stats collector (base/stats_rec.h). */
static int collect_places(struct maestro_runtime *rt, struct prof_place_rec *r, int cap) {
  /* The publisher pre-fills name, kind and index (CPU places, then devices);
   * the devices' transfer counters come from the backend's collector, the
   * agents placed there from core's. */
  struct sched *s = rt->sched;
  int n = s->n + rt->ndev;
  for (int i = 0; i < n && i < cap; i++) {
    struct prof_place_rec *p = &r[i];
    if (i < s->n) {
      p->busy_ns = atomic_load_explicit(&s->w[i].busy_ns, memory_order_relaxed);
      p->fires = atomic_load_explicit(&s->w[i].fires, memory_order_relaxed);
    } else {
      p->busy_ns += atomic_load_explicit(&s->w[i].busy_ns, memory_order_relaxed);
      p->fires += atomic_load_explicit(&s->w[i].fires, memory_order_relaxed);
    }
  }
  return n;
}

static const struct stats_collector sched_collector = {.name = "sched", .places = collect_places};

int sched_init(struct maestro_runtime *rt, sched_run_fn run) {
  if (!run) return err_set(MAESTRO_EINVAL, "sched_init: no run function");
  struct sched *s = calloc(1, sizeof *s);
  if (!s) return err_set(MAESTRO_ENOMEM, "sched_init: out of memory");
  s->rt = rt;
  s->run = run;
  s->n = rt->ncpu > 0 ? rt->ncpu : 1;
  atomic_init(&s->ndev, 0);
  /* Room for the device workers too: devices are discovered later. */
  size_t nw = (size_t)s->n + PLACE_MAX_DEVICES;
  s->w = aligned_alloc(64, sizeof *s->w * nw);
  if (!s->w) {
    free(s);
    return err_set(MAESTRO_ENOMEM, "sched_init: out of memory");
  }
  memset(s->w, 0, sizeof *s->w * nw);
  rt->sched = s;
  int rc = start_workers(s, 0, s->n);
  if (rc) {
    sched_fini(rt);
    return rc;
  }
  return stats_register(rt, &sched_collector);
}

int sched_add_devices(struct maestro_runtime *rt, int ndev) {
  struct sched *s = rt->sched;
  int have = atomic_load(&s->ndev);
  if (ndev <= have) return MAESTRO_OK;
  if (ndev > PLACE_MAX_DEVICES)
    return err_set(MAESTRO_ENODEV, "more than %d device places", PLACE_MAX_DEVICES);
  int rc = start_workers(s, s->n + have, s->n + ndev);
  /* Set up (started or not), so that sched_fini sees them. */
  atomic_store(&s->ndev, ndev);
  return rc;
}

void sched_fini(struct maestro_runtime *rt) {
  struct sched *s = rt->sched;
  if (!s) return;
  atomic_store(&s->stop, 1);
  int nw = s->n + s->ndev;
  for (int i = 0; i < nw; i++) {
    struct worker *w = &s->w[i];
    if (!w->started) continue;
    atomic_fetch_add(&w->futex, 1);
    futex_wake(&w->futex);
  }
  for (int i = 0; i < nw; i++) {
    struct worker *w = &s->w[i];
    if (!w->s) continue; /* sched_init failed before setting it up */
    if (w->started) {
      /* Keep waking until it has seen the stop (it may have been about to park). */
      for (;;) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 1000000;
        if (ts.tv_nsec >= 1000000000) {
          ts.tv_sec++;
          ts.tv_nsec -= 1000000000;
        }
        if (pthread_timedjoin_np(w->thread, NULL, &ts) == 0) break;
        atomic_fetch_add(&w->futex, 1);
        futex_wake(&w->futex);
      }
    }
  }
  /* Only once every worker has left: a worker still running looks into
   * the others' deques (work_visible, stealing). tsan caught worker 0's
   * deque freed while worker 1 scanned it (bench_libagents_tiny, 2 runs in
   * 16 before, none in 24 after). */
  for (int i = 0; i < nw; i++) {
    struct worker *w = &s->w[i];
    if (!w->s) continue;
    sched_deque_fini(&w->dq);
    free(w->seen_seq);
    free(w->seen_at);
  }
  free(s->w);
  free(s);
  rt->sched = NULL;
}

unsigned sched_runs(struct maestro_runtime *rt, int kind, int index) {
  struct sched *s = rt->sched;
  int i = kind == MAESTRO_PLACE_DEVICE ? s->n + index : index;
  if (index < 0 || i >= s->n + atomic_load(&s->ndev) ||
      (kind != MAESTRO_PLACE_DEVICE && index >= s->n))
    return 0;
  /* Two steps a run (odd while one is in progress): rounded up. */
  return (atomic_load_explicit(&s->w[i].run_seq, memory_order_relaxed) + 1) / 2;
}

void sched_account(struct maestro_runtime *rt, int kind, int index, uint64_t busy_ns,
                   uint64_t fires) {
  struct sched *s = rt->sched;
  int i = kind == MAESTRO_PLACE_DEVICE ? s->n + index : index;
  if (index < 0 || i >= s->n + s->ndev || (kind != MAESTRO_PLACE_DEVICE && index >= s->n)) return;
  if (busy_ns) atomic_fetch_add_explicit(&s->w[i].busy_ns, busy_ns, memory_order_relaxed);
  if (fires) atomic_fetch_add_explicit(&s->w[i].fires, fires, memory_order_relaxed);
}
