/* Replicas: one per device per buffer, with its validity. The host replica
 * is the buffer's own `host` bytes (runtime/mem); these are the others.
 *
 * - A device that shares host memory (zero_copy) wraps the host bytes in a
 *   CL_MEM_USE_HOST_PTR buffer: no bytes move; map/unmap brings results back.
 * - Otherwise the replica is pool memory (memory.c), made valid by a
 *   non-blocking write from the host, or a direct copy from another device
 *   of the same context, or through the host from another context.
 * Lock order: a buffer's replica lock, then a device's mem_lock. */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "mem/pool.h"
#include "backend/opencl/ocl_int.h"
#include "prof/prof.h"

struct ocl_replicas *ocl_reps(maestro_buf_t *b) {
  struct ocl_replicas *R = __atomic_load_n(&b->dev, __ATOMIC_ACQUIRE);
  if (R) return R;
  int n = b->rt->ocl->ndev;
  R = calloc(1, sizeof *R + (size_t)n * sizeof R->rep[0]);
  if (!R) return NULL;
  pthread_mutex_init(&R->lock, NULL);
  R->ndev = n;
  for (int i = 0; i < n; i++) {
    R->rep[i].buf = b;
    R->rep[i].dev = i;
  }
  struct ocl_replicas *expected = NULL;
  if (!__atomic_compare_exchange_n(&b->dev, &expected, R, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    pthread_mutex_destroy(&R->lock);
    free(R);
    return expected;
  }
  return R;
}

static int can_wrap(const ocl_dev_t *d, const maestro_buf_t *b) {
  return d->zero_copy && b->host && ((uintptr_t)b->host % d->base_align) == 0;
}

/* Drops *slot once its command has completed: a wait list of finished
 * events still costs the implementation a dependency check per command. */
static void forget_if_done(cl_event *slot) {
  cl_int st;
  if (*slot &&
      clGetEventInfo(*slot, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof st, &st, NULL) ==
          CL_SUCCESS &&
      st == CL_COMPLETE) {
    clReleaseEvent(*slot);
    *slot = NULL;
  }
}

static void set_event(cl_event *slot, cl_event ev) {
  if (*slot) clReleaseEvent(*slot);
  *slot = ev;
}

/* Drops replica r's memory (R locked). */
static void rep_drop(ocl_dev_t *d, ocl_rep_t *r) {
  if (r->ready) clWaitForEvents(1, &r->ready);
  if (r->busy) clWaitForEvents(1, &r->busy);
  set_event(&r->ready, NULL);
  set_event(&r->busy, NULL);
  if (r->mem) {
    if (r->wraps_host) {
      clReleaseMemObject(r->mem);
    } else {
      ocl_lru_remove(d, r);
      ocl_mem_put(d, r->mem, r->cap);
    }
  }
  r->mem = NULL;
  r->cap = 0;
  r->wraps_host = 0;
  r->valid = 0;
}

/* Makes the host replica valid, blocking (R locked). */
static int sync_host_locked(maestro_buf_t *b, struct ocl_replicas *R) {
  if (atomic_load(&b->host_valid)) return MAESTRO_OK;
  struct maestro_runtime *rt = b->rt;
  ocl_rep_t *src = NULL;
  for (int i = 0; i < R->ndev; i++) {
    ocl_rep_t *r = &R->rep[i];
    if (!r->valid) continue;
    if (!src || (r->wraps_host && !src->wraps_host)) src = r;
  }
  int rc = mem_buf_ensure_host(b);
  if (rc) return rc;
  if (!src || b->size == 0 || !src->mem) { /* no bytes anywhere yet: nothing to bring */
    atomic_store(&b->host_valid, 1);
    return MAESTRO_OK;
  }
  ocl_dev_t *d = ocl_dev(rt, src->dev);
  forget_if_done(&src->ready);
  cl_uint nw = src->ready ? 1 : 0;
  cl_int e;
  uint64_t t0 = rt_now_ns();
  if (src->wraps_host) {
    /* Zero-copy: map + unmap makes the host bytes current; nothing moves. */
    void *p = clEnqueueMapBuffer(d->q_d2h, src->mem, CL_TRUE, CL_MAP_READ, 0, b->size, nw,
                                 nw ? &src->ready : NULL, NULL, &e);
    if (e != CL_SUCCESS) return ocl_fail(e, "clEnqueueMapBuffer (device -> host)");
    cl_event ev = NULL;
    e = clEnqueueUnmapMemObject(d->q_d2h, src->mem, p, 0, NULL, &ev);
    if (e != CL_SUCCESS) return ocl_fail(e, "clEnqueueUnmapMemObject");
    clWaitForEvents(1, &ev);
    clReleaseEvent(ev);
  } else {
    e = clEnqueueReadBuffer(d->q_d2h, src->mem, CL_TRUE, 0, b->size, b->host, nw,
                            nw ? &src->ready : NULL, NULL);
    if (e != CL_SUCCESS) return ocl_fail(e, "clEnqueueReadBuffer (device -> host)");
    atomic_fetch_add(&d->bytes_d2h, b->size);
    atomic_fetch_add(&d->transfers, 1);
    if (prof_tracing(rt)) prof_trace_transfer(rt, d->index, "d2h", b->size, t0, rt_now_ns());
  }
  atomic_store(&b->host_valid, 1);
  return MAESTRO_OK;
}

int ocl_buf_sync_host(maestro_buf_t *b) {
  if (!b || atomic_load(&b->host_valid)) return MAESTRO_OK;
  struct ocl_replicas *R = __atomic_load_n(&b->dev, __ATOMIC_ACQUIRE);
  if (!R) { /* never on a device: the host bytes are all there is */
    int rc = mem_buf_ensure_host(b);
    if (rc == MAESTRO_OK) atomic_store(&b->host_valid, 1);
    return rc;
  }
  pthread_mutex_lock(&R->lock);
  int rc = sync_host_locked(b, R);
  pthread_mutex_unlock(&R->lock);
  return rc;
}

void ocl_buf_invalidate_devices(maestro_buf_t *b) {
  if (!b) return;
  struct ocl_replicas *R = __atomic_load_n(&b->dev, __ATOMIC_ACQUIRE);
  if (!R) return;
  pthread_mutex_lock(&R->lock);
  for (int i = 0; i < R->ndev; i++) {
    ocl_rep_t *r = &R->rep[i];
    /* A host-pointer buffer may cache the old bytes: make a fresh one next
     * time. Pool memory stays, to be written again. */
    if (r->wraps_host && !ocl_dev(b->rt, i)->host_coherent) rep_drop(ocl_dev(b->rt, i), r);
    r->valid = 0;
  }
  pthread_mutex_unlock(&R->lock);
}

void ocl_buf_free_replicas(maestro_buf_t *b) {
  if (!b) return;
  struct ocl_replicas *R = __atomic_load_n(&b->dev, __ATOMIC_ACQUIRE);
  if (!R) return;
  pthread_mutex_lock(&R->lock);
  for (int i = 0; i < R->ndev; i++)
    rep_drop(ocl_dev(b->rt, i), &R->rep[i]);
  pthread_mutex_unlock(&R->lock);
  pthread_mutex_destroy(&R->lock);
  free(R);
  b->dev = NULL;
}

int ocl_buf_valid_on(const maestro_buf_t *b, int dev) {
  if (!b) return 0;
  const struct ocl_replicas *R = __atomic_load_n(&b->dev, __ATOMIC_ACQUIRE);
  if (!R || dev < 0 || dev >= R->ndev) return 0;
  return __atomic_load_n(&R->rep[dev].valid, __ATOMIC_RELAXED);
}

/* The queue for a transfer to `d`: its own queue, so that it overlaps the
 * kernels in flight; when none is in flight there is nothing to overlap,
 * and the kernel queue itself saves the kernel a cross-queue wait. */
static cl_command_queue xfer_queue(ocl_dev_t *d) {
  pthread_mutex_lock(&d->lock);
  int busy = d->inflight > 0;
  pthread_mutex_unlock(&d->lock);
  return busy ? d->q_h2d : d->q_exec;
}

/* Gives r pool memory; R is unlocked meanwhile (the pool may wait for
 * launches to end). Returns with R locked. */
static int rep_alloc(ocl_dev_t *d, struct ocl_replicas *R, ocl_rep_t *r, size_t bytes) {
  pthread_mutex_unlock(&R->lock);
  cl_mem m;
  size_t cap;
  int rc = ocl_mem_get(d, bytes, &m, &cap);
  pthread_mutex_lock(&R->lock);
  if (rc) return rc;
  if (r->mem) { /* another launch got there first */
    ocl_mem_put(d, m, cap);
    return MAESTRO_OK;
  }
  r->mem = m;
  r->cap = cap;
  r->wraps_host = 0;
  return MAESTRO_OK;
}

int ocl_rep_acquire(maestro_buf_t *b, int dev, ocl_xfer_t *x) {
  memset(x, 0, sizeof *x);
  struct ocl_replicas *R = ocl_reps(b);
  if (!R) return err_set(MAESTRO_ENOMEM, "buffer replicas: out of memory");
  ocl_dev_t *d = ocl_dev(b->rt, dev);
  ocl_rep_t *r = &R->rep[dev];
  int rc = MAESTRO_OK;
  pthread_mutex_lock(&R->lock);
  r->pins++; /* from now on nobody evicts it */
  if (r->valid) goto done;
  if (b->size == 0) {
    r->valid = 1;
    goto done;
  }
  if (d->zero_copy) {
    if ((rc = sync_host_locked(b, R))) goto fail;
    if (r->mem && r->wraps_host && d->host_coherent) { /* the same bytes, current */
      r->valid = 1;
      goto done;
    }
    if (can_wrap(d, b)) {
      if (r->mem) rep_drop(d, r);
      cl_int e;
      r->mem =
          clCreateBuffer(d->ctx, CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR, b->size, b->host, &e);
      if (e != CL_SUCCESS) {
        r->mem = NULL;
        rc = ocl_fail(e, "clCreateBuffer (host pointer)");
        goto fail;
      }
      r->cap = b->size;
      r->wraps_host = 1;
      r->valid = 1;
      goto done;
    }
  }
  if (r->wraps_host) rep_drop(d, r);
  if (!r->mem && (rc = rep_alloc(d, R, r, b->size))) goto fail;
  if (r->valid) goto done; /* made valid while R was unlocked */
  /* A direct copy from a device of the same context. */
  for (int i = 0; i < R->ndev; i++) {
    ocl_rep_t *s = &R->rep[i];
    if (i == dev || !s->valid || !s->mem || ocl_dev(b->rt, i)->ctx != d->ctx) continue;
    cl_event ev;
    forget_if_done(&s->ready);
    cl_int e = clEnqueueCopyBuffer(xfer_queue(d), s->mem, r->mem, 0, 0, b->size, s->ready ? 1 : 0,
                                   s->ready ? &s->ready : NULL, &ev);
    if (e != CL_SUCCESS) {
      rc = ocl_fail(e, "clEnqueueCopyBuffer (device -> device)");
      goto fail;
    }
    clRetainEvent(ev);
    set_event(&s->busy, ev);
    clRetainEvent(ev);
    set_event(&r->ready, ev);
    x->ev = ev;
    x->kind = "d2d";
    x->bytes = b->size;
    atomic_fetch_add(&d->bytes_d2d, b->size);
    atomic_fetch_add(&d->transfers, 1);
    r->valid = 1;
    goto done;
  }
  /* Through the host (bringing it back from another context if needed). */
  if ((rc = sync_host_locked(b, R))) goto fail;
  cl_event ev;
  cl_int e =
      clEnqueueWriteBuffer(xfer_queue(d), r->mem, CL_FALSE, 0, b->size, b->host, 0, NULL, &ev);
  if (e != CL_SUCCESS) {
    rc = ocl_fail(e, "clEnqueueWriteBuffer (host -> device)");
    goto fail;
  }
  clRetainEvent(ev);
  set_event(&r->ready, ev);
  x->ev = ev;
  x->kind = "h2d";
  x->bytes = b->size;
  atomic_fetch_add(&d->bytes_h2d, b->size);
  atomic_fetch_add(&d->transfers, 1);
  r->valid = 1;
done:
  forget_if_done(&r->ready);
  if (r->ready) {
    clRetainEvent(r->ready);
    x->wait = r->ready;
  }
  x->mem = r->mem;
  pthread_mutex_unlock(&R->lock);
  if (r->mem && !r->wraps_host) ocl_lru_touch(d, r);
  return MAESTRO_OK;
fail:
  r->pins--;
  pthread_mutex_unlock(&R->lock);
  return rc;
}

int ocl_rep_new_output(ocl_dev_t *d, size_t bytes, maestro_buf_t **out) {
  struct maestro_runtime *rt = d->rt;
  maestro_buf_t *b;
  /* Host memory from the pools costs next to nothing and saves a fresh
   * allocation (page faults) when the result is read back; larger results
   * get host memory only if the host asks for them. */
  int with_host = d->zero_copy || mem_class_of(bytes) != MEM_NOPOOL;
  int rc = with_host ? mem_buf_alloc(rt, bytes, &b) : mem_buf_alloc_nohost(rt, bytes, &b);
  if (rc) return rc;
  struct ocl_replicas *R = ocl_reps(b);
  if (!R) {
    maestro_buf_release(b);
    return err_set(MAESTRO_ENOMEM, "buffer replicas: out of memory");
  }
  ocl_rep_t *r = &R->rep[d->index];
  pthread_mutex_lock(&R->lock);
  r->pins = 1;
  if (bytes && can_wrap(d, b)) {
    cl_int e;
    r->mem = clCreateBuffer(d->ctx, CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR, bytes, b->host, &e);
    if (e != CL_SUCCESS)
      r->mem = NULL;
    else {
      r->cap = bytes;
      r->wraps_host = 1;
    }
  }
  if (bytes && !r->mem && (rc = rep_alloc(d, R, r, bytes))) {
    r->pins = 0;
    pthread_mutex_unlock(&R->lock);
    maestro_buf_release(b);
    return rc;
  }
  r->valid = 1;
  atomic_store(&b->host_valid, 0);
  pthread_mutex_unlock(&R->lock);
  if (r->mem && !r->wraps_host) ocl_lru_touch(d, r);
  *out = b;
  return MAESTRO_OK;
}

cl_mem ocl_rep_mem(maestro_buf_t *b, int dev) {
  return b->dev ? b->dev->rep[dev].mem : NULL;
}

void ocl_rep_set_ready(maestro_buf_t *b, int dev, cl_event ev) {
  struct ocl_replicas *R = b->dev;
  pthread_mutex_lock(&R->lock);
  clRetainEvent(ev);
  set_event(&R->rep[dev].ready, ev);
  pthread_mutex_unlock(&R->lock);
}

void ocl_rep_unpin(maestro_buf_t *b, int dev) {
  struct ocl_replicas *R = b->dev;
  if (!R) return;
  pthread_mutex_lock(&R->lock);
  ocl_rep_t *r = &R->rep[dev];
  if (r->pins > 0) r->pins--;
  pthread_mutex_unlock(&R->lock);
}

int ocl_rep_wraps_host(maestro_buf_t *b, int dev) {
  struct ocl_replicas *R = b->dev;
  if (!R) return 0;
  pthread_mutex_lock(&R->lock);
  int w = R->rep[dev].wraps_host && R->rep[dev].valid;
  pthread_mutex_unlock(&R->lock);
  return w;
}
