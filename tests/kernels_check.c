/* Kernel agents refuse input messages of the wrong size before anything is
 * launched: bundled agents (image not width * height, SGEMM not m * k,
 * bytes not a whole number of elements) on the device and on the CPU, with
 * the same check and the same words, and user kernels (a message that is
 * not a whole number of its port's elements; a user .check hook). The
 * failure reaches the supervisor like any failed firing: STOP ->
 * MAESTRO_EAGENT naming the agent, SKIP -> the message is dead-lettered and
 * the good messages around it come out right, in order. Nothing is lost. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/runtime.h"
#include "kern/kern.h"
#include "maestro.h"
#include "backend/opencl/ocl.h"
#include "testmain.h"
#include "testutil.h"

static maestro_runtime_t *rt;

static int suite_init(void) {
  return testutil_device_suite_init(&rt);
}
static int suite_fini(void) {
  maestro_runtime_destroy(rt);
  return 0;
}

static int has(const char *msg, const char *part) {
  if (strstr(msg, part)) return 1;
  fprintf(stderr, "message \"%s\" lacks \"%s\"\n", msg, part);
  return 0;
}

static maestro_buf_t *floats(size_t n, float base) {
  maestro_buf_t *b;
  CU_ASSERT_FATAL(maestro_buf_create(rt, n * sizeof(float), &b) == MAESTRO_OK);
  float *x = maestro_buf_data(b);
  for (size_t i = 0; i < n; i++)
    x[i] = base + (float)i;
  return b;
}

static maestro_buf_t *bytes_buf(size_t n) {
  maestro_buf_t *b;
  CU_ASSERT_FATAL(maestro_buf_create(rt, n, &b) == MAESTRO_OK);
  if (n) memset(maestro_buf_data(b), 0, n);
  return b;
}

/* ---- ocl_launch itself: refused on the calling thread, done() never called ---- */

static int done_calls;
static void on_done(void *ctx, maestro_buf_t **out, const ocl_launch_result_t *r) {
  (void)ctx;
  (void)r;
  if (out[0]) maestro_buf_release(out[0]);
  __atomic_add_fetch(&done_calls, 1, __ATOMIC_SEQ_CST);
}

/* Launches `in` on device 0; returns the status and copies the message. */
static int launch_msg(ocl_kagent_t *ka, maestro_buf_t **in, char *msg, size_t len) {
  int rc = ocl_launch(ka, 0, in, on_done, NULL);
  snprintf(msg, len, "%s", maestro_last_error());
  return rc;
}

static void test_launch_refuses_bundled(void) {
  static maestro_bundled_agent_t tr, mm;
  maestro_bundled_params_t p = {.width = 4, .height = 4};
  CU_ASSERT_FATAL(maestro_bundled_agent(MAESTRO_BUNDLED_TRANSPOSE, "tr", &p, &tr) == MAESTRO_OK);
  maestro_bundled_params_t q = {.m = 3, .n = 5, .k = 2};
  CU_ASSERT_FATAL(maestro_bundled_agent(MAESTRO_BUNDLED_SGEMM, "mm", &q, &mm) == MAESTRO_OK);
  ocl_kagent_t *ka_tr, *ka_mm;
  CU_ASSERT_FATAL(ocl_kagent_create(rt, "tr", &tr.kernel, tr.desc.in, tr.desc.n_in, tr.desc.out,
                                    tr.desc.n_out, &ka_tr) == MAESTRO_OK);
  CU_ASSERT_FATAL(ocl_kagent_create(rt, "mm", &mm.kernel, mm.desc.in, mm.desc.n_in, mm.desc.out,
                                    mm.desc.n_out, &ka_mm) == MAESTRO_OK);
  done_calls = 0;
  char msg[512];
  /* 15 floats for a 4 x 4 matrix */
  maestro_buf_t *b = floats(15, 0);
  CU_ASSERT_EQUAL(launch_msg(ka_tr, &b, msg, sizeof msg), MAESTRO_EINVAL);
  CU_ASSERT(has(msg, "agent 'tr'") && has(msg, "input 0 'in'") && has(msg, "15 elements") &&
            has(msg, "expected 16") && has(msg, "width * height = 4 * 4"));
  /* the CPU side says exactly the same thing (one shared check) */
  size_t sz = maestro_buf_size(b), count[2];
  char why[256], same[512];
  CU_ASSERT_EQUAL(kern_check_inputs(&tr, &sz, count, why, sizeof why), MAESTRO_EINVAL);
  snprintf(same, sizeof same, "agent 'tr': kernel 'maestro_transpose': %s", why);
  CU_ASSERT_STRING_EQUAL(msg, same);
  maestro_buf_release(b);
  /* 62 bytes: not whole floats */
  b = bytes_buf(62);
  CU_ASSERT_EQUAL(launch_msg(ka_tr, &b, msg, sizeof msg), MAESTRO_EINVAL);
  CU_ASSERT(has(msg, "agent 'tr'") && has(msg, "input 0 'in'") && has(msg, "62 bytes") &&
            has(msg, "4-byte elements"));
  maestro_buf_release(b);
  /* SGEMM: a right (3 x 2), b wrong (9 instead of 2 x 5) */
  maestro_buf_t *ab[2] = {floats(6, 0), floats(9, 0)};
  CU_ASSERT_EQUAL(launch_msg(ka_mm, ab, msg, sizeof msg), MAESTRO_EINVAL);
  CU_ASSERT(has(msg, "agent 'mm'") && has(msg, "input 1 'b'") && has(msg, "9 elements") &&
            has(msg, "expected 10") && has(msg, "k * n = 2 * 5"));
  maestro_buf_release(ab[1]);
  ab[1] = floats(7, 0); /* a is checked first */
  maestro_buf_release(ab[0]);
  ab[0] = floats(5, 0);
  CU_ASSERT_EQUAL(launch_msg(ka_mm, ab, msg, sizeof msg), MAESTRO_EINVAL);
  CU_ASSERT(has(msg, "input 0 'a'") && has(msg, "expected 6") && has(msg, "m * k = 3 * 2"));
  maestro_buf_release(ab[0]);
  maestro_buf_release(ab[1]);
  CU_ASSERT_EQUAL(done_calls, 0); /* nothing was enqueued */
  /* the right sizes launch */
  b = floats(16, 0);
  CU_ASSERT_EQUAL(ocl_launch(ka_tr, 0, &b, on_done, NULL), MAESTRO_OK);
  while (__atomic_load_n(&done_calls, __ATOMIC_SEQ_CST) < 1)
    usleep(1000);
  maestro_buf_release(b);
  ocl_kagent_destroy(ka_tr);
  ocl_kagent_destroy(ka_mm);
}

/* Every bundled operation refuses the same sizes on the CPU side as in the
 * kernel check, and accepts the right ones. */
static void test_check_every_op(void) {
  static maestro_bundled_agent_t ba;
  maestro_bundled_params_t p = {
      .a = 1, .width = 3, .height = 2, .m = 2, .n = 3, .k = 4, .lo = 0, .hi = 1};
  for (int w = 0; w < MAESTRO_BUNDLED_COUNT; w++) {
    CU_ASSERT_FATAL(maestro_bundled_agent((maestro_bundled_t)w, "op", &p, &ba) == MAESTRO_OK);
    int u8 = w == MAESTRO_BUNDLED_HISTOGRAM_U8;
    size_t es = u8 ? 1 : 4, good[2] = {6 * es, 6 * es}, count[2];
    if (w == MAESTRO_BUNDLED_SGEMM) good[0] = 8 * es, good[1] = 12 * es;
    char why[256];
    CU_ASSERT_EQUAL(kern_check_inputs(&ba, good, count, why, sizeof why), MAESTRO_OK);
    size_t odd[2] = {good[0] + 1, good[1]};
    CU_ASSERT_EQUAL(kern_check_inputs(&ba, odd, count, why, sizeof why),
                    u8 ? MAESTRO_OK : MAESTRO_EINVAL);
    size_t more[2] = {good[0] + es, good[1]}; /* one element more on input 0 */
    int sized = w == MAESTRO_BUNDLED_SAXPY || w == MAESTRO_BUNDLED_ADD ||
                w == MAESTRO_BUNDLED_TRANSPOSE || w == MAESTRO_BUNDLED_SGEMM ||
                w == MAESTRO_BUNDLED_CONV3X3 || w == MAESTRO_BUNDLED_CONV5X5;
    CU_ASSERT_EQUAL(kern_check_inputs(&ba, more, count, why, sizeof why),
                    sized ? MAESTRO_EINVAL : MAESTRO_OK);
  }
  size_t one = 4, count[2];
  char why[256];
  CU_ASSERT_EQUAL(kern_check_inputs(NULL, &one, count, why, sizeof why), MAESTRO_EINVAL);
  CU_ASSERT(has(why, "no bundled agent state"));
}

/* ---- through graphs ---- */

enum { MAXMSG = 4 };

typedef struct run {
  int wait_st;
  char wait_msg[512];
  int nout;
  size_t out_bytes[MAXMSG];
  float out[MAXMSG][64]; /* first 64 floats of each output */
  int nletters;
  maestro_letter_t letters[2 * MAXMSG]; /* .agent/.port point to agent/port below */
  char agent[2 * MAXMSG][16], port[2 * MAXMSG][16];
  char reason[2 * MAXMSG][256]; /* .reason copied ("" for NULL) */
  maestro_agent_stats_t stats;
} run_t;

/* One agent, its inputs fed from the host with msgs[m][port], its output
 * port 0 and the dead letters drained. */
static void run_graph(const maestro_agent_desc_t *d, maestro_buf_t *msgs[][2], int nmsg, run_t *r) {
  memset(r, 0, sizeof *r);
  maestro_graph_t *g;
  maestro_agent_t *a;
  CU_ASSERT_FATAL(maestro_graph_create(rt, "check", &g) == MAESTRO_OK);
  int rc = maestro_agent_add(g, d, &a);
  if (rc) fprintf(stderr, "agent_add: %s\n", maestro_last_error());
  CU_ASSERT_FATAL(rc == MAESTRO_OK);
  maestro_input_t *in[2];
  for (int i = 0; i < d->n_in; i++)
    CU_ASSERT_FATAL(maestro_graph_input(g, a, d->in[i].name, &in[i]) == MAESTRO_OK);
  maestro_output_t *out, *dl;
  CU_ASSERT_FATAL(maestro_graph_output(g, a, d->out[0].name, &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_dead_letters(g, &dl) == MAESTRO_OK);
  rc = maestro_graph_start(g);
  if (rc) fprintf(stderr, "start: %s\n", maestro_last_error());
  CU_ASSERT_FATAL(rc == MAESTRO_OK);
  for (int m = 0; m < nmsg; m++)
    for (int i = 0; i < d->n_in; i++)
      maestro_input_push(in[i], msgs[m][i]); /* hands the reference over, also on failure */
  for (int i = 0; i < d->n_in; i++)
    maestro_input_close(in[i]);
  maestro_buf_t *b;
  while (maestro_output_pop(out, &b, 20000) == MAESTRO_OK) {
    if (r->nout < MAXMSG) {
      size_t n = maestro_buf_size(b);
      r->out_bytes[r->nout] = n;
      const float *y = maestro_buf_cdata(b);
      if (y) memcpy(r->out[r->nout], y, n < sizeof r->out[0] ? n : sizeof r->out[0]);
    }
    r->nout++;
    maestro_buf_release(b);
  }
  maestro_letter_t why;
  while (maestro_output_pop_letter(dl, &b, &why, 20000) == MAESTRO_OK) {
    if (r->nletters < 2 * MAXMSG) r->letters[r->nletters] = why;
    r->nletters++;
    maestro_buf_release(b);
  }
  r->wait_st = maestro_graph_wait(g);
  snprintf(r->wait_msg, sizeof r->wait_msg, "%s", maestro_last_error());
  CU_ASSERT_EQUAL(maestro_agent_stats(a, &r->stats), MAESTRO_OK);
  for (int k = 0; k < r->nletters && k < 2 * MAXMSG; k++) { /* graph-owned strings: copy */
    snprintf(r->agent[k], sizeof r->agent[k], "%s", r->letters[k].agent);
    snprintf(r->port[k], sizeof r->port[k], "%s", r->letters[k].port);
    r->letters[k].agent = r->agent[k];
    r->letters[k].port = r->port[k];
    snprintf(r->reason[k], sizeof r->reason[k], "%s",
             r->letters[k].reason ? r->letters[k].reason : "");
    r->letters[k].reason = r->reason[k];
  }
  maestro_graph_destroy(g);
}

static const maestro_bundled_params_t identity3x3 = {
    .width = 4, .height = 4, .weights = {0, 0, 0, 0, 1, 0, 0, 0, 0}};

/* Device-pinned hybrid blur given a 15-float image: STOP -> EAGENT naming
 * the agent, the message dead-lettered, no output, no device firing. */
static void test_device_wrong_image_stop(void) {
  static maestro_bundled_agent_t blur;
  CU_ASSERT_FATAL(maestro_bundled_agent(MAESTRO_BUNDLED_CONV3X3, "blur", &identity3x3, &blur) ==
                  MAESTRO_OK);
  blur.desc.affinity = (maestro_affinity_t){MAESTRO_ON_DEVICE, 0, 0};
  maestro_buf_t *msgs[1][2] = {{floats(15, 0)}};
  run_t r;
  run_graph(&blur.desc, msgs, 1, &r);
  CU_ASSERT_EQUAL(r.wait_st, MAESTRO_EAGENT);
  CU_ASSERT(has(r.wait_msg, "agent 'blur'"));
  CU_ASSERT(has(r.wait_msg, "invalid") || has(r.wait_msg, "argument"));
  CU_ASSERT(has(r.wait_msg, "input 0 'in'") && has(r.wait_msg, "expected 16"));
  CU_ASSERT(has(r.wait_msg, "failed with status -1 (invalid argument): agent 'blur': kernel "
                            "'maestro_conv3x3': input 0 'in' holds 15 elements, expected 16"));
  CU_ASSERT_EQUAL(r.nout, 0);
  CU_ASSERT_EQUAL(r.nletters, 1);
  CU_ASSERT_EQUAL(r.letters[0].status, MAESTRO_EINVAL);
  CU_ASSERT_STRING_EQUAL(r.letters[0].agent, "blur");
  CU_ASSERT(has(r.letters[0].reason, "input 0 'in' holds 15 elements, expected 16"));
  CU_ASSERT_EQUAL(r.stats.device_fires, 0);
  CU_ASSERT(r.stats.failures >= 1);
}

/* The same with SKIP between two good images: those come out of the
 * device unchanged (identity weights) and in order; the bad one is a dead
 * letter; the graph ends OK. */
static void test_device_wrong_image_skip(void) {
  static maestro_bundled_agent_t blur;
  CU_ASSERT_FATAL(maestro_bundled_agent(MAESTRO_BUNDLED_CONV3X3, "blur", &identity3x3, &blur) ==
                  MAESTRO_OK);
  blur.desc.affinity = (maestro_affinity_t){MAESTRO_ON_DEVICE, 0, 0};
  blur.desc.supervisor = (maestro_supervisor_t){.on_fail = MAESTRO_FAIL_SKIP};
  maestro_buf_t *msgs[3][2] = {{floats(16, 100)}, {floats(17, 0)}, {floats(16, 200)}};
  run_t r;
  run_graph(&blur.desc, msgs, 3, &r);
  CU_ASSERT_EQUAL(r.wait_st, MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(r.nout, 2);
  CU_ASSERT_EQUAL(r.out_bytes[0], 16 * sizeof(float));
  CU_ASSERT_EQUAL(r.out_bytes[1], 16 * sizeof(float));
  int bad = 0;
  for (int i = 0; i < 16; i++)
    bad += r.out[0][i] != 100.0f + (float)i || r.out[1][i] != 200.0f + (float)i;
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL_FATAL(r.nletters, 1);
  CU_ASSERT_EQUAL(r.letters[0].status, MAESTRO_EINVAL);
  CU_ASSERT_STRING_EQUAL(r.letters[0].agent, "blur");
  CU_ASSERT_STRING_EQUAL(r.letters[0].port, "in");
  CU_ASSERT_EQUAL(r.letters[0].seq, 1);
  CU_ASSERT(has(r.letters[0].reason, "agent 'blur': kernel 'maestro_conv3x3': input 0 'in' holds "
                                     "17 elements, expected 16"));
  CU_ASSERT_EQUAL(r.stats.device_fires, 2);
  CU_ASSERT_EQUAL(r.stats.dead_letters, 1);
}

/* CPU-pinned SGEMM (a 2 x 2 times the identity): a wrong a between two good
 * pairs; both of the failed firing's messages become dead letters. */
static void sgemm_skip(maestro_pref_t pref) {
  static maestro_bundled_agent_t mm;
  maestro_bundled_params_t p = {.m = 2, .n = 2, .k = 2};
  CU_ASSERT_FATAL(maestro_bundled_agent(MAESTRO_BUNDLED_SGEMM, "mm", &p, &mm) == MAESTRO_OK);
  mm.desc.affinity = (maestro_affinity_t){pref, 0, 0};
  mm.desc.supervisor = (maestro_supervisor_t){.on_fail = MAESTRO_FAIL_SKIP};
  maestro_buf_t *id[3];
  for (int m = 0; m < 3; m++) {
    id[m] = floats(4, 0);
    float *e = maestro_buf_data(id[m]);
    e[0] = e[3] = 1, e[1] = e[2] = 0;
  }
  maestro_buf_t *msgs[3][2] = {
      {floats(4, 10), id[0]}, {floats(3, 0), id[1]}, {floats(4, 20), id[2]}};
  run_t r;
  run_graph(&mm.desc, msgs, 3, &r);
  CU_ASSERT_EQUAL(r.wait_st, MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(r.nout, 2);
  int bad = 0;
  for (int i = 0; i < 4; i++)
    bad += r.out[0][i] != 10.0f + (float)i || r.out[1][i] != 20.0f + (float)i;
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL_FATAL(r.nletters, 2);
  int a_seen = 0, b_seen = 0;
  for (int k = 0; k < 2; k++) {
    CU_ASSERT_EQUAL(r.letters[k].status, MAESTRO_EINVAL);
    CU_ASSERT_STRING_EQUAL(r.letters[k].agent, "mm");
    CU_ASSERT_EQUAL(r.letters[k].seq, 1);
    a_seen += strcmp(r.letters[k].port, "a") == 0;
    b_seen += strcmp(r.letters[k].port, "b") == 0;
  }
  CU_ASSERT(a_seen == 1 && b_seen == 1);
  CU_ASSERT_EQUAL(r.stats.device_fires, pref == MAESTRO_ON_DEVICE ? 2 : 0);
}

static void test_cpu_wrong_sgemm_skip(void) {
  sgemm_skip(MAESTRO_ON_CPU);
}
static void test_device_wrong_sgemm_skip(void) {
  sgemm_skip(MAESTRO_ON_DEVICE);
}

/* CPU-pinned transpose with STOP: EAGENT naming the agent. */
static void test_cpu_wrong_size_stop(void) {
  static maestro_bundled_agent_t tr;
  maestro_bundled_params_t p = {.width = 4, .height = 4};
  CU_ASSERT_FATAL(maestro_bundled_agent(MAESTRO_BUNDLED_TRANSPOSE, "tr", &p, &tr) == MAESTRO_OK);
  tr.desc.affinity = (maestro_affinity_t){MAESTRO_ON_CPU, 0, 0};
  maestro_buf_t *msgs[1][2] = {{bytes_buf(63)}};
  run_t r;
  run_graph(&tr.desc, msgs, 1, &r);
  CU_ASSERT_EQUAL(r.wait_st, MAESTRO_EAGENT);
  CU_ASSERT(has(r.wait_msg, "agent 'tr'"));
  CU_ASSERT(has(r.wait_msg, "63 bytes"));
  CU_ASSERT_EQUAL(r.nout, 0);
  CU_ASSERT_EQUAL(r.nletters, 1);
  CU_ASSERT_EQUAL(r.letters[0].status, MAESTRO_EINVAL);
}

/* ---- user kernels ---- */

static const char twice_src[] =
    "__kernel void twice(__global const float *x, __global float *y, uint n)"
    "{ size_t i = get_global_id(0); if (i < n) y[i] = 2.0f * x[i]; }";
static const maestro_karg_t twice_args[] = {MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0),
                                            MAESTRO_KARG_COUNT(0)};
static const maestro_port_t f32_in[] = {{"in", MAESTRO_F32, 0}};
static const maestro_port_t f32_out[] = {{"out", MAESTRO_F32, 0}};

/* A user check: messages of at most 8 elements. */
static int at_most_8(maestro_kcheck_t *c) {
  if (c->count[0] <= *(const size_t *)c->arg) return MAESTRO_OK;
  snprintf(c->why, c->why_len, "input 0 '%s' holds %zu elements, at most %zu allowed", c->ports[0],
           c->count[0], *(const size_t *)c->arg);
  return MAESTRO_EINVAL;
}
static size_t eight = 8;

static maestro_agent_desc_t twice_desc(maestro_kernel_t *k, maestro_fail_t on_fail) {
  *k = (maestro_kernel_t){.source = twice_src,
                          .name = "twice",
                          .args = twice_args,
                          .n_args = 3,
                          .check = at_most_8,
                          .check_arg = &eight};
  return (maestro_agent_desc_t){.name = "twice",
                                .in = f32_in,
                                .n_in = 1,
                                .out = f32_out,
                                .n_out = 1,
                                .kernel = k,
                                .affinity = {MAESTRO_ON_DEVICE, 0, 0},
                                .supervisor = {.on_fail = on_fail}};
}

/* 10 bytes on an f32 port (no CPU implementation): STOP -> EAGENT. */
static void test_user_kernel_partial_element_stop(void) {
  static maestro_kernel_t k;
  maestro_agent_desc_t d = twice_desc(&k, MAESTRO_FAIL_STOP);
  maestro_buf_t *msgs[1][2] = {{bytes_buf(10)}};
  run_t r;
  run_graph(&d, msgs, 1, &r);
  CU_ASSERT_EQUAL(r.wait_st, MAESTRO_EAGENT);
  CU_ASSERT(has(r.wait_msg, "agent 'twice'"));
  CU_ASSERT(has(r.wait_msg, "10 bytes"));
  CU_ASSERT_EQUAL(r.nout, 0);
  CU_ASSERT_EQUAL(r.nletters, 1);
  CU_ASSERT_EQUAL(r.letters[0].status, MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(r.stats.device_fires, 0);
}

/* SKIP: a partial element and a message the user check refuses, between
 * good ones: two dead letters, the good ones doubled, in order. */
static void test_user_kernel_skip(void) {
  static maestro_kernel_t k;
  maestro_agent_desc_t d = twice_desc(&k, MAESTRO_FAIL_SKIP);
  maestro_buf_t *msgs[4][2] = {{floats(8, 1)}, {bytes_buf(10)}, {floats(9, 0)}, {floats(3, 5)}};
  run_t r;
  run_graph(&d, msgs, 4, &r);
  CU_ASSERT_EQUAL(r.wait_st, MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(r.nout, 2);
  CU_ASSERT_EQUAL(r.out_bytes[0], 8 * sizeof(float));
  CU_ASSERT_EQUAL(r.out_bytes[1], 3 * sizeof(float));
  int bad = 0;
  for (int i = 0; i < 8; i++)
    bad += r.out[0][i] != 2.0f * (1.0f + (float)i);
  for (int i = 0; i < 3; i++)
    bad += r.out[1][i] != 2.0f * (5.0f + (float)i);
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL_FATAL(r.nletters, 2);
  CU_ASSERT_EQUAL(r.letters[0].seq, 1);
  CU_ASSERT_EQUAL(r.letters[1].seq, 2);
  for (int i = 0; i < 2; i++) {
    CU_ASSERT_EQUAL(r.letters[i].status, MAESTRO_EINVAL);
    CU_ASSERT_STRING_EQUAL(r.letters[i].agent, "twice");
  }
  CU_ASSERT(has(r.letters[0].reason, "10 bytes, not a whole number"));
  CU_ASSERT(has(r.letters[1].reason, "9 elements, at most 8 allowed"));
  CU_ASSERT_EQUAL(r.stats.device_fires, 2);
}

/* The user check's words reach maestro_last_error() with the agent and the kernel. */
static void test_user_check_message(void) {
  maestro_kernel_t k;
  twice_desc(&k, MAESTRO_FAIL_STOP);
  ocl_kagent_t *ka;
  CU_ASSERT_FATAL(ocl_kagent_create(rt, "twice", &k, f32_in, 1, f32_out, 1, &ka) == MAESTRO_OK);
  done_calls = 0;
  char msg[512];
  maestro_buf_t *b = floats(9, 0);
  CU_ASSERT_EQUAL(launch_msg(ka, &b, msg, sizeof msg), MAESTRO_EINVAL);
  CU_ASSERT_STRING_EQUAL(msg,
                         "agent 'twice': kernel 'twice': input 0 'in' holds 9 elements, at most 8 "
                         "allowed");
  maestro_buf_release(b);
  b = bytes_buf(6);
  CU_ASSERT_EQUAL(launch_msg(ka, &b, msg, sizeof msg), MAESTRO_EINVAL);
  CU_ASSERT_STRING_EQUAL(msg, "agent 'twice': kernel 'twice': input 0 'in' holds 6 bytes, not a "
                              "whole number of its 4-byte elements");
  maestro_buf_release(b);
  CU_ASSERT_EQUAL(done_calls, 0);
  ocl_kagent_destroy(ka);
}

/* A kernel-only agent whose kernel cannot be set up (3 arguments bound, the
 * kernel takes 3 but .n_args says 2) is refused at graph start, naming the agent. */
static void test_kernel_setup_message(void) {
  static maestro_kernel_t k;
  maestro_agent_desc_t d = twice_desc(&k, MAESTRO_FAIL_STOP);
  k.n_args = 2;
  maestro_graph_t *g;
  maestro_agent_t *a;
  CU_ASSERT_FATAL(maestro_graph_create(rt, "setup", &g) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_agent_add(g, &d, &a) == MAESTRO_OK);
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &out) == MAESTRO_OK);
  int st = maestro_graph_start(g);
  CU_ASSERT(st < 0);
  CU_ASSERT(has(maestro_last_error(), "'twice'"));
  CU_ASSERT(has(maestro_last_error(), "takes 3 arguments, .args binds 2"));
  maestro_graph_destroy(g);
}

static int twice_cpu(maestro_fire_t *f) {
  maestro_buf_t *in = maestro_fire_in(f, 0);
  maestro_buf_t *o;
  int rc = maestro_fire_alloc(f, maestro_buf_size(in), &o);
  if (rc) return rc;
  const float *x = maestro_buf_cdata(in);
  float *y = maestro_buf_data(o);
  for (size_t i = 0; i < maestro_buf_size(in) / sizeof(float); i++)
    y[i] = 2.0f * x[i];
  return maestro_fire_out(f, 0, o);
}

/* A hybrid agent whose kernel cannot be set up while a device exists does
 * not quietly run CPU-only: the start fails with OpenCL's own words. */
static void test_hybrid_setup_fails_start(void) {
  static maestro_kernel_t k;
  maestro_agent_desc_t d = twice_desc(&k, MAESTRO_FAIL_STOP);
  k.n_args = 2;
  d.cpu = twice_cpu;
  d.affinity = (maestro_affinity_t){MAESTRO_ANYWHERE, -1, 0};
  maestro_graph_t *g;
  maestro_agent_t *a;
  CU_ASSERT_FATAL(maestro_graph_create(rt, "hsetup", &g) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_agent_add(g, &d, &a) == MAESTRO_OK);
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &out) == MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_start(g), MAESTRO_EINVAL);
  CU_ASSERT(has(maestro_last_error(), "graph 'hsetup': hybrid agent 'twice'"));
  CU_ASSERT(has(maestro_last_error(), "takes 3 arguments, .args binds 2"));
  maestro_graph_destroy(g);
  /* Pinned to the CPU it never needs its kernel: it runs. */
  d.affinity = (maestro_affinity_t){MAESTRO_ON_CPU, -1, 0};
  maestro_buf_t *msgs[1][2] = {{floats(4, 1)}};
  run_t r;
  run_graph(&d, msgs, 1, &r);
  CU_ASSERT_EQUAL(r.wait_st, MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(r.nout, 1);
  CU_ASSERT_EQUAL(r.out[0][3], 8.0f);
}

void register_suites(void) {
  ADD_SUITE("kernels_check", suite_init, suite_fini,
            {"ocl_launch refuses bundled sizes", test_launch_refuses_bundled},
            {"one check for every op", test_check_every_op},
            {"device wrong image STOP", test_device_wrong_image_stop},
            {"device wrong image SKIP", test_device_wrong_image_skip},
            {"cpu wrong sgemm SKIP", test_cpu_wrong_sgemm_skip},
            {"device wrong sgemm SKIP", test_device_wrong_sgemm_skip},
            {"cpu wrong size STOP", test_cpu_wrong_size_stop},
            {"user kernel partial element STOP", test_user_kernel_partial_element_stop},
            {"user kernel SKIP", test_user_kernel_skip},
            {"user check message", test_user_check_message},
            {"kernel setup message", test_kernel_setup_message},
            {"hybrid kernel setup fails start", test_hybrid_setup_fails_start});
}
