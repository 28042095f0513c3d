/* A program for the observability tests (tests/prof_*.py):
 *
 *   prof_demo fake SECONDS     publishes a synthetic segment through the
 *                              writer API (graph "pipeline": src -> scale -> sink,
 *                              counters growing) for SECONDS, then exits cleanly
 *   prof_demo runtime SECONDS  a real runtime (maestro_runtime_create) that
 *                              stays up for SECONDS: its publisher thread
 *                              publishes the places
 *   prof_demo trace FILE N     a runtime tracing to FILE; two threads record
 *                              N firings each through prof_trace_firing
 *                              (with message flows), then the runtime is
 *                              destroyed. Prints the number of firings.
 *
 * Prints "ready <pid>" once the segment exists. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/runtime.h"
#include "maestro.h"
#include "prof/prof.h"
#include "prof/segment.h"

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int run_fake(double seconds) {
  struct prof_seg_params p = {.ncpu = 2,
                              .ndev = 1,
                              .place_slots = 3,
                              .agent_slots = 8,
                              .chan_slots = 8,
                              .start_mono_ns = rt_now_ns(),
                              .program = "prof_demo"};
  struct prof_seg *seg;
  char err[256];
  if (prof_seg_create(&p, &seg, err, sizeof err) != 0) {
    fprintf(stderr, "prof_demo: %s\n", err);
    return 1;
  }
  printf("ready %d %s\n", (int)getpid(), prof_seg_name(seg));
  fflush(stdout);
  static const char *const names[3] = {"src", "scale", "sink"};
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
  printf("ready %d %s\n", (int)getpid(), prof_stats_name(rt) ? prof_stats_name(rt) : "(none)");
  fflush(stdout);
  sleep_ms((long)(seconds * 1000));
  maestro_runtime_destroy(rt);
  return 0;
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
    prof_trace_firing(t->rt, MAESTRO_PLACE_CPU, t->cpu, t->cpu ? "sink" : "src", (uint64_t)i, 64,
                      t0, t1, t->cpu ? id : 0, t->cpu ? 0 : id);
  }
  return NULL;
}

static int run_trace(const char *file, int n) {
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.devices = "none";
  cfg.ncpu = 2;
  cfg.trace = file;
  maestro_runtime_t *rt;
  if (maestro_runtime_create(&cfg, &rt) != MAESTRO_OK) {
    fprintf(stderr, "prof_demo: %s\n", maestro_last_error());
    return 1;
  }
  struct tracer t[2] = {{rt, 0, n}, {rt, 1, n}};
  pthread_t th[2];
  pthread_create(&th[0], NULL, trace_thread, &t[0]);
  pthread_join(th[0], NULL); /* producers first: flows start before they finish */
  pthread_create(&th[1], NULL, trace_thread, &t[1]);
  prof_trace_flush(rt); /* a flush while a thread still writes */
  pthread_join(th[1], NULL);
  prof_trace_transfer(rt, -1, "h2d", 4096, rt_now_ns(), rt_now_ns() + 500);
  maestro_runtime_destroy(rt);
  printf("%d\n", 2 * n);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "fake")) return run_fake(atof(argv[2]));
  if (argc == 3 && !strcmp(argv[1], "runtime")) return run_runtime(atof(argv[2]));
  if (argc == 4 && !strcmp(argv[1], "trace")) return run_trace(argv[2], atoi(argv[3]));
  fprintf(stderr, "usage: prof_demo fake SECONDS | runtime SECONDS | trace FILE N\n");
  return 2;
}
