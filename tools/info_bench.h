/* maestro-info --bench: one device's measured link to the host. */
#ifndef MAESTRO_INFO_BENCH_H
#define MAESTRO_INFO_BENCH_H

#include <stddef.h>

struct maestro_runtime;

typedef struct info_bench {
  int status; /* MAESTRO_OK, or a failure described in `error` */
  char error[256];
  size_t bytes;      /* transfer size used for the bandwidth figures */
  double h2d_gbs;    /* host -> device bandwidth, GB/s (1e9 bytes/s) */
  double d2h_gbs;    /* device -> host bandwidth, GB/s */
  double h2d_lat_us; /* latency of a small host -> device transfer, µs */
  double d2h_lat_us; /* latency of a small device -> host transfer, µs */
  double map_us;     /* map + unmap of `bytes` (the zero-copy path), µs */
  int zero_copy;     /* 1 when the runtime uses the zero-copy path there */
} info_bench_t;

/* Measures device place `dev` (maestro_runtime_measure_link). */
void info_bench_device(struct maestro_runtime *rt, int dev, info_bench_t *out);

#endif
