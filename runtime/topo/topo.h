/* Machine topology: the only place that calls hwloc. */
#ifndef MAESTRO_TOPO_H
#define MAESTRO_TOPO_H

#include <stddef.h>
#include <stdio.h>

#include "maestro.h"

struct maestro_runtime;

/* Loads the topology and finds the cores this process may use (its allowed
 * cpuset intersected with its binding: `taskset -c 0` gives one), in
 * topology order. The CPU backend (runtime/backend/cpu) makes its CPU
 * places from them: CPU place i is usable core i. */
int topo_init(struct maestro_runtime *rt);
void topo_fini(struct maestro_runtime *rt);

/* How many cores this process may use (>= 1 once topo_init succeeded). */
int topo_ncores(const struct maestro_runtime *rt);
/* Describes usable core `cpu` as CPU place `cpu`: os_index is the first OS
 * processor number of the core, numa_node the OS index of its NUMA node,
 * mem_bytes that node's memory, vendor the CPU model. MAESTRO_ENODEV for a
 * bad index. */
int topo_core_info(const struct maestro_runtime *rt, int cpu, maestro_place_info_t *info);
/* Writes the OS processor numbers this process may use as a list ("0-7"). */
int topo_usable_pus(const struct maestro_runtime *rt, char *buf, size_t len);

/* Pins the calling thread to usable core `cpu` (its usable PUs).
 * MAESTRO_ENODEV for a bad index, MAESTRO_ESYS when the OS refuses. */
int topo_bind_thread(struct maestro_runtime *rt, int cpu);

/* Writes the OS processor numbers of CPU place `cpu` as a list ("0", "0,64"
 * on an SMT core) into buf. MAESTRO_ENODEV for a bad index. */
int topo_cpu_pus(const struct maestro_runtime *rt, int cpu, char *buf, size_t len);

/* Writes the architecture of CPU place `cpu`, the key of its performance
 * models (sched/perf.h): "cpu:<model>" from hwloc's CPUModel, with the
 * core type appended on a machine with several kinds of cores
 * ("cpu:<model> (IntelAtom)"), or "cpu:<machine>" (uname) where hwloc
 * knows no model. MAESTRO_ENODEV for a bad index. */
int topo_cpu_arch(const struct maestro_runtime *rt, int cpu, char *buf, size_t len);

/* NUMA node count (>= 1). */
int topo_numa_nodes(const struct maestro_runtime *rt);

/* Memory bound to NUMA node `node` (its OS index, as in place_info.numa_node;
 * -1 = anywhere), aligned to at least TOPO_ALIGN bytes. On a single-node
 * machine this is plain heap memory. NULL when out of memory. Freed with
 * topo_free(rt, p, bytes) with the same `bytes`. */
#define TOPO_ALIGN 128
void *topo_alloc_on_node(struct maestro_runtime *rt, size_t bytes, int node);
void topo_free(struct maestro_runtime *rt, void *p, size_t bytes);

/* Writes the topology (packages, NUMA nodes, cores, caches) for maestro-info,
 * as text or as a JSON object value. */
void topo_describe(const struct maestro_runtime *rt, FILE *f, int json);

#endif
