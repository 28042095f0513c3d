/* Run as `taskset -c 0 test_taskset`: the process may use one PU, so the
 * runtime has exactly one CPU place, on PU 0. */
#include <sched.h>
#include <stdio.h>

#include "common.h"
#include "testmain.h"

static void test_one_place(void) {
  clear_maestro_env();
  cpu_set_t set;
  CU_ASSERT_EQUAL_FATAL(sched_getaffinity(0, sizeof set, &set), 0);
  CU_ASSERT_EQUAL_FATAL(CPU_COUNT(&set), 1); /* the test is run under taskset -c 0 */
  maestro_runtime_t *rt = NULL;
  CU_ASSERT_EQUAL_FATAL(make_runtime("none", 0, &rt), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_runtime_nplaces(rt, MAESTRO_PLACE_CPU), 1);
  maestro_place_info_t p;
  CU_ASSERT_EQUAL(maestro_runtime_place_info(rt, MAESTRO_PLACE_CPU, 0, &p), MAESTRO_OK);
  CU_ASSERT_EQUAL(p.os_index, 0);
  maestro_runtime_destroy(rt);
}

static void test_two_asked_for(void) {
  maestro_runtime_t *rt = NULL;
  CU_ASSERT_EQUAL(make_runtime("none", 2, &rt), MAESTRO_ENODEV);
  CU_ASSERT_TRUE(last_error_has("ncpu=2"));
  CU_ASSERT_TRUE(last_error_has("the 1 this process may use"));
}

static void test_with_devices(void) {
  maestro_runtime_t *rt = NULL;
  CU_ASSERT_EQUAL_FATAL(make_runtime(NULL, 0, &rt), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_runtime_nplaces(rt, MAESTRO_PLACE_CPU), 1);
  maestro_runtime_destroy(rt);
}

void register_suites(void) {
  ADD_SUITE("taskset -c 0", NULL, NULL, {"one CPU place", test_one_place},
            {"ncpu=2 is ENODEV", test_two_asked_for}, {"with devices", test_with_devices});
}
