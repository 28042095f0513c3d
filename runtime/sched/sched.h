/* Workers and placement: one pinned worker per CPU place, one per device
 * place (runtime/sched). */
#ifndef MAESTRO_SCHED_H
#define MAESTRO_SCHED_H

struct maestro_runtime;

/* Starts the workers (named maestro-cpuN / maestro-devN, CPU ones pinned
 * with topo_bind_thread). Idle workers park; they never spin for long. */
int sched_init(struct maestro_runtime *rt);
/* Stops and joins every worker. */
void sched_fini(struct maestro_runtime *rt);

/* Index of the CPU place the calling thread is the worker of, or -1. */
int sched_current_cpu(void);

#endif
