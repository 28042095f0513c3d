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
};
void fake_stats_get(struct fake_stats *s);

#endif
