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

struct maestro_runtime;
struct maestro_graph;
struct chan;

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
};

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
