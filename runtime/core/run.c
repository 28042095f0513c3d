/* Firing agents. A worker runs an agent (core_task_run) for a bounded batch:
 * it takes one message from each input port, calls the implementation,
 * hands the firing's sends to the output channels, and goes on while inputs
 * and output space allow. A send that finds its channel full waits in the
 * channel's overflow and the agent stops firing (it is suspended, the worker
 * moves on) until the consumer makes room and notifies it. Consumers are
 * notified once per run, not per message. Taking inputs (take.h) and the
 * end of an agent's life (life.c) are shared with window.c. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/error.h"
#include "base/fence.h"
#include "core/fire.h"
#include "core/graph.h"
#include "core/run.h"
#include "base/runtime.h"
#include "mem/buf.h"
#include "core/trace.h"
#include "base/stats_rec.h"

static inline void ctr_add(atomic_ullong *c, uint64_t v) {
  if (v) atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

void run_stats_flush(struct maestro_agent *a, const struct run_stats *rs, uint64_t busy, int kind,
                     int index) {
  struct agent_counters *s = &a->st;
  ctr_add(&s->fires, rs->fires);
  ctr_add(&s->msgs_in, rs->msgs_in);
  ctr_add(&s->msgs_out, rs->msgs_out);
  ctr_add(&s->bytes_in, rs->bytes_in);
  ctr_add(&s->bytes_out, rs->bytes_out);
  ctr_add(&s->busy_ns, busy);
  if (rs->failures | rs->retries | rs->dead | rs->fallbacks | rs->device_fires) { /* rare */
    ctr_add(&s->failures, rs->failures);
    ctr_add(&s->retries, rs->retries);
    ctr_add(&s->dead_letters, rs->dead);
    ctr_add(&s->fallbacks, rs->fallbacks);
    ctr_add(&s->device_fires, rs->device_fires);
  }
  if (kind == MAESTRO_PLACE_CPU) ctr_add(&s->cpu_fires, rs->fires);
  if (rs->fires && index >= 0) {
    atomic_store_explicit(&s->place_kind, kind, memory_order_relaxed);
    atomic_store_explicit(&s->place_index, index, memory_order_relaxed);
    atomic_store_explicit(kind == MAESTRO_PLACE_CPU ? &s->cpu_place : &s->dev_place, index,
                          memory_order_relaxed);
  }
}

/* The consumer-side name of channel `c` for a dead letter. */
static void letter_names(const struct chan *c, const char **agent, const char **port) {
  if (c->cons) {
    *agent = c->cons->name;
    *port = c->cons->in[c->cons_port].name;
  } else {
    *agent = c->prod ? c->prod->name : "host";
    *port = c->prod ? c->prod->out[c->prod_port].name : "?";
  }
}

/* Sends what was staged for channel `c` to the dead letters instead. */
static void chan_send_dead(struct maestro_graph *g, struct chan *c, maestro_buf_t *b, int status,
                           struct run_stats *rs) {
  const char *agent, *port;
  letter_names(c, &agent, &port);
  dl_put(g, b, agent, port, status, c->pushed++, NULL);
  rs->dead++;
}

/* ---- outputs ---- */

/* Moves overflow into rings; 1 when nothing is left waiting. With the graph
 * stopped, overflow goes to the dead letters. */
int run_flush_pending(struct maestro_agent *a, int stopped, struct run_stats *rs) {
  int all = 1;
  for (int i = 0; i < a->n_out; i++) {
    struct outport *op = &a->out[i];
    for (int k = 0; k < op->nch; k++) {
      struct chan *c = op->ch[k];
      if (!c->pend_n) continue;
      if (stopped) {
        maestro_buf_t *b;
        const char *agent, *port;
        letter_names(c, &agent, &port);
        uint64_t seq = c->pushed - c->pend_n;
        while ((b = chan_pend_take(c))) {
          dl_put(a->g, b, agent, port, MAESTRO_ECLOSED, seq++, NULL);
          rs->dead++;
        }
        continue;
      }
      if (chan_flush(c)) continue;
      /* Ask the consumer to notify us, then look again (it may just have made room). */
      atomic_store(&c->prod_waiting, 1);
      full_fence();
      if (chan_flush(c)) continue;
      all = 0;
    }
  }
  return all;
}

void run_send_failed(struct maestro_agent *a, struct chan *c, maestro_buf_t *b,
                     struct run_stats *rs) {
  chan_send_dead(a->g, c, b, MAESTRO_ENOMEM, rs);
}

/* Hands a successful firing's sends to the channels (run.h: run_commit). */
int run_commit_all(struct maestro_agent *a, const struct staged *out, int nout,
                   struct run_stats *rs) {
  int stopped = atomic_load_explicit(&a->g->stopped, memory_order_relaxed);
  int blocked = 0;
  for (int i = 0; i < nout; i++) {
    maestro_buf_t *b = out[i].b;
    struct outport *op = &a->out[out[i].port];
    rs->msgs_out++;
    rs->bytes_out += b->size;
    if (op->nch == 0) {
      maestro_buf_release(b);
      continue;
    }
    if (op->nch > 1)
      atomic_fetch_add_explicit(&b->refs, (unsigned)op->nch - 1, memory_order_relaxed);
    for (int k = 0; k < op->nch; k++) {
      struct chan *c = op->ch[k];
      if (stopped) {
        chan_send_dead(a->g, c, b, MAESTRO_ECLOSED, rs);
      } else if (chan_send(c, b) != 0) {
        chan_send_dead(a->g, c, b, MAESTRO_ENOMEM, rs);
      } else if (c->pend_n) {
        blocked = 1;
      }
    }
  }
  return blocked;
}

void run_stamp(struct maestro_agent *a, maestro_buf_t *const *in, uint64_t seq,
               const struct staged *out, int nout) {
  if (a->n_in) {
    /* Written only when it differs: a buffer passed on unchanged is shared
     * with the other branches of a fan-out. */
    uint64_t o = atomic_load_explicit(&in[0]->origin, memory_order_relaxed);
    for (int i = 0; i < nout; i++)
      if (atomic_load_explicit(&out[i].b->origin, memory_order_relaxed) != o)
        atomic_store_explicit(&out[i].b->origin, o, memory_order_relaxed);
    return;
  }
  uint64_t dom = (uint64_t)((unsigned)(a->id + 1) & (ORIGIN_HOST - 1)) << ORIGIN_SHIFT;
  for (int i = 0; i < nout; i++) {
    /* The k-th message on a port of this firing: the partner of the k-th on
     * its other ports (a source that feeds the branches from two ports). */
    uint64_t k = 0;
    for (int j = 0; j < i; j++)
      k += out[j].port == out[i].port;
    if (k >= (UINT64_C(1) << ORIGIN_PER_FIRING)) k = (UINT64_C(1) << ORIGIN_PER_FIRING) - 1;
    uint64_t o = dom | (((seq << ORIGIN_PER_FIRING) | k) & ORIGIN_SEQ_MASK);
    atomic_store_explicit(&out[i].b->origin, o, memory_order_relaxed);
  }
}

void run_discard_staged(struct maestro_fire *f) {
  for (int i = 0; i < f->nout; i++)
    maestro_buf_release(f->out[i].b);
  f->nout = 0;
}

/* Sends the inputs of a failed firing to the dead letters. */
void run_inputs_dead(struct maestro_agent *a, maestro_buf_t **in, const uint64_t *seq, int status,
                     const char *reason, struct run_stats *rs) {
  for (int p = 0; p < a->n_in; p++) {
    dl_put(a->g, in[p], a->name, a->in[p].name, status, seq ? seq[p] : a->in[p].taken - 1, reason);
    in[p] = NULL;
    rs->dead++;
  }
}

int run_bad_return(struct maestro_agent *a, int st) {
  return err_set(MAESTRO_EAGENT,
                 "agent '%s': its CPU function returned %d, which is not a status a firing may "
                 "return (MAESTRO_OK, MAESTRO_DONE or a negative MAESTRO_E* code)",
                 a->name, st);
}

int run_fault_fire(struct maestro_agent *a) {
  return err_set(MAESTRO_EAGENT, "agent '%s': injected firing failure (MAESTRO_FAULTS)", a->name);
}

/* Restart intensity: records a restart of `a` now; 0 when it is one too
 * many within the window (the supervisor escalates to a stop). */
static int restart_allowed(struct maestro_agent *a) {
  int max = a->sup.max_restarts;
  if (max <= 0) return 1;
  uint64_t now = rt_now_ns(), win = (uint64_t)a->sup.within_ms * 1000000u;
  int ok = 1;
  pthread_mutex_lock(&a->sup_mu);
  if (a->restart_n == max) {
    /* The ring is full: its oldest entry (at head) is the max-th restart back. */
    if (now - a->restart_ns[a->restart_head] < win) ok = 0;
  }
  if (ok) {
    a->restart_ns[a->restart_head] = now;
    a->restart_head = (a->restart_head + 1) % max;
    if (a->restart_n < max) a->restart_n++;
  }
  pthread_mutex_unlock(&a->sup_mu);
  return ok;
}

/* Backoff before retry number `tries` (1, 2, ...): backoff_ms doubled per
 * retry, at most backoff_max_ms and MAESTRO_BACKOFF_CAP_MS; slept in short
 * slices so a stop of the graph ends it. */
static void retry_backoff(struct maestro_agent *a, int tries) {
  if (a->sup.backoff_ms <= 0) return;
  long ms = a->sup.backoff_ms;
  for (int i = 1; i < tries && ms < MAESTRO_BACKOFF_CAP_MS; i++)
    ms *= 2;
  if (a->sup.backoff_max_ms > 0 && ms > a->sup.backoff_max_ms) ms = a->sup.backoff_max_ms;
  if (ms > MAESTRO_BACKOFF_CAP_MS) ms = MAESTRO_BACKOFF_CAP_MS;
  while (ms > 0 && !atomic_load_explicit(&a->g->stopped, memory_order_relaxed)) {
    long slice = ms < 5 ? ms : 5;
    struct timespec ts = {0, slice * 1000000L};
    nanosleep(&ts, NULL);
    ms -= slice;
  }
}

/* A firing failed with `st`: its supervisor's retries (with backoff, within
 * the restart intensity: past it the failure stops the graph, whatever
 * on_fail says, see run_failed). */
int run_fire_retry(struct maestro_agent *a, struct maestro_fire *f, struct run_stats *rs, int st) {
  int tries = 0;
  for (;;) {
    if (tries > 0) {
      rs->fires++;
      err_clear();
      st = run_call_cpu(a, f);
      if (st >= 0) break;
    }
    rs->failures++;
    run_discard_staged(f);
    if (a->sup.on_fail == MAESTRO_FAIL_RETRY && tries < a->sup.max_retries &&
        !atomic_load_explicit(&a->g->stopped, memory_order_relaxed)) {
      if (!restart_allowed(a)) {
        st = err_set(MAESTRO_EAGENT,
                     "agent '%s': more than %d restarts within %d ms (last failure: status %d, "
                     "%s); its supervisor escalates to a stop",
                     a->name, a->sup.max_restarts, a->sup.within_ms, st, maestro_strerror(st));
        break;
      }
      tries++;
      rs->retries++;
      retry_backoff(a, tries);
      if (a->sup.restart && run_call_restart(a) < 0) break;
      continue;
    }
    break;
  }
  return st;
}

/* The flow id of the message that output `port` sends next on its first
 * channel. (Static inline for the traced firing path: a global function in
 * a shared library is not inlined.) */
static inline uint64_t flow_out_of(struct maestro_agent *a, const struct maestro_fire *f) {
  if (!f->nout || !a->out[f->out[0].port].nch) return 0;
  struct chan *c = a->out[f->out[0].port].ch[0];
  return (c->id << 32) | ((c->pushed + 1) & 0xffffffffu);
}

uint64_t run_flow_out(struct maestro_agent *a, const struct maestro_fire *f) {
  return flow_out_of(a, f);
}

/* Applies the supervisor's decision to a failed firing whose inputs are
 * `in`; `why` is its message, read on the thread where it failed. */
int run_failed(struct maestro_agent *a, maestro_buf_t **in, const uint64_t *seq, int st,
               const char *why, struct run_stats *rs) {
  run_inputs_dead(a, in, seq, st, graph_keep_reason(a->g, a, st, why), rs);
  if (a->sup.on_fail == MAESTRO_FAIL_SKIP) return MAESTRO_OK;
  a->failed = 1;
  graph_fail(a->g, a, st, why);
  return st;
}

/* One firing of a stateful agent with its supervision, on the input set in
 * a->inbuf, with `f` set up for the batch (run_fire_init). Returns
 * MAESTRO_OK, MAESTRO_DONE (the agent is now AG_CLOSING), or the failing
 * status once the supervisor stopped the graph. `plain`: a->plain, a
 * constant in each copy of the batch loop (fire_batch_loop).
 * `trace_t`: when tracing a batch whose firings are timed one by one
 * (a->trace_timed), the end of the previous firing (this one's start: one
 * clock read per firing); else 0 and the firing is recorded untimed, its
 * time shared out of the batch's span (trace_batch_begin/end). */
static inline __attribute__((always_inline)) int fire_one(struct maestro_agent *a,
                                                          struct maestro_fire *f, int cpu,
                                                          struct run_stats *rs, uint64_t *trace_t,
                                                          const int plain) {
  f->seq = a->seq++;
  rs->fires++;
  err_clear();                        /* what it leaves there is its own message (nothing stale) */
  int st = run_call_cpu_marked(a, f); /* core_firing: marked by fire_batch */
  if (__builtin_expect(st < 0, 0)) st = run_fire_retry(a, f, rs, st);
  if (plain) {
    if (a->n_in) { /* a plain agent has at most one input port */
      rs->msgs_in++;
      rs->bytes_in += a->inbuf[0]->size;
    }
  } else {
    run_count_in(a, a->inbuf, rs);
  }
  if (!plain && a->g->tracing) {
    struct maestro_runtime *rt = a->g->rt;
    uint64_t bytes = 0;
    for (int p = 0; p < a->n_in; p++)
      bytes += a->inbuf[p]->size;
    uint64_t t0 = *trace_t, t1 = t0 ? trace_clock() : 0;
    if (t0) *trace_t = t1;
    /* A regular firing (one input channel, one message sent on output 0,
     * or none from a sink) has the seq and message ids that follow the
     * previous one's: it only extends the run, unless there is none. */
    int regular =
        !t0 && a->trace_regular && (a->n_out ? f->nout == 1 && f->out[0].port == 0 : !f->nout);
    if (!regular || !trace_fire_next(bytes))
      trace_fire(rt, cpu, a->trace_name, f->seq, bytes, t0, t1, a->flow_in, flow_out_of(a, f));
  }
  if (__builtin_expect(st < 0, 0)) {
    run_fire_done(f);
    /* This thread ran the firing: its message is still here. */
    return run_failed(a, a->inbuf, NULL, st, maestro_last_error(), rs);
  }
  if (!plain && __builtin_expect(a->stamp, 0)) run_stamp(a, a->inbuf, f->seq, f->out, f->nout);
  if (plain) {
    if (run_commit(a, f->out, f->nout, rs)) a->blocked = 1;
    if (a->n_in) {
      maestro_buf_release(a->inbuf[0]);
      a->inbuf[0] = NULL;
    }
    if (__builtin_expect(st == MAESTRO_DONE, 0)) a->phase = AG_CLOSING;
  } else {
    run_deliver(a, a->inbuf, st, f->out, f->nout, rs);
  }
  run_fire_done(f);
  return st == MAESTRO_DONE ? MAESTRO_DONE : MAESTRO_OK; /* any other st >= 0 is a success */
}

/* 1 when the other end of a channel, recorded in `at` (chan_note_cpu), last ran on a CPU place
 * other than `cpu`. */
static inline int crosses(atomic_int *at, int cpu) {
  int other = atomic_load_explicit(at, memory_order_relaxed);
  return other >= 0 && other != cpu;
}

/* After the heads of every channel `a` took from (cons_dirty) were
 * published: one fence, then the producers waiting for room are woken.
 * The fence must come after the LAST head published, not the first: a
 * producer stores prod_waiting, fences and looks at the head again, so a
 * head stored after this side's fence may still be in its store buffer
 * when prod_waiting is read, and each side would miss the other (a
 * producer blocked for good; engine_soak, a sink fed by three channels).
 * The channels to look at are those whose head was just published, marked
 * cons_dirty == 2 (run_mid_publish publishes only some of them). */
static void run_wake_producers(struct maestro_agent *a) {
  struct maestro_runtime *rt = a->g->rt;
  full_fence();
  for (int i = 0; i < a->n_in; i++)
    for (int k = 0; k < a->in[i].nch; k++) {
      struct chan *c = a->in[i].ch[k];
      if (c->cons_dirty != 2) continue;
      c->cons_dirty = 0;
      if (atomic_load_explicit(&c->prod_waiting, memory_order_relaxed) &&
          atomic_exchange(&c->prod_waiting, 0))
        chan_notify_producer(rt, c);
    }
}

/* Firings between two looks at the channels that cross cores (run_mid_publish). */
#define RUN_CHUNK 16

/* Within a run, every RUN_CHUNK firings: the channels of `a` whose other end
 * last ran on another CPU place (chan_note_cpu; unknown: not crossing) publish what this run sent
 * (and notify their consumer) and what it took (and notify a producer
 * waiting for room), so that both cores work at once instead of in turn
 * (with the default capacity a run fills its ring before its consumer would
 * hear of it). Channels within this worker wait for the end of the run:
 * their other end cannot run before it. Out of line: once per chunk. */
static __attribute__((noinline)) void run_mid_publish(struct maestro_agent *a, int cpu) {
  struct maestro_runtime *rt = a->g->rt;
  for (int i = 0; i < a->n_out; i++)
    for (int k = 0; k < a->out[i].nch; k++) {
      struct chan *c = a->out[i].ch[k];
      if (!c->dirty || !crosses(&c->cons_cpu, cpu)) continue;
      c->dirty = 0;
      chan_publish(c);
      chan_notify_consumer(rt, c);
    }
  int taken = 0;
  for (int i = 0; i < a->n_in; i++)
    for (int k = 0; k < a->in[i].nch; k++) {
      struct chan *c = a->in[i].ch[k];
      if (!c->cons_dirty || !crosses(&c->prod_cpu, cpu)) continue;
      chan_publish_taken(c); /* before the fence: the producer's Dekker pair */
      c->cons_dirty = 2;
      taken = 1;
    }
  if (taken) run_wake_producers(a);
}

/* Fires while inputs and output space allow, at most `max` times.
 * Returns 1 when it stopped only because `max` was reached. `plain`
 * (a->plain, see graph.h): the agent has no record-sized input, stamps no
 * origins, is not traced and takes from at most one channel, so this copy
 * of the loop tests none of these per firing. */
static inline __attribute__((always_inline)) int
fire_batch_loop(struct maestro_agent *a, struct maestro_fire *f, int cpu, struct run_stats *rs,
                uint64_t trace_t, int max, const int plain) {
  struct maestro_graph *g = a->g;
  uint64_t *flow_in = !plain && g->tracing ? &a->flow_in : NULL; /* flow ids only for the trace */
  struct inport *ip0 = a->n_in ? &a->in[0] : NULL;
  for (int n = 0; n < max; n++) {
    if (!run_outputs_free(a, rs)) return 0;
    if (atomic_load_explicit(&g->stopped, memory_order_relaxed)) return 0;
    if (plain) {
      if (ip0 && !run_take_one(a, ip0, a->inbuf, NULL, NULL, NULL)) return 0;
    } else {
      if (!run_take(a, a->inbuf, NULL, NULL, flow_in)) return 0;
      int bad;
      if (a->sized && __builtin_expect((bad = run_misfit(a, a->inbuf)) >= 0, 0)) {
        a->seq++;
        if (run_refuse_misfit(a, a->inbuf, NULL, bad, rs) != MAESTRO_OK) return 0;
        continue;
      }
    }
    if (fire_one(a, f, cpu, rs, &trace_t, plain) != MAESTRO_OK) return 0; /* DONE or stopped */
  }
  return 1;
}

/* fire_batch_loop, untraced. When a channel of `a` crosses cores (a->xcore,
 * from the end of its last run), in chunks of RUN_CHUNK firings with
 * run_mid_publish between them; else in one go, the loop as it is. */
static inline __attribute__((always_inline)) int fire_chunks(struct maestro_agent *a,
                                                             struct maestro_fire *f, int cpu,
                                                             struct run_stats *rs, int max,
                                                             const int plain) {
  if (__builtin_expect(!a->xcore, 1)) return fire_batch_loop(a, f, cpu, rs, 0, max, plain);
  for (;;) {
    int n = max < RUN_CHUNK ? max : RUN_CHUNK;
    if (!fire_batch_loop(a, f, cpu, rs, 0, n, plain)) return 0;
    if ((max -= n) == 0) return 1;
    run_mid_publish(a, cpu);
  }
}

static inline __attribute__((always_inline)) int fire_batch(struct maestro_agent *a, int cpu,
                                                            struct run_stats *rs, int max) {
  struct maestro_fire f;
  run_fire_init(&f, a, a->inbuf, a->seq, MAESTRO_PLACE_CPU, cpu);
  /* The whole batch is marked as a firing of `a` (core_firing): between
   * its firings the runner calls nothing that asks, and the user's code
   * runs only inside them. One mark per batch instead of per firing. */
  struct maestro_agent *outer = core_firing;
  core_firing = a;
  int r;
  if (a->plain) {
    r = fire_chunks(a, &f, cpu, rs, max, 1);
  } else if (!a->g->tracing) {
    r = fire_chunks(a, &f, cpu, rs, max, 0);
  } else {
    struct maestro_runtime *rt = a->g->rt;
    uint64_t t = trace_batch_begin(rt);
    r = fire_batch_loop(a, &f, cpu, rs, a->trace_timed ? t : 0, max, 0);
    a->trace_timed = trace_batch_end(rt);
  }
  core_firing = outer;
  return r;
}

int run_fire_batch(struct maestro_agent *a, int cpu, struct run_stats *rs, int max) {
  return fire_batch(a, cpu, rs, max);
}

void run_end_of_run(struct maestro_agent *a) {
  run_end_of_run_on(a, -1);
}

void run_end_of_run_on(struct maestro_agent *a, int cpu) {
  struct maestro_runtime *rt = a->g->rt;
  int xcore = 0;
  for (int i = 0; i < a->n_out; i++)
    for (int k = 0; k < a->out[i].nch; k++) {
      struct chan *c = a->out[i].ch[k];
      if (cpu >= 0) xcore |= crosses(&c->cons_cpu, cpu);
      if (!c->dirty) continue;
      c->dirty = 0;
      if (cpu >= 0) chan_note_cpu(&c->prod_cpu, cpu);
      chan_publish(c);
      chan_notify_consumer(rt, c);
    }
  int taken = 0;
  for (int i = 0; i < a->n_in; i++)
    for (int k = 0; k < a->in[i].nch; k++) {
      struct chan *c = a->in[i].ch[k];
      if (cpu >= 0) xcore |= crosses(&c->prod_cpu, cpu);
      if (!c->cons_dirty) continue;
      if (cpu >= 0) chan_note_cpu(&c->cons_cpu, cpu);
      chan_publish_taken(c); /* before the fence: the producer's Dekker pair */
      c->cons_dirty = 2;
      taken = 1;
    }
  if (taken) run_wake_producers(a);
  a->xcore = xcore; /* for the next run (fire_batch_loop) */
}

int core_task_run(struct sched_task *t, int cpu) {
  struct maestro_agent *a = t->owner;
  if (a->win) return win_task_run(a, t, cpu);
  if (a->serve) return serve_task_run(a, t, cpu);
  struct maestro_graph *g = a->g;
  if (a->phase == AG_FINISHED) return TASK_WAIT;
  struct run_stats rs = {0};
  uint64_t t0 = rt_now_ns();
  int yield = 0;
  atomic_store_explicit(&a->st.pstate, PROF_AGENT_RUNNING, memory_order_relaxed);
  run_note_stop(a);
  if (a->phase == AG_RUN)
    yield = __builtin_expect(a->period_ns != 0, 0) ? run_periodic(a, cpu, &rs)
                                                   : fire_batch(a, cpu, &rs, AGENT_BATCH);
  int finished = run_wind_down(a, 1, &rs);
  if (__builtin_expect(a->period_ns != 0, 0)) run_period_after(a, finished);
  run_end_of_run_on(a, cpu);
  uint64_t busy = rt_now_ns() - t0;
  run_stats_flush(a, &rs, busy, MAESTRO_PLACE_CPU, cpu);
  sched_task_cost(t, busy, rs.fires);
  sched_account(g->rt, MAESTRO_PLACE_CPU, cpu, busy, rs.fires);
  return run_task_end(a, finished, a->blocked, yield);
}

/* ---- the firing API ---- */

maestro_buf_t *maestro_fire_in(maestro_fire_t *f, int port) {
  /* f->n_in is 0 in on_end, which has no inputs; one unsigned compare
   * also refuses a negative port. */
  if (!f || (unsigned)port >= (unsigned)f->n_in) return NULL;
  return f->in[port];
}

int maestro_fire_alloc(maestro_fire_t *f, size_t bytes, maestro_buf_t **out) {
  if (!f || !out) return err_set(MAESTRO_EINVAL, "maestro_fire_alloc: %s is NULL", f ? "out" : "f");
  struct maestro_agent *a = f->a;
  struct maestro_runtime *rt = a->g->rt;
  int node = -1;
  if (a->g->numa && a->n_out > 0 && a->out[0].nch > 0 && a->out[0].ch[0]->cons) {
    /* On the NUMA node of the core that will read it (its consumer's worker). */
    int home = a->out[0].ch[0]->cons->task.home;
    if (home >= 0 && home < rt->ncpu) node = rt->cpu_info[home].numa_node;
  }
  return mem_buf_alloc_for(rt, bytes, node, "maestro_fire_alloc", out);
}

/* maestro_fire_out's refusals, its borrowed-input check's report and the
 * growth of the staged sends: out of line, so that the per-message path
 * below saves no registers for them. */
static __attribute__((noinline)) int fire_out_slow(maestro_fire_t *f, int port, maestro_buf_t *b) {
  if (!f || !b) {
    maestro_buf_release(b);
    return err_set(MAESTRO_EINVAL, "maestro_fire_out: %s is NULL", f ? "b" : "f");
  }
  if (port < 0 || port >= f->n_out) {
    maestro_buf_release(b);
    return err_set(MAESTRO_EINVAL, "maestro_fire_out: agent '%s' has no output port %d", f->a->name,
                   port);
  }
  /* A borrowed input sent without a retain would be released by the runner
   * while queued. Only the certain case is caught (the firing holds the
   * sole reference); the input stays the firing's, so it is not released. */
  for (int p = 0; p < f->n_in; p++) /* on_end has no inputs */
    if (b == f->in[p] && atomic_load_explicit(&b->refs, memory_order_relaxed) == 1)
      return err_set(MAESTRO_EINVAL,
                     "maestro_fire_out: agent '%s' sends its input '%s' on port '%s' without "
                     "retaining it (an input is borrowed: maestro_buf_retain it first)",
                     f->a->name, f->a->in[p].name, f->a->out[port].name);
  if (f->nout == f->cap) {
    int cap = f->cap * 2;
    struct staged *v = malloc((size_t)cap * sizeof *v);
    if (!v) {
      maestro_buf_release(b);
      return err_set(MAESTRO_ENOMEM, "maestro_fire_out: out of memory");
    }
    memcpy(v, f->out, (size_t)f->nout * sizeof *v);
    if (f->out != f->inl) free(f->out);
    f->out = v;
    f->cap = cap;
  }
  f->out[f->nout].port = port;
  f->out[f->nout].b = b;
  f->nout++;
  return MAESTRO_OK;
}

int maestro_fire_out(maestro_fire_t *f, int port, maestro_buf_t *b) {
  if (__builtin_expect(!f || !b || (unsigned)port >= (unsigned)f->n_out || f->nout == f->cap, 0))
    return fire_out_slow(f, port, b);
  for (int p = 0; p < f->n_in; p++)
    if (__builtin_expect(b == f->in[p], 0) &&
        atomic_load_explicit(&b->refs, memory_order_relaxed) == 1)
      return fire_out_slow(f, port, b);
  f->out[f->nout].port = port;
  f->out[f->nout].b = b;
  f->nout++;
  return MAESTRO_OK;
}

int maestro_fire_timeout(const maestro_fire_t *f) {
  /* A timeout firing hands the agent its input array with no message in it
   * (period.c); on_end hands none. */
  return f && f->in && f->a->n_in > 0 && !f->in[0];
}

void *maestro_fire_state(maestro_fire_t *f) {
  return f ? f->a->state : NULL;
}

uint64_t maestro_fire_seq(const maestro_fire_t *f) {
  return f ? f->seq : 0;
}

maestro_runtime_t *maestro_fire_runtime(maestro_fire_t *f) {
  return f ? f->a->g->rt : NULL;
}

int maestro_fire_place(const maestro_fire_t *f, maestro_place_kind_t *kind) {
  if (!f) return err_set(MAESTRO_EINVAL, "maestro_fire_place: f is NULL");
  if (kind) *kind = (maestro_place_kind_t)f->place_kind;
  return f->place_index;
}
