/* A test-only backend (tests/backend_fake.c): one fake device place whose
 * memory is host memory allocated apart, and whose firings run the agent's
 * CPU function on the device's own thread. */
#ifndef MAESTRO_TESTS_BACKEND_FAKE_H
#define MAESTRO_TESTS_BACKEND_FAKE_H

#include <stdint.h>

/* Registers the fake backend for runtimes created from now on (once per
 * process; later calls do nothing). */
int fake_backend_register(void);

/* What crossed the fake device's boundary since the process started. */
struct fake_stats {
  uint64_t copies_in, copies_out; /* host -> fake memory, fake memory -> host */
  uint64_t bytes_in, bytes_out;
  uint64_t firings; /* firings run on the fake device */
  int64_t live;     /* fake replicas allocated now */
  uint64_t refused; /* launches refused by fake_refuse_first */
};
void fake_stats_get(struct fake_stats *s);

/* Registers a second fake device (a backend named "fake2"), after
 * fake_backend_register, for failover between two device places. */
int fake_backend_register_second(void);

/* on != 0: the first fake device refuses every launch (submit fails with
 * MAESTRO_ENOMEM, counted in fake_stats.refused), as a device out of
 * resources would. */
void fake_refuse_first(int on);

#endif
