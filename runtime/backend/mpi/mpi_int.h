/* The MPI backend's private structures (runtime/backend/mpi): the only
 * folder of the runtime that includes mpi.h. See core/dist.h for what the
 * engine asks of it and docs/mpi.md for the model and the wire protocol. */
#ifndef MAESTRO_BACKEND_MPI_INT_H
#define MAESTRO_BACKEND_MPI_INT_H

#include <mpi.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "backend/mpi/mpi_backend.h"
#include "core/dist.h"
#include "core/graph.h"

/* Tags on a graph's own communicator. */
enum { MPI_TAG_PKT = 1, MPI_TAG_BIG = 2, MPI_TAG_ANY = 3, MPI_TAG_LINK = 4 };

/* A packet (MPI_TAG_PKT) is a run of records, each 8-byte aligned. */
#define MPI_PKT_MAX    (64 * 1024)
#define MPI_INLINE_MAX 4096 /* bytes of a message carried inside a packet; larger: MPI_TAG_BIG */
#define MPI_NRX        8    /* packet receives kept posted per graph */

enum rec_kind {
  REC_DATA = 1,    /* a message; inline (aux 1: its bytes follow) or on MPI_TAG_BIG (aux 0) */
  REC_EOS,         /* end of stream on chan */
  REC_CREDIT,      /* seq more messages may be sent on chan */
  REC_STOP,        /* the graph stopped on the sender: size = status, aux = cancelled,
                      seq = bytes of the message that follows */
  REC_LETTER,      /* a dead letter for rank 0: aux = status, seq = its seq; its bytes inline
                      when size <= MPI_INLINE_MAX (else on MPI_TAG_BIG), then chan bytes of
                      names: agent, port, reason, each ending in '\0' */
  REC_LETTERS_END, /* to rank 0: the sender's agents have all finished, no more letters */
};

/* A dead letter made here, for rank 0 (ranks other than 0). */
struct out_letter {
  maestro_buf_t *b;
  maestro_letter_t why;
  struct out_letter *next;
};

/* A dead letter from another rank (rank 0): req MPI_REQUEST_NULL once its
 * bytes are there. */
struct in_letter {
  maestro_buf_t *b;
  MPI_Request req;
  maestro_letter_t why;
};

/* Kinds from here on: MAESTRO_RANK_ANY firings (any.c). */
#define REC_ANY_FIRST 16

struct rec {
  uint32_t kind, chan; /* chan: the channel's index in the graph (the same on every rank) */
  uint64_t seq;
  uint64_t size;
  int32_t ndim, aux;
  uint64_t dims[3];
  uint64_t origin; /* the message's origin (aligned joins, core/graph.h) */
};

/* A message received, waiting for room in the channel's ring. */
struct rx {
  maestro_buf_t *b;
  MPI_Request req; /* MPI_REQUEST_NULL once its bytes are there */
};

/* One channel whose ends are on two ranks, as this rank sees it. */
struct rch {
  struct mgraph *mg;
  struct chan *c;
  int idx;                           /* index in the graph's channel list */
  int peer;                          /* the other end's rank */
  int send;                          /* 1: the producer is here; 0: the consumer is */
  struct maestro_agent *prod, *cons; /* as declared (put back by graph_destroy) */
  struct maestro_output *host_out;
  struct maestro_input *host_in;
  /* Producer's side. */
  int credits;
  uint64_t seq;
  int eos_sent;
  /* Consumer's side: received messages, at most the channel's capacity. */
  struct rx *q;
  int qhead, qn, qcap;
  uint64_t expect;
  int owed; /* credits to give back */
  int eos_in, eos_done;
};

/* What is in flight towards another rank: a packet (mem) or a message (b). */
struct tx {
  maestro_buf_t *b;
  void *mem;
};

struct mpi_pkt {
  char *data;
  size_t len;
};

struct mpi_rt;

/* One started graph that spans ranks. Its fields are the progress thread's,
 * but for those marked otherwise; pass_mu is held over each of its passes
 * and by a producer's worker that sends its messages itself
 * (mpi_send_now). */
struct mgraph {
  struct maestro_graph *g;
  struct mpi_rt *m;
  MPI_Comm comm;
  struct rch *ch;
  int nch;
  struct rch **by_idx; /* channel index -> its rch, NULL when it does not cross here */
  struct rch **wake;   /* whose local end a pass is to wake, after it (nwake of them) */
  int nwake;
  int nidx;
  pthread_mutex_t pass_mu;
  struct mpi_pkt *out; /* per rank: the packet being filled */
  MPI_Request *txr;
  struct tx *txe;
  int ntx, captx;
  MPI_Request rxr[MPI_NRX];
  char *rxbuf[MPI_NRX];
  int rxhead, rx_posted;
  int big_pending;         /* MPI_TAG_BIG receives in flight */
  atomic_int stop_pending; /* graph_stopped: tell the other ranks (any thread sets it) */
  int remote_stop;         /* the stop came from another rank: nothing to tell */
  int stop_sent;
  int failed_here; /* a protocol failure was reported */
  /* Under mu: every crossing channel ended and sent (graph_settle waits). */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int drained;
  int quiet; /* settled: nothing more will arrive */
  /* Dead letters (docs/mpi.md: all go to rank 0). Other ranks: those made
   * here (the list under letters_mu), letters_end once the last was sent
   * and the end told. Rank 0: letters whose bytes are coming, in order, and
   * per rank whether it told its end (1), then counted as finished (2). */
  pthread_mutex_t letters_mu;
  struct out_letter *lhead, *ltail;
  int letters_closed; /* under letters_mu: the end is being told, later ones stay here */
  int letters_end;
  struct in_letter *lin;
  int nlin, caplin;
  int *ends;
  /* MAESTRO_RANK_ANY firings (any.c), NULL without such agents. */
  struct mpi_any *any;
  struct mgraph *next;
};

struct mpi_rt {
  struct maestro_runtime *rt;
  int rank, nranks;
  int finalize; /* this runtime initialised MPI */
  pthread_t thr;
  int thr_started;
  /* list_mu: the graphs list; held by the progress thread over each pass. */
  pthread_mutex_t list_mu;
  struct mgraph *graphs;
  /* mu, cv: the progress thread's sleep. */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  atomic_int kick, sleeping, quit;
};

/* progress.c */
void *mpi_progress_main(void *arg);
void mpi_kick(struct mpi_rt *m);
/* A local producer sent on `r` (producer's side): its worker sends what the
 * credits allow itself when no pass holds the graph. 1 when nothing is left
 * for the progress thread to finish. */
int mpi_send_now(struct rch *r);
/* The graph failed here for a reason of the backend's own (a message it
 * cannot take): the graph stops with MAESTRO_EAGENT... */
void mpi_graph_fail(struct mgraph *mg, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* progress.c, for any.c: a record into the packet for rank `r` (0, or -1
 * out of memory), and a send MPI is doing (its buffer `b` or memory `mem`
 * released once it is done). */
int mpi_put_rec(struct mgraph *mg, int r, const struct rec *h, const void *data, size_t n);
void mpi_tx_add(struct mgraph *mg, maestro_buf_t *b, void *mem, MPI_Request req);

/* any.c: MAESTRO_RANK_ANY agents across ranks (core/dist.h). */
/* graph_check, after the ranks agreed (collective): measures the links
 * from rank 0 to the others when the graph has such agents. */
int mpi_any_check(struct mgraph *mg);
void mpi_any_free(struct mgraph *mg);
/* Bytes that follow record `h` (kind >= REC_ANY_FIRST) in its packet. */
size_t mpi_any_body(const struct rec *h);
/* Acts on record `h` from rank `src`: 0, or -1 when the graph failed (the
 * rest of the packet is dropped). */
int mpi_any_record(struct mgraph *mg, const struct rec *h, const char *body, int src);
/* Each pass: sends what was queued, completes what arrived. Sets
 * *inflight while MPI works on a receive of it. Returns the work done. */
int mpi_any_pass(struct mgraph *mg, int *inflight);
/* Firings of RANK_ANY agents are in flight (rank 0: sent and not answered;
 * another rank: taken and not answered): the progress thread naps only
 * briefly, since their answer, or the next firing, comes at any time. */
int mpi_any_soon(const struct mgraph *mg);
/* Nothing of the RANK_ANY agents is in flight here and none will come. */
int mpi_any_quiet(const struct mgraph *mg);
int mpi_any_submit(struct maestro_graph *g, struct maestro_agent *a, int rank, uint64_t seq,
                   maestro_buf_t *const *in);
void mpi_any_result(struct maestro_graph *g, struct maestro_agent *a, int rank, uint64_t seq,
                    int status, const struct staged *out, int nout, const char *why,
                    uint64_t busy_ns, uint64_t wait_ns, int on_dev);
void mpi_any_over(struct maestro_graph *g, struct maestro_agent *a);

/* graph.c (backend): the SPMD check. */
int mpi_graph_same(struct mpi_rt *m, struct maestro_graph *g, MPI_Comm comm);

#endif
