/* The CPU backend's place operations (sched/place.h): one CPU place per
 * usable core, limited to cfg.ncpu, each with its architecture (the CPU
 * model, and the core type where cores differ) as the key of its
 * performance models; and the host memory node (node.c). */
#include <stdio.h>
#include <stdlib.h>

#include "backend/cpu/cpu.h"
#include "base/error.h"
#include "base/runtime.h"
#include "mem/node.h"
#include "sched/place.h"
#include "topo/topo.h"

static int discover(struct maestro_runtime *rt, void **be) {
  int ncores = topo_ncores(rt), want = ncores;
  if (rt->cfg.ncpu > 0) {
    if (rt->cfg.ncpu > ncores) {
      char pus[256];
      if (topo_usable_pus(rt, pus, sizeof pus) != MAESTRO_OK) snprintf(pus, sizeof pus, "?");
      return err_set(MAESTRO_ENODEV,
                     "maestro_runtime_create: ncpu=%d (MAESTRO_NCPU) asks for more cores than the "
                     "%d this process may use (PUs %s)",
                     rt->cfg.ncpu, ncores, pus);
    }
    want = rt->cfg.ncpu;
  }
  struct cpu_backend *c = calloc(1, sizeof *c + sizeof c->arch[0] * (size_t)(want > 0 ? want : 1));
  if (!c) return err_set(MAESTRO_ENOMEM, "maestro_runtime_create: out of memory (CPU places)");
  c->rt = rt;
  /* A memcpy moves about 10 GB/s on a server core: 100 ns per KiB. */
  c->copy_lat_ns = 100;
  c->copy_ns_per_kib = 100;
  int rc = MAESTRO_OK;
  for (int i = 0; i < want && rc == MAESTRO_OK; i++) {
    maestro_place_info_t info;
    if ((rc = topo_core_info(rt, i, &info)) != MAESTRO_OK) break;
    int idx = place_add_cpu(rt, &info);
    if (idx < 0) {
      rc = idx;
      break;
    }
    rc = topo_cpu_arch(rt, i, c->arch[idx], sizeof c->arch[idx]);
    c->n = idx + 1;
  }
  if (rc == MAESTRO_OK) {
    int node = mem_node_add_host(rt, &cpu_node_ops, c, MEM_NODE_ZERO_COPY | MEM_NODE_HOST_COHERENT);
    if (node < 0) rc = node;
  }
  if (rc) {
    free(c);
    return rc;
  }
  *be = c;
  return MAESTRO_OK;
}

static void fini(struct maestro_runtime *rt, void *be) {
  (void)rt;
  free(be);
}

static int bind(void *be, int place) {
  struct cpu_backend *c = be;
  return topo_bind_thread(c->rt, place);
}

static const char *arch(void *be, int place) {
  const struct cpu_backend *c = be;
  return place >= 0 && place < c->n ? c->arch[place] : "";
}

const struct backend_ops cpu_backend_ops = {
    .name = "cpu",
    .cpu_places = 1,
    .runs_cpu_code = 1,
    .discover = discover,
    .fini = fini,
    .arch = arch,
    .bind = bind,
};
