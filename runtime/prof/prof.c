/* prof_init / prof_fini and the publisher thread: every interval it asks
 * the collectors the subsystems registered (rt->collectors, base/stats_rec.h)
 * for their records and writes them to the live stats segment
 * (prof/segment.h). It names no subsystem. The hot path pays nothing here:
 * the engine's counters are relaxed atomics the collectors read. */
#include "prof/prof.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/error.h"
#include "base/runtime.h"
#include "prof/prof_impl.h"
#include "sched/place.h"

/* Counts distinct graph names (agents of a graph are usually adjacent). */
static uint64_t count_graphs(const struct prof_agent_rec *a, int n) {
  enum { MAXG = 256 };
  const char *seen[MAXG];
  int ng = 0;
  for (int i = 0; i < n; i++) {
    if (i > 0 && strcmp(a[i].graph, a[i - 1].graph) == 0) continue;
    int found = 0;
    for (int j = 0; j < ng && !found; j++)
      found = strcmp(seen[j], a[i].graph) == 0;
    if (!found && ng < MAXG) seen[ng++] = a[i].graph;
  }
  return (uint64_t)ng;
}

static int clamp_count(int n, int cap) {
  return n < 0 ? 0 : n > cap ? cap : n;
}

/* Fills the place records: names from the runtime's places, counters from
 * every places collector in turn (the scheduler's, the backends'). */
static int collect_places(struct prof *p) {
  struct maestro_runtime *rt = p->rt;
  int n = rt->ncpu + rt->ndev;
  if (n > p->place_cap) n = p->place_cap;
  memset(p->places, 0, sizeof *p->places * (size_t)p->place_cap);
  for (int i = 0; i < n; i++) {
    struct prof_place_rec *r = &p->places[i];
    if (i < rt->ncpu) {
      r->kind = MAESTRO_PLACE_CPU;
      r->index = i;
      snprintf(r->name, sizeof r->name, "cpu %d", i);
    } else {
      int d = i - rt->ncpu;
      r->kind = MAESTRO_PLACE_DEVICE;
      r->index = d;
      snprintf(r->name, sizeof r->name, "device %d: %.40s", d % 10000,
               rt->dev_info ? rt->dev_info[d].name : "");
    }
  }
  for (int c = 0; c < stats_collectors(rt); c++) {
    if (!rt->collectors[c]->places) continue;
    int m = clamp_count(rt->collectors[c]->places(rt, p->places, p->place_cap), p->place_cap);
    if (m > n) n = m;
  }
  return n;
}

/* Agents or channels from every collector of that kind, each one after the
 * records of those before it; returns how many exist (may exceed `cap`). */
static int collect_agents(struct maestro_runtime *rt, struct prof_agent_rec *r, int cap) {
  int total = 0;
  for (int c = 0; c < stats_collectors(rt); c++) {
    if (!rt->collectors[c]->agents) continue;
    int at = clamp_count(total, cap);
    int m = rt->collectors[c]->agents(rt, r + at, cap - at);
    if (m > 0) total += m;
  }
  return total;
}

static int collect_channels(struct maestro_runtime *rt, struct prof_chan_rec *r, int cap) {
  int total = 0;
  for (int c = 0; c < stats_collectors(rt); c++) {
    if (!rt->collectors[c]->channels) continue;
    int at = clamp_count(total, cap);
    int m = rt->collectors[c]->channels(rt, r + at, cap - at);
    if (m > 0) total += m;
  }
  return total;
}

void prof_publish(struct maestro_runtime *rt) {
  struct prof *p = rt ? rt->prof : NULL;
  if (!p || (!p->seg && !p->trace)) return;
  pthread_mutex_lock(&p->publish_lock);
  int np = collect_places(p);
  int na_total = collect_agents(rt, p->agents, p->agent_cap);
  int nc_total = collect_channels(rt, p->chans, p->chan_cap);
  int na = clamp_count(na_total, p->agent_cap);
  int nc = clamp_count(nc_total, p->chan_cap);
  uint64_t now = rt_now_ns();
  if (p->trace) prof_trace_sample_depths(p, p->chans, nc, now);
  if (p->seg) {
    for (int i = 0; i < np; i++)
      prof_seg_write_place(p->seg, (uint32_t)i, &p->places[i]);
    for (int i = 0; i < na; i++)
      prof_seg_write_agent(p->seg, (uint32_t)i, &p->agents[i]);
    for (int i = 0; i < nc; i++)
      prof_seg_write_chan(p->seg, (uint32_t)i, &p->chans[i]);
    struct prof_seg_live l = {
        .n_places = (uint64_t)np,
        .n_agents = (uint64_t)na,
        .n_chans = (uint64_t)nc,
        .agents_total = (uint64_t)(na_total > 0 ? na_total : 0),
        .chans_total = (uint64_t)(nc_total > 0 ? nc_total : 0),
        .n_graphs = count_graphs(p->agents, na),
        .publishes = ++p->publishes,
        .publish_mono_ns = now,
        .flags = (p->trace ? PROF_SEG_F_TRACING : 0) | (p->stop ? PROF_SEG_F_CLOSING : 0),
    };
    prof_seg_write_live(p->seg, &l);
  }
  pthread_mutex_unlock(&p->publish_lock);
}

static void *publisher_main(void *arg) {
  struct prof *p = arg;
  pthread_setname_np(pthread_self(), "maestro-stats");
  pthread_mutex_lock(&p->wake_lock);
  while (!p->stop) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t t = (uint64_t)ts.tv_nsec + p->interval_ns;
    ts.tv_sec += (time_t)(t / 1000000000ull);
    ts.tv_nsec = (long)(t % 1000000000ull);
    pthread_cond_timedwait(&p->wake, &p->wake_lock, &ts);
    if (p->stop) break;
    pthread_mutex_unlock(&p->wake_lock);
    prof_publish(p->rt);
    pthread_mutex_lock(&p->wake_lock);
  }
  pthread_mutex_unlock(&p->wake_lock);
  return NULL;
}

static void prof_free(struct prof *p) {
  pthread_mutex_destroy(&p->wake_lock);
  pthread_cond_destroy(&p->wake);
  pthread_mutex_destroy(&p->publish_lock);
  free(p->places);
  free(p->agents);
  free(p->chans);
  free(p);
}

int prof_init(struct maestro_runtime *rt) {
  rt->prof = NULL;
  if (!rt->cfg.stats && !rt->cfg.trace) return MAESTRO_OK;
  struct prof *p = calloc(1, sizeof *p);
  if (!p) return err_set(MAESTRO_ENOMEM, "maestro_runtime_create: out of memory (stats)");
  p->rt = rt;
  p->interval_ns = (uint64_t)rt->cfg.stats_interval_ms * 1000000ull;
  pthread_mutex_init(&p->publish_lock, NULL);
  pthread_mutex_init(&p->wake_lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&p->wake, &ca);
  pthread_condattr_destroy(&ca);
  /* Room for every device place: they are discovered after this (sched/place.h). */
  p->place_cap = rt->ncpu + PLACE_MAX_DEVICES;
  p->agent_cap = PROF_SEG_AGENT_SLOTS;
  p->chan_cap = PROF_SEG_CHAN_SLOTS;
  p->places = calloc((size_t)p->place_cap, sizeof *p->places);
  p->agents = calloc((size_t)p->agent_cap, sizeof *p->agents);
  p->chans = calloc((size_t)p->chan_cap, sizeof *p->chans);
  if (!p->places || !p->agents || !p->chans) {
    prof_free(p);
    return err_set(MAESTRO_ENOMEM, "maestro_runtime_create: out of memory (stats)");
  }
  if (rt->cfg.trace) {
    int rc = prof_trace_open(p, rt->cfg.trace);
    if (rc) {
      prof_free(p);
      return rc;
    }
  }
  if (rt->cfg.stats) {
    struct prof_seg_params sp = {
        .ncpu = rt->ncpu,
        .ndev = rt->ndev,
        .place_slots = (uint32_t)p->place_cap,
        .agent_slots = (uint32_t)p->agent_cap,
        .chan_slots = (uint32_t)p->chan_cap,
        .start_mono_ns = rt->start_ns,
    };
    /* Live stats are an aid, not a duty: without /dev/shm the runtime
     * still runs (the reason is kept for prof_stats_error). */
    if (prof_seg_create(&sp, &p->seg, p->seg_error, sizeof p->seg_error) != 0) p->seg = NULL;
  }
  rt->prof = p;
  rt->observer.graph_end = prof_publish;
  prof_publish(rt); /* places are visible at once */
  if (pthread_create(&p->thread, NULL, publisher_main, p) == 0) p->thread_running = 1;
  return MAESTRO_OK;
}

void prof_fini(struct maestro_runtime *rt) {
  struct prof *p = rt->prof;
  if (!p) return;
  pthread_mutex_lock(&p->wake_lock);
  p->stop = 1;
  pthread_cond_signal(&p->wake);
  pthread_mutex_unlock(&p->wake_lock);
  if (p->thread_running) pthread_join(p->thread, NULL);
  rt->observer.graph_end = NULL;
  prof_publish(rt); /* the last snapshot, flagged closing */
  if (p->trace) prof_trace_close(p);
  rt->prof = NULL;
  prof_seg_destroy(p->seg);
  prof_free(p);
}

const char *prof_stats_name(const struct maestro_runtime *rt) {
  return rt && rt->prof && rt->prof->seg ? prof_seg_name(rt->prof->seg) : NULL;
}

const char *prof_stats_error(const struct maestro_runtime *rt) {
  return rt && rt->prof && rt->prof->seg_error[0] ? rt->prof->seg_error : NULL;
}
