/* A machine without any OpenCL platform: run with OCL_ICD_VENDORS pointing
 * at an empty directory. The runtime is CPU-only and says why; not an error. */
#include <string.h>

#include "common.h"
#include "testmain.h"

static void test_cpu_only(void) {
  clear_maestro_env();
  maestro_runtime_t *rt = NULL;
  CU_ASSERT_EQUAL_FATAL(maestro_runtime_create(NULL, &rt), MAESTRO_OK);
  CU_ASSERT_TRUE(maestro_runtime_nplaces(rt, MAESTRO_PLACE_CPU) >= 1);
  CU_ASSERT_EQUAL(maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE), 0);
  const char *why = maestro_runtime_cpu_only_reason(rt);
  CU_ASSERT_PTR_NOT_NULL_FATAL(why);
  CU_ASSERT_TRUE(strstr(why, "platform") != NULL);
  maestro_place_info_t p;
  CU_ASSERT_EQUAL(maestro_runtime_place_info(rt, MAESTRO_PLACE_DEVICE, 0, &p), MAESTRO_ENODEV);
  maestro_runtime_destroy(rt);
}

/* Asking for a device that is not there is an error, though. */
static void test_device_asked_for(void) {
  maestro_runtime_t *rt = NULL;
  CU_ASSERT_EQUAL(make_runtime("0", 0, &rt), MAESTRO_ENODEV);
  CU_ASSERT_PTR_NULL(rt);
}

void register_suites(void) {
  ADD_SUITE("no OpenCL platform", NULL, NULL, {"CPU-only, reason given", test_cpu_only},
            {"device 0 asked for", test_device_asked_for});
}
