/* The runtime's stats collectors (base/stats_rec.h). */
#include "base/stats_rec.h"

#include "base/error.h"
#include "base/runtime.h"

int stats_register(struct maestro_runtime *rt, const struct stats_collector *c) {
  if (!rt || !c) return err_set(MAESTRO_EINVAL, "stats_register: %s is NULL", rt ? "c" : "rt");
  if (rt->ncollectors >= STATS_MAX_COLLECTORS)
    return err_set(MAESTRO_ENOMEM, "stats_register: '%s': the runtime has %d collectors already",
                   c->name ? c->name : "?", STATS_MAX_COLLECTORS);
  rt->collectors[rt->ncollectors++] = c;
  return MAESTRO_OK;
}
