/* Shared by the benchmarks: clocks, thread pinning, percentiles, the size
 * argument, the runtime configuration read from the environment, and the
 * small agents and graphs several benchmarks build. */
#ifndef MAESTRO_BENCH_UTIL_H
#define MAESTRO_BENCH_UTIL_H

#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "maestro.h"

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CPU time (user + system) of the whole process, all threads, in ns. */
static inline uint64_t bench_cpu_ns(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000ull +
         ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000ull;
}

/* Number of cores this process may run on. */
static inline int bench_ncores(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  return CPU_COUNT(&set);
}

/* Pins the calling thread to the `k`-th core it may use (wrapping around);
 * the raw baselines use this on threads of their own (never on main, whose
 * mask the runtime's threads would inherit); the runtime pins its workers. */
static inline int bench_pin(int k) {
  cpu_set_t allowed, one;
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return -1;
  int n = CPU_COUNT(&allowed);
  if (n <= 0) return -1;
  k %= n;
  for (int c = 0; c < CPU_SETSIZE; c++) {
    if (!CPU_ISSET(c, &allowed)) continue;
    if (k-- == 0) {
      CPU_ZERO(&one);
      CPU_SET(c, &one);
      return pthread_setaffinity_np(pthread_self(), sizeof one, &one);
    }
  }
  return -1;
}

static inline int bench_cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* The p-th percentile (0..100) of v[0..n), sorting v. */
static inline uint64_t bench_percentile(uint64_t *v, size_t n, double p) {
  if (n == 0) return 0;
  qsort(v, n, sizeof *v, bench_cmp_u64);
  size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
  return v[i < n ? i : n - 1];
}

/* argv[i] as a positive count, or `def`. Accepts 2000000, 2e6, 2M, 500k. */
static inline long bench_arg(int argc, char **argv, int i, long def) {
  if (argc <= i) return def;
  char *end = NULL;
  double v = strtod(argv[i], &end);
  if (end && (*end == 'k' || *end == 'K')) v *= 1e3;
  if (end && (*end == 'm' || *end == 'M')) v *= 1e6;
  return v >= 1 ? (long)v : def;
}

/* Creates a runtime from maestro_config_defaults() (so MAESTRO_STATS,
 * MAESTRO_TRACE, MAESTRO_NCPU... apply), CPU-only unless MAESTRO_DEVICES is
 * set, with `ncpu` workers when > 0. Exits on failure. */
static inline maestro_runtime_t *bench_runtime(int ncpu) {
  maestro_config_t cfg;
  if (maestro_config_defaults(&cfg) != MAESTRO_OK)
    fprintf(stderr, "config: %s (using the defaults)\n", maestro_last_error());
  if (!getenv("MAESTRO_DEVICES")) cfg.devices = "none";
  if (ncpu > 0) cfg.ncpu = ncpu;
  maestro_runtime_t *rt = NULL;
  int rc = maestro_runtime_create(&cfg, &rt);
  if (rc != MAESTRO_OK) {
    fprintf(stderr, "maestro_runtime_create: %s: %s\n", maestro_strerror(rc), maestro_last_error());
    exit(1);
  }
  return rt;
}

/* One line saying how the runtime was configured (stats, trace, workers),
 * so that runs with MAESTRO_STATS=0/1 or MAESTRO_TRACE set can be told apart. */
static inline void bench_print_config(maestro_runtime_t *rt) {
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  printf("config: %d CPU workers, stats=%d, trace=%s, cores=%d (shared machine: compare ratios)\n",
         maestro_runtime_nplaces(rt, MAESTRO_PLACE_CPU), cfg.stats, cfg.trace ? cfg.trace : "off",
         bench_ncores());
}

/* Exits 1 with "BENCH: FAILED: <message>": a benchmark whose outputs are
 * wrong (a message lost, duplicated, out of order or altered) measured
 * something else than it says, and prints no figure. */
__attribute__((noreturn, format(printf, 2, 3))) static inline void
bench_fail(const char *bench, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s: FAILED: ", bench);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

/* Exits with a message when a Maestro call fails. */
#define BENCH_CHECK(call)                                                                          \
  do {                                                                                             \
    int rc_ = (call);                                                                              \
    if (rc_ < 0) {                                                                                 \
      fprintf(stderr, "%s:%d: %s: %s: %s\n", __FILE__, __LINE__, #call, maestro_strerror(rc_),     \
              maestro_last_error());                                                               \
      exit(1);                                                                                     \
    }                                                                                              \
  } while (0)

/* After the graph ended: fails `bench` when `out` still holds a message
 * (one delivered twice, or one nobody asked for). */
static inline void bench_no_more(maestro_output_t *out, const char *bench) {
  maestro_buf_t *b = NULL;
  int rc = maestro_output_pop(out, &b, 0);
  if (rc == MAESTRO_OK) {
    maestro_buf_release(b);
    bench_fail(bench, "the output holds a message nobody sent");
  }
  if (rc != MAESTRO_ECLOSED) bench_fail(bench, "the output did not end: %s", maestro_strerror(rc));
}

/* Source agent: sends its sequence numbers 0, 1, ... as 8-byte messages
 * on output 0, up to the count (a long) its state points to, then is done. */
static inline int bench_seq_source(maestro_fire_t *f) {
  long n = *(const long *)maestro_fire_state(f);
  uint64_t seq = maestro_fire_seq(f);
  if (seq >= (uint64_t)n) return MAESTRO_DONE;
  maestro_buf_t *b;
  int rc = maestro_fire_alloc(f, sizeof seq, &b);
  if (rc != MAESTRO_OK) return rc;
  memcpy(maestro_buf_data(b), &seq, sizeof seq);
  return maestro_fire_out(f, 0, b);
}

/* Pass-through agent: sends its input buffer on unchanged (no copy). */
static inline int bench_pass(maestro_fire_t *f) {
  return maestro_fire_out(f, 0, maestro_buf_retain(maestro_fire_in(f, 0)));
}

/* Creates and starts graph `name`: one bench_pass agent `agent` with a host
 * input on its "in" port and a host output on its "out" port. Exits on
 * failure. */
static inline maestro_graph_t *bench_echo_graph(maestro_runtime_t *rt, const char *name,
                                                const char *agent, maestro_input_t **in,
                                                maestro_output_t **out) {
  static const maestro_port_t msg_in[] = {{"in", MAESTRO_BYTES, 0}};
  static const maestro_port_t msg_out[] = {{"out", MAESTRO_BYTES, 0}};
  maestro_graph_t *g;
  BENCH_CHECK(maestro_graph_create(rt, name, &g));
  maestro_agent_t *a;
  BENCH_CHECK(maestro_agent_add(
      g,
      &(maestro_agent_desc_t){
          .name = agent, .in = msg_in, .n_in = 1, .out = msg_out, .n_out = 1, .cpu = bench_pass},
      &a));
  BENCH_CHECK(maestro_graph_input(g, a, "in", in));
  BENCH_CHECK(maestro_graph_output(g, a, "out", out));
  BENCH_CHECK(maestro_graph_start(g));
  return g;
}

/* CPU time of each CPU worker thread (maestro-cpuN), in ns, from
 * /proc/self/task/TID/schedstat; indexed by N; 0 where unknown. Wall time on
 * a shared machine depends on the other load; the busiest worker's CPU time
 * is the chains' critical path without it. */
static inline void bench_worker_cpu_ns(uint64_t *ns, int n) {
  memset(ns, 0, (size_t)n * sizeof *ns);
  DIR *d = opendir("/proc/self/task");
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[64], comm[32] = "";
    snprintf(path, sizeof path, "/proc/self/task/%.16s/comm", e->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    int ok = fgets(comm, sizeof comm, f) != NULL;
    fclose(f);
    int w;
    if (!ok || sscanf(comm, "maestro-cpu%d", &w) != 1 || w < 0 || w >= n) continue;
    snprintf(path, sizeof path, "/proc/self/task/%.16s/schedstat", e->d_name);
    unsigned long long run = 0;
    if ((f = fopen(path, "r"))) {
      if (fscanf(f, "%llu", &run) == 1) ns[w] = run;
      fclose(f);
    }
  }
  closedir(d);
}

#endif
