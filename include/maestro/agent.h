/**
 * @file maestro/agent.h
 * Agents: isolated units of work with typed ports, private state and one or
 * more implementations (a CPU function, and an OpenCL kernel or a function
 * written against OpenCL itself, maestro/opencl.h).
 */
#ifndef MAESTRO_AGENT_H
#define MAESTRO_AGENT_H

#include <stdint.h>

#include "buffer.h"
#include "kernel.h"
#include "runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque agent handle, owned by its graph. */
typedef struct maestro_agent maestro_agent_t;
/** One firing in progress, handed to a CPU implementation. */
typedef struct maestro_fire maestro_fire_t;
/** One firing in progress, handed to an OpenCL implementation (maestro/opencl.h). */
typedef struct maestro_clfire maestro_clfire_t;

/** Element type of a port. */
typedef enum maestro_type {
  MAESTRO_BYTES = 0,
  MAESTRO_U8,
  MAESTRO_I32,
  MAESTRO_U32,
  MAESTRO_I64,
  MAESTRO_F32,
  MAESTRO_F64,
  /** Records (a C struct): the port's .size is the bytes of one record. */
  MAESTRO_RECORD,
} maestro_type_t;

/**
 * Size in bytes of one element of `t` (1 for MAESTRO_BYTES); 0 if unknown,
 * and for MAESTRO_RECORD, whose element size is its port's .size.
 */
size_t maestro_type_size(maestro_type_t t);
/** Name of `t` ("f32", "record"), "?" if unknown. */
const char *maestro_type_name(maestro_type_t t);

/**
 * A named, typed port. Every message taken on an input port must be a whole
 * number of its elements (a CPU agent's firing and a kernel's launch alike):
 * one that is not goes to the dead letters as a failed firing (MAESTRO_EINVAL,
 * its reason naming the agent, the port, the message's size and the element
 * size) and the supervisor decides (SKIP goes on; STOP and RETRY stop the
 * graph). Connected ports must have the same type, and RECORD ports the
 * same .size.
 */
typedef struct maestro_port {
  const char *name;
  maestro_type_t type;
  /** MAESTRO_RECORD: bytes of one record (> 0). Other types: 0 or their size. */
  size_t size;
} maestro_port_t;

/** Where an agent would like to run. */
typedef enum maestro_pref {
  MAESTRO_ANYWHERE = 0,  /**< the scheduler decides */
  MAESTRO_ON_CPU = 1,    /**< a CPU place */
  MAESTRO_ON_DEVICE = 2, /**< an OpenCL device place */
} maestro_pref_t;

/** Affinity: a kind of place and which one (-1 = any; 0 when omitted). */
typedef struct maestro_affinity {
  maestro_pref_t pref;
  int index;
  /**
   * The MPI rank that owns the agent (0 when omitted; see
   * maestro_runtime_nranks): its firings run there, and a channel to an agent
   * of another rank carries its messages over MPI. MAESTRO_RANK_ANY: a
   * MAESTRO_STATELESS agent that every rank may fire: rank 0 owns it (its
   * channels, host inputs and outputs, and the order of its outputs, which
   * is that of its inputs), and sends a firing's inputs to another rank when
   * it is expected to end there first; that rank fires the agent on its own
   * places (a CPU place, or, for an agent with a .kernel too, one of its
   * devices, chosen as a hybrid agent's place is there) and sends the
   * outputs back (docs/mpi.md). Such an agent needs a .cpu (rank 0 sends
   * firings away when its CPU or its device is busy).
   */
  int rank;
} maestro_affinity_t;

/** maestro_affinity_t.rank: any rank (a MAESTRO_STATELESS agent only). */
#define MAESTRO_RANK_ANY (-1)

/** What a failed firing does. */
typedef enum maestro_fail {
  MAESTRO_FAIL_STOP = 0, /**< stop the graph: maestro_graph_wait returns MAESTRO_EAGENT */
  MAESTRO_FAIL_RETRY,    /**< call .restart(state) then fire again, up to .max_retries, then stop */
  MAESTRO_FAIL_SKIP,     /**< send the message to the dead-letter output and go on */
} maestro_fail_t;

/**
 * The per-agent failure policy, held by value in the agent's description.
 * Every field left zero keeps the plain behaviour (no intensity limit, no
 * backoff), so designated initialisers name only what they use:
 * `{.on_fail = MAESTRO_FAIL_RETRY, .max_retries = 3, .backoff_ms = 2}`.
 * Negative values are refused by maestro_agent_add (MAESTRO_EINVAL).
 */
typedef struct maestro_supervisor {
  maestro_fail_t on_fail;
  int max_retries;
  int (*restart)(void *state); /**< optional; a negative return stops the graph */
  /**
   * Restart intensity, as in Erlang/OTP: with MAESTRO_FAIL_RETRY, a retry
   * that would be the (max_restarts + 1)-th within any `within_ms` window
   * (counted over all of the agent's firings, not per firing) is not made:
   * the failure escalates to MAESTRO_FAIL_STOP (the graph stops,
   * maestro_graph_wait returns MAESTRO_EAGENT). 0 = no limit; max_restarts
   * > 0 needs within_ms > 0.
   */
  int max_restarts;
  int within_ms;
  /**
   * Backoff before each retry of a firing: backoff_ms before the first,
   * doubling for each further one, at most backoff_max_ms (0 = no cap beyond
   * the runtime's). 0 = retry at once. The wait happens on the worker that
   * runs the firing and ends early when the graph stops; to keep a worker
   * from being held for long, one wait never exceeds MAESTRO_BACKOFF_CAP_MS.
   */
  int backoff_ms;
  int backoff_max_ms;
} maestro_supervisor_t;

/** The longest single backoff wait (ms), whatever .backoff_max_ms asks. */
#define MAESTRO_BACKOFF_CAP_MS 100

/** Agent flags. */
enum maestro_agent_flags {
  /** May fire on several workers at once; outputs keep input order. */
  MAESTRO_STATELESS = 1u << 0,
};

/**
 * A CPU implementation. Returns MAESTRO_OK after a firing, MAESTRO_DONE when a
 * source has nothing more to send (any agent returning it stops firing and
 * closes its outputs), or a negative status when the firing failed. Any other
 * value is a failure too (MAESTRO_EAGENT, the message naming the agent and the
 * value), handled by the supervisor. Inside it, calls that would wait without
 * bound for agents (maestro_graph_wait, maestro_output_pop with -1, ...) are
 * refused with MAESTRO_ESTATE (maestro/graph.h).
 */
typedef int (*maestro_cpu_fn)(maestro_fire_t *f);

/**
 * An implementation written against OpenCL itself (maestro/opencl.h): it
 * enqueues its commands on the firing's queue and returns without waiting.
 * MAESTRO_OK, or a negative status when the firing failed (a hybrid agent
 * then falls back to its .cpu).
 */
typedef int (*maestro_cl_fn)(maestro_clfire_t *f);

/** Everything maestro_agent_add needs to know of an agent. */
typedef struct maestro_agent_desc {
  const char *name; /**< unique within the graph */
  const maestro_port_t *in;
  int n_in;
  const maestro_port_t *out;
  int n_out;
  maestro_cpu_fn cpu;             /**< CPU implementation, or NULL */
  const maestro_kernel_t *kernel; /**< OpenCL implementation (copied), or NULL */
  void *state;                    /**< private state, handed to every firing */
  maestro_affinity_t affinity;
  unsigned flags; /**< MAESTRO_STATELESS */
  maestro_supervisor_t supervisor;
  /**
   * Optional: called once when every input has ended (for an agent without
   * inputs, or one that returned MAESTRO_DONE, when it stops firing), after
   * its last firing was emitted and before its outputs close. It may send
   * final messages (a window, a table) with maestro_fire_alloc and
   * maestro_fire_out; maestro_fire_in returns NULL there, maestro_fire_seq
   * the number of firings, maestro_fire_place MAESTRO_PLACE_CPU and -1. It
   * runs on a CPU thread, for kernel and hybrid agents too (after every
   * launch has been emitted), never while the graph is stopping. A negative
   * return is a failure handled by .supervisor like a failed firing (RETRY
   * calls it again, SKIP drops what it sent, STOP stops the graph with a
   * message naming the agent and "on_end").
   */
  maestro_cpu_fn on_end;
  /** OpenCL implementation written against OpenCL itself (maestro/opencl.h),
   *  or NULL. An agent sets at most one of .kernel and .cl; either may come
   *  with a .cpu (a hybrid agent). */
  maestro_cl_fn cl;
  /**
   * Optional timer, in milliseconds (0 = none; negative is refused by
   * maestro_agent_add, naming the agent).
   *
   * An agent without inputs (a source) is fired once every period, the first
   * time when the graph starts, instead of in a loop: between two firings it
   * holds no worker and costs nothing (the runtime's timer thread sleeps
   * until the next deadline). Deadlines follow the planned grid (start,
   * start + period, ...), not the end of the previous firing, so they do not
   * drift; ticks missed while the source could not fire (a slow firing, a
   * full output channel) are coalesced into one firing, then the grid
   * resumes. It ends as any source does: MAESTRO_DONE, or the graph stopping.
   *
   * An agent with inputs is fired as usual on each input set and, when no
   * message came for `period_ms`, once more without input: a timeout firing
   * (a window to close, a heartbeat). There maestro_fire_in returns NULL for
   * every port and maestro_fire_timeout returns 1. While its inputs stay
   * silent it gets one timeout firing per period (on the grid of the first
   * one); a message restarts the wait (measured from the end of the run that
   * fired it). No timeout firing happens once its inputs have all ended
   * (.on_end is the place for a last word), nor once the graph is stopping,
   * nor while an output channel is full. Timeouts are for agents fired by
   * their .cpu one message at a time: with inputs, an agent that is
   * MAESTRO_STATELESS or has a device implementation is refused.
   *
   * Timers are not precise to the millisecond: a firing comes at its
   * deadline or later (by the scheduler's latency, or more when workers are
   * busy), never earlier.
   */
  int period_ms;
} maestro_agent_desc_t;

/** An agent's counters (totals since the graph started). */
typedef struct maestro_agent_stats {
  maestro_place_kind_t place_kind; /**< where it last fired (or is placed) */
  int place_index;                 /**< -1 before it is placed */
  uint64_t fires;
  uint64_t msgs_in, msgs_out;
  uint64_t bytes_in, bytes_out;
  uint64_t busy_ns;
  uint64_t failures, retries;
  uint64_t dead_letters; /**< messages this agent sent to the dead-letter output */
  uint64_t fallbacks;    /**< device firings that fell back to the CPU implementation */
  uint64_t device_fires; /**< firings that ran on a device place */
  uint64_t cpu_fires;    /**< firings that ran on a CPU place (fallbacks included) */
  /** Launches a device refused (build, enqueue, out of resources) that
   *  another device place with an implementation took instead. */
  uint64_t failovers;
  /** A MAESTRO_RANK_ANY agent, on rank 0: firings that other ranks ran for
   *  it and answered (their outputs came back here). They are not in
   *  .fires, which counts the firings this rank ran; each rank's own count
   *  is in its .fires, and rank 0 sees them per rank with
   *  maestro_agent_rank_fires. 0 elsewhere. */
  uint64_t remote_fires;
  /** Of .remote_fires, those that ran on a device of the rank that ran
   *  them (a MAESTRO_RANK_ANY agent with a device implementation is placed
   *  there among that rank's CPU places and devices; that rank counts them
   *  in its own .device_fires). 0 elsewhere. */
  uint64_t remote_device_fires;
  /** A MAESTRO_RANK_ANY agent, on a rank other than 0: the firings this
   *  rank ran for rank 0 and answered without failing (rank 0 counts the
   *  same firings in its maestro_agent_rank_fires for this rank once their
   *  outputs arrived). .fires counts them too, with any failed attempts and
   *  retries. 0 elsewhere. */
  uint64_t served;
} maestro_agent_stats_t;

/** Reads `a`'s counters. @return MAESTRO_OK or MAESTRO_EINVAL. */
int maestro_agent_stats(const maestro_agent_t *a, maestro_agent_stats_t *s);

/**
 * Where agent `a`'s firings ran, as this rank sees them: *fires = the
 * firings that rank `rank` ran for this rank's copy of the graph. For this
 * rank, its .fires; for another rank, on rank 0 and for a MAESTRO_RANK_ANY
 * agent, the firings it sent there whose outputs came back (their sum is
 * .remote_fires); 0 otherwise (the agent fires only here, or the graph has
 * not started).
 * @return MAESTRO_OK; MAESTRO_EINVAL for a NULL argument or a rank not in
 * [0, maestro_runtime_nranks).
 */
int maestro_agent_rank_fires(const maestro_agent_t *a, int rank, uint64_t *fires);

/**
 * The performance model's expected time of one firing of `a` with `bytes`
 * input bytes on place (kind, index), in ns: the mean of the firings measured
 * there so far (places of one architecture share a model; models persist in
 * the configuration's .perf_dir). Agents with a choice of place (a hybrid or
 * stateless agent) are measured; an agent that only ever runs one way on a
 * CPU worker is not.
 * @return MAESTRO_OK with *ns < 0 when not measured yet; MAESTRO_ENODEV for
 * no such place (or one the agent has no implementation for); MAESTRO_EINVAL.
 */
int maestro_agent_estimate(const maestro_agent_t *a, maestro_place_kind_t kind, int index,
                           size_t bytes, double *ns);

/** The agent's name (owned by the agent). */
const char *maestro_agent_name(const maestro_agent_t *a);

/* ---- inside a firing (CPU implementations) ---- */

/** The message on input port `port`, borrowed for this firing; NULL if out of
 *  range, in .on_end, and in a timeout firing (maestro_fire_timeout). */
maestro_buf_t *maestro_fire_in(maestro_fire_t *f, int port);

/** Allocates a buffer for an output (from the worker's pool).
 *  @return MAESTRO_OK, MAESTRO_EINVAL, MAESTRO_ENOMEM (also for a size no
 *  buffer can hold, such as SIZE_MAX). */
int maestro_fire_alloc(maestro_fire_t *f, size_t bytes, maestro_buf_t **out);

/**
 * Sends `b` on output port `port`, handing the caller's reference over (also
 * when it fails: the buffer is then released). Several sends per firing are
 * allowed; they leave in order. To forward an input, retain it first
 * (maestro_fire_out(f, 0, maestro_buf_retain(maestro_fire_in(f, 0)))): the
 * input is only borrowed. Sending a borrowed input this firing alone holds
 * (its reference count 1) is refused with MAESTRO_EINVAL and a message
 * naming the agent and the port; that buffer is not released (it is still
 * the firing's input), nothing is sent.
 * @return MAESTRO_OK, MAESTRO_EINVAL (bad port, borrowed input).
 */
int maestro_fire_out(maestro_fire_t *f, int port, maestro_buf_t *b);

/** The agent's .state. */
void *maestro_fire_state(maestro_fire_t *f);

/** Sequence number of this firing's input messages (0, 1, ...); for a source, its firing count. */
uint64_t maestro_fire_seq(const maestro_fire_t *f);

/** The runtime the firing runs in (for maestro_buf_create and the like). */
maestro_runtime_t *maestro_fire_runtime(maestro_fire_t *f);

/** Where this firing runs: returns the place index and sets `*kind`. */
int maestro_fire_place(const maestro_fire_t *f, maestro_place_kind_t *kind);

/**
 * 1 when this is a timeout firing (maestro_agent_desc_t.period_ms): an agent
 * with inputs fired because no message came for its period; it has no input
 * message (maestro_fire_in returns NULL for every port) and
 * maestro_fire_seq says how many input sets were taken before it. 0 for a
 * firing on messages, a source's firing (periodic or not), in .on_end, and
 * for NULL.
 */
int maestro_fire_timeout(const maestro_fire_t *f);

#ifdef __cplusplus
}
#endif
#endif
