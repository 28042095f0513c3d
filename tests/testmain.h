/* Shared by every CUnit suite: each test program defines
 * `void register_suites(void)` adding its suites, and gets main() from
 * testmain.c (basic mode, verbose, non-zero exit on any failure). */
#ifndef MAESTRO_TESTMAIN_H
#define MAESTRO_TESTMAIN_H

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

void register_suites(void);

/* Adds a suite with its tests: ADD_SUITE("name", init, fini, {"t", fn}, ...). */
typedef struct {
  const char *name;
  CU_TestFunc fn;
} test_entry_t;
CU_pSuite test_suite(const char *name, CU_InitializeFunc init, CU_CleanupFunc fini,
                     const test_entry_t *tests, int n);
#define ADD_SUITE(name, init, fini, ...)                                                           \
  do {                                                                                             \
    static const test_entry_t tests_[] = {__VA_ARGS__};                                            \
    test_suite(name, init, fini, tests_, (int)(sizeof tests_ / sizeof tests_[0]));                 \
  } while (0)

#endif
