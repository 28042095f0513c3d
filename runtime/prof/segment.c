/* The live stats segment's writer: creates the shm object, lays out the
 * header and slots (see prof/segment.h), writes records under sequence locks. */
#include "prof/segment.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Records travel as 8-byte words. */
_Static_assert(sizeof(struct prof_place_rec) % 8 == 0, "place record size");
_Static_assert(sizeof(struct prof_agent_rec) % 8 == 0, "agent record size");
_Static_assert(sizeof(struct prof_chan_rec) % 8 == 0, "channel record size");
_Static_assert(sizeof(struct prof_seg_live) == 8 * PROF_SEG_LIVE_WORDS, "live part size");
_Static_assert(sizeof(struct prof_seg_header) % 8 == 0, "header size");

struct prof_seg {
  char name[64];
  void *base;
  size_t size;
  struct prof_seg_header *hdr;
};

/* Runtimes created in this process so far: the second one gets ".1". */
static _Atomic int seg_count;

void prof_seqlock_write(_Atomic uint64_t *seq, _Atomic uint64_t *dst, const void *src,
                        size_t bytes) {
  uint64_t s = atomic_load_explicit(seq, memory_order_relaxed);
  s += s & 1; /* a writer killed mid-record left it odd */
  atomic_store_explicit(seq, s + 1, memory_order_relaxed);
  atomic_thread_fence(memory_order_release);
  const unsigned char *p = src;
  for (size_t i = 0; i < bytes / 8; i++) {
    uint64_t w;
    memcpy(&w, p + 8 * i, 8);
    atomic_store_explicit(&dst[i], w, memory_order_relaxed);
  }
  atomic_store_explicit(seq, s + 2, memory_order_release);
}

int prof_seqlock_read(const _Atomic uint64_t *seq, const _Atomic uint64_t *src, void *dst,
                      size_t bytes, int tries) {
  unsigned char *p = dst;
  for (int t = 0; t < tries; t++) {
    uint64_t s1 = atomic_load_explicit((_Atomic uint64_t *)seq, memory_order_acquire);
    if (s1 & 1) {
      if (t > 8) sched_yield();
      continue;
    }
    for (size_t i = 0; i < bytes / 8; i++) {
      uint64_t w = atomic_load_explicit((_Atomic uint64_t *)&src[i], memory_order_relaxed);
      memcpy(p + 8 * i, &w, 8);
    }
    atomic_thread_fence(memory_order_acquire);
    uint64_t s2 = atomic_load_explicit((_Atomic uint64_t *)seq, memory_order_relaxed);
    if (s1 == s2) return 1;
  }
  return 0;
}

static uint64_t realtime_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static size_t align8(size_t n) {
  return (n + 7) & ~(size_t)7;
}

/* Describes what sits under `name` when creating it said EEXIST. Returns 1
 * when it is a regular file of ours (a leftover of a dead process that had
 * our pid: ours to remove), 0 otherwise, with `why` saying what it is. Opened
 * without following a link and without blocking (a FIFO would block). */
static int inspect_existing(const char *name, char *why, size_t whylen) {
  int fd = shm_open(name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
  if (fd < 0) {
    int e = errno;
    if (e == ELOOP)
      snprintf(why, whylen, "a symbolic link");
    else if (e == EACCES)
      snprintf(why, whylen, "a file of another user");
    else
      snprintf(why, whylen, "unreadable (%s)", strerror(e));
    return 0;
  }
  struct stat st;
  int rc = fstat(fd, &st);
  int e = errno;
  close(fd);
  if (rc != 0) {
    snprintf(why, whylen, "unreadable (%s)", strerror(e));
    return 0;
  }
  if (!S_ISREG(st.st_mode)) {
    snprintf(why, whylen, "%s",
             S_ISFIFO(st.st_mode)  ? "a FIFO"
             : S_ISDIR(st.st_mode) ? "a directory"
                                   : "not a file");
    return 0;
  }
  if (st.st_uid != geteuid()) {
    snprintf(why, whylen, "a file of uid %u", (unsigned)st.st_uid);
    return 0;
  }
  return 1;
}

/* Creates `name` anew: O_EXCL (never an object that exists, never through
 * a link), then checks that what was opened is an empty regular file of
 * ours, mode 0600. A leftover of ours is removed and the creation retried
 * once. Returns the fd; -EEXIST with `why` filled when something else holds
 * the name (another user's file, a FIFO, a link: left alone); another
 * -errno with `err` filled on other failures. */
static int create_checked(const char *name, char *why, size_t whylen, char *err, size_t errlen) {
  for (int attempt = 0; attempt < 2; attempt++) {
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    if (fd < 0) {
      int e = errno;
      if (e == EEXIST || e == ELOOP) {
        if (inspect_existing(name, why, whylen) && attempt == 0 && shm_unlink(name) == 0)
          continue; /* ours, stale */
        if (!why[0]) snprintf(why, whylen, "in use");
        return -EEXIST;
      }
      snprintf(err, errlen, "shm_open(%s): %s", name, strerror(e));
      return -e;
    }
    struct stat st;
    if (fchmod(fd, 0600) != 0 || fstat(fd, &st) != 0) {
      int e = errno;
      snprintf(err, errlen, "fstat(%s): %s", name, strerror(e));
      close(fd);
      return -e;
    }
    if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0 ||
        st.st_size != 0) {
      snprintf(err, errlen, "%s: created, but it is not an empty 0600 file of ours", name);
      close(fd);
      return -EPERM;
    }
    return fd;
  }
  snprintf(why, whylen, "in use");
  return -EEXIST;
}

static void seg_name(char *buf, size_t n, int index) {
  if (index == 0)
    snprintf(buf, n, "/" PROF_SEG_PREFIX "%u-%d", (unsigned)getuid(), (int)getpid());
  else
    snprintf(buf, n, "/" PROF_SEG_PREFIX "%u-%d.%d", (unsigned)getuid(), (int)getpid(), index);
}

/* Names tried before giving up when others are squatted. */
enum { SEG_NAME_TRIES = 16 };

/* The warning about a squatted name goes to stderr once per process. */
static atomic_flag squat_warned = ATOMIC_FLAG_INIT;

int prof_seg_create(const struct prof_seg_params *p, struct prof_seg **out, char *err,
                    size_t errlen) {
  *out = NULL;
  if (errlen) err[0] = '\0';
  struct prof_seg *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }

  size_t place_sz = PROF_SLOT_SIZE(struct prof_place_rec);
  size_t agent_sz = PROF_SLOT_SIZE(struct prof_agent_rec);
  size_t chan_sz = PROF_SLOT_SIZE(struct prof_chan_rec);
  size_t place_off = align8(sizeof(struct prof_seg_header));
  size_t agent_off = place_off + place_sz * p->place_slots;
  size_t chan_off = agent_off + agent_sz * p->agent_slots;
  size_t total = chan_off + chan_sz * p->chan_slots;

  /* A name held by something not ours (another user may create any name
   * in /dev/shm before we do) is left alone: the next index is used, and
   * maestro-top -p finds every index of a process. */
  char first[64] = "", first_why[64] = "";
  int fd = -EEXIST;
  for (int t = 0; t < SEG_NAME_TRIES && fd == -EEXIST; t++) {
    char why[64] = "";
    seg_name(s->name, sizeof s->name, atomic_fetch_add(&seg_count, 1));
    fd = create_checked(s->name, why, sizeof why, err, errlen);
    if (fd == -EEXIST && t == 0) {
      snprintf(first, sizeof first, "%s", s->name);
      snprintf(first_why, sizeof first_why, "%s", why);
    }
  }
  if (fd == -EEXIST)
    snprintf(err, errlen, "/dev/shm%s is %s, and the %d names after it are taken too", first,
             first_why, SEG_NAME_TRIES - 1);
  if (fd < 0) {
    free(s);
    return fd;
  }
  if (first[0]) {
    snprintf(err, errlen, "/dev/shm%s is %s, not this program's: its stats are at /dev/shm%s",
             first, first_why, s->name);
    if (!atomic_flag_test_and_set(&squat_warned)) fprintf(stderr, "maestro: warning: %s\n", err);
  }
  if (ftruncate(fd, (off_t)total) != 0) {
    int e = errno;
    snprintf(err, errlen, "ftruncate(%s, %zu): %s", s->name, total, strerror(e));
    close(fd);
    shm_unlink(s->name);
    free(s);
    return -e;
  }
  void *base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int e = errno;
  close(fd);
  if (base == MAP_FAILED) {
    snprintf(err, errlen, "mmap(%s): %s", s->name, strerror(e));
    shm_unlink(s->name);
    free(s);
    return -e;
  }
  s->base = base;
  s->size = total;
  struct prof_seg_header *h = s->hdr = base;
  h->version = PROF_SEG_VERSION;
  h->header_size = PROF_SEG_HEADER_SIZE;
  h->total_size = total;
  h->place_slot_size = (uint32_t)place_sz;
  h->agent_slot_size = (uint32_t)agent_sz;
  h->chan_slot_size = (uint32_t)chan_sz;
  h->place_slots = p->place_slots;
  h->agent_slots = p->agent_slots;
  h->chan_slots = p->chan_slots;
  h->place_off = place_off;
  h->agent_off = agent_off;
  h->chan_off = chan_off;
  h->pid = (int32_t)getpid();
  h->uid = (uint32_t)getuid();
  h->start_unix_ns = realtime_ns();
  h->start_mono_ns = p->start_mono_ns;
  h->ncpu = p->ncpu;
  h->ndev = p->ndev;
  snprintf(h->program, sizeof h->program, "%s",
           p->program ? p->program : program_invocation_short_name);
  atomic_store_explicit(&h->magic, PROF_SEG_MAGIC, memory_order_release);
  *out = s;
  return 0;
}

void prof_seg_destroy(struct prof_seg *s) {
  if (!s) return;
  munmap(s->base, s->size);
  shm_unlink(s->name);
  free(s);
}

const char *prof_seg_name(const struct prof_seg *s) {
  return s->name;
}

struct prof_seg_header *prof_seg_header(struct prof_seg *s) {
  return s->hdr;
}

static _Atomic uint64_t *slot_at(struct prof_seg *s, uint64_t off, uint32_t size, uint32_t i) {
  return (_Atomic uint64_t *)((char *)s->base + off + (uint64_t)size * i);
}

void prof_seg_write_place(struct prof_seg *s, uint32_t i, const struct prof_place_rec *r) {
  if (i >= s->hdr->place_slots) return;
  _Atomic uint64_t *slot = slot_at(s, s->hdr->place_off, s->hdr->place_slot_size, i);
  prof_seqlock_write(slot, slot + 1, r, sizeof *r);
}

void prof_seg_write_agent(struct prof_seg *s, uint32_t i, const struct prof_agent_rec *r) {
  if (i >= s->hdr->agent_slots) return;
  _Atomic uint64_t *slot = slot_at(s, s->hdr->agent_off, s->hdr->agent_slot_size, i);
  prof_seqlock_write(slot, slot + 1, r, sizeof *r);
}

void prof_seg_write_chan(struct prof_seg *s, uint32_t i, const struct prof_chan_rec *r) {
  if (i >= s->hdr->chan_slots) return;
  _Atomic uint64_t *slot = slot_at(s, s->hdr->chan_off, s->hdr->chan_slot_size, i);
  prof_seqlock_write(slot, slot + 1, r, sizeof *r);
}

void prof_seg_write_live(struct prof_seg *s, const struct prof_seg_live *l) {
  prof_seqlock_write(&s->hdr->live_seq, s->hdr->live, l, sizeof *l);
}
