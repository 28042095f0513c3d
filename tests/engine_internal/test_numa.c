/* Pools on a two-node machine (synthetic hwloc topology): a buffer asked
 * for on a node keeps that node, returns to that node's pool, and is reused
 * from there without a new allocation. */
#include <stdio.h>
#include <string.h>

#include "maestro.h"
#include "mem/buf.h"
#include "mem/pool.h"
#include "testmain.h"

static void pools_follow_the_node(void) {
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.devices = "none";
  cfg.stats = 0;
  maestro_runtime_t *rt;
  CU_ASSERT_EQUAL_FATAL(maestro_runtime_create(&cfg, &rt), MAESTRO_OK);
  if (mem_nodes(rt) < 2) {
    printf("(one NUMA node only: HWLOC_SYNTHETIC not applied) ");
    maestro_runtime_destroy(rt);
    return;
  }
  size_t sizes[] = {8, 100000};
  for (int s = 0; s < 2; s++) {
    for (int node = 0; node < 2; node++) {
      maestro_buf_t *b;
      CU_ASSERT_EQUAL_FATAL(mem_buf_alloc_on(rt, sizes[s], node, &b), MAESTRO_OK);
      CU_ASSERT_EQUAL(b->node, node);
      memset(maestro_buf_data(b), 1, sizes[s]);
      maestro_buf_release(b);
      struct mem_stats s0, s1;
      mem_get_stats(rt, &s0);
      CU_ASSERT_EQUAL_FATAL(mem_buf_alloc_on(rt, sizes[s], node, &b), MAESTRO_OK);
      mem_get_stats(rt, &s1);
      CU_ASSERT_EQUAL(b->node, node);
      CU_ASSERT_EQUAL(s1.fresh, s0.fresh); /* reused from that node's pool */
      maestro_buf_release(b);
    }
  }
  maestro_runtime_destroy(rt);
}

void register_suites(void) {
  ADD_SUITE("numa", NULL, NULL, {"pools_follow_the_node", pools_follow_the_node});
}
