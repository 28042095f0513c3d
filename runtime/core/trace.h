/* The trace recorder's engine side: what the engine and the backends call
 * to record firings, transfers and depths while a trace is written.
 *
 * Recording and writing are apart. The recorder (core/trace_rec.c) appends
 * fixed-size binary records (core/trace_rec.h) to per-thread chunks: no
 * lock, no formatting, no system call on the recording path. A writer above
 * the engine (runtime/prof/trace.c, MAESTRO_TRACE) starts the recorder
 * (tracer_start sets rt->tracer), reads the chunks and writes them as JSON.
 * Every call is a no-op when no trace is recorded; callers test
 * trace_on(rt) first on hot paths. */
#ifndef MAESTRO_CORE_TRACE_H
#define MAESTRO_CORE_TRACE_H

#include <stdint.h>

#include "base/clock.h"
#include "base/runtime.h"
#include "maestro.h"

/* 1 while a trace is recorded. */
static inline int trace_on(const struct maestro_runtime *rt) {
  return rt && rt->tracer;
}

/* The trace clock: the TSC where it is invariant (a few ns), else
 * rt_now_ns(). Its ticks are mapped onto rt_now_ns() when written. */
extern int trace_clock_tsc;
static inline uint64_t trace_clock(void) {
#if defined(__x86_64__) || defined(__i386__)
  if (trace_clock_tsc) return __builtin_ia32_rdtsc();
#endif
  return rt_now_ns();
}

/* Interns an agent's name for trace_fire (the engine does it once per
 * agent at graph start); 0 when no trace is recorded. */
uint32_t trace_name(struct maestro_runtime *rt, const char *name);

/* The engine's CPU firing path. A batch of firings on one CPU worker:
 *   trace_batch_begin(rt)            reads the clock, returns it;
 *   trace_fire(...) per firing       t0 = t1 = 0: untimed, spread evenly
 *                                    over the batch when written; or t0, t1
 *                                    from trace_clock();
 *   trace_batch_end(rt)              reads the clock; returns 1 when the
 *                                    batch's firings were long enough
 *                                    (> ~1 us) to time them one by one.
 * `flow_in` / `flow_out` are message ids (0 = none) linking a producer's
 * firing to its consumer's. `name` from trace_name. */
uint64_t trace_batch_begin(struct maestro_runtime *rt);
int trace_batch_end(struct maestro_runtime *rt);

/* trace_fire's inline part: the firing that comes next in the run of
 * untimed firings this thread recorded last (same agent and place and
 * bytes, seq and the flow ids not 0 one up) only counts one more in the
 * run's record. The run exists only inside a batch of this thread. */
struct trace_run {
  uint64_t *count;              /* the run's count word, or NULL */
  uint64_t key;                 /* name << 32 | cpu */
  uint64_t bytes, seq, in, out; /* what the run's next firing looks like */
  uint32_t batch_n;             /* firings recorded in this batch */
};
extern __attribute__((tls_model("initial-exec"))) _Thread_local struct trace_run trace_run;

/* The engine's fast path for a firing it knows to be the next of the run
 * (same agent, its seq and message ids each one up): counts it when this
 * thread has a run with these `bytes` going; returns 0 (record it with
 * trace_fire) otherwise. */
static inline int trace_fire_next(uint64_t bytes) {
  struct trace_run *r = &trace_run;
  if (!r->count || bytes != r->bytes) return 0;
  ++*r->count;
  r->seq++;
  r->in += r->in != 0;
  r->out += r->out != 0;
  r->batch_n++;
  return 1;
}

/* trace_fire's out-of-line part: a new record. */
void trace_fire_rec(struct maestro_runtime *rt, int cpu, uint32_t name, uint64_t seq,
                    uint64_t bytes, uint64_t t0, uint64_t t1, uint64_t flow_in, uint64_t flow_out);

/* A firing on CPU worker `cpu`, inside a batch. */
static inline void trace_fire(struct maestro_runtime *rt, int cpu, uint32_t name, uint64_t seq,
                              uint64_t bytes, uint64_t t0, uint64_t t1, uint64_t flow_in,
                              uint64_t flow_out) {
  struct trace_run *r = &trace_run;
  if (r->count && !t1 && seq == r->seq && flow_in == r->in && flow_out == r->out &&
      bytes == r->bytes && r->key == ((uint64_t)name << 32 | (uint32_t)cpu)) {
    ++*r->count; /* published by the batch's end */
    r->seq++;
    r->in += flow_in != 0;
    r->out += flow_out != 0;
    r->batch_n++;
    return;
  }
  trace_fire_rec(rt, cpu, name, seq, bytes, t0, t1, flow_in, flow_out);
}

/* A firing timed in rt_now_ns() nanoseconds on any place. */
void trace_fire_ns(struct maestro_runtime *rt, maestro_place_kind_t kind, int index, uint32_t name,
                   uint64_t seq, uint64_t bytes, uint64_t t0_ns, uint64_t t1_ns, uint64_t flow_in,
                   uint64_t flow_out);
/* A MAESTRO_RANK_ANY firing that rank `rank` ran, on rank 0: from when its
 * inputs were sent to when its outputs came back, on that rank's track. */
void trace_fire_rank(struct maestro_runtime *rt, int rank, uint32_t name, uint64_t seq,
                     uint64_t bytes, uint64_t t0_ns, uint64_t t1_ns);
/* How a hybrid firing's place was chosen (the trace's account of it). */
enum { TRACE_CHOICE_PLACES = 5 };
enum trace_why { TRACE_WHY_EARLIEST, TRACE_WHY_CALIBRATING, TRACE_WHY_EXPLORING, TRACE_WHY_EAGER };
struct trace_choice {
  int chosen; /* -1 the CPU, else the device place */
  int why;    /* enum trace_why */
  int n;      /* places: 0 the CPU, 1 + d device d (at most TRACE_CHOICE_PLACES) */
  int64_t est[TRACE_CHOICE_PLACES],
      cost[TRACE_CHOICE_PLACES]; /* ns: model estimate and expected finish; -1 unknown, -2 no such
                                    place */
};
/* trace_fire_ns for a hybrid agent's firing, with the choice of its place. */
void trace_fire_choice(struct maestro_runtime *rt, maestro_place_kind_t kind, int index,
                       uint32_t name, uint64_t seq, uint64_t bytes, uint64_t t0_ns, uint64_t t1_ns,
                       uint64_t flow_in, uint64_t flow_out, const struct trace_choice *ch);
/* The same by name (interned on each call: not for hot paths). */
void trace_firing(struct maestro_runtime *rt, maestro_place_kind_t kind, int index,
                  const char *agent, uint64_t seq, uint64_t bytes, uint64_t t0_ns, uint64_t t1_ns,
                  uint64_t flow_in, uint64_t flow_out);
/* One transfer to or from device `dev` ("h2d", "d2h", "d2d"). */
void trace_transfer(struct maestro_runtime *rt, int dev, const char *what, uint64_t bytes,
                    uint64_t t0_ns, uint64_t t1_ns);
/* The host took the message with flow id `flow` (a graph output's pop):
 * its arrow ends on the host track. */
void trace_flow_end(struct maestro_runtime *rt, uint64_t flow, uint64_t t_ns);
/* A channel depth sample. */
void trace_depth(struct maestro_runtime *rt, const char *channel, uint32_t depth, uint64_t t_ns);

#endif
