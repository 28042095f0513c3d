/* Workers and placement: one pinned worker per CPU place, one per device
 * place (runtime/sched).
 *
 * The scheduler runs tasks (struct sched_task, embedded in each agent by
 * runtime/core). A task is made runnable with sched_notify(); a worker then
 * calls core_task_run() on it, which fires a bounded batch and says whether
 * the task wants to run again at once (a source with more to send) or waits
 * for the next notification. A task runs on one worker at a time. */
#ifndef MAESTRO_SCHED_H
#define MAESTRO_SCHED_H

#include <stdatomic.h>
#include <stdint.h>

#include "sched/inject.h"

struct maestro_runtime;

/* Starts the workers (named maestro-cpuN / maestro-devN, CPU ones pinned
 * with topo_bind_thread). Idle workers park; they never spin for long. */
int sched_init(struct maestro_runtime *rt);
/* Stops and joins every worker. */
void sched_fini(struct maestro_runtime *rt);
/* Starts the workers of device places [current count, ndev): called by
 * place discovery before it publishes the places. */
int sched_add_devices(struct maestro_runtime *rt, int ndev);

/* Index of the CPU place the calling thread is the worker of, or -1. */
int sched_current_cpu(void);

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

/* What core_task_run returns. */
enum { TASK_WAIT = 0, TASK_YIELD = 1 };

/* Implemented by runtime/core: fires a bounded batch of `t` on place
 * `index` (a CPU place, or device place t->dev when t->dev >= 0). */
int core_task_run(struct sched_task *t, int index);

/* Makes `t` runnable (cheap when it already is). Called after making input
 * or output space available to it; any thread. */
void sched_notify(struct maestro_runtime *rt, struct sched_task *t);

/* Implemented by runtime/core: agents of running graphs last placed on (kind, index). */
int core_agents_on_place(struct maestro_runtime *rt, int kind, int index);

/* Per-place counters for the stats publisher (sched/worker.c). */
void sched_account(struct maestro_runtime *rt, int kind, int index, uint64_t busy_ns,
                   uint64_t fires);

#endif
