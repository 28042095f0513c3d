/* A device's memory as a memory node (mem/node.h): the replica handle is a
 * cl_mem with the event that makes it valid. mem/replica.c decides which
 * replica is valid and where a copy comes from; this file moves the bytes.
 *
 * - A device that shares host memory (zero_copy) wraps the host bytes in a
 *   CL_MEM_USE_HOST_PTR buffer: no bytes move; map/unmap brings results back.
 * - Otherwise the replica is pool memory (memory.c), made valid by a
 *   non-blocking write from the host, or a direct copy from another device
 *   of the same context.
 * Lock order: a buffer's replica lock, then a device's mem_lock. */
#include <stdlib.h>
#include <string.h>

#include "backend/opencl/ocl_int.h"
#include "base/error.h"
#include "mem/pool.h"
#include "mem/replica.h"
#include "core/trace.h"

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

void ocl_rep_wait_idle(ocl_rep_t *r) {
  if (r->ready) clWaitForEvents(1, &r->ready);
  if (r->busy) clWaitForEvents(1, &r->busy);
  set_event(&r->ready, NULL);
  set_event(&r->busy, NULL);
}

/* A kept wrap of b's host bytes (host-coherent devices), or NULL. The pools
 * hand a buffer's host bytes to its next life at the same address and
 * capacity, so a pipeline of device messages finds its wraps here. Bytes
 * freed meanwhile and allocated again at that address are covered only up
 * to b->size by what is enqueued, never beyond: a wrap larger than the new
 * allocation is harmless on a device whose wraps are the host bytes
 * themselves (the only devices that keep them). */
static ocl_rep_t *wrap_take(ocl_dev_t *d, const maestro_buf_t *b) {
  ocl_rep_t *r = NULL;
  pthread_mutex_lock(&d->mem_lock);
  for (int i = d->nwraps - 1; i >= 0; i--) {
    if (d->wraps[i]->host != b->host || d->wraps[i]->cap < b->size) continue;
    r = d->wraps[i];
    memmove(&d->wraps[i], &d->wraps[i + 1], (size_t)(d->nwraps - 1 - i) * sizeof d->wraps[0]);
    d->nwraps--;
    break;
  }
  pthread_mutex_unlock(&d->mem_lock);
  return r;
}

static void wrap_release(ocl_rep_t *r) {
  if (r->mem) clReleaseMemObject(r->mem);
  free(r);
}

/* Keeps an idle wrap for the next buffer at the same address (dropping the
 * oldest kept one when full). */
static void wrap_keep(ocl_dev_t *d, ocl_rep_t *r) {
  ocl_rep_t *old = NULL;
  r->buf = NULL;
  pthread_mutex_lock(&d->mem_lock);
  if (d->nwraps == OCL_WRAPS_KEPT) {
    old = d->wraps[0];
    memmove(&d->wraps[0], &d->wraps[1], (size_t)(d->nwraps - 1) * sizeof d->wraps[0]);
    d->nwraps--;
  }
  d->wraps[d->nwraps++] = r;
  pthread_mutex_unlock(&d->mem_lock);
  if (old) wrap_release(old);
}

void ocl_wraps_fini(ocl_dev_t *d) {
  pthread_mutex_lock(&d->mem_lock);
  while (d->nwraps > 0)
    wrap_release(d->wraps[--d->nwraps]);
  pthread_mutex_unlock(&d->mem_lock);
}

static int node_alloc(void *node, maestro_buf_t *b, int wrap, void **h) {
  ocl_dev_t *d = node;
  *h = NULL;
  if (wrap && !(d->zero_copy && b->host && (uintptr_t)b->host % d->base_align == 0))
    return MAESTRO_OK; /* cannot wrap these bytes: memory of its own will do */
  ocl_rep_t *r = wrap && d->host_coherent ? wrap_take(d, b) : NULL;
  if (r) {
    r->buf = b;
    *h = r;
    return MAESTRO_OK;
  }
  r = calloc(1, sizeof *r);
  if (!r) return err_set(MAESTRO_ENOMEM, "device %d replica: out of memory", d->index);
  r->buf = b;
  r->dev = d->index;
  if (wrap) {
    cl_int e;
    /* The whole capacity, so that the wrap serves the buffer's next lives
     * (other sizes of its class) too. */
    r->mem =
        clCreateBuffer(d->ctx, CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR, b->host_cap, b->host, &e);
    if (e != CL_SUCCESS) {
      free(r);
      return ocl_fail(e, "clCreateBuffer (host pointer)");
    }
    atomic_fetch_add_explicit(&d->wraps_made, 1, memory_order_relaxed);
    r->cap = b->host_cap;
    r->host = b->host;
    r->wraps_host = 1;
  } else {
    int rc = ocl_mem_get(d, b->size, &r->mem, &r->cap);
    if (rc) {
      free(r);
      return rc;
    }
  }
  *h = r;
  return MAESTRO_OK;
}

static void node_free(void *node, maestro_buf_t *b, void *h, int wrapped) {
  ocl_dev_t *d = node;
  ocl_rep_t *r = h;
  (void)b;
  (void)wrapped;
  ocl_rep_wait_idle(r);
  if (r->wraps_host && d->host_coherent) {
    wrap_keep(d, r);
    return;
  }
  if (r->mem) {
    if (r->wraps_host) {
      clReleaseMemObject(r->mem);
    } else {
      ocl_lru_remove(d, r);
      ocl_mem_put(d, r->mem, r->cap);
    }
  }
  free(r);
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

static int node_copy_in(void *node, void *dh, void *src, void *sh, maestro_buf_t *b, void *use) {
  ocl_dev_t *d = node;
  ocl_rep_t *r = dh;
  ocl_xfer_t *x = use;
  cl_event ev;
  cl_int e;
  if (src) { /* a device of the same context */
    ocl_rep_t *s = sh;
    forget_if_done(&s->ready);
    e = clEnqueueCopyBuffer(xfer_queue(d), s->mem, r->mem, 0, 0, b->size, s->ready ? 1 : 0,
                            s->ready ? &s->ready : NULL, &ev);
    if (e != CL_SUCCESS) return ocl_fail(e, "clEnqueueCopyBuffer (device -> device)");
    clRetainEvent(ev);
    set_event(&s->busy, ev);
    atomic_fetch_add(&d->bytes_d2d, b->size);
  } else {
    e = clEnqueueWriteBuffer(xfer_queue(d), r->mem, CL_FALSE, 0, b->size, b->host, 0, NULL, &ev);
    if (e != CL_SUCCESS) return ocl_fail(e, "clEnqueueWriteBuffer (host -> device)");
    atomic_fetch_add(&d->bytes_h2d, b->size);
  }
  atomic_fetch_add(&d->transfers, 1);
  clRetainEvent(ev);
  set_event(&r->ready, ev);
  if (x) {
    x->ev = ev;
    x->kind = src ? "d2d" : "h2d";
    x->bytes = b->size;
  } else {
    clReleaseEvent(ev);
  }
  return MAESTRO_OK;
}

static int node_copy_out(void *node, void *h, maestro_buf_t *b, int wrapped) {
  ocl_dev_t *d = node;
  ocl_rep_t *r = h;
  struct maestro_runtime *rt = d->rt;
  forget_if_done(&r->ready);
  cl_uint nw = r->ready ? 1 : 0;
  cl_int e;
  uint64_t t0 = rt_now_ns();
  if (wrapped) {
    /* Zero-copy: map + unmap makes the host bytes current; nothing moves. */
    void *p = clEnqueueMapBuffer(d->q_d2h, r->mem, CL_TRUE, CL_MAP_READ, 0, b->size, nw,
                                 nw ? &r->ready : NULL, NULL, &e);
    if (e != CL_SUCCESS) return ocl_fail(e, "clEnqueueMapBuffer (device -> host)");
    cl_event ev = NULL;
    e = clEnqueueUnmapMemObject(d->q_d2h, r->mem, p, 0, NULL, &ev);
    if (e != CL_SUCCESS) return ocl_fail(e, "clEnqueueUnmapMemObject");
    clWaitForEvents(1, &ev);
    clReleaseEvent(ev);
    return MAESTRO_OK;
  }
  e = clEnqueueReadBuffer(d->q_d2h, r->mem, CL_TRUE, 0, b->size, b->host, nw, nw ? &r->ready : NULL,
                          NULL);
  if (e != CL_SUCCESS) return ocl_fail(e, "clEnqueueReadBuffer (device -> host)");
  atomic_fetch_add(&d->bytes_d2h, b->size);
  atomic_fetch_add(&d->transfers, 1);
  if (trace_on(rt)) trace_transfer(rt, d->index, "d2h", b->size, t0, rt_now_ns());
  return MAESTRO_OK;
}

static int node_direct(void *node, void *other) {
  return ((ocl_dev_t *)node)->ctx == ((ocl_dev_t *)other)->ctx;
}

static uint64_t node_cost_ns(void *node, int dir, size_t bytes) {
  const ocl_dev_t *d = node;
  if (d->zero_copy || !bytes) return 0;
  return dir == MEM_TO_NODE ? d->h2d_lat_ns + (uint64_t)(d->h2d_ns_per_byte * (double)bytes)
                            : d->d2h_lat_ns + (uint64_t)(d->d2h_ns_per_byte * (double)bytes);
}

static void node_use(void *node, void *h, int wrapped, void *use) {
  ocl_dev_t *d = node;
  ocl_rep_t *r = h;
  ocl_xfer_t *x = use;
  if (r) forget_if_done(&r->ready);
  if (x) {
    x->mem = r ? r->mem : NULL;
    if (r && r->ready) {
      clRetainEvent(r->ready);
      x->wait = r->ready;
    }
  }
  if (r && r->mem && !wrapped) ocl_lru_touch(d, r);
}

const struct mem_node_ops ocl_node_ops = {
    .alloc = node_alloc,
    .free = node_free,
    .copy_in = node_copy_in,
    .copy_out = node_copy_out,
    .direct = node_direct,
    .cost_ns = node_cost_ns,
    .use = node_use,
};

/* ---- the launch's view (kagent.c) ---- */

int ocl_rep_acquire(maestro_buf_t *b, int dev, ocl_xfer_t *x) {
  memset(x, 0, sizeof *x);
  return mem_rep_acquire(b, ocl_dev(b->rt, dev)->node, x);
}

int ocl_rep_new_output(ocl_dev_t *d, size_t bytes, maestro_buf_t **out) {
  /* Host memory from the pools costs next to nothing and saves a fresh
   * allocation (page faults) when the result is read back; larger results
   * get host memory only if the host asks for them. */
  int with_host = d->zero_copy || mem_class_of(bytes) != MEM_NOPOOL;
  void *h;
  return mem_rep_new_output(d->rt, d->node, bytes, with_host, out, &h);
}

cl_mem ocl_rep_mem(maestro_buf_t *b, int dev) {
  ocl_rep_t *r = mem_rep_handle(b, ocl_dev(b->rt, dev)->node);
  return r ? r->mem : NULL;
}

void ocl_rep_set_ready(maestro_buf_t *b, int dev, cl_event ev) {
  mem_rep_lock(b);
  ocl_rep_t *r = mem_rep_handle(b, ocl_dev(b->rt, dev)->node);
  if (r) {
    clRetainEvent(ev);
    set_event(&r->ready, ev);
  }
  mem_rep_unlock(b);
}

void ocl_rep_write_on(maestro_buf_t *b, int dev) {
  mem_rep_write_on(b, ocl_dev(b->rt, dev)->node);
}

void ocl_rep_unpin(maestro_buf_t *b, int dev) {
  mem_rep_unpin(b, ocl_dev(b->rt, dev)->node);
}

int ocl_rep_wraps_host(maestro_buf_t *b, int dev) {
  return mem_rep_wraps_host(b, ocl_dev(b->rt, dev)->node);
}
