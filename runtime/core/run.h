/* What the stateful runner (run.c) shares with the windowed runner
 * (window.c: stateless agents and agents with a kernel): counting, sending,
 * a firing's outcome and supervision (run.c), taking inputs (take.h), the
 * end of an agent's life (life.c). */
#ifndef MAESTRO_CORE_RUN_H
#define MAESTRO_CORE_RUN_H

#include <stdlib.h>

#include "base/culprit.h"
#include "base/error.h"
#include "base/runtime.h"
#include "base/stats_rec.h"
#include "core/fire.h"
#include "core/graph.h"
#include "core/take.h"
#include "mem/buf.h"
#include "sched/place.h"

struct run_stats {
  uint64_t fires, msgs_in, msgs_out, bytes_in, bytes_out, failures, retries, dead;
  uint64_t fallbacks, device_fires;
};

void run_stats_flush(struct maestro_agent *a, const struct run_stats *rs, uint64_t busy, int kind,
                     int index);
/* Moves the overflow of `a`'s output channels into their rings; 1 when
 * none is left waiting (else the consumer will notify it). `stopped`: the
 * overflow goes to the dead letters instead. */
int run_flush_pending(struct maestro_agent *a, int stopped, struct run_stats *rs);

/* 1 when `a` may fire again as far as its outputs go: no overflow waits
 * (what waited was moved into the rings now). */
static inline int run_outputs_free(struct maestro_agent *a, struct run_stats *rs) {
  if (!a->blocked) return 1;
  if (!run_flush_pending(a, 0, rs)) return 0;
  a->blocked = 0;
  return 1;
}

/* A stop seen by `a`'s runner: AG_RUN becomes AG_CLOSING. Returns whether
 * the graph is stopped. */
static inline int run_note_stop(struct maestro_agent *a) {
  int stopped = atomic_load_explicit(&a->g->stopped, memory_order_acquire);
  if (stopped && a->phase == AG_RUN) a->phase = AG_CLOSING;
  return stopped;
}

/* life.c: the end of a run, for both runners. Moves `a` along AG_CLOSING ->
 * AG_DRAIN -> AG_FINISHED as far as it can now (a stop first makes AG_RUN
 * AG_CLOSING): closing waits until `idle` (the runner has no firing of `a`
 * in flight) and its overflow is sent; draining takes what still arrives as
 * dead letters until every input has ended. Returns 1 when `a` finished in
 * this call. */
int run_wind_down_any(struct maestro_agent *a, int idle, struct run_stats *rs);
/* run_wind_down_any, inline for the end of most runs: an agent still in
 * AG_RUN in a graph not stopped has nothing to wind down. */
static inline int run_wind_down(struct maestro_agent *a, int idle, struct run_stats *rs) {
  if (a->phase == AG_RUN && !atomic_load_explicit(&a->g->stopped, memory_order_acquire)) return 0;
  return run_wind_down_any(a, idle, rs);
}
/* life.c: `a` finished: publishes its final state and tells the graph. */
void run_agent_finished(struct maestro_agent *a);
/* Publishes the agent's state at the end of a run (finished: tells the
 * graph) and returns what the scheduler does with its task. */
static inline int run_task_end(struct maestro_agent *a, int finished, int blocked, int yield) {
  if (__builtin_expect(finished, 0)) {
    run_agent_finished(a);
    return TASK_WAIT;
  }
  atomic_store_explicit(&a->st.pstate, blocked ? PROF_AGENT_BLOCKED : PROF_AGENT_WAITING,
                        memory_order_relaxed);
  return yield ? TASK_YIELD : TASK_WAIT;
}
/* run_commit for any firing (fan-out, several sends, a stopped graph). */
int run_commit_all(struct maestro_agent *a, const struct staged *out, int nout,
                   struct run_stats *rs);
/* chan_send found no memory for `b`: a dead letter. */
void run_send_failed(struct maestro_agent *a, struct chan *c, maestro_buf_t *b,
                     struct run_stats *rs);

/* Hands a successful firing's sends to the channels. Returns 1 when some
 * channel was full (the agent must wait before firing again). Inline for
 * the common firing (one message to a port feeding one channel): the
 * per-message path of a pipeline stage has no call to make here. */
static inline int run_commit(struct maestro_agent *a, const struct staged *out, int nout,
                             struct run_stats *rs) {
  if (nout == 0) return 0; /* a sink */
  if (nout == 1 && !atomic_load_explicit(&a->g->stopped, memory_order_relaxed)) {
    struct outport *op = &a->out[out[0].port];
    if (op->nch == 1) {
      maestro_buf_t *b = out[0].b;
      struct chan *c = op->ch[0];
      rs->msgs_out++;
      rs->bytes_out += b->size;
      if (__builtin_expect(chan_send(c, b) != 0, 0)) {
        run_send_failed(a, c, b, rs);
        return 0;
      }
      return c->pend_n != 0;
    }
  }
  return run_commit_all(a, out, nout, rs);
}
void run_discard_staged(struct maestro_fire *f);
void run_inputs_dead(struct maestro_agent *a, maestro_buf_t **in, const uint64_t *seq, int status,
                     const char *reason, struct run_stats *rs);
/* The supervisor's decision on a failed firing; `why` = its message (may be NULL). */
int run_failed(struct maestro_agent *a, maestro_buf_t **in, const uint64_t *seq, int st,
               const char *why, struct run_stats *rs);
/* A successful firing (st >= 0), for both runners: its sends `out` (for an
 * agent with a->stamp, stamped first: run_stamp) go to
 * the channels (a full one blocks the agent) and its inputs `in` are
 * released; MAESTRO_DONE closes the agent (emission stops once it is
 * AG_DRAIN: no later phase to undo). A failed one goes to run_failed. */
/* A firing's sends `out` derive from its inputs `in`: they take the origin
 * of input 0 (for a join, all its inputs share it: run_align_heads), or,
 * from a source, a new one made of its firing number `seq`. Only agents
 * upstream of an aligned join do it (a->stamp, graph_mark_stamps). */
void run_stamp(struct maestro_agent *a, maestro_buf_t *const *in, uint64_t seq,
               const struct staged *out, int nout);

static inline void run_deliver(struct maestro_agent *a, maestro_buf_t **in, int st,
                               const struct staged *out, int nout, struct run_stats *rs) {
  if (run_commit(a, out, nout, rs)) a->blocked = 1;
  for (int p = 0; p < a->n_in; p++) {
    maestro_buf_release(in[p]);
    in[p] = NULL;
  }
  if (__builtin_expect(st == MAESTRO_DONE, 0)) a->phase = AG_CLOSING;
}
/* graph.c: MAESTRO_EINVAL (as a kernel's launch refuses it) with a message
 * naming a's input port `p`, the size of its message in[p] and the element size. */
int run_misfit_error(struct maestro_agent *a, maestro_buf_t *const *in, int p);
/* graph.c: input port `p`'s message in in[] is not a whole number of its
 * elements (run_misfit): a failed firing (MAESTRO_EINVAL, the reason naming
 * agent, port, message size and element size) for the supervisor, without
 * calling the implementation. Returns what run_failed returns. */
int run_refuse_misfit(struct maestro_agent *a, maestro_buf_t **in, const uint64_t *seq, int p,
                      struct run_stats *rs);
/* A firing failed with `st`: its supervisor's retries; the final status. */
int run_fire_retry(struct maestro_agent *a, struct maestro_fire *f, struct run_stats *rs, int st);

/* A CPU function returned `st` > MAESTRO_DONE, which no firing may return:
 * a failure (MAESTRO_EAGENT) with a message naming the agent and the value. */
int run_bad_return(struct maestro_agent *a, int st);

/* An injected firing failure: MAESTRO_EAGENT with a message naming `a`. */
int run_fault_fire(struct maestro_agent *a);

/* Calls the CPU implementation once; the caller has marked this thread's
 * firing (core_firing: run.c marks a whole batch of firings of one agent
 * at once). Returns MAESTRO_OK, MAESTRO_DONE or a negative status. */
static inline int run_call_cpu_marked(struct maestro_agent *a, struct maestro_fire *f) {
  const char *outer_name = culprit_set(a->name);
  /* An injected failure (base/fault.h) replaces the firing before it runs:
   * the function's own bookkeeping stays exact, as for a firing that failed
   * at once. */
  int st = fault_hit(&a->g->rt->fault, FAULT_FIRE) ? run_fault_fire(a) : a->cpu(f);
  culprit_set(outer_name);
  if (__builtin_expect(st > MAESTRO_DONE, 0)) st = run_bad_return(a, st);
  return st;
}

/* Calls the CPU implementation once, marked as this thread's firing
 * (core_firing). Returns MAESTRO_OK, MAESTRO_DONE or a negative status. */
static inline int run_call_cpu(struct maestro_agent *a, struct maestro_fire *f) {
  struct maestro_agent *outer = core_firing;
  core_firing = a;
  int st = run_call_cpu_marked(a, f);
  core_firing = outer;
  return st;
}

/* Calls the supervisor's restart (set) before a retry, marked like a firing. */
static inline int run_call_restart(struct maestro_agent *a) {
  struct maestro_agent *outer = core_firing;
  core_firing = a;
  int st = a->sup.restart(a->state);
  core_firing = outer;
  return st;
}

/* Counts a firing's inputs once it ran (whatever its outcome). */
static inline void run_count_in(struct maestro_agent *a, maestro_buf_t *const *in,
                                struct run_stats *rs) {
  rs->msgs_in += (uint64_t)a->n_in;
  for (int p = 0; p < a->n_in; p++)
    rs->bytes_in += in[p]->size;
}

/* Calls the CPU implementation with its supervisor's retries. Returns its
 * final status; after a failure nothing it sent is kept. */
static inline int run_fire_exec(struct maestro_agent *a, struct maestro_fire *f,
                                struct run_stats *rs) {
  rs->fires++;
  err_clear(); /* what it leaves there is its own message (nothing stale) */
  int st = run_call_cpu(a, f);
  if (__builtin_expect(st < 0, 0)) st = run_fire_retry(a, f, rs, st);
  run_count_in(a, f->in, rs);
  return st;
}

/* Sets `f` up for a firing of `a` on inputs `in` (NULL: on_end, which has
 * none). Inline: the stateful runner sets it up once per batch and then
 * only renews seq and the sends (run_fire_next). */
static inline void run_fire_init(struct maestro_fire *f, struct maestro_agent *a,
                                 maestro_buf_t **in, uint64_t seq, int kind, int index) {
  f->a = a;
  f->in = in;
  f->n_in = in ? a->n_in : 0;
  f->n_out = a->n_out;
  f->seq = seq;
  f->place_kind = kind;
  f->place_index = index;
  f->out = f->inl;
  f->nout = 0;
  f->cap = FIRE_INLINE_OUT;
}

/* Ends a firing of `f` (its sends delivered or discarded): gives back what
 * maestro_fire_out grew. */
static inline void run_fire_done(struct maestro_fire *f) {
  if (__builtin_expect(f->out != f->inl, 0)) {
    free(f->out);
    f->out = f->inl;
    f->cap = FIRE_INLINE_OUT;
  }
  f->nout = 0;
}

uint64_t run_flow_out(struct maestro_agent *a, const struct maestro_fire *f);
/* The end of a run: publishes the channels' rings (what was sent, what was
 * taken), notifies the consumers of what it sent and the producers waiting
 * on what it took. run_end_of_run_on also records CPU place `cpu` as where
 * each such channel's end last ran (run.c publishes channels that cross
 * cores within a run too); run_end_of_run records nothing. */
void run_end_of_run(struct maestro_agent *a);
void run_end_of_run_on(struct maestro_agent *a, int cpu);

/* offload.c: place_agent_desc.fire_cpu (sched/place.h). */
int run_fire_offload(void *agent, maestro_buf_t *const *in, uint64_t seq, int dev,
                     maestro_buf_t **out, struct place_msg **more, int *n_more);

/* run.c: fires while inputs and output space allow, at most `max` times.
 * Returns 1 when it stopped only because `max` was reached. */
int run_fire_batch(struct maestro_agent *a, int cpu, struct run_stats *rs, int max);

/* period.c: the run of an agent with a period (a->period_ns), in place of
 * run_fire_batch (phase AG_RUN): a source fires when its deadline has come,
 * an agent with inputs fires on its messages or, at its deadline without
 * any, once without input (a timeout firing). Returns 1 to yield. */
int run_periodic(struct maestro_agent *a, int cpu, struct run_stats *rs);
/* period.c: after such a run (and run_wind_down): arms the timer for the
 * next deadline, or cancels it once the agent fires no more. */
void run_period_after(struct maestro_agent *a, int finished);

/* window.c */
int win_setup(struct maestro_agent *a);
void win_free(struct maestro_agent *a);
int win_task_run(struct maestro_agent *a, struct sched_task *t, int place);
/* How many times its lanes ran (every lane together), for tests: a lane
 * that runs without firing anything is work taken from the places that do. */
uint64_t win_lane_runs(struct maestro_agent *a);
/* serve.c: a lane firing a MAESTRO_RANK_ANY agent for another rank. */
int serve_task_run(struct maestro_agent *a, struct sched_task *t, int place);
/* The performance model of a's implementation on place (kind, index): the
 * agent's name as key, the place's architecture. NULL for a bad place or
 * out of memory. */
struct perf_hist *win_model(struct maestro_agent *a, maestro_place_kind_t kind, int index);

#endif
