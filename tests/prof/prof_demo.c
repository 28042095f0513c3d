/* A program for the observability tests (tests/prof_*.py):
 *
 *   prof_demo fake SECONDS [NAME]  publishes a synthetic segment through the
 *                              writer API (graph "pipeline": src -> scale -> sink,
 *                              counters growing) for SECONDS, then exits cleanly;
 *                              NAME replaces "scale" (and the program is
 *                              "demo-NAME")
 *   prof_demo runtime SECONDS  a real runtime (maestro_runtime_create) that
 *                              stays up for SECONDS: its publisher thread
 *                              publishes the places (prof_stats_error, if
 *                              any, on stderr)
 *   prof_demo tworuntimes SECONDS  two runtimes at once, for SECONDS; prints
 *                              "ready <pid> <segment> <segment>"
 *   prof_demo graph SECONDS    a real graph through the public API, graph
 *                              "pipeline": src -> scale -> sink (4 KiB f32
 *                              messages, src paced at about 5000 msg/s), for
 *                              SECONDS; prints each agent's firings at the end
 *   prof_demo graphtrace FILE N [END]  the same graph, N messages as fast as it
 *                              goes, tracing to FILE; prints "agent fires" lines.
 *                              END: destroy (default), exit (exit() at the
 *                              end, nothing destroyed), term (prints "ended"
 *                              and waits for a signal), live (paced, for ever:
 *                              prints "ready" once 100 messages went through),
 *                              flush (paced: maestro_trace_flush after 50 ms,
 *                              the file then copied to FILE.mid)
 *   prof_demo devgraph ... / devgraphtrace ...  the same with scale as an
 *                              OpenCL kernel agent on device 0
 *   prof_demo trace FILE N     a runtime tracing to FILE; two threads record
 *                              N firings each through trace_firing
 *                              (with message flows), then the runtime is
 *                              destroyed. Prints the number of firings.
 *
 *   prof_demo hybridgraph SECONDS  graph with scale a hybrid agent
 *   prof_demo hybridtrace FILE N  graphtrace with scale a hybrid agent (CPU
 *                              function and kernel) on CPUs and device 0
 *   prof_demo outputtrace FILE N  src -> scale -> a graph output the host
 *                              pops N messages from, tracing to FILE
 *
 *   prof_demo tracestress FILE N  four threads record N firings each while
 *                              the main thread flushes continually
 *
 * Prints "ready <pid>" once the segment exists. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/runtime.h"
#include "maestro.h"
#include "core/trace.h"
#include "prof/prof.h"
#include "prof/segment.h"
#include "testutil.h"

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int run_fake(double seconds, const char *middle) {
  char program[PROF_PROGRAM_LEN] = "prof_demo";
  if (middle) snprintf(program, sizeof program, "demo-%.50s", middle);
  struct prof_seg_params p = {.ncpu = 2,
                              .ndev = 1,
                              .place_slots = 3,
                              .agent_slots = 8,
                              .chan_slots = 8,
                              .start_mono_ns = rt_now_ns(),
                              .program = program};
  struct prof_seg *seg;
  char err[256];
  if (prof_seg_create(&p, &seg, err, sizeof err) != 0) {
    fprintf(stderr, "prof_demo: %s\n", err);
    return 1;
  }
  const char *const names[3] = {"src", middle ? middle : "scale", "sink"};
  uint64_t tick = 0, t_end = rt_now_ns() + (uint64_t)(seconds * 1e9);
  while (rt_now_ns() < t_end) {
    tick++;
    for (int i = 0; i < 3; i++) {
      struct prof_place_rec pl = {.kind = i < 2 ? MAESTRO_PLACE_CPU : MAESTRO_PLACE_DEVICE,
                                  .index = i < 2 ? i : 0,
                                  .agents = 1,
                                  .fires = tick * 100,
                                  .busy_ns = tick * 20000000ull};
      if (i < 2)
        snprintf(pl.name, sizeof pl.name, "cpu %d", i);
      else
        snprintf(pl.name, sizeof pl.name, "device 0: fake device");
      if (i == 2) {
        pl.bytes_h2d = tick * 4096;
        pl.bytes_d2h = tick * 4096;
        pl.transfers = tick * 2;
      }
      prof_seg_write_place(seg, (uint32_t)i, &pl);
      struct prof_agent_rec a = {.place_kind = pl.kind,
                                 .place_index = pl.index,
                                 .state = PROF_AGENT_RUNNING,
                                 .queue_depth = (uint32_t)(tick % 5),
                                 .fires = tick * 100,
                                 .msgs_in = i ? tick * 100 : 0,
                                 .msgs_out = i < 2 ? tick * 100 : 0,
                                 .bytes_in = tick * 409600,
                                 .bytes_out = tick * 409600,
                                 .busy_ns = tick * 20000000ull};
      snprintf(a.name, sizeof a.name, "%s", names[i]);
      snprintf(a.graph, sizeof a.graph, "pipeline");
      prof_seg_write_agent(seg, (uint32_t)i, &a);
      if (i < 2) {
        struct prof_chan_rec c = {.capacity = 8,
                                  .depth = (uint32_t)(tick % 8),
                                  .msgs = tick * 100,
                                  .bytes = tick * 409600,
                                  .bytes_h2d = i == 1 ? tick * 4096 : 0};
        snprintf(c.graph, sizeof c.graph, "pipeline");
        snprintf(c.from, sizeof c.from, "%s.out", names[i]);
        snprintf(c.to, sizeof c.to, "%s.in", names[i + 1]);
        prof_seg_write_chan(seg, (uint32_t)i, &c);
      }
    }
    struct prof_seg_live l = {.n_places = 3,
                              .n_agents = 3,
                              .n_chans = 2,
                              .agents_total = 3,
                              .chans_total = 2,
                              .n_graphs = 1,
                              .publishes = tick,
                              .publish_mono_ns = rt_now_ns()};
    prof_seg_write_live(seg, &l);
    if (tick == 1) { /* the first snapshot is complete */
      printf("ready %d %s\n", (int)getpid(), prof_seg_name(seg));
      fflush(stdout);
    }
    sleep_ms(50);
  }
  prof_seg_destroy(seg);
  return 0;
}

static int run_runtime(double seconds) {
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.devices = "none";
  maestro_runtime_t *rt;
  if (maestro_runtime_create(&cfg, &rt) != MAESTRO_OK) {
    fprintf(stderr, "prof_demo: %s\n", maestro_last_error());
    return 1;
  }
  if (prof_stats_error(rt)) fprintf(stderr, "prof_demo: stats: %s\n", prof_stats_error(rt));
  printf("ready %d %s\n", (int)getpid(), prof_stats_name(rt) ? prof_stats_name(rt) : "(none)");
  fflush(stdout);
  sleep_ms((long)(seconds * 1000));
  maestro_runtime_destroy(rt);
  return 0;
}

static int run_two_runtimes(double seconds) {
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.devices = "none";
  cfg.ncpu = 1;
  maestro_runtime_t *rt[2];
  for (int i = 0; i < 2; i++)
    if (maestro_runtime_create(&cfg, &rt[i]) != MAESTRO_OK) {
      fprintf(stderr, "prof_demo: %s\n", maestro_last_error());
      return 1;
    }
  printf("ready %d %s %s\n", (int)getpid(), prof_stats_name(rt[0]) ? prof_stats_name(rt[0]) : "-",
         prof_stats_name(rt[1]) ? prof_stats_name(rt[1]) : "-");
  fflush(stdout);
  sleep_ms((long)(seconds * 1000));
  maestro_runtime_destroy(rt[1]);
  maestro_runtime_destroy(rt[0]);
  return 0;
}

/* ---- a real graph ---- */

static const maestro_port_t f32_in[] = {{"in", MAESTRO_F32, 0}};
static const maestro_port_t f32_out[] = {{"out", MAESTRO_F32, 0}};

struct src_state {
  uint64_t deadline_ns; /* 0: count only */
  uint64_t left;
  long pace_us;
};

static int src_fire(maestro_fire_t *f) {
  struct src_state *st = maestro_fire_state(f);
  if (st->deadline_ns ? rt_now_ns() >= st->deadline_ns : st->left == 0) return MAESTRO_DONE;
  if (st->left) st->left--;
  maestro_buf_t *out;
  int rc = maestro_fire_alloc(f, 1024 * sizeof(float), &out);
  if (rc) return rc;
  float *x = maestro_buf_data(out);
  for (int i = 0; i < 1024; i++)
    x[i] = (float)i;
  if (st->pace_us) {
    struct timespec ts = {0, st->pace_us * 1000L};
    nanosleep(&ts, NULL);
  }
  return maestro_fire_out(f, 0, out);
}

static int sink_fire(maestro_fire_t *f) {
  (void)f;
  return MAESTRO_OK;
}

static const maestro_karg_t scale_args[] = {MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0),
                                            MAESTRO_KARG_COUNT(0)};
static const maestro_kernel_t scale_kernel = {
    .source = "__kernel void scale(__global const float *x, __global float *y, uint n)"
              "{ size_t i = get_global_id(0); if (i < n) y[i] = 2.0f * x[i]; }",
    .name = "scale",
    .args = scale_args,
    .n_args = 3,
    .range_port = 0};

/* How a traced graph run ends (graphtrace's END). */
enum end_how {
  END_DESTROY, /* maestro_runtime_destroy */
  END_EXIT,    /* exit(0) once the graph ended, without destroying anything */
  END_TERM,    /* prints "ended", then waits for a signal */
  END_LIVE,    /* src runs for ever (paced); prints "ready" after 100 firings */
  END_FLUSH,   /* paced; maestro_trace_flush after 50 ms, the file copied to FILE.mid */
};

/* `device`: 1, scale is a kernel agent on device 0; 2, a hybrid agent
 * (CPU function and kernel) placed by the scheduler. */
static int run_graph(double seconds, const char *trace, uint64_t n, int device, enum end_how end) {
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.devices = device ? "0" : "none";
  if (trace) cfg.trace = trace;
  /* Only the flush writes the trace while END_FLUSH copies it. */
  if (end == END_FLUSH) cfg.stats_interval_ms = 60000;
  maestro_runtime_t *rt;
  maestro_graph_t *g;
  if (maestro_runtime_create(&cfg, &rt) != MAESTRO_OK) {
    fprintf(stderr, "prof_demo: %s\n", maestro_last_error());
    return 1;
  }
  struct src_state st = {.deadline_ns = trace ? 0 : rt_now_ns() + (uint64_t)(seconds * 1e9),
                         .left = end == END_LIVE ? UINT64_MAX : n,
                         .pace_us = trace && end < END_LIVE ? 0 : 200};
  maestro_agent_t *a[3];
  int rc = maestro_graph_create(rt, "pipeline", &g);
  if (!rc)
    rc = maestro_agent_add(
        g,
        &(maestro_agent_desc_t){
            .name = "src", .out = f32_out, .n_out = 1, .cpu = src_fire, .state = &st},
        &a[0]);
  if (!rc)
    rc = maestro_agent_add(
        g,
        &(maestro_agent_desc_t){
            .name = "scale",
            .in = f32_in,
            .n_in = 1,
            .out = f32_out,
            .n_out = 1,
            .cpu = testutil_scale2_cpu,
            .kernel = device ? &scale_kernel : NULL,
            .affinity = {device == 1 ? MAESTRO_ON_DEVICE : MAESTRO_ANYWHERE, 0, 0}},
        &a[1]);
  if (!rc)
    rc = maestro_agent_add(
        g, &(maestro_agent_desc_t){.name = "sink", .in = f32_in, .n_in = 1, .cpu = sink_fire},
        &a[2]);
  if (!rc) rc = maestro_connect(g, a[0], "out", a[1], "in", 8);
  if (!rc) rc = maestro_connect(g, a[1], "out", a[2], "in", 8);
  if (!rc) rc = maestro_graph_start(g);
  if (rc) {
    fprintf(stderr, "prof_demo: %s\n", maestro_last_error());
    maestro_runtime_destroy(rt);
    return 1;
  }
  if (!trace) {
    prof_publish(rt); /* the agents are in the segment before "ready" */
    printf("ready %d %s\n", (int)getpid(), prof_stats_name(rt) ? prof_stats_name(rt) : "(none)");
    fflush(stdout);
  }
  if (end == END_LIVE) {
    maestro_agent_stats_t s = {0};
    while (s.fires < 100) {
      sleep_ms(5);
      maestro_agent_stats(a[2], &s);
    }
    printf("ready\n");
    fflush(stdout);
  }
  if (end == END_FLUSH) {
    sleep_ms(50);
    rc = maestro_trace_flush(rt);
    if (rc) fprintf(stderr, "prof_demo: flush: %s\n", maestro_last_error());
    char mid[4096];
    snprintf(mid, sizeof mid, "%s.mid", trace);
    FILE *in = fopen(trace, "rb"), *out = fopen(mid, "wb");
    char buf[65536];
    size_t k;
    while (in && out && (k = fread(buf, 1, sizeof buf, in)) > 0)
      fwrite(buf, 1, k, out);
    if (in) fclose(in);
    if (out) fclose(out);
  }
  rc = maestro_graph_wait(g);
  if (rc) fprintf(stderr, "prof_demo: %s\n", maestro_last_error());
  for (int i = 0; i < 3; i++) {
    maestro_agent_stats_t s;
    maestro_agent_stats(a[i], &s);
    printf("%s %llu\n", maestro_agent_name(a[i]), (unsigned long long)s.fires);
  }
  fflush(stdout);
  if (end == END_EXIT) exit(rc ? 1 : 0);
  if (end == END_TERM) {
    printf("ended\n");
    fflush(stdout);
    for (;;)
      pause();
  }
  maestro_graph_destroy(g);
  maestro_runtime_destroy(rt);
  return rc ? 1 : 0;
}

/* src -> scale -> a graph output the host pops N messages from, traced. */
static int run_output_trace(const char *file, uint64_t n) {
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.devices = "none";
  cfg.trace = file;
  maestro_runtime_t *rt;
  maestro_graph_t *g;
  maestro_output_t *out = NULL;
  struct src_state st = {.left = n};
  maestro_agent_t *a[2];
  if (maestro_runtime_create(&cfg, &rt) != MAESTRO_OK) {
    fprintf(stderr, "prof_demo: %s\n", maestro_last_error());
    return 1;
  }
  int rc = maestro_graph_create(rt, "pipeline", &g);
  if (!rc)
    rc = maestro_agent_add(
        g,
        &(maestro_agent_desc_t){
            .name = "src", .out = f32_out, .n_out = 1, .cpu = src_fire, .state = &st},
        &a[0]);
  if (!rc)
    rc = maestro_agent_add(g,
                           &(maestro_agent_desc_t){.name = "scale",
                                                   .in = f32_in,
                                                   .n_in = 1,
                                                   .out = f32_out,
                                                   .n_out = 1,
                                                   .cpu = testutil_scale2_cpu},
                           &a[1]);
  if (!rc) rc = maestro_connect(g, a[0], "out", a[1], "in", 8);
  if (!rc) rc = maestro_graph_output(g, a[1], "out", &out);
  if (!rc) rc = maestro_graph_start(g);
  uint64_t got = 0;
  maestro_buf_t *b;
  while (!rc && maestro_output_pop(out, &b, 10000) == MAESTRO_OK) {
    maestro_buf_release(b);
    got++;
  }
  if (!rc) rc = maestro_graph_wait(g);
  if (rc) fprintf(stderr, "prof_demo: %s\n", maestro_last_error());
  printf("popped %llu\n", (unsigned long long)got);
  maestro_graph_destroy(g);
  maestro_runtime_destroy(rt);
  return rc ? 1 : 0;
}

struct tracer {
  maestro_runtime_t *rt;
  int cpu, n;
};

static void *trace_thread(void *arg) {
  struct tracer *t = arg;
  for (int i = 0; i < t->n; i++) {
    uint64_t t0 = rt_now_ns();
    uint64_t t1 = t0 + 1000;
    /* cpu 0 produces message i+1, cpu 1 consumes it */
    uint64_t id = (uint64_t)i + 1;
    trace_firing(t->rt, MAESTRO_PLACE_CPU, t->cpu, t->cpu ? "sink" : "src", (uint64_t)i, 64, t0, t1,
                 t->cpu ? id : 0, t->cpu ? 0 : id);
  }
  return NULL;
}

/* Four threads record N firings each while the main thread flushes
 * continually: every event must reach the file exactly once, in order per
 * thread (chunks handed over, written, reused). */
struct stress {
  maestro_runtime_t *rt;
  int id, n;
};

static void *stress_thread(void *arg) {
  struct stress *s = arg;
  char name[16];
  snprintf(name, sizeof name, "t%d", s->id);
  for (int i = 0; i < s->n; i++) {
    uint64_t t = rt_now_ns();
    trace_firing(s->rt, MAESTRO_PLACE_CPU, s->id % 2, name, (uint64_t)i, 8, t, t + 10, 0, 0);
  }
  return NULL;
}

/* A CPU-only runtime with 2 workers tracing to `file`; NULL (after saying
 * why) on failure. */
static maestro_runtime_t *trace_runtime(const char *file) {
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.devices = "none";
  cfg.ncpu = 2;
  cfg.trace = file;
  maestro_runtime_t *rt;
  if (maestro_runtime_create(&cfg, &rt) != MAESTRO_OK) {
    fprintf(stderr, "prof_demo: %s\n", maestro_last_error());
    return NULL;
  }
  return rt;
}

static int run_trace_stress(const char *file, int n) {
  maestro_runtime_t *rt = trace_runtime(file);
  if (!rt) return 1;
  struct stress st[4];
  pthread_t th[4];
  for (int i = 0; i < 4; i++) {
    st[i] = (struct stress){rt, i, n};
    pthread_create(&th[i], NULL, stress_thread, &st[i]);
  }
  for (int k = 0; k < 50; k++) {
    prof_trace_flush(rt);
    sleep_ms(2);
  }
  for (int i = 0; i < 4; i++)
    pthread_join(th[i], NULL);
  maestro_runtime_destroy(rt);
  printf("%d\n", 4 * n);
  return 0;
}

static int run_trace(const char *file, int n) {
  maestro_runtime_t *rt = trace_runtime(file);
  if (!rt) return 1;
  struct tracer t[2] = {{rt, 0, n}, {rt, 1, n}};
  pthread_t th[2];
  pthread_create(&th[0], NULL, trace_thread, &t[0]);
  pthread_join(th[0], NULL); /* producers first: flows start before they finish */
  pthread_create(&th[1], NULL, trace_thread, &t[1]);
  prof_trace_flush(rt); /* a flush while a thread still writes */
  pthread_join(th[1], NULL);
  trace_transfer(rt, -1, "h2d", 4096, rt_now_ns(), rt_now_ns() + 500);
  int rc = prof_trace_flush(rt);
  if (rc != MAESTRO_OK) fprintf(stderr, "prof_demo: flush: %s\n", maestro_last_error());
  maestro_runtime_destroy(rt);
  printf("%d\n", 2 * n);
  return rc == MAESTRO_OK ? 0 : 3;
}

int main(int argc, char **argv) {
  if ((argc == 3 || argc == 4) && !strcmp(argv[1], "fake"))
    return run_fake(atof(argv[2]), argc == 4 ? argv[3] : NULL);
  if (argc == 3 && !strcmp(argv[1], "runtime")) return run_runtime(atof(argv[2]));
  if (argc == 3 && !strcmp(argv[1], "tworuntimes")) return run_two_runtimes(atof(argv[2]));
  int dev = argc > 1 && !strncmp(argv[1], "dev", 3);
  const char *mode = argc > 1 ? argv[1] + (dev ? 3 : 0) : "";
  if (argc == 3 && !strcmp(mode, "graph"))
    return run_graph(atof(argv[2]), NULL, 0, dev, END_DESTROY);
  if (argc == 5 && !strcmp(mode, "graphtrace")) {
    static const char *const ends[] = {"destroy", "exit", "term", "live", "flush"};
    for (int e = 0; e < 5; e++)
      if (!strcmp(argv[4], ends[e]))
        return run_graph(0, argv[2], strtoull(argv[3], NULL, 10), dev, (enum end_how)e);
  }
  if (argc == 4 && !strcmp(mode, "graphtrace"))
    return run_graph(0, argv[2], strtoull(argv[3], NULL, 10), dev, END_DESTROY);
  if (argc == 4 && !strcmp(argv[1], "tracestress")) return run_trace_stress(argv[2], atoi(argv[3]));
  if (argc == 4 && !strcmp(argv[1], "trace")) return run_trace(argv[2], atoi(argv[3]));
  if (argc == 3 && !strcmp(argv[1], "hybridgraph"))
    return run_graph(atof(argv[2]), NULL, 0, 2, END_DESTROY);
  if (argc == 4 && !strcmp(argv[1], "hybridtrace"))
    return run_graph(0, argv[2], strtoull(argv[3], NULL, 10), 2, END_DESTROY);
  if (argc == 4 && !strcmp(argv[1], "outputtrace"))
    return run_output_trace(argv[2], strtoull(argv[3], NULL, 10));
  fprintf(stderr, "usage: prof_demo fake SECONDS [NAME] | runtime SECONDS | tworuntimes SECONDS | "
                  "[dev]graph SECONDS | "
                  "[dev]graphtrace FILE N | "
                  "trace FILE N\n");
  return 2;
}
