/* Observability: the live stats segment and the Chrome trace writer, a
 * module on top of the engine (runtime/modules.c lists it).
 *
 * prof reaches the engine only through what the engine declares for it:
 *   - prof_init fills rt->observer (base/runtime.h): the engine calls
 *     prof_publish at each graph's end through it, naming no prof function;
 *   - the publisher reads the stats collectors the subsystems registered
 *     (rt->collectors, base/stats_rec.h) and names none of them;
 *   - the trace writer starts the engine's trace recorder (core/trace.h,
 *     core/trace_rec.h), through which the engine and the backends record,
 *     and writes its records as JSON.
 * The engine includes no prof header. */
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
 * thread asks every registered collector for its records every 100 ms
 * (MAESTRO_STATS_INTERVAL_MS) and writes the segment.
 * prof_publish publishes now, synchronously: it is rt->observer.graph_end,
 * so the engine calls it at graph end, before the graph's agents disappear,
 * and the last counts are seen. Call it holding no engine lock (the
 * collectors take theirs). No-op when stats and trace are off. */
void prof_publish(struct maestro_runtime *rt);
/* The segment's shm name ("/maestro-1000-4242"), or NULL when none. */
const char *prof_stats_name(const struct maestro_runtime *rt);
/* Why stats were asked for but no segment exists (no /dev/shm...), or why
 * the segment is not under its usual name (something not this program's
 * held it: prof_stats_name says where it is); NULL when neither. */
const char *prof_stats_error(const struct maestro_runtime *rt);

/* ---- trace (prof/trace.c): the writer of what core/trace.h records.
 * Records are written as JSON when the runtime is destroyed, when
 * prof_trace_flush asks, and in the background once MAESTRO_TRACE_BUFFER_MB
 * fills. prof_trace_flush writes what has been recorded so far (no-op when
 * not tracing): MAESTRO_OK, or MAESTRO_ESYS when writing the file failed
 * (now or before: the trace is then incomplete; stderr said so once). */
int prof_trace_flush(struct maestro_runtime *rt);

#endif
