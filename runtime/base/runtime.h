/* The runtime object, shared by every subsystem. Each subsystem keeps its own
 * state behind one opaque pointer here and is brought up and down in a fixed
 * order by runtime.c:
 *
 *   topo_init -> perf_init -> mem_node_table_init -> place_init -> mem_init
 *   -> sched_init -> rt_modules[] init
 *   (and the *_fini in reverse). place_init finds the CPU places and the
 *   host memory node (the CPU backend's discovery); the device backends are
 *   discovered lazily (sched/place.h); place_fini ends every backend that
 *   was discovered. A backend keeps its state in the place table
 *   (place_backend_get): nothing here names one.
 *
 * The engine (base, mem, chan, sched, core) names nothing above it. What
 * sits on top (runtime/prof) is reached three ways, all declared here:
 *   - rt_modules[] (runtime/modules.c, outside the layered folders) lists
 *     the modules runtime.c brings up after the subsystems and down first;
 *   - rt->observer, which a module fills at its init, is how the engine
 *     tells it of events (rt_notify_graph_end);
 *   - rt->collectors (base/stats_rec.h), which the subsystems fill at their
 *     init (a backend at its discovery), is what a stats publisher reads; rt->tracer (core/trace.h)
 * is the trace recorder a trace writer starts and drains.
 *
 * Only runtime.c writes the fields below outside the owning subsystem, but
 * for those three hooks: rt->collectors (stats_register, at a subsystem's
 * init or a backend's discovery), rt->observer (a module, at its init and fini) and rt->tracer
 * (tracer_start / tracer_stop, called by the trace writer). */
#ifndef MAESTRO_BASE_RUNTIME_H
#define MAESTRO_BASE_RUNTIME_H

#include <pthread.h>
#include <stdint.h>

#include "base/clock.h"
#include "base/fault.h"
#include "base/stats_rec.h"
#include "maestro.h"

struct topo;           /* runtime/topo: hwloc topology */
struct mem;            /* runtime/mem: buffer pools */
struct mem_node_table; /* runtime/mem/node.c: memory nodes and their operations */
struct sched;          /* runtime/sched: workers and placement */
struct places;         /* runtime/sched/place.c: device places and their backends */
struct perf_store;     /* runtime/sched/perf.c: performance models */
struct prof;           /* runtime/prof: stats segment and trace writer */
struct kern_lib;       /* runtime/kern/lib.c: the library agents' CPU-side plans */
struct tracer;         /* runtime/core/trace_rec.c: the trace recorder */
struct sched_timers;   /* runtime/sched/timer.c: the timer thread, started on first use */
struct graph_list;
struct dist_ops; /* core/dist.h: graphs across processes (backend/mpi) */
struct maestro_runtime;

/* Room for the copies of maestro_config_t's string fields (core/runtime.c). */
#define RT_CFG_MAX_STRINGS 12

/* A module above the engine: brought up after every subsystem (init may
 * fail: the runtime is then not created), brought down before them. */
struct rt_module {
  const char *name;
  int (*init)(struct maestro_runtime *rt);
  void (*fini)(struct maestro_runtime *rt);
};
/* runtime/modules.c: the modules, in bring-up order. */
extern const struct rt_module rt_modules[];
extern const int rt_nmodules;

/* What the engine tells the modules above it. A module sets the entries it
 * wants at its init and clears them at its fini; NULL is skipped. */
struct rt_observer {
  /* A graph has ended (maestro_graph_wait, before the graph goes), called
   * holding no engine lock: the last counts are still there to read. */
  void (*graph_end)(struct maestro_runtime *rt);
};

struct maestro_runtime {
  /* Configuration, strings copied (cfg_str holds the copies, which cfg's
   * string fields point at; never NULL, trace excepted). The subsystems
   * and the backends read it here, never the environment. */
  maestro_config_t cfg;
  char *cfg_str[RT_CFG_MAX_STRINGS];

  /* Places, brought by the backends (sched/place.h): the CPU ones by the
   * CPU backend when the runtime is created, the device ones lazily. */
  int ncpu;
  maestro_place_info_t *cpu_info;
  /* Device places: 0 until the backends are discovered (sched/place.h),
   * then set once; dev_info has room for PLACE_MAX_DEVICES from the start so
   * that readers never see it move. */
  _Atomic int ndev;
  maestro_place_info_t *dev_info;
  const char *cpu_only_reason; /* static string, NULL when ndev > 0 */

  struct topo *topo;
  struct mem *mem;
  struct mem_node_table *node_table;
  struct sched *sched;
  struct places *places;
  struct perf_store *perf;
  struct prof *prof;
  struct kern_lib *kern_lib;
  struct tracer *tracer;       /* set while a trace is recorded (core/trace.h) */
  struct sched_timers *timers; /* NULL until a graph with a periodic agent starts */
  struct rt_observer observer;

  /* Stats collectors (base/stats_rec.h): stats_register fills a slot, then
   * publishes the count (release); a reader loads the count (acquire) and
   * reads that many slots, so a backend may register at its (lazy)
   * discovery while a publisher reads. */
  const struct stats_collector *collectors[STATS_MAX_COLLECTORS];
  _Atomic int ncollectors;

  /* Graphs alive on this runtime (runtime/core/graph.c keeps the list). */
  pthread_mutex_t graphs_lock;
  struct maestro_graph *graphs;

  uint64_t start_ns; /* CLOCK_MONOTONIC at creation */

  /* Ranks (core/dist.h): set once by the distribution backend's init; 0 of
   * 1 without one. dist is NULL unless cfg.dist is "mpi". */
  int rank, nranks;
  const struct dist_ops *dist;
  void *dist_state;

  /* cfg.faults parsed (base/fault.h); cfg.faults itself is set to NULL: the
   * string is not kept. */
  struct fault fault;
};

/* Tells the modules above that a graph has ended. */
static inline void rt_notify_graph_end(struct maestro_runtime *rt) {
  if (rt->observer.graph_end) rt->observer.graph_end(rt);
}

#endif
