/* What the runtime found, for tools such as maestro-info: the PUs of a CPU
 * place, the topology. Thin checked entry points over topo/, so that tools
 * need no private header and libmaestro exports nothing but maestro_*. (The
 * measured host<->device link is the OpenCL backend's: backend/opencl/link.c.) */
#include "base/runtime.h"

#include "base/error.h"
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
