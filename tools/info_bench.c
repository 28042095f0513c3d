/* maestro-info --bench, until runtime/ocl provides ocl_measure_link. */
#include "info_bench.h"

#include <stdio.h>

#include "maestro.h"

void info_bench_device(struct maestro_runtime *rt, int dev, info_bench_t *out) {
  (void)rt;
  (void)dev;
  out->status = MAESTRO_ENODEV;
  snprintf(out->error, sizeof out->error, "transfer measurement not built yet (runtime/ocl)");
}
