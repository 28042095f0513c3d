/* Firing a MAESTRO_RANK_ANY agent for rank 0 (core/dist.h), on a rank that
 * does not own it: the backend hands over each firing's inputs
 * (serve_push); lanes of the agent, run by this rank's CPU workers like a
 * stateless agent's lanes, fire its CPU implementation with its
 * supervisor's retries and hand the outcome back to the backend
 * (dist_ops.any_result), which sends it to rank 0. Order does not matter
 * here: rank 0's window emits the outputs in input order. Rank 0 sends at
 * most its credits for this rank, so the queue stays bounded. */
#include <stdlib.h>
#include <string.h>

#include "base/runtime.h"
#include "core/dist.h"
#include "core/run.h"
#include "core/trace.h"

#define SERVE_MAX_LANES 16

struct job {
  struct job *next;
  int rank;
  uint64_t seq;
  uint64_t t_in; /* when it came (rank 0 learns how long it waited here) */
  maestro_buf_t *in[];
};

struct serve {
  pthread_mutex_t mu;
  struct job *head, *tail;
  struct sched_task *lanes;
  int nlanes, next;
};

int serve_setup(struct maestro_agent *a) {
  struct maestro_runtime *rt = a->g->rt;
  struct serve *sv = calloc(1, sizeof *sv);
  int n = rt->ncpu < SERVE_MAX_LANES ? rt->ncpu : SERVE_MAX_LANES;
  if (n < 1) n = 1;
  if (sv) sv->lanes = calloc((size_t)n, sizeof *sv->lanes);
  if (!sv || !sv->lanes) {
    free(sv);
    return err_set(MAESTRO_ENOMEM, "maestro_graph_start: out of memory");
  }
  pthread_mutex_init(&sv->mu, NULL);
  sv->nlanes = n;
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

void serve_free(struct maestro_agent *a) {
  struct serve *sv = a->serve;
  if (!sv) return;
  for (struct job *j = sv->head, *nx; j; j = nx) {
    nx = j->next;
    for (int p = 0; p < a->n_in; p++)
      maestro_buf_release(j->in[p]);
    free(j);
  }
  pthread_mutex_destroy(&sv->mu);
  free(sv->lanes);
  free(sv);
  a->serve = NULL;
}

int serve_push(struct maestro_agent *a, int rank, uint64_t seq, maestro_buf_t **in) {
  struct serve *sv = a->serve;
  struct job *j = malloc(sizeof *j + (size_t)a->n_in * sizeof *j->in);
  if (!j) {
    for (int p = 0; p < a->n_in; p++)
      maestro_buf_release(in[p]);
    return err_set(MAESTRO_ENOMEM, "agent '%s': out of memory for a firing from rank %d", a->name,
                   rank);
  }
  j->next = NULL;
  j->rank = rank;
  j->seq = seq;
  j->t_in = rt_now_ns();
  memcpy(j->in, in, (size_t)a->n_in * sizeof *in);
  pthread_mutex_lock(&sv->mu);
  if (sv->tail)
    sv->tail->next = j;
  else
    sv->head = j;
  sv->tail = j;
  struct sched_task *t = &sv->lanes[sv->next];
  sv->next = (sv->next + 1) % sv->nlanes;
  pthread_mutex_unlock(&sv->mu);
  sched_notify(a->g->rt, t);
  return MAESTRO_OK;
}

/* Fires job `j` on CPU place `cpu` and hands its outcome to the backend. */
static void serve_fire(struct maestro_agent *a, struct job *j, int cpu) {
  struct maestro_graph *g = a->g;
  struct maestro_runtime *rt = g->rt;
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
  if (st >= 0 &&
      trace_on(rt)) { /* rank 0's trace shows its round trip, on the track of this rank */
    uint64_t bytes = 0;
    for (int p = 0; p < a->n_in; p++)
      bytes += j->in[p]->size;
    trace_fire_ns(rt, MAESTRO_PLACE_CPU, cpu, a->trace_name, j->seq, bytes, t0, t1, 0, 0);
  }
  /* Counted before the answer leaves: once rank 0 counts it, so does this rank. */
  if (st >= 0) atomic_fetch_add_explicit(&a->st.served, 1, memory_order_relaxed);
  /* This thread ran it: a failure's message is still here. */
  rt->dist->any_result(g, a, j->rank, j->seq, st, f.out, st >= 0 ? f.nout : 0,
                       st < 0 ? maestro_last_error() : NULL, t1 - t0,
                       t0 > j->t_in ? t0 - j->t_in : 0);
  f.nout = 0; /* the backend took them */
  run_fire_done(&f);
  for (int p = 0; p < a->n_in; p++)
    maestro_buf_release(j->in[p]);
  free(j);
  run_stats_flush(a, &rs, t1 - t0, MAESTRO_PLACE_CPU, cpu);
  sched_account(rt, MAESTRO_PLACE_CPU, cpu, t1 - t0, rs.fires);
}

int serve_task_run(struct maestro_agent *a, struct sched_task *t, int place) {
  (void)t;
  struct serve *sv = a->serve;
  for (int n = 0; n < AGENT_BATCH; n++) {
    pthread_mutex_lock(&sv->mu);
    struct job *j = sv->head;
    if (j && !(sv->head = j->next)) sv->tail = NULL;
    pthread_mutex_unlock(&sv->mu);
    if (!j) return TASK_WAIT;
    serve_fire(a, j, place);
  }
  return TASK_YIELD;
}
