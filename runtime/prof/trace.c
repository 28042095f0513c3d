/* The Chrome Trace Event writer (MAESTRO_TRACE=file.json), opened by
 * Perfetto and chrome://tracing.
 *
 * Recording (hot path) and writing are apart. The engine records binary
 * per-thread records through the recorder below it (core/trace.h,
 * core/trace_rec.c); this writer starts the recorder, reads its published
 * chunks and gives each chunk back once it is drained.
 *
 * The records leave memory as the run goes: one writer thread per trace
 * (maestro-trace) drains the recorder every .stats_interval_ms (100 ms), and
 * at once when the recorder passes three quarters of its buffer
 * (MAESTRO_TRACE_BUFFER_MB, default 256), into the spill (raw, see "the
 * spill" below); the JSON is formatted at maestro_trace_flush, exit, the
 * signals and close. Memory stays bounded: a recording thread that finds no
 * free chunk loses its record, counted, and the file says "lost N events"
 * (a recording thread never waits for the file). The file is valid JSON
 * after every format: events go before a fixed footer that the next one
 * overwrites.
 *
 * The end of a process is covered too: at exit() (an atexit handler) and on
 * SIGTERM / SIGINT (a handler installed while a trace is open, only where the
 * signal had its default action: it asks every writer to write its last
 * records, waits for them, then raises the signal again with its previous
 * action) the trace is completed and no longer written.
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
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/runtime.h"
#include "core/trace.h"
#include "core/trace_rec.h"
#include "prof/prof.h"
#include "prof/prof_impl.h"
#include "prof/trace_write.h"

static const char FOOTER[] = "\n]}\n";
enum { FOOTER_EVENTS = 1 << 16 }; /* a long format ends the file this often (~16 MB) */

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
  case REC_FLOW_END: return REC_FLOW_END_WORDS;
  case REC_CHOICE: return rec_choice_words(h);
  default: return 1;
  }
}

static void flush_locked(struct trace *t, int final, int format);
static void put_footer(struct trace *t);
static void locked_begin(struct trace *t, sigset_t *old);
static void locked_end(struct trace *t, const sigset_t *old);

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
  const uint64_t *choice = NULL;         /* the REC_CHOICE of the firing that follows */
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
      t->choice = choice;
      tw_firing(t, rec_tid(h), name_of(t, rec_name(h)), w[i + 1], rec_fire_bytes(&w[i]), w[i + 2],
                w[i + 3], to_ns(t, tt[0], ns), last);
      t->choice = choice = NULL;
      break;
    }
    case REC_CHOICE: choice = &w[i]; break;
    case REC_XFER: tw_transfer(t, &w[i], name_of(t, rec_name(h))); break;
    case REC_DEPTH: tw_depth(t, &w[i], name_of(t, rec_name(h))); break;
    case REC_FLOW_END: tw_flow_end(t, w[i + 1], w[i + 2]); break;
    default: break;
    }
    /* A long format (a signal waits a bounded time for it): the file
     * parses between records now and then. */
    if (t->events_written >= t->footer_at) {
      put_footer(t);
      if (!t->failed && fseek(t->f, t->body_end, SEEK_SET) != 0) tw_fail(t, errno);
      t->footer_at = t->events_written + FOOTER_EVENTS;
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

/* ---- the spill ----
 *
 * Formatting JSON costs about 300 ns a firing: done as the run goes, on a
 * machine with no idle core, it takes that time from the firings (a
 * nice 10 writer still gets its share of the cores). So during the run the
 * writer thread only copies the drained records, raw, to the spill: an
 * unnamed file beside the trace (on the disk the trace goes to, not in
 * memory; nothing is left behind however the process ends). They are
 * formatted where the file must parse: maestro_trace_flush, exit(), the
 * signals, the runtime's destroy. Names need no spilling: the recorder's
 * table lives until the trace is closed.
 *
 * A segment is a head word (words << 0 | kind << 32) and its words: records
 * of one chunk (SPILL_FINAL: untimed firings at its end are written without
 * their span, as write_words' `final`), or SPILL_LOST and the lost count. */

enum { SPILL_FINAL = 1, SPILL_LOST = 2 };

/* An unnamed file in the trace's folder (O_TMPFILE), else "<trace>.spill"
 * unlinked at once; -1 when neither can be made. */
static int spill_open(const char *path) {
  size_t n = strlen(path) + 8;
  char *p = malloc(n);
  if (!p) return -1;
  snprintf(p, n, "%s", path);
  char *slash = strrchr(p, '/');
  const char *dir = slash ? (slash == p ? "/" : p) : ".";
  if (slash && slash != p) *slash = 0;
  int fd = -1;
#ifdef O_TMPFILE
  fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
#endif
  if (fd < 0) {
    snprintf(p, n, "%s.spill", path);
    fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) unlink(p);
  }
  free(p);
  return fd;
}

static int spill_put(struct trace *t, uint32_t kind, const uint64_t *w, uint32_t n) {
  uint64_t head = (uint64_t)n | (uint64_t)kind << 32;
  struct iovec iov[2] = {{&head, sizeof head}, {(void *)(uintptr_t)w, (size_t)n * 8}};
  ssize_t want = (ssize_t)(sizeof head + (size_t)n * 8);
  if (pwritev(t->spill_fd, iov, 2, (off_t)t->spill_end) != want) return -1;
  t->spill_end += (uint64_t)want;
  return 0;
}

static void write_lost(struct trace *t, uint64_t lost) {
  if (lost <= t->lost_written) return;
  tw_lost(t, lost - t->lost_written, lost, t->last_ns);
  t->lost_written = lost;
}

/* Writes what is formatted and the footer after it. */
static void put_footer(struct trace *t) {
  tw_out_flush(t);
  if (t->failed) return;
  t->body_end = ftell(t->f);
  fputs(FOOTER, t->f);
  if (fflush(t->f) != 0 || ferror(t->f)) tw_fail(t, errno);
}

/* Formats the spilled segments not formatted yet (the file is positioned
 * at body_end). */
static void spill_format(struct trace *t) {
  while (t->spill_done < t->spill_end && !t->failed) {
    uint64_t head = 0;
    errno = 0;
    if (pread(t->spill_fd, &head, sizeof head, (off_t)t->spill_done) != (ssize_t)sizeof head) {
      tw_fail(t, errno);
      return;
    }
    uint32_t n = (uint32_t)head, kind = (uint32_t)(head >> 32);
    ssize_t want = (ssize_t)n * 8;
    if (n > TRACE_CHUNK_WORDS ||
        pread(t->spill_fd, t->spill_buf, (size_t)want, (off_t)(t->spill_done + 8)) != want) {
      tw_fail(t, errno);
      return;
    }
    t->spill_done += 8 + (uint64_t)want;
    if (kind & SPILL_LOST)
      write_lost(t, t->spill_buf[0]);
    else
      write_words(t, t->spill_buf, 0, n, kind & SPILL_FINAL);
  }
  if (t->spill_done == t->spill_end && t->spill_end) { /* all formatted: give the disk back */
    if (ftruncate(t->spill_fd, 0) == 0) t->spill_done = t->spill_end = 0;
  }
}

/* Starts formatting: the file positioned at body_end, the clock fitted,
 * the spill formatted. */
static void format_begin(struct trace *t) {
  if (!t->failed && fseek(t->f, t->body_end, SEEK_SET) != 0) tw_fail(t, errno);
  if (t->failed) return;
  clock_fit(t);
  tw_meta_devices(t, t->prof->rt);
  if (t->spill_fd >= 0) spill_format(t);
}

/* The spill cannot be written (a full disk, a file size limit): what it
 * holds is formatted, and records are formatted as drained from now on. */
static void spill_abandon(struct trace *t) {
  format_begin(t);
  close(t->spill_fd);
  t->spill_fd = -1;
}

/* Takes every record published so far off the recorder; the caller holds
 * t->rec->lock. `format`: into the file, which then parses; else into the
 * spill (when there is one). Once a write failed, records are dropped
 * instead (their chunks reused: memory stays bounded, recording threads
 * never wait on a file that fails). */
static void flush_locked(struct trace *t, int final, int format) {
  if (!t->f || t->finished) return;
  if (t->spill_fd < 0) format = 1;
  if (format) format_begin(t);
  int drop = t->failed;
  for (struct trace_buf *b = t->rec->bufs; b; b = b->next) {
    struct trace_chunk *c = b->head;
    while (c) {
      uint32_t n = atomic_load_explicit(&c->count, memory_order_acquire);
      struct trace_chunk *next = atomic_load_explicit(&c->next, memory_order_acquire);
      /* A chunk with a successor is complete: `next` was published after
       * its last record. Re-read the count after `next` for that. */
      if (next) n = atomic_load_explicit(&c->count, memory_order_acquire);
      uint32_t end = next || final ? n : writable_end(c->w, c->done, n);
      int fin = final || next != NULL;
      if (end > c->done && !drop && !format &&
          spill_put(t, fin ? SPILL_FINAL : 0, c->w + c->done, end - c->done) != 0) {
        spill_abandon(t);
        format = 1;
        drop = t->failed;
      }
      if (end > c->done && !drop && format) write_words(t, c->w, c->done, end, fin);
      c->done = end;
      if (!next) break;
      b->head = next; /* the writer has moved on: c is ours */
      tracer_chunk_give_back(t->rec, c);
      c = next;
    }
  }
  /* Chunks may be free again: threads that lost records try again. */
  atomic_fetch_add_explicit(&t->rec->passes, 1, memory_order_release);
  if (drop) return;
  uint64_t lost = atomic_load_explicit(&t->rec->lost, memory_order_relaxed);
  if (!format) {
    if (lost > t->lost_spilled) {
      if (spill_put(t, SPILL_LOST, &lost, 1) == 0)
        t->lost_spilled = lost;
      else {
        spill_abandon(t);
        format = 1;
      }
    }
    if (!format) return;
  }
  write_lost(t, lost);
  put_footer(t);
}

int prof_trace_flush(struct maestro_runtime *rt) {
  struct trace *t = rt && rt->prof ? rt->prof->trace : NULL;
  if (!t) return MAESTRO_OK;
  sigset_t old;
  locked_begin(t, &old);
  flush_locked(t, 0, 1);
  int failed = t->failed, e = t->error;
  locked_end(t, &old);
  if (failed)
    return err_set(MAESTRO_ESYS, "prof_trace_flush: writing the trace file '%s' failed: %s",
                   t->path, strerror(e));
  return MAESTRO_OK;
}

/* ---- the end of the process: exit() and SIGTERM / SIGINT ----
 *
 * Open traces are listed in fixed slots that a signal handler can read
 * (atomics only). The handler asks each slot's writer thread, through its
 * pipe, for the last write, waits for it (a bounded time: a writer that
 * cannot finish, say because the signalled thread held a lock it needs, does
 * not keep the process alive), puts back the signal's previous action and
 * raises the signal again, which is delivered once the handler returns. */

enum { SIG_SLOTS = 64, SIG_WAIT_MS = 3000 };
enum { SLOT_IDLE, SLOT_ASKED, SLOT_DONE };
static struct sig_slot {
  _Atomic int wfd; /* the writer's pipe, -1 when free */
  _Atomic int state;
  _Atomic int pid; /* the process whose writer it is (a fork's child has none) */
} sig_slots[SIG_SLOTS] = {[0 ... SIG_SLOTS - 1] = {-1, SLOT_IDLE, 0}};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct trace *reg_traces[SIG_SLOTS]; /* under reg_lock (atexit) */
static int reg_open;                        /* traces open */
static int reg_atexit;                      /* the atexit handler is registered */
static const int trace_sigs[2] = {SIGTERM, SIGINT};
static struct sigaction sig_old[2];
static int sig_installed[2];

static void trace_on_signal(int sig) {
  int saved = errno, pid = (int)getpid();
  for (int i = 0; i < SIG_SLOTS; i++) {
    int fd = atomic_load(&sig_slots[i].wfd);
    if (fd < 0 || atomic_load(&sig_slots[i].pid) != pid) continue;
    atomic_store(&sig_slots[i].state, SLOT_ASKED);
    ssize_t wr = write(fd, "t", 1);
    (void)wr;
  }
  for (int ms = 0; ms < SIG_WAIT_MS; ms++) {
    int waiting = 0;
    for (int i = 0; i < SIG_SLOTS; i++)
      waiting |= atomic_load(&sig_slots[i].wfd) >= 0 && atomic_load(&sig_slots[i].pid) == pid &&
                 atomic_load(&sig_slots[i].state) == SLOT_ASKED;
    if (!waiting) break;
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  for (int k = 0; k < 2; k++)
    if (trace_sigs[k] == sig) sigaction(sig, &sig_old[k], NULL);
  raise(sig); /* blocked until this handler returns */
  errno = saved;
}

/* Blocks SIGTERM and SIGINT in this thread, then takes the writer's lock:
 * a signal that arrived while this thread holds it would keep the writer
 * from writing the trace's end. */
static void locked_begin(struct trace *t, sigset_t *old) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGTERM);
  sigaddset(&s, SIGINT);
  pthread_sigmask(SIG_BLOCK, &s, old);
  pthread_mutex_lock(&t->rec->lock);
}

static void locked_end(struct trace *t, const sigset_t *old) {
  pthread_mutex_unlock(&t->rec->lock);
  pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* Writes the last records and stops writing (the process is ending). */
static void trace_finish(struct trace *t) {
  sigset_t old;
  locked_begin(t, &old);
  flush_locked(t, 1, 1);
  t->finished = 1;
  locked_end(t, &old);
}

static void trace_at_exit(void) {
  pthread_mutex_lock(&reg_lock);
  for (int i = 0; i < SIG_SLOTS; i++) /* not a fork's child's: its parent writes them */
    if (reg_traces[i] && reg_traces[i]->os_pid == (int)getpid()) trace_finish(reg_traces[i]);
  pthread_mutex_unlock(&reg_lock);
}

/* Lists `t` for exit() and the signals; the first trace installs the
 * handlers, where the signal has its default action (a program's own
 * handler, or an ignored signal, is left as it is). */
static void trace_register(struct trace *t) {
  pthread_mutex_lock(&reg_lock);
  for (int i = 0; i < SIG_SLOTS; i++)
    if (!reg_traces[i]) {
      reg_traces[i] = t;
      t->slot = i;
      atomic_store(&sig_slots[i].state, SLOT_IDLE);
      atomic_store(&sig_slots[i].pid, t->os_pid);
      atomic_store(&sig_slots[i].wfd, t->pipe[1]);
      break;
    }
  if (!reg_atexit && atexit(trace_at_exit) == 0) reg_atexit = 1;
  t->registered = 1;
  if (reg_open++ == 0) {
    for (int k = 0; k < 2; k++) {
      struct sigaction sa, cur;
      if (sigaction(trace_sigs[k], NULL, &cur) != 0 || cur.sa_handler != SIG_DFL ||
          (cur.sa_flags & SA_SIGINFO))
        continue;
      memset(&sa, 0, sizeof sa);
      sa.sa_handler = trace_on_signal;
      sigemptyset(&sa.sa_mask);
      sa.sa_flags = SA_RESTART;
      sig_installed[k] = sigaction(trace_sigs[k], &sa, &sig_old[k]) == 0;
    }
  }
  pthread_mutex_unlock(&reg_lock);
}

/* The last trace closed puts back the signals' previous actions (where
 * the handler is still ours). */
static void trace_unregister(struct trace *t) {
  pthread_mutex_lock(&reg_lock);
  if (t->slot >= 0) { /* t->slot itself stays: its writer thread may read it */
    atomic_store(&sig_slots[t->slot].wfd, -1);
    reg_traces[t->slot] = NULL;
  }
  if (--reg_open == 0) {
    for (int k = 0; k < 2; k++) {
      struct sigaction cur;
      if (sig_installed[k] && sigaction(trace_sigs[k], NULL, &cur) == 0 &&
          cur.sa_handler == trace_on_signal)
        sigaction(trace_sigs[k], &sig_old[k], NULL);
      sig_installed[k] = 0;
    }
  }
  pthread_mutex_unlock(&reg_lock);
}

/* ---- the writer thread ---- */

static void *writer_main(void *arg) {
  struct trace *t = arg;
  pthread_setname_np(pthread_self(), "maestro-trace");
  /* Below the workers: on a machine whose cores are all busy, formatting
   * the trace waits for idle time rather than taking it from the firings
   * (the buffer holds what waits; past it records are lost, counted). */
  if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10) != 0) {
    /* best effort: the writer runs at the program's priority */
  }
  /* The signals go to the program's threads: this one must stay free to
   * write the trace's end when one arrives. */
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGTERM);
  sigaddset(&s, SIGINT);
  pthread_sigmask(SIG_BLOCK, &s, NULL);
  int ms = (int)(t->interval_ns / 1000000u);
  int slot = t->slot; /* set before this thread started, never changed */
  for (;;) {
    struct pollfd pfd = {.fd = t->pipe[0], .events = POLLIN};
    int n = poll(&pfd, 1, ms > 0 ? ms : 1);
    if (n > 0) {
      char buf[64];
      while (read(t->pipe[0], buf, sizeof buf) > 0) {
      }
    }
    if (slot >= 0 && atomic_load(&sig_slots[slot].state) == SLOT_ASKED) {
      trace_finish(t);
      atomic_store(&sig_slots[slot].state, SLOT_DONE);
    }
    if (atomic_load_explicit(&t->stop, memory_order_acquire)) break;
    atomic_store_explicit(&t->rec->drain_asked, 0, memory_order_relaxed);
    pthread_mutex_lock(&t->rec->lock);
    flush_locked(t, 0, 0);
    pthread_mutex_unlock(&t->rec->lock);
  }
  return NULL;
}

/* The recorder's writer.wake_drain: write now rather than at the next
 * period (a recording thread's slow path). */
static void trace_wake_drain(void *ctx) {
  struct trace *t = ctx;
  ssize_t wr = write(t->pipe[1], "d", 1);
  (void)wr;
}
int prof_trace_open(struct prof *p, const char *path) {
  struct trace *t = calloc(1, sizeof *t);
  if (!t) return err_set(MAESTRO_ENOMEM, "MAESTRO_TRACE: out of memory");
  size_t mb = (size_t)p->rt->cfg.trace_buffer_mb;
  size_t pre = (size_t)p->rt->cfg.trace_prefault_mb;
  t->prof = p;
  t->slot = -1;
  t->spill_fd = -1;
  t->pipe[0] = t->pipe[1] = -1;
  if (pipe2(t->pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    int e = errno;
    free(t);
    return err_set(MAESTRO_ESYS, "MAESTRO_TRACE: cannot make the writer's pipe: %s", strerror(e));
  }
  struct tracer_writer w = {.ctx = t, .wake_drain = trace_wake_drain};
  int rc = tracer_start(p->rt, mb, pre, &w);
  if (rc) {
    close(t->pipe[0]);
    close(t->pipe[1]);
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
    close(t->pipe[0]);
    close(t->pipe[1]);
    free(t);
    return err_set(MAESTRO_EINVAL, "MAESTRO_TRACE='%s': cannot write the trace file: %s", path,
                   strerror(e));
  }
  t->rec = p->rt->tracer;
  t->start_ns = p->rt->start_ns;
  /* Across ranks, the rank: the files of all ranks open together. */
  t->os_pid = (int)getpid();
  t->pid = p->rt->nranks > 1 ? p->rt->rank : t->os_pid;
  t->last_ns = t->rec->ns0;
  t->ns_per_tick = trace_clock_tsc ? 0.0 : 1.0;
  t->interval_ns = p->interval_ns;
  t->footer_at = FOOTER_EVENTS;
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
  /* Without a spill (no room beside the trace) records are formatted as
   * drained, the run's cores paying for it. */
  t->spill_buf = malloc((size_t)TRACE_CHUNK_WORDS * 8);
  if (t->spill_buf) t->spill_fd = spill_open(path);
  trace_register(t);
  /* Started with TERM and INT blocked, which it keeps. */
  sigset_t s, old;
  sigemptyset(&s);
  sigaddset(&s, SIGTERM);
  sigaddset(&s, SIGINT);
  pthread_sigmask(SIG_BLOCK, &s, &old);
  t->thread_running = pthread_create(&t->thread, NULL, writer_main, t) == 0;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return MAESTRO_OK;
}

void prof_trace_close(struct prof *p) {
  struct trace *t = p->trace;
  if (!t) return;
  if (t->registered) trace_unregister(t);
  if (t->thread_running) {
    atomic_store_explicit(&t->stop, 1, memory_order_release);
    ssize_t wr = write(t->pipe[1], "s", 1);
    (void)wr;
    pthread_join(t->thread, NULL);
    t->thread_running = 0;
  }
  sigset_t old;
  locked_begin(t, &old);
  flush_locked(t, 1, 1);
  locked_end(t, &old);
  uint64_t lost = atomic_load(&t->rec->lost);
  if (lost)
    fprintf(stderr,
            "maestro: MAESTRO_TRACE='%s': %" PRIu64
            " events were lost (the trace buffer was full: a larger MAESTRO_TRACE_BUFFER_MB "
            "keeps them)\n",
            t->path, lost);
  p->trace = NULL;
  tracer_stop(p->rt);
  if (fclose(t->f) != 0) tw_fail(t, errno);
  close(t->pipe[0]);
  close(t->pipe[1]);
  if (t->spill_fd >= 0) close(t->spill_fd);
  free(t->spill_buf);
  for (int i = 0; i < NAME_PAGES; i++) {
    if (!t->pages[i]) continue;
    for (int k = 0; k < NAME_PAGE; k++)
      free(t->pages[i][k].json);
    free(t->pages[i]);
  }
  free(t->path);
  free(t);
}

/* The public flush (include/maestro/runtime.h). */
int maestro_trace_flush(maestro_runtime_t *rt) {
  if (!rt) return err_set(MAESTRO_EINVAL, "maestro_trace_flush: rt is NULL");
  return prof_trace_flush(rt);
}
