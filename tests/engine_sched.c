/* Scheduling: backpressure bounds, stateless ordering, affinity, stats, DOT. */
#include <stdio.h>
#include <stdlib.h>

#include "engine_util.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ENG_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define ENG_SANITIZED 1
#endif
#endif
#ifndef ENG_SANITIZED
#define ENG_SANITIZED 0
#endif

/* Peak resident set (VmHWM) in KiB, -1 if unknown. */
static long peak_rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long kib = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
  fclose(f);
  return kib;
}

/* Resets VmHWM to the current RSS (Linux >= 4.0); 0 on success. */
static int reset_peak_rss(void) {
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if (!f) return -1;
  int ok = fputs("5", f) >= 0;
  return (fclose(f) == 0 && ok) ? 0 : -1;
}

/* ---- backpressure: 1 MiB messages through capacity 2 into a slow sink ---- */
enum { BP_MSGS = 160, BP_BYTES = 1 << 20, BP_LAG_BOUND = 16 };
static atomic_long bp_made, bp_eaten, bp_max_lag;

static int bp_source(maestro_fire_t *f) {
  if (maestro_fire_seq(f) >= BP_MSGS) return MAESTRO_DONE;
  long lag = atomic_load(&bp_made) - atomic_load(&bp_eaten);
  long m = atomic_load(&bp_max_lag);
  while (lag > m && !atomic_compare_exchange_weak(&bp_max_lag, &m, lag)) {
  }
  maestro_buf_t *b;
  int rc = maestro_fire_alloc(f, BP_BYTES, &b);
  if (rc != MAESTRO_OK) return rc;
  memset(maestro_buf_data(b), (int)maestro_fire_seq(f), BP_BYTES); /* make it resident */
  atomic_fetch_add(&bp_made, 1);
  return maestro_fire_out(f, 0, b);
}

static int bp_sink(maestro_fire_t *f) {
  const unsigned char *p = maestro_buf_cdata(maestro_fire_in(f, 0));
  if (!p || p[BP_BYTES - 1] != (unsigned char)maestro_fire_seq(f)) return MAESTRO_EINVAL;
  eng_sleep_us(300);
  atomic_fetch_add(&bp_eaten, 1);
  return MAESTRO_OK;
}

static void test_backpressure_memory(void) {
  static const maestro_port_t bytes_out[] = {{"out", MAESTRO_BYTES, 0}};
  static const maestro_port_t bytes_in[] = {{"in", MAESTRO_BYTES, 0}};
  static const maestro_port_t bytes_io_in[] = {{"in", MAESTRO_BYTES, 0}};
  atomic_store(&bp_made, 0);
  atomic_store(&bp_eaten, 0);
  atomic_store(&bp_max_lag, 0);
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "backpressure", &g) == MAESTRO_OK);
  maestro_agent_t *s = NULL, *p = NULL, *k = NULL;
  CU_ASSERT_EQUAL(
      maestro_agent_add(
          g,
          &(maestro_agent_desc_t){.name = "fast", .out = bytes_out, .n_out = 1, .cpu = bp_source},
          &s),
      MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_agent_add(g,
                                    &(maestro_agent_desc_t){.name = "pass",
                                                            .in = bytes_io_in,
                                                            .n_in = 1,
                                                            .out = bytes_out,
                                                            .n_out = 1,
                                                            .cpu = eng_pass},
                                    &p),
                  MAESTRO_OK);
  CU_ASSERT_EQUAL(
      maestro_agent_add(
          g, &(maestro_agent_desc_t){.name = "slow", .in = bytes_in, .n_in = 1, .cpu = bp_sink},
          &k),
      MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", p, "in", 2), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, p, "out", k, "in", 2), MAESTRO_OK);
  int have_rss = reset_peak_rss() == 0;
  long rss0 = peak_rss_kib();
  CU_ASSERT_EQUAL(maestro_graph_run(g), MAESTRO_OK);
  long rss1 = peak_rss_kib();
  CU_ASSERT_EQUAL(atomic_load(&bp_eaten), BP_MSGS);
  long lag = atomic_load(&bp_max_lag);
  long grew_mib = (rss1 - rss0) / 1024;
  printf("\n    backpressure: max lag %ld messages, peak RSS +%ld MiB for %d MiB sent%s\n", lag,
         grew_mib, BP_MSGS * BP_BYTES >> 20, have_rss ? "" : " (peak not reset)");
  /* Capacity 2 + 2, one message in each firing: the producer never runs
   * further ahead than a handful of messages. */
  CU_ASSERT(lag <= BP_LAG_BOUND);
  /* Sanitizers keep freed memory in quarantine: the RSS bound only holds in
   * a plain build. Unbounded buffering would need BP_MSGS MiB. */
  if (!ENG_SANITIZED && rss0 > 0 && have_rss) CU_ASSERT(grew_mib <= 48);
  maestro_graph_destroy(g);
}

/* A host input blocks (here: times out) once the graph is full, and every
 * accepted message comes out once the host drains. */
static void test_backpressure_host(void) {
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "hostfull", &g) == MAESTRO_OK);
  maestro_agent_t *a = eng_add(g, "a", eng_pass, NULL);
  maestro_agent_t *b = eng_add(g, "b", eng_pass, NULL);
  CU_ASSERT_EQUAL(maestro_connect(g, a, "out", b, "in", 2), MAESTRO_OK);
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, b, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  long accepted = 0;
  int rc = MAESTRO_OK;
  while (accepted < 100000) {
    maestro_buf_t *m = eng_msg(eng_rt, (uint64_t)accepted);
    rc = maestro_input_push_timed(in, m, accepted < 10 ? -1 : 50);
    if (rc != MAESTRO_OK) {
      maestro_buf_release(m); /* on a timeout the caller keeps its reference */
      break;
    }
    accepted++;
  }
  CU_ASSERT_EQUAL(rc, MAESTRO_ETIMEDOUT);
  printf("\n    host input full after %ld messages\n", accepted);
  CU_ASSERT(accepted >= 3 && accepted <= 1000);
  maestro_buf_t *m = eng_msg(eng_rt, 0);
  CU_ASSERT_EQUAL(maestro_input_push_timed(in, m, 0), MAESTRO_ETIMEDOUT);
  maestro_buf_release(m);
  CU_ASSERT_EQUAL(maestro_input_close(in), MAESTRO_OK);
  uint64_t *vals = calloc((size_t)accepted + 1, sizeof *vals);
  CU_ASSERT_EQUAL(eng_drain(out, vals, accepted), accepted);
  long bad = 0;
  for (long i = 0; i < accepted; i++)
    bad += vals[i] != (uint64_t)i;
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  free(vals);
  maestro_graph_destroy(g);
}

/* ---- stateless: uneven firing times, outputs still in input order ---- */
static atomic_int sl_running, sl_max_running;

static int uneven(maestro_fire_t *f) {
  int now = atomic_fetch_add(&sl_running, 1) + 1;
  int m = atomic_load(&sl_max_running);
  while (now > m && !atomic_compare_exchange_weak(&sl_max_running, &m, now)) {
  }
  uint64_t v = eng_val(maestro_fire_in(f, 0));
  /* Early messages take longest: a naive scheduler would reorder them. */
  eng_sleep_us((long)((v * 7919) % 7) * 150);
  atomic_fetch_sub(&sl_running, 1);
  return eng_inc(f);
}

static void test_stateless_order(void) {
  enum { N = 600 };
  atomic_store(&sl_running, 0);
  atomic_store(&sl_max_running, 0);
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "stateless", &g) == MAESTRO_OK);
  maestro_agent_t *w = NULL;
  CU_ASSERT_EQUAL(maestro_agent_add(g,
                                    &(maestro_agent_desc_t){.name = "uneven",
                                                            .in = eng_u64_in,
                                                            .n_in = 1,
                                                            .out = eng_u64_out,
                                                            .n_out = 1,
                                                            .cpu = uneven,
                                                            .flags = MAESTRO_STATELESS},
                                    &w),
                  MAESTRO_OK);
  maestro_agent_t *t = eng_add(g, "tail", eng_pass, NULL);
  CU_ASSERT_EQUAL(maestro_connect(g, w, "out", t, "in", 8), MAESTRO_OK);
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_input(g, w, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, t, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  struct eng_feeder fd;
  eng_feeder_start(&fd, eng_rt, in, N, 0);
  uint64_t *vals = calloc(N, sizeof *vals);
  CU_ASSERT_EQUAL(eng_drain(out, vals, N), N);
  CU_ASSERT_EQUAL(eng_feeder_join(&fd), MAESTRO_OK);
  long bad = 0;
  for (long i = 0; i < N; i++)
    bad += vals[i] != (uint64_t)i + 1;
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(w, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.fires, N);
  CU_ASSERT_EQUAL(st.msgs_out, N);
  /* Reported, not asserted: concurrency depends on a free second core. */
  printf("\n    stateless: up to %d firings at once on %d workers\n", atomic_load(&sl_max_running),
         maestro_runtime_nplaces(eng_rt, MAESTRO_PLACE_CPU));
  free(vals);
  maestro_graph_destroy(g);
}

/* ---- affinity: MAESTRO_ON_CPU with an index runs there ---- */
struct where {
  atomic_int fires, wrong;
  int want;
};

static int check_place(maestro_fire_t *f) {
  struct where *w = maestro_fire_state(f);
  maestro_place_kind_t kind = MAESTRO_PLACE_DEVICE;
  int idx = maestro_fire_place(f, &kind);
  atomic_fetch_add(&w->fires, 1);
  if (kind != MAESTRO_PLACE_CPU || idx != w->want) atomic_fetch_add(&w->wrong, 1);
  return eng_pass(f);
}

static void test_affinity(void) {
  int ncpu = maestro_runtime_nplaces(eng_rt, MAESTRO_PLACE_CPU);
  CU_ASSERT_FATAL(ncpu > 0);
  for (int k = ncpu - 1; k >= 0; k--) {
    static uint64_t n = 300;
    struct where w = {.want = k};
    maestro_graph_t *g;
    CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "pinned", &g) == MAESTRO_OK);
    maestro_agent_t *s = eng_add_source(g, "s", eng_count_source, &n);
    maestro_agent_t *a = NULL;
    CU_ASSERT_EQUAL(maestro_agent_add(g,
                                      &(maestro_agent_desc_t){.name = "pinned",
                                                              .in = eng_u64_in,
                                                              .n_in = 1,
                                                              .out = eng_u64_out,
                                                              .n_out = 1,
                                                              .cpu = check_place,
                                                              .state = &w,
                                                              .affinity = {MAESTRO_ON_CPU, k, 0}},
                                      &a),
                    MAESTRO_OK);
    CU_ASSERT_EQUAL(maestro_connect(g, s, "out", a, "in", 2), MAESTRO_OK);
    maestro_output_t *out;
    CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &out) == MAESTRO_OK);
    CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
    CU_ASSERT_EQUAL(eng_drain(out, NULL, 0), 300);
    CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
    CU_ASSERT_EQUAL(atomic_load(&w.fires), 300);
    CU_ASSERT_EQUAL(atomic_load(&w.wrong), 0);
    maestro_agent_stats_t st;
    CU_ASSERT_EQUAL(maestro_agent_stats(a, &st), MAESTRO_OK);
    CU_ASSERT_EQUAL(st.place_kind, MAESTRO_PLACE_CPU);
    CU_ASSERT_EQUAL(st.place_index, k);
    maestro_graph_destroy(g);
  }
}

/* ---- stats ---- */
static int busy_pass(maestro_fire_t *f) {
  eng_sleep_us(20);
  return eng_pass(f);
}

static void test_stats(void) {
  static uint64_t n = 1000;
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "stats", &g) == MAESTRO_OK);
  maestro_agent_t *s = eng_add_source(g, "s", eng_count_source, &n);
  maestro_agent_t *a = eng_add(g, "busy", busy_pass, NULL);
  maestro_agent_t *b = eng_add(g, "b", eng_pass, NULL);
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", a, "in", 4), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, a, "out", b, "in", 4), MAESTRO_OK);
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(a, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.fires, 0);
  CU_ASSERT_EQUAL(st.place_index, -1); /* not placed yet */
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_output(g, b, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  CU_ASSERT_EQUAL(eng_drain(out, NULL, 0), (long)n);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_agent_stats(a, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.fires, n);
  CU_ASSERT_EQUAL(st.msgs_in, n);
  CU_ASSERT_EQUAL(st.msgs_out, n);
  CU_ASSERT_EQUAL(st.bytes_in, n * 8);
  CU_ASSERT_EQUAL(st.bytes_out, n * 8);
  CU_ASSERT(st.busy_ns >= n * 20000); /* each firing slept 20 us */
  CU_ASSERT_EQUAL(st.failures, 0);
  CU_ASSERT_EQUAL(st.retries, 0);
  CU_ASSERT_EQUAL(st.dead_letters, 0);
  CU_ASSERT_EQUAL(st.place_kind, MAESTRO_PLACE_CPU);
  CU_ASSERT(st.place_index >= 0 &&
            st.place_index < maestro_runtime_nplaces(eng_rt, MAESTRO_PLACE_CPU));
  CU_ASSERT_EQUAL(maestro_agent_stats(s, &st), MAESTRO_OK);
  CU_ASSERT(st.fires >= n && st.fires <= n + 1); /* the last firing may say DONE */
  CU_ASSERT_EQUAL(st.msgs_in, 0);
  CU_ASSERT_EQUAL(st.msgs_out, n);
  CU_ASSERT_EQUAL(st.bytes_out, n * 8);
  CU_ASSERT_EQUAL(maestro_agent_stats(b, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.msgs_in, n);
  CU_ASSERT_EQUAL(st.msgs_out, n);
  maestro_graph_destroy(g);
}

/* ---- DOT ---- */
static void test_dot(void) {
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "dotted", &g) == MAESTRO_OK);
  maestro_agent_t *a = eng_add(g, "alpha_agent", eng_pass, NULL);
  maestro_agent_t *b = eng_add(g, "beta_agent", eng_pass, NULL);
  maestro_agent_t *c = eng_add(g, "gamma_agent", eng_pass, NULL);
  CU_ASSERT_EQUAL(maestro_connect(g, a, "out", b, "in", 17), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, a, "out", c, "in", 23), MAESTRO_OK);
  maestro_input_t *in;
  CU_ASSERT_EQUAL(maestro_graph_input(g, a, "in", &in), MAESTRO_OK);
  for (int started = 0; started < 2; started++) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(maestro_graph_write_dot(g, f), MAESTRO_OK);
    fclose(f);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "digraph"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "alpha_agent"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "beta_agent"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "gamma_agent"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "->"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "17"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "23"));
    /* coloured by place */
    CU_ASSERT(strstr(text, "color") != NULL);
    /* at least two channel edges */
    const char *e = strstr(text, "->");
    CU_ASSERT(e && strstr(e + 2, "->"));
    /* balanced braces: a well-formed file */
    int depth = 0, min_depth = 0;
    for (const char *p = text; *p; p++) {
      depth += *p == '{';
      depth -= *p == '}';
      if (depth < min_depth) min_depth = depth;
    }
    CU_ASSERT_EQUAL(depth, 0);
    CU_ASSERT_EQUAL(min_depth, 0);
    free(text);
    if (!started) {
      maestro_output_t *ob, *oc;
      CU_ASSERT_FATAL(maestro_graph_output(g, b, "out", &ob) == MAESTRO_OK);
      CU_ASSERT_FATAL(maestro_graph_output(g, c, "out", &oc) == MAESTRO_OK);
      CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
    }
  }
  CU_ASSERT_EQUAL(maestro_input_close(in), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_graph_destroy(g);
}

/* ---- no starvation: an endless source cannot monopolise the only worker ---- */
static int endless_source(maestro_fire_t *f) {
  maestro_buf_t *b;
  int rc = maestro_fire_alloc(f, 8, &b);
  if (rc != MAESTRO_OK) return rc;
  memset(maestro_buf_data(b), 0, 8);
  return maestro_fire_out(f, 0, b);
}

static void test_no_starvation(void) {
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.devices = "none";
  cfg.stats = 0;
  cfg.ncpu = 1;
  maestro_runtime_t *rt;
  CU_ASSERT_FATAL(maestro_runtime_create(&cfg, &rt) == MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_runtime_nplaces(rt, MAESTRO_PLACE_CPU), 1);
  /* Graph A never ends: a source that always has more, into a sink that
   * always takes (nothing ever blocks it). */
  maestro_graph_t *ga;
  CU_ASSERT_FATAL(maestro_graph_create(rt, "hog", &ga) == MAESTRO_OK);
  maestro_agent_t *src = eng_add_source(ga, "endless", endless_source, NULL);
  maestro_agent_t *sink = NULL;
  CU_ASSERT_EQUAL(
      maestro_agent_add(
          ga, &(maestro_agent_desc_t){.name = "eat", .in = eng_u64_in, .n_in = 1, .cpu = eng_sink},
          &sink),
      MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(ga, src, "out", sink, "in", 64), MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(ga) == MAESTRO_OK);
  /* Graph B, on the same single worker, still gets its turns. */
  maestro_graph_t *gb;
  CU_ASSERT_FATAL(maestro_graph_create(rt, "polite", &gb) == MAESTRO_OK);
  maestro_agent_t *a = eng_add(gb, "inc", eng_inc, NULL);
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_input(gb, a, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(gb, a, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(gb) == MAESTRO_OK);
  long ok = 0;
  for (uint64_t i = 0; i < 50; i++) {
    CU_ASSERT_EQUAL(maestro_input_push(in, eng_msg(rt, i)), MAESTRO_OK);
    maestro_buf_t *b;
    if (maestro_output_pop(out, &b, 20000) != MAESTRO_OK) break;
    ok += eng_val(b) == i + 1;
    maestro_buf_release(b);
  }
  CU_ASSERT_EQUAL(ok, 50);
  CU_ASSERT_EQUAL(maestro_input_close(in), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_wait(gb), MAESTRO_OK);
  maestro_graph_destroy(gb);
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(sink, &st), MAESTRO_OK);
  CU_ASSERT(st.fires > 0);
  maestro_graph_destroy(ga); /* still running: cancelled */
  maestro_runtime_destroy(rt);
}

/* ---- fan-out: the slowest branch holds the producer back ---- */
static atomic_long fo_made, fo_slow_eaten, fo_max_lag;

static int fo_source(maestro_fire_t *f) {
  if (maestro_fire_seq(f) >= 300) return MAESTRO_DONE;
  long lag = atomic_load(&fo_made) - atomic_load(&fo_slow_eaten);
  long m = atomic_load(&fo_max_lag);
  while (lag > m && !atomic_compare_exchange_weak(&fo_max_lag, &m, lag)) {
  }
  atomic_fetch_add(&fo_made, 1);
  return eng_count_source(f);
}

static int fo_slow(maestro_fire_t *f) {
  (void)f;
  eng_sleep_us(200);
  atomic_fetch_add(&fo_slow_eaten, 1);
  return MAESTRO_OK;
}

static void test_fanout_backpressure(void) {
  static uint64_t n = 300;
  atomic_store(&fo_made, 0);
  atomic_store(&fo_slow_eaten, 0);
  atomic_store(&fo_max_lag, 0);
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "fanout_bp", &g) == MAESTRO_OK);
  maestro_agent_t *s = eng_add_source(g, "s", fo_source, &n);
  maestro_agent_t *fast = NULL, *slow = NULL;
  CU_ASSERT_EQUAL(
      maestro_agent_add(
          g, &(maestro_agent_desc_t){.name = "fast", .in = eng_u64_in, .n_in = 1, .cpu = eng_sink},
          &fast),
      MAESTRO_OK);
  CU_ASSERT_EQUAL(
      maestro_agent_add(
          g, &(maestro_agent_desc_t){.name = "slow", .in = eng_u64_in, .n_in = 1, .cpu = fo_slow},
          &slow),
      MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", fast, "in", 64), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", slow, "in", 3), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_run(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(atomic_load(&fo_slow_eaten), 300);
  long lag = atomic_load(&fo_max_lag);
  printf("\n    fan-out: source at most %ld messages ahead of its slow branch (capacity 3)\n", lag);
  CU_ASSERT(lag <= 3 + 4);
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(fast, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.msgs_in, 300);
  maestro_graph_destroy(g);
}

/* ---- a firing that lasts does not hold the rest of its graph ----
 * One connected graph: "fork" sends one message to "blocker" (its first
 * firing) and LR_MSGS to "counter". The blocker's first firing blocks until
 * the counter has them all (or LR_GIVE_UP_US passes): all of the graph's
 * agents start on one worker, so the fork and the counter must move to the
 * other worker although their firings are cheap. */
enum { LR_MSGS = 1000, LR_GIVE_UP_US = 10000000 };
static atomic_long lr_counted, lr_seen_by_blocker, lr_blocker_firings;

static int lr_fork(maestro_fire_t *f) {
  uint64_t seq = maestro_fire_seq(f);
  if (seq >= LR_MSGS) return MAESTRO_DONE;
  if (seq == 0) {
    int rc = maestro_fire_out(f, 0, eng_msg(maestro_fire_runtime(f), seq));
    if (rc != MAESTRO_OK) return rc;
  }
  return maestro_fire_out(f, 1, eng_msg(maestro_fire_runtime(f), seq));
}

static int lr_blocker(maestro_fire_t *f) {
  (void)f;
  if (atomic_fetch_add(&lr_blocker_firings, 1) == 0) {
    long waited = 0;
    for (; atomic_load(&lr_counted) < LR_MSGS && waited < LR_GIVE_UP_US; waited += 1000)
      eng_sleep_us(1000);
    atomic_store(&lr_seen_by_blocker, atomic_load(&lr_counted));
    printf(
        "\n    the other branch's %d messages arrived within about %ld ms of the blocking firing "
        "(gave up at %d ms)\n",
        LR_MSGS, waited / 1000, LR_GIVE_UP_US / 1000);
  }
  return MAESTRO_OK;
}

static int lr_counter(maestro_fire_t *f) {
  /* In order: the count so far is the value expected. */
  if (eng_val(maestro_fire_in(f, 0)) != (uint64_t)atomic_load(&lr_counted)) return MAESTRO_EINVAL;
  atomic_fetch_add(&lr_counted, 1);
  return MAESTRO_OK;
}

static void test_long_run_releases_graph(void) {
  if (maestro_runtime_nplaces(eng_rt, MAESTRO_PLACE_CPU) < 2) {
    printf("\n    skipped: one CPU place\n");
    return;
  }
  static const maestro_port_t fork_out[] = {{"a", MAESTRO_I64, 0}, {"b", MAESTRO_I64, 0}};
  atomic_store(&lr_counted, 0);
  atomic_store(&lr_seen_by_blocker, -1);
  atomic_store(&lr_blocker_firings, 0);
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "long_run", &g) == MAESTRO_OK);
  maestro_agent_t *fork = NULL, *blocker = NULL, *counter = NULL;
  CU_ASSERT_EQUAL(
      maestro_agent_add(
          g, &(maestro_agent_desc_t){.name = "fork", .out = fork_out, .n_out = 2, .cpu = lr_fork},
          &fork),
      MAESTRO_OK);
  CU_ASSERT_EQUAL(
      maestro_agent_add(g,
                        &(maestro_agent_desc_t){
                            .name = "blocker", .in = eng_u64_in, .n_in = 1, .cpu = lr_blocker},
                        &blocker),
      MAESTRO_OK);
  CU_ASSERT_EQUAL(
      maestro_agent_add(g,
                        &(maestro_agent_desc_t){
                            .name = "counter", .in = eng_u64_in, .n_in = 1, .cpu = lr_counter},
                        &counter),
      MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, fork, "a", blocker, "in", 0), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, fork, "b", counter, "in", 0), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_run(g), MAESTRO_OK);
  /* Every message reached the counter while the blocker's firing still ran. */
  CU_ASSERT_EQUAL(atomic_load(&lr_seen_by_blocker), LR_MSGS);
  CU_ASSERT_EQUAL(atomic_load(&lr_counted), LR_MSGS);
  CU_ASSERT_EQUAL(atomic_load(&lr_blocker_firings), 1);
  maestro_graph_destroy(g);
}

/* ---- independent parts of a graph start on different workers ---- */
enum { SP_MSGS = 100 };
static atomic_int sp_place[2];

static int sp_source(maestro_fire_t *f) {
  uint64_t seq = maestro_fire_seq(f);
  if (seq >= SP_MSGS) return MAESTRO_DONE;
  if (seq == 0) {
    maestro_place_kind_t kind;
    int place = maestro_fire_place(f, &kind);
    atomic_store(&sp_place[*(int *)maestro_fire_state(f)], kind == MAESTRO_PLACE_CPU ? place : -2);
  }
  return maestro_fire_out(f, 0, eng_msg(maestro_fire_runtime(f), seq));
}

static void test_parts_spread(void) {
  if (maestro_runtime_nplaces(eng_rt, MAESTRO_PLACE_CPU) < 2) {
    printf("\n    skipped: one CPU place\n");
    return;
  }
  static int ids[2] = {0, 1};
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "two_parts", &g) == MAESTRO_OK);
  for (int i = 0; i < 2; i++) {
    atomic_store(&sp_place[i], -1);
    char name[16];
    snprintf(name, sizeof name, "src%d", i);
    maestro_agent_t *src = eng_add_source(g, name, sp_source, &ids[i]), *sink = NULL;
    snprintf(name, sizeof name, "sink%d", i);
    CU_ASSERT_EQUAL(
        maestro_agent_add(
            g, &(maestro_agent_desc_t){.name = name, .in = eng_u64_in, .n_in = 1, .cpu = eng_sink},
            &sink),
        MAESTRO_OK);
    CU_ASSERT_EQUAL(maestro_connect(g, src, "out", sink, "in", 0), MAESTRO_OK);
  }
  CU_ASSERT_EQUAL(maestro_graph_run(g), MAESTRO_OK);
  int p0 = atomic_load(&sp_place[0]), p1 = atomic_load(&sp_place[1]);
  CU_ASSERT(p0 >= 0 && p1 >= 0);
  /* Their first firings ran where they started: different workers. */
  CU_ASSERT_NOT_EQUAL(p0, p1);
  maestro_graph_destroy(g);
}

void register_suites(void) {
  ADD_SUITE("engine_sched", eng_suite_init, eng_suite_fini,
            {"backpressure bounds memory", test_backpressure_memory},
            {"backpressure on a host input", test_backpressure_host},
            {"stateless keeps input order", test_stateless_order},

            {"affinity ON_CPU index", test_affinity}, {"agent stats", test_stats},
            {"no starvation on one worker", test_no_starvation},
            {"fan-out: slowest branch holds back", test_fanout_backpressure},
            {"a long firing does not hold its graph", test_long_run_releases_graph},
            {"independent parts start on different workers", test_parts_spread},
            {"DOT output", test_dot});
}
