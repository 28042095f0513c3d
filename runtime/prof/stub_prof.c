/* STUB (replaced by the observability work). */
#include "core/runtime.h"
#include "prof/prof.h"

int prof_init(struct maestro_runtime *rt) {
  (void)rt;
  return MAESTRO_OK;
}
void prof_fini(struct maestro_runtime *rt) {
  (void)rt;
}
int prof_tracing(const struct maestro_runtime *rt) {
  (void)rt;
  return 0;
}
void prof_trace_firing(struct maestro_runtime *rt, maestro_place_kind_t kind, int index,
                       const char *agent, uint64_t seq, uint64_t bytes, uint64_t t0_ns,
                       uint64_t t1_ns, uint64_t flow_in, uint64_t flow_out) {
  (void)rt;
  (void)kind;
  (void)index;
  (void)agent;
  (void)seq;
  (void)bytes;
  (void)t0_ns;
  (void)t1_ns;
  (void)flow_in;
  (void)flow_out;
}
void prof_trace_transfer(struct maestro_runtime *rt, int dev, const char *what, uint64_t bytes,
                         uint64_t t0_ns, uint64_t t1_ns) {
  (void)rt;
  (void)dev;
  (void)what;
  (void)bytes;
  (void)t0_ns;
  (void)t1_ns;
}
void prof_trace_depth(struct maestro_runtime *rt, const char *channel, uint32_t depth,
                      uint64_t t_ns) {
  (void)rt;
  (void)channel;
  (void)depth;
  (void)t_ns;
}
void prof_trace_flush(struct maestro_runtime *rt) {
  (void)rt;
}
