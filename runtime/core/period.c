/* Agents with a period (maestro_agent_desc_t.period_ms). A source fires once
 * per deadline; an agent with inputs fires on its messages and, when none
 * came by its deadline, once without input (a timeout firing). Between two
 * runs the agent's timer entry (sched/timer.c) is what makes it runnable at
 * its deadline: no worker waits and nothing polls.
 *
 * The entry is armed lazily: a run arms it only when it is not in the timer
 * heap already. An entry armed for an earlier deadline (messages moved the
 * timeout on since) comes early, finds nothing due and is armed again, so the
 * per-message path never touches the timer: deadlines only move later. */
#include <stdlib.h>

#include "core/run.h"
#include "core/trace.h"

/* The next deadline after one at `due` fired at `now`: the first point of the
 * grid due + k * period after now (the ticks missed meanwhile coalesced into
 * the firing just made, and no drift from the firing's own length). */
static uint64_t next_due(uint64_t due, uint64_t now, uint64_t period) {
  uint64_t next = due + period;
  if (next <= now) next += ((now - next) / period + 1) * period;
  return next;
}

/* One firing without input of an agent with inputs, supervised like any
 * firing (there is no message to send to the dead letters on failure). */
static void fire_timeout(struct maestro_agent *a, int cpu, struct run_stats *rs) {
  struct maestro_runtime *rt = a->g->rt;
  struct maestro_fire f;
  /* a->inbuf holds no message between firings: maestro_fire_in gives NULL
   * and maestro_fire_timeout tells the agent why. */
  run_fire_init(&f, a, a->inbuf, a->seq, MAESTRO_PLACE_CPU, cpu);
  uint64_t t0 = a->g->tracing ? rt_now_ns() : 0;
  rs->fires++;
  err_clear();
  int st = run_call_cpu(a, &f);
  if (st < 0) st = run_fire_retry(a, &f, rs, st);
  if (a->g->tracing)
    trace_fire_ns(rt, MAESTRO_PLACE_CPU, cpu, a->trace_name, f.seq, 0, t0, rt_now_ns(), 0,
                  st < 0 ? 0 : run_flow_out(a, &f));
  if (st < 0) {
    if (f.out != f.inl) free(f.out);
    if (a->sup.on_fail == MAESTRO_FAIL_SKIP) return;
    a->failed = 1;
    graph_fail(a->g, a, st, maestro_last_error());
    return;
  }
  /* No input to take an origin from: its sends carry none (a join
   * downstream does not compare them). */
  if (run_commit(a, f.out, f.nout, rs)) a->blocked = 1;
  if (f.out != f.inl) free(f.out);
  if (st == MAESTRO_DONE) a->phase = AG_CLOSING;
}

int run_periodic(struct maestro_agent *a, int cpu, struct run_stats *rs) {
  uint64_t now = rt_now_ns(), taken = a->seq;
  if (!a->n_in) {
    if (now < a->due) return 0;
    run_fire_batch(a, cpu, rs, 1);
    if (a->seq != taken) a->due = next_due(a->due, now, a->period_ns);
    return 0;
  }
  int yield = run_fire_batch(a, cpu, rs, AGENT_BATCH);
  if (a->seq != taken) {
    /* Messages came: the wait for the next timeout starts again. */
    a->due = rt_now_ns() + a->period_ns;
    return yield;
  }
  if (a->phase != AG_RUN || now < a->due) return yield;
  if (!run_outputs_free(a, rs) || atomic_load_explicit(&a->g->stopped, memory_order_acquire))
    return 0;
  fire_timeout(a, cpu, rs);
  a->due = next_due(a->due, now, a->period_ns);
  return 0;
}

void run_period_after(struct maestro_agent *a, int finished) {
  struct maestro_runtime *rt = a->g->rt;
  if (finished || a->phase != AG_RUN) {
    /* It fires no more. Always through the timer's lock: a notification
     * the thread is making now ends before this returns (the agent may be
     * freed once it has finished). A few runs at most get here. */
    sched_timer_cancel(rt, &a->timer);
    return;
  }
  /* A full output: the consumer's notification resumes it, the deadline
   * is looked at then. */
  if (a->blocked) return;
  if (atomic_load_explicit(&a->timer.armed, memory_order_acquire)) return;
  if (sched_timer_arm(rt, &a->timer, a->due) != MAESTRO_OK) {
    a->failed = 1;
    graph_fail(a->g, a, MAESTRO_ENOMEM, maestro_last_error());
  }
}
