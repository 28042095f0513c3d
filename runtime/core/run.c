/* Firing agents. A worker runs an agent (core_task_run) for a bounded batch:
 * it takes one message from each input port, calls the implementation,
 * hands the firing's sends to the output channels, and goes on while inputs
 * and output space allow. A send that finds its channel full waits in the
 * channel's overflow and the agent stops firing (it is suspended, the worker
 * moves on) until the consumer makes room and notifies it. Consumers are
 * notified once per run, not per message. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fire.h"
#include "core/graph.h"
#include "core/runtime.h"
#include "mem/buf.h"
#include "prof/prof.h"
#include "prof/records.h"

struct run_stats {
  uint64_t fires, msgs_in, msgs_out, bytes_in, bytes_out, failures, retries, dead;
};

static inline void ctr_add(atomic_ullong *c, uint64_t v) {
  if (v) atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

static void stats_flush(struct maestro_agent *a, const struct run_stats *rs, uint64_t busy,
                        int cpu) {
  struct agent_counters *s = &a->st;
  ctr_add(&s->fires, rs->fires);
  ctr_add(&s->msgs_in, rs->msgs_in);
  ctr_add(&s->msgs_out, rs->msgs_out);
  ctr_add(&s->bytes_in, rs->bytes_in);
  ctr_add(&s->bytes_out, rs->bytes_out);
  ctr_add(&s->busy_ns, busy);
  ctr_add(&s->failures, rs->failures);
  ctr_add(&s->retries, rs->retries);
  ctr_add(&s->dead_letters, rs->dead);
  if (rs->fires) {
    atomic_store_explicit(&s->place_kind, MAESTRO_PLACE_CPU, memory_order_relaxed);
    atomic_store_explicit(&s->place_index, cpu, memory_order_relaxed);
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
  dl_put(g, b, agent, port, status, c->pushed++);
  rs->dead++;
}

/* ---- inputs ---- */

/* A channel of port `p` holding a message (merge in arrival order,
 * round-robin between channels), or NULL. */
static inline struct chan *port_ready(struct inport *p) {
  if (p->nch == 1) return ring_peek(&p->ch[0]->ring) ? p->ch[0] : NULL;
  for (int k = 0; k < p->nch; k++) {
    int i = (p->rr + k) % p->nch;
    if (ring_peek(&p->ch[i]->ring)) {
      p->rr = (i + 1) % p->nch;
      return p->ch[i];
    }
  }
  return NULL;
}

static int port_ended(struct inport *p) {
  for (int k = 0; k < p->nch; k++)
    if (!chan_ended(p->ch[k])) return 0;
  return 1;
}

static int inputs_ended(struct maestro_agent *a) {
  for (int i = 0; i < a->n_in; i++)
    if (!port_ended(&a->in[i])) return 0;
  return 1;
}

/* Everything still arriving after the agent stopped firing is a dead letter. */
static void drain_inputs(struct maestro_agent *a, struct run_stats *rs) {
  for (int i = 0; i < a->n_in; i++) {
    struct inport *p = &a->in[i];
    for (int k = 0; k < p->nch; k++) {
      struct chan *c = p->ch[k];
      maestro_buf_t *b;
      while ((b = ring_pop(&c->ring))) {
        c->popped++;
        c->cons_dirty = 1;
        dl_put(a->g, b, a->name, p->name, MAESTRO_ECLOSED, p->taken++);
        rs->dead++;
      }
    }
  }
}

/* ---- outputs ---- */

/* Moves overflow into rings; 1 when nothing is left waiting. With the graph
 * stopped, overflow goes to the dead letters. */
static int flush_pending(struct maestro_agent *a, int stopped, struct run_stats *rs) {
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
          dl_put(a->g, b, agent, port, MAESTRO_ECLOSED, seq++);
          rs->dead++;
        }
        continue;
      }
      if (chan_flush(c)) continue;
      /* Ask the consumer to notify us, then look again (it may just have made room). */
      atomic_store(&c->prod_waiting, 1);
      atomic_thread_fence(memory_order_seq_cst);
      if (chan_flush(c)) continue;
      all = 0;
    }
  }
  return all;
}

static void close_outputs(struct maestro_agent *a) {
  for (int i = 0; i < a->n_out; i++)
    for (int k = 0; k < a->out[i].nch; k++) {
      struct chan *c = a->out[i].ch[k];
      atomic_store_explicit(&c->closed, 1, memory_order_release);
      c->dirty = 1;
    }
}

/* Hands a successful firing's sends to the channels. Returns 1 when some
 * channel was full (the agent must wait before firing again). */
static int commit_outputs(struct maestro_agent *a, struct maestro_fire *f, struct run_stats *rs) {
  int blocked = 0;
  int stopped = atomic_load_explicit(&a->g->stopped, memory_order_relaxed);
  for (int i = 0; i < f->nout; i++) {
    maestro_buf_t *b = f->out[i].b;
    struct outport *op = &a->out[f->out[i].port];
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
  if (f->out != f->inl) free(f->out);
  return blocked;
}

static void discard_staged(struct maestro_fire *f) {
  for (int i = 0; i < f->nout; i++)
    maestro_buf_release(f->out[i].b);
  f->nout = 0;
}

/* Sends the inputs of a failed firing to the dead letters. */
static void inputs_dead(struct maestro_agent *a, int status, struct run_stats *rs) {
  for (int p = 0; p < a->n_in; p++) {
    dl_put(a->g, a->inbuf[p], a->name, a->in[p].name, status, a->in[p].taken - 1);
    a->inbuf[p] = NULL;
    rs->dead++;
  }
}

/* One firing with its supervision. Returns MAESTRO_OK, MAESTRO_DONE, or the
 * failing status once the supervisor stopped the graph. */
static int fire_one(struct maestro_agent *a, int cpu, struct run_stats *rs, int *blocked) {
  struct maestro_runtime *rt = a->g->rt;
  struct maestro_fire f;
  f.a = a;
  f.in = a->inbuf;
  f.seq = a->seq++;
  f.place_kind = MAESTRO_PLACE_CPU;
  f.place_index = cpu;
  f.out = f.inl;
  f.nout = 0;
  f.cap = FIRE_INLINE_OUT;
  int tracing = prof_tracing(rt);
  uint64_t t0 = tracing ? rt_now_ns() : 0;
  uint64_t bytes = 0;
  for (int p = 0; p < a->n_in; p++)
    bytes += a->inbuf[p]->size;
  int st, tries = 0;
  for (;;) {
    rs->fires++;
    st = a->cpu(&f);
    if (st >= 0) break;
    rs->failures++;
    discard_staged(&f);
    if (a->sup.on_fail == MAESTRO_FAIL_RETRY && tries < a->sup.max_retries &&
        !atomic_load_explicit(&a->g->stopped, memory_order_relaxed)) {
      tries++;
      rs->retries++;
      if (a->sup.restart && a->sup.restart(a->state) < 0) break;
      continue;
    }
    break;
  }
  rs->msgs_in += (uint64_t)a->n_in;
  rs->bytes_in += bytes;
  if (tracing) {
    uint64_t flow_in = 0, flow_out = 0;
    if (a->n_in && a->in[0].nch)
      flow_in = (a->in[0].ch[0]->id << 32) | (a->in[0].taken & 0xffffffffu);
    if (f.nout && a->out[f.out[0].port].nch) {
      struct chan *c = a->out[f.out[0].port].ch[0];
      flow_out = (c->id << 32) | ((c->pushed + 1) & 0xffffffffu);
    }
    prof_trace_firing(rt, MAESTRO_PLACE_CPU, cpu, a->name, f.seq, bytes, t0, rt_now_ns(), flow_in,
                      flow_out);
  }
  if (st >= 0) {
    *blocked = commit_outputs(a, &f, rs);
    for (int p = 0; p < a->n_in; p++) {
      maestro_buf_release(a->inbuf[p]);
      a->inbuf[p] = NULL;
    }
    return st == MAESTRO_DONE ? MAESTRO_DONE : MAESTRO_OK;
  }
  if (f.out != f.inl) free(f.out);
  inputs_dead(a, st, rs);
  if (a->sup.on_fail == MAESTRO_FAIL_SKIP) return MAESTRO_OK;
  a->failed = 1;
  graph_fail(a->g, a, st);
  return st;
}

/* Fires while inputs and output space allow, at most AGENT_BATCH times.
 * Returns 1 when it stopped only because the batch was used up. */
static int fire_batch(struct maestro_agent *a, int cpu, struct run_stats *rs, int *blocked) {
  struct maestro_graph *g = a->g;
  for (int n = 0; n < AGENT_BATCH; n++) {
    if (*blocked) {
      if (!flush_pending(a, 0, rs)) return 0;
      *blocked = 0;
    }
    if (atomic_load_explicit(&g->stopped, memory_order_relaxed)) return 0;
    if (a->n_in) {
      for (int p = 0; p < a->n_in; p++) {
        if (!port_ready(&a->in[p])) {
          if (port_ended(&a->in[p])) a->phase = AG_CLOSING;
          return 0;
        }
      }
      for (int p = 0; p < a->n_in; p++) {
        struct inport *ip = &a->in[p];
        struct chan *c = ip->nch == 1 ? ip->ch[0] : port_ready(ip);
        if (!c) return 0; /* cannot happen: only this runner takes from it */
        a->inbuf[p] = ring_pop(&c->ring);
        c->popped++;
        c->cons_dirty = 1;
        ip->taken++;
      }
    }
    int st = fire_one(a, cpu, rs, blocked);
    if (st == MAESTRO_DONE) {
      a->phase = AG_CLOSING;
      return 0;
    }
    if (st < 0) return 0;
  }
  return 1;
}

/* Notifies the consumers of what this run sent and the producers waiting on
 * what it took. */
static void end_of_run(struct maestro_agent *a) {
  struct maestro_runtime *rt = a->g->rt;
  for (int i = 0; i < a->n_out; i++)
    for (int k = 0; k < a->out[i].nch; k++) {
      struct chan *c = a->out[i].ch[k];
      if (!c->dirty) continue;
      c->dirty = 0;
      chan_notify_consumer(rt, c);
    }
  int fenced = 0;
  for (int i = 0; i < a->n_in; i++)
    for (int k = 0; k < a->in[i].nch; k++) {
      struct chan *c = a->in[i].ch[k];
      if (!c->cons_dirty) continue;
      c->cons_dirty = 0;
      if (!fenced) {
        atomic_thread_fence(memory_order_seq_cst);
        fenced = 1;
      }
      if (atomic_load_explicit(&c->prod_waiting, memory_order_relaxed) &&
          atomic_exchange(&c->prod_waiting, 0))
        chan_notify_producer(rt, c);
    }
}

int core_task_run(struct sched_task *t, int cpu) {
  struct maestro_agent *a = (struct maestro_agent *)t;
  struct maestro_graph *g = a->g;
  if (a->phase == AG_FINISHED) return TASK_WAIT;
  struct run_stats rs = {0};
  uint64_t t0 = rt_now_ns();
  int yield = 0;
  atomic_store_explicit(&a->st.pstate, PROF_AGENT_RUNNING, memory_order_relaxed);
  int stopped = atomic_load_explicit(&g->stopped, memory_order_acquire);
  if (stopped && a->phase == AG_RUN) a->phase = AG_CLOSING;
  if (a->phase == AG_RUN) yield = fire_batch(a, cpu, &rs, &a->blocked);
  stopped = atomic_load_explicit(&g->stopped, memory_order_acquire);
  if (stopped && a->phase == AG_RUN) a->phase = AG_CLOSING;
  if (a->phase == AG_CLOSING) {
    if (!a->blocked || flush_pending(a, stopped, &rs)) {
      a->blocked = 0;
      close_outputs(a);
      a->phase = AG_DRAIN;
    }
  }
  if (a->phase == AG_DRAIN) {
    drain_inputs(a, &rs);
    if (inputs_ended(a)) a->phase = AG_FINISHED;
  }
  end_of_run(a);
  uint64_t busy = rt_now_ns() - t0;
  stats_flush(a, &rs, busy, cpu);
  sched_account(g->rt, cpu, busy, rs.fires);
  if (a->phase == AG_FINISHED) {
    atomic_store_explicit(&a->st.pstate, a->failed ? PROF_AGENT_FAILED : PROF_AGENT_FINISHED,
                          memory_order_relaxed);
    graph_agent_finished(g);
    return TASK_WAIT;
  }
  atomic_store_explicit(&a->st.pstate, a->blocked ? PROF_AGENT_BLOCKED : PROF_AGENT_WAITING,
                        memory_order_relaxed);
  return yield ? TASK_YIELD : TASK_WAIT;
}

/* ---- the firing API ---- */

maestro_buf_t *maestro_fire_in(maestro_fire_t *f, int port) {
  if (!f || port < 0 || port >= f->a->n_in) return NULL;
  return f->in[port];
}

int maestro_fire_alloc(maestro_fire_t *f, size_t bytes, maestro_buf_t **out) {
  if (!f || !out) return err_set(MAESTRO_EINVAL, "maestro_fire_alloc: %s is NULL", f ? "out" : "f");
  return mem_buf_alloc(f->a->g->rt, bytes, out);
}

int maestro_fire_out(maestro_fire_t *f, int port, maestro_buf_t *b) {
  if (!f || !b) {
    maestro_buf_release(b);
    return err_set(MAESTRO_EINVAL, "maestro_fire_out: %s is NULL", f ? "b" : "f");
  }
  if (port < 0 || port >= f->a->n_out) {
    maestro_buf_release(b);
    return err_set(MAESTRO_EINVAL, "maestro_fire_out: agent '%s' has no output port %d", f->a->name,
                   port);
  }
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
