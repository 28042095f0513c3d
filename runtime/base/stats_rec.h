/* The stats records and the collectors that fill them: the data contract
 * between the subsystems that count (core, sched, the backends) and whatever
 * publishes the counts (runtime/prof's live stats segment lays these records
 * out in shared memory; maestro-top reads them back). Counters only grow.
 *
 * The engine names no publisher: each subsystem registers its collector with
 * the runtime object at its own init (stats_register), and a publisher walks
 * rt->collectors[] without knowing who filled them. The records keep their
 * prof_ names: they are the segment's record format, shared with the tools. */
#ifndef MAESTRO_BASE_STATS_REC_H
#define MAESTRO_BASE_STATS_REC_H

#include <stdint.h>

#define PROF_NAME_LEN 64

/* Agent states as maestro-top shows them. */
enum prof_agent_state {
  PROF_AGENT_IDLE = 0, /* not started */
  PROF_AGENT_RUNNING,  /* firing now */
  PROF_AGENT_WAITING,  /* waiting for input */
  PROF_AGENT_BLOCKED,  /* blocked on a full output */
  PROF_AGENT_FINISHED,
  PROF_AGENT_FAILED,
  PROF_AGENT_READY,  /* not firing, messages queued on its inputs: waits for a core */
  PROF_AGENT_REMOTE, /* owned by another MPI rank: fires there */
};

/* prof_agent_rec.flags */
#define PROF_AGENT_F_CPU_PLACED 1u /* cpu_place holds its CPU place */
#define PROF_AGENT_F_DEV_PLACED 2u /* dev_place holds its device place */
#define PROF_AGENT_F_HYBRID     4u /* a CPU function and a kernel: placed per firing */
enum { PROF_EST_PLACES = 5 };      /* est_ns: the CPU, then devices 0..3 */
/* A MAESTRO_RANK_ANY agent of a graph across ranks (layout version 4): on
 * the owning rank, rank_fires holds each rank's firings; on another rank,
 * served holds the firings it ran for the owner. ANY_FINAL: the ranks have
 * agreed that the graph ended (maestro_graph_wait), so no firing is in
 * flight and these counts no longer change: the owner's count for a rank
 * and that rank's served count are then equal. */
#define PROF_AGENT_F_ANY_OWNER  8u
#define PROF_AGENT_F_ANY_SERVED 16u
#define PROF_AGENT_F_ANY_FINAL  32u
/* rank_fires: ranks 0..PROF_RANK_FIRES-1 one by one, the others summed in
 * rank_fires_rest. A fixed record keeps every agent slot one size under its
 * sequence lock; one agent's window holds at most 64 firings in flight, so
 * past 16 ranks each gets under 4 of them at a time: what the rest do
 * together is what matters there. */
enum { PROF_RANK_FIRES = 16 };

struct prof_agent_rec {
  char name[PROF_NAME_LEN];
  char graph[PROF_NAME_LEN];
  int32_t place_kind;   /* maestro_place_kind_t */
  int32_t place_index;  /* -1 before placement */
  int32_t state;        /* enum prof_agent_state */
  uint32_t queue_depth; /* messages waiting on its inputs */
  uint64_t fires, msgs_in, msgs_out, bytes_in, bytes_out, busy_ns;
  uint64_t failures, retries, dead_letters, fallbacks, device_fires;
  uint64_t cpu_fires, failovers; /* firings on CPU places; firings moved to another device */
  /* Where it is placed (layout version 3): the CPU place its CPU firings
   * run on and the device place its device firings run on (a hybrid agent
   * has both), valid as `flags` says. */
  int32_t cpu_place, dev_place;
  uint32_t flags; /* PROF_AGENT_F_* */
  uint32_t n_est; /* est_ns entries (hybrid agents; else 0) */
  /* The performance model's current estimate of one firing of est_bytes
   * input bytes (maestro_agent_estimate), ns: [0] on the CPU, [1 + d] on
   * device d; -1 not measured yet, -2 not a place of this agent. */
  int64_t est_ns[PROF_EST_PLACES];
  uint64_t est_bytes;
  /* MAESTRO_RANK_ANY across ranks (layout version 4), valid as `flags` say.
   * PROF_AGENT_F_ANY_OWNER (rank 0): `nranks` ranks; rank_fires[r] the
   * firings rank r ran that were answered (for this rank, its own: `fires`),
   * as maestro_agent_rank_fires says; ranks from PROF_RANK_FIRES on summed
   * in rank_fires_rest. PROF_AGENT_F_ANY_SERVED (any other rank): `served`
   * firings it ran and answered for rank `served_for` (the owner), which
   * counts them in its rank_fires[this rank]. */
  int32_t nranks, served_for;
  uint64_t served;
  uint64_t rank_fires[PROF_RANK_FIRES];
  uint64_t rank_fires_rest;
};

struct prof_chan_rec {
  char graph[PROF_NAME_LEN];
  char from[PROF_NAME_LEN]; /* "agent.port", or "host" */
  char to[PROF_NAME_LEN];   /* "agent.port", or "host" */
  uint32_t capacity, depth;
  uint64_t msgs, bytes;
  uint64_t bytes_h2d, bytes_d2h, bytes_d2d; /* moved across the boundary for this channel */
};

struct prof_place_rec {
  char name[PROF_NAME_LEN]; /* "cpu 3", "device 0: <name>" */
  int32_t kind, index;
  uint32_t agents; /* agents placed there now */
  uint64_t busy_ns, fires;
  uint64_t bytes_h2d, bytes_d2h, bytes_d2d, transfers;
};

struct maestro_runtime;

/* One subsystem's collector: any of its three functions may be NULL. The
 * publisher calls them from its own thread, holding no engine lock (they
 * take their own), with relaxed reads of the counters.
 *
 *   places:   r[0, cap) come zeroed but for name, kind and index, one per
 *             place of the runtime (CPU places, then devices); the collector
 *             adds what it counts to the places it knows and returns how
 *             many records it knows of (0 when it only adds to others').
 *   agents, channels: the collector writes its records from r[0] on and
 *             returns how many it has (may exceed `cap`; only `cap` are
 *             written). Collectors of one kind are called in turn, each one
 *             given the room the earlier ones left. */
struct stats_collector {
  const char *name; /* the subsystem, for messages */
  int (*places)(struct maestro_runtime *rt, struct prof_place_rec *r, int cap);
  int (*agents)(struct maestro_runtime *rt, struct prof_agent_rec *r, int cap);
  int (*channels)(struct maestro_runtime *rt, struct prof_chan_rec *r, int cap);
};

enum { STATS_MAX_COLLECTORS = 8 };

/* Adds `c` (static storage: the runtime keeps the pointer) to the runtime's
 * collectors, at a subsystem's init or a backend's discovery; a publisher
 * may be reading them meanwhile. MAESTRO_ENOMEM when STATS_MAX_COLLECTORS
 * are in, MAESTRO_EINVAL for a NULL argument. A collector stays until the
 * runtime is freed: the publishers stop before the subsystems do. */
int stats_register(struct maestro_runtime *rt, const struct stats_collector *c);
/* How many collectors rt->collectors[] holds now (read them up to it). */
int stats_collectors(const struct maestro_runtime *rt);

#endif
