/* The buffer object. runtime/mem owns allocation and reference counting;
 * runtime/ocl owns the device replicas hanging off `dev`. */
#ifndef MAESTRO_MEM_BUF_H
#define MAESTRO_MEM_BUF_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "maestro.h"

struct ocl_replicas; /* runtime/ocl: per-device replicas and their validity */

/* Host replicas are aligned so that a device sharing host memory can wrap
 * them without a copy (CL_MEM_USE_HOST_PTR wants the device's base-address
 * alignment; 128 bytes covers the devices we know). */
#define MEM_HOST_ALIGN 128

struct maestro_buf {
  atomic_uint refs;
  size_t size;
  void *host;               /* host bytes; NULL until the host replica exists */
  atomic_int host_valid;    /* 1 when `host` holds the current bytes */
  struct ocl_replicas *dev; /* NULL until a device has touched the buffer */
  struct maestro_runtime *rt;
  uint32_t size_class; /* pool bookkeeping (runtime/mem) */
  uint32_t flags;
};

/* Pools: per-worker free lists by size class (runtime/mem/pool.c). */
int mem_init(struct maestro_runtime *rt);
void mem_fini(struct maestro_runtime *rt);

/* A buffer of `bytes` with host memory (host_valid = 1, contents undefined). */
int mem_buf_alloc(struct maestro_runtime *rt, size_t bytes, maestro_buf_t **b);
/* A buffer whose host replica does not exist yet (a device will produce it). */
int mem_buf_alloc_nohost(struct maestro_runtime *rt, size_t bytes, maestro_buf_t **b);
/* Gives `b` host memory if it has none (host_valid stays as it is). */
int mem_buf_ensure_host(maestro_buf_t *b);

#endif
