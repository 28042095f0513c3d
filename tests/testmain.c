/* main() for every CUnit test program. */
#include "testmain.h"

#include <stdio.h>
#include <stdlib.h>

CU_pSuite test_suite(const char *name, CU_InitializeFunc init, CU_CleanupFunc fini,
                     const test_entry_t *tests, int n) {
  CU_pSuite s = CU_add_suite(name, init, fini);
  if (!s) {
    fprintf(stderr, "CU_add_suite(%s): %s\n", name, CU_get_error_msg());
    exit(2);
  }
  for (int i = 0; i < n; i++) {
    if (!CU_add_test(s, tests[i].name, tests[i].fn)) {
      fprintf(stderr, "CU_add_test(%s): %s\n", tests[i].name, CU_get_error_msg());
      exit(2);
    }
  }
  return s;
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  register_suites();
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  unsigned run = CU_get_number_of_tests_run();
  CU_cleanup_registry();
  if (run == 0) {
    fprintf(stderr, "no test ran\n");
    return 1;
  }
  return failed ? 1 : 0;
}
