/* STUB (replaced by the engine work): mem, sched and graph entry points. */
#include <stdlib.h>

#include "core/error.h"
#include "core/runtime.h"
#include "mem/buf.h"
#include "prof/records.h"
#include "sched/sched.h"

int mem_init(struct maestro_runtime *rt) {
  (void)rt;
  return MAESTRO_OK;
}
void mem_fini(struct maestro_runtime *rt) {
  (void)rt;
}
int sched_init(struct maestro_runtime *rt) {
  (void)rt;
  return MAESTRO_OK;
}
void sched_fini(struct maestro_runtime *rt) {
  (void)rt;
}
int sched_current_cpu(void) {
  return -1;
}
void graph_destroy_all(struct maestro_runtime *rt) {
  (void)rt;
}
int core_collect_agents(struct maestro_runtime *rt, struct prof_agent_rec *r, int cap) {
  (void)rt;
  (void)r;
  (void)cap;
  return 0;
}
int core_collect_channels(struct maestro_runtime *rt, struct prof_chan_rec *r, int cap) {
  (void)rt;
  (void)r;
  (void)cap;
  return 0;
}
int sched_collect_places(struct maestro_runtime *rt, struct prof_place_rec *r, int cap) {
  (void)rt;
  (void)r;
  (void)cap;
  return 0;
}
