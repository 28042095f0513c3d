/* The memory node table (mem/node.h). Backends register their nodes while
 * they discover their places; ids are never reused within a runtime. */
#include "mem/node.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "base/error.h"
#include "base/runtime.h"

struct mem_node_table {
  atomic_int n; /* nodes 1 .. n are registered */
  int host;     /* node 0 (MEM_HOST) is registered */
  struct mem_node node[MEM_MAX_NODES];
};

int mem_node_table_init(struct maestro_runtime *rt) {
  rt->node_table = calloc(1, sizeof *rt->node_table);
  return rt->node_table ? MAESTRO_OK : err_set(MAESTRO_ENOMEM, "memory nodes: out of memory");
}

void mem_node_table_fini(struct maestro_runtime *rt) {
  free(rt->node_table);
  rt->node_table = NULL;
}

int mem_node_add(struct maestro_runtime *rt, const struct mem_node_ops *ops, void *ctx,
                 unsigned flags) {
  struct mem_node_table *m = rt->node_table;
  if (!ops || !ops->alloc || !ops->free || !ops->copy_in || !ops->copy_out)
    return err_set(MAESTRO_EINVAL, "mem_node_add: incomplete node operations");
  int id = atomic_load(&m->n) + 1;
  if (id >= MEM_MAX_NODES)
    return err_set(MAESTRO_ENODEV, "mem_node_add: more than %d memory nodes", MEM_MAX_NODES - 1);
  m->node[id] = (struct mem_node){.ops = ops, .ctx = ctx, .flags = flags};
  atomic_store_explicit(&m->n, id, memory_order_release);
  return id;
}

int mem_node_add_host(struct maestro_runtime *rt, const struct mem_node_ops *ops, void *ctx,
                      unsigned flags) {
  struct mem_node_table *m = rt->node_table;
  if (!ops || !ops->alloc || !ops->free || !ops->copy_in || !ops->copy_out || !ops->host_alloc ||
      !ops->host_free)
    return err_set(MAESTRO_EINVAL, "mem_node_add_host: incomplete node operations");
  if (m->host) return err_set(MAESTRO_ESTATE, "mem_node_add_host: the host node is registered");
  m->node[MEM_HOST] = (struct mem_node){.ops = ops, .ctx = ctx, .flags = flags};
  m->host = 1;
  return MEM_HOST;
}

const struct mem_node *mem_node_host(const struct maestro_runtime *rt) {
  const struct mem_node_table *m = rt->node_table;
  return m && m->host ? &m->node[MEM_HOST] : NULL;
}

const struct mem_node *mem_node_get(const struct maestro_runtime *rt, int id) {
  const struct mem_node_table *m = rt->node_table;
  if (!m || id < 1 || id >= MEM_MAX_NODES || id > atomic_load_explicit(&m->n, memory_order_acquire))
    return NULL;
  return &m->node[id];
}
