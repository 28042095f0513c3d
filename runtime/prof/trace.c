/* The Chrome Trace Event writer (MAESTRO_TRACE=file.json), opened by
 * Perfetto and chrome://tracing.
 *
 * Recording (hot path) and writing are apart. The engine records binary
 * per-thread records through the recorder below it (core/trace.h,
 * core/trace_rec.c); this writer starts the recorder, reads its published
 * chunks and formats them, giving each chunk back once written.
 *
 * The JSON is formatted only when the trace is written: when the runtime is
 * destroyed, when prof_trace_flush() asks, and in the background (on the
 * stats thread) only when the records waiting pass the buffer cap
 * (MAESTRO_TRACE_BUFFER_MB, default 256): memory stays bounded, and a run
 * whose records fit pays no formatting while it runs. A recording thread
 * that finds no free chunk at all has this writer write on its own time
 * (back-pressure, nothing lost). The file is valid JSON after every write:
 * events go before a fixed footer that the next write overwrites.
 *
 * Time: records hold trace_clock() ticks (the TSC where it is invariant),
 * mapped onto rt_now_ns() at write time by a linear fit between the pair
 * (ticks, ns) read at start and the one read at the write. A batch of short
 * CPU firings carries one span; its untimed firings are spread evenly over
 * it.
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

#include "base/error.h"
#include "base/runtime.h"
#include "core/trace.h"
#include "core/trace_rec.h"
#include "prof/prof.h"
#include "prof/prof_impl.h"
#include "prof/trace_write.h"

static const char FOOTER[] = "\n]}\n";

void prof_trace_sample_depths(struct prof *p, const struct prof_chan_rec *c, int n, uint64_t t_ns) {
  for (int i = 0; i < n; i++) {
    char name[EV_NAME];
    snprintf(name, sizeof name, "%.16s: %.20s->%.20s", c[i].graph, c[i].from, c[i].to);
    trace_depth(p->rt, name, c[i].depth, t_ns);
  }
}

/* ---- writing ---- */

/* Ticks -> ns on rt_now_ns()'s clock: a line through the pair read at open
 * and the one read at this write. */
static void clock_fit(struct trace *t) {
  uint64_t tk = 0, ns = 0;
  tracer_clock_pair(&tk, &ns);
  if (tk > t->rec->tick0 && ns > t->rec->ns0)
    t->ns_per_tick = (double)(ns - t->rec->ns0) / (double)(tk - t->rec->tick0);
}

static uint64_t to_ns(const struct trace *t, uint64_t v, int ns) {
  if (ns) return v;
  double d = (double)(int64_t)(v - t->rec->tick0) * t->ns_per_tick;
  return t->rec->ns0 + (uint64_t)(int64_t)d;
}

/* Words of the record that starts with `h`. */
static uint32_t rec_words(uint64_t h) {
  switch (rec_type(h)) {
  case REC_FIRE:
  case REC_FIRE_TIMED: return rec_fire_words(h);
  case REC_SPAN: return REC_SPAN_WORDS;
  case REC_XFER: return REC_XFER_WORDS;
  case REC_DEPTH: return REC_DEPTH_WORDS;
  default: return 1;
  }
}

static void flush_locked(struct trace *t, int final);

static const struct trace_name EMPTY_NAME = {"", "\"\"", 2};

/* The name with id `id` as a JSON string: made on first use from the
 * recorder's (the writer only, under t->rec->lock). */
static const struct trace_name *name_of(struct trace *t, uint32_t id) {
  struct trace_name **pg = &t->pages[id / NAME_PAGE];
  if (!*pg && !(*pg = calloc(NAME_PAGE, sizeof **pg))) return &EMPTY_NAME;
  struct trace_name *nm = &(*pg)[id % NAME_PAGE];
  if (!nm->json) {
    const char *raw = tracer_name(t->rec, id);
    char *js = malloc(strlen(raw) * 6 + 3);
    if (!js) return &EMPTY_NAME;
    nm->raw = raw;
    nm->json_len = (uint32_t)(tw_put_str(js, raw) - js);
    nm->json = js;
  }
  return nm;
}

/* The recorder's writer.write_locked: no chunk is free. */
static void trace_write_now(void *ctx) {
  flush_locked(ctx, 0);
}

/* Writes the run of firings `r`, firings k.. of the `n` that share out
 * [a, b] ns evenly; returns the k of the firing after it. */
static uint64_t write_run(struct trace *t, const uint64_t *r, uint64_t k, uint64_t n, uint64_t a,
                          uint64_t b) {
  const struct trace_name *name = name_of(t, rec_name(r[0]));
  uint64_t bytes = rec_fire_bytes(r), span = b - a;
  for (uint64_t m = 0; m < r[4]; m++, k++) {
    uint64_t t0 = a + (uint64_t)((double)span * (double)k / (double)n);
    uint64_t t1 = a + (uint64_t)((double)span * (double)(k + 1) / (double)n);
    if (t1 > b) t1 = b;
    tw_firing(t, rec_tid(r[0]), name, r[1] + m, bytes, r[2] ? r[2] + m : 0, r[3] ? r[3] + m : 0, t0,
              t1);
  }
  return k;
}

/* Writes the records of w[from, to); untimed firings are spread over the
 * span that closes them (or, when `final` and none does, over nothing). */
static void write_words(struct trace *t, const uint64_t *w, uint32_t from, uint32_t to, int final) {
  uint32_t pend = UINT32_MAX, npend = 0; /* untimed firings waiting for their span */
  uint64_t last = t->last_ns;            /* the latest time seen */
  for (uint32_t i = from; i < to; i += rec_words(w[i])) {
    uint64_t h = w[i];
    switch (rec_type(h)) {
    case REC_FIRE:
      if (pend == UINT32_MAX) pend = i;
      npend += w[i + 4];
      break;
    case REC_SPAN: {
      uint64_t a = to_ns(t, w[i + 1], 0), b = to_ns(t, w[i + 2], 0);
      if (b < a) b = a;
      last = b;
      uint64_t k = 0;
      /* The batch as a slice around its firings: their times inside it are
       * spread evenly, not measured one by one. */
      if (npend > 1) tw_batch(t, rec_tid(w[pend]), npend, a, b);
      for (uint32_t j = pend; npend && j < i; j += rec_words(w[j]))
        if (rec_type(w[j]) == REC_FIRE) k = write_run(t, &w[j], k, npend, a, b);
      pend = UINT32_MAX;
      npend = 0;
      break;
    }
    case REC_FIRE_TIMED: {
      int ns = rec_flags(h) & REC_F_NS;
      const uint64_t *tt = rec_fire_times(&w[i]);
      last = to_ns(t, tt[1], ns);
      tw_firing(t, rec_tid(h), name_of(t, rec_name(h)), w[i + 1], rec_fire_bytes(&w[i]), w[i + 2],
                w[i + 3], to_ns(t, tt[0], ns), last);
      break;
    }
    case REC_XFER: tw_transfer(t, &w[i], name_of(t, rec_name(h))); break;
    case REC_DEPTH: tw_depth(t, &w[i], name_of(t, rec_name(h))); break;
    default: break;
    }
  }
  /* A batch never closed (its thread went on recording into another
   * runtime's trace): at the last time known. */
  if (final && npend)
    for (uint32_t j = pend; j < to; j += rec_words(w[j]))
      if (rec_type(w[j]) == REC_FIRE) write_run(t, &w[j], 0, 1, last, last);
  t->last_ns = last;
}

/* How far [from, n) can be written now: up to the last span when untimed
 * firings follow it (their span is not recorded yet), else all of it. */
static uint32_t writable_end(const uint64_t *w, uint32_t from, uint32_t n) {
  uint32_t safe = from;
  int open = 0;
  for (uint32_t i = from; i < n; i += rec_words(w[i])) {
    uint32_t type = rec_type(w[i]);
    if (type == REC_SPAN) {
      safe = i + REC_SPAN_WORDS;
      open = 0;
    } else if (type == REC_FIRE) {
      open = 1;
    }
  }
  return open ? safe : n;
}

/* Writes every record published so far; the caller holds t->rec->lock.
 * Once a write failed, records are dropped instead (their chunks reused:
 * memory stays bounded, recording threads never wait on a file that
 * fails). */
static void flush_locked(struct trace *t, int final) {
  if (!t->f) return;
  if (!t->failed && fseek(t->f, t->body_end, SEEK_SET) != 0) tw_fail(t, errno);
  int drop = t->failed;
  if (!drop) {
    clock_fit(t);
    tw_meta_devices(t, t->prof->rt);
  }
  for (struct trace_buf *b = t->rec->bufs; b; b = b->next) {
    struct trace_chunk *c = b->head;
    while (c) {
      uint32_t n = atomic_load_explicit(&c->count, memory_order_acquire);
      struct trace_chunk *next = atomic_load_explicit(&c->next, memory_order_acquire);
      /* A chunk with a successor is complete: `next` was published after
       * its last record. Re-read the count after `next` for that. */
      if (next) n = atomic_load_explicit(&c->count, memory_order_acquire);
      uint32_t end = next || final ? n : writable_end(c->w, c->done, n);
      if (end > c->done && !drop) write_words(t, c->w, c->done, end, final || next != NULL);
      c->done = end;
      if (!next) break;
      b->head = next; /* the writer has moved on: c is ours */
      tracer_chunk_give_back(t->rec, c);
      c = next;
    }
  }
  if (drop) return;
  tw_out_flush(t);
  t->body_end = ftell(t->f);
  fputs(FOOTER, t->f);
  if (fflush(t->f) != 0 || ferror(t->f)) tw_fail(t, errno);
}

int prof_trace_flush(struct maestro_runtime *rt) {
  struct trace *t = rt && rt->prof ? rt->prof->trace : NULL;
  if (!t) return MAESTRO_OK;
  pthread_mutex_lock(&t->rec->lock);
  flush_locked(t, 0);
  int failed = t->failed, e = t->error;
  pthread_mutex_unlock(&t->rec->lock);
  if (failed)
    return err_set(MAESTRO_ESYS, "prof_trace_flush: writing the trace file '%s' failed: %s",
                   t->path, strerror(e));
  return MAESTRO_OK;
}

/* The stats thread's part: write when past the drain mark. (It does not
 * populate the arena ahead of the writers: on a machine whose cores are all
 * busy that costs the run as much as the writers' own page faults.) */
void prof_trace_background(struct prof *p) {
  struct trace *t = p->trace;
  if (!t) return;
  struct tracer *r = t->rec;
  pthread_mutex_lock(&r->free_lock);
  size_t in_use = r->chunks_in_use * TRACE_CHUNK_BYTES;
  pthread_mutex_unlock(&r->free_lock);
  atomic_store_explicit(&r->drain_asked, 0, memory_order_relaxed);
  if (in_use >= r->drain_mark) {
    pthread_mutex_lock(&r->lock);
    flush_locked(t, 0);
    pthread_mutex_unlock(&r->lock);
  }
}

/* The recorder's writer.wake_drain: asks the stats thread for
 * prof_trace_background() now. */
static void trace_wake_drain(void *ctx) {
  struct trace *t = ctx;
  atomic_store_explicit(&t->rec->drain_asked, 1, memory_order_relaxed);
  pthread_mutex_lock(&t->prof->wake_lock);
  pthread_cond_signal(&t->prof->wake);
  pthread_mutex_unlock(&t->prof->wake_lock);
}

int prof_trace_open(struct prof *p, const char *path) {
  struct trace *t = calloc(1, sizeof *t);
  if (!t) return err_set(MAESTRO_ENOMEM, "MAESTRO_TRACE: out of memory");
  size_t mb = (size_t)p->rt->cfg.trace_buffer_mb;
  size_t pre = (size_t)p->rt->cfg.trace_prefault_mb;
  t->prof = p;
  struct tracer_writer w = {
      .ctx = t, .wake_drain = trace_wake_drain, .write_locked = trace_write_now};
  int rc = tracer_start(p->rt, mb, pre, &w);
  if (rc) {
    free(t);
    return rc;
  }
  t->f = fopen(path, "w");
  int open_errno = errno;
  t->path = strdup(path);
  if (!t->f || !t->path) {
    int e = t->f ? ENOMEM : open_errno;
    if (t->f) fclose(t->f);
    free(t->path);
    tracer_stop(p->rt);
    free(t);
    return err_set(MAESTRO_EINVAL, "MAESTRO_TRACE='%s': cannot write the trace file: %s", path,
                   strerror(e));
  }
  t->rec = p->rt->tracer;
  t->start_ns = p->rt->start_ns;
  /* Across ranks, the rank: the files of all ranks open together. */
  t->pid = p->rt->nranks > 1 ? p->rt->rank : (int)getpid();
  t->last_ns = t->rec->ns0;
  t->ns_per_tick = trace_clock_tsc ? 0.0 : 1.0;
  tw_init(t);
  tw_meta(t, p->rt);
  t->body_end = ftell(t->f);
  fputs(FOOTER, t->f);
  p->trace = t;
  if (fflush(t->f) != 0 || ferror(t->f)) { /* a full disk, /dev/full */
    int e = errno ? errno : EIO;
    tw_fail(t, e);
    err_format("MAESTRO_TRACE='%s': cannot write the trace file: %s", path, strerror(e));
    prof_trace_close(p);
    return MAESTRO_ESYS;
  }
  return MAESTRO_OK;
}

void prof_trace_close(struct prof *p) {
  struct trace *t = p->trace;
  if (!t) return;
  pthread_mutex_lock(&t->rec->lock);
  flush_locked(t, 1);
  pthread_mutex_unlock(&t->rec->lock);
  p->trace = NULL;
  tracer_stop(p->rt);
  if (fclose(t->f) != 0) tw_fail(t, errno);
  for (int i = 0; i < NAME_PAGES; i++) {
    if (!t->pages[i]) continue;
    for (int k = 0; k < NAME_PAGE; k++)
      free(t->pages[i][k].json);
    free(t->pages[i]);
  }
  free(t->path);
  free(t);
}
