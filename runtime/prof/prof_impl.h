/* What runtime/prof keeps per runtime (rt->prof), shared by prof.c (the
 * publisher) and trace.c (the trace writer). Private to runtime/prof. */
#ifndef MAESTRO_PROF_IMPL_H
#define MAESTRO_PROF_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>

#include "base/stats_rec.h"
#include "core/trace_rec.h"
#include "prof/segment.h"

struct trace; /* prof/trace.c */

struct prof {
  struct maestro_runtime *rt;
  struct trace *trace; /* NULL when tracing is off */

  /* Live stats segment (NULL when MAESTRO_STATS=0 or it could not be made). */
  struct prof_seg *seg;
  char seg_error[256]; /* why there is no segment, or why it moved to another name */

  /* Publisher thread: wakes every interval_ns, or when told to stop. */
  pthread_t thread;
  int thread_running;
  pthread_mutex_t wake_lock;
  pthread_cond_t wake;
  _Atomic int stop;
  uint64_t interval_ns;

  /* Serialises publishes (the periodic one, prof_publish at graph end and
   * the last one at prof_fini): each slot keeps a single writer. */
  pthread_mutex_t publish_lock;
  uint64_t publishes;
  struct prof_place_rec *places;
  struct prof_agent_rec *agents;
  struct prof_chan_rec *chans;
  int place_cap, agent_cap, chan_cap;
};

/* trace.c: the trace writer. */
int prof_trace_open(struct prof *p, const char *path);
void prof_trace_close(struct prof *p);
void prof_trace_sample_depths(struct prof *p, const struct prof_chan_rec *c, int n, uint64_t t_ns);

enum { EV_NAME = 64 };

/* An interned name: as recorded, and as a JSON string with its quotes. */
struct trace_name {
  const char *raw; /* the recorder's */
  char *json;
  uint32_t json_len;
};

struct tracer;
struct trace {
  struct prof *prof;
  struct tracer *rec; /* the recorder it drains (rt->tracer); rec->lock serialises writes */
  FILE *f;
  long body_end; /* where the footer starts */
  char *path;    /* as given (MAESTRO_TRACE) */
  int failed;    /* a write failed: stop writing (tw_fail) */
  int error;     /* its errno */
  int dev_named; /* device places whose tracks are named (devices appear lazily) */
  int finished;  /* the process is ending: written for the last time */

  /* The writer thread: drains the recorder every interval_ns, or at once
   * when a byte comes through its pipe (the recorder's drain mark, a
   * signal, close). */
  pthread_t thread;
  int thread_running;
  int pipe[2];
  _Atomic int stop;
  uint64_t interval_ns;
  int slot;               /* its place in the exit / signal list, or -1 (never changed) */
  int registered;         /* counted in that list (trace_register) */
  uint64_t lost_written;  /* lost records the file reports */
  const uint64_t *choice; /* the REC_CHOICE of the firing being written, or NULL */
  uint64_t start_ns;
  int pid;    /* the trace's process id: the MPI rank when there are several */
  int os_pid; /* the process that writes it (exit and signal handlers compare getpid()) */

  /* trace_clock() ticks -> ns: a line through (rec->tick0, rec->ns0). */
  double ns_per_tick;
  uint64_t last_ns; /* the latest time written (for a batch never closed) */

  /* The spill (trace.c): during the run the writer thread appends the
   * drained records, raw, to this unnamed file beside the trace; they are
   * formatted at a flush and at the end. -1: none (formatted as drained). */
  int spill_fd;
  uint64_t spill_end;    /* bytes spilled */
  uint64_t spill_done;   /* of those, formatted */
  uint64_t lost_spilled; /* the lost count the spill says */
  uint64_t *spill_buf;   /* one segment read back */
  uint64_t footer_at;    /* events_written at which a long format next ends the file */

  /* The names' JSON forms, by record name id, made on first use. */
  struct trace_name *pages[NAME_PAGES];

  /* The JSON writer (trace_write.c). */
  char pid_key[40]; /* ,"pid":P,"tid": */
  size_t pid_key_len;
  uint64_t events_written;
  size_t out_n;
  char out[1 << 16];
};

#endif
