/* Observability: the live stats segment and the Chrome trace writer.
 *
 * 2026-11-26 (tracefast): the trace records binary per-thread records and
 * writes JSON at runtime destroy (prof_trace_flush is no longer called at
 * graph end). New: prof_clock, prof_trace_name, prof_trace_batch_begin/end,
 * prof_trace_fire (inline), prof_trace_fire_ns. Existing signatures kept. */
#ifndef MAESTRO_PROF_H
#define MAESTRO_PROF_H

#include <stdint.h>

#include "base/clock.h"
#include "maestro.h"

struct maestro_runtime;

/* Creates the stats segment (unless rt->cfg.stats == 0) and its publisher
 * thread, and the trace (when rt->cfg.trace is set). */
int prof_init(struct maestro_runtime *rt);
/* Writes the trace file, removes the segment. */
void prof_fini(struct maestro_runtime *rt);

/* ---- live stats (prof/prof.c; layout in prof/segment.h). A publisher
 * thread calls core_collect_agents / core_collect_channels /
 * sched_collect_places / ocl_collect_device (prof/records.h) every 100 ms
 * (MAESTRO_STATS_INTERVAL_MS) and writes the segment.
 * prof_publish publishes now, synchronously: the engine calls it at graph
 * end, before the graph's agents disappear, so the last counts are seen.
 * Call it holding no engine lock (the collectors take theirs). No-op when
 * stats and trace are off. */
void prof_publish(struct maestro_runtime *rt);
/* The segment's shm name ("/maestro-1000-4242"), or NULL when none. */
const char *prof_stats_name(const struct maestro_runtime *rt);
/* Why stats were asked for but no segment exists (no /dev/shm...), or why
 * the segment is not under its usual name (something not this program's
 * held it: prof_stats_name says where it is); NULL when neither. */
const char *prof_stats_error(const struct maestro_runtime *rt);

/* ---- trace (prof/trace.c). Every call is a no-op when tracing is off;
 * callers test prof_tracing(rt) first on hot paths. Records are buffered
 * per thread in binary form (no lock, no formatting on the recording path)
 * and written as JSON when the runtime is destroyed, when prof_trace_flush
 * asks, and in the background once MAESTRO_TRACE_BUFFER_MB fills. */
int prof_tracing(const struct maestro_runtime *rt);

/* The trace clock: the TSC where it is invariant (a few ns), else
 * rt_now_ns(). Its ticks are mapped onto rt_now_ns() when written. */
extern int prof_clock_tsc;
static inline uint64_t prof_clock(void) {
#if defined(__x86_64__) || defined(__i386__)
  if (prof_clock_tsc) return __builtin_ia32_rdtsc();
#endif
  return rt_now_ns();
}

/* Interns an agent's name for prof_trace_fire (the engine does it once per
 * agent at graph start); 0 when tracing is off. */
uint32_t prof_trace_name(struct maestro_runtime *rt, const char *name);

/* The engine's CPU firing path. A batch of firings on one CPU worker:
 *   prof_trace_batch_begin(rt)            reads the clock, returns it;
 *   prof_trace_fire(...) per firing       t0 = t1 = 0: untimed, spread
 *                                         evenly over the batch when written;
 *                                         or t0, t1 from prof_clock();
 *   prof_trace_batch_end(rt)              reads the clock; returns 1 when the
 *                                         batch's firings were long enough
 *                                         (> ~1 us) to time them one by one.
 * `flow_in` / `flow_out` are message ids (0 = none) linking a producer's
 * firing to its consumer's. `name` from prof_trace_name. */
uint64_t prof_trace_batch_begin(struct maestro_runtime *rt);
static inline void prof_trace_fire(struct maestro_runtime *rt, int cpu, uint32_t name, uint64_t seq,
                                   uint64_t bytes, uint64_t t0, uint64_t t1, uint64_t flow_in,
                                   uint64_t flow_out);
int prof_trace_batch_end(struct maestro_runtime *rt);

/* prof_trace_fire's inline part: the firing that comes next in the run of
 * untimed firings this thread recorded last (same agent and place and
 * bytes, seq and the flow ids not 0 one up) only counts one more in the
 * run's record. The run exists only inside a batch of this thread. */
struct prof_run {
  uint64_t *count;              /* the run's count word, or NULL */
  uint64_t key;                 /* name << 32 | cpu */
  uint64_t bytes, seq, in, out; /* what the run's next firing looks like */
  uint32_t batch_n;             /* firings recorded in this batch */
};
extern __attribute__((tls_model("initial-exec"))) _Thread_local struct prof_run prof_run;
/* The engine's fast path for a firing it knows to be the next of the run
 * (same agent, its seq and message ids each one up): counts it when this
 * thread has a run with these `bytes` going; returns 0 (record it with
 * prof_trace_fire) otherwise. */
static inline int prof_trace_fire_next(uint64_t bytes) {
  struct prof_run *r = &prof_run;
  if (!r->count || bytes != r->bytes) return 0;
  ++*r->count;
  r->seq++;
  r->in += r->in != 0;
  r->out += r->out != 0;
  r->batch_n++;
  return 1;
}
void prof_trace_fire_rec(struct maestro_runtime *rt, int cpu, uint32_t name, uint64_t seq,
                         uint64_t bytes, uint64_t t0, uint64_t t1, uint64_t flow_in,
                         uint64_t flow_out);
static inline void prof_trace_fire(struct maestro_runtime *rt, int cpu, uint32_t name, uint64_t seq,
                                   uint64_t bytes, uint64_t t0, uint64_t t1, uint64_t flow_in,
                                   uint64_t flow_out) {
  struct prof_run *r = &prof_run;
  if (r->count && !t1 && seq == r->seq && flow_in == r->in && flow_out == r->out &&
      bytes == r->bytes && r->key == ((uint64_t)name << 32 | (uint32_t)cpu)) {
    ++*r->count; /* published by the batch's end */
    r->seq++;
    r->in += flow_in != 0;
    r->out += flow_out != 0;
    r->batch_n++;
    return;
  }
  prof_trace_fire_rec(rt, cpu, name, seq, bytes, t0, t1, flow_in, flow_out);
}
/* A firing timed in rt_now_ns() nanoseconds on any place. */
void prof_trace_fire_ns(struct maestro_runtime *rt, maestro_place_kind_t kind, int index,
                        uint32_t name, uint64_t seq, uint64_t bytes, uint64_t t0_ns, uint64_t t1_ns,
                        uint64_t flow_in, uint64_t flow_out);
/* The same by name (interned on each call: not for hot paths). */
void prof_trace_firing(struct maestro_runtime *rt, maestro_place_kind_t kind, int index,
                       const char *agent, uint64_t seq, uint64_t bytes, uint64_t t0_ns,
                       uint64_t t1_ns, uint64_t flow_in, uint64_t flow_out);
/* One transfer to or from device `dev` ("h2d", "d2h", "d2d"). */
void prof_trace_transfer(struct maestro_runtime *rt, int dev, const char *what, uint64_t bytes,
                         uint64_t t0_ns, uint64_t t1_ns);
/* A channel depth sample. */
void prof_trace_depth(struct maestro_runtime *rt, const char *channel, uint32_t depth,
                      uint64_t t_ns);
/* Writes what has been recorded so far (the runtime's destroy does it too).
 * MAESTRO_OK, or MAESTRO_ESYS when writing the file failed (now or
 * before: the trace is then incomplete; stderr said so once). */
int prof_trace_flush(struct maestro_runtime *rt);

#endif
