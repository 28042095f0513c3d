/* The live stats segment's reader: attach, validate, snapshot, list. */
#include "prof/segment_reader.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { SNAPSHOT_TRIES = 20000 };

struct prof_reader {
  const unsigned char *base;
  size_t len;
  int mapped; /* munmap at close */
  int fd;     /* the shm object when mapped (its size is checked before each snapshot), else -1 */
  struct prof_seg_info info;
  /* validated copies of the static header */
  uint64_t place_off, agent_off, chan_off;
  uint32_t place_size, agent_size, chan_size;
  uint32_t place_slots, agent_slots, chan_slots;
};

static uint64_t clock_ns(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int fail(int status, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(int status, char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return status;
}

/* Checks that `slots` slots of `size` bytes at `off` lie inside the segment. */
static int region_ok(uint64_t off, uint32_t size, uint32_t slots, uint64_t hdr, uint64_t total) {
  if (size < 8 || size % 8 || size > (1u << 20) || slots > (1u << 24)) return 0;
  if (off % 8 || off < hdr || off > total) return 0;
  return (uint64_t)size * slots <= total - off;
}

/* Validates the header at r->base (r->len bytes) and caches it. */
static int validate(struct prof_reader *r, const char *what, char *err, size_t errlen) {
  const size_t hsz = sizeof(struct prof_seg_header);
  if (r->len < sizeof(uint64_t))
    return fail(PROF_READ_ETRUNC, err, errlen, "%s: truncated: %zu bytes, not even a magic number",
                what, r->len);
  struct prof_seg_header h;
  const struct prof_seg_header *m = (const struct prof_seg_header *)r->base;
  uint64_t magic = atomic_load_explicit((_Atomic uint64_t *)&m->magic, memory_order_acquire);
  if (magic != PROF_SEG_MAGIC)
    return fail(PROF_READ_EMAGIC, err, errlen,
                magic == 0 ? "%s: not initialised (the program is starting, or it is not a Maestro "
                             "stats segment)"
                           : "%s: not a Maestro stats segment (magic 0x%016llx)",
                what, (unsigned long long)magic);
  if (r->len < offsetof(struct prof_seg_header, header_size) + sizeof(uint32_t))
    return fail(PROF_READ_ETRUNC, err, errlen, "%s: truncated: %zu bytes", what, r->len);
  uint32_t version = m->version;
  if (version < PROF_SEG_VERSION_MIN || version > PROF_SEG_VERSION)
    return fail(PROF_READ_EVERSION, err, errlen,
                "%s: layout version %u, this maestro-top reads versions %u to %u", what, version,
                PROF_SEG_VERSION_MIN, PROF_SEG_VERSION);
  if (r->len < hsz)
    return fail(PROF_READ_ETRUNC, err, errlen,
                "%s: truncated: %zu bytes, smaller than its %zu-byte header", what, r->len, hsz);
  memcpy(&h, m, hsz); /* static part: never written after magic */
  if (h.header_size < hsz || h.header_size > r->len)
    return fail(PROF_READ_ECORRUPT, err, errlen, "%s: corrupt: header size %u (expected >= %zu)",
                what, h.header_size, hsz);
  if (h.total_size > r->len)
    return fail(PROF_READ_ETRUNC, err, errlen,
                "%s: truncated: %zu bytes mapped, its header says %llu", what, r->len,
                (unsigned long long)h.total_size);
  if (!region_ok(h.place_off, h.place_slot_size, h.place_slots, h.header_size, h.total_size) ||
      !region_ok(h.agent_off, h.agent_slot_size, h.agent_slots, h.header_size, h.total_size) ||
      !region_ok(h.chan_off, h.chan_slot_size, h.chan_slots, h.header_size, h.total_size))
    return fail(PROF_READ_ECORRUPT, err, errlen,
                "%s: corrupt: slot regions do not fit in %llu bytes", what,
                (unsigned long long)h.total_size);
  r->place_off = h.place_off;
  r->agent_off = h.agent_off;
  r->chan_off = h.chan_off;
  r->place_size = h.place_slot_size;
  r->agent_size = h.agent_slot_size;
  r->chan_size = h.chan_slot_size;
  r->place_slots = h.place_slots;
  r->agent_slots = h.agent_slots;
  r->chan_slots = h.chan_slots;
  r->info.pid = h.pid;
  r->info.uid = h.uid;
  r->info.version = h.version;
  r->info.start_unix_ns = h.start_unix_ns;
  r->info.start_mono_ns = h.start_mono_ns;
  r->info.ncpu = h.ncpu;
  r->info.ndev = h.ndev;
  memcpy(r->info.program, h.program, sizeof r->info.program);
  r->info.program[sizeof r->info.program - 1] = '\0';
  return PROF_READ_OK;
}

int prof_reader_open_mem(const void *mem, size_t len, struct prof_reader **out, char *err,
                         size_t errlen) {
  *out = NULL;
  if (!mem) return fail(PROF_READ_ENOENT, err, errlen, "no memory to read");
  struct prof_reader *r = calloc(1, sizeof *r);
  if (!r) return fail(PROF_READ_ESYS, err, errlen, "out of memory");
  r->base = mem;
  r->len = len;
  r->fd = -1;
  snprintf(r->info.shm_name, sizeof r->info.shm_name, "(memory)");
  if (((uintptr_t)mem) % 8) {
    free(r);
    return fail(PROF_READ_ECORRUPT, err, errlen, "segment memory is not 8-byte aligned");
  }
  int rc = validate(r, "segment", err, errlen);
  if (rc) {
    free(r);
    return rc;
  }
  *out = r;
  return PROF_READ_OK;
}

int prof_reader_open_name(const char *name, struct prof_reader **out, char *err, size_t errlen) {
  *out = NULL;
  /* Anyone can create a name in /dev/shm: never follow a link, never block
   * on a FIFO, and read only a regular file of ours that no one else can
   * write (else its data could be forged). */
  int fd = shm_open(name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT)
      return fail(PROF_READ_ENOENT, err, errlen,
                  "no stats segment /dev/shm%s (is the program running with MAESTRO_STATS=1?)",
                  name);
    if (e == EACCES)
      return fail(PROF_READ_EACCES, err, errlen,
                  "/dev/shm%s: permission denied (segments are readable by their owner only)",
                  name);
    if (e == ELOOP)
      return fail(PROF_READ_EFOREIGN, err, errlen,
                  "/dev/shm%s is a symbolic link, not a stats segment: ignored", name);
    return fail(PROF_READ_ESYS, err, errlen, "shm_open(%s): %s", name, strerror(e));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return fail(PROF_READ_ESYS, err, errlen, "fstat(/dev/shm%s): %s", name, strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return fail(PROF_READ_EFOREIGN, err, errlen, "/dev/shm%s is %s, not a stats segment: ignored",
                name, S_ISFIFO(st.st_mode) ? "a FIFO" : "not a regular file");
  }
  if (st.st_uid != geteuid()) {
    close(fd);
    return fail(PROF_READ_EFOREIGN, err, errlen,
                "/dev/shm%s belongs to uid %u, not to you (uid %u): ignored (anyone can create "
                "names in /dev/shm)",
                name, (unsigned)st.st_uid, (unsigned)geteuid());
  }
  if (st.st_mode & 022) {
    close(fd);
    return fail(PROF_READ_EFOREIGN, err, errlen,
                "/dev/shm%s is writable by others (mode %03o): ignored", name,
                (unsigned)(st.st_mode & 0777));
  }
  if (st.st_size < (off_t)sizeof(struct prof_seg_header)) {
    close(fd);
    return fail(PROF_READ_ETRUNC, err, errlen,
                "/dev/shm%s: truncated: %lld bytes, smaller than a %zu-byte header", name,
                (long long)st.st_size, sizeof(struct prof_seg_header));
  }
  void *base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
  int e = errno;
  if (base == MAP_FAILED) {
    close(fd);
    return fail(PROF_READ_ESYS, err, errlen, "mmap(/dev/shm%s): %s", name, strerror(e));
  }
  struct prof_reader *r = calloc(1, sizeof *r);
  if (!r) {
    munmap(base, (size_t)st.st_size);
    close(fd);
    return fail(PROF_READ_ESYS, err, errlen, "out of memory");
  }
  r->base = base;
  r->len = (size_t)st.st_size;
  r->mapped = 1;
  r->fd = fd;
  snprintf(r->info.shm_name, sizeof r->info.shm_name, "%s", name);
  char what[100];
  snprintf(what, sizeof what, "/dev/shm%s", name);
  int rc = validate(r, what, err, errlen);
  if (rc) {
    prof_reader_close(r);
    return rc;
  }
  *out = r;
  return PROF_READ_OK;
}

int prof_reader_open_pid(int pid, struct prof_reader **out, char *err, size_t errlen) {
  char name[80];
  snprintf(name, sizeof name, "/" PROF_SEG_PREFIX "%u-%d", (unsigned)getuid(), pid);
  int rc = prof_reader_open_name(name, out, err, errlen);
  if (rc == PROF_READ_OK && (*out)->info.pid != pid) {
    int other = (*out)->info.pid;
    prof_reader_close(*out);
    *out = NULL;
    return fail(PROF_READ_ECORRUPT, err, errlen, "/dev/shm%s: corrupt: it says it is pid %d's",
                name, other);
  }
  return rc;
}

void prof_reader_close(struct prof_reader *r) {
  if (!r) return;
  if (r->mapped) munmap((void *)r->base, r->len);
  if (r->fd >= 0) close(r->fd);
  free(r);
}

const struct prof_seg_info *prof_reader_info(const struct prof_reader *r) {
  return &r->info;
}

/* Copies slot `i` of a region into `dst` (`rec` bytes), zeroing what the
 * segment's smaller record lacks. */
static int read_slot(const struct prof_reader *r, uint64_t off, uint32_t size, int i, void *dst,
                     size_t rec) {
  const _Atomic uint64_t *slot = (const _Atomic uint64_t *)(r->base + off + (uint64_t)size * i);
  size_t n = size - 8 < rec ? size - 8 : rec;
  memset(dst, 0, rec);
  return prof_seqlock_read(slot, slot + 1, dst, n & ~(size_t)7, SNAPSHOT_TRIES);
}

static void terminate(char *s, size_t n) {
  s[n - 1] = '\0';
}

void prof_snapshot_free(struct prof_snapshot *s) {
  if (!s) return;
  free(s->places);
  free(s->agents);
  free(s->chans);
  s->places = NULL;
  s->agents = NULL;
  s->chans = NULL;
}

int prof_reader_snapshot(struct prof_reader *r, struct prof_snapshot *s, char *err, size_t errlen) {
  memset(s, 0, sizeof *s);
  s->info = r->info;
  /* Reading pages beyond a shrunken object would raise SIGBUS: check first. */
  struct stat st;
  if (r->fd >= 0 && (fstat(r->fd, &st) != 0 || (size_t)st.st_size < r->len))
    return fail(PROF_READ_ETRUNC, err, errlen, "%s: truncated while attached", r->info.shm_name);
  const struct prof_seg_header *h = (const struct prof_seg_header *)r->base;
  if (atomic_load_explicit((_Atomic uint64_t *)&h->magic, memory_order_acquire) != PROF_SEG_MAGIC)
    return fail(PROF_READ_EMAGIC, err, errlen, "%s: magic changed under the reader",
                r->info.shm_name);
  if (!prof_seqlock_read(&h->live_seq, h->live, &s->live, sizeof s->live, SNAPSHOT_TRIES))
    return fail(PROF_READ_EBUSY, err, errlen, "%s: header stayed locked", r->info.shm_name);
  s->taken_unix_ns = clock_ns(CLOCK_REALTIME);
  s->taken_mono_ns = clock_ns(CLOCK_MONOTONIC);
  if (s->live.n_places > r->place_slots || s->live.n_agents > r->agent_slots ||
      s->live.n_chans > r->chan_slots)
    return fail(PROF_READ_ECORRUPT, err, errlen,
                "%s: corrupt: %llu places, %llu agents, %llu channels announced for %u, %u, %u "
                "slots",
                r->info.shm_name, (unsigned long long)s->live.n_places,
                (unsigned long long)s->live.n_agents, (unsigned long long)s->live.n_chans,
                r->place_slots, r->agent_slots, r->chan_slots);
  s->n_places = (int)s->live.n_places;
  s->n_agents = (int)s->live.n_agents;
  s->n_chans = (int)s->live.n_chans;
  s->places = calloc((size_t)s->n_places + 1, sizeof *s->places);
  s->agents = calloc((size_t)s->n_agents + 1, sizeof *s->agents);
  s->chans = calloc((size_t)s->n_chans + 1, sizeof *s->chans);
  if (!s->places || !s->agents || !s->chans) {
    prof_snapshot_free(s);
    return fail(PROF_READ_ESYS, err, errlen, "out of memory");
  }
  for (int i = 0; i < s->n_places; i++) {
    struct prof_place_rec *p = &s->places[i];
    if (!read_slot(r, r->place_off, r->place_size, i, p, sizeof *p)) goto busy;
    terminate(p->name, sizeof p->name);
  }
  for (int i = 0; i < s->n_agents; i++) {
    struct prof_agent_rec *a = &s->agents[i];
    if (!read_slot(r, r->agent_off, r->agent_size, i, a, sizeof *a)) goto busy;
    terminate(a->name, sizeof a->name);
    terminate(a->graph, sizeof a->graph);
  }
  for (int i = 0; i < s->n_chans; i++) {
    struct prof_chan_rec *c = &s->chans[i];
    if (!read_slot(r, r->chan_off, r->chan_size, i, c, sizeof *c)) goto busy;
    terminate(c->graph, sizeof c->graph);
    terminate(c->from, sizeof c->from);
    terminate(c->to, sizeof c->to);
  }
  return PROF_READ_OK;
busy:
  prof_snapshot_free(s);
  return fail(PROF_READ_EBUSY, err, errlen, "%s: a record stayed locked through %d retries",
              r->info.shm_name, SNAPSHOT_TRIES);
}

int prof_pid_alive(int pid) {
  if (pid <= 0) return 0;
  return kill(pid, 0) == 0 || errno == EPERM;
}

/* Parses "<pid>" or "<pid>.<n>" (digits only: a name that is anything else
 * is not a Maestro segment, and is never printed). */
static int parse_suffix(const char *s, long *pid, long *index) {
  char *end;
  if (*s < '0' || *s > '9') return 0;
  *pid = strtol(s, &end, 10);
  *index = 0;
  if (*pid <= 0 || *pid > 1 << 30) return 0;
  if (*end == '\0') return 1;
  if (*end != '.' || end[1] < '0' || end[1] > '9') return 0;
  *index = strtol(end + 1, &end, 10);
  return *end == '\0' && *index > 0 && *index < 1 << 20;
}

static int cmp_proc(const void *a, const void *b) {
  const struct prof_proc *x = a, *y = b;
  if (x->pid != y->pid) return x->pid < y->pid ? -1 : 1;
  return (x->index > y->index) - (x->index < y->index);
}

int prof_list_pid_segments(int only_pid, struct prof_proc *out, int cap, int clean, int *cleaned) {
  if (cleaned) *cleaned = 0;
  DIR *d = opendir("/dev/shm");
  if (!d) return 0;
  char prefix[64];
  int plen = snprintf(prefix, sizeof prefix, PROF_SEG_PREFIX "%u-", (unsigned)getuid());
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strncmp(e->d_name, prefix, (size_t)plen) != 0) continue;
    long pid, index;
    if (!parse_suffix(e->d_name + plen, &pid, &index)) continue;
    if (only_pid > 0 && pid != only_pid) continue;
    /* Only our own regular files: another user's file, a FIFO or a link
     * under one of our names is neither read nor removed. */
    struct stat st;
    if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
        st.st_uid != geteuid())
      continue;
    struct prof_proc p = {.pid = (int)pid, .index = (int)index, .stale = !prof_pid_alive((int)pid)};
    snprintf(p.shm_name, sizeof p.shm_name, "/%.70s", e->d_name);
    struct prof_reader *r = NULL;
    char err[16];
    if (!p.stale && prof_reader_open_name(p.shm_name, &r, err, sizeof err) == PROF_READ_OK && r) {
      if (r->info.pid == p.pid) {
        memcpy(p.program, r->info.program, sizeof p.program);
        p.start_unix_ns = r->info.start_unix_ns;
      }
      prof_reader_close(r);
    }
    if (p.stale && clean && shm_unlink(p.shm_name) == 0 && cleaned) (*cleaned)++;
    if (n < cap) out[n] = p;
    n++;
  }
  closedir(d);
  if (out && cap > 0) qsort(out, (size_t)(n < cap ? n : cap), sizeof *out, cmp_proc);
  return n;
}

int prof_list_segments(struct prof_proc *out, int cap, int clean, int *cleaned) {
  return prof_list_pid_segments(0, out, cap, clean, cleaned);
}

const char *prof_agent_state_name(int state) {
  switch (state) {
  case PROF_AGENT_IDLE: return "idle";
  case PROF_AGENT_RUNNING: return "running";
  case PROF_AGENT_WAITING: return "waiting";
  case PROF_AGENT_BLOCKED: return "blocked";
  case PROF_AGENT_FINISHED: return "finished";
  case PROF_AGENT_FAILED: return "failed";
  case PROF_AGENT_READY: return "ready";
  case PROF_AGENT_REMOTE: return "remote";
  default: return "?";
  }
}
