/* maestro-top's model: rates from two snapshots, sorting, number formats. */
#include "model.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const agent_col_names[COL_COUNT] = {"NAME", "GRAPH", "PLACE", "STATE", "FIRES/S",
                                                "IN/S", "OUT/S", "AVG",   "QUEUE", "FIRES",
                                                "FAIL", "RETRY", "CPU",   "DEV",   "FOVER"};

/* d(counter)/dt, or NAN when unknown or when the counter went backwards
 * (a graph was replaced by another of the same name). */
static double rate(uint64_t now, uint64_t before, double dt) {
  if (dt <= 0 || now < before) return NAN;
  return (double)(now - before) / dt;
}

static const struct prof_agent_rec *find_agent(const struct prof_snapshot *s, int hint,
                                               const struct prof_agent_rec *a) {
  if (hint < s->n_agents && !strcmp(s->agents[hint].name, a->name) &&
      !strcmp(s->agents[hint].graph, a->graph))
    return &s->agents[hint];
  for (int i = 0; i < s->n_agents; i++)
    if (!strcmp(s->agents[i].name, a->name) && !strcmp(s->agents[i].graph, a->graph))
      return &s->agents[i];
  return NULL;
}

static const struct prof_place_rec *find_place(const struct prof_snapshot *s, int hint,
                                               const struct prof_place_rec *p) {
  if (hint < s->n_places && s->places[hint].kind == p->kind && s->places[hint].index == p->index)
    return &s->places[hint];
  for (int i = 0; i < s->n_places; i++)
    if (s->places[i].kind == p->kind && s->places[i].index == p->index) return &s->places[i];
  return NULL;
}

static int same_chan(const struct prof_chan_rec *a, const struct prof_chan_rec *b) {
  return !strcmp(a->graph, b->graph) && !strcmp(a->from, b->from) && !strcmp(a->to, b->to);
}

static const struct prof_chan_rec *find_chan(const struct prof_snapshot *s, int hint,
                                             const struct prof_chan_rec *c) {
  if (hint < s->n_chans && same_chan(&s->chans[hint], c)) return &s->chans[hint];
  for (int i = 0; i < s->n_chans; i++)
    if (same_chan(&s->chans[i], c)) return &s->chans[i];
  return NULL;
}

void view_free(struct top_view *v) {
  prof_snapshot_free(&v->cur);
  prof_snapshot_free(&v->prev);
  free(v->agents);
  free(v->places);
  free(v->chans);
  memset(v, 0, sizeof *v);
}

void view_update(struct top_view *v, struct prof_snapshot *s) {
  if (v->cur.agents || v->cur.places || v->cur.chans) {
    prof_snapshot_free(&v->prev);
    v->prev = v->cur;
    v->has_prev = 1;
  }
  v->cur = *s;
  memset(s, 0, sizeof *s);
  const struct prof_snapshot *c = &v->cur, *p = v->has_prev ? &v->prev : NULL;
  v->dt_s = p ? (double)(c->live.publish_mono_ns - p->live.publish_mono_ns) / 1e9 : NAN;
  if (p && c->live.publish_mono_ns <= p->live.publish_mono_ns) v->dt_s = NAN;
  double dt = v->dt_s;
  v->uptime_s = c->taken_mono_ns >= c->info.start_mono_ns
                    ? (double)(c->taken_mono_ns - c->info.start_mono_ns) / 1e9
                    : NAN;

  v->since_publish_s = c->taken_mono_ns >= c->live.publish_mono_ns
                           ? (double)(c->taken_mono_ns - c->live.publish_mono_ns) / 1e9
                           : 0;

  free(v->agents);
  free(v->places);
  free(v->chans);
  v->n_agents = c->n_agents;
  v->n_places = c->n_places;
  v->n_chans = c->n_chans;
  v->agents = calloc((size_t)c->n_agents + 1, sizeof *v->agents);
  v->places = calloc((size_t)c->n_places + 1, sizeof *v->places);
  v->chans = calloc((size_t)c->n_chans + 1, sizeof *v->chans);
  if (!v->agents || !v->places || !v->chans) {
    v->n_agents = v->n_places = v->n_chans = 0;
    return;
  }

  double fires_s = p ? 0 : NAN, hd = p ? 0 : NAN, msgs = p ? 0 : NAN, out_sum = p ? 0 : NAN;
  for (int i = 0; i < c->n_agents; i++) {
    struct agent_row *row = &v->agents[i];
    const struct prof_agent_rec *a = row->r = &c->agents[i];
    agent_place_str(a, row->place, sizeof row->place);
    agent_est_str(a, row->est, sizeof row->est);
    agent_ranks_str(a, row->ranks, sizeof row->ranks);
    const struct prof_agent_rec *b = p ? find_agent(p, i, a) : NULL;
    row->fires_s = b ? rate(a->fires, b->fires, dt) : NAN;
    row->in_s = b ? rate(a->msgs_in, b->msgs_in, dt) : NAN;
    row->out_s = b ? rate(a->msgs_out, b->msgs_out, dt) : NAN;
    row->bytes_in_s = b ? rate(a->bytes_in, b->bytes_in, dt) : NAN;
    row->bytes_out_s = b ? rate(a->bytes_out, b->bytes_out, dt) : NAN;
    double busy = b ? rate(a->busy_ns, b->busy_ns, dt) : NAN;
    row->busy_pct = busy / 1e7;
    /* Average firing time over the interval, or since start when idle. */
    uint64_t df = b && a->fires >= b->fires ? a->fires - b->fires : 0;
    if (df && a->busy_ns >= b->busy_ns)
      row->avg_ns = (double)(a->busy_ns - b->busy_ns) / (double)df;
    else
      row->avg_ns = a->fires ? (double)a->busy_ns / (double)a->fires : NAN;
    if (p) {
      fires_s += isnan(row->fires_s) ? 0 : row->fires_s;
      out_sum += isnan(row->out_s) ? 0 : row->out_s;
    }
  }
  for (int i = 0; i < c->n_places; i++) {
    struct place_row *row = &v->places[i];
    const struct prof_place_rec *a = row->r = &c->places[i];
    const struct prof_place_rec *b = p ? find_place(p, i, a) : NULL;
    row->busy_pct = b ? rate(a->busy_ns, b->busy_ns, dt) / 1e7 : NAN;
    row->fires_s = b ? rate(a->fires, b->fires, dt) : NAN;
    row->h2d_s = b ? rate(a->bytes_h2d, b->bytes_h2d, dt) : NAN;
    row->d2h_s = b ? rate(a->bytes_d2h, b->bytes_d2h, dt) : NAN;
    row->d2d_s = b ? rate(a->bytes_d2d, b->bytes_d2d, dt) : NAN;
    if (p && a->kind == 1)
      hd += (isnan(row->h2d_s) ? 0 : row->h2d_s) + (isnan(row->d2h_s) ? 0 : row->d2h_s);
  }
  for (int i = 0; i < c->n_chans; i++) {
    struct chan_row *row = &v->chans[i];
    const struct prof_chan_rec *a = row->r = &c->chans[i];
    const struct prof_chan_rec *b = p ? find_chan(p, i, a) : NULL;
    row->msgs_s = b ? rate(a->msgs, b->msgs, dt) : NAN;
    row->bytes_s = b ? rate(a->bytes, b->bytes, dt) : NAN;
    row->cross_s = b ? rate(a->bytes_h2d + a->bytes_d2h + a->bytes_d2d,
                            b->bytes_h2d + b->bytes_d2h + b->bytes_d2d, dt)
                     : NAN;
    if (p) msgs += isnan(row->msgs_s) ? 0 : row->msgs_s;
  }
  if (isnan(dt)) fires_s = hd = msgs = out_sum = NAN;
  v->fires_s = fires_s;
  v->hd_bytes_s = hd;
  /* Messages per second: what moves on channels, or what agents emit when
   * the engine reports no channels. */
  v->msgs_s = c->n_chans ? msgs : out_sum;
}

void agent_place_str(const struct prof_agent_rec *r, char *buf, size_t n) {
  int cpu = r->flags & PROF_AGENT_F_CPU_PLACED, dev = r->flags & PROF_AGENT_F_DEV_PLACED;
  if (cpu && dev)
    snprintf(buf, n, "cpu %d+dev %d", r->cpu_place, r->dev_place);
  else if (cpu)
    snprintf(buf, n, "cpu %d", r->cpu_place);
  else if (dev)
    snprintf(buf, n, "device %d", r->dev_place);
  else if (r->flags == 0 && r->place_index >= 0) /* a writer before layout 3: where it last fired */
    snprintf(buf, n, "%s %d", r->place_kind == 1 ? "device" : "cpu", r->place_index);
  else
    snprintf(buf, n, "-");
}

void agent_est_str(const struct prof_agent_rec *r, char *buf, size_t n) {
  size_t o = 0;
  if (n) buf[0] = '\0';
  if (!(r->flags & PROF_AGENT_F_HYBRID)) return;
  uint32_t k = r->n_est < PROF_EST_PLACES ? r->n_est : PROF_EST_PLACES;
  for (uint32_t i = 0; i < k && o < n; i++) {
    if (r->est_ns[i] < -1) continue; /* not a place of this agent */
    char v[16], where[16];
    if (i == 0)
      snprintf(where, sizeof where, "cpu");
    else
      snprintf(where, sizeof where, "dev%u", i - 1);
    int w = snprintf(buf + o, n - o, "%s%s %s", o ? " " : "", where,
                     r->est_ns[i] < 0 ? "-" : fmt_ns(v, sizeof v, (double)r->est_ns[i]));
    if (w < 0) break;
    o += (size_t)w;
  }
  if (o >= n && n) buf[n - 1] = '\0';
}

/* Appends to buf (size n, o bytes used); returns the new length, at most n - 1. */
static size_t append(char *buf, size_t n, size_t o, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static size_t append(char *buf, size_t n, size_t o, const char *fmt, ...) {
  if (o + 1 >= n) return o;
  va_list ap;
  va_start(ap, fmt);
  int w = vsnprintf(buf + o, n - o, fmt, ap);
  va_end(ap);
  if (w < 0) return o;
  return o + (size_t)w < n ? o + (size_t)w : n - 1;
}

void agent_ranks_str(const struct prof_agent_rec *r, char *buf, size_t n) {
  if (!n) return;
  buf[0] = '\0';
  if (r->flags & PROF_AGENT_F_ANY_SERVED) {
    snprintf(buf, n, "served for rank %" PRId32 ": %" PRIu64, r->served_for, r->served);
    return;
  }
  if (!(r->flags & PROF_AGENT_F_ANY_OWNER)) return;
  /* nranks comes from the segment: any int32. */
  int shown = r->nranks < 0 ? 0 : r->nranks > PROF_RANK_FIRES ? PROF_RANK_FIRES : r->nranks;
  int rest = r->nranks > PROF_RANK_FIRES;
  if (shown == 0) return;
  double total = (double)r->rank_fires_rest;
  for (int k = 0; k < shown; k++)
    total += (double)r->rank_fires[k];
  size_t o = append(buf, n, 0, "ranks:");
  for (int k = 0; k < shown + rest; k++) {
    uint64_t v = k < shown ? r->rank_fires[k] : r->rank_fires_rest;
    char who[16];
    if (k < shown)
      snprintf(who, sizeof who, "r%d", k);
    else
      snprintf(who, sizeof who, "r%d+", k);
    o = append(buf, n, o, "%s %s %" PRIu64 " (%.1f%%)", k ? "," : "", who, v,
               total > 0 ? 100.0 * (double)v / total : 0.0);
  }
}

static int sort_col, sort_rev;

static int cmp_num(double a, double b) {
  if (isnan(a) && isnan(b)) return 0;
  if (isnan(a)) return 1; /* unknown last */
  if (isnan(b)) return -1;
  return a > b ? -1 : a < b ? 1 : 0; /* descending */
}

/* States come from the segment, any int32: a difference could overflow. */
int agent_state_cmp(int32_t a, int32_t b) {
  return (a > b) - (a < b);
}

static int cmp_agent(const void *pa, const void *pb) {
  const struct agent_row *a = pa, *b = pb;
  int r = 0;
  switch (sort_col) {
  case COL_NAME: r = strcmp(a->r->name, b->r->name); break;
  case COL_GRAPH: r = strcmp(a->r->graph, b->r->graph); break;
  case COL_PLACE: r = strcmp(a->place, b->place); break;
  case COL_STATE: r = agent_state_cmp(a->r->state, b->r->state); break;
  case COL_FIRES_S: r = cmp_num(a->fires_s, b->fires_s); break;
  case COL_IN_S: r = cmp_num(a->in_s, b->in_s); break;
  case COL_OUT_S: r = cmp_num(a->out_s, b->out_s); break;
  case COL_AVG: r = cmp_num(a->avg_ns, b->avg_ns); break;
  case COL_QUEUE: r = cmp_num(a->r->queue_depth, b->r->queue_depth); break;
  case COL_FIRES: r = cmp_num((double)a->r->fires, (double)b->r->fires); break;
  case COL_FAIL: r = cmp_num((double)a->r->failures, (double)b->r->failures); break;
  case COL_RETRY: r = cmp_num((double)a->r->retries, (double)b->r->retries); break;
  case COL_CPU: r = cmp_num((double)a->r->cpu_fires, (double)b->r->cpu_fires); break;
  case COL_DEV: r = cmp_num((double)a->r->device_fires, (double)b->r->device_fires); break;
  case COL_FOVER: r = cmp_num((double)a->r->failovers, (double)b->r->failovers); break;
  default: break;
  }
  if (sort_rev) r = -r;
  if (r == 0) r = strcmp(a->r->name, b->r->name);
  if (r == 0) r = strcmp(a->r->graph, b->r->graph);
  return r;
}

void view_sort_agents(struct top_view *v, int col, int reverse) {
  sort_col = col;
  sort_rev = reverse;
  qsort(v->agents, (size_t)v->n_agents, sizeof *v->agents, cmp_agent);
}

static const char *scaled(char *buf, size_t n, double v, const char *const *units, double step) {
  if (isnan(v)) {
    snprintf(buf, n, "-");
    return buf;
  }
  int u = 0;
  while (fabs(v) >= step * 0.9995 && units[u + 1]) {
    v /= step;
    u++;
  }
  if (u == 0 && v == floor(v))
    snprintf(buf, n, "%.0f%s", v, units[0]);
  else
    snprintf(buf, n, fabs(v) < 10 ? "%.2f%s" : fabs(v) < 100 ? "%.1f%s" : "%.0f%s", v, units[u]);
  return buf;
}

const char *fmt_num(char *buf, size_t n, double v) {
  static const char *const u[] = {"", "k", "M", "G", "T", NULL};
  return scaled(buf, n, v, u, 1000);
}

const char *fmt_bytes(char *buf, size_t n, double v) {
  static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB", NULL};
  return scaled(buf, n, v, u, 1024);
}

const char *fmt_ns(char *buf, size_t n, double v) {
  static const char *const u[] = {"ns", "us", "ms", "s", NULL};
  return scaled(buf, n, v, u, 1000);
}

/* ---- every runtime of a process ---- */

static int attached(const struct top_set *s, const char *name) {
  for (int i = 0; i < s->n; i++)
    if (!strcmp(prof_reader_info(s->rt[i].r)->shm_name, name)) return 1;
  return 0;
}

static void add_runtime(struct top_set *s, struct prof_reader *r) {
  struct top_runtime *t = &s->rt[s->n++];
  memset(t, 0, sizeof *t);
  t->r = r;
}

int top_set_scan(struct top_set *s, char *err, size_t errlen) {
  struct prof_proc procs[TOP_MAX_RUNTIMES];
  int n = prof_list_pid_segments(s->pid, procs, TOP_MAX_RUNTIMES, 0, NULL);
  if (n > TOP_MAX_RUNTIMES) n = TOP_MAX_RUNTIMES;
  int first = PROF_READ_OK;
  for (int i = 0; i < n && s->n < TOP_MAX_RUNTIMES; i++) {
    if (attached(s, procs[i].shm_name)) continue;
    struct prof_reader *r = NULL;
    char e[256];
    int rc = prof_reader_open_name(procs[i].shm_name, &r, e, sizeof e);
    if (rc == PROF_READ_OK && prof_reader_info(r)->pid != s->pid) {
      snprintf(e, sizeof e, "/dev/shm%s: corrupt: it says it is pid %d's", procs[i].shm_name,
               prof_reader_info(r)->pid);
      prof_reader_close(r);
      rc = PROF_READ_ECORRUPT;
    }
    if (rc == PROF_READ_OK) {
      add_runtime(s, r);
    } else if (first == PROF_READ_OK) {
      first = rc;
      snprintf(err, errlen, "%s", e);
    }
  }
  if (s->n > 0) return PROF_READ_OK;
  if (first != PROF_READ_OK) return first;
  /* Nothing of ours listed: say why (no segment, or something that is not
   * ours under the name). */
  struct prof_reader *r = NULL;
  int rc = prof_reader_open_pid(s->pid, &r, err, errlen);
  if (rc == PROF_READ_OK) add_runtime(s, r);
  return rc;
}

int top_set_refresh(struct top_set *s, char *err, size_t errlen) {
  char e[256];
  top_set_scan(s, e, sizeof e); /* runtimes created since: not yet readable is fine */
  for (int i = 0; i < s->n; i++) {
    struct top_runtime *t = &s->rt[i];
    t->just_ended = 0;
    if (t->ended) continue;
    struct prof_snapshot snap;
    int rc = prof_reader_snapshot(t->r, &snap, err, errlen);
    if (rc != PROF_READ_OK) return rc;
    view_update(&t->v, &snap);
  }
  int alive = prof_pid_alive(s->pid);
  for (int i = 0; i < s->n; i++) {
    struct top_runtime *t = &s->rt[i];
    t->v.rt_index = i;
    t->v.rt_count = s->n;
    if (t->ended) continue;
    t->ended = t->just_ended = (t->v.cur.live.flags & PROF_SEG_F_CLOSING) || !alive;
  }
  return PROF_READ_OK;
}

int top_set_ended(const struct top_set *s) {
  for (int i = 0; i < s->n; i++)
    if (!s->rt[i].ended) return 0;
  return 1;
}

int top_set_clean_if_gone(const struct top_set *s) {
  if (prof_pid_alive(s->pid)) return 0;
  struct prof_proc procs[TOP_MAX_RUNTIMES];
  int cleaned = 0;
  prof_list_pid_segments(s->pid, procs, TOP_MAX_RUNTIMES, 1, &cleaned);
  return cleaned;
}

void top_set_free(struct top_set *s) {
  for (int i = 0; i < s->n; i++) {
    view_free(&s->rt[i].v);
    prof_reader_close(s->rt[i].r);
  }
  s->n = 0;
}
