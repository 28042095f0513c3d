/* cross: fine-grained chains forced across two cores. Agents pinned to CPU
 * places with affinity (maestro_affinity_t), 8-byte messages:
 *   - 1 crossing: source@0 -> sink@1
 *   - 3 crossings: source@0 -> pass@1 -> pass@0 -> sink@1
 *   - 0 crossings (for reference): source@0 -> sink@0
 * Figures: messages per second per hop, and the CPU time the workers spent
 * per message-hop (spinning included: less swayed by other load). Baseline, measured in the same
 * run right before: a raw single-producer/single-consumer ring between two pinned threads,
 * publishing its index every message, and every 32.
 *
 *   cross [MESSAGES=1000000] [CAPACITY=0 (the default, 64)]
 *
 * Exits non-zero when the sink sees a message lost, duplicated or out of
 * order. With one CPU place, every agent runs on it (the figures then say
 * nothing about crossing). */
#include <dirent.h>
#include <stdatomic.h>

#include "bench_util.h"

enum { MAX_WORKERS = 256 };

/* CPU time of each CPU worker thread (maestro-cpuN), in ns, from
 * /proc/self/task/TID/schedstat (as bench/chains does): on a shared machine
 * wall time measures the other load, the workers' CPU time much less so. */
static void worker_cpu_ns(uint64_t *ns, int n) {
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

/* ---- the baseline: a raw SPSC ring between two pinned threads ---- */
enum { RING = 1024 };
struct ring {
  _Alignas(64) atomic_size_t head; /* written by the consumer */
  _Alignas(64) atomic_size_t tail; /* written by the producer */
  _Alignas(64) uint64_t slot[RING];
  long n;
  size_t batch;
  uint64_t sum;
};

static inline void spin_wait(unsigned *spins) {
  if (++*spins % 256 == 0) sched_yield();
}

static void *ring_consumer(void *arg) {
  struct ring *r = arg;
  bench_pin(1);
  size_t head = 0, tail = 0;
  unsigned spins = 0;
  uint64_t sum = 0;
  for (long i = 0; i < r->n; i++) {
    while (head == tail) {
      tail = atomic_load_explicit(&r->tail, memory_order_acquire);
      if (head == tail) spin_wait(&spins);
    }
    sum += r->slot[head % RING];
    head++;
    if (head % r->batch == 0 || i == r->n - 1)
      atomic_store_explicit(&r->head, head, memory_order_release);
  }
  r->sum = sum;
  return NULL;
}

static void *ring_producer(void *arg) {
  struct ring *r = arg;
  bench_pin(0);
  size_t tail = 0, head = 0;
  unsigned spins = 0;
  for (long i = 0; i < r->n; i++) {
    while (tail - head == RING) {
      head = atomic_load_explicit(&r->head, memory_order_acquire);
      if (tail - head == RING) spin_wait(&spins);
    }
    r->slot[tail % RING] = (uint64_t)i;
    tail++;
    if (tail % r->batch == 0 || i == r->n - 1)
      atomic_store_explicit(&r->tail, tail, memory_order_release);
  }
  return NULL;
}

/* Best of three (noise only ever slows a run down); messages per second. */
static double raw_ring_rate(long n, size_t batch) {
  static struct ring r;
  double best = 0;
  for (int rep = 0; rep < 3; rep++) {
    atomic_store(&r.head, 0);
    atomic_store(&r.tail, 0);
    r.n = n;
    r.batch = batch;
    pthread_t prod, cons;
    uint64_t t0 = bench_now_ns();
    pthread_create(&cons, NULL, ring_consumer, &r);
    pthread_create(&prod, NULL, ring_producer, &r);
    pthread_join(prod, NULL);
    pthread_join(cons, NULL);
    uint64_t t = bench_now_ns() - t0;
    if (r.sum != (uint64_t)n * (uint64_t)(n - 1) / 2)
      bench_fail("cross", "the raw ring's consumer summed %llu, expected %llu",
                 (unsigned long long)r.sum,
                 (unsigned long long)n * (unsigned long long)(n - 1) / 2);
    double rate = (double)n / ((double)t / 1e9);
    if (rate > best) best = rate;
  }
  return best;
}

/* ---- Maestro ---- */
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

static maestro_affinity_t on_cpu(int i, int ncpu) {
  return (maestro_affinity_t){.pref = MAESTRO_ON_CPU, .index = i % ncpu};
}

/* Runs a chain of `npass` pass agents between a source and a sink, agent j
 * on CPU place places[j], channels of `cap` messages; returns seconds, and
 * the CPU time all workers spent in `cpu_s` (may be NULL). */
static double run_chain(maestro_runtime_t *rt, long n, int npass, const int *places, int cap,
                        double *cpu_s) {
  int ncpu = maestro_runtime_nplaces(rt, MAESTRO_PLACE_CPU);
  maestro_graph_t *g;
  BENCH_CHECK(maestro_graph_create(rt, "cross", &g));
  maestro_agent_t *prev, *a;
  BENCH_CHECK(maestro_agent_add(g,
                                &(maestro_agent_desc_t){.name = "source",
                                                        .out = msg_out,
                                                        .n_out = 1,
                                                        .cpu = bench_seq_source,
                                                        .state = &n,
                                                        .affinity = on_cpu(places[0], ncpu)},
                                &prev));
  for (int i = 0; i < npass; i++) {
    char name[32];
    snprintf(name, sizeof name, "pass%d", i);
    BENCH_CHECK(maestro_agent_add(g,
                                  &(maestro_agent_desc_t){.name = name,
                                                          .in = msg_in,
                                                          .n_in = 1,
                                                          .out = msg_out,
                                                          .n_out = 1,
                                                          .cpu = bench_pass,
                                                          .affinity = on_cpu(places[1 + i], ncpu)},
                                  &a));
    BENCH_CHECK(maestro_connect(g, prev, "out", a, "in", cap));
    prev = a;
  }
  struct sink_state st = {0, 0};
  BENCH_CHECK(
      maestro_agent_add(g,
                        &(maestro_agent_desc_t){.name = "sink",
                                                .in = msg_in,
                                                .n_in = 1,
                                                .cpu = sink,
                                                .state = &st,
                                                .affinity = on_cpu(places[1 + npass], ncpu)},
                        &a));
  BENCH_CHECK(maestro_connect(g, prev, "out", a, "in", cap));
  uint64_t c0[MAX_WORKERS], c1[MAX_WORKERS];
  int nw = ncpu < MAX_WORKERS ? ncpu : MAX_WORKERS;
  worker_cpu_ns(c0, nw);
  uint64_t t0 = bench_now_ns();
  BENCH_CHECK(maestro_graph_run(g));
  uint64_t t = bench_now_ns() - t0;
  worker_cpu_ns(c1, nw);
  uint64_t cpu = 0;
  for (int i = 0; i < nw; i++)
    cpu += c1[i] - c0[i];
  if (cpu_s) *cpu_s = (double)cpu / 1e9;
  if (st.errors || st.next != (uint64_t)n)
    bench_fail("cross", "sink saw %llu messages of %ld, %llu not the one expected next",
               (unsigned long long)st.next, n, (unsigned long long)st.errors);
  maestro_graph_destroy(g);
  return (double)t / 1e9;
}

int main(int argc, char **argv) {
  long n = bench_arg(argc, argv, 1, 1000000);
  int cap = (int)bench_arg(argc, argv, 2, 0);
  if (argc > 2 && strcmp(argv[2], "0") == 0) cap = 0;
  maestro_runtime_t *rt = bench_runtime(0);
  bench_print_config(rt);
  if (maestro_runtime_nplaces(rt, MAESTRO_PLACE_CPU) < 2)
    printf("one CPU place: every agent runs on it (no crossing measured)\n");
  static const int one[] = {0, 1}, three[] = {0, 1, 0, 1}, none[] = {0, 0};
  struct {
    const char *what;
    int npass, hops;
    const int *places;
  } runs[] = {{"source@0 -> sink@1 (1 crossing)", 0, 1, one},
              {"source@0 -> pass@1 -> pass@0 -> sink@1 (3 crossings)", 2, 3, three},
              {"source@0 -> sink@0 (same core, for reference)", 0, 1, none}};
  run_chain(rt, n / 10 + 1, 0, one, cap, NULL); /* warm the pools */
  double raw = raw_ring_rate(n, 1), raw32 = raw_ring_rate(n, 32);
  printf("raw SPSC ring, 2 pinned threads: %.2f M msg/s; publishing every 32: %.2f M msg/s\n",
         raw / 1e6, raw32 / 1e6);
  for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
    double best = 1e30, best_cpu = 1e30;
    for (int rep = 0; rep < 3; rep++) {
      double c, s = run_chain(rt, n, runs[i].npass, runs[i].places, cap, &c);
      if (s < best) best = s;
      if (c < best_cpu) best_cpu = c;
    }
    double per_hop = (double)n * runs[i].hops / best;
    printf("%s, %ld msgs of 8 B, capacity %d: %.3f s, %.2f M msg/s per hop; ratio to raw ring: "
           "%.3f (to the ring publishing every 32: %.3f); workers' CPU %.0f ns per message-hop\n",
           runs[i].what, n, cap ? cap : 64, best, per_hop / 1e6, per_hop / raw, per_hop / raw32,
           best_cpu * 1e9 / ((double)n * runs[i].hops));
  }
  maestro_runtime_destroy(rt);
  return 0;
}
