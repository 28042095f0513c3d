/* The runtime object, shared by every subsystem. Each subsystem keeps its own
 * state behind one opaque pointer here and is brought up and down in a fixed
 * order by runtime.c:
 *
 *   topo_init -> perf_init -> place_init -> mem_init -> sched_init -> prof_init
 *   (and the *_fini in reverse; place_fini ends every backend that was
 *   discovered, which happens lazily: see sched/place.h).
 *
 * Only runtime.c writes the fields below outside the owning subsystem. */
#ifndef MAESTRO_BASE_RUNTIME_H
#define MAESTRO_BASE_RUNTIME_H

#include <pthread.h>
#include <stdint.h>

#include "base/clock.h"
#include "base/fault.h"
#include "maestro.h"

struct topo;           /* runtime/topo: hwloc topology */
struct ocl;            /* the OpenCL backend's state, set by its discovery (backend/opencl) */
struct mem;            /* runtime/mem: buffer pools */
struct mem_node_table; /* runtime/mem/node.c: memory nodes and their operations */
struct sched;          /* runtime/sched: workers and placement */
struct places;         /* runtime/sched/place.c: device places and their backends */
struct perf_store;     /* runtime/sched/perf.c: performance models */
struct prof;           /* runtime/prof: stats segment and trace */
struct graph_list;

struct maestro_runtime {
  /* Configuration, strings copied (the cfg_* below; cfg's string fields
   * point at them and are never NULL, trace excepted). The subsystems read
   * it here, never the environment. */
  maestro_config_t cfg;
  char *cfg_devices, *cfg_sched, *cfg_trace;
  char *cfg_kernel_cache, *cfg_perf_dir, *cfg_dist, *cfg_ocl_contexts;

  /* Places: CPU ones filled by topo_init, device ones by the backends. */
  int ncpu;
  maestro_place_info_t *cpu_info;
  /* Device places: 0 until the backends are discovered (sched/place.h),
   * then set once; dev_info has room for PLACE_MAX_DEVICES from the start so
   * that readers never see it move. */
  _Atomic int ndev;
  maestro_place_info_t *dev_info;
  const char *cpu_only_reason; /* static string, NULL when ndev > 0 */

  struct topo *topo;
  struct ocl *ocl;
  struct mem *mem;
  struct mem_node_table *node_table;
  struct sched *sched;
  struct places *places;
  struct perf_store *perf;
  struct prof *prof;

  /* Graphs alive on this runtime (runtime/core/graph.c keeps the list). */
  pthread_mutex_t graphs_lock;
  struct maestro_graph *graphs;

  uint64_t start_ns; /* CLOCK_MONOTONIC at creation */

  /* cfg.faults parsed (base/fault.h); cfg.faults itself is set to NULL: the
   * string is not kept. */
  struct fault fault;
};

#endif
