/* placement: dynamic placement (MAESTRO_ANYWHERE, earliest expected finish
 * on the performance models, runtime/core/window.c) against every static
 * placement of the same graph (issue 9). The work and the four graphs are
 * described in bench/placement.h: a chain source -> h1 -> h2 -> sink whose
 * two hybrid agents (a .cpu and a .kernel doing the same exact integer work,
 * each side's cost set by a work factor) have one cost profile.
 *
 * For each graph: the makespan (from maestro_graph_start's return to
 * maestro_graph_wait's) of each of the 4 static placements (each hybrid
 * pinned MAESTRO_ON_CPU or MAESTRO_ON_DEVICE, any device), of the dynamic
 * placement with fresh models (perf_dir "": cold) and with models persisted
 * by an earlier run in a temporary .perf_dir (warm), and the ratios dynamic /
 * best static (goal <= 1.1). Each figure is the median of `reps` runs. The
 * sink checks every element, so a run that skipped work fails the bench.
 * Devices: whatever the runtime finds (PoCL here; POCL_DEVICES="pthread
 * pthread" gives two).
 * --fresh: each static run, too, on a new runtime warmed as the dynamic
 * ones are (by default they share one long-lived runtime; a new runtime's
 * first graph runs slower: see docs/performance.md, placefix).
 * Usage: placement [--tiny] [--stateful] [--fresh] [--trace PREFIX] [--graph NAME] [--static XX]
 * [msgs [elems [iters [reps]]]]
 */
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_util.h"
#include "placement.h"

static int graph_kind;
static pl_size_t sz;
/* Hybrids MAESTRO_STATELESS (default: firings of one agent may run at once,
 * as StarPU's independent tasks do) or not (--stateful: one at a time). */
static int stateless = 1;
/* --fresh: static placements on new runtimes too. */
static int fresh_static;
/* --trace PREFIX: each dynamic run's runtime writes a Chrome trace to
 * PREFIX-<graph>-<cold|warm>-<round>.json (how each firing's place was
 * chosen, when it ran: where a cold run's time goes). */
static const char *trace_prefix;
static char trace_path[512];
/* --graph NAME: that graph only; --static XX (CC, CD, DC or DD): that
 * static placement only, the ratios taken against it (to compare two
 * builds' cold and warm runs many times over on a shared machine). */
static int only_graph = -1, only_static = -1;
/* The process's CPU time (PoCL's threads included) over run_once's last
 * makespan: the work a run did, which other load on the machine moves less
 * than its makespan. */
static double last_cpu_s;
/* While set, run_once names its hybrids apart (their models are not the
 * measured ones') and checks nothing of their counts. */
static int warming;

typedef struct {
  atomic_ulong cpu_fires;
} hybrid_t;

typedef struct {
  atomic_ulong bad, got;
} sink_t;

static int src_fire(maestro_fire_t *f) {
  uint64_t seq = maestro_fire_seq(f);
  if (seq >= (uint64_t)sz.msgs) return MAESTRO_DONE;
  size_t n = pl_msg_elems(graph_kind, &sz, seq);
  maestro_buf_t *b;
  int rc = maestro_fire_alloc(f, n * sizeof(uint32_t), &b);
  if (rc) return rc;
  uint32_t *x = maestro_buf_data(b);
  for (size_t j = 0; j < n; j++)
    x[j] = pl_input(seq, j);
  return maestro_fire_out(f, 0, b);
}

static int hybrid_cpu(maestro_fire_t *f) {
  hybrid_t *h = maestro_fire_state(f);
  maestro_buf_t *in = maestro_fire_in(f, 0);
  size_t n = maestro_buf_size(in) / sizeof(uint32_t);
  unsigned w = pl_cpu_w(graph_kind, atomic_fetch_add(&h->cpu_fires, 1));
  maestro_buf_t *out;
  int rc = maestro_fire_alloc(f, n * sizeof(uint32_t), &out);
  if (rc) return rc;
  pl_cpu_task(maestro_buf_cdata(in), maestro_buf_data(out), n, sz.iters, pl_pad(w, sz.iters));
  return maestro_fire_out(f, 0, out);
}

static int sink_fire(maestro_fire_t *f) {
  sink_t *s = maestro_fire_state(f);
  maestro_buf_t *in = maestro_fire_in(f, 0);
  uint64_t seq = maestro_fire_seq(f);
  size_t n = maestro_buf_size(in) / sizeof(uint32_t);
  const uint32_t *y = maestro_buf_cdata(in);
  pl_affine_t m = pl_power(2 * sz.iters);
  if (n != pl_msg_elems(graph_kind, &sz, seq)) {
    atomic_fetch_add(&s->bad, 1);
  } else {
    for (size_t j = 0; j < n; j++)
      if (y[j] != pl_expect(m, pl_input(seq, j))) {
        atomic_fetch_add(&s->bad, 1);
        break;
      }
  }
  atomic_fetch_add(&s->got, 1);
  return MAESTRO_OK;
}

static maestro_runtime_t *new_rt(const char *perf_dir) {
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.stats = 0;
  cfg.perf_dir = perf_dir;
  cfg.trace = trace_path[0] ? trace_path : NULL;
  maestro_runtime_t *rt = NULL;
  if (maestro_runtime_create(&cfg, &rt) || maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE) < 1) {
    fprintf(stderr, "placement: no runtime with a device: %s\n", maestro_last_error());
    exit(1);
  }
  return rt;
}

static void die(const char *what) {
  fprintf(stderr, "placement: %s: %s\n", what, maestro_last_error());
  exit(1);
}

/* One run of graph `graph_kind`; pref[i] is hybrid i's placement. Returns
 * the makespan in seconds; *dev_share the share of hybrid firings that ran on
 * a device. */
static double run_once(maestro_runtime_t *rt, const maestro_pref_t pref[2], double *dev_share) {
  static const maestro_port_t in[] = {{"in", MAESTRO_U32, 0}}, out[] = {{"out", MAESTRO_U32, 0}};
  maestro_karg_t args[] = {MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0), MAESTRO_KARG_COUNT(0),
                           MAESTRO_KARG_U32(sz.iters), MAESTRO_KARG_U32(0 /*pad*/)};
  args[4].v.u32 = pl_pad(pl_dev_w(graph_kind), sz.iters);
  maestro_kernel_t k = {
      .source = PL_KERNEL_SRC, .name = "pl_work", .args = args, .n_args = 5, .range_port = 0};
  hybrid_t hs[2];
  sink_t sk;
  atomic_init(&sk.bad, 0);
  atomic_init(&sk.got, 0);
  maestro_graph_t *g;
  maestro_agent_t *src, *h[2], *snk;
  if (maestro_graph_create(rt, pl_graph_names[graph_kind], &g)) die("graph");
  if (maestro_agent_add(g,
                        &(maestro_agent_desc_t){.name = "source",
                                                .out = out,
                                                .n_out = 1,
                                                .cpu = src_fire,
                                                .affinity = {MAESTRO_ON_CPU, -1, 0}},
                        &src))
    die("source");
  for (int i = 0; i < 2; i++) {
    atomic_init(&hs[i].cpu_fires, 0);
    /* The names key the performance models: the same across runs, so the
     * warm run finds what the earlier one saved. */
    char name[32];
    snprintf(name, sizeof name, "%s%s_h%d", warming ? "warmup_" : "", pl_graph_names[graph_kind],
             i + 1);
    if (maestro_agent_add(g,
                          &(maestro_agent_desc_t){.name = name,
                                                  .in = in,
                                                  .n_in = 1,
                                                  .out = out,
                                                  .n_out = 1,
                                                  .cpu = hybrid_cpu,
                                                  .kernel = &k,
                                                  .state = &hs[i],
                                                  .affinity = {pref[i], -1, 0},
                                                  .flags = stateless ? MAESTRO_STATELESS : 0u},
                          &h[i]))
      die("hybrid");
  }
  if (maestro_agent_add(g,
                        &(maestro_agent_desc_t){.name = "sink",
                                                .in = in,
                                                .n_in = 1,
                                                .cpu = sink_fire,
                                                .state = &sk,
                                                .affinity = {MAESTRO_ON_CPU, -1, 0}},
                        &snk))
    die("sink");
  if (maestro_connect(g, src, "out", h[0], "in", 4) ||
      maestro_connect(g, h[0], "out", h[1], "in", 4) ||
      maestro_connect(g, h[1], "out", snk, "in", 4))
    die("connect");
  if (maestro_graph_start(g)) die("start");
  uint64_t t0 = bench_now_ns(), c0 = bench_cpu_ns();
  if (maestro_graph_wait(g)) die("wait");
  double t = (double)(bench_now_ns() - t0) * 1e-9;
  last_cpu_s = (double)(bench_cpu_ns() - c0) * 1e-9;
  uint64_t dev = 0, all = 0;
  for (int i = 0; i < 2; i++) {
    maestro_agent_stats_t st;
    maestro_agent_stats(h[i], &st);
    dev += st.device_fires;
    all += st.cpu_fires + st.device_fires;
    if (st.fires != (uint64_t)sz.msgs) {
      fprintf(stderr, "placement: %s fired %llu times, expected %d\n", maestro_agent_name(h[i]),
              (unsigned long long)st.fires, sz.msgs);
      exit(1);
    }
  }
  if (atomic_load(&sk.got) != (unsigned long)sz.msgs || atomic_load(&sk.bad)) {
    fprintf(stderr, "placement: %s: sink got %lu of %d messages, %lu wrong\n",
            pl_graph_names[graph_kind], atomic_load(&sk.got), sz.msgs, atomic_load(&sk.bad));
    exit(1);
  }
  *dev_share = all ? (double)dev / (double)all : 0;
  maestro_graph_destroy(g);
  return t;
}

/* A new runtime's devices build and set up the kernel on their first
 * launches (PoCL compiles it for each work-group size): a few pinned
 * firings of every message size, under other agent names so that the
 * measured agents' models start as they should, keep that out of the
 * makespans of the dynamic runs (the static ones share a warmed runtime). */
static maestro_runtime_t *new_warm_rt(const char *perf_dir) {
  maestro_runtime_t *rt = new_rt(perf_dir);
  const maestro_pref_t dd[2] = {MAESTRO_ON_DEVICE, MAESTRO_ON_DEVICE};
  int msgs = sz.msgs;
  double tmp;
  sz.msgs = msgs < 4 ? msgs : 4;
  warming = 1;
  run_once(rt, dd, &tmp);
  warming = 0;
  sz.msgs = msgs;
  return rt;
}

/* The trace file of the next runtime (none without --trace). */
static void trace_name(const char *what, int round) {
  trace_path[0] = 0;
  if (trace_prefix)
    snprintf(trace_path, sizeof trace_path, "%s-%s-%s-%d.json", trace_prefix,
             pl_graph_names[graph_kind], what, round);
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_d);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void rm_dir(const char *dir) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "placement: could not remove %s\n", dir);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0); /* each graph's line as soon as it is measured */
  int a0 = 1, tiny = 0;
  for (; a0 < argc && argv[a0][0] == '-'; a0++) {
    if (!strcmp(argv[a0], "--tiny"))
      tiny = 1;
    else if (!strcmp(argv[a0], "--stateful"))
      stateless = 0;
    else if (!strcmp(argv[a0], "--fresh"))
      fresh_static = 1;
    else if (!strcmp(argv[a0], "--trace") && a0 + 1 < argc)
      trace_prefix = argv[++a0];
    else if (!strcmp(argv[a0], "--graph") && a0 + 1 < argc) {
      a0++;
      for (int k = 0; k < PL_NGRAPHS; k++)
        if (!strcmp(argv[a0], pl_graph_names[k])) only_graph = k;
      if (only_graph < 0) break;
    } else if (!strcmp(argv[a0], "--static") && a0 + 1 < argc) {
      a0++;
      for (int k = 0; k < 4; k++)
        if (!strcmp(argv[a0], (const char *[]){"CC", "CD", "DC", "DD"}[k])) only_static = k;
      if (only_static < 0) break;
    } else
      break;
  }
  sz = (pl_size_t){tiny ? 12 : 100, tiny ? 1024 : 16384, tiny ? 16 : 64};
  int reps = tiny ? 1 : 3;
  if (argc > a0) sz.msgs = atoi(argv[a0]);
  if (argc > a0 + 1) sz.n = (size_t)atol(argv[a0 + 1]);
  if (argc > a0 + 2) sz.iters = (unsigned)atoi(argv[a0 + 2]);
  if (argc > a0 + 3) reps = atoi(argv[a0 + 3]);
  if (sz.msgs < 1 || sz.n < 64 || sz.iters < 2 || reps < 1 || reps > 64) {
    fprintf(stderr, "usage: placement [--tiny] [--stateful] [--fresh] [--trace PREFIX] [--graph "
                    "NAME] [--static XX] [msgs "
                    "[elems >= 64 [iters >= 2 "
                    "[reps]]]]\n");
    return 2;
  }
  char dir[] = "/tmp/maestro-placement-XXXXXX";
  if (!mkdtemp(dir)) {
    perror("placement: mkdtemp");
    return 1;
  }
  maestro_runtime_t *rt_static = new_rt("");
  printf("placement: %d msgs of %zu u32 (crossover: %zu / %zu), %u steps each, %d device(s), "
         "%s hybrids, median of %d%s\n",
         sz.msgs, sz.n, pl_msg_elems(PL_CROSSOVER, &sz, 0), pl_msg_elems(PL_CROSSOVER, &sz, 1),
         sz.iters, maestro_runtime_nplaces(rt_static, MAESTRO_PLACE_DEVICE),
         stateless ? "stateless" : "stateful", reps,
         fresh_static ? ", static runs on new runtimes" : "");
  printf("%-10s %8s %8s %8s %8s %8s %8s %8s %6s %6s %6s\n", "graph", "CC ms", "CD ms", "DC ms",
         "DD ms", "best", "cold ms", "warm ms", "cold/b", "warm/b", "dev%");
  int worst = 0;
  for (graph_kind = 0; graph_kind < PL_NGRAPHS; graph_kind++) {
    if (only_graph >= 0 && graph_kind != only_graph) continue;
    double st[4] = {0}, cold, warm, share = 0, tmp;
    double sv[6][64], cv[6][64];
    const maestro_pref_t dd[2] = {MAESTRO_ON_DEVICE, MAESTRO_ON_DEVICE};
    const maestro_pref_t any[2] = {MAESTRO_ANYWHERE, MAESTRO_ANYWHERE};
    run_once(rt_static, dd, &tmp); /* warm-up: the devices build the kernel on first launch */
    {                              /* an earlier run fills the models the warm runs start from */
      maestro_runtime_t *rt = new_rt(dir);
      run_once(rt, any, &tmp);
      maestro_runtime_destroy(rt);
    }
    /* The variants take turns in each round, so that the machine's load
     * drifting (it is shared) weighs on all of them alike. */
    for (int r = 0; r < reps; r++) {
      for (int p = 0; p < 4; p++) {
        if (only_static >= 0 && p != only_static) continue;
        maestro_pref_t pref[2] = {p & 2 ? MAESTRO_ON_DEVICE : MAESTRO_ON_CPU,
                                  p & 1 ? MAESTRO_ON_DEVICE : MAESTRO_ON_CPU};
        maestro_runtime_t *srt = fresh_static ? new_warm_rt("") : rt_static;
        sv[p][r] = run_once(srt, pref, &tmp);
        cv[p][r] = last_cpu_s;
        if (srt != rt_static) maestro_runtime_destroy(srt);
      }
      trace_name("cold", r);
      maestro_runtime_t *rt = new_warm_rt(""); /* fresh models: a runtime of its own each time */
      sv[4][r] = run_once(rt, any, &tmp);
      cv[4][r] = last_cpu_s;
      maestro_runtime_destroy(rt);
      trace_name("warm", r);
      rt = new_warm_rt(dir);
      sv[5][r] = run_once(rt, any, &tmp);
      cv[5][r] = last_cpu_s;
      share += tmp;
      maestro_runtime_destroy(rt);
      trace_path[0] = 0;
    }
    for (int p = 0; p < 4; p++)
      if (only_static < 0 || p == only_static) st[p] = median(sv[p], reps);
    cold = median(sv[4], reps);
    warm = median(sv[5], reps);
    int bp = only_static >= 0 ? only_static : 0;
    for (int p = 1; p < 4 && only_static < 0; p++)
      if (st[p] < st[bp]) bp = p;
    static const char *const pn[4] = {"CC", "CD", "DC", "DD"};
    printf("%-10s %8.1f %8.1f %8.1f %8.1f %8s %8.1f %8.1f %6.2f %6.2f %5.0f%%\n",
           pl_graph_names[graph_kind], st[0] * 1e3, st[1] * 1e3, st[2] * 1e3, st[3] * 1e3, pn[bp],
           cold * 1e3, warm * 1e3, cold / st[bp], warm / st[bp], 100.0 * share / reps);
    if (cold / st[bp] > 1.1 || warm / st[bp] > 1.1) worst = 1;
    if (only_static >= 0)
      printf("%-10s CPU time ms (median): %s %.1f, cold %.1f, warm %.1f\n", "", pn[bp],
             median(cv[bp], reps) * 1e3, median(cv[4], reps) * 1e3, median(cv[5], reps) * 1e3);
  }
  printf("(CD = h1 on the CPU, h2 on a device, ...; dev%%: share of hybrid firings on a device in "
         "the warm runs)\n%s\n",
         worst ? "dynamic above 1.1x the best static on some graph" : "dynamic within 1.1x");
  maestro_runtime_destroy(rt_static);
  rm_dir(dir);
  return 0;
}
