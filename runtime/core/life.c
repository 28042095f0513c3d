/* The end of an agent's life, one path for both runners (run.c, window.c):
 * AG_RUN -> AG_CLOSING (its inputs ended, it returned MAESTRO_DONE, or the
 * graph stopped) -> AG_DRAIN (overflow sent, or dead when stopped; outputs
 * closed) -> AG_FINISHED (what still arrived was taken as dead letters until
 * every input ended). Each step is taken at the end of a run, as far as it
 * can go then; a runner only says whether it still has firings in flight. */
#include "core/run.h"
#include "core/take.h"
#include "base/stats_rec.h"

/* End-of-stream on every output channel (after the agent's last send). */
static void close_outputs(struct maestro_agent *a) {
  for (int i = 0; i < a->n_out; i++)
    for (int k = 0; k < a->out[i].nch; k++) {
      struct chan *c = a->out[i].ch[k];
      atomic_store_explicit(&c->closed, 1, memory_order_release);
      c->dirty = 1;
    }
}

int run_wind_down(struct maestro_agent *a, int idle, struct run_stats *rs) {
  int stopped = run_note_stop(a);
  if (a->phase == AG_CLOSING && idle) {
    if (!a->blocked || run_flush_pending(a, stopped, rs)) {
      a->blocked = 0;
      close_outputs(a);
      a->phase = AG_DRAIN;
    }
  }
  if (a->phase == AG_DRAIN) {
    rs->dead += run_drain_inputs(a);
    if (run_inputs_ended(a)) {
      a->phase = AG_FINISHED;
      return 1;
    }
  }
  return 0;
}

int run_task_end(struct maestro_agent *a, int finished, int blocked, int yield) {
  if (finished) {
    atomic_store_explicit(&a->st.pstate, a->failed ? PROF_AGENT_FAILED : PROF_AGENT_FINISHED,
                          memory_order_relaxed);
    graph_agent_finished(a->g);
    return TASK_WAIT;
  }
  atomic_store_explicit(&a->st.pstate, blocked ? PROF_AGENT_BLOCKED : PROF_AGENT_WAITING,
                        memory_order_relaxed);
  return yield ? TASK_YIELD : TASK_WAIT;
}
