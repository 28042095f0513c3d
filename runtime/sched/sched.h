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

struct maestro_runtime;

/* Starts the workers (named maestro-cpuN / maestro-devN, CPU ones pinned
 * with topo_bind_thread). Idle workers park; they never spin for long. */
int sched_init(struct maestro_runtime *rt);
/* Stops and joins every worker. */
void sched_fini(struct maestro_runtime *rt);

/* Index of the CPU place the calling thread is the worker of, or -1. */
int sched_current_cpu(void);

/* Task states. */
enum { TASK_IDLE = 0, TASK_QUEUED, TASK_RUNNING, TASK_AGAIN };

struct sched_task {
  atomic_int state;   /* TASK_* */
  void *owner;        /* the agent (runtime/core) */
  int dev;            /* device place whose worker runs it, or -1 for CPU workers */
  int pin;            /* CPU place it must run on, or -1 */
  int home;           /* CPU place it last ran on (where a host notify queues it) */
  atomic_int *active; /* its graph's count of tasks queued or running */
};

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
