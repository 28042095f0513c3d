/* Observability: the live stats segment and the Chrome trace writer. */
#ifndef MAESTRO_PROF_H
#define MAESTRO_PROF_H

#include <stdint.h>

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
/* Why stats were asked for but no segment exists (no /dev/shm...), or NULL. */
const char *prof_stats_error(const struct maestro_runtime *rt);

/* ---- trace (prof/trace.c). Every call is a no-op when tracing is off;
 * callers test prof_tracing(rt) first on hot paths. Timestamps are
 * rt_now_ns(). Events are buffered per thread and written at graph end or
 * runtime destroy. */
int prof_tracing(const struct maestro_runtime *rt);

/* One firing on a place. `flow_in` / `flow_out` are message ids (0 = none)
 * linking a producer's firing to its consumer's. */
void prof_trace_firing(struct maestro_runtime *rt, maestro_place_kind_t kind, int index,
                       const char *agent, uint64_t seq, uint64_t bytes, uint64_t t0_ns,
                       uint64_t t1_ns, uint64_t flow_in, uint64_t flow_out);
/* One transfer to or from device `dev` ("h2d", "d2h", "d2d"). */
void prof_trace_transfer(struct maestro_runtime *rt, int dev, const char *what, uint64_t bytes,
                         uint64_t t0_ns, uint64_t t1_ns);
/* A channel depth sample. */
void prof_trace_depth(struct maestro_runtime *rt, const char *channel, uint32_t depth,
                      uint64_t t_ns);
/* Writes what has been buffered so far (graph end). */
void prof_trace_flush(struct maestro_runtime *rt);

#endif
