/* Discovery on this machine with real hwloc and the real PoCL device:
 * CPU places, device places, place_info, argument checks, binding, NUMA
 * memory. Run with the default environment (all cores, all devices). */
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "base/runtime.h"
#include "testmain.h"
#include "topo/topo.h"

static maestro_runtime_t *rt;

static int setup(void) {
  clear_maestro_env();
  unsetenv("POCL_DEVICES"); /* PoCL's default: one CPU device */
  if (make_runtime(NULL, 0, &rt) != MAESTRO_OK) {
    fprintf(stderr, "runtime: %s\n", maestro_last_error());
    return 1;
  }
  return 0;
}

static int teardown(void) {
  maestro_runtime_destroy(rt);
  return 0;
}

static int usable_pus(cpu_set_t *set) {
  CPU_ZERO(set);
  if (sched_getaffinity(0, sizeof *set, set) != 0) return -1;
  return CPU_COUNT(set);
}

static void test_cpu_places(void) {
  cpu_set_t allowed;
  int npu = usable_pus(&allowed);
  int n = maestro_runtime_nplaces(rt, MAESTRO_PLACE_CPU);
  CU_ASSERT_TRUE(n >= 1);
  CU_ASSERT_TRUE(n <= npu); /* one per core; a core has >= 1 PU */
  int seen[CPU_SETSIZE] = {0};
  for (int i = 0; i < n; i++) {
    maestro_place_info_t p;
    CU_ASSERT_EQUAL_FATAL(maestro_runtime_place_info(rt, MAESTRO_PLACE_CPU, i, &p), MAESTRO_OK);
    CU_ASSERT_EQUAL(p.kind, MAESTRO_PLACE_CPU);
    CU_ASSERT_EQUAL(p.index, i);
    CU_ASSERT_TRUE(strlen(p.name) > 0);
    CU_ASSERT_TRUE(p.os_index >= 0 && p.os_index < CPU_SETSIZE);
    if (p.os_index < 0 || p.os_index >= CPU_SETSIZE) continue;
    CU_ASSERT_TRUE(CPU_ISSET(p.os_index, &allowed));
    CU_ASSERT_FALSE(seen[p.os_index]); /* distinct cores */
    seen[p.os_index] = 1;
    CU_ASSERT_TRUE(p.numa_node >= 0);
    CU_ASSERT_TRUE(p.mem_bytes > 0);
    CU_ASSERT_EQUAL(p.device_type, MAESTRO_DEVICE_NONE);
    CU_ASSERT_EQUAL(p.compute_units, 1);
    CU_ASSERT_TRUE(p.unified);
  }
  CU_ASSERT_TRUE(topo_numa_nodes(rt) >= 1);
}

/* PoCL's CPU device is used by default. */
static void test_pocl_device(void) {
  int n = maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE);
  CU_ASSERT_EQUAL(n, 1);
  CU_ASSERT_PTR_NULL(maestro_runtime_cpu_only_reason(rt));
  maestro_place_info_t p;
  CU_ASSERT_EQUAL_FATAL(maestro_runtime_place_info(rt, MAESTRO_PLACE_DEVICE, 0, &p), MAESTRO_OK);
  CU_ASSERT_EQUAL(p.kind, MAESTRO_PLACE_DEVICE);
  CU_ASSERT_EQUAL(p.index, 0);
  CU_ASSERT_TRUE(strlen(p.name) > 0);
  CU_ASSERT_TRUE(strlen(p.vendor) > 0);
  CU_ASSERT_TRUE(strstr(p.platform, "Portable Computing Language") != NULL);
  CU_ASSERT_EQUAL(p.device_type, MAESTRO_DEVICE_CPU);
  CU_ASSERT_TRUE(p.unified); /* a CPU device shares host memory */
  CU_ASSERT_TRUE(p.compute_units >= 1);
  CU_ASSERT_TRUE(p.mem_bytes > 0);
  CU_ASSERT_TRUE(p.max_alloc > 0 && p.max_alloc <= p.mem_bytes);
  CU_ASSERT_EQUAL(p.os_index, -1);
}

static void test_place_info_out_of_range(void) {
  maestro_place_info_t p;
  int ncpu = maestro_runtime_nplaces(rt, MAESTRO_PLACE_CPU);
  int ndev = maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE);
  CU_ASSERT_EQUAL(maestro_runtime_place_info(rt, MAESTRO_PLACE_CPU, ncpu, &p), MAESTRO_ENODEV);
  CU_ASSERT_TRUE(last_error_has("CPU place"));
  CU_ASSERT_EQUAL(maestro_runtime_place_info(rt, MAESTRO_PLACE_CPU, -1, &p), MAESTRO_ENODEV);
  CU_ASSERT_EQUAL(maestro_runtime_place_info(rt, MAESTRO_PLACE_DEVICE, ndev, &p), MAESTRO_ENODEV);
  CU_ASSERT_TRUE(last_error_has("device place"));
  CU_ASSERT_EQUAL(maestro_runtime_place_info(rt, MAESTRO_PLACE_DEVICE, 1 << 30, &p),
                  MAESTRO_ENODEV);
}

static void test_bad_arguments(void) {
  maestro_place_info_t p;
  CU_ASSERT_EQUAL(maestro_runtime_nplaces(NULL, MAESTRO_PLACE_CPU), MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(maestro_runtime_nplaces(rt, (maestro_place_kind_t)7), MAESTRO_EINVAL);
  CU_ASSERT_TRUE(last_error_has("kind 7"));
  CU_ASSERT_EQUAL(maestro_runtime_place_info(NULL, MAESTRO_PLACE_CPU, 0, &p), MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(maestro_runtime_place_info(rt, MAESTRO_PLACE_CPU, 0, NULL), MAESTRO_EINVAL);
  CU_ASSERT_TRUE(last_error_has("info"));
  CU_ASSERT_EQUAL(maestro_runtime_place_info(rt, (maestro_place_kind_t)-2, 0, &p), MAESTRO_EINVAL);
  CU_ASSERT_PTR_NULL(maestro_runtime_cpu_only_reason(NULL));
  maestro_runtime_destroy(NULL); /* ignored */
}

/* More cores than this process may use: ENODEV naming both numbers. */
static void test_too_many_cpus(void) {
  maestro_runtime_t *r2 = NULL;
  int n = maestro_runtime_nplaces(rt, MAESTRO_PLACE_CPU);
  CU_ASSERT_EQUAL(make_runtime("none", n + 1, &r2), MAESTRO_ENODEV);
  CU_ASSERT_PTR_NULL(r2);
  char want[32], have[32];
  snprintf(want, sizeof want, "ncpu=%d", n + 1);
  snprintf(have, sizeof have, "the %d", n);
  CU_ASSERT_TRUE(last_error_has(want));
  CU_ASSERT_TRUE(last_error_has(have));
}

static void test_ncpu_limits(void) {
  maestro_runtime_t *r2 = NULL;
  CU_ASSERT_EQUAL_FATAL(make_runtime("none", 1, &r2), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_runtime_nplaces(r2, MAESTRO_PLACE_CPU), 1);
  maestro_runtime_destroy(r2);
}

static void test_devices_none(void) {
  maestro_runtime_t *r2 = NULL;
  CU_ASSERT_EQUAL_FATAL(make_runtime("none", 0, &r2), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_runtime_nplaces(r2, MAESTRO_PLACE_DEVICE), 0);
  CU_ASSERT_EQUAL(maestro_runtime_nplaces(r2, MAESTRO_PLACE_CPU),
                  maestro_runtime_nplaces(rt, MAESTRO_PLACE_CPU));
  const char *why = maestro_runtime_cpu_only_reason(r2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(why);
  CU_ASSERT_TRUE(strstr(why, "none") != NULL);
  maestro_runtime_destroy(r2);
}

static void test_devices_env_none(void) {
  maestro_runtime_t *r2 = NULL;
  setenv("MAESTRO_DEVICES", "none", 1);
  CU_ASSERT_EQUAL_FATAL(maestro_runtime_create(NULL, &r2), MAESTRO_OK);
  unsetenv("MAESTRO_DEVICES");
  CU_ASSERT_EQUAL(maestro_runtime_nplaces(r2, MAESTRO_PLACE_DEVICE), 0);
  CU_ASSERT_PTR_NOT_NULL(maestro_runtime_cpu_only_reason(r2));
  maestro_runtime_destroy(r2);
}

static void test_missing_device_index(void) {
  maestro_runtime_t *r2 = NULL;
  CU_ASSERT_EQUAL(make_runtime("3", 0, &r2), MAESTRO_ENODEV);
  CU_ASSERT_PTR_NULL(r2);
  CU_ASSERT_TRUE(last_error_has("3"));
  CU_ASSERT_EQUAL(make_runtime("0,1", 0, &r2), MAESTRO_ENODEV);
  CU_ASSERT_PTR_NULL(r2);
}

static void test_device_by_index(void) {
  maestro_runtime_t *r2 = NULL;
  CU_ASSERT_EQUAL_FATAL(make_runtime("0", 0, &r2), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_runtime_nplaces(r2, MAESTRO_PLACE_DEVICE), 1);
  maestro_runtime_destroy(r2);
}

/* Pinning: the thread then runs only on its core's PUs. */
static void test_bind_thread(void) {
  cpu_set_t before, now;
  CU_ASSERT_EQUAL_FATAL(sched_getaffinity(0, sizeof before, &before), 0);
  int n = maestro_runtime_nplaces(rt, MAESTRO_PLACE_CPU);
  for (int i = 0; i < n; i++) {
    maestro_place_info_t p;
    maestro_runtime_place_info(rt, MAESTRO_PLACE_CPU, i, &p);
    CU_ASSERT_EQUAL(topo_bind_thread(rt, i), MAESTRO_OK);
    CU_ASSERT_EQUAL(sched_getaffinity(0, sizeof now, &now), 0);
    CU_ASSERT_TRUE(CPU_ISSET(p.os_index, &now));
    CU_ASSERT_TRUE(CPU_COUNT(&now) <= CPU_COUNT(&before));
    int cpu = sched_getcpu();
    CU_ASSERT_TRUE(cpu >= 0 && CPU_ISSET(cpu, &now));
  }
  CU_ASSERT_EQUAL(topo_bind_thread(rt, n), MAESTRO_ENODEV);
  char pus[64];
  CU_ASSERT_EQUAL(topo_cpu_pus(rt, 0, pus, sizeof pus), MAESTRO_OK);
  CU_ASSERT_TRUE(pus[0] >= '0' && pus[0] <= '9');
  CU_ASSERT_EQUAL(topo_cpu_pus(rt, n, pus, sizeof pus), MAESTRO_ENODEV);
  /* The public form gives the same list, and refuses the same index. */
  char pub[64];
  CU_ASSERT_EQUAL(maestro_runtime_place_pus(rt, 0, pub, sizeof pub), MAESTRO_OK);
  CU_ASSERT_STRING_EQUAL(pub, pus);
  CU_ASSERT_EQUAL(maestro_runtime_place_pus(rt, n, pub, sizeof pub), MAESTRO_ENODEV);
  CU_ASSERT_EQUAL(topo_bind_thread(rt, -1), MAESTRO_ENODEV);
  sched_setaffinity(0, sizeof before, &before);
}

static void test_alloc_on_node(void) {
  maestro_place_info_t p;
  maestro_runtime_place_info(rt, MAESTRO_PLACE_CPU, 0, &p);
  int nodes[] = {p.numa_node, -1};
  size_t sizes[] = {1, 1000, 1 << 20};
  for (int k = 0; k < 2; k++) {
    for (int s = 0; s < 3; s++) {
      unsigned char *m = topo_alloc_on_node(rt, sizes[s], nodes[k]);
      CU_ASSERT_PTR_NOT_NULL_FATAL(m);
      CU_ASSERT_EQUAL((uintptr_t)m % TOPO_ALIGN, 0);
      memset(m, 0xab, sizes[s]);
      CU_ASSERT_EQUAL(m[sizes[s] - 1], 0xab);
      topo_free(rt, m, sizes[s]);
    }
  }
  topo_free(rt, NULL, 0); /* ignored */
}

static void test_describe(void) {
  char *text = NULL, *json = NULL;
  size_t len;
  FILE *f = open_memstream(&text, &len);
  CU_ASSERT_EQUAL(maestro_runtime_describe_topology(rt, f, MAESTRO_DESCRIBE_TEXT), MAESTRO_OK);
  fclose(f);
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  CU_ASSERT_TRUE(strstr(text, "packages") != NULL);
  CU_ASSERT_TRUE(strstr(text, "NUMA nodes") != NULL);
  CU_ASSERT_TRUE(strstr(text, "cores") != NULL);
  f = open_memstream(&json, &len);
  CU_ASSERT_EQUAL(maestro_runtime_describe_topology(rt, f, MAESTRO_DESCRIBE_JSON), MAESTRO_OK);
  fclose(f);
  CU_ASSERT_PTR_NOT_NULL_FATAL(json);
  CU_ASSERT_EQUAL(json[0], '{');
  CU_ASSERT_EQUAL(json[len - 1], '}');
  CU_ASSERT_TRUE(strstr(json, "\"numa_nodes\"") != NULL);
  free(text);
  free(json);
}

/* Two runtimes side by side each see the whole machine. */
static void test_two_runtimes(void) {
  maestro_runtime_t *r2 = NULL;
  CU_ASSERT_EQUAL_FATAL(make_runtime(NULL, 0, &r2), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_runtime_nplaces(r2, MAESTRO_PLACE_CPU),
                  maestro_runtime_nplaces(rt, MAESTRO_PLACE_CPU));
  CU_ASSERT_EQUAL(maestro_runtime_nplaces(r2, MAESTRO_PLACE_DEVICE),
                  maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE));
  maestro_runtime_destroy(r2);
}

void register_suites(void) {
  ADD_SUITE("discovery", setup, teardown, {"CPU places", test_cpu_places},
            {"PoCL device by default", test_pocl_device},
            {"place_info out of range", test_place_info_out_of_range},
            {"bad arguments", test_bad_arguments}, {"ncpu too large", test_too_many_cpus},
            {"ncpu limits places", test_ncpu_limits}, {"devices=none", test_devices_none},
            {"MAESTRO_DEVICES=none", test_devices_env_none},
            {"missing device index", test_missing_device_index},
            {"device by index", test_device_by_index}, {"bind thread", test_bind_thread},
            {"alloc on node", test_alloc_on_node}, {"describe", test_describe},
            {"two runtimes", test_two_runtimes});
}
