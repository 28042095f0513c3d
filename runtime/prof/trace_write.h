/* The trace's JSON writer (runtime/prof private): formats records into
 * compact Chrome Trace Event JSON (no spaces, one event per line). */
#ifndef MAESTRO_PROF_TRACE_WRITE_H
#define MAESTRO_PROF_TRACE_WRITE_H

#include <stdint.h>

#include "prof/prof_impl.h"

struct maestro_runtime;

/* Writes `s` as a JSON string (quotes included) at `o`; returns the end.
 * Needs up to 6 * strlen(s) + 2 bytes. */
char *tw_put_str(char *o, const char *s);
void tw_init(struct trace *t);
/* The header and the host and CPU track names. */
void tw_meta(struct trace *t, struct maestro_runtime *rt);
/* Names the tracks of device places discovered since the last call
 * (devices are discovered lazily, after the header is written). */
void tw_meta_devices(struct trace *t, struct maestro_runtime *rt);
/* A firing on track `tid` from t0 to t1 ns, with its flows (0 = none). */
void tw_firing(struct trace *t, uint32_t tid, const struct trace_name *name, uint64_t seq,
               uint64_t bytes, uint64_t flow_in, uint64_t flow_out, uint64_t t0, uint64_t t1);
/* A batch of `n` firings whose times are spread over [t0, t1] ns. */
void tw_batch(struct trace *t, uint32_t tid, uint64_t n, uint64_t t0, uint64_t t1);
void tw_transfer(struct trace *t, const uint64_t *w, const struct trace_name *name);
void tw_depth(struct trace *t, const uint64_t *w, const struct trace_name *name);
/* The host's pop of message `flow` at `ns`: a short slice on the host
 * track where the message's arrow ends. */
void tw_flow_end(struct trace *t, uint64_t flow, uint64_t ns);
/* An instant event on the host track at `ns`: `n` more records were lost
 * (the buffer was full), `total` since the start. */
void tw_lost(struct trace *t, uint64_t n, uint64_t total, uint64_t ns);
/* Records a failed write (`err` is its errno): the trace stops being
 * written, and the first failure is reported on stderr (the runtime's
 * destroy, the stats thread and a recording thread that writes have no
 * status to return it through; prof_trace_flush returns one too). */
void tw_fail(struct trace *t, int err);
/* Writes out what is formatted. */
void tw_out_flush(struct trace *t);

#endif
