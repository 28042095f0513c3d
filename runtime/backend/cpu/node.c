/* The host memory node's operations (mem/node.h), node 0. The pools take
 * the buffers' own bytes from host_alloc: NUMA-bound through topo where the
 * machine has several nodes, plain aligned heap memory otherwise. The
 * replica operations make the host a node like the others (a replica of
 * its own, copies by memcpy); a buffer's host replica is its own bytes, so
 * the coherence code (mem/replica.c) never asks for one, and a wrap is the
 * host bytes themselves. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu.h"
#include "base/error.h"
#include "mem/buf.h"
#include "mem/node.h"
#include "topo/topo.h"

_Static_assert(TOPO_ALIGN >= MEM_HOST_ALIGN && TOPO_ALIGN % MEM_HOST_ALIGN == 0,
               "topo_alloc_on_node must align host bytes as the pools need");

/* A replica of the host node's own (not a wrap). */
struct cpu_rep {
  void *bytes;
  size_t cap;
};

static void *host_alloc(void *node, size_t bytes, int numa) {
  struct cpu_backend *c = node;
  return topo_alloc_on_node(c->rt, bytes, numa);
}

static void host_free(void *node, void *p, size_t bytes) {
  struct cpu_backend *c = node;
  topo_free(c->rt, p, bytes);
}

static int rep_alloc(void *node, maestro_buf_t *b, int wrap, void **h) {
  struct cpu_backend *c = node;
  *h = NULL;
  if (wrap) { /* the host bytes are this node's memory */
    *h = b->host;
    return MAESTRO_OK;
  }
  struct cpu_rep *r = malloc(sizeof *r);
  size_t cap = b->size ? b->size : 1;
  if (!r || !(r->bytes = topo_alloc_on_node(c->rt, cap, b->node))) {
    free(r);
    return err_set(MAESTRO_ENOMEM, "host memory node: replica of %zu bytes: out of memory",
                   b->size);
  }
  r->cap = cap;
  *h = r;
  return MAESTRO_OK;
}

static void rep_free(void *node, maestro_buf_t *b, void *h, int wrapped) {
  struct cpu_backend *c = node;
  (void)b;
  if (wrapped || !h) return;
  struct cpu_rep *r = h;
  topo_free(c->rt, r->bytes, r->cap);
  free(r);
}

static void *rep_bytes(void *h, int wrapped) {
  return wrapped ? h : ((struct cpu_rep *)h)->bytes;
}

static int copy_in(void *node, void *dh, void *src, void *sh, maestro_buf_t *b, void *use) {
  (void)node, (void)use;
  /* Into memory of the node's own (mem/replica.c never copies into a wrap),
   * from another replica of this node (direct: a wrap's handle is the host
   * bytes themselves), else from the host bytes. */
  const void *from = src ? rep_bytes(sh, sh == b->host) : b->host;
  if (b->size) memcpy(rep_bytes(dh, 0), from, b->size);
  return MAESTRO_OK;
}

static int copy_out(void *node, void *h, maestro_buf_t *b, int wrapped) {
  (void)node;
  if (wrapped || !b->size) return MAESTRO_OK; /* the same bytes */
  memcpy(b->host, rep_bytes(h, 0), b->size);
  return MAESTRO_OK;
}

static int direct(void *node, void *other) {
  return node == other; /* host memory copies to host memory */
}

static uint64_t cost_ns(void *node, int dir, size_t bytes) {
  const struct cpu_backend *c = node;
  (void)dir;
  return c->copy_lat_ns + (uint64_t)(bytes >> 10) * c->copy_ns_per_kib;
}

const struct mem_node_ops cpu_node_ops = {
    .alloc = rep_alloc,
    .free = rep_free,
    .copy_in = copy_in,
    .copy_out = copy_out,
    .direct = direct,
    .cost_ns = cost_ns,
    .host_alloc = host_alloc,
    .host_free = host_free,
};
