/* Graphs across processes: what the engine asks of a distribution backend
 * (runtime/backend/mpi), held as data like the place and memory-node
 * operations, so that core names no backend. runtime/backends.c says which
 * one is built in (dist_builtin, NULL in a build without MPI).
 *
 * The model is SPMD: every rank declares the same graph; each agent is owned
 * by one rank (maestro_affinity_t.rank) and fires only there. At start the
 * backend checks that the ranks agree on the graph, then rewires each
 * channel whose ends lie on two ranks: on the producer's rank the channel's
 * consumer becomes the backend (chan.remote set, chan.cons NULL), on the
 * consumer's rank its producer (chan.remote set, chan.prod NULL). The engine's
 * per-message path is that of a channel to or from the host; only the
 * notification of such a channel looks at chan.remote. Channels between two
 * agents of one rank are left as they are. */
#ifndef MAESTRO_CORE_DIST_H
#define MAESTRO_CORE_DIST_H

#include "maestro.h"
#include <stdint.h>

struct maestro_runtime;
struct maestro_graph;
struct maestro_agent;
struct chan;
struct staged;
typedef struct maestro_buf maestro_buf_t;

/* MAESTRO_RANK_ANY agents (win_any_agent): rank 0 owns the agent (its
 * channels, host ends and output order); its window may send a firing's
 * inputs to another rank (any_submit), which fires the agent there on its
 * own places, a CPU place or a device for a hybrid agent, placed as its
 * window would place it (serve_push, win_serve_place), and sends the
 * outputs back (any_result); they complete the firing's slot on rank 0
 * (win_any_done), which emits it in input order. What the window weighs
 * for each rank (measured by the backend at start, kept in g->links): */
struct dist_link {
  double lat_ns;      /* one way, a small message */
  double ns_per_byte; /* 1 / bandwidth, a large message */
  int lanes;          /* CPU places of that rank (firings it runs at once) */
  int devs;           /* device places of that rank */
};

/* Firings of one MAESTRO_RANK_ANY agent in flight to one other rank, at
 * most (rank 0's credits): what a serving rank may hold of one agent. */
#define DIST_ANY_CREDITS 16

struct dist_ops {
  const char *name; /* "mpi" */
  /* Joins the ranks (initialising MPI if the program has not): sets
   * rt->rank, rt->nranks, rt->dist_state. An error names what failed. */
  int (*init)(struct maestro_runtime *rt);
  /* After every graph is gone: stops the backend (finalising MPI if init
   * initialised it). */
  void (*fini)(struct maestro_runtime *rt);
  /* maestro_graph_start, first; collective (every rank calls it for the same
   * graph). Checks that the ranks declared the same graph (an error names the
   * first difference, and every rank refuses) and sets g->dist. On error
   * g->dist stays NULL. */
  int (*graph_check)(struct maestro_graph *g);
  /* maestro_graph_start, after the local checks and before the agents are
   * set up to run: rewires the channels that cross ranks. Nothing moves yet. */
  int (*graph_start)(struct maestro_graph *g);
  /* maestro_graph_start, last, once the graph is started here: starts
   * moving the channels across ranks (a message that arrives wakes its
   * consumer, which must be ready to run). */
  void (*graph_run)(struct maestro_graph *g);
  /* The graph's local agents have all finished: waits until what crossed
   * ranks is delivered, then agrees with the other ranks on the graph's
   * outcome (g->failed, g->fail_status, g->fail_msg, g->cancelled are set to
   * the same on every rank). Collective; called once, holding no lock. */
  void (*graph_settle)(struct maestro_graph *g);
  /* The graph stopped here (a failure, a cancel): tell the other ranks. */
  void (*graph_stopped)(struct maestro_graph *g);
  /* maestro_graph_destroy, after its agents finished, or a start that failed
   * after graph_check: forgets the graph (channels rewired are put back) and
   * sets g->dist to NULL. */
  void (*graph_destroy)(struct maestro_graph *g);
  /* A channel rewired by graph_start has news: its local producer sent
   * messages or ended (on the producer's rank), or its local consumer made
   * room (on the consumer's rank). Any thread; cheap. */
  void (*notify)(struct maestro_runtime *rt, struct chan *c);
  /* A dead letter made on this rank (not rank 0), its reason and names
   * graph-owned: 1 when the backend took `b` to carry it to rank 0's
   * dead-letter output (dl_put_remote there), 0 to keep it here. Rank 0's
   * graph finishes once every rank's letters have arrived. Any thread. */
  int (*letter)(struct maestro_graph *g, maestro_buf_t *b, const maestro_letter_t *why);
  /* ---- MAESTRO_RANK_ANY (any.c of the backend) ---- */
  /* On rank 0: sends firing `seq` of agent `a` to `rank` (its n_in inputs
   * `in`, which it retains as long as it needs them). Any thread; the
   * window's lock may be held. */
  int (*any_submit)(struct maestro_graph *g, struct maestro_agent *a, int rank, uint64_t seq,
                    maestro_buf_t *const *in);
  /* On another rank: firing `seq` of `a`, sent by `rank`, ran (on a device
   * when `on_dev`) with `status` (its message `why` on failure) in
   * `busy_ns`, after waiting `wait_ns` here for a place: sends back its
   * `nout` sends `out` (whose references it takes). Never fails: without
   * memory for the outcome it still answers, with MAESTRO_ENOMEM and no
   * outputs, and the graph fails (rank 0 would wait for it otherwise).
   * Any thread. */
  void (*any_result)(struct maestro_graph *g, struct maestro_agent *a, int rank, uint64_t seq,
                     int status, const struct staged *out, int nout, const char *why,
                     uint64_t busy_ns, uint64_t wait_ns, int on_dev);
  /* On rank 0: agent `a` (win_any_agent) finished: no firing of it is in
   * flight any more, and none will be sent. */
  void (*any_over)(struct maestro_graph *g, struct maestro_agent *a);
};

/* window.c: whether `a` may fire on several ranks (MAESTRO_RANK_ANY, a CPU
 * implementation, maybe a device one too, inputs, a graph across ranks).
 * The same on every rank (maestro_agent_add refuses MAESTRO_RANK_ANY
 * without a CPU implementation). */
int win_any_agent(const struct maestro_agent *a);
/* window.c, on rank 0, for the backend: firing `seq` of `a` came back from
 * `rank` with `status` and its `nout` sends `out` (references taken), or
 * its message `why` on failure; it ran there in `busy_ns` after waiting
 * `wait_ns` there for a place. -1 when no such firing is in flight to
 * `rank` (the sends are released). `on_dev`: it ran on a device there
 * (counted in .remote_device_fires). */
int win_any_done(struct maestro_agent *a, uint64_t seq, int rank, int status,
                 const struct staged *out, int nout, const char *why, uint64_t busy_ns,
                 uint64_t wait_ns, int on_dev);
/* window.c, for maestro_agent_rank_fires: the firings of `a` that `rank`
 * (not this one) answered, on rank 0 for a win_any_agent; else 0. */
uint64_t win_rank_fires(const struct maestro_agent *a, int rank);
/* serve.c, on another rank: fires `a` on inputs `in` (n_in references
 * taken) for `rank`'s firing `seq` on this rank's places (its CPU places,
 * and its devices for an agent with a device implementation); the outcome
 * goes back by any_result. MAESTRO_OK or MAESTRO_ENOMEM (the firing was
 * not taken, its inputs released). */
int serve_push(struct maestro_agent *a, int rank, uint64_t seq, maestro_buf_t **in);
/* serve.c: sets up (at start) and frees the lanes that fire `a` for other
 * ranks (an agent another rank owns, win_any_agent). `prep_rc` and
 * `prep_why`: its device implementation could not be set up here (a
 * build error): once the graph runs, it fails naming agent and rank
 * (serve_started), on every rank. */
int serve_setup(struct maestro_agent *a, int prep_rc, const char *prep_why);
void serve_free(struct maestro_agent *a);
/* serve.c: the graph started here (after the backend's graph_run). */
void serve_started(struct maestro_graph *g);

/* window.c, for serve.c: a window that only places firings on this
 * rank's places (its performance models, its device queues); none of
 * its lanes run. */
struct window;
struct window *win_serve_new(struct maestro_agent *a);
void win_serve_free(struct maestro_agent *a, struct window *w);
/* Where a firing of inputs `in` runs here, as the window places one
 * (earliest expected end, sched/perf.h): -1 a CPU place, else a device,
 * counted in that place's queue until win_serve_ran; WIN_SERVE_WAIT when
 * no place should take it now (a place being measured, or the device
 * chosen full: a completion decides). */
#define WIN_SERVE_WAIT (-2)
int win_serve_place(struct maestro_agent *a, struct window *w, maestro_buf_t *const *in);
/* The firing placed at `where` ended: `ok`, in `ns` (its model learns). */
void win_serve_ran(struct window *w, int where, uint64_t bytes, uint64_t ns, int ok);

/* The built-in distribution backend (runtime/backends.c), NULL when none. */
extern const struct dist_ops *const dist_builtin;

/* graph.c, for the backend: a failure reported by another rank (`msg`
 * already names agent and rank); `cancelled`: it was a cancel. Stops the
 * graph here unless it already failed, was cancelled or finished: 1 when
 * it did. */
int graph_fail_remote(struct maestro_graph *g, int status, int cancelled, const char *msg);
/* host.c, for the backend: a dead letter into this rank's dead-letter
 * output as it is (`why` names its rank; its strings graph-owned). */
void dl_put_remote(struct maestro_graph *g, maestro_buf_t *b, const maestro_letter_t *why);

#endif
