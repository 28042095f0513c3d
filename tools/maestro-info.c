/* maestro-info: what Maestro sees on this machine. The topology (packages,
 * NUMA nodes, cores, caches), every place with its properties, why the
 * runtime is CPU-only when it is, and with --bench the measured
 * host<->device bandwidth and latency of every device. --json for scripts.
 *
 * The MAESTRO_* environment applies, so `MAESTRO_DEVICES=none maestro-info`
 * shows what a program run the same way would get. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maestro.h"
#include "base/json.h" /* compiled into maestro-info (tools/maestro-info.cmake) */
#include "info_bench.h"

static void usage(FILE *f) {
  fputs(
      "usage: maestro-info [--json] [--bench] [--help] [--version]\n"
      "  Prints the machine topology and the places (CPU cores, OpenCL devices)\n"
      "  a Maestro runtime gets here. The MAESTRO_* environment variables apply.\n"
      "  --bench    also measure host->device / device->host bandwidth and latency\n"
      "  --json     one JSON object: {\"cpus\": [...], \"devices\": [...], \"topology\": {...}}\n",
      f);
}

static const char *dev_type_name(maestro_device_type_t t) {
  switch (t) {
  case MAESTRO_DEVICE_CPU: return "cpu";
  case MAESTRO_DEVICE_GPU: return "gpu";
  case MAESTRO_DEVICE_ACCELERATOR: return "accelerator";
  case MAESTRO_DEVICE_OTHER: return "other";
  default: return "none";
  }
}

static void fmt_mem(char *out, size_t cap, uint64_t b) {
  if (b == 0)
    snprintf(out, cap, "-");
  else if (b >= (1ull << 30))
    snprintf(out, cap, "%.1f GiB", (double)b / (double)(1ull << 30));
  else
    snprintf(out, cap, "%.0f MiB", (double)b / (double)(1ull << 20));
}

static void print_text(maestro_runtime_t *rt, const info_bench_t *bench, int nbench) {
  printf("Maestro %s\n\n", maestro_version());
  maestro_runtime_describe_topology(rt, stdout, MAESTRO_DESCRIBE_TEXT);

  int ncpu = maestro_runtime_nplaces(rt, MAESTRO_PLACE_CPU);
  int ndev = maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE);
  maestro_place_info_t p;
  char mem[32];

  printf("\nCPU places: %d\n", ncpu);
  printf("  %-6s %-8s %-5s %-10s %s\n", "place", "OS PUs", "NUMA", "node mem", "model");
  for (int i = 0; i < ncpu; i++) {
    if (maestro_runtime_place_info(rt, MAESTRO_PLACE_CPU, i, &p) != MAESTRO_OK) continue;
    char pus[64] = "?";
    maestro_runtime_place_pus(rt, i, pus, sizeof pus);
    fmt_mem(mem, sizeof mem, p.mem_bytes);
    printf("  %-6s %-8s %-5d %-10s %s\n", p.name, pus, p.numa_node, mem, p.vendor);
  }

  printf("\nDevice places: %d\n", ndev);
  if (ndev > 0) {
    char alloc[32];
    printf("  %-6s %-5s %-4s %-10s %-10s %-7s %s\n", "place", "type", "CUs", "global mem",
           "max alloc", "unified", "name / vendor / platform");
    for (int i = 0; i < ndev; i++) {
      if (maestro_runtime_place_info(rt, MAESTRO_PLACE_DEVICE, i, &p) != MAESTRO_OK) continue;
      char label[16];
      snprintf(label, sizeof label, "dev %d", i);
      fmt_mem(mem, sizeof mem, p.mem_bytes);
      fmt_mem(alloc, sizeof alloc, p.max_alloc);
      printf("  %-6s %-5s %-4d %-10s %-10s %-7s %s / %s / %s\n", label,
             dev_type_name(p.device_type), p.compute_units, mem, alloc, p.unified ? "yes" : "no",
             p.name, p.vendor, p.platform);
    }
  }
  const char *why = maestro_runtime_cpu_only_reason(rt);
  if (why) printf("CPU-only: %s\n", why);

  if (bench) {
    printf("\nTransfers (measured now, copies of %zu MiB; shared machines are noisy)\n",
           nbench > 0 ? bench[0].bytes >> 20 : (size_t)0);
    printf("  %-6s %-10s %-10s %-12s %-12s %-12s %s\n", "place", "h2d GB/s", "d2h GB/s",
           "h2d lat us", "d2h lat us", "map+unmap us", "path");
    for (int i = 0; i < nbench; i++) {
      if (bench[i].status != MAESTRO_OK) {
        printf("  dev %-2d failed: %s\n", i, bench[i].error);
        continue;
      }
      printf("  dev %-2d %-10.2f %-10.2f %-12.1f %-12.1f %-12.1f %s\n", i, bench[i].h2d_gbs,
             bench[i].d2h_gbs, bench[i].h2d_lat_us, bench[i].d2h_lat_us, bench[i].map_us,
             bench[i].zero_copy ? "zero-copy" : "copy");
    }
    if (nbench == 0) printf("  (no device)\n");
  }
}

static void json_place(maestro_runtime_t *rt, const maestro_place_info_t *p) {
  printf("{\"index\": %d, \"name\": ", p->index);
  json_write_str(stdout, p->name);
  printf(", \"vendor\": ");
  json_write_str(stdout, p->vendor);
  if (p->kind == MAESTRO_PLACE_DEVICE) {
    printf(", \"platform\": ");
    json_write_str(stdout, p->platform);
    printf(", \"type\": \"%s\", \"compute_units\": %d, \"max_alloc\": %llu",
           dev_type_name(p->device_type), p->compute_units, (unsigned long long)p->max_alloc);
  } else {
    char pus[64] = "";
    maestro_runtime_place_pus(rt, p->index, pus, sizeof pus);
    printf(", \"os_index\": %d, \"pus\": ", p->os_index);
    json_write_str(stdout, pus);
  }
  printf(", \"numa_node\": %d, \"mem_bytes\": %llu, \"unified\": %s}", p->numa_node,
         (unsigned long long)p->mem_bytes, p->unified ? "true" : "false");
}

static void print_json(maestro_runtime_t *rt, const info_bench_t *bench, int nbench) {
  maestro_place_info_t p;
  printf("{\"version\": ");
  json_write_str(stdout, maestro_version());
  for (int k = 0; k < 2; k++) {
    maestro_place_kind_t kind = k ? MAESTRO_PLACE_DEVICE : MAESTRO_PLACE_CPU;
    printf(", \"%s\": [", k ? "devices" : "cpus");
    int n = maestro_runtime_nplaces(rt, kind);
    for (int i = 0; i < n; i++) {
      if (maestro_runtime_place_info(rt, kind, i, &p) != MAESTRO_OK) continue;
      if (i) printf(", ");
      json_place(rt, &p);
    }
    printf("]");
  }
  printf(", \"cpu_only_reason\": ");
  json_write_str(stdout, maestro_runtime_cpu_only_reason(rt));
  printf(", \"topology\": ");
  maestro_runtime_describe_topology(rt, stdout, MAESTRO_DESCRIBE_JSON);
  if (bench) {
    printf(", \"bench\": [");
    for (int i = 0; i < nbench; i++) {
      printf("%s{\"device\": %d", i ? ", " : "", i);
      if (bench[i].status == MAESTRO_OK)
        printf(", \"h2d_gbs\": %.3f, \"d2h_gbs\": %.3f, \"h2d_lat_us\": %.2f, "
               "\"d2h_lat_us\": %.2f, \"map_us\": %.2f, \"zero_copy\": %s, \"bytes\": %zu}",
               bench[i].h2d_gbs, bench[i].d2h_gbs, bench[i].h2d_lat_us, bench[i].d2h_lat_us,
               bench[i].map_us, bench[i].zero_copy ? "true" : "false", bench[i].bytes);
      else {
        printf(", \"error\": ");
        json_write_str(stdout, bench[i].error);
        printf("}");
      }
    }
    printf("]");
  }
  printf("}\n");
}

int main(int argc, char **argv) {
  int json = 0, bench = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--json"))
      json = 1;
    else if (!strcmp(argv[i], "--bench"))
      bench = 1;
    else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(argv[i], "--version")) {
      printf("maestro-info %s\n", maestro_version());
      return 0;
    } else {
      fprintf(stderr, "maestro-info: unknown option '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }

  maestro_config_t cfg;
  int rc = maestro_config_defaults(&cfg);
  if (rc != MAESTRO_OK) {
    fprintf(stderr, "maestro-info: %s\n", maestro_last_error());
    return 1;
  }
  cfg.stats = 0; /* maestro-info is not a program to watch */
  maestro_runtime_t *rt;
  rc = maestro_runtime_create(&cfg, &rt);
  if (rc != MAESTRO_OK) {
    fprintf(stderr, "maestro-info: %s: %s\n", maestro_strerror(rc), maestro_last_error());
    return 1;
  }

  info_bench_t *results = NULL;
  int nbench = 0;
  if (bench) {
    nbench = maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE);
    results = calloc((size_t)(nbench > 0 ? nbench : 1), sizeof *results);
    if (!results) {
      fprintf(stderr, "maestro-info: out of memory\n");
      maestro_runtime_destroy(rt);
      return 1;
    }
    for (int i = 0; i < nbench; i++)
      info_bench_device(rt, i, &results[i]);
  }

  if (json)
    print_json(rt, results, nbench);
  else
    print_text(rt, results, nbench);
  free(results);
  maestro_runtime_destroy(rt);
  return 0;
}
