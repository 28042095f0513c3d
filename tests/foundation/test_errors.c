/* Status codes, maestro_strerror and the per-thread maestro_last_error(). */
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include "common.h"
#include "base/error.h"
#include "testmain.h"

static const int all_codes[] = {
    MAESTRO_OK,     MAESTRO_DONE,    MAESTRO_EINVAL,    MAESTRO_ENOMEM,
    MAESTRO_ENODEV, MAESTRO_ETYPE,   MAESTRO_EGRAPH,    MAESTRO_EBUILD,
    MAESTRO_ECL,    MAESTRO_ECLOSED, MAESTRO_ETIMEDOUT, MAESTRO_ESTATE,
    MAESTRO_EAGENT, MAESTRO_ESYS,    MAESTRO_ECANCELED, MAESTRO_ENOTSUP,
};
enum { NCODES = sizeof all_codes / sizeof all_codes[0] };

static void test_codes_are_what_the_contract_says(void) {
  CU_ASSERT_EQUAL(MAESTRO_OK, 0);
  CU_ASSERT_TRUE(MAESTRO_DONE > 0);
  for (int i = 2; i < NCODES; i++)
    CU_ASSERT_TRUE(all_codes[i] < 0);
}

static void test_strerror_every_code(void) {
  for (int i = 0; i < NCODES; i++) {
    const char *s = maestro_strerror(all_codes[i]);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_TRUE(strlen(s) > 0);
    CU_ASSERT_STRING_NOT_EQUAL(s, "unknown status");
    for (int j = 0; j < i; j++)
      CU_ASSERT_STRING_NOT_EQUAL(s, maestro_strerror(all_codes[j]));
  }
}

static void test_strerror_unknown(void) {
  static const int unknown[] = {2, 100, -15, -1000, INT_MIN, INT_MAX};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
    CU_ASSERT_STRING_EQUAL(maestro_strerror(unknown[i]), "unknown status");
}

static void *fail_in_thread(void *arg) {
  /* A fresh thread starts with an empty message. */
  int *empty_at_start = arg;
  *empty_at_start = maestro_last_error()[0] == '\0';
  maestro_config_defaults(NULL);
  return NULL;
}

static void test_last_error_is_per_thread(void) {
  CU_ASSERT_EQUAL(maestro_runtime_create(NULL, NULL), MAESTRO_EINVAL);
  char mine[256];
  snprintf(mine, sizeof mine, "%s", maestro_last_error());
  CU_ASSERT_TRUE(strstr(mine, "maestro_runtime_create") != NULL);

  pthread_t t;
  int empty_at_start = 0;
  CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, fail_in_thread, &empty_at_start), 0);
  pthread_join(t, NULL);
  CU_ASSERT_TRUE(empty_at_start);
  /* The other thread's failure did not touch this thread's message. */
  CU_ASSERT_STRING_EQUAL(maestro_last_error(), mine);
}

static void test_last_error_long_message_truncated(void) {
  static char big[40000];
  memset(big, 'x', sizeof big - 1);
  CU_ASSERT_EQUAL(err_set(MAESTRO_EBUILD, "log: %s", big), MAESTRO_EBUILD);
  size_t n = strlen(maestro_last_error());
  CU_ASSERT_TRUE(n > 1000 && n < sizeof big);
  err_append("%s", "more");
  CU_ASSERT_EQUAL(strlen(maestro_last_error()), n);
  err_clear();
  CU_ASSERT_STRING_EQUAL(maestro_last_error(), "");
}

static void test_version(void) {
  CU_ASSERT_STRING_EQUAL(maestro_version(), MAESTRO_VERSION_STRING);
}

void register_suites(void) {
  ADD_SUITE("errors", NULL, NULL, {"codes", test_codes_are_what_the_contract_says},
            {"strerror of every code", test_strerror_every_code},
            {"strerror of unknown codes", test_strerror_unknown},
            {"last_error is per thread", test_last_error_is_per_thread},
            {"long messages are truncated", test_last_error_long_message_truncated},
            {"version", test_version});
}
