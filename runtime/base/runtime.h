/* The runtime object, shared by every subsystem. Each subsystem keeps its own
 * state behind one opaque pointer here and is brought up and down in a fixed
 * order by runtime.c:
 *
 *   topo_init -> ocl_init -> mem_init -> sched_init -> prof_init
 *   (and the *_fini in reverse).
 *
 * Only runtime.c writes the fields below outside the owning subsystem. */
#ifndef MAESTRO_BASE_RUNTIME_H
#define MAESTRO_BASE_RUNTIME_H

#include <pthread.h>
#include <stdint.h>

#include "base/clock.h"
#include "maestro.h"

struct topo;  /* runtime/topo: hwloc topology */
struct ocl;   /* runtime/backend/opencl: platforms, devices, contexts, queues */
struct mem;   /* runtime/mem: buffer pools */
struct sched; /* runtime/sched: workers and placement */
struct prof;  /* runtime/prof: stats segment and trace */
struct graph_list;

struct maestro_runtime {
  /* Configuration, strings copied (the cfg_* below; cfg's string fields
   * point at them and are never NULL, trace excepted). The subsystems read
   * it here, never the environment. */
  maestro_config_t cfg;
  char *cfg_devices, *cfg_sched, *cfg_trace;
  char *cfg_kernel_cache, *cfg_perf_dir, *cfg_dist, *cfg_ocl_contexts;

  /* Places, filled by topo_init (CPU) and ocl_init (devices). */
  int ncpu;
  maestro_place_info_t *cpu_info;
  int ndev;
  maestro_place_info_t *dev_info;
  const char *cpu_only_reason; /* static string, NULL when ndev > 0 */

  struct topo *topo;
  struct ocl *ocl;
  struct mem *mem;
  struct sched *sched;
  struct prof *prof;

  /* Graphs alive on this runtime (runtime/core/graph.c keeps the list). */
  pthread_mutex_t graphs_lock;
  struct maestro_graph *graphs;

  uint64_t start_ns; /* CLOCK_MONOTONIC at creation */
};

#endif
