/* What runtime/prof keeps per runtime (rt->prof), shared by prof.c (the
 * publisher) and trace.c (the trace writer). Private to runtime/prof. */
#ifndef MAESTRO_PROF_IMPL_H
#define MAESTRO_PROF_IMPL_H

#include <pthread.h>
#include <stdint.h>

#include "prof/records.h"
#include "prof/segment.h"

struct trace; /* prof/trace.c */

struct prof {
  struct maestro_runtime *rt;
  struct trace *trace; /* NULL when tracing is off */

  /* Live stats segment (NULL when MAESTRO_STATS=0 or it could not be made). */
  struct prof_seg *seg;
  char seg_error[256]; /* why there is no segment, if stats were asked for */

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

#endif
