/* What the stateful runner (run.c) shares with the windowed runner
 * (window.c: stateless agents and agents with a kernel). */
#ifndef MAESTRO_CORE_RUN_H
#define MAESTRO_CORE_RUN_H

#include "core/fire.h"
#include "core/graph.h"

struct run_stats {
  uint64_t fires, msgs_in, msgs_out, bytes_in, bytes_out, failures, retries, dead;
  uint64_t fallbacks, device_fires;
};

/* A channel of port `p` holding a message (merge in arrival order,
 * round-robin between channels), or NULL. */
static inline struct chan *run_port_ready(struct inport *p) {
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

void run_stats_flush(struct maestro_agent *a, const struct run_stats *rs, uint64_t busy, int kind,
                     int index);
int run_port_ended(struct inport *p);
int run_inputs_ended(struct maestro_agent *a);
void run_drain_inputs(struct maestro_agent *a, struct run_stats *rs);
int run_flush_pending(struct maestro_agent *a, int stopped, struct run_stats *rs);
void run_close_outputs(struct maestro_agent *a);
int run_commit(struct maestro_agent *a, const struct staged *out, int nout, struct run_stats *rs);
void run_discard_staged(struct maestro_fire *f);
void run_inputs_dead(struct maestro_agent *a, maestro_buf_t **in, const uint64_t *seq, int status,
                     const char *reason, struct run_stats *rs);
/* The supervisor's decision on a failed firing; `why` = its message (may be NULL). */
int run_failed(struct maestro_agent *a, maestro_buf_t **in, const uint64_t *seq, int st,
               const char *why, struct run_stats *rs);
int run_fire_exec(struct maestro_agent *a, struct maestro_fire *f, struct run_stats *rs);
void run_fire_init(struct maestro_fire *f, struct maestro_agent *a, maestro_buf_t **in,
                   uint64_t seq, int kind, int index);
uint64_t run_flow_out(struct maestro_agent *a, const struct maestro_fire *f);
void run_end_of_run(struct maestro_agent *a);

/* window.c */
int win_setup(struct maestro_agent *a);
void win_free(struct maestro_agent *a);
int win_task_run(struct maestro_agent *a, struct sched_task *t, int place);

#endif
