/* Formats trace records as compact Chrome Trace Event JSON. Events are
 * formatted by hand into t->out (fprintf costs about a microsecond per
 * event) and written with fwrite when it fills. */
#include "prof/trace_write.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/runtime.h"
#include "core/trace_rec.h"

void tw_fail(struct trace *t, int err) {
  if (t->failed) return;
  t->failed = 1;
  t->error = err ? err : EIO;
  fprintf(stderr,
          "maestro: MAESTRO_TRACE='%s': writing the trace file failed: %s; the trace is "
          "incomplete and no longer written\n",
          t->path, strerror(t->error));
}

void tw_out_flush(struct trace *t) {
  if (t->out_n && !t->failed && fwrite(t->out, 1, t->out_n, t->f) != t->out_n) tw_fail(t, errno);
  t->out_n = 0;
}

/* Room for one event: a firing with its two flows and its placement choice
 * is under 1000 bytes plus its name (at most 6 * 1000 + 2 bytes as JSON). */
static char *out_reserve(struct trace *t, size_t name_len) {
  if (t->out_n + 1024 + 2 * name_len > sizeof t->out) tw_out_flush(t);
  return t->out + t->out_n;
}

static char *put_lit(char *o, const char *s) {
  size_t n = strlen(s);
  memcpy(o, s, n); // NOLINT(bugprone-not-null-terminated-result): JSON text, not a C string
  return o + n;
}

static const char DIGITS2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Decimal, two digits per step. */
static char *put_u64(char *o, uint64_t v) {
  char tmp[24];
  int n = 24;
  while (v >= 100) {
    unsigned d = (unsigned)(v % 100) * 2;
    v /= 100;
    tmp[--n] = DIGITS2[d + 1];
    tmp[--n] = DIGITS2[d];
  }
  if (v >= 10) {
    unsigned d = (unsigned)v * 2;
    tmp[--n] = DIGITS2[d + 1];
    tmp[--n] = DIGITS2[d];
  } else {
    tmp[--n] = (char)('0' + v);
  }
  memcpy(o, tmp + n, (size_t)(24 - n));
  return o + (24 - n);
}

/* Microseconds from nanoseconds, as Chrome wants them: three decimals at
 * most, trailing zeros dropped ("12", "12.5", "12.345"). */
static char *put_us(char *o, int64_t ns) {
  if (ns < 0) {
    *o++ = '-';
    ns = -ns;
  }
  o = put_u64(o, (uint64_t)ns / 1000);
  unsigned frac = (unsigned)((uint64_t)ns % 1000);
  if (frac) {
    *o++ = '.';
    *o++ = (char)('0' + frac / 100);
    if (frac % 100) {
      *o++ = (char)('0' + frac / 10 % 10);
      if (frac % 10) *o++ = (char)('0' + frac % 10);
    }
  }
  return o;
}

static char *put_i64(char *o, int64_t v) {
  if (v < 0) {
    *o++ = '-';
    return put_u64(o, (uint64_t)0 - (uint64_t)v);
  }
  return put_u64(o, (uint64_t)v);
}

/* A place of a REC_CHOICE: 0 the CPU, 1 + d device d. */
static char *put_place(char *o, uint32_t p) {
  if (p == 0) return put_lit(o, "\"cpu\"");
  o = put_lit(o, "\"device ");
  o = put_u64(o, p - 1);
  *o++ = '"';
  return o;
}

/* ,"place":..,"why":..,"est_ns":{place: ns},"cost_ns":{place: ns} of a
 * REC_CHOICE (places that are not the agent's left out; -1: not measured). */
static char *put_choice(char *o, const uint64_t *c) {
  static const char *const why[] = {"earliest finish", "calibrating", "exploring", "eager"};
  uint32_t n = (uint32_t)rec_head_bytes(c[0]), chosen = (uint32_t)c[1], w = (uint32_t)(c[1] >> 32);
  o = put_lit(o, ",\"place\":");
  o = put_place(o, chosen);
  o = put_lit(o, ",\"why\":\"");
  o = put_lit(o, why[w < 4 ? w : 0]);
  *o++ = '"';
  for (int k = 0; k < 2; k++) {
    o = put_lit(o, k ? ",\"cost_ns\":{" : ",\"est_ns\":{");
    int first = 1;
    for (uint32_t i = 0; i < n; i++) {
      int64_t v = (int64_t)c[2 + k * n + i];
      if (v < -1) continue;
      if (!first) *o++ = ',';
      first = 0;
      o = put_place(o, i);
      *o++ = ':';
      o = put_i64(o, v);
    }
    *o++ = '}';
  }
  return o;
}

char *tw_put_str(char *o, const char *s) {
  *o++ = '"';
  for (int i = 0; s[i]; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '"' || ch == '\\') {
      *o++ = '\\';
      *o++ = (char)ch;
    } else if (ch < 0x20 || ch >= 0x7f) {
      static const char hex[] = "0123456789abcdef";
      o = put_lit(o, "\\u00");
      *o++ = hex[ch >> 4];
      *o++ = hex[ch & 15];
    } else {
      *o++ = (char)ch;
    }
  }
  *o++ = '"';
  return o;
}

/* ,"pid":P,"tid":T,"ts":X */
static char *put_where(char *o, const struct trace *t, uint32_t tid, uint64_t ns) {
  memcpy(o, t->pid_key, t->pid_key_len);
  o += t->pid_key_len;
  o = put_u64(o, tid);
  o = put_lit(o, ",\"ts\":");
  return put_us(o, (int64_t)(ns - t->start_ns));
}

static char *put_name(char *o, const struct trace_name *n) {
  memcpy(o, n->json, n->json_len);
  return o + n->json_len;
}

void tw_firing(struct trace *t, uint32_t tid, const struct trace_name *name, uint64_t seq,
               uint64_t bytes, uint64_t flow_in, uint64_t flow_out, uint64_t t0, uint64_t t1) {
  char *o = out_reserve(t, name->json_len);
  uint64_t dur = t1 > t0 ? t1 - t0 : 0;
  o = put_lit(o, ",\n{\"ph\":\"X\",\"cat\":\"firing\",\"name\":");
  o = put_name(o, name);
  o = put_where(o, t, tid, t0);
  o = put_lit(o, ",\"dur\":");
  o = put_us(o, (int64_t)dur);
  o = put_lit(o, ",\"args\":{\"seq\":");
  o = put_u64(o, seq);
  o = put_lit(o, ",\"bytes\":");
  o = put_u64(o, bytes);
  if (t->choice) o = put_choice(o, t->choice);
  o = put_lit(o, "}}");
  if (flow_in) {
    /* Near the consumer's end: its start may be the previous firing's end,
     * which can lie before the producer sent the message; its end never
     * does. */
    o = put_lit(o, ",\n{\"ph\":\"f\",\"bp\":\"e\",\"cat\":\"msg\",\"name\":\"msg\",\"id\":");
    o = put_u64(o, flow_in);
    o = put_where(o, t, tid, dur >= 2 ? t1 - 1 : t0);
    *o++ = '}';
  }
  if (flow_out) {
    o = put_lit(o, ",\n{\"ph\":\"s\",\"cat\":\"msg\",\"name\":\"msg\",\"id\":");
    o = put_u64(o, flow_out);
    o = put_where(o, t, tid, t0);
    *o++ = '}';
  }
  t->out_n = (size_t)(o - t->out);
  t->events_written++;
}

void tw_batch(struct trace *t, uint32_t tid, uint64_t n, uint64_t t0, uint64_t t1) {
  char *o = out_reserve(t, 0);
  o = put_lit(o, ",\n{\"ph\":\"X\",\"cat\":\"batch\",\"name\":\"batch\"");
  o = put_where(o, t, tid, t0);
  o = put_lit(o, ",\"dur\":");
  o = put_us(o, (int64_t)(t1 - t0));
  o = put_lit(o, ",\"args\":{\"firings\":");
  o = put_u64(o, n);
  o = put_lit(o, "}}");
  t->out_n = (size_t)(o - t->out);
  t->events_written++;
}

void tw_transfer(struct trace *t, const uint64_t *w, const struct trace_name *name) {
  char *o = out_reserve(t, name->json_len);
  o = put_lit(o, ",\n{\"ph\":\"X\",\"cat\":\"transfer\",\"name\":");
  o = put_name(o, name);
  o = put_where(o, t, rec_tid(w[0]), w[2]);
  o = put_lit(o, ",\"dur\":");
  o = put_us(o, (int64_t)(w[3] - w[2]));
  o = put_lit(o, ",\"args\":{\"bytes\":");
  o = put_u64(o, w[1]);
  o = put_lit(o, "}}");
  t->out_n = (size_t)(o - t->out);
  t->events_written++;
}

void tw_depth(struct trace *t, const uint64_t *w, const struct trace_name *name) {
  char *o = out_reserve(t, name->json_len);
  o = put_lit(o, ",\n{\"ph\":\"C\",\"cat\":\"channel\",\"name\":");
  o = put_name(o, name);
  o = put_where(o, t, TID_HOST, w[2]);
  o = put_lit(o, ",\"args\":{\"depth\":");
  o = put_u64(o, w[1]);
  o = put_lit(o, "}}");
  t->out_n = (size_t)(o - t->out);
  t->events_written++;
}

void tw_flow_end(struct trace *t, uint64_t flow, uint64_t ns) {
  char *o = out_reserve(t, 0);
  o = put_lit(o, ",\n{\"ph\":\"X\",\"cat\":\"host\",\"name\":\"output pop\"");
  o = put_where(o, t, TID_HOST, ns);
  o = put_lit(o, ",\"dur\":0.001}");
  o = put_lit(o, ",\n{\"ph\":\"f\",\"bp\":\"e\",\"cat\":\"msg\",\"name\":\"msg\",\"id\":");
  o = put_u64(o, flow);
  o = put_where(o, t, TID_HOST, ns);
  *o++ = '}';
  t->out_n = (size_t)(o - t->out);
  t->events_written++;
}

void tw_lost(struct trace *t, uint64_t n, uint64_t total, uint64_t ns) {
  char *o = out_reserve(t, 0);
  o = put_lit(o, ",\n{\"ph\":\"i\",\"s\":\"g\",\"cat\":\"lost\",\"name\":\"lost ");
  o = put_u64(o, n);
  o = put_lit(o, " events\"");
  o = put_where(o, t, TID_HOST, ns);
  o = put_lit(o, ",\"args\":{\"lost\":");
  o = put_u64(o, n);
  o = put_lit(o, ",\"lost_total\":");
  o = put_u64(o, total);
  o = put_lit(o, "}}");
  t->out_n = (size_t)(o - t->out);
  t->events_written++;
}

void tw_init(struct trace *t) {
  t->pid_key_len = (size_t)snprintf(t->pid_key, sizeof t->pid_key, ",\"pid\":%d,\"tid\":", t->pid);
}

static void put_json_string(FILE *f, const char *s) {
  char buf[1300];
  char *o = tw_put_str(buf, s);
  fwrite(buf, 1, (size_t)(o - buf), f);
}

/* Names track `tid` and sorts it by its id. */
static void tw_track(struct trace *t, int tid, const char *name) {
  FILE *f = t->f;
  fprintf(f, ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%d,\"tid\":%d,\"args\":{\"name\":",
          t->pid, tid);
  put_json_string(f, name);
  fprintf(f,
          "}},\n{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":%d,\"tid\":%d,"
          "\"args\":{\"sort_index\":%d}}",
          t->pid, tid, tid);
}

void tw_meta(struct trace *t, struct maestro_runtime *rt) {
  FILE *f = t->f;
  fprintf(f, "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"maestro_version\":\"%s\"},",
          maestro_version());
  fprintf(f,
          "\n\"traceEvents\":[\n{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%d,"
          "\"tid\":0,\"args\":{\"name\":",
          t->pid);
  char pname[96];
  snprintf(pname, sizeof pname, "%.80s (maestro)", program_invocation_short_name);
  put_json_string(f, pname);
  fprintf(f, "}}");
  for (int i = -1; i < rt->ncpu; i++) {
    if (i < 0)
      tw_track(t, TID_HOST, "host");
    else {
      char name[32];
      snprintf(name, sizeof name, "cpu %d", i);
      tw_track(t, TID_CPU + i, name);
    }
  }
  /* Rank 0 of a graph across ranks: MAESTRO_RANK_ANY firings that other
   * ranks ran, each from its inputs' sending to its outputs' return. */
  for (int r = 1; rt->rank == 0 && r < rt->nranks && r < TID_RANKS; r++) {
    char name[64];
    snprintf(name, sizeof name, "rank %d (MAESTRO_RANK_ANY firings)", r);
    tw_track(t, TID_RANK + r, name);
  }
}

void tw_meta_devices(struct trace *t, struct maestro_runtime *rt) {
  int n = rt->ndev;
  for (int d = t->dev_named; d < n; d++)
    for (int xfer = 0; xfer < 2; xfer++) {
      char name[200];
      snprintf(name, sizeof name, "device %d: %.128s%s", d, rt->dev_info[d].name,
               xfer ? " transfers" : "");
      tw_track(t, (xfer ? TID_XFER : TID_DEV) + d, name);
    }
  if (n > t->dev_named) t->dev_named = n;
}
