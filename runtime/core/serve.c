/* Firing a MAESTRO_RANK_ANY agent for rank 0 (core/dist.h), on a rank that
 * does not own it: the backend hands over each firing's inputs
 * (serve_push); lanes of the agent, run by this rank's CPU workers like a
 * stateless agent's lanes, take them and place each one among this rank's
 * places as the agent's window would place it here (win_serve_place: the
 * earliest expected end on this rank's performance models): a CPU place
 * fires its CPU implementation on that lane, with its supervisor's
 * retries; a device launches its device implementation (place_submit),
 * which ends on the device's completion thread. Either way the outcome
 * goes back to the backend (dist_ops.any_result), which sends it to rank 0.
 * A device that refuses the launch, or fails it without running the
 * agent's code, leaves the firing to the CPU implementation (a fallback,
 * as for a hybrid agent on its own rank). Order does not matter here: rank
 * 0's window emits the outputs in input order. Rank 0 sends at most its
 * credits for this rank, so the queue stays bounded. */
#include <stdlib.h>
#include <string.h>

#include "base/runtime.h"
#include "core/dist.h"
#include "core/run.h"
#include "core/trace.h"
#include "sched/place.h"

#define SERVE_MAX_LANES 16

struct job {
  struct job *next;
  struct maestro_agent *a;
  int rank;
  int cpu_only; /* a device could not run it: its CPU implementation does */
  int dev;      /* the device it was launched on */
  uint64_t seq;
  uint64_t t_in; /* when it came (rank 0 learns how long it waited here) */
  uint64_t bytes;
  maestro_buf_t *in[];
};

struct serve {
  pthread_mutex_t mu;
  struct job *head, *tail;
  struct sched_task *lanes;
  int nlanes, next;
  uint64_t ends;    /* firings that ended here (a place may have come free) */
  struct window *w; /* placement among this rank's places (window.c) */
  int prep_rc;      /* its device implementation could not be set up here */
  char *prep_why;
};

int serve_setup(struct maestro_agent *a, int prep_rc, const char *prep_why) {
  struct maestro_runtime *rt = a->g->rt;
  struct serve *sv = calloc(1, sizeof *sv);
  int n = rt->ncpu < SERVE_MAX_LANES ? rt->ncpu : SERVE_MAX_LANES;
  if (n < 1) n = 1;
  if (sv) sv->lanes = calloc((size_t)n, sizeof *sv->lanes);
  if (sv && sv->lanes && prep_rc && prep_why) sv->prep_why = strdup(prep_why);
  if (sv && sv->lanes && (!prep_rc || sv->prep_why)) sv->w = win_serve_new(a);
  if (!sv || !sv->lanes || !sv->w) {
    if (sv) {
      free(sv->lanes);
      free(sv->prep_why);
    }
    free(sv);
    return err_set(MAESTRO_ENOMEM, "maestro_graph_start: out of memory");
  }
  pthread_mutex_init(&sv->mu, NULL);
  sv->nlanes = n;
  sv->prep_rc = prep_rc;
  for (int i = 0; i < n; i++) {
    struct sched_task *t = &sv->lanes[i];
    atomic_init(&t->state, TASK_IDLE);
    t->owner = a;
    t->dev = -1;
    t->pin = -1;
    t->home = (a->task.home + i) % (rt->ncpu > 0 ? rt->ncpu : 1);
    t->active = &a->g->active;
  }
  a->serve = sv;
  return MAESTRO_OK;
}

void serve_started(struct maestro_graph *g) {
  for (int i = 0; i < g->nagents; i++) {
    struct maestro_agent *a = g->agents[i];
    struct serve *sv = a->serve;
    if (!sv || !sv->prep_rc) continue;
    char why[1024];
    snprintf(why, sizeof why, "its device implementation cannot be set up on this rank: %s",
             sv->prep_why && sv->prep_why[0] ? sv->prep_why : maestro_strerror(sv->prep_rc));
    graph_fail(g, a, sv->prep_rc, why); /* names the agent and this rank; told to the others */
  }
}

void serve_free(struct maestro_agent *a) {
  struct serve *sv = a->serve;
  if (!sv) return;
  for (struct job *j = sv->head, *nx; j; j = nx) {
    nx = j->next;
    for (int p = 0; p < a->n_in; p++)
      maestro_buf_release(j->in[p]);
    free(j);
  }
  win_serve_free(a, sv->w);
  pthread_mutex_destroy(&sv->mu);
  free(sv->prep_why);
  free(sv->lanes);
  free(sv);
  a->serve = NULL;
}

/* Queues `j` (at the head: it was taken before those waiting) and wakes
 * a lane. */
static void enqueue(struct maestro_agent *a, struct job *j, int head) {
  struct serve *sv = a->serve;
  pthread_mutex_lock(&sv->mu);
  if (head) {
    j->next = sv->head;
    sv->head = j;
    if (!sv->tail) sv->tail = j;
  } else {
    j->next = NULL;
    if (sv->tail)
      sv->tail->next = j;
    else
      sv->head = j;
    sv->tail = j;
  }
  struct sched_task *t = &sv->lanes[sv->next];
  sv->next = (sv->next + 1) % sv->nlanes;
  pthread_mutex_unlock(&sv->mu);
  sched_notify(a->g->rt, t);
}

int serve_push(struct maestro_agent *a, int rank, uint64_t seq, maestro_buf_t **in) {
  struct job *j = fault_hit(&a->g->rt->fault, FAULT_SERVE)
                      ? NULL
                      : malloc(sizeof *j + (size_t)a->n_in * sizeof *j->in);
  if (!j) {
    for (int p = 0; p < a->n_in; p++)
      maestro_buf_release(in[p]);
    return err_set(MAESTRO_ENOMEM, "agent '%s': out of memory for a firing from rank %d", a->name,
                   rank);
  }
  j->a = a;
  j->rank = rank;
  j->seq = seq;
  j->cpu_only = 0;
  j->dev = -1;
  j->t_in = rt_now_ns();
  j->bytes = 0;
  memcpy(j->in, in, (size_t)a->n_in * sizeof *in);
  for (int p = 0; p < a->n_in; p++)
    j->bytes += in[p]->size;
  enqueue(a, j, 0);
  return MAESTRO_OK;
}

static void job_free(struct job *j) {
  for (int p = 0; p < j->a->n_in; p++)
    maestro_buf_release(j->in[p]);
  free(j);
}

/* Fires job `j` on CPU place `cpu` and hands its outcome to the backend. */
static void serve_fire(struct maestro_agent *a, struct job *j, int cpu) {
  struct maestro_graph *g = a->g;
  struct maestro_runtime *rt = g->rt;
  struct serve *sv = a->serve;
  struct run_stats rs = {0};
  struct maestro_fire f;
  run_fire_init(&f, a, j->in, j->seq, MAESTRO_PLACE_CPU, cpu);
  uint64_t t0 = rt_now_ns();
  int bad = a->sized ? run_misfit(a, j->in) : -1;
  int st;
  if (__builtin_expect(bad >= 0, 0)) {
    st = run_misfit_error(a, j->in, bad);
    rs.failures++;
  } else {
    st = run_fire_exec(a, &f, &rs);
  }
  uint64_t t1 = rt_now_ns();
  if (j->cpu_only)
    rs.fallbacks++;
  else
    win_serve_ran(sv->w, -1, j->bytes, t1 - t0, st >= 0);
  pthread_mutex_lock(&sv->mu);
  sv->ends++;
  pthread_mutex_unlock(&sv->mu);
  if (st >= 0 &&
      trace_on(rt)) { /* rank 0's trace shows its round trip, on the track of this rank */
    trace_fire_ns(rt, MAESTRO_PLACE_CPU, cpu, a->trace_name, j->seq, j->bytes, t0, t1, 0, 0);
  }
  /* Counted before the answer goes: once rank 0 has every answer, every
   * rank's maestro_graph_wait may return, and its stats must be whole
   * (once rank 0 counts it, so does this rank). */
  sched_account(rt, MAESTRO_PLACE_CPU, cpu, t1 - t0, rs.fires);
  run_stats_flush(a, &rs, t1 - t0, MAESTRO_PLACE_CPU, cpu);
  if (st >= 0) atomic_fetch_add_explicit(&a->st.served, 1, memory_order_relaxed);
  /* This thread ran it: a failure's message is still here (the flush
   * above sets no error). */
  rt->dist->any_result(g, a, j->rank, j->seq, st, f.out, st >= 0 ? f.nout : 0,
                       st < 0 ? maestro_last_error() : NULL, t1 - t0,
                       t0 > j->t_in ? t0 - j->t_in : 0, 0);
  f.nout = 0; /* the backend took them */
  run_fire_done(&f);
  job_free(j);
}

/* A device firing of job `j` ended, on the device's completion thread. */
static void serve_launch_done(void *ctx, maestro_buf_t **out, const struct place_result *r) {
  struct job *j = ctx;
  struct maestro_agent *a = j->a;
  struct maestro_graph *g = a->g;
  struct maestro_runtime *rt = g->rt;
  struct serve *sv = a->serve;
  int d = j->dev, st = r->status;
  uint64_t ns = r->t_end_ns > r->t_start_ns ? r->t_end_ns - r->t_start_ns : r->busy_ns;
  win_serve_ran(sv->w, d, j->bytes, ns, st >= 0);
  if (st < 0 && !r->impl_failed && a->cpu) {
    /* The device could not run it: the CPU implementation does. */
    j->cpu_only = 1;
    enqueue(a, j, 1);
    atomic_fetch_sub(&g->active, 1);
    return;
  }
  struct staged inl[FIRE_INLINE_OUT], *o = inl;
  int nmsg = st >= 0 ? a->n_out + r->n_more : 0, nout = 0;
  if (nmsg > FIRE_INLINE_OUT && !(o = malloc((size_t)nmsg * sizeof *o))) {
    for (int k = 0; k < a->n_out; k++)
      maestro_buf_release(out[k]);
    for (int k = 0; k < r->n_more; k++)
      maestro_buf_release(r->more[k].b);
    st = err_set(MAESTRO_ENOMEM, "agent '%s': out of memory for %d messages", a->name, nmsg);
    o = inl;
  } else if (st >= 0) {
    for (int k = 0; k < a->n_out; k++)
      if (out[k]) o[nout++] = (struct staged){k, out[k]};
    for (int k = 0; k < r->n_more; k++) /* after its port's first: the order sent */
      o[nout++] = (struct staged){r->more[k].port, r->more[k].b};
  }
  if (st >= 0 || r->impl_failed) {
    atomic_fetch_add_explicit(&a->st.device_fires, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&a->st.fires, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&a->st.msgs_in, (uint64_t)a->n_in, memory_order_relaxed);
    atomic_fetch_add_explicit(&a->st.bytes_in, j->bytes, memory_order_relaxed);
  }
  if (st >= 0) {
    atomic_fetch_add_explicit(&a->st.busy_ns, r->busy_ns, memory_order_relaxed);
    atomic_store_explicit(&a->st.place_kind, MAESTRO_PLACE_DEVICE, memory_order_relaxed);
    atomic_store_explicit(&a->st.place_index, d, memory_order_relaxed);
    atomic_store_explicit(&a->st.dev_place, d, memory_order_relaxed);
    sched_account(rt, MAESTRO_PLACE_DEVICE, d, r->busy_ns, 1);
    if (trace_on(rt))
      trace_fire_ns(rt, MAESTRO_PLACE_DEVICE, d, a->trace_name, j->seq, j->bytes, r->t_start_ns,
                    r->t_end_ns > r->t_start_ns ? r->t_end_ns : r->t_start_ns + 1, 0, 0);
    atomic_fetch_add_explicit(&a->st.served, 1, memory_order_relaxed);
  } else {
    atomic_fetch_add_explicit(&a->st.failures, 1, memory_order_relaxed);
  }
  /* The launch's message was set on this thread just before done(). */
  uint64_t start = r->t_start_ns ? r->t_start_ns : rt_now_ns();
  rt->dist->any_result(g, a, j->rank, j->seq, st, o, nout, st < 0 ? maestro_last_error() : NULL,
                       st >= 0 ? ns : 0, start > j->t_in ? start - j->t_in : 0, 1);
  if (o != inl) free(o);
  job_free(j);
  /* Its place is free: a lane may place what waits. */
  pthread_mutex_lock(&sv->mu);
  sv->ends++;
  struct sched_task *t = &sv->lanes[sv->next];
  pthread_mutex_unlock(&sv->mu);
  sched_notify(rt, t);
  atomic_fetch_sub(&g->active, 1); /* taken at launch: the graph may go now */
}

/* Launches job `j` on device `d` (placed there); a device that refuses it
 * leaves it to the CPU implementation. */
static void serve_launch(struct maestro_agent *a, struct job *j, int d) {
  struct maestro_graph *g = a->g;
  struct serve *sv = a->serve;
  j->dev = d;
  atomic_fetch_add(&g->active, 1);
  int rc = place_submit(g->rt, a->impls, d, j->in, j->seq, ~0u /* every output goes back */,
                        serve_launch_done, j);
  if (rc == MAESTRO_OK) return;
  atomic_fetch_sub(&g->active, 1);
  win_serve_ran(sv->w, d, j->bytes, 0, 0);
  /* Refused (build, enqueue, out of resources): the CPU implementation
   * takes it (every RANK_ANY agent has one). */
  j->cpu_only = 1;
  enqueue(a, j, 1);
}

int serve_task_run(struct maestro_agent *a, struct sched_task *t, int place) {
  (void)t;
  struct serve *sv = a->serve;
  for (int n = 0; n < AGENT_BATCH; n++) {
    pthread_mutex_lock(&sv->mu);
    struct job *j = sv->head;
    if (j && !(sv->head = j->next)) sv->tail = NULL;
    uint64_t ends = sv->ends;
    pthread_mutex_unlock(&sv->mu);
    if (!j) return TASK_WAIT;
    int where = j->cpu_only ? -1 : win_serve_place(a, sv->w, j->in);
    if (where == WIN_SERVE_WAIT) {
      /* Back to the head: a place's end wakes a lane (or came meanwhile:
       * placed again now). */
      pthread_mutex_lock(&sv->mu);
      j->next = sv->head;
      sv->head = j;
      if (!sv->tail) sv->tail = j;
      int again = sv->ends != ends;
      pthread_mutex_unlock(&sv->mu);
      if (again) continue;
      return TASK_WAIT;
    }
    if (where >= 0)
      serve_launch(a, j, where);
    else
      serve_fire(a, j, place);
  }
  return TASK_YIELD;
}
