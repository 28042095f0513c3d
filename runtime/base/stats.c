/* The runtime's stats collectors (base/stats_rec.h). */
#include "base/stats_rec.h"

#include <pthread.h>
#include <stdatomic.h>

#include "base/error.h"
#include "base/runtime.h"

/* Registrations are rare (a few per runtime): one lock for all runtimes
 * keeps two of them from taking one slot. Readers take no lock. */
static pthread_mutex_t register_lock = PTHREAD_MUTEX_INITIALIZER;

int stats_register(struct maestro_runtime *rt, const struct stats_collector *c) {
  if (!rt || !c) return err_set(MAESTRO_EINVAL, "stats_register: %s is NULL", rt ? "c" : "rt");
  pthread_mutex_lock(&register_lock);
  int n = atomic_load_explicit(&rt->ncollectors, memory_order_relaxed);
  if (n < STATS_MAX_COLLECTORS) {
    rt->collectors[n] = c;
    atomic_store_explicit(&rt->ncollectors, n + 1, memory_order_release);
  }
  pthread_mutex_unlock(&register_lock);
  if (n >= STATS_MAX_COLLECTORS)
    return err_set(MAESTRO_ENOMEM, "stats_register: '%s': the runtime has %d collectors already",
                   c->name ? c->name : "?", STATS_MAX_COLLECTORS);
  return MAESTRO_OK;
}

int stats_collectors(const struct maestro_runtime *rt) {
  return atomic_load_explicit(&rt->ncollectors, memory_order_acquire);
}
