/* What the runtime found, for tools such as maestro-info: the PUs of a CPU
 * place, the topology, the measured host<->device link. Thin checked entry
 * points over topo/ and backend/opencl, so that tools need no private
 * header and libmaestro exports nothing but maestro_*. */
#include "base/runtime.h"

#include "base/error.h"
#include "backend/opencl/ocl.h"
#include "topo/topo.h"

int maestro_runtime_place_pus(const maestro_runtime_t *rt, int cpu, char *buf, size_t len) {
  if (!rt || !buf)
    return err_set(MAESTRO_EINVAL, "maestro_runtime_place_pus: %s is NULL", rt ? "buf" : "rt");
  if (len == 0) return err_set(MAESTRO_EINVAL, "maestro_runtime_place_pus: len is 0");
  if (cpu < 0 || cpu >= rt->ncpu)
    return err_set(MAESTRO_ENODEV,
                   "maestro_runtime_place_pus: no CPU place %d (this runtime has %d)", cpu,
                   rt->ncpu);
  return topo_cpu_pus(rt, cpu, buf, len);
}

int maestro_runtime_describe_topology(const maestro_runtime_t *rt, FILE *f,
                                      maestro_describe_format_t format) {
  if (!rt || !f)
    return err_set(MAESTRO_EINVAL, "maestro_runtime_describe_topology: %s is NULL",
                   rt ? "f" : "rt");
  if (format != MAESTRO_DESCRIBE_TEXT && format != MAESTRO_DESCRIBE_JSON)
    return err_set(MAESTRO_EINVAL, "maestro_runtime_describe_topology: unknown format %d",
                   (int)format);
  topo_describe(rt, f, format == MAESTRO_DESCRIBE_JSON);
  return MAESTRO_OK;
}

int maestro_runtime_measure_link(maestro_runtime_t *rt, int dev, size_t bytes,
                                 maestro_link_info_t *out) {
  if (!rt || !out)
    return err_set(MAESTRO_EINVAL, "maestro_runtime_measure_link: %s is NULL", rt ? "out" : "rt");
  if (dev < 0 || dev >= rt->ndev)
    return err_set(MAESTRO_ENODEV,
                   "maestro_runtime_measure_link: no device place %d (this runtime has %d)", dev,
                   rt->ndev);
  ocl_link_t link;
  int rc = ocl_measure_link(rt, dev, bytes, &link);
  if (rc != MAESTRO_OK) return rc;
  *out = (maestro_link_info_t){
      .bytes = link.bytes,
      .h2d_gbps = link.h2d_gbps,
      .d2h_gbps = link.d2h_gbps,
      .h2d_lat_ns = link.h2d_lat_ns,
      .d2h_lat_ns = link.d2h_lat_ns,
      .map_ns = link.map_ns,
      .zero_copy = link.zero_copy,
  };
  return MAESTRO_OK;
}
