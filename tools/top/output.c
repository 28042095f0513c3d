/* maestro-top's output: text lines and JSON snapshots. */
#include "output.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

enum { LINE = 512 };

#define N(buf, v) fmt_num(buf, sizeof(buf), v)
#define B(buf, v) fmt_bytes(buf, sizeof(buf), v)

const char *top_escape(char *dst, size_t n, const char *s) {
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;
  if (n == 0) return dst;
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    char tmp[4];
    size_t k;
    if (ch == '\\') {
      tmp[0] = tmp[1] = '\\';
      k = 2;
    } else if (ch >= 0x20 && ch < 0x7f) {
      tmp[0] = (char)ch;
      k = 1;
    } else {
      tmp[0] = '\\';
      tmp[1] = 'x';
      tmp[2] = hex[ch >> 4];
      tmp[3] = hex[ch & 15];
      k = 4;
    }
    if (o + k >= n) break;
    memcpy(dst + o, tmp, k);
    o += k;
  }
  dst[o] = '\0';
  return dst;
}

#define E(buf, s) top_escape(buf, sizeof(buf), s)

void render_header(const struct top_view *v, const char *status, line_fn out, void *ctx) {
  char line[LINE], up[32], m[16], hd[16], f[16];
  const struct prof_snapshot *s = &v->cur;
  if (isnan(v->uptime_s)) {
    snprintf(up, sizeof up, "-");
  } else {
    long t = (long)v->uptime_s;
    snprintf(up, sizeof up, "%02ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  }
  char prog[TOP_ESC_NAME], which[48] = "";
  if (v->rt_count > 1)
    snprintf(which, sizeof which, ", runtime %d of %d", v->rt_index + 1, v->rt_count);
  snprintf(line, sizeof line,
           "maestro-top - %s (pid %d%s)  up %s  graphs %" PRIu64 "  agents %" PRIu64
           "  places %d  channels %" PRIu64 "%s%s%s",
           E(prog, s->info.program), s->info.pid, which, up, s->live.n_graphs, s->live.agents_total,
           s->n_places, s->live.chans_total,
           s->live.flags & PROF_SEG_F_TRACING ? "  [tracing]" : "", status ? "  " : "",
           status ? status : "");
  out(ctx, LINE_TITLE, line);
  char age[48] = "";
  if (v->since_publish_s > 2.0 && !(s->live.flags & PROF_SEG_F_CLOSING))
    snprintf(age, sizeof age, "  [no update for %.0f s]", v->since_publish_s);
  snprintf(line, sizeof line, "msgs/s %s  firings/s %s  host<->device %s/s%s", N(m, v->msgs_s),
           N(f, v->fires_s), B(hd, v->hd_bytes_s), age);
  out(ctx, LINE_PLAIN, line);
}

void render_places(const struct top_view *v, line_fn out, void *ctx) {
  char line[LINE];
  snprintf(line, sizeof line, "%-34s %6s %6s %8s %10s %10s %10s", "PLACE", "BUSY%", "AGENTS",
           "FIRES/S", "H2D/S", "D2H/S", "D2D/S");
  out(ctx, LINE_COLUMNS, line);
  for (int i = 0; i < v->n_places; i++) {
    const struct place_row *p = &v->places[i];
    char busy[16], fs[16], h[16], d[16], dd[16];
    if (isnan(p->busy_pct))
      snprintf(busy, sizeof busy, "-");
    else
      snprintf(busy, sizeof busy, "%.1f", p->busy_pct > 100 ? 100.0 : p->busy_pct); /* jitter */
    int dev = p->r->kind == 1;
    char name[TOP_ESC_NAME];
    snprintf(line, sizeof line, "%-34.34s %6s %6u %8s %10s %10s %10s", E(name, p->r->name), busy,
             p->r->agents, N(fs, p->fires_s), dev ? B(h, p->h2d_s) : "", dev ? B(d, p->d2h_s) : "",
             dev ? B(dd, p->d2d_s) : "");
    out(ctx, LINE_PLAIN, line);
  }
}

void render_agents(const struct top_view *v, int sort_col, int max_rows, line_fn out, void *ctx) {
  char line[LINE + TOP_RANKS_LEN];
  static const int width[COL_COUNT] = {14, 10, 12, 8, 8, 8, 8, 8, 5, 8, 4, 5, 8, 8, 5};
  int pos = 0;
  for (int c = 0; c < COL_COUNT; c++) {
    char head[24];
    snprintf(head, sizeof head, "%s%s", agent_col_names[c], c == sort_col ? "*" : "");
    pos +=
        snprintf(line + pos, sizeof line - (size_t)pos, c < 4 ? "%-*s " : "%*s ", width[c], head);
  }
  snprintf(line + pos, sizeof line - (size_t)pos, "ESTIMATES");
  out(ctx, LINE_COLUMNS, line);
  int lines = 0; /* rows and detail lines shown */
  for (int i = 0; i < v->n_agents && (max_rows < 0 || lines < max_rows); i++, lines++) {
    const struct agent_row *a = &v->agents[i];
    char fs[16], in[16], o[16], avg[16], fires[16], cpu[16], dev[16], name[TOP_ESC_NAME],
        graph[TOP_ESC_NAME];
    snprintf(line, sizeof line,
             "%-14.14s %-10.10s %-12.12s %-8.8s %8s %8s %8s %8s %5u %8s %4" PRIu64 " %5" PRIu64
             " %8s %8s %5" PRIu64 "%s%s",
             E(name, a->r->name), E(graph, a->r->graph), a->place,
             prof_agent_state_name(a->r->state), N(fs, a->fires_s), N(in, a->in_s), N(o, a->out_s),
             fmt_ns(avg, sizeof avg, a->avg_ns), a->r->queue_depth, N(fires, (double)a->r->fires),
             a->r->failures, a->r->retries, N(cpu, (double)a->r->cpu_fires),
             N(dev, (double)a->r->device_fires), a->r->failovers, a->est[0] ? " " : "", a->est);
    out(ctx, LINE_PLAIN, line);
    /* A MAESTRO_RANK_ANY agent: where its firings ran, on a line of its own
     * under its row (as many ranks as there are, whatever the width). */
    if (a->ranks[0] && (max_rows < 0 || ++lines < max_rows)) {
      snprintf(line, sizeof line, "  %s", a->ranks);
      out(ctx, LINE_PLAIN, line);
    }
  }
}

void render_chans(const struct top_view *v, int max_rows, line_fn out, void *ctx) {
  char line[LINE];
  snprintf(line, sizeof line, "%-12s %-22s %-22s %9s %8s %10s %10s", "GRAPH", "FROM", "TO",
           "DEPTH/CAP", "MSGS/S", "BYTES/S", "CROSS/S");
  out(ctx, LINE_COLUMNS, line);
  for (int i = 0; i < v->n_chans && (max_rows < 0 || i < max_rows); i++) {
    const struct chan_row *c = &v->chans[i];
    char dc[24], ms[16], bs[16], xs[16], graph[TOP_ESC_NAME], from[TOP_ESC_NAME], to[TOP_ESC_NAME];
    snprintf(dc, sizeof dc, "%u/%u", c->r->depth, c->r->capacity);
    snprintf(line, sizeof line, "%-12.12s %-22.22s %-22.22s %9s %8s %10s %10s",
             E(graph, c->r->graph), E(from, c->r->from), E(to, c->r->to), dc, N(ms, c->msgs_s),
             B(bs, c->bytes_s), B(xs, c->cross_s));
    out(ctx, LINE_PLAIN, line);
  }
}

/* ---- JSON ---- */

static void jstr(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      fprintf(f, "\\%c", ch);
    else if (ch < 0x20 || ch >= 0x7f)
      fprintf(f, "\\u%04x", ch);
    else
      fputc(ch, f);
  }
  fputc('"', f);
}

static void jkey(FILE *f, int *first, const char *k) {
  fprintf(f, "%s\"%s\":", *first ? "" : ",", k);
  *first = 0;
}

static void ju(FILE *f, int *first, const char *k, uint64_t v) {
  jkey(f, first, k);
  fprintf(f, "%" PRIu64, v);
}

static void ji(FILE *f, int *first, const char *k, int64_t v) {
  jkey(f, first, k);
  fprintf(f, "%" PRId64, v);
}

static void jd(FILE *f, int *first, const char *k, double v) {
  jkey(f, first, k);
  if (isnan(v) || isinf(v))
    fputs("null", f);
  else
    fprintf(f, "%.3f", v);
}

static void js(FILE *f, int *first, const char *k, const char *v) {
  jkey(f, first, k);
  if (v)
    jstr(f, v);
  else
    fputs("null", f);
}

void write_json(FILE *f, const struct top_view *v) {
  const struct prof_snapshot *s = &v->cur;
  int first = 1;
  fputc('{', f);
  ji(f, &first, "pid", s->info.pid);
  jd(f, &first, "time", (double)s->taken_unix_ns / 1e9);
  js(f, &first, "program", s->info.program);
  js(f, &first, "segment", s->info.shm_name);
  ji(f, &first, "runtime", v->rt_index);
  ju(f, &first, "version", s->info.version);
  jd(f, &first, "uptime_s", v->uptime_s);
  jd(f, &first, "interval_s", v->dt_s);
  jd(f, &first, "since_publish_s", v->since_publish_s);
  ju(f, &first, "graphs", s->live.n_graphs);
  ju(f, &first, "agents_total", s->live.agents_total);
  ju(f, &first, "channels_total", s->live.chans_total);
  ju(f, &first, "publishes", s->live.publishes);
  jkey(f, &first, "tracing");
  fputs(s->live.flags & PROF_SEG_F_TRACING ? "true" : "false", f);
  jd(f, &first, "msgs_per_s", v->msgs_s);
  jd(f, &first, "fires_per_s", v->fires_s);
  jd(f, &first, "host_device_bytes_per_s", v->hd_bytes_s);

  jkey(f, &first, "agents");
  fputc('[', f);
  for (int i = 0; i < v->n_agents; i++) {
    const struct agent_row *a = &v->agents[i];
    const struct prof_agent_rec *r = a->r;
    int fa = 1;
    fputs(i ? ",{" : "{", f);
    js(f, &fa, "name", r->name);
    js(f, &fa, "graph", r->graph);
    js(f, &fa, "place", strcmp(a->place, "-") ? a->place : NULL);
    js(f, &fa, "state", prof_agent_state_name(r->state));
    ju(f, &fa, "fires", r->fires);
    ju(f, &fa, "msgs_in", r->msgs_in);
    ju(f, &fa, "msgs_out", r->msgs_out);
    ju(f, &fa, "bytes_in", r->bytes_in);
    ju(f, &fa, "bytes_out", r->bytes_out);
    ju(f, &fa, "busy_ns", r->busy_ns);
    ju(f, &fa, "failures", r->failures);
    ju(f, &fa, "retries", r->retries);
    ju(f, &fa, "dead_letters", r->dead_letters);
    ju(f, &fa, "fallbacks", r->fallbacks);
    ju(f, &fa, "device_fires", r->device_fires);
    ju(f, &fa, "cpu_fires", r->cpu_fires);
    ju(f, &fa, "failovers", r->failovers);
    ju(f, &fa, "queue_depth", r->queue_depth);
    jd(f, &fa, "fires_per_s", a->fires_s);
    jd(f, &fa, "msgs_in_per_s", a->in_s);
    jd(f, &fa, "msgs_out_per_s", a->out_s);
    jd(f, &fa, "bytes_in_per_s", a->bytes_in_s);
    jd(f, &fa, "bytes_out_per_s", a->bytes_out_s);
    jd(f, &fa, "avg_fire_ns", a->avg_ns);
    jd(f, &fa, "busy_pct", a->busy_pct);
    /* Where it is placed, and a hybrid agent's current estimates per place. */
    jkey(f, &fa, "cpu_place");
    if (r->flags & PROF_AGENT_F_CPU_PLACED)
      fprintf(f, "%" PRId32, r->cpu_place);
    else
      fputs("null", f);
    jkey(f, &fa, "dev_place");
    if (r->flags & PROF_AGENT_F_DEV_PLACED)
      fprintf(f, "%" PRId32, r->dev_place);
    else
      fputs("null", f);
    jkey(f, &fa, "hybrid");
    fputs(r->flags & PROF_AGENT_F_HYBRID ? "true" : "false", f);
    if (r->flags & PROF_AGENT_F_HYBRID) {
      ju(f, &fa, "est_bytes", r->est_bytes);
      jkey(f, &fa, "est_ns");
      fputc('{', f);
      int fe = 1;
      uint32_t k = r->n_est < PROF_EST_PLACES ? r->n_est : PROF_EST_PLACES;
      for (uint32_t e = 0; e < k; e++) {
        if (r->est_ns[e] < -1) continue;
        char where[24];
        if (e == 0)
          snprintf(where, sizeof where, "cpu");
        else
          snprintf(where, sizeof where, "device %u", e - 1);
        jkey(f, &fe, where);
        if (r->est_ns[e] < 0)
          fputs("null", f);
        else
          fprintf(f, "%" PRId64, r->est_ns[e]);
      }
      fputc('}', f);
    }
    /* A MAESTRO_RANK_ANY agent across ranks: on the owner, the firings
     * each rank answered; on another rank, those it served. */
    if (r->flags & PROF_AGENT_F_ANY_OWNER) {
      int nr = r->nranks < 0 ? 0 : r->nranks; /* any int32 in the segment */
      ju(f, &fa, "nranks", (uint64_t)nr);
      jkey(f, &fa, "rank_fires");
      fputc('[', f);
      for (int k = 0; k < nr && k < PROF_RANK_FIRES; k++)
        fprintf(f, "%s%" PRIu64, k ? "," : "", r->rank_fires[k]);
      fputc(']', f);
      if (nr > PROF_RANK_FIRES) ju(f, &fa, "rank_fires_rest", r->rank_fires_rest);
    }
    if (r->flags & PROF_AGENT_F_ANY_SERVED) {
      ji(f, &fa, "served_for", r->served_for);
      ju(f, &fa, "served", r->served);
    }
    if (r->flags & (PROF_AGENT_F_ANY_OWNER | PROF_AGENT_F_ANY_SERVED)) {
      jkey(f, &fa, "counts_final");
      fputs(r->flags & PROF_AGENT_F_ANY_FINAL ? "true" : "false", f);
    }
    fputc('}', f);
  }
  fputc(']', f);

  jkey(f, &first, "places");
  fputc('[', f);
  for (int i = 0; i < v->n_places; i++) {
    const struct place_row *p = &v->places[i];
    const struct prof_place_rec *r = p->r;
    int fp = 1;
    fputs(i ? ",{" : "{", f);
    js(f, &fp, "name", r->name);
    js(f, &fp, "kind", r->kind == 1 ? "device" : "cpu");
    ji(f, &fp, "index", r->index);
    ju(f, &fp, "agents", r->agents);
    ju(f, &fp, "busy_ns", r->busy_ns);
    ju(f, &fp, "fires", r->fires);
    ju(f, &fp, "bytes_h2d", r->bytes_h2d);
    ju(f, &fp, "bytes_d2h", r->bytes_d2h);
    ju(f, &fp, "bytes_d2d", r->bytes_d2d);
    ju(f, &fp, "transfers", r->transfers);
    jd(f, &fp, "busy_pct", p->busy_pct);
    jd(f, &fp, "fires_per_s", p->fires_s);
    jd(f, &fp, "h2d_bytes_per_s", p->h2d_s);
    jd(f, &fp, "d2h_bytes_per_s", p->d2h_s);
    jd(f, &fp, "d2d_bytes_per_s", p->d2d_s);
    fputc('}', f);
  }
  fputc(']', f);

  jkey(f, &first, "channels");
  fputc('[', f);
  for (int i = 0; i < v->n_chans; i++) {
    const struct chan_row *c = &v->chans[i];
    const struct prof_chan_rec *r = c->r;
    int fc = 1;
    fputs(i ? ",{" : "{", f);
    js(f, &fc, "graph", r->graph);
    js(f, &fc, "from", r->from);
    js(f, &fc, "to", r->to);
    ju(f, &fc, "capacity", r->capacity);
    ju(f, &fc, "depth", r->depth);
    ju(f, &fc, "msgs", r->msgs);
    ju(f, &fc, "bytes", r->bytes);
    ju(f, &fc, "bytes_h2d", r->bytes_h2d);
    ju(f, &fc, "bytes_d2h", r->bytes_d2h);
    ju(f, &fc, "bytes_d2d", r->bytes_d2d);
    jd(f, &fc, "msgs_per_s", c->msgs_s);
    jd(f, &fc, "bytes_per_s", c->bytes_s);
    jd(f, &fc, "cross_bytes_per_s", c->cross_s);
    fputc('}', f);
  }
  fputs("]}\n", f);
  fflush(f);
}
