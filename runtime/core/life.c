/* The end of an agent's life, one path for both runners (run.c, window.c):
 * AG_RUN -> AG_CLOSING (its inputs ended, it returned MAESTRO_DONE, or the
 * graph stopped) -> AG_DRAIN (overflow sent, or dead when stopped; outputs
 * closed) -> AG_FINISHED (what still arrived was taken as dead letters until
 * every input ended). Each step is taken at the end of a run, as far as it
 * can go then; a runner only says whether it still has firings in flight. */
#include <stdio.h>
#include <stdlib.h>

#include "core/run.h"
#include "core/take.h"
#include "base/stats_rec.h"

/* End-of-stream on every output channel (after the agent's last send). */
static void close_outputs(struct maestro_agent *a) {
  for (int i = 0; i < a->n_out; i++)
    for (int k = 0; k < a->out[i].nch; k++)
      chan_close(a->out[i].ch[k]);
}

/* Calls on_end once, marked like a firing, with the supervisor's retries.
 * What it sends goes to the channels before end-of-stream (a full one blocks
 * the agent: closing waits for its overflow). A failure drops what it sent;
 * SKIP goes on, STOP (or retries used up) stops the graph. */
static void call_on_end(struct maestro_agent *a, struct run_stats *rs) {
  struct maestro_fire f;
  int st, tries = 0;
  a->ended = 1;
  for (;;) {
    run_fire_init(&f, a, NULL, a->seq, MAESTRO_PLACE_CPU, -1);
    err_clear();
    struct maestro_agent *outer = core_firing;
    core_firing = a;
    st = a->on_end(&f);
    core_firing = outer;
    if (st > MAESTRO_DONE) st = run_bad_return(a, st);
    if (st >= 0) break;
    rs->failures++;
    run_discard_staged(&f);
    if (f.out != f.inl) free(f.out);
    if (a->sup.on_fail == MAESTRO_FAIL_SKIP) return;
    if (a->sup.on_fail == MAESTRO_FAIL_RETRY && tries < a->sup.max_retries &&
        !atomic_load_explicit(&a->g->stopped, memory_order_relaxed)) {
      tries++;
      rs->retries++;
      if (!a->sup.restart || run_call_restart(a) >= 0) continue;
    }
    char why[1024];
    const char *msg = maestro_last_error();
    snprintf(why, sizeof why, "on_end of agent '%s' returned %d%s%s", a->name, st,
             msg && msg[0] ? ": " : "", msg && msg[0] ? msg : "");
    a->failed = 1;
    graph_fail(a->g, a, st, why);
    return;
  }
  if (run_commit_all(a, f.out, f.nout, rs)) a->blocked = 1;
  if (f.out != f.inl) free(f.out);
}

int run_wind_down_any(struct maestro_agent *a, int idle, struct run_stats *rs) {
  int stopped = run_note_stop(a);
  if (a->phase == AG_CLOSING && idle) {
    if (a->on_end && !a->ended && !stopped && !a->failed) call_on_end(a, rs);
    stopped = atomic_load_explicit(&a->g->stopped, memory_order_acquire);
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

void run_agent_finished(struct maestro_agent *a) {
  atomic_store_explicit(&a->st.pstate, a->failed ? PROF_AGENT_FAILED : PROF_AGENT_FINISHED,
                        memory_order_relaxed);
  graph_agent_finished(a->g);
}
