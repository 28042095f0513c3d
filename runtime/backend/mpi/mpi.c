/* The MPI backend's entry points (core/dist.h): joining the ranks, and a
 * graph's life across them (check, start, settle, destroy). What moves
 * messages is the progress thread (progress.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/mpi/mpi_int.h"
#include "base/error.h"
#include "base/runtime.h"

/* Runtimes alive in the process that use MPI, and whether one of them
 * initialised it (then the last one to go finalises it). */
static pthread_mutex_t init_mu = PTHREAD_MUTEX_INITIALIZER;
static int init_users, init_ours;

static const char *thread_level(int l) {
  switch (l) {
  case MPI_THREAD_SINGLE: return "MPI_THREAD_SINGLE";
  case MPI_THREAD_FUNNELED: return "MPI_THREAD_FUNNELED";
  case MPI_THREAD_SERIALIZED: return "MPI_THREAD_SERIALIZED";
  default: return "MPI_THREAD_MULTIPLE";
  }
}

static int mpi_init(struct maestro_runtime *rt) {
  pthread_mutex_lock(&init_mu);
  int inited = 0, finalized = 0, level = MPI_THREAD_SINGLE;
  MPI_Initialized(&inited);
  MPI_Finalized(&finalized);
  int rc = MAESTRO_OK;
  if (finalized) {
    rc = err_set(MAESTRO_ESTATE, "maestro_runtime_create: cfg.dist 'mpi': MPI was already "
                                 "finalised in this process");
  } else if (!inited) {
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &level) != MPI_SUCCESS)
      rc = err_set(MAESTRO_ESYS, "maestro_runtime_create: cfg.dist 'mpi': MPI_Init_thread failed");
    else
      init_ours = 1;
  } else {
    MPI_Query_thread(&level);
  }
  if (!rc && level < MPI_THREAD_MULTIPLE)
    rc = err_set(MAESTRO_EINVAL,
                 "maestro_runtime_create: cfg.dist 'mpi': MPI gives %s; Maestro needs "
                 "MPI_THREAD_MULTIPLE (initialise MPI with MPI_Init_thread asking for it, or let "
                 "Maestro initialise it)",
                 thread_level(level));
  if (!rc) init_users++;
  pthread_mutex_unlock(&init_mu);
  if (rc) return rc;

  struct mpi_rt *m = calloc(1, sizeof *m);
  if (!m) {
    rc = err_set(MAESTRO_ENOMEM, "maestro_runtime_create: out of memory");
    goto undo;
  }
  m->rt = rt;
  MPI_Comm_rank(MPI_COMM_WORLD, &m->rank);
  MPI_Comm_size(MPI_COMM_WORLD, &m->nranks);
  pthread_mutex_init(&m->list_mu, NULL);
  pthread_mutex_init(&m->mu, NULL);
  pthread_cond_init(&m->cv, NULL);
  atomic_init(&m->kick, 0);
  atomic_init(&m->sleeping, 0);
  atomic_init(&m->quit, 0);
  if (pthread_create(&m->thr, NULL, mpi_progress_main, m) != 0) {
    pthread_mutex_destroy(&m->list_mu);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    free(m);
    rc = err_set(MAESTRO_ESYS, "maestro_runtime_create: cannot start the MPI progress thread");
    goto undo;
  }
  m->thr_started = 1;
  rt->rank = m->rank;
  rt->nranks = m->nranks;
  rt->dist_state = m;
  return MAESTRO_OK;
undo:
  pthread_mutex_lock(&init_mu);
  if (--init_users == 0 && init_ours) {
    MPI_Finalize();
    init_ours = 0;
  }
  pthread_mutex_unlock(&init_mu);
  return rc;
}

static void mpi_fini(struct maestro_runtime *rt) {
  struct mpi_rt *m = rt->dist_state;
  if (!m) return;
  atomic_store(&m->quit, 1);
  mpi_kick(m);
  pthread_join(m->thr, NULL);
  pthread_mutex_destroy(&m->list_mu);
  pthread_mutex_destroy(&m->mu);
  pthread_cond_destroy(&m->cv);
  free(m);
  rt->dist_state = NULL;
  pthread_mutex_lock(&init_mu);
  if (--init_users == 0 && init_ours) {
    /* Every rank reaches this point: a barrier keeps a rank from
     * finalising while another still talks to it. */
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Finalize();
    init_ours = 0;
  }
  pthread_mutex_unlock(&init_mu);
}

static int rank_of(const struct maestro_agent *a) {
  return a->affinity.rank == MAESTRO_RANK_ANY ? 0 : a->affinity.rank;
}

static void mg_free(struct mgraph *mg) {
  mpi_any_free(mg);
  for (int i = 0; i < mg->nch; i++) {
    struct rch *r = &mg->ch[i];
    for (int k = 0; k < r->qn; k++) {
      struct rx *x = &r->q[(r->qhead + k) % r->qcap];
      if (x->req != MPI_REQUEST_NULL) {
        MPI_Cancel(&x->req);
        MPI_Wait(&x->req, MPI_STATUS_IGNORE);
      }
      maestro_buf_release(x->b);
    }
    free(r->q);
  }
  for (int i = 0; i < MPI_NRX; i++) {
    if (i < mg->rx_posted && mg->rxr[i] != MPI_REQUEST_NULL) {
      MPI_Cancel(&mg->rxr[i]);
      MPI_Wait(&mg->rxr[i], MPI_STATUS_IGNORE);
    }
    free(mg->rxbuf[i]);
  }
  for (int i = 0; i < mg->ntx; i++) {
    MPI_Wait(&mg->txr[i], MPI_STATUS_IGNORE);
    if (mg->txe[i].b) maestro_buf_release(mg->txe[i].b);
    free(mg->txe[i].mem);
  }
  for (struct out_letter *l = mg->lhead, *n; l; l = n) {
    n = l->next;
    maestro_buf_release(l->b);
    free(l);
  }
  for (int i = 0; i < mg->nlin; i++) {
    if (mg->lin[i].req != MPI_REQUEST_NULL) {
      MPI_Cancel(&mg->lin[i].req);
      MPI_Wait(&mg->lin[i].req, MPI_STATUS_IGNORE);
    }
    maestro_buf_release(mg->lin[i].b);
  }
  free(mg->lin);
  free(mg->ends);
  for (int r = 0; mg->out && r < mg->m->nranks; r++)
    free(mg->out[r].data);
  free(mg->out);
  free(mg->txr);
  free(mg->txe);
  free(mg->ch);
  free(mg->by_idx);
  free(mg->wake);
  if (mg->comm != MPI_COMM_NULL) MPI_Comm_free(&mg->comm);
  pthread_mutex_destroy(&mg->mu);
  pthread_mutex_destroy(&mg->pass_mu);
  pthread_mutex_destroy(&mg->letters_mu);
  pthread_cond_destroy(&mg->cv);
  free(mg);
}

static int mpi_graph_check(struct maestro_graph *g) {
  struct mpi_rt *m = g->rt->dist_state;
  MPI_Comm comm;
  /* A communicator of its own: its messages never meet another graph's. */
  MPI_Comm_dup(MPI_COMM_WORLD, &comm);
  int rc = mpi_graph_same(m, g, comm);
  if (rc) {
    MPI_Comm_free(&comm);
    return rc;
  }
  struct mgraph *mg = calloc(1, sizeof *mg);
  if (!mg) {
    MPI_Comm_free(&comm);
    return err_set(MAESTRO_ENOMEM, "maestro_graph_start: out of memory");
  }
  mg->g = g;
  mg->m = m;
  mg->comm = comm;
  pthread_mutex_init(&mg->mu, NULL);
  pthread_mutex_init(&mg->pass_mu, NULL);
  pthread_mutex_init(&mg->letters_mu, NULL);
  pthread_cond_init(&mg->cv, NULL);
  atomic_init(&mg->stop_pending, 0);
  for (int i = 0; i < MPI_NRX; i++)
    mg->rxr[i] = MPI_REQUEST_NULL;
  g->dist = mg;
  /* MAESTRO_RANK_ANY agents: the links they may use are measured now, while
   * every rank is here. */
  rc = mpi_any_check(mg);
  if (rc) {
    g->dist = NULL;
    mg_free(mg);
  }
  return rc;
}

static int mpi_graph_start(struct maestro_graph *g) {
  struct mgraph *mg = g->dist;
  struct mpi_rt *m = mg->m;
  int n = 0;
  for (struct chan *c = g->chans; c; c = c->next)
    n++;
  mg->nidx = n;
  mg->by_idx = calloc((size_t)n + 1, sizeof *mg->by_idx);
  mg->ch = calloc((size_t)n + 1, sizeof *mg->ch);
  mg->wake = calloc((size_t)n + 1, sizeof *mg->wake);
  mg->out = calloc((size_t)m->nranks, sizeof *mg->out);
  mg->ends = calloc((size_t)m->nranks, sizeof *mg->ends);
  for (int i = 0; i < MPI_NRX; i++)
    if (!(mg->rxbuf[i] = malloc(MPI_PKT_MAX))) n = -1;
  if (!mg->by_idx || !mg->ch || !mg->wake || !mg->out || !mg->ends || n < 0)
    return err_set(MAESTRO_ENOMEM, "maestro_graph_start: out of memory");
  int k = 0;
  for (struct chan *c = g->chans; c; c = c->next, k++) {
    if (!c->prod || !c->cons || c->prod->remote == c->cons->remote) continue;
    struct rch *r = &mg->ch[mg->nch];
    r->mg = mg;
    r->c = c;
    r->idx = k;
    r->send = !c->prod->remote;
    r->peer = r->send ? rank_of(c->cons) : rank_of(c->prod);
    r->prod = c->prod;
    r->cons = c->cons;
    r->credits = c->capacity;
    if (!r->send) {
      r->qcap = c->capacity;
      if (!(r->q = calloc((size_t)r->qcap, sizeof *r->q)))
        return err_set(MAESTRO_ENOMEM, "maestro_graph_start: out of memory");
    }
    mg->by_idx[k] = r;
    mg->nch++;
  }
  /* Rewired last, when nothing can fail any more (graph_destroy puts back). */
  for (int i = 0; i < mg->nch; i++) {
    struct rch *r = &mg->ch[i];
    if (r->send)
      r->c->cons = NULL;
    else
      r->c->prod = NULL;
    r->c->remote = r;
    r->c->remote_rank = r->peer;
  }
  /* Rank 0's graph finishes once every other rank's letters are in its
   * dead-letter output (each rank's end of letters releases one hold). */
  if (m->rank == 0)
    for (int r = 1; r < m->nranks; r++)
      graph_hold(g);
  return MAESTRO_OK;
}

static void mpi_graph_run(struct maestro_graph *g) {
  struct mgraph *mg = g->dist;
  struct mpi_rt *m = mg->m;
  for (int i = 0; i < MPI_NRX; i++)
    MPI_Irecv(mg->rxbuf[i], MPI_PKT_MAX, MPI_BYTE, MPI_ANY_SOURCE, MPI_TAG_PKT, mg->comm,
              &mg->rxr[i]);
  mg->rx_posted = MPI_NRX;
  pthread_mutex_lock(&m->list_mu);
  mg->next = m->graphs;
  m->graphs = mg;
  pthread_mutex_unlock(&m->list_mu);
  mpi_kick(m);
}

static void mpi_graph_settle(struct maestro_graph *g) {
  struct mgraph *mg = g->dist;
  struct mpi_rt *m = mg->m;
  pthread_mutex_lock(&mg->mu);
  while (!mg->drained)
    pthread_cond_wait(&mg->cv, &mg->mu);
  pthread_mutex_unlock(&mg->mu);
  int mine[3];
  pthread_mutex_lock(&g->mu);
  mine[0] = g->failed;
  mine[1] = g->fail_status;
  mine[2] = atomic_load(&g->cancelled);
  pthread_mutex_unlock(&g->mu);
  int *all = malloc(sizeof(int) * 3 * (size_t)m->nranks);
  int dummy[3];
  MPI_Allgather(mine, 3, MPI_INT, all ? all : dummy, 3, MPI_INT, mg->comm);
  /* The outcome of the lowest rank that failed is everyone's (each rank
   * recorded the first failure it saw, its own or one told by another). */
  int root = -1, cancelled = 0, status = 0;
  for (int r = 0; all && r < m->nranks; r++) {
    if (all[3 * r] && root < 0) root = r, status = all[3 * r + 1];
    if (all[3 * r + 2]) cancelled = 1;
  }
  free(all);
  if (root >= 0) {
    char msg[sizeof g->fail_msg];
    if (m->rank == root) memcpy(msg, g->fail_msg, sizeof msg);
    MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, root, mg->comm);
    msg[sizeof msg - 1] = '\0';
    pthread_mutex_lock(&g->mu);
    g->failed = 1;
    g->fail_status = status;
    memcpy(g->fail_msg, msg, sizeof msg);
    atomic_store(&g->cancelled, 0);
    pthread_mutex_unlock(&g->mu);
  } else if (cancelled) {
    atomic_store(&g->cancelled, 1);
  }
  pthread_mutex_lock(&mg->mu);
  mg->quiet = 1;
  pthread_mutex_unlock(&mg->mu);
}

static void mpi_graph_stopped(struct maestro_graph *g) {
  struct mgraph *mg = g->dist;
  atomic_store(&mg->stop_pending, 1);
  mpi_kick(mg->m);
}

static void mpi_graph_destroy(struct maestro_graph *g) {
  struct mgraph *mg = g->dist;
  if (!mg) return;
  struct mpi_rt *m = mg->m;
  pthread_mutex_lock(&m->list_mu);
  for (struct mgraph **pp = &m->graphs; *pp; pp = &(*pp)->next)
    if (*pp == mg) {
      *pp = mg->next;
      break;
    }
  pthread_mutex_unlock(&m->list_mu);
  for (int i = 0; i < mg->nch; i++) {
    struct rch *r = &mg->ch[i];
    r->c->prod = r->prod;
    r->c->cons = r->cons;
    r->c->remote = NULL;
  }
  mg_free(mg);
  g->dist = NULL;
}

static void mpi_notify(struct maestro_runtime *rt, struct chan *c) {
  /* A producer's messages leave from its own thread when they can: one
   * wake-up and one pass fewer on every message's way. */
  struct rch *r = c->remote;
  if (r && r->send && mpi_send_now(r)) return;
  mpi_kick(rt->dist_state);
}

static int mpi_letter(struct maestro_graph *g, maestro_buf_t *b, const maestro_letter_t *why) {
  struct mgraph *mg = g->dist;
  if (!mg || mg->m->rank == 0) return 0;
  struct out_letter *l = malloc(sizeof *l);
  if (!l) return 0; /* kept here rather than lost */
  l->b = b;
  l->why = *why;
  l->next = NULL;
  pthread_mutex_lock(&mg->letters_mu);
  int closed = mg->letters_closed; /* made after the graph finished here (a late push) */
  if (!closed) {
    if (mg->ltail)
      mg->ltail->next = l;
    else
      mg->lhead = l;
    mg->ltail = l;
  }
  pthread_mutex_unlock(&mg->letters_mu);
  if (closed) {
    free(l);
    return 0;
  }
  mpi_kick(mg->m);
  return 1; // cppcheck-suppress memleak ; `l` is on mg's letter list
}

const struct dist_ops mpi_dist_ops = {
    .name = "mpi",
    .init = mpi_init,
    .fini = mpi_fini,
    .graph_check = mpi_graph_check,
    .graph_start = mpi_graph_start,
    .graph_run = mpi_graph_run,
    .graph_settle = mpi_graph_settle,
    .graph_stopped = mpi_graph_stopped,
    .graph_destroy = mpi_graph_destroy,
    .notify = mpi_notify,
    .letter = mpi_letter,
    .any_submit = mpi_any_submit,
    .any_result = mpi_any_result,
    .any_over = mpi_any_over,
};
