/* stateless: a MAESTRO_STATELESS agent doing a fixed amount of arithmetic per
 * message, run with 1, 2, ... CPU workers (config.ncpu, as MAESTRO_NCPU
 * would set it); the baseline is the same work done serially in a plain
 * loop, measured in the same run. Figure: speed-up over the serial run.
 *
 *   stateless [MESSAGES=20000] [WORK_ITERATIONS=20000]
 */
#include <stdatomic.h>

#include "bench_util.h"

static const maestro_port_t msg_in[] = {{"in", MAESTRO_BYTES, 0}};
static const maestro_port_t msg_out[] = {{"out", MAESTRO_BYTES, 0}};
static long work_iters;

/* The work: an LCG chain nobody can skip. */
static uint64_t work(uint64_t x) {
  for (long i = 0; i < work_iters; i++)
    x = x * 6364136223846793005ull + 1442695040888963407ull;
  return x;
}

static atomic_int running, most_running; /* firings of the agent at once */

static int worker(maestro_fire_t *f) {
  int now = atomic_fetch_add(&running, 1) + 1;
  int m = atomic_load(&most_running);
  while (now > m && !atomic_compare_exchange_weak(&most_running, &m, now)) {
  }
  uint64_t v;
  memcpy(&v, maestro_buf_cdata(maestro_fire_in(f, 0)), sizeof v);
  maestro_buf_t *b;
  int rc = maestro_fire_alloc(f, 2 * sizeof v, &b);
  if (rc != MAESTRO_OK) return rc;
  uint64_t out[2] = {v, work(v)};
  memcpy(maestro_buf_data(b), out, sizeof out);
  atomic_fetch_sub(&running, 1);
  return maestro_fire_out(f, 0, b);
}

struct sink_state {
  uint64_t next, errors, check;
};

static int sink(maestro_fire_t *f) {
  struct sink_state *s = maestro_fire_state(f);
  uint64_t v[2];
  memcpy(v, maestro_buf_cdata(maestro_fire_in(f, 0)), sizeof v);
  s->errors += v[0] != s->next++; /* outputs keep input order */
  s->check ^= v[1];
  return MAESTRO_OK;
}

static double last_cores_used; /* CPU time / wall time of the last run */

static double run_stateless(int ncpu, long n, uint64_t *check) {
  maestro_runtime_t *rt = bench_runtime(ncpu);
  maestro_graph_t *g;
  BENCH_CHECK(maestro_graph_create(rt, "stateless", &g));
  maestro_agent_t *s, *w, *k;
  BENCH_CHECK(maestro_agent_add(
      g,
      &(maestro_agent_desc_t){
          .name = "source", .out = msg_out, .n_out = 1, .cpu = bench_seq_source, .state = &n},
      &s));
  BENCH_CHECK(maestro_agent_add(g,
                                &(maestro_agent_desc_t){.name = "work",
                                                        .in = msg_in,
                                                        .n_in = 1,
                                                        .out = msg_out,
                                                        .n_out = 1,
                                                        .cpu = worker,
                                                        .flags = MAESTRO_STATELESS},
                                &w));
  struct sink_state st = {0, 0, 0};
  BENCH_CHECK(maestro_agent_add(
      g,
      &(maestro_agent_desc_t){.name = "sink", .in = msg_in, .n_in = 1, .cpu = sink, .state = &st},
      &k));
  BENCH_CHECK(maestro_connect(g, s, "out", w, "in", 0));
  BENCH_CHECK(maestro_connect(g, w, "out", k, "in", 0));
  uint64_t t0 = bench_now_ns(), c0 = bench_cpu_ns();
  BENCH_CHECK(maestro_graph_run(g));
  uint64_t t = bench_now_ns() - t0;
  last_cores_used = (double)(bench_cpu_ns() - c0) / (double)t;
  if (st.errors || st.next != (uint64_t)n)
    bench_fail("stateless", "sink saw %llu messages of %ld, %llu not the one expected next",
               (unsigned long long)st.next, n, (unsigned long long)st.errors);
  *check = st.check;
  maestro_graph_destroy(g);
  maestro_runtime_destroy(rt);
  return (double)t / 1e9;
}

/* The serial baseline: the same work in a plain loop on this thread. */
static double serial_cores_used; /* CPU time / wall time of the last serial run */

static double serial_run(long n, uint64_t *check) {
  uint64_t t0 = bench_now_ns(), c0 = bench_cpu_ns(), c = 0;
  for (long i = 0; i < n; i++)
    c ^= work((uint64_t)i);
  *check = c;
  uint64_t t = bench_now_ns() - t0;
  serial_cores_used = (double)(bench_cpu_ns() - c0) / (double)t;
  return (double)t / 1e9;
}

/* The ceiling: the same items split over `nt` raw threads (no runtime). On
 * a shared machine this says how many cores the process can get at all. */
struct slice {
  long from, to;
  uint64_t check;
};

static void *slice_main(void *arg) {
  struct slice *sl = arg;
  uint64_t c = 0;
  for (long i = sl->from; i < sl->to; i++)
    c ^= work((uint64_t)i);
  sl->check = c;
  return NULL;
}

static double raw_threads_run(long n, int nt, uint64_t *check) {
  pthread_t th[64];
  struct slice sl[64];
  if (nt > 64) nt = 64;
  uint64_t t0 = bench_now_ns();
  for (int k = 0; k < nt; k++) {
    sl[k].from = n * k / nt;
    sl[k].to = n * (k + 1) / nt;
    pthread_create(&th[k], NULL, slice_main, &sl[k]);
  }
  *check = 0;
  for (int k = 0; k < nt; k++) {
    pthread_join(th[k], NULL);
    *check ^= sl[k].check;
  }
  return (double)(bench_now_ns() - t0) / 1e9;
}

int main(int argc, char **argv) {
  long n = bench_arg(argc, argv, 1, 20000);
  work_iters = bench_arg(argc, argv, 2, 20000);
  int cores = bench_ncores();
  maestro_runtime_t *probe = bench_runtime(0);
  bench_print_config(probe);
  maestro_runtime_destroy(probe);
  /* The load on a shared machine drifts: each worker count is compared with
   * a serial run measured just before it, best of two of each. */
  int max_workers = cores > 1 ? cores : 2;
  for (int w = 1; w <= max_workers; w++) {
    double serial = 1e30, s = 1e30, cores_used = 0, serial_cores = 0;
    uint64_t serial_check = 0, check = 0;
    atomic_store(&most_running, 0);
    for (int rep = 0; rep < 2; rep++) {
      double t = serial_run(n, &serial_check);
      if (t < serial) {
        serial = t;
        serial_cores = serial_cores_used;
      }
      t = run_stateless(w, n, &check);
      if (t < s) {
        s = t;
        cores_used = last_cores_used;
      }
    }
    double raw = 1e30;
    uint64_t raw_check = 0;
    if (w > 1)
      for (int rep = 0; rep < 2; rep++) {
        double t = raw_threads_run(n, w, &raw_check);
        if (t < raw) raw = t;
      }
    /* The agent's results (and the raw threads') are the serial loop's. */
    if (check != serial_check)
      bench_fail("stateless", "%d workers: results checksum %016llx, the serial loop's %016llx", w,
                 (unsigned long long)check, (unsigned long long)serial_check);
    if (w > 1 && raw_check != serial_check)
      bench_fail("stateless", "%d raw threads: results checksum %016llx, the serial loop's %016llx",
                 w, (unsigned long long)raw_check, (unsigned long long)serial_check);
    if (w > 1)
      printf("raw: the same items on %d plain threads: %.3f s; speed-up over serial: %.2fx (the "
             "ceiling on this machine now)\n",
             w, raw, serial / raw);
    printf(
        "stateless agent, %d worker%s: %.3f s for %ld items; serial loop %.3f s (%.1f us "
        "each, %.2f cores); speed-up over serial: %.2fx (the run got %.2f cores of CPU time, up to "
        "%d firings at once)\n",
        w, w > 1 ? "s" : "", s, n, serial, serial / (double)n * 1e6, serial_cores, serial / s,
        cores_used, atomic_load(&most_running));
    if (w > 1) printf("  ratio of its speed-up to the raw threads': %.2f\n", raw / s);
  }
  return 0;
}
