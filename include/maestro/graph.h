/**
 * @file maestro/graph.h
 * Graphs: agents connected by channels, validated and placed as a whole,
 * then run. Host programs feed a graph through inputs and read it through
 * outputs.
 */
#ifndef MAESTRO_GRAPH_H
#define MAESTRO_GRAPH_H

#include <stdint.h>
#include <stdio.h>

#include "agent.h"
#include "buffer.h"
#include "runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque graph handle. */
typedef struct maestro_graph maestro_graph_t;
/** A host-side writer into an agent's input port. */
typedef struct maestro_input maestro_input_t;
/** A host-side reader of an agent's output port (or of the dead letters). */
typedef struct maestro_output maestro_output_t;

/** Creates an empty graph named `name` (copied) on `rt`. */
int maestro_graph_create(maestro_runtime_t *rt, const char *name, maestro_graph_t **g);

/**
 * Destroys `g`. A running graph is cancelled first: its workers stop firing
 * it, buffers still queued are released, and no thread is left waiting:
 * threads in maestro_graph_wait return MAESTRO_ESTATE ("destroyed while
 * waiting") unless the graph had already finished, threads in push or pop
 * MAESTRO_ECLOSED; the graph is freed once they have all left their calls.
 * From inside a firing (a CPU function), destroying the firing's own graph
 * or any started graph is refused (it would wait for workers, this one
 * among them): the graph is left as it is and maestro_last_error() says so.
 * NULL is ignored.
 */
void maestro_graph_destroy(maestro_graph_t *g);

/** The graph's name. */
const char *maestro_graph_name(const maestro_graph_t *g);

/**
 * Adds an agent described by `desc`, copied whole: its name, port arrays and
 * port names, and the kernel with its source, name, options, .args and
 * .out_count. Nothing they point to needs to outlive the call (one
 * maestro_kernel_t variable may describe several agents in turn). `.state`
 * and the kernel's `.check_arg` are handed to the agent's code as they are:
 * what they point to is the caller's, for the graph's lifetime.
 * @return MAESTRO_OK; MAESTRO_EINVAL (no name, no implementation, bad port
 *         array, a kernel's .args NULL or .n_args negative, a kernel on a
 *         runtime without devices with MAESTRO_ON_DEVICE);
 *         MAESTRO_EGRAPH (duplicate agent or port name); MAESTRO_ENODEV (an
 *         affinity index with no such place); MAESTRO_ESTATE after start.
 */
int maestro_agent_add(maestro_graph_t *g, const maestro_agent_desc_t *desc, maestro_agent_t **a);

/** The agent named `name`, or NULL. */
maestro_agent_t *maestro_graph_agent(const maestro_graph_t *g, const char *name);

/**
 * Connects output port `out_port` of `from` to input port `in_port` of `to`
 * with a channel of `capacity` messages (0 = the default, 64).
 * @return MAESTRO_OK; MAESTRO_EGRAPH (unknown port); MAESTRO_ETYPE (types
 *         differ); MAESTRO_EINVAL; MAESTRO_ESTATE after start.
 */
int maestro_connect(maestro_graph_t *g, maestro_agent_t *from, const char *out_port,
                    maestro_agent_t *to, const char *in_port, int capacity);

/** Like maestro_connect, with a channel capacity and ports given by index. */
int maestro_connect_ports(maestro_graph_t *g, maestro_agent_t *from, int out_port,
                          maestro_agent_t *to, int in_port, int capacity);

/**
 * A host input feeding input port `port` of `a` (capacity: the default).
 * Each input port may have at most one host input besides its channels.
 */
int maestro_graph_input(maestro_graph_t *g, maestro_agent_t *a, const char *port,
                        maestro_input_t **in);

/** A host output reading output port `port` of `a` (a fan-out branch of its own). */
int maestro_graph_output(maestro_graph_t *g, maestro_agent_t *a, const char *port,
                         maestro_output_t **out);

/**
 * Validates the whole graph (every input fed, types equal, kernels built for
 * every device they may run on), places it and starts firing. A graph in
 * which some agent can never finish is refused: a cycle no message can enter
 * from a source or a host input (and whose agents wait for end-of-stream
 * from each other), see docs/engine.md, "Ends, cycles and calls from a firing".
 * @return MAESTRO_OK; MAESTRO_EGRAPH naming the agent and port at fault, or
 *         the agents of such a cycle; MAESTRO_EBUILD with the build log;
 *         MAESTRO_ESTATE if already started.
 */
int maestro_graph_start(maestro_graph_t *g);

/**
 * Waits until every agent has finished (or the graph stopped on a failure).
 * Refused from inside a firing, for any graph: the firing's own graph cannot
 * finish while it runs, and another graph may need the firing's worker.
 * @return MAESTRO_OK, or the first failure: MAESTRO_EAGENT with the agent's
 *         name and status in maestro_last_error(); MAESTRO_ESTATE when the
 *         graph has not started, was destroyed while waiting (before it
 *         finished), or the caller is a firing ("maestro_graph_wait called
 *         from inside a firing of agent 'x' ...").
 */
int maestro_graph_wait(maestro_graph_t *g);

/**
 * maestro_graph_wait with a deadline: waits at most `timeout_ms` (-1 for
 * ever, 0 only looks). The graph is left as it is on a timeout; call again,
 * or maestro_graph_cancel it.
 * @return what maestro_graph_wait returns, or MAESTRO_ETIMEDOUT when the
 *         graph has not finished in time; MAESTRO_EINVAL for timeout_ms < -1.
 */
int maestro_graph_wait_for(maestro_graph_t *g, int timeout_ms);

/**
 * Cancels a running graph: its agents fire no more (a firing in progress
 * ends first), host inputs refuse further pushes, and every message not yet
 * taken by an agent, or sent by one and not delivered, goes to the dead
 * letters with status MAESTRO_ECANCELED. Messages already in a graph output
 * stay there to be popped. Does not wait: maestro_graph_wait then returns
 * MAESTRO_ECANCELED once the agents have wound down. A graph that already
 * finished, or that a failure stopped, keeps its outcome (the call does
 * nothing). Idempotent; may be called from any thread, a firing included.
 * @return MAESTRO_OK; MAESTRO_ESTATE if the graph has not started;
 *         MAESTRO_EINVAL.
 */
int maestro_graph_cancel(maestro_graph_t *g);

/** maestro_graph_start then maestro_graph_wait. From inside a firing:
 *  MAESTRO_ESTATE, and the graph is not started. */
int maestro_graph_run(maestro_graph_t *g);

/**
 * Sends `b` into the graph, handing the caller's reference over (also on
 * failure: the buffer then goes to the dead letters or is released). Blocks
 * while the channel is full, except inside a firing, which may not wait
 * without a timeout: there a full channel gives MAESTRO_ESTATE and `b` goes
 * to the dead letters (status MAESTRO_ESTATE). @return MAESTRO_OK,
 * MAESTRO_ECLOSED (input closed or graph stopped), MAESTRO_ESTATE (graph not
 * started, or full inside a firing).
 */
int maestro_input_push(maestro_input_t *in, maestro_buf_t *b);

/** Like maestro_input_push with a timeout in ms (-1 for ever, 0 polls); on
 *  MAESTRO_ETIMEDOUT the caller keeps its reference. */
int maestro_input_push_timed(maestro_input_t *in, maestro_buf_t *b, int timeout_ms);

/** Ends the stream of this input. Idempotent. */
int maestro_input_close(maestro_input_t *in);

/**
 * Takes the next message, waiting up to `timeout_ms` (-1 for ever, 0 polls).
 * Inside a firing a timeout of -1 is refused (MAESTRO_ESTATE): the agents
 * that would send the message may need the firing's worker.
 * @return MAESTRO_OK (the caller now holds `*b`), MAESTRO_ECLOSED once the
 *         stream ended and was drained, MAESTRO_ETIMEDOUT, MAESTRO_ESTATE.
 */
int maestro_output_pop(maestro_output_t *out, maestro_buf_t **b, int timeout_ms);

/** Why a message became a dead letter. */
typedef struct maestro_letter {
  const char *agent; /**< the agent that failed or never took it (graph-owned string) */
  const char *port;  /**< its input port */
  int status;        /**< the failing status, or MAESTRO_ECLOSED for "not taken" */
  uint64_t seq;      /**< the message's sequence number on that port */
  /** Why, for the message of a failed firing (SKIP, or the one that stopped
   *  the graph): the firing's own message, e.g. "agent 'blur': kernel
   *  'maestro_conv3x3': input 0 'in' holds 15 elements, expected 16 ...", or
   *  "agent 'x' failed with status -1 (invalid argument)" when it set none.
   *  Graph-owned, valid until the graph is destroyed. NULL when there is no
   *  reason beyond `status` (MAESTRO_ECLOSED: a message nobody took). */
  const char *reason;
  /** The rank where it was made (0 without MPI). Across ranks every rank's
   *  letters go to rank 0's dead-letter output (docs/mpi.md). */
  int rank;
} maestro_letter_t;

/** Like maestro_output_pop, and says where a dead letter came from (`why` may be NULL). */
int maestro_output_pop_letter(maestro_output_t *out, maestro_buf_t **b, maestro_letter_t *why,
                              int timeout_ms);

/**
 * The graph's dead-letter output: messages skipped by MAESTRO_FAIL_SKIP, the
 * message of a failed firing, and every message no consumer took after a
 * stop. Ends (MAESTRO_ECLOSED) once the graph has finished and it is drained.
 */
int maestro_graph_dead_letters(maestro_graph_t *g, maestro_output_t **out);

/** Writes the graph as Graphviz DOT (agents, ports, channels, capacities), coloured by place. */
int maestro_graph_write_dot(const maestro_graph_t *g, FILE *f);

#ifdef __cplusplus
}
#endif
#endif
