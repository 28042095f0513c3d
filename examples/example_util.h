/* Small helpers the examples share: clocks, reading a file, making the
 * runtime of an example that needs a device, and checking a call in main.
 * Boilerplate only, kept here so that each example shows its own graph; what
 * an example teaches stays in the example. bench/libagents includes it too,
 * through examples/raw_clblast.h (its CMake include path names this folder). */
#ifndef MAESTRO_EXAMPLE_UTIL_H
#define MAESTRO_EXAMPLE_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "maestro.h"

/* Seconds on CLOCK_MONOTONIC: only the difference of two readings means
 * anything. */
static inline double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* CPU seconds of the whole process, every thread (on a CPU device such as
 * PoCL the kernels themselves are CPU time). */
static inline double cpu_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The whole file at `path` as a NUL-terminated string the caller frees, or
 * NULL when it cannot be read. */
static inline char *read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
    free(s);
    s = NULL;
  }
  if (s) s[n] = '\0';
  fclose(f);
  return s;
}

/* The runtime of example `name`, which needs an OpenCL device: created
 * with the defaults and the MAESTRO_* variables in *rt, its number of device
 * places in *ndev (when not NULL). Returns 0; or, having said why and
 * destroyed what it made, main's exit status: 1 when there is no runtime, 77
 * when it has no device (ctest counts the example as skipped). */
static inline int example_device_runtime(const char *name, maestro_runtime_t **rt, int *ndev) {
  if (maestro_runtime_create(NULL, rt)) {
    fprintf(stderr, "runtime: %s\n", maestro_last_error());
    return 1;
  }
  int n = maestro_runtime_nplaces(*rt, MAESTRO_PLACE_DEVICE);
  if (n < 1) {
    printf("%s: no OpenCL device, nothing to run\n", name);
    maestro_runtime_destroy(*rt);
    return 77;
  }
  if (ndev) *ndev = n;
  return 0;
}

/* In main: when `call` (a Maestro call) fails, prints it with
 * maestro_last_error() and returns 1 from main. */
#define CHECK(call)                                                                                \
  do {                                                                                             \
    int rc_ = (call);                                                                              \
    if (rc_ < 0) {                                                                                 \
      fprintf(stderr, "%s failed: %s\n", #call, maestro_last_error());                             \
      return 1;                                                                                    \
    }                                                                                              \
  } while (0)

#endif
