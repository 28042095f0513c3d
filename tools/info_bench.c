/* maestro-info --bench: one device's link to the host, measured by
 * maestro_runtime_measure_link, in the units maestro-info prints. */
#include "info_bench.h"

#include <stdio.h>
#include <string.h>

#include "maestro.h"

void info_bench_device(struct maestro_runtime *rt, int dev, info_bench_t *out) {
  memset(out, 0, sizeof *out);
  maestro_link_info_t link;
  out->status = maestro_runtime_measure_link(rt, dev, 0, &link);
  if (out->status != MAESTRO_OK) {
    snprintf(out->error, sizeof out->error, "%s", maestro_last_error());
    return;
  }
  out->bytes = link.bytes;
  out->h2d_gbs = link.h2d_gbps;
  out->d2h_gbs = link.d2h_gbps;
  out->h2d_lat_us = (double)link.h2d_lat_ns / 1e3;
  out->d2h_lat_us = (double)link.d2h_lat_ns / 1e3;
  out->map_us = (double)link.map_ns / 1e3;
  out->zero_copy = link.zero_copy;
}
