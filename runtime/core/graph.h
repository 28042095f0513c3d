/* Graphs, agents, ports and host endpoints: the engine's private structures
 * (runtime/core). graph.c builds and validates graphs, run.c fires agents
 * (window.c those whose firings overlap; take.h/take.c take their inputs,
 * life.c ends them), host.c holds host inputs, outputs and dead letters,
 * stats.c the counters, the stats records and DOT. */
#ifndef MAESTRO_CORE_GRAPH_H
#define MAESTRO_CORE_GRAPH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "chan/chan.h"
#include "maestro.h"
#include "sched/sched.h"

#define GRAPH_DEFAULT_CAPACITY 64
#define GRAPH_MAX_CAPACITY     (1 << 24)
/* A message's origin (maestro_buf.origin): the domain (an agent without
 * inputs: its id + 1; a host input: ORIGIN_HOST + its index) in the top 16
 * bits, the sequence of the source message in that domain below. */
#define ORIGIN_SHIFT    48
#define ORIGIN_SEQ_MASK ((UINT64_C(1) << ORIGIN_SHIFT) - 1)
#define ORIGIN_HOST     0x8000u
/* Messages one source firing may send on one port and keep distinct origins. */
#define ORIGIN_PER_FIRING 12
/* Firings per run before an agent yields its worker. */
#define AGENT_BATCH 64

struct inport {
  char *name;
  maestro_type_t type;
  size_t esize;     /* bytes of one element (a RECORD port's .size) */
  size_t emask;     /* esize - 1 when a power of two: a whole message has none of these bits */
  int ediv;         /* esize is not a power of two: check with a division */
  struct chan **ch; /* channels feeding it (a host input is one of them) */
  int nch;
  int rr;         /* where the next merge scan starts */
  uint64_t taken; /* messages taken: the next message's sequence number */
  int has_host;
};

struct outport {
  char *name;
  maestro_type_t type;
  size_t esize;
  struct chan **ch; /* fan-out: every channel gets the same buffer */
  int nch;
};

/* Where an agent is in its life. Only its runner reads and writes it (the
 * window.c runner under its lock); life.c moves it past AG_CLOSING. */
enum agent_phase {
  AG_RUN = 0, /* fires while inputs and output space allow */
  AG_CLOSING, /* fires no more: flushes its overflow, then closes its outputs */
  AG_DRAIN,   /* outputs closed: takes what still arrives as dead letters until inputs end */
  AG_FINISHED,
};

struct agent_counters {
  atomic_ullong fires, msgs_in, msgs_out, bytes_in, bytes_out, busy_ns;
  atomic_ullong failures, retries, dead_letters, fallbacks, device_fires, cpu_fires, failovers;
  atomic_ullong remote_fires;        /* MAESTRO_RANK_ANY on rank 0: answered by other ranks */
  atomic_ullong remote_device_fires; /* of those, run on a device there */
  atomic_ullong served; /* MAESTRO_RANK_ANY on another rank: fired and answered for rank 0 */
  atomic_int place_kind, place_index, pstate;
  atomic_int cpu_place, dev_place; /* its last CPU and device place (-1 none): where it is placed */
};

struct maestro_agent {
  struct sched_task task; /* first: the scheduler hands it back */
  struct maestro_graph *g;
  int id;
  char *name;
  maestro_cpu_fn cpu;
  const maestro_kernel_t *kernel;
  maestro_cl_fn cl; /* copied as is: a function */
  void *state;
  maestro_affinity_t affinity;
  unsigned flags;
  maestro_supervisor_t sup;
  maestro_cpu_fn on_end; /* or NULL */
  /* Restart intensity (sup.max_restarts > 0): the times of the last
   * max_restarts restarts, a ring under sup_mu (stateless agents fire on
   * several workers at once). */
  pthread_mutex_t sup_mu;
  uint64_t *restart_ns;
  int restart_n, restart_head;
  int n_in, n_out;
  struct inport *in;
  struct outport *out;
  struct place_impls *impls; /* its device implementations (sched/place.h), or NULL */
  int remote;                /* owned by another rank (core/dist.h): never fires here */
  /* MAESTRO_RANK_ANY (core/dist.h): on the other ranks, what fires it for
   * rank 0 (serve.c); on rank 0, the rank whose failed firing the
   * supervisor is handling (graph_fail names it), else -1. */
  void *serve;
  int fail_rank;
  /* MAESTRO_RANK_ANY on another rank: its device implementation could not
   * be set up here (graph_prepare_impls; serve.c fails the graph). */
  int prep_rc;
  char *prep_why;

  /* Runner's state. */
  int phase;
  int blocked;           /* some output channel has overflow */
  int xcore;             /* some channel's other end last ran on another CPU place (run.c) */
  int failed;            /* its supervisor stopped the graph */
  int ended;             /* on_end was called (life.c) */
  int sized;             /* some input port has elements of more than one byte (take.h) */
  uint64_t seq;          /* input sets taken (the firing's sequence) */
  uint64_t flow_in;      /* flow id of the current firing's first input */
  uint32_t trace_name;   /* trace_name(name) when the graph is traced */
  int trace_timed;       /* traced firings are long: time each one (trace_batch_end) */
  int trace_regular;     /* at most one input channel: see fire_one's traced path */
  int stamp;             /* upstream of an aligned join: its sends carry origins (run_stamp) */
  int align;             /* an aligned join: its input sets share their origin (run_align_heads) */
  struct window *win;    /* stateless or kernel agents: the windowed runner (window.c) */
  maestro_buf_t **inbuf; /* n_in, the current firing's inputs */
  /* .period_ms (core/period.c): 0, or the period in ns; the next deadline
   * (a source's next firing, or the next timeout firing); its timer entry. */
  uint64_t period_ns;
  uint64_t due;
  struct sched_timer timer;

  /* Set at graph start: none of sized, stamp, align or tracing, and at most
   * one input port fed by one channel. Its runner (run.c) then tests none
   * of those rare paths per firing. */
  int plain;
  struct agent_counters st;
};

/* Why some dead letters were made (a failed firing's message), kept by the
 * graph until it is destroyed: maestro_letter_t.reason points into it. */
struct reason {
  struct reason *next;
  char text[];
};

/* One letter of the dead-letter output. */
struct letter {
  maestro_buf_t *b;
  maestro_letter_t why;
  struct letter *next;
};

struct maestro_output {
  struct maestro_graph *g;
  struct chan *c; /* NULL for the dead letters */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  atomic_int waiting; /* a host thread waits in pop */
  int owner;          /* -1: this rank's; else the rank that owns its agent (pop refused here) */
  /* Dead letters only. */
  struct letter *head, *tail;
  int closed;
  struct maestro_output *next;
};

struct maestro_input {
  struct maestro_graph *g;
  struct chan *c;
  struct maestro_agent *a;
  int port;
  pthread_mutex_t mu; /* the slow path: a full channel, closing */
  pthread_cond_t cv;
  atomic_int closed;
  atomic_int pushers; /* threads in the lock-free push path (closing waits for them) */
  atomic_ullong seq;  /* messages pushed or refused: the next one's sequence number */
  atomic_ullong oseq; /* the next pushed message's origin sequence (ORIGIN_*) */
  uint64_t dom;       /* its origin domain */
  int owner;          /* -1: this rank's; else the rank that owns its agent (push refused here) */
  struct maestro_input *next;
};

/* Work a graph carries besides its agents (the I/O threads of core/io.c):
 * `start` runs when the graph has started (its agents notified) and handles
 * its own failure (graph_fail); `fini` runs when the graph is destroyed,
 * started or not, before anything of the graph is freed. */
struct graph_ext {
  void (*start)(void *arg);
  void (*fini)(void *arg);
  void *arg;
  struct graph_ext *next;
};

enum graph_state { GRAPH_NEW = 0, GRAPH_STARTED };

struct maestro_graph {
  struct maestro_runtime *rt;
  char *name;
  struct maestro_graph *next; /* runtime's list */

  struct maestro_agent **agents;
  int nagents, cap_agents;
  struct chan *chans;
  struct maestro_input *inputs;
  int ninputs; /* host inputs made: the next one's origin domain */
  struct maestro_output *outputs;
  struct maestro_output dl; /* dead letters */

  atomic_int state;      /* graph_state; written under rt->graphs_lock */
  atomic_int stopped;    /* a failure or a cancel: agents wind down */
  atomic_int active;     /* tasks queued or running, launches in flight */
  atomic_int host_users; /* host threads inside push/pop/close and maestro_graph_wait */
  atomic_int destroying; /* maestro_graph_destroy has begun: waiters leave */
  int numa;              /* the pools know several NUMA nodes (set at start) */
  int tracing;           /* trace_on() at start: a trace is being written */

  pthread_mutex_t mu;
  pthread_cond_t cv;
  int nfinished, finished; /* agents finished; all of them */
  int nheld;               /* more finishes it waits for (graph_hold), set before start */
  struct graph_ext *exts;  /* graph_add_ext, last added first */
  int published;           /* final stats published */
  int destroy_cancelled;   /* destroy found it unfinished: waiters report that */
  int failed, fail_status;
  atomic_int cancelled; /* maestro_graph_cancel stopped it before it finished */
  char fail_msg[2048];
  struct reason *reasons; /* under dl.mu; freed with the graph */
  void *dist;             /* the distribution backend's state of a graph across ranks, or NULL */
  int settled;            /* its outcome was agreed with the other ranks (dist_ops.graph_settle) */
  int settling;           /* a thread is agreeing on it (under mu) */
  /* Per rank, what it costs to fire a MAESTRO_RANK_ANY agent there
   * (core/dist.h, set by the backend at start), or NULL. */
  const struct dist_link *links;
};

/* stats.c: registers the places', agents' and channels' stats collector
 * (base/stats_rec.h) with the runtime. */
int core_stats_register(struct maestro_runtime *rt);

/* run.c: fires a bounded batch of task `t` on place `index` (a CPU place, or
 * device place t->dev when t->dev >= 0): the sched_run_fn (sched/sched.h)
 * that runtime.c hands to sched_init. */
int core_task_run(struct sched_task *t, int index);

/* The agent whose CPU function this thread is running, or NULL: set by
 * run_fire_exec (run.h) around the call. Calls that would wait for agents to
 * make progress refuse to run there (core_refuse_in_firing): the firing holds
 * a worker, and its own graph cannot finish before the firing returns.
 * Initial-exec: read and written once per firing, so no __tls_get_addr. */
extern _Thread_local struct maestro_agent *core_firing __attribute__((tls_model("initial-exec")));

/* MAESTRO_ESTATE naming `fn` and the firing's agent when this thread is
 * inside a firing (`why` says what would hang), else MAESTRO_OK. */
int core_refuse_in_firing(const char *fn, const char *why);

/* graph.c */
/* Bytes of one element of port `p` (a RECORD port's .size). */
size_t graph_port_esize(const maestro_port_t *p);
void graph_stop(struct maestro_graph *g);
/* run.c: an agent finished (called by its runner), or a hold ended. */
void graph_agent_finished(struct maestro_graph *g);
/* Before start: the graph finishes only once graph_agent_finished has also
 * been called once more (by whatever took the hold: a thread that must be
 * done before maestro_graph_wait returns). */
void graph_hold(struct maestro_graph *g);
/* Before start: adds a copy of `e` (its next ignored). MAESTRO_OK or MAESTRO_ENOMEM. */
int graph_add_ext(struct maestro_graph *g, const struct graph_ext *e);
/* Records the first failure and stops the graph. `why` is the failed
 * firing's own message (maestro_last_error() on the thread where it failed),
 * appended to the one maestro_graph_wait reports; NULL or "" for none. */
void graph_fail(struct maestro_graph *g, struct maestro_agent *a, int status, const char *why);
/* A graph-owned copy of a dead letter's reason (valid until the graph is
 * destroyed): the firing's message `why`, or, when it is empty, a sentence
 * naming agent `a` and `status`. */
const char *graph_keep_reason(struct maestro_graph *g, struct maestro_agent *a, int status,
                              const char *why);

/* host.c */
/* `reason`: graph-owned (graph_keep_reason) or NULL. */
void dl_put(struct maestro_graph *g, maestro_buf_t *b, const char *agent, const char *port,
            int status, uint64_t seq, const char *reason);
void dl_close(struct maestro_graph *g);
void host_output_init(struct maestro_output *o, struct maestro_graph *g, struct chan *c);
void host_output_free(struct maestro_output *o);
void host_input_free(struct maestro_input *in);
void host_input_cancel(struct maestro_input *in);
/* Ends every host output's stream (a graph destroyed before it ran). */
void host_output_cancel(struct maestro_output *o);
/* A producer made messages or end-of-stream visible to the consumer of `c`. */
void chan_notify_consumer(struct maestro_runtime *rt, struct chan *c);
/* A consumer made space in `c`: wakes its producer if it waits. */
void chan_notify_producer(struct maestro_runtime *rt, struct chan *c);

#endif
