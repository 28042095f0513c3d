/* The Chrome Trace Event writer (MAESTRO_TRACE=file.json), opened by
 * Perfetto and chrome://tracing.
 *
 * Hot path: each thread appends events to its own chunked buffer (found
 * through a thread-local pointer), publishing each with one release store
 * of the chunk's count: no lock, no shared cache line. The flusher (graph
 * end, runtime destroy) walks every thread's chunks, writes what is new and
 * frees chunks the writer has left. The file is valid JSON after every
 * flush: events are written before a fixed footer that the next flush
 * overwrites.
 *
 * Tracks (tid): 0 host, 1 + i "cpu i", 1001 + d "device d: <name>",
 * 2001 + d "device d: <name> transfers". A firing is a complete event
 * ("ph":"X", "cat":"firing", "name": the agent); its message flows are
 * "s"/"f" events with the message id; channel depths are counters ("C"). */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/runtime.h"
#include "prof/prof.h"
#include "prof/prof_impl.h"

enum { CHUNK_EVENTS = 1024, EV_NAME = 64 };
enum { TID_HOST = 0, TID_CPU = 1, TID_DEV = 1001, TID_XFER = 2001 };
enum ev_type { EV_FIRING = 1, EV_TRANSFER, EV_DEPTH };

struct trace_ev {
  uint8_t type;
  int32_t tid;
  uint64_t t0, t1, seq, bytes, flow_in, flow_out;
  char name[EV_NAME];
};

struct trace_chunk {
  _Atomic(struct trace_chunk *) next;
  _Atomic uint32_t count; /* events published (writer: release) */
  uint32_t done;          /* events written to the file (flusher only) */
  struct trace_ev ev[CHUNK_EVENTS];
};

struct trace_buf {
  struct trace_buf *next;   /* registry list */
  struct trace_chunk *head; /* flusher's end */
  struct trace_chunk *tail; /* writer's end */
  /* Chunks the flusher has written, handed back to the writer so that a
   * long trace reuses warm memory instead of faulting in new pages. Taken
   * once per CHUNK_EVENTS events: the lock is off the per-event path. */
  pthread_mutex_t spare_lock;
  struct trace_chunk *spare;
  int nspare;
};

enum { MAX_SPARE = 16 };

/* A chunk for the writer: a spare one, or a new one. */
static struct trace_chunk *chunk_get(struct trace_buf *b) {
  pthread_mutex_lock(&b->spare_lock);
  struct trace_chunk *c = b->spare;
  if (c) {
    b->spare = atomic_load_explicit(&c->next, memory_order_relaxed);
    b->nspare--;
  }
  pthread_mutex_unlock(&b->spare_lock);
  if (!c) return calloc(1, sizeof *c);
  atomic_store_explicit(&c->next, NULL, memory_order_relaxed);
  atomic_store_explicit(&c->count, 0, memory_order_relaxed);
  c->done = 0;
  return c;
}

/* The flusher is done with `c`. */
static void chunk_put(struct trace_buf *b, struct trace_chunk *c) {
  pthread_mutex_lock(&b->spare_lock);
  if (b->nspare < MAX_SPARE) {
    atomic_store_explicit(&c->next, b->spare, memory_order_relaxed);
    b->spare = c;
    b->nspare++;
    c = NULL;
  }
  pthread_mutex_unlock(&b->spare_lock);
  free(c);
}

struct trace {
  uint64_t id; /* tells this trace's thread buffers from a previous runtime's */
  FILE *f;
  char *path;
  long body_end; /* where the footer starts */
  int failed;    /* a write failed: stop writing */
  uint64_t start_ns;
  int pid;
  pthread_mutex_t lock; /* registry and flushes */
  struct trace_buf *bufs;
  uint64_t events_written;
  char pid_key[40]; /* ,"pid":P,"tid": */
  size_t pid_key_len;
  size_t out_n;
  char out[1 << 16];
};

static _Atomic uint64_t trace_ids;
static _Thread_local struct {
  uint64_t id;
  struct trace_buf *buf;
} tl;

static const char FOOTER[] = "\n]}\n";

int prof_tracing(const struct maestro_runtime *rt) {
  return rt && rt->prof && rt->prof->trace;
}

static int place_tid(maestro_place_kind_t kind, int index) {
  if (index < 0) return TID_HOST;
  return kind == MAESTRO_PLACE_DEVICE ? TID_DEV + index : TID_CPU + index;
}

/* This thread's buffer for trace `t`, made on first use. */
static struct trace_buf *thread_buf(struct trace *t) {
  if (tl.id == t->id && tl.buf) return tl.buf;
  struct trace_buf *b = calloc(1, sizeof *b);
  struct trace_chunk *c = calloc(1, sizeof *c);
  if (!b || !c) {
    free(b);
    free(c);
    return NULL;
  }
  b->head = b->tail = c;
  pthread_mutex_init(&b->spare_lock, NULL);
  pthread_mutex_lock(&t->lock);
  b->next = t->bufs;
  t->bufs = b;
  pthread_mutex_unlock(&t->lock);
  tl.id = t->id;
  tl.buf = b;
  return b;
}

/* Reserves the next event slot of this thread, or NULL (out of memory). */
static struct trace_ev *ev_begin(struct trace *t, struct trace_chunk **chunk, uint32_t *n) {
  struct trace_buf *b = thread_buf(t);
  if (!b) return NULL;
  struct trace_chunk *c = b->tail;
  uint32_t k = atomic_load_explicit(&c->count, memory_order_relaxed);
  if (k == CHUNK_EVENTS) {
    struct trace_chunk *nc = chunk_get(b);
    if (!nc) return NULL;
    atomic_store_explicit(&c->next, nc, memory_order_release);
    b->tail = c = nc;
    k = 0;
  }
  *chunk = c;
  *n = k;
  return &c->ev[k];
}

static void ev_commit(struct trace_chunk *c, uint32_t n) {
  atomic_store_explicit(&c->count, n + 1, memory_order_release);
}

static void copy_name(char *dst, const char *src) {
  size_t n = src ? strnlen(src, EV_NAME - 1) : 0;
  if (n) memcpy(dst, src, n);
  dst[n] = '\0';
}

void prof_trace_firing(struct maestro_runtime *rt, maestro_place_kind_t kind, int index,
                       const char *agent, uint64_t seq, uint64_t bytes, uint64_t t0_ns,
                       uint64_t t1_ns, uint64_t flow_in, uint64_t flow_out) {
  if (!prof_tracing(rt)) return;
  struct trace_chunk *c;
  uint32_t n;
  struct trace_ev *e = ev_begin(rt->prof->trace, &c, &n);
  if (!e) return;
  e->type = EV_FIRING;
  e->tid = place_tid(kind, index);
  e->t0 = t0_ns;
  e->t1 = t1_ns;
  e->seq = seq;
  e->bytes = bytes;
  e->flow_in = flow_in;
  e->flow_out = flow_out;
  copy_name(e->name, agent);
  ev_commit(c, n);
}

void prof_trace_transfer(struct maestro_runtime *rt, int dev, const char *what, uint64_t bytes,
                         uint64_t t0_ns, uint64_t t1_ns) {
  if (!prof_tracing(rt)) return;
  struct trace_chunk *c;
  uint32_t n;
  struct trace_ev *e = ev_begin(rt->prof->trace, &c, &n);
  if (!e) return;
  memset(e, 0, offsetof(struct trace_ev, name));
  e->type = EV_TRANSFER;
  e->tid = dev >= 0 ? TID_XFER + dev : TID_HOST;
  e->t0 = t0_ns;
  e->t1 = t1_ns;
  e->bytes = bytes;
  copy_name(e->name, what);
  ev_commit(c, n);
}

void prof_trace_depth(struct maestro_runtime *rt, const char *channel, uint32_t depth,
                      uint64_t t_ns) {
  if (!prof_tracing(rt)) return;
  struct trace_chunk *c;
  uint32_t n;
  struct trace_ev *e = ev_begin(rt->prof->trace, &c, &n);
  if (!e) return;
  memset(e, 0, offsetof(struct trace_ev, name));
  e->type = EV_DEPTH;
  e->t0 = e->t1 = t_ns;
  e->seq = depth;
  copy_name(e->name, channel);
  ev_commit(c, n);
}

void trace_sample_depths(struct prof *p, const struct prof_chan_rec *c, int n, uint64_t t_ns) {
  for (int i = 0; i < n; i++) {
    char name[EV_NAME];
    snprintf(name, sizeof name, "%.16s: %.20s->%.20s", c[i].graph, c[i].from, c[i].to);
    prof_trace_depth(p->rt, name, c[i].depth, t_ns);
  }
}

/* ---- writing ---- */

/* Events are formatted by hand into t->out (fprintf costs about a
 * microsecond per event; this is several times faster) and written with
 * fwrite when it fills. */

static void out_flush(struct trace *t) {
  if (t->out_n && fwrite(t->out, 1, t->out_n, t->f) != t->out_n) t->failed = 1;
  t->out_n = 0;
}

/* Room for one event (a firing with its two flows is under 600 bytes). */
static char *out_reserve(struct trace *t) {
  if (t->out_n + 1024 > sizeof t->out) out_flush(t);
  return t->out + t->out_n;
}

static char *put_lit(char *o, const char *s) {
  size_t n = strlen(s);
  memcpy(o, s, n);
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

static char *put_i64(char *o, int64_t v) {
  if (v < 0) {
    *o++ = '-';
    return put_u64(o, (uint64_t)(-v));
  }
  return put_u64(o, (uint64_t)v);
}

/* Microseconds with three decimals from nanoseconds, as Chrome wants them. */
static char *put_us(char *o, int64_t ns) {
  if (ns < 0) {
    *o++ = '-';
    ns = -ns;
  }
  o = put_u64(o, (uint64_t)ns / 1000);
  unsigned frac = (unsigned)((uint64_t)ns % 1000);
  *o++ = '.';
  *o++ = (char)('0' + frac / 100);
  *o++ = (char)('0' + frac / 10 % 10);
  *o++ = (char)('0' + frac % 10);
  return o;
}

/* A JSON string of at most EV_NAME bytes (names are bounded by the event). */
static char *put_str(char *o, const char *s) {
  *o++ = '"';
  for (int i = 0; s[i] && i < 200; i++) {
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
static char *put_where(char *o, const struct trace *t, int tid, uint64_t ns) {
  memcpy(o, t->pid_key, t->pid_key_len); /* ,"pid":P,"tid": */
  o += t->pid_key_len;
  o = put_i64(o, tid);
  o = put_lit(o, ",\"ts\":");
  return put_us(o, (int64_t)(ns - t->start_ns));
}

static void write_event(struct trace *t, const struct trace_ev *e) {
  char *o = out_reserve(t);
  int64_t dur = e->t1 > e->t0 ? (int64_t)(e->t1 - e->t0) : 0;
  switch (e->type) {
  case EV_FIRING:
    o = put_lit(o, ",\n{\"ph\":\"X\",\"cat\":\"firing\",\"name\":");
    o = put_str(o, e->name);
    o = put_where(o, t, e->tid, e->t0);
    o = put_lit(o, ",\"dur\":");
    o = put_us(o, dur);
    o = put_lit(o, ",\"args\":{\"seq\":");
    o = put_u64(o, e->seq);
    o = put_lit(o, ",\"bytes\":");
    o = put_u64(o, e->bytes);
    o = put_lit(o, "}}");
    if (e->flow_in) {
      o = put_lit(o, ",\n{\"ph\":\"f\",\"bp\":\"e\",\"cat\":\"msg\",\"name\":\"msg\","
                     "\"id\":");
      o = put_u64(o, e->flow_in);
      /* Near the consumer's end: its start may be the previous firing's end
       * (the engine reads the clock once between firings), which can lie
       * before the producer sent the message; its end never does. */
      o = put_where(o, t, e->tid, dur >= 2 ? e->t1 - 1 : e->t0);
      *o++ = '}';
    }
    if (e->flow_out) {
      o = put_lit(o, ",\n{\"ph\":\"s\",\"cat\":\"msg\",\"name\":\"msg\",\"id\":");
      o = put_u64(o, e->flow_out);
      o = put_where(o, t, e->tid, e->t0 + (uint64_t)dur / 2);
      *o++ = '}';
    }
    break;
  case EV_TRANSFER:
    o = put_lit(o, ",\n{\"ph\":\"X\",\"cat\":\"transfer\",\"name\":");
    o = put_str(o, e->name);
    o = put_where(o, t, e->tid, e->t0);
    o = put_lit(o, ",\"dur\":");
    o = put_us(o, dur);
    o = put_lit(o, ",\"args\":{\"bytes\":");
    o = put_u64(o, e->bytes);
    o = put_lit(o, "}}");
    break;
  case EV_DEPTH:
    o = put_lit(o, ",\n{\"ph\":\"C\",\"cat\":\"channel\",\"name\":");
    o = put_str(o, e->name);
    o = put_where(o, t, 0, e->t0);
    o = put_lit(o, ",\"args\":{\"depth\":");
    o = put_u64(o, e->seq);
    o = put_lit(o, "}}");
    break;
  default: return;
  }
  t->out_n = (size_t)(o - t->out);
  t->events_written++;
}

static void put_json_string(FILE *f, const char *s) {
  char buf[1300];
  char *o = put_str(buf, s);
  fwrite(buf, 1, (size_t)(o - buf), f);
}

static void write_meta(struct trace *t, struct maestro_runtime *rt) {
  FILE *f = t->f;
  fprintf(f, "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"maestro_version\":\"%s\"},",
          maestro_version());
  fprintf(f,
          "\n\"traceEvents\":[\n{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%d,"
          "\"tid\":0,\"args\":{\"name\":",
          t->pid);
  char pname[96];
  snprintf(pname, sizeof pname, "%s (maestro)", program_invocation_short_name);
  put_json_string(f, pname);
  fprintf(f, "}}");
  struct {
    int tid;
    char name[200];
  } tr;
  for (int i = -1; i < rt->ncpu + 2 * rt->ndev; i++) {
    if (i < 0) {
      tr.tid = TID_HOST;
      snprintf(tr.name, sizeof tr.name, "host");
    } else if (i < rt->ncpu) {
      tr.tid = TID_CPU + i;
      snprintf(tr.name, sizeof tr.name, "cpu %d", i);
    } else {
      int d = (i - rt->ncpu) / 2, xfer = (i - rt->ncpu) % 2;
      tr.tid = (xfer ? TID_XFER : TID_DEV) + d;
      snprintf(tr.name, sizeof tr.name, "device %d: %.128s%s", d, rt->dev_info[d].name,
               xfer ? " transfers" : "");
    }
    fprintf(f,
            ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%d,\"tid\":%d,\"args\":{\"name\":",
            t->pid, tr.tid);
    put_json_string(f, tr.name);
    fprintf(f,
            "}},\n{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":%d,\"tid\":%d,"
            "\"args\":{\"sort_index\":%d}}",
            t->pid, tr.tid, tr.tid);
  }
}

/* Writes every event published so far; the caller holds t->lock. */
static void flush_locked(struct trace *t) {
  if (!t->f || t->failed) return;
  if (fseek(t->f, t->body_end, SEEK_SET) != 0) {
    t->failed = 1;
    return;
  }
  for (struct trace_buf *b = t->bufs; b; b = b->next) {
    struct trace_chunk *c = b->head;
    while (c) {
      uint32_t n = atomic_load_explicit(&c->count, memory_order_acquire);
      for (uint32_t i = c->done; i < n; i++)
        write_event(t, &c->ev[i]);
      c->done = n;
      struct trace_chunk *next = atomic_load_explicit(&c->next, memory_order_acquire);
      if (n < CHUNK_EVENTS || !next) break;
      b->head = next; /* the writer has moved on: c is ours */
      chunk_put(b, c);
      c = next;
    }
  }
  out_flush(t);
  t->body_end = ftell(t->f);
  fputs(FOOTER, t->f);
  if (fflush(t->f) != 0 || ferror(t->f)) t->failed = 1;
}

void prof_trace_flush(struct maestro_runtime *rt) {
  if (!prof_tracing(rt)) return;
  struct trace *t = rt->prof->trace;
  pthread_mutex_lock(&t->lock);
  flush_locked(t);
  pthread_mutex_unlock(&t->lock);
}

int trace_open(struct prof *p, const char *path) {
  struct trace *t = calloc(1, sizeof *t);
  if (!t) return err_set(MAESTRO_ENOMEM, "MAESTRO_TRACE: out of memory");
  t->f = fopen(path, "w");
  if (!t->f) {
    int e = errno;
    free(t);
    return err_set(MAESTRO_EINVAL, "MAESTRO_TRACE='%s': cannot write the trace file: %s", path,
                   strerror(e));
  }
  t->id = atomic_fetch_add(&trace_ids, 1) + 1;
  t->start_ns = p->rt->start_ns;
  t->pid = (int)getpid();
  t->pid_key_len = (size_t)snprintf(t->pid_key, sizeof t->pid_key, ",\"pid\":%d,\"tid\":", t->pid);
  pthread_mutex_init(&t->lock, NULL);
  write_meta(t, p->rt);
  t->body_end = ftell(t->f);
  fputs(FOOTER, t->f);
  fflush(t->f);
  p->trace = t;
  return MAESTRO_OK;
}

void trace_close(struct prof *p) {
  struct trace *t = p->trace;
  if (!t) return;
  pthread_mutex_lock(&t->lock);
  flush_locked(t);
  pthread_mutex_unlock(&t->lock);
  p->trace = NULL;
  fclose(t->f);
  for (struct trace_buf *b = t->bufs, *nb; b; b = nb) {
    nb = b->next;
    for (struct trace_chunk *c = b->head, *nc; c; c = nc) {
      nc = atomic_load_explicit(&c->next, memory_order_relaxed);
      free(c);
    }
    for (struct trace_chunk *c = b->spare, *nc; c; c = nc) {
      nc = atomic_load_explicit(&c->next, memory_order_relaxed);
      free(c);
    }
    pthread_mutex_destroy(&b->spare_lock);
    free(b);
  }
  pthread_mutex_destroy(&t->lock);
  free(t);
}
