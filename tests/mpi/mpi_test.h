/* What the MPI suites share: a runtime per rank on a machine whose cores
 * the ranks share, and CPU work that a busy machine does not shorten. */
#ifndef MAESTRO_TESTS_MPI_TEST_H
#define MAESTRO_TESTS_MPI_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "maestro.h"

/* The configuration the suites start from: across ranks ("mpi"), one CPU
 * place per rank (several ranks share this machine's cores), no stats
 * segment, no OpenCL device. A suite changes what it needs after. */
static inline void mpi_test_config(maestro_config_t *cfg) {
  maestro_config_defaults(cfg);
  cfg->devices = "none";
  cfg->stats = 0;
  cfg->ncpu = 1;
  cfg->dist = "mpi";
}

/* Creates *rt from `cfg` and reads this rank (*me) and the number of ranks
 * (*nr): 0, or -1 with the runtime's error printed (a suite_init's answer). */
static inline int mpi_test_start(const maestro_config_t *cfg, maestro_runtime_t **rt, int *me,
                                 int *nr) {
  if (maestro_runtime_create(cfg, rt) != MAESTRO_OK) {
    fprintf(stderr, "runtime: %s\n", maestro_last_error());
    return -1;
  }
  *me = maestro_runtime_rank(*rt);
  *nr = maestro_runtime_nranks(*rt);
  return 0;
}

/* CPU work for `ns` of the calling thread's own CPU time. */
static inline void mpi_test_spin(uint64_t ns) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  uint64_t t0 = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec, t;
  do {
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    t = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
  } while (t - t0 < ns);
}

#endif
