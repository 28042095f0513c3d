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

/* Opens the shm object O_EXCL; a leftover of a dead process that had our pid
 * (only possible for the first name) is removed and the open retried. */
static int open_exclusive(const char *name, int first, char *err, size_t errlen) {
  for (int attempt = 0; attempt < 2; attempt++) {
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) return fd;
    if (errno == EEXIST && first && attempt == 0) {
      shm_unlink(name); /* our pid, but not us: stale */
      continue;
    }
    snprintf(err, errlen, "shm_open(%s): %s", name, strerror(errno));
    return -errno;
  }
  snprintf(err, errlen, "shm_open(%s): exists", name);
  return -EEXIST;
}

int prof_seg_create(const struct prof_seg_params *p, struct prof_seg **out, char *err,
                    size_t errlen) {
  *out = NULL;
  struct prof_seg *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  int n = atomic_fetch_add(&seg_count, 1);
  if (n == 0)
    snprintf(s->name, sizeof s->name, "/" PROF_SEG_PREFIX "%u-%d", (unsigned)getuid(),
             (int)getpid());
  else
    snprintf(s->name, sizeof s->name, "/" PROF_SEG_PREFIX "%u-%d.%d", (unsigned)getuid(),
             (int)getpid(), n);

  size_t place_sz = PROF_SLOT_SIZE(struct prof_place_rec);
  size_t agent_sz = PROF_SLOT_SIZE(struct prof_agent_rec);
  size_t chan_sz = PROF_SLOT_SIZE(struct prof_chan_rec);
  size_t place_off = align8(sizeof(struct prof_seg_header));
  size_t agent_off = place_off + place_sz * p->place_slots;
  size_t chan_off = agent_off + agent_sz * p->agent_slots;
  size_t total = chan_off + chan_sz * p->chan_slots;

  int fd = open_exclusive(s->name, n == 0, err, errlen);
  if (fd < 0) {
    free(s);
    return fd;
  }
  fchmod(fd, 0600);
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
