/* What runtime/prof keeps per runtime (rt->prof), shared by prof.c (the
 * publisher) and trace.c (the trace writer). Private to runtime/prof. */
#ifndef MAESTRO_PROF_IMPL_H
#define MAESTRO_PROF_IMPL_H

#include <pthread.h>
#include <stdio.h>
#include <stdint.h>

#include "prof/records.h"
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

/* trace.c */
int trace_open(struct prof *p, const char *path);
void trace_close(struct prof *p);
void trace_sample_depths(struct prof *p, const struct prof_chan_rec *c, int n, uint64_t t_ns);
/* The stats thread's share of tracing: writes the trace in the background
 * once the records waiting pass the cap's drain mark. */
void trace_background(struct prof *p);

enum { EV_NAME = 64, NAME_PAGE = 1024, NAME_PAGES = 1024, NAME_HASH = 1 << 16 };

/* An interned name: as given, and as a JSON string with its quotes. */
struct trace_name {
  char *raw;
  char *json;
  uint32_t json_len;
};

struct trace_buf;
struct trace {
  struct prof *prof;
  uint64_t id; /* tells this trace's thread buffers from a previous runtime's */
  FILE *f;
  long body_end; /* where the footer starts */
  char *path;    /* as given (MAESTRO_TRACE) */
  int failed;    /* a write failed: stop writing (tw_fail) */
  int error;     /* its errno */
  int dev_named; /* device places whose tracks are named (devices appear lazily) */
  uint64_t start_ns;
  int pid;
  pthread_mutex_t lock; /* registry and writes */
  struct trace_buf *bufs;

  /* The arena the chunks come from (MAESTRO_TRACE_BUFFER_MB). */
  char *arena;
  size_t arena_bytes;
  pthread_mutex_t free_lock; /* free list, arena_next, chunks_in_use */
  void *free;                /* struct trace_chunk list */
  size_t arena_next;
  size_t chunks_in_use;
  size_t drain_mark; /* bytes in use from which the stats thread writes */
  _Atomic int drain_asked;

  /* prof_clock() ticks -> ns: a line through (tick0, ns0). */
  uint64_t tick0, ns0;
  double ns_per_tick;
  uint64_t last_ns; /* the latest time written (for a batch never closed) */

  pthread_mutex_t names_lock;
  uint32_t nnames;
  uint32_t hash[NAME_HASH];
  struct trace_name *pages[NAME_PAGES];

  /* The JSON writer (trace_write.c). */
  char pid_key[40]; /* ,"pid":P,"tid": */
  size_t pid_key_len;
  uint64_t events_written;
  size_t out_n;
  char out[1 << 16];
};
uint32_t trace_intern(struct trace *t, const char *s);

#endif
