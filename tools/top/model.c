/* maestro-top's model: rates from two snapshots, sorting, number formats. */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const agent_col_names[COL_COUNT] = {"NAME",    "GRAPH", "PLACE", "STATE",
                                                "FIRES/S", "IN/S",  "OUT/S", "AVG",
                                                "QUEUE",   "FIRES", "FAIL",  "RETRY"};

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
    if (a->place_index < 0)
      snprintf(row->place, sizeof row->place, "-");
    else
      snprintf(row->place, sizeof row->place, "%s %d", a->place_kind == 1 ? "device" : "cpu",
               a->place_index);
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

static int sort_col, sort_rev;

static int cmp_num(double a, double b) {
  if (isnan(a) && isnan(b)) return 0;
  if (isnan(a)) return 1; /* unknown last */
  if (isnan(b)) return -1;
  return a > b ? -1 : a < b ? 1 : 0; /* descending */
}

static int cmp_agent(const void *pa, const void *pb) {
  const struct agent_row *a = pa, *b = pb;
  int r = 0;
  switch (sort_col) {
  case COL_NAME: r = strcmp(a->r->name, b->r->name); break;
  case COL_GRAPH: r = strcmp(a->r->graph, b->r->graph); break;
  case COL_PLACE: r = strcmp(a->place, b->place); break;
  /* Not a subtraction: a foreign segment's states can be any int32. */
  case COL_STATE: r = (a->r->state > b->r->state) - (a->r->state < b->r->state); break;
  case COL_FIRES_S: r = cmp_num(a->fires_s, b->fires_s); break;
  case COL_IN_S: r = cmp_num(a->in_s, b->in_s); break;
  case COL_OUT_S: r = cmp_num(a->out_s, b->out_s); break;
  case COL_AVG: r = cmp_num(a->avg_ns, b->avg_ns); break;
  case COL_QUEUE: r = cmp_num(a->r->queue_depth, b->r->queue_depth); break;
  case COL_FIRES: r = cmp_num((double)a->r->fires, (double)b->r->fires); break;
  case COL_FAIL: r = cmp_num((double)a->r->failures, (double)b->r->failures); break;
  case COL_RETRY: r = cmp_num((double)a->r->retries, (double)b->r->retries); break;
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
