/* Two OpenCL devices: run with POCL_DEVICES="pthread pthread". */
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "testmain.h"

static int setup(void) {
  clear_maestro_env();
  return 0;
}

static void test_two_device_places(void) {
  maestro_runtime_t *rt = NULL;
  CU_ASSERT_EQUAL_FATAL(make_runtime(NULL, 0, &rt), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE), 2);
  CU_ASSERT_PTR_NULL(maestro_runtime_cpu_only_reason(rt));
  for (int i = 0; i < 2; i++) {
    maestro_place_info_t p;
    CU_ASSERT_EQUAL_FATAL(maestro_runtime_place_info(rt, MAESTRO_PLACE_DEVICE, i, &p), MAESTRO_OK);
    CU_ASSERT_EQUAL(p.index, i);
    CU_ASSERT_EQUAL(p.device_type, MAESTRO_DEVICE_CPU);
    CU_ASSERT_TRUE(p.unified);
  }
  maestro_place_info_t p;
  CU_ASSERT_EQUAL(maestro_runtime_place_info(rt, MAESTRO_PLACE_DEVICE, 2, &p), MAESTRO_ENODEV);
  maestro_runtime_destroy(rt);
}

/* MAESTRO_DEVICES=1 keeps only the second device; it becomes place 0. */
static void test_select_second(void) {
  setenv("MAESTRO_DEVICES", "1", 1);
  maestro_runtime_t *rt = NULL;
  CU_ASSERT_EQUAL_FATAL(maestro_runtime_create(NULL, &rt), MAESTRO_OK);
  unsetenv("MAESTRO_DEVICES");
  CU_ASSERT_EQUAL(maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE), 1);
  maestro_place_info_t p;
  CU_ASSERT_EQUAL(maestro_runtime_place_info(rt, MAESTRO_PLACE_DEVICE, 0, &p), MAESTRO_OK);
  CU_ASSERT_EQUAL(p.index, 0);
  CU_ASSERT_EQUAL(maestro_runtime_place_info(rt, MAESTRO_PLACE_DEVICE, 1, &p), MAESTRO_ENODEV);
  maestro_runtime_destroy(rt);
}

static void test_select_both_and_missing(void) {
  maestro_runtime_t *rt = NULL;
  CU_ASSERT_EQUAL_FATAL(make_runtime("1,0", 0, &rt), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE), 2);
  maestro_runtime_destroy(rt);
  rt = NULL;
  CU_ASSERT_EQUAL(make_runtime("0,2", 0, &rt), MAESTRO_ENODEV);
  CU_ASSERT_PTR_NULL(rt);
  CU_ASSERT_TRUE(last_error_has("2"));
}

void register_suites(void) {
  ADD_SUITE("two devices", setup, NULL, {"two device places", test_two_device_places},
            {"MAESTRO_DEVICES=1", test_select_second},
            {"1,0 and a missing 2", test_select_both_and_missing});
}
