/* The records the live stats segment publishes (runtime/prof/segment.h lays
 * them out in shared memory). The engine, the scheduler and runtime/ocl fill
 * them when the publisher asks; counters only grow. */
#ifndef MAESTRO_PROF_RECORDS_H
#define MAESTRO_PROF_RECORDS_H

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
};

struct prof_agent_rec {
  char name[PROF_NAME_LEN];
  char graph[PROF_NAME_LEN];
  int32_t place_kind;   /* maestro_place_kind_t */
  int32_t place_index;  /* -1 before placement */
  int32_t state;        /* enum prof_agent_state */
  uint32_t queue_depth; /* messages waiting on its inputs */
  uint64_t fires, msgs_in, msgs_out, bytes_in, bytes_out, busy_ns;
  uint64_t failures, retries, dead_letters, fallbacks, device_fires;
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

/* Filled by runtime/core (graphs, agents, channels): each returns how many
 * records exist (may exceed `cap`; only `cap` are written). */
int core_collect_agents(struct maestro_runtime *rt, struct prof_agent_rec *r, int cap);
int core_collect_channels(struct maestro_runtime *rt, struct prof_chan_rec *r, int cap);
/* Filled by runtime/sched (CPU and device workers): busy time, firings, agents. */
int sched_collect_places(struct maestro_runtime *rt, struct prof_place_rec *r, int cap);
/* Adds runtime/ocl's transfer counters of device `dev` to `r`. */
void ocl_collect_device(struct maestro_runtime *rt, int dev, struct prof_place_rec *r);

#endif
