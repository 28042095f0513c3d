/* Buffer pools: alignment, size classes, reuse instead of malloc,
 * copy-on-write. */
#include <stdint.h>
#include <string.h>

#include "maestro.h"
#include "mem/buf.h"
#include "mem/pool.h"
#include "testmain.h"

static maestro_runtime_t *rt;

static int pool_init(void) {
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.ncpu = 1;
  cfg.devices = "none";
  cfg.stats = 0;
  return maestro_runtime_create(&cfg, &rt) == MAESTRO_OK ? 0 : 1;
}

static int pool_fini(void) {
  maestro_runtime_destroy(rt);
  return 0;
}

static void pool_classes(void) {
  CU_ASSERT_EQUAL(mem_class_of(0), 0);
  CU_ASSERT_EQUAL(mem_class_of(64), 0);
  CU_ASSERT_EQUAL(mem_class_of(65), 1);
  CU_ASSERT_EQUAL(mem_class_bytes(mem_class_of(1000)), 1024);
  CU_ASSERT_EQUAL(mem_class_bytes(mem_class_of((size_t)64 << 20)), (size_t)64 << 20);
  CU_ASSERT_EQUAL(mem_class_of((size_t)512 << 20), MEM_NOPOOL);
}

static void pool_alignment(void) {
  size_t sizes[] = {0, 1, 8, 100, 4096, 5000, 1 << 20, (size_t)9 << 20};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    maestro_buf_t *b;
    CU_ASSERT_EQUAL_FATAL(maestro_buf_create(rt, sizes[i], &b), MAESTRO_OK);
    CU_ASSERT_EQUAL((uintptr_t)b->host % MEM_HOST_ALIGN, 0);
    CU_ASSERT_EQUAL(maestro_buf_size(b), sizes[i]);
    if (sizes[i]) memset(maestro_buf_data(b), 0xab, sizes[i]); /* ASan checks the bound */
    maestro_buf_release(b);
  }
}

static void pool_reuses(void) {
  struct mem_stats s0, s1;
  maestro_buf_t *b;
  maestro_buf_create(rt, 100, &b);
  maestro_buf_release(b);
  mem_get_stats(rt, &s0);
  for (int i = 0; i < 1000; i++) {
    CU_ASSERT_EQUAL_FATAL(maestro_buf_create(rt, 100, &b), MAESTRO_OK);
    maestro_buf_release(b);
  }
  mem_get_stats(rt, &s1);
  CU_ASSERT_EQUAL(s1.fresh, s0.fresh); /* no new allocation in the steady state */
  CU_ASSERT_EQUAL(s1.reused - s0.reused, 1000);
}

static void pool_copy_on_write(void) {
  int v = 7;
  maestro_buf_t *a, *b;
  CU_ASSERT_EQUAL_FATAL(maestro_buf_from(rt, &v, sizeof v, &a), MAESTRO_OK);
  b = maestro_buf_retain(a);
  CU_ASSERT_EQUAL(maestro_buf_refs(a), 2);
  CU_ASSERT_PTR_NULL(maestro_buf_data(a)); /* shared: not writable */
  CU_ASSERT_EQUAL(maestro_buf_writable(&b), MAESTRO_OK);
  CU_ASSERT_PTR_NOT_EQUAL(a, b);
  CU_ASSERT_EQUAL(maestro_buf_refs(a), 1);
  *(int *)maestro_buf_data(b) = 9;
  CU_ASSERT_EQUAL(*(const int *)maestro_buf_cdata(a), 7);
  maestro_buf_t *c = a;
  CU_ASSERT_EQUAL(maestro_buf_writable(&c), MAESTRO_OK); /* held alone: no copy */
  CU_ASSERT_PTR_EQUAL(c, a);
  maestro_buf_release(a);
  maestro_buf_release(b);
}

void register_pool_tests(void) {
  ADD_SUITE("pool", pool_init, pool_fini, {"classes", pool_classes}, {"alignment", pool_alignment},
            {"reuses", pool_reuses}, {"copy_on_write", pool_copy_on_write});
}
