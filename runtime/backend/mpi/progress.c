/* The progress thread: one per runtime, the only thread that moves
 * messages between ranks. Each pass, for every graph that spans ranks, it
 *   - takes the packets that arrived (in the order they were posted, so
 *     that each sender's records stay in order) and acts on their records;
 *   - hands received messages to their channels' rings as room allows, and
 *     gives credits back for them;
 *   - takes what local producers put in channels to other ranks, as far as
 *     the credits go: small messages are copied into the packet for that
 *     rank, larger ones sent from the buffer itself (MPI_TAG_BIG, no copy);
 *   - sends the packets, and releases what MPI has finished sending.
 * A local producer's worker sends its messages itself when it can
 * (mpi_send_now): a message then leaves without waiting for this thread to
 * be woken and scheduled, often on the core that worker holds.
 * A pass that did nothing leads to polling for a while, then to sleep: a timed one
 * while a graph runs (MPI has nothing to block on without spinning), an
 * untimed one when no graph does; no longer than the first while firings of
 * a MAESTRO_RANK_ANY agent are in flight (any.c). Local news (a producer sent, a consumer
 * made room, a graph stopped) wakes it at once (mpi_kick). */
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/mpi/mpi_int.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/fence.h"
#include "base/runtime.h"
#include "mem/buf.h"

/* Polling (yielding the core between passes) after the last progress before
 * sleeping: longer than a round trip between ranks, so that a stream or a
 * ping-pong never waits for a nap; short enough that an idle graph sleeps.
 * Both a time and a number of passes: on a busy machine a yield may give the
 * core away for milliseconds, which is not idleness. */
#define SPIN_NS      2000000
#define SPIN_PASSES  2000
#define NAP_FIRST_NS 20000   /* the first timed sleep while a graph runs ... */
#define NAP_MAX_NS   1000000 /* ... doubling up to this */

void mpi_kick(struct mpi_rt *m) {
  atomic_store(&m->kick, 1);
  if (atomic_load(&m->sleeping)) {
    pthread_mutex_lock(&m->mu);
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
  }
}

void mpi_graph_fail(struct mgraph *mg, int status, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  char full[1200];
  snprintf(full, sizeof full, "graph '%s' on rank %d: %s", mg->g->name, mg->m->rank, msg);
  mg->failed_here = 1;
  /* Told to the other ranks like any stop (graph_stopped). */
  graph_fail_remote(mg->g, status, 0, full);
}

/* ---- sending ---- */

static int tx_add(struct mgraph *mg, maestro_buf_t *b, void *mem, MPI_Request req) {
  if (mg->ntx == mg->captx) {
    int cap = mg->captx ? mg->captx * 2 : 64;
    MPI_Request *r = realloc(mg->txr, sizeof *r * (size_t)cap);
    if (r) mg->txr = r;
    struct tx *e = r ? realloc(mg->txe, sizeof *e * (size_t)cap) : NULL;
    if (!e) { /* keep it whole: wait for this one now */
      MPI_Wait(&req, MPI_STATUS_IGNORE);
      if (b) maestro_buf_release(b);
      free(mem);
      return 0;
    }
    mg->txe = e;
    mg->captx = cap;
  }
  mg->txr[mg->ntx] = req;
  mg->txe[mg->ntx] = (struct tx){b, mem};
  mg->ntx++;
  return 0;
}

/* Sends the packet being filled for rank `r`, if any. */
static void pkt_flush(struct mgraph *mg, int r) {
  struct mpi_pkt *p = &mg->out[r];
  if (!p->len) return;
  MPI_Request req;
  MPI_Isend(p->data, (int)p->len, MPI_BYTE, r, MPI_TAG_PKT, mg->comm, &req);
  tx_add(mg, NULL, p->data, req);
  p->data = NULL;
  p->len = 0;
}

/* Room for `bytes` in the packet for rank `r`: a pointer to it, or NULL. */
static void *pkt_room(struct mgraph *mg, int r, size_t bytes) {
  struct mpi_pkt *p = &mg->out[r];
  bytes = (bytes + 7) & ~(size_t)7;
  if (p->data && p->len + bytes > MPI_PKT_MAX) pkt_flush(mg, r);
  if (!p->data && !(p->data = malloc(MPI_PKT_MAX))) return NULL;
  void *at = p->data + p->len;
  p->len += bytes;
  return at;
}

static int put_rec(struct mgraph *mg, int r, const struct rec *h, const void *data, size_t n) {
  char *at = pkt_room(mg, r, sizeof *h + n);
  if (!at) return -1;
  memcpy(at, h, sizeof *h);
  if (n) memcpy(at + sizeof *h, data, n);
  return 0;
}

/* One message of `r`'s channel to its consumer's rank. */
static void send_msg(struct mgraph *mg, struct rch *r, maestro_buf_t *b) {
  struct rec h = {.kind = REC_DATA, .chan = (uint32_t)r->idx, .seq = r->seq++, .size = b->size};
  h.ndim = b->ndim;
  h.origin = atomic_load_explicit(&b->origin, memory_order_relaxed);
  for (int d = 0; d < b->ndim && d < 3; d++)
    h.dims[d] = b->dims[d];
  const void *bytes = b->size ? maestro_buf_cdata(b) : NULL;
  if (b->size && !bytes) {
    mpi_graph_fail(mg, MAESTRO_ENOMEM, "a message of %zu bytes for rank %d: no host copy", b->size,
                   r->peer);
    maestro_buf_release(b);
    return;
  }
  if (b->size <= MPI_INLINE_MAX) {
    h.aux = 1;
    if (put_rec(mg, r->peer, &h, bytes, b->size))
      mpi_graph_fail(mg, MAESTRO_ENOMEM, "out of memory for a packet to rank %d", r->peer);
    maestro_buf_release(b);
    return;
  }
  if (b->size > (size_t)0x7fffffff) {
    mpi_graph_fail(mg, MAESTRO_EINVAL,
                   "a message of %zu bytes on '%s' -> '%s': more than 2 GiB cannot cross ranks",
                   b->size, r->prod->name, r->cons->name);
    maestro_buf_release(b);
    return;
  }
  if (put_rec(mg, r->peer, &h, NULL, 0)) {
    mpi_graph_fail(mg, MAESTRO_ENOMEM, "out of memory for a packet to rank %d", r->peer);
    maestro_buf_release(b);
    return;
  }
  /* From the buffer itself: it is immutable while shared, and this
   * reference keeps it until MPI is done with it. */
  MPI_Request req;
  MPI_Isend(bytes, (int)b->size, MPI_BYTE, r->peer, MPI_TAG_BIG, mg->comm, &req);
  tx_add(mg, b, NULL, req);
}

/* ---- dead letters: every rank's go to rank 0's output ---- */

/* Longest name or reason a letter carries (a record fits in one packet). */
#define LETTER_NAME_MAX   256
#define LETTER_REASON_MAX 2048

static size_t put_str(char *at, const char *s, size_t max) {
  size_t n = s ? strnlen(s, max - 1) : 0;
  if (n) memcpy(at, s, n);
  at[n] = '\0';
  return n + 1;
}

/* One letter made here to rank 0: like a message (send_msg), with its names. */
static void send_letter(struct mgraph *mg, struct out_letter *l) {
  maestro_buf_t *b = l->b;
  const void *bytes = b->size ? maestro_buf_cdata(b) : NULL;
  if ((b->size && !bytes) || b->size > (size_t)0x7fffffff) {
    dl_put_remote(mg->g, b, &l->why); /* cannot travel: kept here, naming this rank */
    return;
  }
  char names[2 * LETTER_NAME_MAX + LETTER_REASON_MAX];
  size_t n = put_str(names, l->why.agent, LETTER_NAME_MAX);
  n += put_str(names + n, l->why.port, LETTER_NAME_MAX);
  n += put_str(names + n, l->why.reason, LETTER_REASON_MAX);
  struct rec h = {.kind = REC_LETTER,
                  .chan = (uint32_t)n,
                  .seq = l->why.seq,
                  .size = b->size,
                  .aux = l->why.status};
  h.ndim = b->ndim;
  h.origin = atomic_load_explicit(&b->origin, memory_order_relaxed);
  for (int d = 0; d < b->ndim && d < 3; d++)
    h.dims[d] = b->dims[d];
  size_t inl = b->size <= MPI_INLINE_MAX ? b->size : 0;
  char *at = pkt_room(mg, 0, sizeof h + inl + n);
  if (!at) {
    dl_put_remote(mg->g, b, &l->why);
    return;
  }
  memcpy(at, &h, sizeof h);
  if (inl && bytes) memcpy(at + sizeof h, bytes, inl);
  memcpy(at + sizeof h + inl, names, n);
  if (b->size <= MPI_INLINE_MAX) {
    maestro_buf_release(b);
    return;
  }
  MPI_Request req;
  MPI_Isend(bytes, (int)b->size, MPI_BYTE, 0, MPI_TAG_BIG, mg->comm, &req);
  tx_add(mg, b, NULL, req);
}

/* Ranks other than 0: the letters made here to rank 0, then, once every
 * agent here has finished (none can make one any more), the end of them. */
static int send_letters(struct mgraph *mg) {
  if (mg->m->rank == 0 || mg->letters_end) return 0;
  struct maestro_graph *g = mg->g;
  /* Read before the list: a letter is made before its agent finishes. */
  pthread_mutex_lock(&g->mu);
  int finished = g->finished;
  pthread_mutex_unlock(&g->mu);
  pthread_mutex_lock(&mg->letters_mu);
  struct out_letter *l = mg->lhead;
  mg->lhead = mg->ltail = NULL;
  mg->letters_closed = finished;
  pthread_mutex_unlock(&mg->letters_mu);
  int work = 0;
  for (struct out_letter *n; l; l = n, work++) {
    n = l->next;
    send_letter(mg, l);
    free(l);
  }
  if (finished) {
    struct rec h = {.kind = REC_LETTERS_END};
    if (put_rec(mg, 0, &h, NULL, 0) == 0) {
      mg->letters_end = 1;
      work++;
    }
  }
  return work;
}

/* Graph-owned strings equal to a letter's names: the agent's and port's own
 * (the graph has them: every rank declares the same graph), else a copy. */
static const char *agent_name(struct maestro_graph *g, const char *s, struct maestro_agent **a) {
  if (!s[0]) return NULL;
  for (int i = 0; i < g->nagents; i++)
    if (!strcmp(g->agents[i]->name, s)) return (*a = g->agents[i])->name;
  return graph_keep_reason(g, NULL, 0, s);
}

static const char *port_name(struct maestro_graph *g, struct maestro_agent *a, const char *s) {
  if (!s[0]) return NULL;
  for (int p = 0; a && p < a->n_in; p++)
    if (!strcmp(a->in[p].name, s)) return a->in[p].name;
  for (int p = 0; a && p < a->n_out; p++)
    if (!strcmp(a->out[p].name, s)) return a->out[p].name;
  return graph_keep_reason(g, NULL, 0, s);
}

/* Rank 0: a letter from rank `src`, queued behind those still coming. */
static void on_letter(struct mgraph *mg, const struct rec *h, const char *body, int src) {
  struct maestro_graph *g = mg->g;
  size_t inl = h->size <= MPI_INLINE_MAX ? h->size : 0;
  const char *names = body + inl, *end = names + h->chan;
  const char *agent = names, *port = agent + strnlen(agent, (size_t)(end - agent)) + 1;
  const char *reason = port < end ? port + strnlen(port, (size_t)(end - port)) + 1 : end;
  if (mg->m->rank != 0 || !h->chan || end[-1] != '\0' || reason >= end) {
    mpi_graph_fail(mg, MAESTRO_EINVAL, "rank %d sent a dead letter this rank cannot read", src);
    return;
  }
  if (mg->nlin == mg->caplin) {
    int cap = mg->caplin ? mg->caplin * 2 : 16;
    struct in_letter *q = realloc(mg->lin, sizeof *q * (size_t)cap);
    if (!q) {
      mpi_graph_fail(mg, MAESTRO_ENOMEM, "no memory for a dead letter from rank %d", src);
      return;
    }
    mg->lin = q;
    mg->caplin = cap;
  }
  maestro_buf_t *b;
  if (maestro_buf_create(g->rt, h->size, &b) != MAESTRO_OK) {
    mpi_graph_fail(mg, MAESTRO_ENOMEM, "no memory for a dead letter of %llu bytes from rank %d",
                   (unsigned long long)h->size, src);
    return;
  }
  atomic_store_explicit(&b->origin, h->origin, memory_order_relaxed);
  if (h->ndim > 0 && h->ndim <= 3) {
    b->ndim = h->ndim;
    for (int d = 0; d < h->ndim; d++)
      b->dims[d] = h->dims[d];
  }
  struct maestro_agent *a = NULL;
  struct in_letter *x = &mg->lin[mg->nlin++];
  x->b = b;
  x->req = MPI_REQUEST_NULL;
  x->why = (maestro_letter_t){.agent = agent_name(g, agent, &a),
                              .port = port_name(g, a, port),
                              .status = h->aux,
                              .seq = h->seq,
                              .reason = reason[0] ? graph_keep_reason(g, NULL, 0, reason) : NULL,
                              .rank = src};
  if (inl) {
    memcpy(maestro_buf_data(b), body, inl);
  } else if (h->size) {
    /* In the order of the records, as the sender sent them (MPI keeps it). */
    MPI_Irecv(maestro_buf_data(b), (int)h->size, MPI_BYTE, src, MPI_TAG_BIG, mg->comm, &x->req);
  }
}

/* Rank 0: letters whose bytes are there into the dead-letter output, in
 * order; a rank that told its end and has no letter still coming counts as
 * finished (graph_hold in mpi_graph_start). */
static int take_letters(struct mgraph *mg) {
  if (mg->m->rank != 0) return 0;
  int k = 0;
  while (k < mg->nlin) {
    struct in_letter *x = &mg->lin[k];
    if (x->req != MPI_REQUEST_NULL) {
      int done = 0;
      MPI_Test(&x->req, &done, MPI_STATUS_IGNORE);
      if (!done) break;
    }
    dl_put_remote(mg->g, x->b, &x->why);
    k++;
  }
  if (k) {
    memmove(mg->lin, mg->lin + k, sizeof *mg->lin * (size_t)(mg->nlin - k));
    mg->nlin -= k;
  }
  int work = k;
  for (int r = 1; r < mg->m->nranks; r++) {
    if (mg->ends[r] != 1) continue;
    int waiting = 0;
    for (int i = 0; i < mg->nlin && !waiting; i++)
      waiting = mg->lin[i].why.rank == r;
    if (waiting) continue;
    mg->ends[r] = 2;
    graph_agent_finished(mg->g);
    work++;
  }
  return work;
}

/* The producer's side of `r`: messages out as far as the credits go, then
 * end-of-stream once the producer closed and all was sent. *wake set when
 * the producer waits for the room made: the caller wakes it once it holds
 * pass_mu no more (a thread woken on this core may run at once, and would
 * find the graph held). */
static int pump_send(struct mgraph *mg, struct rch *r, int *wake) {
  struct chan *c = r->c;
  int work = 0;
  maestro_buf_t *b;
  while (r->credits > 0 && (b = ring_pop(&c->ring))) {
    c->popped++;
    r->credits--;
    work++;
    send_msg(mg, r, b);
  }
  if (work) {
    full_fence();
    if (atomic_load_explicit(&c->prod_waiting, memory_order_relaxed) &&
        atomic_exchange(&c->prod_waiting, 0))
      *wake = 1;
  }
  if (!r->eos_sent && chan_ended(c)) {
    struct rec h = {.kind = REC_EOS, .chan = (uint32_t)r->idx, .seq = r->seq};
    if (put_rec(mg, r->peer, &h, NULL, 0) == 0) {
      r->eos_sent = 1;
      work++;
    }
  }
  return work;
}

/* For any.c (MAESTRO_RANK_ANY). */
int mpi_put_rec(struct mgraph *mg, int r, const struct rec *h, const void *data, size_t n) {
  return put_rec(mg, r, h, data, n);
}
void mpi_tx_add(struct mgraph *mg, maestro_buf_t *b, void *mem, MPI_Request req) {
  tx_add(mg, b, mem, req);
}

/* ---- receiving ---- */

static void rx_enqueue(struct rch *r, maestro_buf_t *b, MPI_Request req) {
  r->q[(r->qhead + r->qn) % r->qcap] = (struct rx){b, req};
  r->qn++;
}

static void on_data(struct mgraph *mg, struct rch *r, const struct rec *h, const char *bytes,
                    int src) {
  if (h->seq != r->expect) {
    mpi_graph_fail(mg, MAESTRO_EINVAL,
                   "message %llu of '%s' -> '%s' from rank %d arrived as number %llu",
                   (unsigned long long)r->expect, r->prod->name, r->cons->name, src,
                   (unsigned long long)h->seq);
    return;
  }
  if (r->qn == r->qcap) {
    mpi_graph_fail(mg, MAESTRO_EINVAL, "rank %d sent more than the credits of '%s' -> '%s'", src,
                   r->prod->name, r->cons->name);
    return;
  }
  r->expect++;
  maestro_buf_t *b;
  if (maestro_buf_create(mg->g->rt, h->size, &b) != MAESTRO_OK) {
    mpi_graph_fail(mg, MAESTRO_ENOMEM, "no memory for a message of %llu bytes from rank %d",
                   (unsigned long long)h->size, src);
    return;
  }
  atomic_store_explicit(&b->origin, h->origin, memory_order_relaxed);
  if (h->ndim > 0 && h->ndim <= 3) {
    b->ndim = h->ndim;
    for (int d = 0; d < h->ndim; d++)
      b->dims[d] = h->dims[d];
  }
  if (h->aux) {
    if (h->size) memcpy(maestro_buf_data(b), bytes, h->size);
    rx_enqueue(r, b, MPI_REQUEST_NULL);
    return;
  }
  MPI_Request req;
  MPI_Irecv(maestro_buf_data(b), (int)h->size, MPI_BYTE, src, MPI_TAG_BIG, mg->comm, &req);
  rx_enqueue(r, b, req);
  mg->big_pending++;
}

/* Acts on one packet from rank `src`. */
static void on_packet(struct mgraph *mg, const char *p, size_t len, int src) {
  size_t off = 0;
  while (off + sizeof(struct rec) <= len) {
    struct rec h;
    memcpy(&h, p + off, sizeof h);
    const char *body = p + off + sizeof h;
    size_t body_n = h.kind == REC_DATA && h.aux ? h.size
                    : h.kind == REC_STOP        ? h.seq
                    : h.kind == REC_LETTER      ? (h.size <= MPI_INLINE_MAX ? h.size : 0) + h.chan
                                                : 0;
    if (h.kind >= REC_ANY_FIRST) body_n = mpi_any_body(&h); /* MAESTRO_RANK_ANY (any.c) */
    off += (sizeof h + body_n + 7) & ~(size_t)7;
    if (h.kind >= REC_ANY_FIRST) {
      if (mpi_any_record(mg, &h, body, src)) return;
      continue;
    }
    if (h.kind == REC_LETTER) {
      if (off > len) break; /* cut short: not one of ours */
      on_letter(mg, &h, body, src);
      continue;
    }
    if (h.kind == REC_LETTERS_END) {
      if (mg->m->rank == 0 && src > 0 && mg->ends[src] == 0) mg->ends[src] = 1;
      continue;
    }
    if (h.kind == REC_STOP) {
      char msg[1200];
      snprintf(msg, sizeof msg, "%.*s", (int)(body_n < sizeof msg ? body_n : sizeof msg - 1), body);
      if (graph_fail_remote(mg->g, (int)(int64_t)h.size, h.aux, msg)) mg->remote_stop = 1;
      continue;
    }
    struct rch *r = h.chan < (uint32_t)mg->nidx ? mg->by_idx[h.chan] : NULL;
    if (!r || r->peer != src || r->send == (h.kind != REC_CREDIT)) {
      mpi_graph_fail(mg, MAESTRO_EINVAL,
                     "rank %d sent record %u for channel %u, which it does "
                     "not share with this rank that way",
                     src, h.kind, h.chan);
      return;
    }
    switch (h.kind) {
    case REC_DATA: on_data(mg, r, &h, body, src); break;
    case REC_EOS: r->eos_in = 1; break;
    case REC_CREDIT: r->credits += (int)h.seq; break;
    default:
      mpi_graph_fail(mg, MAESTRO_EINVAL, "rank %d sent an unknown record %u", src, h.kind);
      return;
    }
  }
}

/* Packets in the order their receives were posted. */
static int poll_packets(struct mgraph *mg) {
  int work = 0;
  for (;;) {
    int done = 0;
    MPI_Status st;
    MPI_Test(&mg->rxr[mg->rxhead], &done, &st);
    if (!done) return work;
    int len = 0;
    MPI_Get_count(&st, MPI_BYTE, &len);
    on_packet(mg, mg->rxbuf[mg->rxhead], (size_t)len, st.MPI_SOURCE);
    MPI_Irecv(mg->rxbuf[mg->rxhead], MPI_PKT_MAX, MPI_BYTE, MPI_ANY_SOURCE, MPI_TAG_PKT, mg->comm,
              &mg->rxr[mg->rxhead]);
    mg->rxhead = (mg->rxhead + 1) % MPI_NRX;
    work++;
  }
}

/* The consumer's side of `r`: received messages into the ring in order, as
 * room allows; credits back; end-of-stream once all was handed over. *wake
 * set when the consumer is to be told (as in pump_send). */
static int deliver(struct mgraph *mg, struct rch *r, int *wake) {
  struct chan *c = r->c;
  int work = 0, pushed = 0;
  while (r->qn) {
    struct rx *x = &r->q[r->qhead];
    if (x->req != MPI_REQUEST_NULL) {
      int done = 0;
      MPI_Test(&x->req, &done, MPI_STATUS_IGNORE);
      if (!done) break;
      mg->big_pending--;
      work++;
    }
    size_t size = x->b->size;
    if (!ring_push(&c->ring, x->b)) {
      /* Full: the consumer wakes us when it takes one (chan_notify_producer). */
      atomic_store(&c->prod_waiting, 1);
      full_fence();
      if (!ring_push(&c->ring, x->b)) break;
    }
    atomic_fetch_add_explicit(&c->msgs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->bytes, size, memory_order_relaxed);
    x->b = NULL;
    r->qhead = (r->qhead + 1) % r->qcap;
    r->qn--;
    r->owed++;
    pushed++;
  }
  if (r->eos_in && !r->qn && !r->eos_done) {
    atomic_store_explicit(&c->closed, 1, memory_order_release);
    r->eos_done = 1;
    pushed++;
  }
  if (pushed) *wake = 1;
  /* Credits in batches, or all when nothing more waits here; none after
   * the end (nobody would use them). */
  if (r->owed && !r->eos_in && (r->owed >= (r->qcap + 3) / 4 || !r->qn)) {
    struct rec h = {.kind = REC_CREDIT, .chan = (uint32_t)r->idx, .seq = (uint64_t)r->owed};
    if (put_rec(mg, r->peer, &h, NULL, 0) == 0) r->owed = 0;
  }
  return work + pushed;
}

static int poll_tx(struct mgraph *mg) {
  if (!mg->ntx) return 0;
  int n = 0;
  int *idx = malloc(sizeof *idx * (size_t)mg->ntx);
  if (!idx) return 0;
  MPI_Testsome(mg->ntx, mg->txr, &n, idx, MPI_STATUSES_IGNORE);
  if (n == MPI_UNDEFINED || n <= 0) {
    free(idx);
    return 0;
  }
  for (int i = 0; i < n; i++) {
    struct tx *e = &mg->txe[idx[i]];
    if (e->b) maestro_buf_release(e->b);
    free(e->mem);
    e->b = NULL;
    e->mem = NULL;
  }
  free(idx);
  /* Compact: completed requests are MPI_REQUEST_NULL now. */
  int k = 0;
  for (int i = 0; i < mg->ntx; i++)
    if (mg->txr[i] != MPI_REQUEST_NULL) {
      mg->txr[k] = mg->txr[i];
      mg->txe[k] = mg->txe[i];
      k++;
    }
  mg->ntx = k;
  return n;
}

static void send_stop(struct mgraph *mg) {
  struct maestro_graph *g = mg->g;
  char msg[sizeof g->fail_msg];
  pthread_mutex_lock(&g->mu);
  /* Not a failure: a cancel, or a destroy before the graph finished. */
  int finished = g->finished, cancelled = !g->failed;
  int status = g->failed ? g->fail_status : MAESTRO_ECANCELED;
  snprintf(msg, sizeof msg, "%s", g->failed ? g->fail_msg : "cancelled");
  pthread_mutex_unlock(&g->mu);
  mg->stop_sent = 1;
  /* A stop that came from another rank was told to all by that rank; a
   * graph that finished here before it stopped has nothing to stop. */
  if (mg->remote_stop || finished) return;
  size_t n = strlen(msg);
  struct rec h = {.kind = REC_STOP, .size = (uint64_t)(int64_t)status, .aux = cancelled, .seq = n};
  for (int r = 0; r < mg->m->nranks; r++)
    if (r != mg->m->rank) put_rec(mg, r, &h, msg, n);
}

int mpi_send_now(struct rch *r) {
  struct mgraph *mg = r->mg;
  /* A pass under way takes the messages itself (the producer kicks it). */
  if (pthread_mutex_trylock(&mg->pass_mu) != 0) return 0;
  int wake = 0;
  /* Only a channel with nothing in flight (all credits back): a message
   * then waits for nothing but its trip. A stream's messages are left to
   * the passes, which pack what they find for a rank into one packet. */
  if (r->credits < r->c->capacity) {
    pthread_mutex_unlock(&mg->pass_mu);
    return 0;
  }
  int eos = r->eos_sent;
  pump_send(mg, r, &wake);
  pkt_flush(mg, r->peer);
  poll_tx(mg);
  /* What is still in flight, and an end of stream (the graph drains on a
   * pass), are the progress thread's to finish. */
  int left = mg->ntx || r->eos_sent != eos;
  pthread_mutex_unlock(&mg->pass_mu);
  if (wake) chan_notify_producer(mg->g->rt, r->c);
  return !left;
}

/* One pass over graph `mg`: whether it did something; *inflight set when
 * MPI still works on something of it. */
static int mg_pass(struct mgraph *mg, int *inflight) {
  int work = poll_packets(mg);
  if (atomic_load(&mg->stop_pending) && !mg->stop_sent) send_stop(mg);
  work += send_letters(mg) + take_letters(mg);
  for (int i = 0; i < mg->nch; i++) {
    struct rch *r = &mg->ch[i];
    int wake = 0;
    work += r->send ? pump_send(mg, r, &wake) : deliver(mg, r, &wake);
    if (wake) mg->wake[mg->nwake++] = r;
  }
  if (mg->any) work += mpi_any_pass(mg, inflight); /* MAESTRO_RANK_ANY (any.c) */
  for (int r = 0; r < mg->m->nranks; r++)
    pkt_flush(mg, r);
  work += poll_tx(mg);
  if (mg->ntx || mg->big_pending || mg->nlin) *inflight = 1;
  if (!mg->drained && !mg->ntx) {
    int all = 1;
    for (int i = 0; i < mg->nch && all; i++)
      all = mg->ch[i].send ? mg->ch[i].eos_sent : mg->ch[i].eos_done;
    if (all && mg->any) all = mpi_any_quiet(mg);
    /* Ranks other than 0: their letters sent too (rank 0 waits for them). */
    if (all && (!atomic_load(&mg->stop_pending) || mg->stop_sent) &&
        (mg->m->rank == 0 || mg->letters_end)) {
      pthread_mutex_lock(&mg->mu);
      mg->drained = 1;
      pthread_cond_broadcast(&mg->cv);
      pthread_mutex_unlock(&mg->mu);
    }
  }
  return work;
}

void *mpi_progress_main(void *arg) {
  struct mpi_rt *m = arg;
  pthread_setname_np(pthread_self(), "maestro-mpi");
  uint64_t idle_since = 0, nap = NAP_FIRST_NS;
  unsigned idle_passes = 0;
  while (!atomic_load(&m->quit)) {
    atomic_store(&m->kick, 0);
    int work = 0, inflight = 0, running = 0, soon = 0;
    pthread_mutex_lock(&m->list_mu);
    for (struct mgraph *mg = m->graphs; mg; mg = mg->next) {
      pthread_mutex_lock(&mg->pass_mu);
      work += mg_pass(mg, &inflight);
      if (mg->any && mpi_any_soon(mg)) soon = 1;
      pthread_mutex_unlock(&mg->pass_mu);
      for (int i = 0; i < mg->nwake; i++) {
        struct rch *r = mg->wake[i];
        if (r->send)
          chan_notify_producer(m->rt, r->c);
        else
          chan_notify_consumer(m->rt, r->c);
      }
      mg->nwake = 0;
      pthread_mutex_lock(&mg->mu);
      running += !mg->quiet;
      pthread_mutex_unlock(&mg->mu);
    }
    pthread_mutex_unlock(&m->list_mu);
    if (work) {
      idle_since = 0;
      idle_passes = 0;
      nap = NAP_FIRST_NS;
      continue;
    }
    if (inflight) { /* MPI needs to be called to finish it */
      sched_yield();
      continue;
    }
    uint64_t now = rt_now_ns();
    if (!idle_since) idle_since = now;
    if (running && (++idle_passes < SPIN_PASSES || now - idle_since < SPIN_NS)) {
      sched_yield(); /* the agents of this rank may share its core */
      continue;
    }
    pthread_mutex_lock(&m->mu);
    atomic_store(&m->sleeping, 1);
    if (!atomic_load(&m->kick) && !atomic_load(&m->quit)) {
      if (running) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)nap;
        if (ts.tv_nsec >= 1000000000L) {
          ts.tv_sec++;
          ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&m->cv, &m->mu, &ts);
        /* A RANK_ANY firing in flight: its answer is not worth a long nap. */
        nap = soon ? NAP_FIRST_NS : nap * 2 > NAP_MAX_NS ? NAP_MAX_NS : nap * 2;
      } else {
        pthread_cond_wait(&m->cv, &m->mu);
      }
    }
    atomic_store(&m->sleeping, 0);
    pthread_mutex_unlock(&m->mu);
  }
  return NULL;
}
