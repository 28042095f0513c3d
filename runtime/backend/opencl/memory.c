/* Device memory: a per-device pool of cl_mem by size class, bounded by
 * rt->cfg.device_mem (MAESTRO_DEVICE_MEM). When a device runs short the
 * least recently used replica that no launch is using is evicted: first one
 * that is valid elsewhere; failing that, the only copy is written back to
 * the host first, so no data is ever lost. A replica in use by a launch is
 * pinned and never evicted, so a launch never evicts its own inputs (no
 * ping-pong inside a launch). */
#include <stdlib.h>
#include <time.h>

#include "base/error.h"
#include "backend/opencl/ocl_int.h"
#include "mem/replica.h"

struct ocl_free_mem {
  struct ocl_free_mem *next;
  cl_mem mem;
  size_t cap;
};

/* Small buffers round up to a power of two (>= 4 KiB), large ones to 1 MiB,
 * so a pool entry fits the next message of about the same size. */
static size_t size_class(size_t bytes) {
  if (bytes <= 4096) return 4096;
  if (bytes < ((size_t)1 << 20)) {
    size_t c = 8192;
    while (c < bytes)
      c <<= 1;
    return c;
  }
  size_t mib = (size_t)1 << 20;
  return (bytes + mib - 1) / mib * mib;
}

/* Takes `r` out of the LRU list if it is in it; the caller holds d->mem_lock. */
static void lru_unlink(ocl_dev_t *d, ocl_rep_t *r) {
  if (!r->in_lru) return;
  if (r->prev)
    r->prev->next = r->next;
  else
    d->lru_head = r->next;
  if (r->next)
    r->next->prev = r->prev;
  else
    d->lru_tail = r->prev;
  r->prev = r->next = NULL;
  r->in_lru = 0;
}

void ocl_lru_touch(ocl_dev_t *d, ocl_rep_t *r) {
  pthread_mutex_lock(&d->mem_lock);
  if (r->in_lru) {
    if (d->lru_tail == r) {
      r->last_use = rt_now_ns();
      pthread_mutex_unlock(&d->mem_lock);
      return;
    }
    lru_unlink(d, r);
  }
  r->prev = d->lru_tail;
  r->next = NULL;
  if (d->lru_tail)
    d->lru_tail->next = r;
  else
    d->lru_head = r;
  d->lru_tail = r;
  r->in_lru = 1;
  r->last_use = rt_now_ns();
  pthread_mutex_unlock(&d->mem_lock);
}

void ocl_lru_remove(ocl_dev_t *d, ocl_rep_t *r) {
  pthread_mutex_lock(&d->mem_lock);
  lru_unlink(d, r);
  pthread_mutex_unlock(&d->mem_lock);
}

/* Evicts one unpinned replica (called with mem_lock held). Its memory goes
 * back to the free list. Returns 1 when something was evicted; sets
 * d->evict_busy when a candidate was skipped only because its buffer was
 * busy (worth trying again shortly). mem/replica.c decides (and writes the
 * only copy back to the host first, on the second pass only). */
static int evict_one(ocl_dev_t *d) {
  d->evict_busy = 0;
  for (int pass = 0; pass < 2; pass++) {
    for (ocl_rep_t *r = d->lru_head; r; r = r->next) {
      int got = mem_rep_evict(r->buf, d->node, pass);
      if (got < 0) d->evict_busy = 1;
      if (got <= 0) continue;
      /* Detached from its buffer: ours. Commands still reading this memory
       * (a copy to another device) must finish before someone else's bytes
       * land in it. */
      ocl_rep_wait_idle(r);
      lru_unlink(d, r);
      struct ocl_free_mem *f = malloc(sizeof *f);
      if (f) {
        f->mem = r->mem;
        f->cap = r->cap;
        f->next = d->free_list;
        d->free_list = f;
      } else {
        clReleaseMemObject(r->mem);
        d->mem_used -= r->cap;
      }
      free(r);
      d->evictions++;
      return 1;
    }
  }
  return 0;
}

/* Releases one pooled cl_mem (mem_lock held). */
static int drop_free(ocl_dev_t *d) {
  struct ocl_free_mem *f = d->free_list;
  if (!f) return 0;
  d->free_list = f->next;
  clReleaseMemObject(f->mem);
  d->mem_used -= f->cap;
  free(f);
  return 1;
}

int ocl_mem_get(ocl_dev_t *d, size_t bytes, cl_mem *out, size_t *capp) {
  if (bytes > d->max_alloc)
    return err_set(MAESTRO_ENOMEM,
                   "device %d (%s): a %zu-byte buffer exceeds the device's largest allocation "
                   "(CL_DEVICE_MAX_MEM_ALLOC_SIZE %llu)",
                   d->index, d->name, bytes, (unsigned long long)d->max_alloc);
  size_t cap = size_class(bytes);
  /* Near a limit, the exact size rather than the rounded class. */
  if ((cap > d->max_alloc && bytes <= d->max_alloc) ||
      (cap > d->mem_limit && bytes <= d->mem_limit))
    cap = bytes;
  if (cap > d->mem_limit)
    return err_set(MAESTRO_ENOMEM,
                   "device %d (%s): a %zu-byte buffer does not fit in its %llu-byte memory limit "
                   "(MAESTRO_DEVICE_MEM)",
                   d->index, d->name, bytes, (unsigned long long)d->mem_limit);
  int busy_tries = 0;
  pthread_mutex_lock(&d->mem_lock);
  for (;;) {
    struct ocl_free_mem **pp = &d->free_list;
    while (*pp && (*pp)->cap != cap)
      pp = &(*pp)->next;
    if (*pp) {
      struct ocl_free_mem *f = *pp;
      *pp = f->next;
      pthread_mutex_unlock(&d->mem_lock);
      *out = f->mem;
      *capp = f->cap;
      free(f);
      return MAESTRO_OK;
    }
    if (d->mem_used + cap <= d->mem_limit) {
      d->mem_used += cap;
      pthread_mutex_unlock(&d->mem_lock);
      cl_int e;
      cl_mem m = clCreateBuffer(d->ctx, CL_MEM_READ_WRITE, cap, NULL, &e);
      if (e == CL_SUCCESS) {
        *out = m;
        *capp = cap;
        return MAESTRO_OK;
      }
      pthread_mutex_lock(&d->mem_lock);
      d->mem_used -= cap;
      /* The device itself is full (below our limit): shrink the pool and
       * evict; give up only when nothing is left to give back. */
      if (!drop_free(d) && !evict_one(d)) {
        pthread_mutex_unlock(&d->mem_lock);
        return ocl_fail(e, "clCreateBuffer (device memory)");
      }
      continue;
    }
    if (drop_free(d) || evict_one(d)) continue;
    /* Everything left is pinned by launches in flight: wait for one to end. */
    pthread_mutex_lock(&d->lock);
    int inflight = d->inflight;
    pthread_mutex_unlock(&d->lock);
    if (!inflight) {
      /* A launch may have ended between the eviction above and the count. */
      if (evict_one(d)) continue;
      if (d->evict_busy && busy_tries++ < 2000) { /* a buffer being read: soon free */
        pthread_mutex_unlock(&d->mem_lock);
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
        pthread_mutex_lock(&d->mem_lock);
        continue;
      }
      pthread_mutex_unlock(&d->mem_lock);
      return err_set(MAESTRO_ENOMEM,
                     "device %d (%s): out of device memory (%llu of %llu bytes in use by this "
                     "launch; MAESTRO_DEVICE_MEM)",
                     d->index, d->name, (unsigned long long)d->mem_used,
                     (unsigned long long)d->mem_limit);
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 100 * 1000000;
    if (until.tv_nsec >= 1000000000) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&d->mem_cond, &d->mem_lock, &until);
  }
}

void ocl_mem_put(ocl_dev_t *d, cl_mem m, size_t cap) {
  if (!m) return;
  struct ocl_free_mem *f = malloc(sizeof *f);
  pthread_mutex_lock(&d->mem_lock);
  if (f) {
    f->mem = m;
    f->cap = cap;
    f->next = d->free_list;
    d->free_list = f;
  } else {
    clReleaseMemObject(m);
    d->mem_used -= cap;
  }
  pthread_cond_broadcast(&d->mem_cond);
  pthread_mutex_unlock(&d->mem_lock);
}

void ocl_mem_fini(ocl_dev_t *d) {
  pthread_mutex_lock(&d->mem_lock);
  while (drop_free(d)) {
  }
  pthread_mutex_unlock(&d->mem_lock);
}
