/* The CPU backend: the CPU places (one per usable core, from runtime/topo)
 * and the host memory node. The engine reaches it only through its two
 * tables: cpu_backend_ops (sched/place.h: discovered when the runtime is
 * created, since the workers start on its places) and cpu_node_ops
 * (mem/node.h: node 0, where the pools take the buffers' bytes from).
 *
 * It describes places; it runs nothing. A CPU agent is fired inline by the
 * sched worker of its place (core_task_run), through no table: the hot path
 * pays nothing for the CPU being a backend. */
#ifndef MAESTRO_BACKEND_CPU_H
#define MAESTRO_BACKEND_CPU_H

#include <stddef.h>

#include "sched/place.h"

struct maestro_runtime;

/* Longest architecture name kept per place ("cpu:<model> (<core type>)"). */
#define CPU_ARCH_LEN 160

/* The backend's state in one runtime (its discover's *be). */
struct cpu_backend {
  struct maestro_runtime *rt;
  int n; /* CPU places */
  /* Expected cost of a host-to-host copy: a fixed latency plus bytes at
   * memcpy speed (ns per KiB). */
  unsigned copy_lat_ns, copy_ns_per_kib;
  char arch[][CPU_ARCH_LEN]; /* per place */
};

extern const struct backend_ops cpu_backend_ops;
extern const struct mem_node_ops cpu_node_ops;

#endif
