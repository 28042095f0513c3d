/* The public buffer API: reference counting and copy-on-write on top of the
 * pools (mem/pool.c) and the replicas on other memory nodes (mem/replica.c). */
#include <stdint.h>
#include <string.h>

#include "base/error.h"
#include "base/runtime.h"
#include "mem/buf.h"
#include "mem/pool.h"
#include "mem/replica.h"

int maestro_buf_create(maestro_runtime_t *rt, size_t bytes, maestro_buf_t **b) {
  if (!rt || !b) return err_set(MAESTRO_EINVAL, "maestro_buf_create: %s is NULL", rt ? "b" : "rt");
  return mem_buf_alloc_for(rt, bytes, -1, "maestro_buf_create", b);
}

int maestro_buf_from(maestro_runtime_t *rt, const void *data, size_t bytes, maestro_buf_t **b) {
  if (!rt || !b || (!data && bytes))
    return err_set(MAESTRO_EINVAL, "maestro_buf_from: %s is NULL", !rt ? "rt" : !b ? "b" : "data");
  int rc = mem_buf_alloc_for(rt, bytes, -1, "maestro_buf_from", b);
  if (rc) return rc;
  if (bytes) memcpy((*b)->host, data, bytes);
  return MAESTRO_OK;
}

size_t maestro_buf_size(const maestro_buf_t *b) {
  return b ? b->size : 0;
}

void *maestro_buf_data(maestro_buf_t *b) {
  if (!b) {
    err_set(MAESTRO_EINVAL, "maestro_buf_data: b is NULL");
    return NULL;
  }
  if (atomic_load_explicit(&b->refs, memory_order_acquire) != 1) {
    err_set(
        MAESTRO_ESTATE,
        "maestro_buf_data: the buffer is shared (%u references); call maestro_buf_writable first",
        atomic_load_explicit(&b->refs, memory_order_relaxed));
    return NULL;
  }
  if (!atomic_load_explicit(&b->host_valid, memory_order_acquire)) {
    if (!maestro_buf_cdata(b)) return NULL;
  }
  if (b->reps) mem_buf_invalidate_nodes(b);
  return b->host;
}

const void *maestro_buf_cdata(maestro_buf_t *b) {
  if (!b) {
    err_set(MAESTRO_EINVAL, "maestro_buf_cdata: b is NULL");
    return NULL;
  }
  if (!atomic_load_explicit(&b->host_valid, memory_order_acquire)) {
    /* Host memory is given under the replica lock (two readers of one
     * device result must not both allocate it). */
    if (mem_buf_sync_host(b) != MAESTRO_OK) return NULL;
  }
  return b->size ? b->host : NULL;
}

/* A count of 0 means that the buffer went back to a pool already: a retain
 * or release then is a use after release. Both are refused (the count stays
 * 0), else a later release would recycle the buffer a second time and the
 * pool hand it to two owners. One branch on the value the atomic returns:
 * the per-message path costs what it did. */
maestro_buf_t *maestro_buf_retain(maestro_buf_t *b) {
  if (b && atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed) == 0) {
    atomic_fetch_sub_explicit(&b->refs, 1, memory_order_relaxed);
    mem_buf_overreleased(b, "maestro_buf_retain");
  }
  return b;
}

void maestro_buf_release(maestro_buf_t *b) {
  if (!b) return;
  unsigned before = atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel);
  if (before == 1) {
    mem_buf_recycle(b);
  } else if (before == 0) {
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    mem_buf_overreleased(b, "maestro_buf_release");
  }
}

int maestro_buf_writable(maestro_buf_t **bp) {
  if (!bp || !*bp) return err_set(MAESTRO_EINVAL, "maestro_buf_writable: buffer is NULL");
  maestro_buf_t *b = *bp;
  if (atomic_load_explicit(&b->refs, memory_order_acquire) == 1) return MAESTRO_OK;
  const void *src = maestro_buf_cdata(b);
  if (!src && b->size) return MAESTRO_ECL;
  maestro_buf_t *copy;
  int rc = mem_buf_alloc_for(b->rt, b->size, -1, "maestro_buf_writable", &copy);
  if (rc) return rc;
  if (b->size) memcpy(copy->host, src, b->size);
  copy->ndim = b->ndim;
  memcpy(copy->dims, b->dims, sizeof copy->dims);
  *bp = copy;
  maestro_buf_release(b);
  return MAESTRO_OK;
}

int maestro_buf_truncate(maestro_buf_t *b, size_t bytes) {
  if (!b) return err_set(MAESTRO_EINVAL, "maestro_buf_truncate: b is NULL");
  unsigned refs = atomic_load_explicit(&b->refs, memory_order_acquire);
  if (refs != 1)
    return err_set(MAESTRO_ESTATE,
                   "maestro_buf_truncate: the buffer is shared (%u references); only a buffer held "
                   "alone may shrink (maestro_buf_writable first)",
                   refs);
  if (bytes > b->size)
    return err_set(
        MAESTRO_EINVAL,
        "maestro_buf_truncate: %zu bytes is more than the buffer's %zu (it only shrinks)", bytes,
        b->size);
  if (bytes == b->size) return MAESTRO_OK;
  /* The bytes kept must be on the host: the replicas elsewhere were made for
   * the old size, so they go (the next use on a device copies afresh). */
  int rc = mem_buf_sync_host(b);
  if (rc != MAESTRO_OK) return rc;
  if (b->reps) mem_buf_free_replicas(b);
  b->size = bytes;
  if (b->ndim && mem_shape_fits(b->ndim, b->dims, bytes)) b->ndim = 0; /* no longer fits */
  return MAESTRO_OK;
}

unsigned maestro_buf_refs(const maestro_buf_t *b) {
  return b ? atomic_load_explicit(&((maestro_buf_t *)b)->refs, memory_order_relaxed) : 0;
}

int mem_shape_fits(int ndim, const size_t *dims, size_t bytes) {
  if (ndim < 1 || ndim > 3 || !dims) return MAESTRO_EINVAL;
  size_t n = 1;
  for (int d = 0; d < ndim; d++) {
    if (dims[d] && n > SIZE_MAX / dims[d]) return MAESTRO_EINVAL;
    n *= dims[d];
  }
  if (n == 0) return bytes == 0 ? MAESTRO_OK : MAESTRO_EINVAL;
  return bytes >= n && bytes % n == 0 ? MAESTRO_OK : MAESTRO_EINVAL;
}

int maestro_buf_set_shape(maestro_buf_t *b, int ndim, const size_t *dims) {
  if (!b) return err_set(MAESTRO_EINVAL, "maestro_buf_set_shape: b is NULL");
  if (ndim < 1 || ndim > 3 || !dims)
    return err_set(MAESTRO_EINVAL, "maestro_buf_set_shape: %s (1 to 3 dimensions)",
                   !dims ? "dims is NULL" : "ndim out of range");
  if (mem_shape_fits(ndim, dims, b->size))
    return err_set(MAESTRO_EINVAL,
                   "maestro_buf_set_shape: shape {%zu, %zu, %zu} (%d dimensions) does not fit a "
                   "buffer of %zu bytes (a whole number of bytes per element, at least one)",
                   dims[0], ndim > 1 ? dims[1] : (size_t)1, ndim > 2 ? dims[2] : (size_t)1, ndim,
                   b->size);
  b->ndim = ndim;
  for (int d = 0; d < 3; d++)
    b->dims[d] = d < ndim ? dims[d] : 1;
  return MAESTRO_OK;
}

int maestro_buf_shape(const maestro_buf_t *b, size_t dims[3]) {
  if (!b || !b->ndim) {
    if (dims) dims[0] = dims[1] = dims[2] = 0;
    return 0;
  }
  if (dims) memcpy(dims, b->dims, 3 * sizeof *dims);
  return b->ndim;
}
