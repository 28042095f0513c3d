/* Channels count the bytes their messages move across the host/device
 * boundary (prof_chan_rec bytes_h2d/d2h, what maestro-top's channels view
 * shows): host -> device agent -> host on the copy path (MAESTRO_ZERO_COPY=0)
 * moves every input message's bytes host -> device on the input channel and
 * every result device -> host on the output channel (read right behind the
 * kernel for the host, ocl_launch_ex); the zero-copy path moves none. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maestro.h"
#include "base/runtime.h"
#include "base/stats_rec.h"
#include "testmain.h"

#define N_MSG  24
#define N_ELEM 1024

static const maestro_port_t f32_in[] = {{"in", MAESTRO_F32, 0}};
static const maestro_port_t f32_out[] = {{"out", MAESTRO_F32, 0}};
static const maestro_karg_t args[] = {MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0),
                                      MAESTRO_KARG_COUNT(0)};
static const maestro_kernel_t twice_cl = {
    .source = "__kernel void twice(__global const float *x, __global float *y, uint n)"
              "{ size_t i = get_global_id(0); if (i < n) y[i] = 2.0f * x[i]; }",
    .name = "twice",
    .args = args,
    .n_args = 3,
    .range_port = 0};

/* Runs N_MSG messages through a device-only agent; fills the two channels' records. */
static void run(int zero_copy, struct prof_chan_rec *to_dev, struct prof_chan_rec *from_dev) {
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.zero_copy = zero_copy ? -1 : 0;
  cfg.stats = 0;
  maestro_runtime_t *rt;
  CU_ASSERT_EQUAL_FATAL(maestro_runtime_create(&cfg, &rt), MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE) >= 1);
  maestro_graph_t *g;
  maestro_agent_t *a;
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_create(rt, "bytes", &g), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(
      maestro_agent_add(g,
                        &(maestro_agent_desc_t){.name = "twice",
                                                .in = f32_in,
                                                .n_in = 1,
                                                .out = f32_out,
                                                .n_out = 1,
                                                .kernel = &twice_cl,
                                                .affinity = {MAESTRO_ON_DEVICE, 0, 0}},
                        &a),
      MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_input(g, a, "in", &in), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_output(g, a, "out", &out), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_start(g), MAESTRO_OK);
  float x[N_ELEM];
  for (int i = 0; i < N_ELEM; i++)
    x[i] = (float)i;
  int bad = 0, got = 0;
  for (int m = 0; m < N_MSG; m++) {
    maestro_buf_t *b;
    CU_ASSERT_EQUAL_FATAL(maestro_buf_from(rt, x, sizeof x, &b), MAESTRO_OK);
    CU_ASSERT_EQUAL(maestro_input_push(in, b), MAESTRO_OK);
  }
  maestro_input_close(in);
  maestro_buf_t *b;
  while (maestro_output_pop(out, &b, 20000) == MAESTRO_OK) {
    const float *y = maestro_buf_cdata(b);
    bad += maestro_buf_size(b) != sizeof x || y[N_ELEM - 1] != 2.0f * (float)(N_ELEM - 1);
    got++;
    maestro_buf_release(b);
  }
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(got, N_MSG);
  CU_ASSERT_EQUAL(bad, 0);
  struct prof_chan_rec recs[8];
  memset(recs, 0, sizeof recs);
  int n = -1; /* through the collector core registered */
  for (int i = 0; i < stats_collectors(rt); i++)
    if (rt->collectors[i]->channels) n = rt->collectors[i]->channels(rt, recs, 8);
  CU_ASSERT_EQUAL_FATAL(n, 2);
  memset(to_dev, 0, sizeof *to_dev);
  memset(from_dev, 0, sizeof *from_dev);
  for (int i = 0; i < n; i++) {
    if (strstr(recs[i].to, "twice")) *to_dev = recs[i];
    if (strstr(recs[i].from, "twice")) *from_dev = recs[i];
  }
  CU_ASSERT_EQUAL(to_dev->msgs, N_MSG);
  CU_ASSERT_EQUAL(from_dev->msgs, N_MSG);
  maestro_graph_destroy(g);
  maestro_runtime_destroy(rt);
}

static void copy_path_counts_bytes(void) {
  struct prof_chan_rec to_dev, from_dev;
  run(0, &to_dev, &from_dev);
  CU_ASSERT_EQUAL(to_dev.bytes_h2d, (uint64_t)N_MSG * N_ELEM * sizeof(float));
  CU_ASSERT_EQUAL(to_dev.bytes_d2h, 0);
  CU_ASSERT_EQUAL(to_dev.bytes_d2d, 0);
  CU_ASSERT_EQUAL(from_dev.bytes_d2h, (uint64_t)N_MSG * N_ELEM * sizeof(float));
  CU_ASSERT_EQUAL(from_dev.bytes_h2d, 0);
}

static void zero_copy_moves_nothing(void) {
  struct prof_chan_rec to_dev, from_dev;
  run(1, &to_dev, &from_dev);
  CU_ASSERT_EQUAL(to_dev.bytes_h2d, 0);
  CU_ASSERT_EQUAL(from_dev.bytes_d2h, 0);
  CU_ASSERT_EQUAL(to_dev.bytes_d2d + from_dev.bytes_d2d, 0);
}

/* A kernel agent with more outputs than a slot holds inline (9 > 8): every
 * output reaches its consumer (once, none leaked). */
#define N_OUT9 9
static const maestro_port_t nine_out[N_OUT9] = {
    {"o0", MAESTRO_F32, 0}, {"o1", MAESTRO_F32, 0}, {"o2", MAESTRO_F32, 0},
    {"o3", MAESTRO_F32, 0}, {"o4", MAESTRO_F32, 0}, {"o5", MAESTRO_F32, 0},
    {"o6", MAESTRO_F32, 0}, {"o7", MAESTRO_F32, 0}, {"o8", MAESTRO_F32, 0}};
static const maestro_karg_t nine_args[] = {
    MAESTRO_KARG_IN(0),  MAESTRO_KARG_OUT(0), MAESTRO_KARG_OUT(1),  MAESTRO_KARG_OUT(2),
    MAESTRO_KARG_OUT(3), MAESTRO_KARG_OUT(4), MAESTRO_KARG_OUT(5),  MAESTRO_KARG_OUT(6),
    MAESTRO_KARG_OUT(7), MAESTRO_KARG_OUT(8), MAESTRO_KARG_COUNT(0)};
static const maestro_kernel_t nine_cl = {
    .source = "__kernel void nine(__global const float *x, __global float *y0, __global float *y1,"
              " __global float *y2, __global float *y3, __global float *y4, __global float *y5,"
              " __global float *y6, __global float *y7, __global float *y8, uint n)"
              "{ size_t i = get_global_id(0); if (i >= n) return; y0[i] = x[i]; y1[i] = x[i] + 1;"
              " y2[i] = x[i] + 2; y3[i] = x[i] + 3; y4[i] = x[i] + 4; y5[i] = x[i] + 5;"
              " y6[i] = x[i] + 6; y7[i] = x[i] + 7; y8[i] = x[i] + 8; }",
    .name = "nine",
    .args = nine_args,
    .n_args = 11,
    .range_port = 0};

static void nine_outputs_all_delivered(void) {
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.stats = 0;
  maestro_runtime_t *rt;
  CU_ASSERT_EQUAL_FATAL(maestro_runtime_create(&cfg, &rt), MAESTRO_OK);
  maestro_graph_t *g;
  maestro_agent_t *a;
  maestro_input_t *in;
  maestro_output_t *out[N_OUT9];
  CU_ASSERT_EQUAL_FATAL(maestro_graph_create(rt, "nine", &g), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(
      maestro_agent_add(g,
                        &(maestro_agent_desc_t){.name = "nine",
                                                .in = f32_in,
                                                .n_in = 1,
                                                .out = nine_out,
                                                .n_out = N_OUT9,
                                                .kernel = &nine_cl,
                                                .affinity = {MAESTRO_ON_DEVICE, 0, 0}},
                        &a),
      MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_input(g, a, "in", &in), MAESTRO_OK);
  for (int j = 0; j < N_OUT9; j++)
    CU_ASSERT_EQUAL_FATAL(maestro_graph_output(g, a, nine_out[j].name, &out[j]), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_start(g), MAESTRO_OK);
  float x[16];
  for (int m = 0; m < 3; m++) {
    for (int i = 0; i < 16; i++)
      x[i] = (float)(100 * m + i);
    maestro_buf_t *b;
    CU_ASSERT_EQUAL_FATAL(maestro_buf_from(rt, x, sizeof x, &b), MAESTRO_OK);
    CU_ASSERT_EQUAL(maestro_input_push(in, b), MAESTRO_OK);
  }
  maestro_input_close(in);
  int bad = 0;
  for (int j = 0; j < N_OUT9; j++) {
    int got = 0;
    maestro_buf_t *b;
    while (maestro_output_pop(out[j], &b, 20000) == MAESTRO_OK) {
      const float *y = maestro_buf_cdata(b);
      bad += maestro_buf_size(b) != sizeof x || y[5] != (float)(100 * got + 5 + j);
      got++;
      maestro_buf_release(b);
    }
    CU_ASSERT_EQUAL(got, 3);
  }
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_graph_destroy(g);
  maestro_runtime_destroy(rt);
}

void register_suites(void) {
  ADD_SUITE("chan_bytes", NULL, NULL, {"copy path counts bytes", copy_path_counts_bytes},
            {"zero copy moves nothing", zero_copy_moves_nothing},
            {"nine outputs all delivered", nine_outputs_all_delivered});
}
