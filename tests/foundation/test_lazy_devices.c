/* Devices are discovered when first needed (issue 8): a CPU-only program
 * with the default configuration never starts the OpenCL platform (PoCL
 * maps itself into the process only when the ICD loader asks for
 * platforms), and the first question about devices does. One program per
 * process: what is mapped cannot be unmapped. */
#include <stdio.h>
#include <string.h>

#include "maestro.h"
#include "testmain.h"

/* 1 when a shared object whose path contains `name` is mapped. */
static int mapped(const char *name) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[1024];
  int found = 0;
  while (f && !found && fgets(line, sizeof line, f))
    found = strstr(line, name) != NULL;
  if (f) fclose(f);
  return found;
}

static int twice(maestro_fire_t *f) {
  maestro_buf_t *in = maestro_fire_in(f, 0), *out;
  int rc = maestro_fire_alloc(f, sizeof(int), &out);
  if (rc) return rc;
  int v;
  memcpy(&v, maestro_buf_cdata(in), sizeof v);
  v *= 2;
  memcpy(maestro_buf_data(out), &v, sizeof v);
  return maestro_fire_out(f, 0, out);
}

static void test_cpu_only_then_devices(void) {
  CU_ASSERT_FALSE_FATAL(mapped("libpocl")); /* nothing before the runtime */
  maestro_config_t cfg;
  CU_ASSERT_EQUAL_FATAL(maestro_config_defaults(&cfg), MAESTRO_OK);
  cfg.devices = "all";
  cfg.stats = 0;
  maestro_runtime_t *rt;
  CU_ASSERT_EQUAL_FATAL(maestro_runtime_create(&cfg, &rt), MAESTRO_OK);
  /* A CPU-only graph, start to end. */
  static const maestro_port_t in[] = {{"in", MAESTRO_I32, 0}}, out[] = {{"out", MAESTRO_I32, 0}};
  maestro_graph_t *g;
  maestro_agent_t *a;
  maestro_input_t *src;
  maestro_output_t *dst;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_create(rt, "cpu_only", &g), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(
      maestro_agent_add(
          g,
          &(maestro_agent_desc_t){
              .name = "twice", .in = in, .n_in = 1, .out = out, .n_out = 1, .cpu = twice},
          &a),
      MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_input(g, a, "in", &src), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_output(g, a, "out", &dst), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_start(g), MAESTRO_OK);
  for (int i = 0; i < 10; i++) {
    maestro_buf_t *b;
    CU_ASSERT_EQUAL_FATAL(maestro_buf_from(rt, &i, sizeof i, &b), MAESTRO_OK);
    CU_ASSERT_EQUAL(maestro_input_push(src, b), MAESTRO_OK);
  }
  CU_ASSERT_EQUAL(maestro_input_close(src), MAESTRO_OK);
  int n = 0;
  maestro_buf_t *b;
  while (maestro_output_pop(dst, &b, -1) == MAESTRO_OK) {
    int v;
    memcpy(&v, maestro_buf_cdata(b), sizeof v);
    CU_ASSERT_EQUAL(v, 2 * n);
    n++;
    maestro_buf_release(b);
  }
  CU_ASSERT_EQUAL(n, 10);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_graph_destroy(g);
  CU_ASSERT_FALSE(mapped("libpocl")); /* the whole run paid nothing for OpenCL */
  /* The first question about devices discovers them. */
  int ndev = maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE);
  CU_ASSERT_TRUE(ndev >= 1);
  CU_ASSERT_TRUE(mapped("libpocl"));
  maestro_place_info_t info;
  CU_ASSERT_EQUAL(maestro_runtime_place_info(rt, MAESTRO_PLACE_DEVICE, 0, &info), MAESTRO_OK);
  CU_ASSERT_EQUAL(info.kind, MAESTRO_PLACE_DEVICE);
  CU_ASSERT_EQUAL(info.index, 0);
  CU_ASSERT_EQUAL(maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE), ndev); /* once */
  maestro_runtime_destroy(rt);
}

void register_suites(void) {
  ADD_SUITE("foundation_lazy_devices", NULL, NULL,
            {"CPU-only runs start no OpenCL; asking does", test_cpu_only_then_devices});
}
