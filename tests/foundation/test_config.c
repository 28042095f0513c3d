/* Configuration: defaults, every MAESTRO_* variable, good and bad values,
 * and the checks maestro_runtime_create makes on a filled-in struct. */
#include <stdio.h>

#include "common.h"
#include "testmain.h"

static int setup(void) {
  clear_maestro_env();
  return 0;
}

static void test_defaults(void) {
  clear_maestro_env();
  maestro_config_t cfg;
  CU_ASSERT_EQUAL(maestro_config_defaults(&cfg), MAESTRO_OK);
  CU_ASSERT_EQUAL(cfg.ncpu, 0);
  CU_ASSERT_STRING_EQUAL(cfg.devices, "all");
  CU_ASSERT_STRING_EQUAL(cfg.sched, "dmda");
  CU_ASSERT_PTR_NULL(cfg.trace);
  CU_ASSERT_EQUAL(cfg.stats, 1);
  CU_ASSERT_EQUAL(cfg.device_mem, 0);
}

static void test_null_cfg(void) {
  CU_ASSERT_EQUAL(maestro_config_defaults(NULL), MAESTRO_EINVAL);
  CU_ASSERT_TRUE(last_error_has("cfg"));
}

static void test_env_good_values(void) {
  clear_maestro_env();
  setenv("MAESTRO_NCPU", "1", 1);
  setenv("MAESTRO_DEVICES", "0,2", 1);
  setenv("MAESTRO_SCHED", "eager", 1);
  setenv("MAESTRO_TRACE", "/tmp/t.json", 1);
  setenv("MAESTRO_STATS", "0", 1);
  setenv("MAESTRO_DEVICE_MEM", "64M", 1);
  maestro_config_t cfg;
  CU_ASSERT_EQUAL(maestro_config_defaults(&cfg), MAESTRO_OK);
  CU_ASSERT_EQUAL(cfg.ncpu, 1);
  CU_ASSERT_STRING_EQUAL(cfg.devices, "0,2");
  CU_ASSERT_STRING_EQUAL(cfg.sched, "eager");
  CU_ASSERT_STRING_EQUAL(cfg.trace, "/tmp/t.json");
  CU_ASSERT_EQUAL(cfg.stats, 0);
  CU_ASSERT_EQUAL(cfg.device_mem, (size_t)64 << 20);
  clear_maestro_env();
}

static void test_env_devices_forms(void) {
  static const char *good[] = {"all", "none", "0", "1", "0,1", "0,2,5"};
  maestro_config_t cfg;
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    setenv("MAESTRO_DEVICES", good[i], 1);
    CU_ASSERT_EQUAL(maestro_config_defaults(&cfg), MAESTRO_OK);
    CU_ASSERT_STRING_EQUAL(cfg.devices, good[i]);
  }
  clear_maestro_env();
}

static void test_env_sizes(void) {
  static const struct {
    const char *s;
    size_t v;
  } good[] = {{"0", 0},         {"4096", 4096},          {"4K", 4096},           {"4KiB", 4096},
              {"2MB", 2 << 20}, {"1G", (size_t)1 << 30}, {"3g", (size_t)3 << 30}};
  maestro_config_t cfg;
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    setenv("MAESTRO_DEVICE_MEM", good[i].s, 1);
    CU_ASSERT_EQUAL(maestro_config_defaults(&cfg), MAESTRO_OK);
    CU_ASSERT_EQUAL(cfg.device_mem, good[i].v);
  }
  clear_maestro_env();
}

/* Every bad value: MAESTRO_EINVAL, a message naming the variable and the
 * value, and the field keeps its default. */
static void test_env_bad_values(void) {
  static const struct {
    const char *var, *value;
  } bad[] = {
      {"MAESTRO_DEVICES", "banana"},
      {"MAESTRO_DEVICES", "0,"},
      {"MAESTRO_DEVICES", ",1"},
      {"MAESTRO_DEVICES", "0,,1"},
      {"MAESTRO_DEVICES", "-1"},
      {"MAESTRO_DEVICES", "1 2"},
      {"MAESTRO_DEVICES", "ALL!"},
      {"MAESTRO_NCPU", "-3"},
      {"MAESTRO_NCPU", "abc"},
      {"MAESTRO_NCPU", "2x"},
      {"MAESTRO_NCPU", "99999"},
      {"MAESTRO_NCPU", "1.5"},
      {"MAESTRO_SCHED", "fastest"},
      {"MAESTRO_STATS", "2"},
      {"MAESTRO_STATS", "yes"},
      {"MAESTRO_DEVICE_MEM", "-1"},
      {"MAESTRO_DEVICE_MEM", " -1"},
      {"MAESTRO_DEVICE_MEM", "1.5G"},
      {"MAESTRO_DEVICE_MEM", "12T"},
      {"MAESTRO_DEVICE_MEM", "lots"},
      {"MAESTRO_DEVICE_MEM", "99999999999999999999"},
  };
  maestro_config_t cfg;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    clear_maestro_env();
    setenv(bad[i].var, bad[i].value, 1);
    int rc = maestro_config_defaults(&cfg);
    if (rc != MAESTRO_EINVAL || !last_error_has(bad[i].var) || !last_error_has(bad[i].value))
      fprintf(stderr, "  %s='%s' gave %d: %s\n", bad[i].var, bad[i].value, rc,
              maestro_last_error());
    CU_ASSERT_EQUAL(rc, MAESTRO_EINVAL);
    CU_ASSERT_TRUE(last_error_has(bad[i].var));
    CU_ASSERT_TRUE(last_error_has(bad[i].value));
    /* The bad field keeps its default. */
    CU_ASSERT_EQUAL(cfg.ncpu, 0);
    CU_ASSERT_STRING_EQUAL(cfg.devices, "all");
    CU_ASSERT_STRING_EQUAL(cfg.sched, "dmda");
    CU_ASSERT_EQUAL(cfg.stats, 1);
    CU_ASSERT_EQUAL(cfg.device_mem, 0);
  }
  clear_maestro_env();
}

/* An empty variable is the same as an unset one. */
static void test_env_empty(void) {
  clear_maestro_env();
  setenv("MAESTRO_DEVICES", "", 1);
  setenv("MAESTRO_NCPU", "", 1);
  maestro_config_t cfg;
  CU_ASSERT_EQUAL(maestro_config_defaults(&cfg), MAESTRO_OK);
  CU_ASSERT_STRING_EQUAL(cfg.devices, "all");
  CU_ASSERT_EQUAL(cfg.ncpu, 0);
  clear_maestro_env();
}

/* maestro_runtime_create(NULL, ...) uses the environment: a typo there
 * fails instead of silently running another configuration. */
static void test_create_null_cfg_bad_env(void) {
  clear_maestro_env();
  setenv("MAESTRO_DEVICES", "banana", 1);
  maestro_runtime_t *rt = (maestro_runtime_t *)1;
  CU_ASSERT_EQUAL(maestro_runtime_create(NULL, &rt), MAESTRO_EINVAL);
  CU_ASSERT_PTR_NULL(rt);
  CU_ASSERT_TRUE(last_error_has("MAESTRO_DEVICES"));
  clear_maestro_env();
  setenv("MAESTRO_NCPU", "-3", 1);
  CU_ASSERT_EQUAL(maestro_runtime_create(NULL, &rt), MAESTRO_EINVAL);
  CU_ASSERT_TRUE(last_error_has("MAESTRO_NCPU"));
  clear_maestro_env();
}

/* Fields a program sets itself are checked by maestro_runtime_create. */
static void test_create_bad_struct(void) {
  clear_maestro_env();
  maestro_config_t cfg;
  maestro_runtime_t *rt = NULL;
  maestro_config_defaults(&cfg);
  cfg.ncpu = -1;
  CU_ASSERT_EQUAL(maestro_runtime_create(&cfg, &rt), MAESTRO_EINVAL);
  CU_ASSERT_TRUE(last_error_has("ncpu"));
  CU_ASSERT_PTR_NULL(rt);

  maestro_config_defaults(&cfg);
  cfg.devices = "banana";
  CU_ASSERT_EQUAL(maestro_runtime_create(&cfg, &rt), MAESTRO_EINVAL);
  CU_ASSERT_TRUE(last_error_has("devices"));
  CU_ASSERT_TRUE(last_error_has("banana"));

  maestro_config_defaults(&cfg);
  cfg.sched = "random";
  CU_ASSERT_EQUAL(maestro_runtime_create(&cfg, &rt), MAESTRO_EINVAL);
  CU_ASSERT_TRUE(last_error_has("sched"));

  maestro_config_defaults(&cfg);
  cfg.stats = 7;
  CU_ASSERT_EQUAL(maestro_runtime_create(&cfg, &rt), MAESTRO_EINVAL);
  CU_ASSERT_TRUE(last_error_has("stats"));

  CU_ASSERT_EQUAL(maestro_runtime_create(&cfg, NULL), MAESTRO_EINVAL);
  CU_ASSERT_TRUE(last_error_has("rt"));
}

void register_suites(void) {
  ADD_SUITE("config", setup, NULL, {"defaults", test_defaults}, {"null cfg", test_null_cfg},
            {"env good values", test_env_good_values},
            {"env device list forms", test_env_devices_forms}, {"env sizes", test_env_sizes},
            {"env bad values", test_env_bad_values}, {"env empty = unset", test_env_empty},
            {"create(NULL) with bad env", test_create_null_cfg_bad_env},
            {"create with bad struct", test_create_bad_struct});
}
