/* Workers and placement: one pinned worker per CPU place, one per device
 * place (runtime/sched).
 *
 * The scheduler runs tasks (struct sched_task, embedded in each agent by
 * runtime/core). A task is made runnable with sched_notify(); a worker then
 * calls the runtime's run function on it (sched_init's `run`: core gives
 * core_task_run), which fires a bounded batch and says whether the task
 * wants to run again at once (a source with more to send) or waits for the
 * next notification. A task runs on one worker at a time. */
#ifndef MAESTRO_SCHED_H
#define MAESTRO_SCHED_H

#include <stdatomic.h>
#include <stdint.h>

#include "sched/inject.h"

struct maestro_runtime;
struct sched_task;

/* Runs a bounded batch of task `t` on place `index` (a CPU place, or device
 * place t->dev when t->dev >= 0); returns TASK_WAIT or TASK_YIELD. */
typedef int (*sched_run_fn)(struct sched_task *t, int index);

/* Starts the workers (named maestro-cpuN / maestro-devN, CPU ones pinned to
 * their place with place_bind_cpu), which run tasks with `run`: the layer
 * above hands it down, so that sched names nothing above it. Idle workers
 * park; they never spin for long. */
int sched_init(struct maestro_runtime *rt, sched_run_fn run);
/* Stops and joins every worker. */
void sched_fini(struct maestro_runtime *rt);
/* Starts the workers of device places [current count, ndev): called by
 * place discovery before it publishes the places. */
int sched_add_devices(struct maestro_runtime *rt, int ndev);

/* Index of the CPU place the calling thread is the worker of, or -1. */
int sched_current_cpu(void);

/* Task runs begun so far by the worker of place (kind, index) (a
 * MAESTRO_PLACE_* kind): how often it was woken to do something, for tests
 * that a firing costs a bounded number of runs. 0 for no such worker. */
unsigned sched_runs(struct maestro_runtime *rt, int kind, int index);

/* Task states. */
enum { TASK_IDLE = 0, TASK_QUEUED, TASK_RUNNING, TASK_AGAIN };

struct sched_task {
  atomic_int state;    /* TASK_* */
  void *owner;         /* the agent (runtime/core) */
  int dev;             /* device place whose worker runs it, or -1 for CPU workers */
  int pin;             /* CPU place it must run on, or -1 */
  int home;            /* CPU place it last ran on (where a host notify queues it) */
  atomic_int *active;  /* its graph's count of tasks queued or running */
  atomic_uint fire_ns; /* recent cost of one firing (core keeps it), 0 = not measured yet */

  /* Its link in a worker's inject queue while queued there (sched/worker.c). */
  struct sched_node node;
};

/* A task is worth moving to another core (stealing) only when its firings
 * are costly enough that the work gained outweighs the caches lost: agents
 * of a fine-grained pipeline then stay together on one core. */
#define SCHED_STEAL_MIN_FIRE_NS 1000u
static inline int sched_task_stealable(const struct sched_task *t) {
  return atomic_load_explicit(&((struct sched_task *)t)->fire_ns, memory_order_relaxed) >=
         SCHED_STEAL_MIN_FIRE_NS;
}

/* Records one run's cost per firing in `t` (a running average). A run is
 * timed by the clock, so a worker the system took away mid-run (another
 * process on its core) times it long: one run may raise the average at most
 * 1.75 times, so that a cheap task does not look worth stealing after one
 * such run, while a task that became costly is seen so within a few runs. */
static inline void sched_task_cost(struct sched_task *t, uint64_t busy_ns, uint64_t fires) {
  if (!fires) return;
  unsigned ns = busy_ns / fires > 0xffffffu ? 0xffffffu : (unsigned)(busy_ns / fires);
  unsigned old = atomic_load_explicit(&t->fire_ns, memory_order_relaxed);
  if (old && ns / 4 > old) ns = old * 4;
  atomic_store_explicit(&t->fire_ns, old ? (old * 3 + ns) / 4 : (ns ? ns : 1),
                        memory_order_relaxed);
}

/* What a sched_run_fn returns. */
enum { TASK_WAIT = 0, TASK_YIELD = 1 };

/* Makes `t` runnable (cheap when it already is). Called after making input
 * or output space available to it; any thread. */
void sched_notify(struct maestro_runtime *rt, struct sched_task *t);

/* Per-place counters for the stats publisher (sched/worker.c). */
void sched_account(struct maestro_runtime *rt, int kind, int index, uint64_t busy_ns,
                   uint64_t fires);

/* ---- timers (sched/timer.c): deadlines that make a task runnable ---- */

/* One deadline of a task, embedded in its owner. Only the task's runner
 * arms or cancels it (one run at a time); the timer thread takes it out at
 * its deadline and calls sched_notify. */
struct sched_timer {
  uint64_t due;            /* rt_now_ns() deadline */
  int slot;                /* index in the timer heap, -1 when not in it (under its lock) */
  atomic_int armed;        /* in the heap: the runner need not arm it again */
  struct sched_task *task; /* what the deadline makes runnable */
};

/* Starts the runtime's timer thread if it is not running (a graph with a
 * periodic agent starts). MAESTRO_OK, MAESTRO_ENOMEM or MAESTRO_ESYS. */
int sched_timer_start(struct maestro_runtime *rt);
/* Stops and joins the timer thread (no timer may be armed any more). */
void sched_timer_fini(struct maestro_runtime *rt);
/* (Re)arms `e` for `due_ns` (sched_timer_start done). MAESTRO_OK or MAESTRO_ENOMEM. */
int sched_timer_arm(struct maestro_runtime *rt, struct sched_timer *e, uint64_t due_ns);
/* Disarms `e`; once it returns, the timer thread no longer touches `e`. */
void sched_timer_cancel(struct maestro_runtime *rt, struct sched_timer *e);

#endif
