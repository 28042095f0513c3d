/* Helpers shared by several test programs: see testutil.h. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/runtime.h"
#include "testmain.h"

int testutil_scale2_cpu(maestro_fire_t *f) {
  maestro_buf_t *in = maestro_fire_in(f, 0);
  size_t n = maestro_buf_size(in) / sizeof(float);
  maestro_buf_t *out;
  int rc = maestro_fire_alloc(f, n * sizeof(float), &out);
  if (rc) return rc;
  const float *x = maestro_buf_cdata(in);
  float *y = maestro_buf_data(out);
  for (size_t i = 0; i < n; i++)
    y[i] = 2.0f * x[i];
  return maestro_fire_out(f, 0, out);
}

maestro_runtime_t *testutil_device_runtime(int zero_copy, size_t device_mem) {
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.zero_copy = zero_copy ? -1 : 0;
  cfg.stats = 0;
  cfg.device_mem = device_mem;
  maestro_runtime_t *rt = NULL;
  int rc = maestro_runtime_create(&cfg, &rt);
  if (rc) fprintf(stderr, "runtime: %s\n", maestro_last_error());
  CU_ASSERT_FATAL(rc == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE) >= 1);
  return rt;
}

int testutil_device_suite_init(maestro_runtime_t **rt) {
  if (maestro_runtime_create(NULL, rt) != MAESTRO_OK)
    return fprintf(stderr, "runtime: %s\n", maestro_last_error()), 1;
  if (maestro_runtime_nplaces(*rt, MAESTRO_PLACE_DEVICE) < 1)
    return fprintf(stderr, "no OpenCL device\n"), 1;
  return 0;
}
