/* MAESTRO_RANK_ANY agents across ranks (core/dist.h): rank 0 owns such an
 * agent; its window sends some firings' inputs to other ranks, which fire
 * the agent there and send the outputs back.
 *
 * On the wire (records in the packets of progress.c, 8-byte aligned;
 * `chan` is the agent's index in the graph, `seq` the firing's number):
 *   REC_FIRE_IN   rank 0 -> r: one input of a firing (aux: port << 1 | 1
 *                 when its bytes follow inline, else they come on
 *                 MPI_TAG_ANY); the last port completes the firing.
 *   REC_RES_OUT   r -> rank 0: one message the firing sent, the same way.
 *   REC_RES_END   r -> rank 0: the firing's end: size = status, dims[0] =
 *                 messages sent, dims[1] = ns it ran, dims[2] = bytes of
 *                 its failure's message, which follow, origin = ns it
 *                 waited there for a place, aux = 1 when it ran on a
 *                 device there (else 0: a CPU place).
 *   REC_ANY_END   rank 0 -> r: no firing will come any more.
 * The records of one firing are put together, so each sender has at most
 * one firing being assembled at the receiver; large bytes on MPI_TAG_ANY
 * are received in record order, as MPI_TAG_BIG ones are (progress.c).
 *
 * Flow control: rank 0's window sends at most its credits to each rank
 * (core/window.c), so what waits here and there stays bounded.
 *
 * The cost model's figures (core/dist.h, struct dist_link) are measured at
 * start: a ping-pong of 8 bytes and one of 1 MiB between rank 0 and each
 * other rank, and each rank's CPU places and devices. Each answer then says
 * how long its firing waited and ran there, so that rank 0's window learns
 * the rest of the round trip (core/window.c).
 *
 * An answer always goes back, even without memory for it: a serving rank
 * keeps a spare record per firing it may hold (DIST_ANY_CREDITS per
 * agent), taken when the outcome, or the firing itself (serve_push),
 * cannot be queued; it answers MAESTRO_ENOMEM without outputs, and the
 * graph fails on every rank. Without it rank 0's window would wait for
 * that firing, and every rank's maestro_graph_wait with it. */
#include <stdlib.h>
#include <string.h>

#include "backend/mpi/mpi_int.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/fault.h"
#include "base/runtime.h"
#include "core/fire.h"
#include "mem/buf.h"
#include "sched/place.h"

enum { REC_FIRE_IN = REC_ANY_FIRST, REC_RES_OUT, REC_RES_END, REC_ANY_END };

#define LINK_SMALL_ROUNDS 20
#define LINK_BIG_ROUNDS   3
#define LINK_BIG_BYTES    (1 << 20)

/* Queued by any thread for the progress thread to send. */
struct any_out {
  struct any_out *next;
  int result; /* 0: a firing's inputs (rank 0), 1: its outcome (another rank) */
  int agent, rank, status, n;
  int on_dev; /* an outcome: it ran on a device */
  int spare;  /* one of mpi_any.spare: back there once sent */
  uint64_t seq, busy_ns, wait_ns;
  char *why;
  const char *why_static; /* a spare's message */
  struct staged b[];      /* inputs (port = index) or sends */
};

/* Arriving: a firing's inputs, or its outcome. */
struct any_in {
  struct any_in *next;
  int result, agent, src, status, n, cap, complete, on_dev;
  uint64_t seq, busy_ns, wait_ns;
  char *why;
  struct staged *b;
  MPI_Request *req; /* per message: MPI_REQUEST_NULL once its bytes are there */
};

struct mpi_any {
  pthread_mutex_t mu; /* the queue */
  struct any_out *head, *tail;
  struct any_in **open; /* per rank: the one being assembled */
  struct any_in *pend;  /* complete records, waiting for their bytes */
  struct dist_link *links;
  struct any_out *spare; /* another rank: answers that need no memory */
  int n_any;             /* agents win_any_agent */
  atomic_int over;       /* rank 0: how many of them finished (any_over) */
  int end_sent;          /* rank 0: REC_ANY_END sent to every rank */
  int end_in;            /* another rank: REC_ANY_END came */
  int served;            /* another rank: firings received and not answered yet */
  int sent;              /* rank 0: firings sent and not answered yet */
  int big_pending;
};

/* ---- start: the links ---- */

static void link_measure(struct mgraph *mg, struct dist_link *L) {
  int me = mg->m->rank, n = mg->m->nranks;
  char small[8] = {0};
  char *big = calloc(1, LINK_BIG_BYTES);
  for (int r = 1; r < n; r++) {
    if (me != 0 && me != r) continue;
    int peer = me == 0 ? r : 0;
    double rtt = 0, bigt = 0;
    for (int i = 0; i < LINK_SMALL_ROUNDS + LINK_BIG_ROUNDS; i++) {
      int isbig = i >= LINK_SMALL_ROUNDS && big;
      int bytes = isbig ? LINK_BIG_BYTES : (int)sizeof small;
      char *buf = isbig ? big : small;
      uint64_t t0 = rt_now_ns();
      if (me == 0) {
        MPI_Send(buf, bytes, MPI_BYTE, peer, MPI_TAG_LINK, mg->comm);
        MPI_Recv(small, (int)sizeof small, MPI_BYTE, peer, MPI_TAG_LINK, mg->comm,
                 MPI_STATUS_IGNORE);
      } else {
        MPI_Recv(buf, bytes, MPI_BYTE, peer, MPI_TAG_LINK, mg->comm, MPI_STATUS_IGNORE);
        MPI_Send(small, (int)sizeof small, MPI_BYTE, peer, MPI_TAG_LINK, mg->comm);
      }
      double t = (double)(rt_now_ns() - t0);
      /* The fastest round: a busy machine only ever makes them slower. */
      if (i >= 2 && i < LINK_SMALL_ROUNDS && (rtt == 0 || t < rtt)) rtt = t;
      if (isbig && (bigt == 0 || t < bigt)) bigt = t;
    }
    if (me == 0) {
      L[r].lat_ns = rtt / 2;
      L[r].ns_per_byte = bigt > rtt ? (bigt - rtt) / LINK_BIG_BYTES : 0;
    }
  }
  free(big);
}

int mpi_any_check(struct mgraph *mg) {
  struct maestro_graph *g = mg->g;
  int n_any = 0;
  for (int i = 0; i < g->nagents; i++)
    n_any += win_any_agent(g->agents[i]);
  if (!n_any) return MAESTRO_OK;
  int nranks = mg->m->nranks;
  struct mpi_any *x = calloc(1, sizeof *x);
  int ok = x != NULL;
  if (x) {
    x->links = calloc((size_t)nranks, sizeof *x->links);
    x->open = calloc((size_t)nranks, sizeof *x->open);
    ok = x->links && x->open;
  }
  /* A rank serving firings answers each, even without memory (spares). */
  for (int k = 0; ok && mg->m->rank != 0 && k < n_any * DIST_ANY_CREDITS; k++) {
    struct any_out *o = calloc(1, sizeof *o);
    if (!o) {
      ok = 0;
      break;
    }
    o->spare = 1;
    o->next = x->spare;
    x->spare = o;
  }
  /* Devices count for an agent with a device implementation (the same on
   * every rank): found now, before the graph's start would find them. */
  int devs = 0;
  for (int i = 0; i < g->nagents; i++) {
    struct maestro_agent *a = g->agents[i];
    if (win_any_agent(a) && (a->kernel || a->cl) && a->affinity.pref != MAESTRO_ON_CPU &&
        place_discover(g->rt) == MAESTRO_OK)
      devs = atomic_load(&g->rt->ndev);
  }
  /* Every rank takes part in what follows, whatever its memory. */
  int mine[3] = {g->rt->ncpu, devs, ok}, *all = malloc(sizeof(int) * 3 * (size_t)nranks), dummy[3];
  MPI_Allgather(mine, 3, MPI_INT, all ? all : dummy, 3, MPI_INT, mg->comm);
  int every = all != NULL && ok;
  for (int r = 0; all && r < nranks; r++)
    every &= all[3 * r + 2];
  MPI_Allreduce(MPI_IN_PLACE, &every, 1, MPI_INT, MPI_MIN, mg->comm);
  /* The checks after !every imply it (said for the analyzer). */
  if (!every || !x || !x->links || !x->open || !all) {
    free(all);
    if (x) {
      for (struct any_out *o = x->spare, *nx; o; o = nx) {
        nx = o->next;
        free(o);
      }
      free(x->links);
      free(x->open);
      free(x);
    }
    return err_set(MAESTRO_ENOMEM, "maestro_graph_start: graph '%s': out of memory", g->name);
  }
  for (int r = 0; r < nranks; r++) {
    x->links[r].lanes = all[3 * r];
    x->links[r].devs = all[3 * r + 1];
  }
  free(all);
  link_measure(mg, x->links);
  pthread_mutex_init(&x->mu, NULL);
  atomic_init(&x->over, 0);
  x->n_any = n_any;
  mg->any = x;
  g->links = x->links;
  return MAESTRO_OK;
}

static void in_free(struct any_in *in) {
  for (int k = 0; k < in->n; k++) {
    if (in->req[k] != MPI_REQUEST_NULL) {
      MPI_Cancel(&in->req[k]);
      MPI_Wait(&in->req[k], MPI_STATUS_IGNORE);
    }
    maestro_buf_release(in->b[k].b);
  }
  free(in->b);
  free(in->req);
  free(in->why);
  free(in);
}

void mpi_any_free(struct mgraph *mg) {
  struct mpi_any *x = mg->any;
  if (!x) return;
  for (struct any_out *o = x->head, *nx; o; o = nx) {
    nx = o->next;
    for (int k = 0; k < o->n; k++)
      maestro_buf_release(o->b[k].b);
    free(o->why);
    free(o);
  }
  for (struct any_out *o = x->spare, *nx; o; o = nx) {
    nx = o->next;
    free(o);
  }
  for (int r = 0; r < mg->m->nranks; r++)
    if (x->open[r]) in_free(x->open[r]);
  for (struct any_in *in = x->pend, *nx; in; in = nx) {
    nx = in->next;
    in_free(in);
  }
  pthread_mutex_destroy(&x->mu);
  mg->g->links = NULL;
  free(x->links);
  free(x->open);
  free(x);
  mg->any = NULL;
}

/* ---- queued by any thread ---- */

static int agent_index(struct maestro_graph *g, struct maestro_agent *a) {
  for (int i = 0; i < g->nagents; i++)
    if (g->agents[i] == a) return i;
  return -1;
}

static void enqueue(struct mgraph *mg, struct any_out *o) {
  struct mpi_any *x = mg->any;
  o->next = NULL;
  pthread_mutex_lock(&x->mu);
  if (x->tail)
    x->tail->next = o;
  else
    x->head = o;
  x->tail = o;
  pthread_mutex_unlock(&x->mu);
  mpi_kick(mg->m);
}

int mpi_any_submit(struct maestro_graph *g, struct maestro_agent *a, int rank, uint64_t seq,
                   maestro_buf_t *const *in) {
  struct mgraph *mg = g->dist;
  struct any_out *o = calloc(1, sizeof *o + (size_t)a->n_in * sizeof *o->b);
  if (!o)
    return err_set(MAESTRO_ENOMEM, "agent '%s': out of memory for a firing on rank %d", a->name,
                   rank);
  o->agent = agent_index(g, a);
  o->rank = rank;
  o->seq = seq;
  o->n = a->n_in;
  for (int p = 0; p < a->n_in; p++)
    o->b[p] = (struct staged){p, maestro_buf_retain(in[p])};
  enqueue(mg, o);
  return MAESTRO_OK;
}

/* A spare answer of `status` without outputs, queued for rank `rank`:
 * nothing is allocated. 0, or -1 when none is left (more firings held
 * than rank 0's credits allow: not expected). */
static int answer_spare(struct mgraph *mg, int agent, int rank, uint64_t seq, int status,
                        const char *why) {
  struct mpi_any *x = mg->any;
  pthread_mutex_lock(&x->mu);
  struct any_out *o = x->spare;
  if (o) x->spare = o->next;
  pthread_mutex_unlock(&x->mu);
  if (!o) return -1;
  o->result = 1;
  o->agent = agent;
  o->rank = rank;
  o->seq = seq;
  o->status = status;
  o->n = 0;
  o->on_dev = 0;
  o->busy_ns = o->wait_ns = 0;
  o->why = NULL;
  o->why_static = why;
  enqueue(mg, o);
  return 0;
}

void mpi_any_result(struct maestro_graph *g, struct maestro_agent *a, int rank, uint64_t seq,
                    int status, const struct staged *out, int nout, const char *why,
                    uint64_t busy_ns, uint64_t wait_ns, int on_dev) {
  struct mgraph *mg = g->dist;
  struct any_out *o = fault_hit(&g->rt->fault, FAULT_ANSWER)
                          ? NULL
                          : calloc(1, sizeof *o + (size_t)nout * sizeof *o->b);
  if (o && status < 0 && why && why[0] && !(o->why = strdup(why))) {
    free(o);
    o = NULL;
  }
  if (!o) {
    /* The firing's outputs are lost: the graph fails, here and, by the
     * spare answer, on rank 0 (which names agent and rank), whose window
     * would wait for the firing otherwise. */
    for (int k = 0; k < nout; k++)
      maestro_buf_release(out[k].b);
    mpi_graph_fail(mg, MAESTRO_ENOMEM,
                   "agent '%s': out of memory for the outcome of firing %llu (from rank %d)",
                   a->name, (unsigned long long)seq, rank);
    if (answer_spare(mg, agent_index(g, a), rank, seq, MAESTRO_ENOMEM,
                     "out of memory for the outcome of a firing on the rank that ran it"))
      mpi_graph_fail(mg, MAESTRO_ENOMEM, "agent '%s': no spare answer for firing %llu", a->name,
                     (unsigned long long)seq);
    return;
  }
  o->result = 1;
  o->agent = agent_index(g, a);
  o->rank = rank;
  o->seq = seq;
  o->status = status;
  o->on_dev = on_dev;
  o->busy_ns = busy_ns;
  o->wait_ns = wait_ns;
  o->n = nout;
  if (nout) memcpy(o->b, out, (size_t)nout * sizeof *out);
  enqueue(mg, o);
}

void mpi_any_over(struct maestro_graph *g, struct maestro_agent *a) {
  (void)a;
  struct mgraph *mg = g->dist;
  atomic_fetch_add(&mg->any->over, 1);
  mpi_kick(mg->m);
}

/* ---- the progress thread ---- */

/* One message of a firing to `peer`: inline, or its bytes on MPI_TAG_ANY. */
static int send_one(struct mgraph *mg, int peer, int kind, int agent, uint64_t seq, int port,
                    maestro_buf_t *b) {
  struct rec h = {.kind = (uint32_t)kind, .chan = (uint32_t)agent, .seq = seq, .size = b->size};
  h.ndim = b->ndim;
  h.origin = atomic_load_explicit(&b->origin, memory_order_relaxed);
  for (int d = 0; d < b->ndim && d < 3; d++)
    h.dims[d] = b->dims[d];
  const void *bytes = b->size ? maestro_buf_cdata(b) : NULL;
  if (b->size && !bytes) {
    mpi_graph_fail(mg, MAESTRO_ENOMEM, "a message of %zu bytes for rank %d: no host copy", b->size,
                   peer);
    maestro_buf_release(b);
    return -1;
  }
  if (b->size > (size_t)0x7fffffff) {
    mpi_graph_fail(mg, MAESTRO_EINVAL,
                   "a message of %zu bytes of agent '%s': more than 2 GiB cannot cross ranks",
                   b->size, mg->g->agents[agent]->name);
    maestro_buf_release(b);
    return -1;
  }
  int inl = b->size <= MPI_INLINE_MAX;
  h.aux = port << 1 | inl;
  if (mpi_put_rec(mg, peer, &h, inl ? bytes : NULL, inl ? b->size : 0)) {
    mpi_graph_fail(mg, MAESTRO_ENOMEM, "out of memory for a packet to rank %d", peer);
    maestro_buf_release(b);
    return -1;
  }
  if (inl) {
    maestro_buf_release(b);
    return 0;
  }
  /* From the buffer itself, which the send holds until MPI is done. */
  MPI_Request req;
  MPI_Isend(bytes, (int)b->size, MPI_BYTE, peer, MPI_TAG_ANY, mg->comm, &req);
  mpi_tx_add(mg, b, NULL, req);
  return 0;
}

static void send_out(struct mgraph *mg, struct any_out *o) {
  int kind = o->result ? REC_RES_OUT : REC_FIRE_IN;
  int k = 0;
  for (; k < o->n; k++)
    if (send_one(mg, o->rank, kind, o->agent, o->seq, o->b[k].port, o->b[k].b)) break;
  for (k++; k < o->n; k++) /* after a failure: the graph stops */
    maestro_buf_release(o->b[k].b);
  if (o->result) {
    const char *why = o->why ? o->why : o->why_static;
    size_t n = why ? strlen(why) : 0;
    struct rec h = {.kind = REC_RES_END, .chan = (uint32_t)o->agent, .seq = o->seq};
    h.size = (uint64_t)(int64_t)o->status;
    h.aux = o->on_dev ? 1 : 0;
    h.dims[0] = (uint64_t)o->n;
    h.dims[1] = o->busy_ns;
    h.dims[2] = n;
    h.origin = o->wait_ns;
    if (mpi_put_rec(mg, o->rank, &h, why, n))
      mpi_graph_fail(mg, MAESTRO_ENOMEM, "out of memory for a packet to rank %d", o->rank);
    mg->any->served--;
  } else {
    mg->any->sent++;
  }
  free(o->why);
  if (o->spare) {
    o->why = NULL;
    o->why_static = NULL;
    pthread_mutex_lock(&mg->any->mu);
    o->next = mg->any->spare;
    mg->any->spare = o;
    pthread_mutex_unlock(&mg->any->mu);
    return;
  }
  free(o);
}

size_t mpi_any_body(const struct rec *h) {
  if (h->kind == REC_FIRE_IN || h->kind == REC_RES_OUT) return h->aux & 1 ? h->size : 0;
  if (h->kind == REC_RES_END) return h->dims[2];
  return 0;
}

/* The firing being assembled from `src`, made when `h` starts a new one. */
static struct any_in *open_in(struct mgraph *mg, const struct rec *h, int src, int result) {
  struct mpi_any *x = mg->any;
  struct any_in *in = x->open[src];
  if (in && in->seq == h->seq && in->agent == (int)h->chan && in->result == result) return in;
  if (in) return NULL; /* the previous one never ended */
  struct maestro_agent *a = mg->g->agents[h->chan];
  int cap = result ? (int)h->dims[0] + 1 : a->n_in;
  if (result && h->kind == REC_RES_OUT) cap = FIRE_INLINE_OUT;
  if (!(in = calloc(1, sizeof *in))) return NULL;
  in->result = result;
  in->agent = (int)h->chan;
  in->src = src;
  in->seq = h->seq;
  in->cap = cap > 0 ? cap : 1;
  in->b = calloc((size_t)in->cap, sizeof *in->b);
  in->req = calloc((size_t)in->cap, sizeof *in->req);
  if (!in->b || !in->req) {
    free(in->b);
    free(in->req);
    free(in);
    return NULL;
  }
  x->open[src] = in;
  return in;
}

/* One message of a firing, into `in`. */
static int take_msg(struct mgraph *mg, struct any_in *in, const struct rec *h, const char *body,
                    int src) {
  if (in->n == in->cap) {
    int cap = in->cap * 2;
    struct staged *b = realloc(in->b, (size_t)cap * sizeof *b);
    if (b) in->b = b;
    MPI_Request *r = b ? realloc(in->req, (size_t)cap * sizeof *r) : NULL;
    if (!r) return -1;
    in->req = r;
    in->cap = cap;
  }
  maestro_buf_t *b;
  if (maestro_buf_create(mg->g->rt, h->size, &b) != MAESTRO_OK) return -1;
  atomic_store_explicit(&b->origin, h->origin, memory_order_relaxed);
  if (h->ndim > 0 && h->ndim <= 3) {
    b->ndim = h->ndim;
    for (int d = 0; d < h->ndim; d++)
      b->dims[d] = h->dims[d];
  }
  in->req[in->n] = MPI_REQUEST_NULL;
  in->b[in->n] = (struct staged){h->aux >> 1, b};
  if (h->aux & 1) {
    if (h->size) memcpy(maestro_buf_data(b), body, h->size);
  } else {
    MPI_Irecv(maestro_buf_data(b), (int)h->size, MPI_BYTE, src, MPI_TAG_ANY, mg->comm,
              &in->req[in->n]);
    mg->any->big_pending++;
  }
  in->n++;
  return 0;
}

static void complete(struct mgraph *mg, struct any_in *in) {
  struct mpi_any *x = mg->any;
  x->open[in->src] = NULL;
  in->complete = 1;
  in->next = x->pend;
  x->pend = in;
}

int mpi_any_record(struct mgraph *mg, const struct rec *h, const char *body, int src) {
  struct mpi_any *x = mg->any;
  struct maestro_graph *g = mg->g;
  int me = mg->m->rank;
  if (h->kind == REC_ANY_END) {
    if (!x || me == 0 || src != 0) goto bad;
    x->end_in = 1;
    return 0;
  }
  int result = h->kind != REC_FIRE_IN;
  /* Firings come from rank 0 to the others, their outcomes go back. */
  if (!x || h->kind > REC_RES_END || h->chan >= (uint32_t)g->nagents ||
      !win_any_agent(g->agents[h->chan]) || (result ? me != 0 : src != 0 || me == 0))
    goto bad;
  struct maestro_agent *a = g->agents[h->chan];
  struct any_in *in = open_in(mg, h, src, result);
  if (!in) {
    mpi_graph_fail(mg, MAESTRO_ENOMEM,
                   "firing %llu of agent '%s' from rank %d: out of memory, or it came unfinished",
                   (unsigned long long)h->seq, a->name, src);
    return -1;
  }
  if (h->kind == REC_RES_END) {
    in->status = (int)(int64_t)h->size;
    in->on_dev = h->aux == 1;
    in->busy_ns = h->dims[1];
    in->wait_ns = h->origin;
    size_t n = (size_t)h->dims[2];
    if (n && (in->why = malloc(n + 1))) {
      memcpy(in->why, body, n);
      in->why[n] = '\0';
    }
    if ((uint64_t)in->n != h->dims[0]) {
      mpi_graph_fail(mg, MAESTRO_EINVAL, "firing %llu of agent '%s' from rank %d: %d of %llu sends",
                     (unsigned long long)h->seq, a->name, src, in->n,
                     (unsigned long long)h->dims[0]);
      return -1;
    }
    complete(mg, in);
    return 0;
  }
  int port = h->aux >> 1;
  if (port < 0 || port >= (result ? a->n_out : a->n_in) || (!result && port != in->n)) goto bad;
  if (take_msg(mg, in, h, body, src)) {
    mpi_graph_fail(mg, MAESTRO_ENOMEM, "no memory for a message of %llu bytes from rank %d",
                   (unsigned long long)h->size, src);
    return -1;
  }
  if (!result && in->n == a->n_in) complete(mg, in);
  return 0;
bad:
  mpi_graph_fail(
      mg, MAESTRO_EINVAL,
      "rank %d sent a MAESTRO_RANK_ANY record %u for agent %u that this rank cannot take", src,
      h->kind, h->chan);
  return -1;
}

/* Hands a firing whose bytes are all there to the engine. */
static void deliver(struct mgraph *mg, struct any_in *in) {
  struct maestro_agent *a = mg->g->agents[in->agent];
  if (in->result) {
    mg->any->sent--;
    if (win_any_done(a, in->seq, in->src, in->status, in->b, in->n, in->why, in->busy_ns,
                     in->wait_ns, in->on_dev))
      mpi_graph_fail(mg, MAESTRO_EINVAL,
                     "rank %d answered firing %llu of agent '%s', not in flight", in->src,
                     (unsigned long long)in->seq, a->name);
  } else {
    maestro_buf_t *bufs[64], **p = a->n_in <= 64 ? bufs : malloc(sizeof *p * (size_t)a->n_in);
    int rc = MAESTRO_ENOMEM;
    mg->any->served++; /* answered, whatever happens (send_out counts it back) */
    if (!p) {
      for (int k = 0; k < in->n; k++)
        maestro_buf_release(in->b[k].b);
      err_set(MAESTRO_ENOMEM, "agent '%s': out of memory for a firing from rank %d", a->name,
              in->src);
    } else {
      for (int k = 0; k < in->n; k++)
        p[k] = in->b[k].b;
      rc = serve_push(a, in->src, in->seq, p);
      if (p != bufs) free(p);
    }
    if (rc) {
      /* Not taken: rank 0 waits for its answer, which says so. */
      mpi_graph_fail(mg, MAESTRO_ENOMEM, "%s", maestro_last_error());
      if (answer_spare(mg, in->agent, in->src, in->seq, MAESTRO_ENOMEM,
                       "out of memory for a firing on the rank sent to"))
        mpi_graph_fail(mg, MAESTRO_ENOMEM, "agent '%s': no spare answer for firing %llu", a->name,
                       (unsigned long long)in->seq);
    }
  }
  in->n = 0; /* the references went */
  in_free(in);
}

int mpi_any_pass(struct mgraph *mg, int *inflight) {
  struct mpi_any *x = mg->any;
  int work = 0;
  pthread_mutex_lock(&x->mu);
  struct any_out *o = x->head;
  x->head = x->tail = NULL;
  pthread_mutex_unlock(&x->mu);
  while (o) {
    struct any_out *nx = o->next;
    send_out(mg, o);
    o = nx;
    work++;
  }
  for (struct any_in **pp = &x->pend; *pp;) {
    struct any_in *in = *pp;
    int done = 1;
    for (int k = 0; k < in->n && done; k++) {
      if (in->req[k] == MPI_REQUEST_NULL) continue;
      int ok = 0;
      MPI_Test(&in->req[k], &ok, MPI_STATUS_IGNORE);
      if (ok) x->big_pending--;
      done = ok;
    }
    if (!done) {
      pp = &in->next;
      continue;
    }
    *pp = in->next;
    deliver(mg, in);
    work++;
  }
  if (x->big_pending) *inflight = 1;
  if (mg->m->rank == 0 && !x->end_sent && atomic_load(&x->over) == x->n_any) {
    struct rec h = {.kind = REC_ANY_END};
    int ok = 1;
    for (int r = 1; r < mg->m->nranks; r++)
      ok &= mpi_put_rec(mg, r, &h, NULL, 0) == 0;
    x->end_sent = 1;
    if (!ok) mpi_graph_fail(mg, MAESTRO_ENOMEM, "out of memory for a packet");
    work++;
  }
  return work;
}

int mpi_any_soon(const struct mgraph *mg) {
  const struct mpi_any *x = mg->any;
  return x->sent > 0 || x->served > 0;
}

int mpi_any_quiet(const struct mgraph *mg) {
  const struct mpi_any *x = mg->any;
  /* Rank 0's queue is empty once its agents are over (they submit nothing
   * after), another rank's once every firing it took was answered. */
  if (x->pend) return 0;
  return mg->m->rank == 0 ? x->end_sent : x->end_in && x->served == 0;
}
