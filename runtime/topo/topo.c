/* STUB (replaced by the foundation work): one CPU place per online CPU, no binding. */
#include "topo/topo.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/error.h"
#include "core/runtime.h"

int topo_init(struct maestro_runtime *rt) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  if (rt->cfg.ncpu > 0) {
    if (rt->cfg.ncpu > n)
      return err_set(MAESTRO_ENODEV, "ncpu=%d: this process may use %ld cores", rt->cfg.ncpu, n);
    n = rt->cfg.ncpu;
  }
  rt->cpu_info = calloc((size_t)n, sizeof *rt->cpu_info);
  if (!rt->cpu_info) return err_set(MAESTRO_ENOMEM, "topo_init: out of memory");
  rt->ncpu = (int)n;
  for (int i = 0; i < n; i++) {
    maestro_place_info_t *p = &rt->cpu_info[i];
    p->kind = MAESTRO_PLACE_CPU;
    p->index = i;
    snprintf(p->name, sizeof p->name, "cpu %d", i);
    p->os_index = i;
    p->compute_units = 1;
  }
  return MAESTRO_OK;
}
void topo_fini(struct maestro_runtime *rt) {
  free(rt->cpu_info);
}
int topo_bind_thread(struct maestro_runtime *rt, int cpu) {
  (void)rt;
  (void)cpu;
  return MAESTRO_OK;
}
int topo_numa_nodes(const struct maestro_runtime *rt) {
  (void)rt;
  return 1;
}
void *topo_alloc_on_node(struct maestro_runtime *rt, size_t bytes, int node) {
  (void)rt;
  (void)node;
  return malloc(bytes);
}
void topo_free(struct maestro_runtime *rt, void *p, size_t bytes) {
  (void)rt;
  (void)bytes;
  free(p);
}
void topo_describe(const struct maestro_runtime *rt, FILE *f, int json) {
  (void)rt;
  (void)f;
  (void)json;
}
