/* The multi-node path of runtime/topo on a machine shaped by hwloc's
 * synthetic topology (run with HWLOC_SYNTHETIC="pack:2 numa:1 core:2 pu:1",
 * two packages, one NUMA node each, two single-PU cores each, and
 * HWLOC_THISSYSTEM=1). Binding and memory calls still go to the real OS,
 * where node 1 may not exist: hwloc_alloc_membind then keeps its unbound
 * mmap memory, which topo_free must release the same way. */
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
  return make_runtime("none", 0, &rt) == MAESTRO_OK ? 0 : 1;
}

static int teardown(void) {
  maestro_runtime_destroy(rt);
  return 0;
}

static void test_two_nodes(void) {
  CU_ASSERT_EQUAL(topo_numa_nodes(rt), 2);
  CU_ASSERT_TRUE(rt->topo != NULL);
  int n = maestro_runtime_nplaces(rt, MAESTRO_PLACE_CPU);
  CU_ASSERT_TRUE(n >= 1 && n <= 4);
  for (int i = 0; i < n; i++) {
    maestro_place_info_t p;
    CU_ASSERT_EQUAL_FATAL(maestro_runtime_place_info(rt, MAESTRO_PLACE_CPU, i, &p), MAESTRO_OK);
    /* PUs 0-1 are on node 0, PUs 2-3 on node 1. */
    CU_ASSERT_EQUAL(p.numa_node, p.os_index / 2);
    CU_ASSERT_EQUAL(p.mem_bytes, (uint64_t)1 << 30);
  }
}

static void test_alloc_each_node(void) {
  int nodes[] = {0, 1, -1, 7};
  size_t sizes[] = {1, 4096, 3 << 20};
  for (size_t k = 0; k < sizeof nodes / sizeof nodes[0]; k++) {
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
      unsigned char *m = topo_alloc_on_node(rt, sizes[s], nodes[k]);
      CU_ASSERT_PTR_NOT_NULL_FATAL(m);
      CU_ASSERT_EQUAL((uintptr_t)m % TOPO_ALIGN, 0);
      memset(m, 0x5a, sizes[s]);
      CU_ASSERT_EQUAL(m[sizes[s] - 1], 0x5a);
      topo_free(rt, m, sizes[s]);
    }
  }
}

static void test_describe(void) {
  char *text = NULL;
  size_t len;
  FILE *f = open_memstream(&text, &len);
  topo_describe(rt, f, 0);
  fclose(f);
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  CU_ASSERT_TRUE(strstr(text, "NUMA nodes  2") != NULL);
  CU_ASSERT_TRUE(strstr(text, "packages    2") != NULL);
  CU_ASSERT_TRUE(strstr(text, "cores       4") != NULL);
  free(text);
}

static void test_bind(void) {
  CU_ASSERT_EQUAL(topo_bind_thread(rt, 0), MAESTRO_OK);
}

void register_suites(void) {
  ADD_SUITE("two NUMA nodes (synthetic)", setup, teardown, {"places per node", test_two_nodes},
            {"alloc on each node", test_alloc_each_node}, {"describe", test_describe},
            {"bind", test_bind});
}
