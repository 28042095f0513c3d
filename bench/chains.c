/* chains: K independent chains source -> pass -> sink of 8-byte messages in
 * one graph, against one chain alone (the baseline, measured in the same
 * run). Each chain carries the same number of messages, so with K cores the
 * K chains should take about the time of one: the goal (issue 9) is a
 * ratio <= 1.25 with K chains on K cores.
 *
 *   chains [MESSAGES per chain=1000000] [K=number of CPU workers, at most 8]
 *
 * The machine's own scaling is the baseline, measured in the same run: K
 * threads pinned to K cores, each running a chain's per-message work (a
 * source writing a ring slot, a pass copying it to a second ring, a sink
 * checking it) in a plain loop, against one such thread. On a machine whose
 * cores slow each other down (shared caches, SMT siblings of a virtual
 * machine's host, a shared clock budget), no runtime does better than that
 * ratio; the figure printed last is Maestro's ratio divided by it.
 *
 * Exits non-zero when a sink sees a message lost, duplicated or out of order. */

#include "bench_util.h"

enum { MAX_CHAINS = 8, MAX_THREADS = 256 };

static const maestro_port_t msg_in[] = {{"in", MAESTRO_BYTES, 0}};
static const maestro_port_t msg_out[] = {{"out", MAESTRO_BYTES, 0}};

struct sink_state {
  uint64_t next, errors;
};

static int sink(maestro_fire_t *f) {
  struct sink_state *s = maestro_fire_state(f);
  uint64_t v;
  memcpy(&v, maestro_buf_cdata(maestro_fire_in(f, 0)), sizeof v);
  s->errors += v != s->next++;
  return MAESTRO_OK;
}

/* Runs k chains of n messages each in one graph; returns seconds, and the
 * busiest CPU worker's CPU time in `crit_s`. */
static double run_chains(maestro_runtime_t *rt, long n, int k, double *crit_s) {
  maestro_graph_t *g;
  BENCH_CHECK(maestro_graph_create(rt, "chains", &g));
  struct sink_state st[MAX_CHAINS];
  for (int c = 0; c < k; c++) {
    char name[32];
    maestro_agent_t *src, *pass, *snk;
    snprintf(name, sizeof name, "source%d", c);
    BENCH_CHECK(maestro_agent_add(
        g,
        &(maestro_agent_desc_t){
            .name = name, .out = msg_out, .n_out = 1, .cpu = bench_seq_source, .state = &n},
        &src));
    snprintf(name, sizeof name, "pass%d", c);
    BENCH_CHECK(maestro_agent_add(
        g,
        &(maestro_agent_desc_t){
            .name = name, .in = msg_in, .n_in = 1, .out = msg_out, .n_out = 1, .cpu = bench_pass},
        &pass));
    st[c] = (struct sink_state){0, 0};
    snprintf(name, sizeof name, "sink%d", c);
    BENCH_CHECK(
        maestro_agent_add(g,
                          &(maestro_agent_desc_t){
                              .name = name, .in = msg_in, .n_in = 1, .cpu = sink, .state = &st[c]},
                          &snk));
    BENCH_CHECK(maestro_connect(g, src, "out", pass, "in", 0));
    BENCH_CHECK(maestro_connect(g, pass, "out", snk, "in", 0));
  }
  uint64_t c0[MAX_THREADS], c1[MAX_THREADS];
  int nw = maestro_runtime_nplaces(rt, MAESTRO_PLACE_CPU);
  if (nw > MAX_THREADS) nw = MAX_THREADS;
  bench_worker_cpu_ns(c0, nw);
  uint64_t t0 = bench_now_ns();
  BENCH_CHECK(maestro_graph_run(g));
  uint64_t t = bench_now_ns() - t0;
  bench_worker_cpu_ns(c1, nw);
  uint64_t crit = 0;
  for (int i = 0; i < nw; i++)
    if (c1[i] - c0[i] > crit) crit = c1[i] - c0[i];
  if (crit_s) *crit_s = (double)crit / 1e9;
  for (int c = 0; c < k; c++)
    if (st[c].errors || st[c].next != (uint64_t)n)
      bench_fail("chains", "sink%d saw %llu messages of %ld, %llu not the one expected next", c,
                 (unsigned long long)st[c].next, n, (unsigned long long)st[c].errors);
  maestro_graph_destroy(g);
  return (double)t / 1e9;
}

/* ---- the baseline: one chain's work in a plain loop per core ---- */
struct loop_chain {
  int core;
  long n;
  uint64_t errors;
};

static void *loop_chain_main(void *arg) {
  struct loop_chain *lc = arg;
  bench_pin(lc->core);
  static _Thread_local uint64_t ring_a[1024], ring_b[1024];
  uint64_t next = 0, errors = 0;
  for (long i = 0; i < lc->n; i++) {
    size_t k = (size_t)i % 1024;
    ring_a[k] = (uint64_t)i; /* source */
    __asm__ volatile("" ::: "memory");
    ring_b[k] = ring_a[k]; /* pass */
    __asm__ volatile("" ::: "memory");
    errors += ring_b[k] != next++; /* sink */
  }
  lc->errors = errors;
  return NULL;
}

/* Seconds for k plain-loop chains of n messages each, one per core. */
static double run_loop_chains(long n, int k) {
  pthread_t th[MAX_CHAINS];
  struct loop_chain lc[MAX_CHAINS];
  uint64_t t0 = bench_now_ns();
  for (int c = 0; c < k; c++) {
    lc[c] = (struct loop_chain){.core = c, .n = n};
    if (pthread_create(&th[c], NULL, loop_chain_main, &lc[c]))
      bench_fail("chains", "pthread_create failed");
  }
  for (int c = 0; c < k; c++)
    pthread_join(th[c], NULL);
  uint64_t t = bench_now_ns() - t0;
  for (int c = 0; c < k; c++)
    if (lc[c].errors)
      bench_fail("chains", "plain loop %d: %llu errors", c, (unsigned long long)lc[c].errors);
  return (double)t / 1e9;
}

int main(int argc, char **argv) {
  long n = bench_arg(argc, argv, 1, 1000000);
  maestro_runtime_t *rt = bench_runtime(0);
  int ncpu = maestro_runtime_nplaces(rt, MAESTRO_PLACE_CPU);
  int k = (int)bench_arg(argc, argv, 2, ncpu < MAX_CHAINS ? ncpu : MAX_CHAINS);
  if (k > MAX_CHAINS) k = MAX_CHAINS;
  bench_print_config(rt);
  run_chains(rt, n / 10 + 1, k, NULL); /* warm the pools */
  /* Interleaved, best of three each: the load on a shared machine drifts. */
  double one = 1e30, many = 1e30, one_cpu = 1e30, many_cpu = 1e30, c;
  /* Also the busiest worker's CPU time (the critical path when every
   * worker has a core to itself), best of three each. */
  double loop_one = 1e30, loop_many = 1e30;
  /* The plain loops run 64x the messages: they are some 50x
   * cheaper per message, and a run of a few ms would measure thread start. */
  for (int rep = 0; rep < 3; rep++) {
    double s = run_loop_chains(64 * n, 1);
    if (s < loop_one) loop_one = s;
    s = run_loop_chains(64 * n, k);
    if (s < loop_many) loop_many = s;
    s = run_chains(rt, n, 1, &c);
    if (s < one) one = s;
    if (c < one_cpu) one_cpu = c;
    s = run_chains(rt, n, k, &c);
    if (s < many) many = s;
    if (c < many_cpu) many_cpu = c;
  }
  printf("one chain source -> pass -> sink, %ld msgs of 8 B: %.3f s, %.2f M msg/s; busiest "
         "worker's CPU %.3f s\n",
         n, one, (double)n / one / 1e6, one_cpu);
  printf("%d independent chains in one graph (%d CPU workers), %ld msgs each: %.3f s, %.2f M msg/s "
         "in all; busiest worker's CPU %.3f s; ratio to one chain: %.3f (goal with %d chains on as "
         "many cores: <= 1.25), of the busiest worker's CPU: %.3f\n",
         k, ncpu, n, many, (double)n * k / many / 1e6, many_cpu, many / one, k, many_cpu / one_cpu);
  printf("baseline, the machine's own scaling: %d plain-loop chains on %d cores take %.3fx one "
         "(%.3f / %.3f s); Maestro's ratio over the machine's: %.3f\n",
         k, k, loop_many / loop_one, loop_many, loop_one, (many / one) / (loop_many / loop_one));
  maestro_runtime_destroy(rt);
  return 0;
}
