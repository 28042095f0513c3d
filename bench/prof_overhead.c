/* prof_overhead: what live stats and tracing cost a running graph.
 *
 * A source -> scale -> sink pipeline (CPU agents, `BYTES`-byte f32
 * messages; scale multiplies every element), or with SHAPE "pass" the
 * pipeline benchmark's source -> 2 pass-through agents -> sink (8-byte
 * messages), runs `MESSAGES` messages on a fresh runtime in three modes,
 * alternating within each round so that machine noise hits them alike:
 * everything off (the baseline, measured in the same run), live stats on
 * (MAESTRO_STATS=1), stats and trace on (MAESTRO_TRACE to a temporary file,
 * deleted afterwards). The time is maestro_graph_run's (until the graph's
 * outputs are all out). The trace is written when the runtime is destroyed:
 * that time (and the runtime's creation, which populates the trace buffer)
 * and the file's size are printed apart.
 * Prints each mode's best and median time and their ratios to the baseline.
 *
 * On a shared machine those wall-clock ratios carry the noise of everyone
 * else's work, so the costs are also measured directly, in thread CPU time
 * (which other processes do not inflate): one publish of the live stats,
 * one traced firing (the clock read the engine adds per firing, recording the
 * event, formatting and writing it), and a firing of the same pipeline with
 * everything off (process CPU time / firings), for scale.
 *
 *   prof_overhead [MESSAGES=100000] [BYTES=4096] [ROUNDS=5] [SHAPE=scale|pass]
 */
#include <sys/stat.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/runtime.h"
#include "bench_util.h"
#include "maestro.h"
#include "core/trace.h"
#include "prof/prof.h"
#include "base/stats_rec.h"

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#define CHECK(x)                                                                                   \
  do {                                                                                             \
    int rc_ = (x);                                                                                 \
    if (rc_ != MAESTRO_OK) {                                                                       \
      fprintf(stderr, "prof_overhead: %s: %s\n", #x, maestro_last_error());                        \
      exit(1);                                                                                     \
    }                                                                                              \
  } while (0)

static const maestro_port_t f32_in[] = {{"in", MAESTRO_F32, 0}};
static const maestro_port_t f32_out[] = {{"out", MAESTRO_F32, 0}};

/* A message's first element carries its sequence number modulo this: exact
 * in float, also multiplied by the 2^30 of the 30-stage pipeline. */
#define SEQ_WRAP (1u << 20)

struct src {
  long n;
  size_t bytes;
};

static int source(maestro_fire_t *f) {
  const struct src *s = maestro_fire_state(f);
  if (maestro_fire_seq(f) >= (uint64_t)s->n) return MAESTRO_DONE;
  maestro_buf_t *b;
  int rc = maestro_fire_alloc(f, s->bytes, &b);
  if (rc) return rc;
  float *x = maestro_buf_data(b);
  for (size_t i = 0; i < s->bytes / sizeof(float); i++)
    x[i] = (float)i;
  x[0] = (float)(maestro_fire_seq(f) % SEQ_WRAP); /* the sink checks the order */
  return maestro_fire_out(f, 0, b);
}

static int scale(maestro_fire_t *f) {
  maestro_buf_t *in = maestro_fire_in(f, 0);
  size_t n = maestro_buf_size(in) / sizeof(float);
  maestro_buf_t *out;
  int rc = maestro_fire_alloc(f, maestro_buf_size(in), &out);
  if (rc) return rc;
  const float *x = maestro_buf_cdata(in);
  float *y = maestro_buf_data(out);
  for (size_t i = 0; i < n; i++)
    y[i] = 2.0f * x[i];
  return maestro_fire_out(f, 0, out);
}

static int pass(maestro_fire_t *f) {
  return maestro_fire_out(f, 0, maestro_buf_retain(maestro_fire_in(f, 0)));
}

/* What the sink expects: the source's messages in order, every element
 * multiplied by `factor` (a power of two: exact in float). */
struct sink_state {
  long count, bad;
  size_t bytes;
  float factor;
};

static int sink(maestro_fire_t *f) {
  struct sink_state *s = maestro_fire_state(f);
  maestro_buf_t *in = maestro_fire_in(f, 0);
  const float *x = maestro_buf_cdata(in);
  size_t n = s->bytes / sizeof(float);
  s->bad += maestro_buf_size(in) != s->bytes || !x ||
            x[0] != s->factor * (float)((uint64_t)s->count % SEQ_WRAP) ||
            (n > 1 && x[n - 1] != s->factor * (float)(n - 1));
  s->count++;
  return MAESTRO_OK;
}

static void sink_verify(const struct sink_state *s, long n) {
  if (s->count != n || s->bad)
    bench_fail("prof_overhead", "sink saw %ld messages of %ld, %ld of them wrong or out of order",
               s->count, n, s->bad);
}

enum mode { OFF, STATS, TRACE, NMODES };
static const char *const mode_name[NMODES] = {"stats off, trace off", "stats on",
                                              "stats on + trace on"};

static int shape_pass; /* SHAPE "pass": source -> pass0 -> pass1 -> sink */

/* What writing the trace cost, summed over the traced runs. */
static double trace_create_s, trace_destroy_s, trace_file_bytes;
static int trace_runs;

/* One run on a fresh runtime; returns seconds of maestro_graph_run. */
static uint64_t cpu_ns(clockid_t c);
static double last_cpu_s; /* process CPU time of the last run's maestro_graph_run */

/* A temporary trace file in $TMPDIR (default /tmp). */
static void temp_path(char *path, size_t n) {
  const char *dir = getenv("TMPDIR");
  snprintf(path, n, "%s/prof_overhead_XXXXXX.json", dir && *dir ? dir : "/tmp");
  int fd = mkstemps(path, 5);
  if (fd < 0) {
    perror("prof_overhead: mkstemps");
    exit(1);
  }
  close(fd);
}

static double run(enum mode m, long n, size_t bytes) {
  char path[4200];
  maestro_config_t cfg;
  CHECK(maestro_config_defaults(&cfg));
  cfg.devices = "none";
  cfg.stats = m >= STATS;
  cfg.trace = NULL;
  if (m == TRACE) {
    temp_path(path, sizeof path);
    cfg.trace = path;
  }
  maestro_runtime_t *rt;
  uint64_t tc = now_ns();
  CHECK(maestro_runtime_create(&cfg, &rt));
  tc = now_ns() - tc;
  maestro_graph_t *g;
  CHECK(maestro_graph_create(rt, "pipeline", &g));
  struct src s = {n, bytes};
  struct sink_state count = {0, 0, bytes, shape_pass ? 1.0f : 2.0f};
  maestro_agent_t *a, *b, *c;
  if (shape_pass) {
    CHECK(maestro_agent_add(
        g,
        &(maestro_agent_desc_t){
            .name = "source", .out = f32_out, .n_out = 1, .cpu = source, .state = &s},
        &a));
    maestro_agent_t *prev = a;
    for (int i = 0; i < 2; i++) {
      char name[16];
      snprintf(name, sizeof name, "pass%d", i);
      CHECK(maestro_agent_add(
          g,
          &(maestro_agent_desc_t){
              .name = name, .in = f32_in, .n_in = 1, .out = f32_out, .n_out = 1, .cpu = pass},
          &b));
      CHECK(maestro_connect(g, prev, "out", b, "in", 0));
      prev = b;
    }
    CHECK(maestro_agent_add(
        g,
        &(maestro_agent_desc_t){
            .name = "sink", .in = f32_in, .n_in = 1, .cpu = sink, .state = &count},
        &c));
    CHECK(maestro_connect(g, prev, "out", c, "in", 0));
  } else {
    CHECK(maestro_agent_add(
        g,
        &(maestro_agent_desc_t){
            .name = "source", .out = f32_out, .n_out = 1, .cpu = source, .state = &s},
        &a));
    CHECK(maestro_agent_add(
        g,
        &(maestro_agent_desc_t){
            .name = "scale", .in = f32_in, .n_in = 1, .out = f32_out, .n_out = 1, .cpu = scale},
        &b));
    CHECK(maestro_agent_add(
        g,
        &(maestro_agent_desc_t){
            .name = "sink", .in = f32_in, .n_in = 1, .cpu = sink, .state = &count},
        &c));
    CHECK(maestro_connect(g, a, "out", b, "in", 0));
    CHECK(maestro_connect(g, b, "out", c, "in", 0));
  }
  uint64_t c0 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
  uint64_t t0 = now_ns();
  CHECK(maestro_graph_run(g));
  double t = (double)(now_ns() - t0) / 1e9;
  last_cpu_s = (double)(cpu_ns(CLOCK_PROCESS_CPUTIME_ID) - c0) / 1e9;
  sink_verify(&count, n);
  maestro_graph_destroy(g);
  uint64_t td = now_ns();
  maestro_runtime_destroy(rt);
  td = now_ns() - td;
  if (m == TRACE) {
    struct stat st;
    if (stat(path, &st) == 0) trace_file_bytes += (double)st.st_size;
    trace_create_s += (double)tc / 1e9;
    trace_destroy_s += (double)td / 1e9;
    trace_runs++;
    unlink(path);
  }
  return t;
}

static uint64_t cpu_ns(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Direct costs, in CPU time of the measuring thread. */
static void measure_costs(long n, size_t bytes) {
  /* A firing with everything off: process CPU time over the firings. */
  uint64_t c0 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
  double wall = run(OFF, n, bytes);
  double fire_cpu =
      (double)(cpu_ns(CLOCK_PROCESS_CPUTIME_ID) - c0) / ((shape_pass ? 4.0 : 3.0) * (double)n);
  double fire_wall = wall * 1e9 / ((shape_pass ? 4.0 : 3.0) * (double)n);

  /* One publish: a runtime whose finished graph is still alive. */
  maestro_config_t cfg;
  CHECK(maestro_config_defaults(&cfg));
  cfg.devices = "none";
  cfg.stats = 1;
  maestro_runtime_t *rt;
  CHECK(maestro_runtime_create(&cfg, &rt));
  maestro_graph_t *g;
  CHECK(maestro_graph_create(rt, "costs", &g));
  struct src s = {1000, bytes};
  struct sink_state count = {0, 0, bytes, (float)(1u << 30)}; /* 30 stages of x2 */
  maestro_agent_t *prev, *a;
  CHECK(maestro_agent_add(
      g,
      &(maestro_agent_desc_t){
          .name = "source", .out = f32_out, .n_out = 1, .cpu = source, .state = &s},
      &prev));
  enum { NPASS = 30 }; /* 32 agents, 31 channels */
  for (int i = 0; i < NPASS; i++) {
    char name[16];
    snprintf(name, sizeof name, "scale%d", i);
    CHECK(maestro_agent_add(
        g,
        &(maestro_agent_desc_t){
            .name = name, .in = f32_in, .n_in = 1, .out = f32_out, .n_out = 1, .cpu = scale},
        &a));
    CHECK(maestro_connect(g, prev, "out", a, "in", 0));
    prev = a;
  }
  CHECK(
      maestro_agent_add(g,
                        &(maestro_agent_desc_t){
                            .name = "sink", .in = f32_in, .n_in = 1, .cpu = sink, .state = &count},
                        &a));
  CHECK(maestro_connect(g, prev, "out", a, "in", 0));
  CHECK(maestro_graph_run(g));
  sink_verify(&count, 1000);
  struct prof_agent_rec recs[64];
  int nagents = 0;
  for (int i = 0; i < stats_collectors(rt); i++)
    if (rt->collectors[i]->agents) nagents += rt->collectors[i]->agents(rt, recs, 64);
  enum { PUBLISHES = 2000 };
  uint64_t t0 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
  for (int i = 0; i < PUBLISHES; i++)
    prof_publish(rt);
  double publish_ns = (double)(cpu_ns(CLOCK_THREAD_CPUTIME_ID) - t0) / PUBLISHES;
  maestro_graph_destroy(g);
  maestro_runtime_destroy(rt);

  /* Tracing: the clock, recording, formatting + writing. */
  char path[4200];
  temp_path(path, sizeof path);
  cfg.stats = 0;
  cfg.trace = path;
  cfg.stats_interval_ms = 60000; /* no background work: write here */
  CHECK(maestro_runtime_create(&cfg, &rt));
  enum { EVENTS = 1000000, BATCH = 64 };
  t0 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
  uint64_t sum = 0;
  for (int i = 0; i < EVENTS; i++)
    sum += trace_clock();
  double clock_ns = (double)(cpu_ns(CLOCK_THREAD_CPUTIME_ID) - t0) / EVENTS;
  uint32_t names[2] = {trace_name(rt, "source"), trace_name(rt, "scale")};
  /* In rounds of 100k, written after each (as a drain past the cap does):
   * chunks written out are reused. Firings in batches of 64 (untimed, as
   * the engine records short firings), each batch a span. */
  uint64_t rec = 0, wr = 0;
  for (int round = 0; round < 10; round++) {
    t0 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
    for (int k = 0; k < EVENTS / 10; k += BATCH) {
      trace_batch_begin(rt);
      for (int j = 0; j < BATCH; j++) {
        int i = round * (EVENTS / 10) + k + j;
        trace_fire(rt, i & 1, names[i & 1], (uint64_t)i, bytes, 0, 0, (uint64_t)i + 1,
                   (uint64_t)i + 2);
      }
      trace_batch_end(rt);
    }
    uint64_t t1 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
    prof_trace_flush(rt);
    rec += t1 - t0;
    wr += cpu_ns(CLOCK_THREAD_CPUTIME_ID) - t1;
  }
  double record_ns = (double)rec / EVENTS, write_ns = (double)wr / EVENTS;
  maestro_runtime_destroy(rt);
  unlink(path);
  (void)sum;

  double trace_ns = clock_ns * 2 / BATCH + record_ns;
  printf("prof_overhead costs (thread CPU time):\n");
  printf("  a firing, everything off (%zu B, source -> scale -> sink): %.0f ns CPU (process, "
         "spinning included), %.0f ns wall\n",
         bytes, fire_cpu, fire_wall);
  printf("  one live-stats publish, %d agents and %d channels: %.1f us; every %d ms that is "
         "%.4f%% of one core\n",
         nagents, NPASS + 1, publish_ns / 1e3, 100, publish_ns / 1e6 / 100 * 100);
  printf("  one traced firing while the graph runs: record %.1f ns (2 clock reads of %.1f ns "
         "per batch of %d included) = %.1f%% of an untraced firing's wall time; written "
         "later: %.0f ns CPU per firing (formatting and writing its JSON)\n",
         record_ns, clock_ns, BATCH, 100.0 * trace_ns / fire_wall, write_ns);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 100000;
  size_t bytes = argc > 2 ? (size_t)atol(argv[2]) : 4096;
  int rounds = argc > 3 ? atoi(argv[3]) : 5;
  shape_pass = argc > 4 && strcmp(argv[4], "pass") == 0;
  if (n <= 0 || bytes < sizeof(float) || rounds <= 0 || rounds > 100) {
    fprintf(stderr, "usage: prof_overhead [MESSAGES>0] [BYTES>=4] [ROUNDS 1..100]\n");
    return 2;
  }
  bytes -= bytes % sizeof(float);
  double t[NMODES][100], cpu[NMODES][100];
  run(OFF, n / 10 + 1, bytes); /* warm up: pools, page faults */
  measure_costs(n, bytes);
  for (int r = 0; r < rounds; r++) {
    /* Alternate the order: OFF STATS TRACE, then TRACE STATS OFF, ... */
    for (int k = 0; k < NMODES; k++) {
      enum mode m = (enum mode)(r % 2 ? NMODES - 1 - k : k);
      t[m][r] = run(m, n, bytes);
      cpu[m][r] = last_cpu_s;
    }
  }
  printf("prof_overhead: %s, %ld messages of %zu B, %d alternating rounds, "
         "best / median seconds of maestro_graph_run\n",
         shape_pass ? "source -> pass0 -> pass1 -> sink" : "source -> scale -> sink", n, bytes,
         rounds);
  double best[NMODES], med[NMODES], cmed[NMODES];
  for (int m = 0; m < NMODES; m++) {
    qsort(t[m], (size_t)rounds, sizeof(double), cmp_double);
    qsort(cpu[m], (size_t)rounds, sizeof(double), cmp_double);
    cmed[m] = rounds % 2 ? cpu[m][rounds / 2] : (cpu[m][rounds / 2 - 1] + cpu[m][rounds / 2]) / 2;
    best[m] = t[m][0];
    med[m] = rounds % 2 ? t[m][rounds / 2] : (t[m][rounds / 2 - 1] + t[m][rounds / 2]) / 2;
    printf("  %-22s best %.4f s (%.2f M msg/s)  median %.4f s", mode_name[m], best[m],
           (double)n / best[m] / 1e6, med[m]);
    if (m != OFF)
      printf("  ratio to off: best %.3f, median %.3f (%+.1f%%)", best[m] / best[OFF],
             med[m] / med[OFF], 100.0 * (med[m] / med[OFF] - 1));
    printf("\n    process CPU time, median %.4f s", cmed[m]);
    if (m != OFF) printf(" (%+.1f%%)", 100.0 * (cmed[m] / cmed[OFF] - 1));
    printf("\n");
  }
  if (trace_runs)
    printf("  trace written at runtime destroy: %.3f s per run (%.1f MB file, %.0f B per "
           "firing); runtime creation with the trace buffer: %.3f s\n",
           trace_destroy_s / trace_runs, trace_file_bytes / trace_runs / 1e6,
           trace_file_bytes / trace_runs / ((shape_pass ? 4.0 : 3.0) * (double)n),
           trace_create_s / trace_runs);
  return 0;
}
