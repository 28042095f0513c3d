/* Every bundled kernel (kernels/ (.cl), built from maestro_bundled_kernels
 * with raw OpenCL on the real PoCL device) against its CPU implementation
 * (runtime/kern/compute.c) on random inputs, at sizes that are and are not
 * work-group multiples, size 1 included. The launches follow each bundled
 * agent's own description (argument bindings, out_count, local size), so
 * the descriptions are tested too; the tiled and single-group kernels also
 * run with other work-group sizes (their fallback paths). This file may
 * call OpenCL: it tests the .cl source directly. */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kern/kern.h"
#include "testmain.h"

static cl_context ctx;
static cl_command_queue queue;
static cl_program prog;
static cl_device_id dev;

static unsigned rng_state = 12345u;
static float frand(float lo, float hi) { /* xorshift32, deterministic */
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return lo + (hi - lo) * (float)(rng_state >> 8) / (float)(1u << 24);
}
static float *frand_array(size_t n, float lo, float hi) {
  float *a = malloc((n ? n : 1) * sizeof *a);
  for (size_t i = 0; i < n; i++)
    a[i] = frand(lo, hi);
  return a;
}

static int suite_init(void) {
  cl_platform_id plat;
  cl_uint np = 0;
  if (clGetPlatformIDs(1, &plat, &np) != CL_SUCCESS || np == 0)
    return fprintf(stderr, "no OpenCL platform\n"), 1;
  if (clGetDeviceIDs(plat, CL_DEVICE_TYPE_ALL, 1, &dev, NULL) != CL_SUCCESS)
    return fprintf(stderr, "no OpenCL device\n"), 1;
  cl_int err;
  ctx = clCreateContext(NULL, 1, &dev, NULL, NULL, &err);
  if (err != CL_SUCCESS) return 1;
  queue = clCreateCommandQueue(ctx, dev, 0, &err);
  if (err != CL_SUCCESS) return 1;
  const char *src = maestro_bundled_source();
  prog = clCreateProgramWithSource(ctx, 1, &src, NULL, &err);
  if (err != CL_SUCCESS) return 1;
  if (clBuildProgram(prog, 1, &dev, "", NULL, NULL) != CL_SUCCESS) {
    char log[16384] = "";
    clGetProgramBuildInfo(prog, dev, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log, NULL);
    fprintf(stderr, "bundled kernels do not build:\n%s\n", log);
    return 1;
  }
  return 0;
}

static int suite_fini(void) {
  clReleaseProgram(prog);
  clReleaseCommandQueue(queue);
  clReleaseContext(ctx);
  return 0;
}

static size_t type_bytes(maestro_type_t t) {
  switch (t) {
  case MAESTRO_U8:
  case MAESTRO_BYTES: return 1;
  case MAESTRO_I64:
  case MAESTRO_F64: return 8;
  default: return 4;
  }
}

/* Runs `ba`'s kernel the way its description says: IN/OUT/COUNT/constants
 * bound in order, output of out_count (or the range port's count) elements,
 * global = the range port's count rounded up to the local size. `local` 0
 * takes the description's (or 64 when it leaves the choice to the runtime).
 * `in` holds the inputs' host bytes, `in_bytes` their sizes. Returns the
 * output (malloc'd) and its element count. */
/* 1: ignore .global_count, launch over the range port's count (fewer or
 * more work-groups than tiles: the kernels loop). */
static int range_port_only;

static void *launch(const maestro_bundled_agent_t *ba, const void *const *in,
                    const size_t *in_bytes, size_t local, size_t *out_elems) {
  const maestro_port_t *ip, *op;
  int n_in, n_out;
  CU_ASSERT_FATAL(kern_bundled_ports(ba->which, &ip, &n_in, &op, &n_out) == MAESTRO_OK);
  cl_int err;
  cl_kernel k = clCreateKernel(prog, ba->kernel.name, &err);
  CU_ASSERT_FATAL(err == CL_SUCCESS);
  cl_mem inb[2] = {0};
  size_t count[2] = {0};
  for (int p = 0; p < n_in; p++) {
    count[p] = in_bytes[p] / type_bytes(ip[p].type);
    inb[p] = clCreateBuffer(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                            in_bytes[p] ? in_bytes[p] : 4, (void *)in[p], &err);
    CU_ASSERT_FATAL(err == CL_SUCCESS);
  }
  size_t rc = count[ba->kernel.range_port];
  size_t oc = ba->kernel.out_count && ba->kernel.out_count[0] ? ba->kernel.out_count[0] : rc;
  size_t ob = oc * type_bytes(op[0].type);
  cl_mem outb = clCreateBuffer(ctx, CL_MEM_READ_WRITE, ob ? ob : 4, NULL, &err);
  CU_ASSERT_FATAL(err == CL_SUCCESS);
  cl_mem scratch[MAESTRO_BUNDLED_MAX_ARGS];
  int n_scratch = 0;
  for (int a = 0; a < ba->kernel.n_args; a++) {
    const maestro_karg_t *g = &ba->kernel.args[a];
    cl_uint u;
    switch (g->kind) {
    case MAESTRO_KARG_KIND_IN:
      err = clSetKernelArg(k, (cl_uint)a, sizeof(cl_mem), &inb[g->port]);
      break;
    case MAESTRO_KARG_KIND_OUT: err = clSetKernelArg(k, (cl_uint)a, sizeof(cl_mem), &outb); break;
    case MAESTRO_KARG_KIND_COUNT:
      u = (cl_uint)count[g->port];
      err = clSetKernelArg(k, (cl_uint)a, sizeof u, &u);
      break;
    case MAESTRO_KARG_KIND_I32:
      err = clSetKernelArg(k, (cl_uint)a, sizeof(cl_int), &g->v.i32);
      break;
    case MAESTRO_KARG_KIND_U32:
      err = clSetKernelArg(k, (cl_uint)a, sizeof(cl_uint), &g->v.u32);
      break;
    case MAESTRO_KARG_KIND_F32:
      err = clSetKernelArg(k, (cl_uint)a, sizeof(cl_float), &g->v.f32);
      break;
    case MAESTRO_KARG_KIND_LOCAL: err = clSetKernelArg(k, (cl_uint)a, g->v.bytes, NULL); break;
    case MAESTRO_KARG_KIND_SCRATCH: { /* zero-filled, as runtime/ocl does (added by ocl) */
      void *zeros = calloc(1, g->v.bytes);
      scratch[n_scratch] =
          clCreateBuffer(ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, g->v.bytes, zeros, &err);
      free(zeros);
      CU_ASSERT_FATAL(err == CL_SUCCESS);
      err = clSetKernelArg(k, (cl_uint)a, sizeof(cl_mem), &scratch[n_scratch++]);
      break;
    }
    case MAESTRO_KARG_KIND_DIM: /* bundled kernels bind none: shapes are not theirs */
      u = g->v.dim ? 1 : (cl_uint)count[g->port];
      err = clSetKernelArg(k, (cl_uint)a, sizeof u, &u);
      break;
    case MAESTRO_KARG_KIND_BYTES:
      err = clSetKernelArg(k, (cl_uint)a, g->v.data.n, g->v.data.ptr);
      break;
    case MAESTRO_KARG_KIND_BUF:
    case MAESTRO_KARG_KIND_INOUT: CU_FAIL("bundled kernels bind no BUF or INOUT"); break;
    }
    CU_ASSERT_FATAL(err == CL_SUCCESS);
  }
  if (!local) local = ba->kernel.local_size ? ba->kernel.local_size : 64;
  size_t items = ba->kernel.global_count && !range_port_only ? ba->kernel.global_count : rc;
  size_t global = (items + local - 1) / local * local;
  if (!global) global = local;
  err = clEnqueueNDRangeKernel(queue, k, 1, NULL, &global, &local, 0, NULL, NULL);
  CU_ASSERT_FATAL(err == CL_SUCCESS);
  void *out = malloc(ob ? ob : 4);
  err = clEnqueueReadBuffer(queue, outb, CL_TRUE, 0, ob, out, 0, NULL, NULL);
  CU_ASSERT_FATAL(err == CL_SUCCESS);
  clReleaseMemObject(outb);
  for (int i = 0; i < n_scratch; i++)
    clReleaseMemObject(scratch[i]);
  for (int p = 0; p < n_in; p++)
    clReleaseMemObject(inb[p]);
  clReleaseKernel(k);
  *out_elems = oc;
  return out;
}

static void make(maestro_bundled_t which, const maestro_bundled_params_t *p,
                 maestro_bundled_agent_t *ba) {
  CU_ASSERT_FATAL(kern_bundled_kernel(which, p, ba) == MAESTRO_OK);
}

static const size_t sizes[] = {1, 2, 7, 255, 256, 257, 1000, 65537, 1048589};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static void test_elementwise(void) {
  static maestro_bundled_agent_t ba;
  maestro_bundled_params_t p = {.a = 2.5f};
  for (size_t s = 0; s < NSIZES; s++) {
    size_t n = sizes[s];
    float *x = frand_array(n, -10, 10), *y = frand_array(n, -10, 10);
    float *want = malloc(n * sizeof *want);
    const void *in[2] = {x, y};
    size_t bytes[2] = {n * 4, n * 4}, oc;
    for (int w = 0; w < 3; w++) {
      maestro_bundled_t which = w == 0   ? MAESTRO_BUNDLED_SAXPY
                                : w == 1 ? MAESTRO_BUNDLED_SCALE
                                         : MAESTRO_BUNDLED_ADD;
      make(which, &p, &ba);
      if (which == MAESTRO_BUNDLED_SAXPY)
        kern_saxpy(x, y, want, n, p.a);
      else if (which == MAESTRO_BUNDLED_SCALE)
        kern_scale(x, want, n, p.a);
      else
        kern_add(x, y, want, n);
      float *got = launch(&ba, in, bytes, 0, &oc);
      CU_ASSERT_EQUAL(oc, n);
      CU_ASSERT(memcmp(got, want, n * 4) == 0); /* same bits: no fma on either side */
      free(got);
    }
    free(x), free(y), free(want);
  }
}

static void test_reduce(void) {
  static maestro_bundled_agent_t ba;
  static const size_t locals[] = {0, 256, 7, 1};
  for (size_t s = 0; s < NSIZES; s++) {
    size_t n = sizes[s];
    float *x = frand_array(n, -1, 1);
    double abs = 0;
    for (size_t i = 0; i < n; i++)
      abs += fabsf(x[i]);
    const void *in[1] = {x};
    size_t bytes[1] = {n * 4}, oc;
    for (maestro_bundled_t w = MAESTRO_BUNDLED_REDUCE_SUM; w <= MAESTRO_BUNDLED_REDUCE_MAX; w++)
      for (size_t l = 0; l < sizeof locals / sizeof locals[0]; l++) {
        make(w, NULL, &ba);
        float want = kern_reduce(w, x, n);
        float *got = launch(&ba, in, bytes, locals[l], &oc);
        CU_ASSERT_EQUAL(oc, 1);
        if (w == MAESTRO_BUNDLED_REDUCE_SUM) {
          CU_ASSERT_DOUBLE_EQUAL(got[0], want, 1e-5 * abs + 1e-6);
        } else {
          CU_ASSERT_EQUAL(got[0], want);
        }
        free(got);
      }
    free(x);
  }
}

static void test_scan(void) {
  static maestro_bundled_agent_t ba;
  static const size_t scan_sizes[] = {1, 3, 4, 5, 1023, 1024, 1025, 4099, 100003};
  static const size_t locals[] = {0, 256, 5, 1};
  make(MAESTRO_BUNDLED_SCAN_SUM, NULL, &ba);
  for (size_t s = 0; s < sizeof scan_sizes / sizeof scan_sizes[0]; s++) {
    size_t n = scan_sizes[s];
    float *x = frand_array(n, -1, 1), *want = malloc(n * 4);
    kern_scan_sum(x, want, n);
    const void *in[1] = {x};
    size_t bytes[1] = {n * 4}, oc;
    for (size_t l = 0; l < sizeof locals / sizeof locals[0]; l++) {
      if (locals[l] == 1 && n > 5000) continue; /* one lane walks it all: correct, just slow */
      float *got = launch(&ba, in, bytes, locals[l], &oc);
      CU_ASSERT_EQUAL(oc, n);
      double abs = 0;
      size_t bad = 0;
      for (size_t i = 0; i < n; i++) {
        abs += fabsf(x[i]);
        if (fabs((double)got[i] - want[i]) > 1e-4 * abs + 1e-5) bad++;
      }
      CU_ASSERT_EQUAL(bad, 0);
      free(got);
    }
    free(x), free(want);
  }
}

static void test_histogram(void) {
  static maestro_bundled_agent_t ba;
  static const size_t locals[] = {0, 256, 3, 1};
  maestro_bundled_params_t p = {.lo = -1.0f, .hi = 1.0f};
  for (size_t s = 0; s < NSIZES; s++) {
    size_t n = sizes[s];
    uint8_t *b = malloc(n);
    for (size_t i = 0; i < n; i++)
      b[i] = (uint8_t)(frand(0, 256));
    float *x = frand_array(n, -1.2f, 1.2f); /* some below lo, some at or above hi */
    if (n > 3) {
      x[0] = NAN;
      x[1] = 1.0f;
      x[2] = -1.0f;
      x[3] = INFINITY;
    }
    uint32_t want[256];
    size_t oc;
    for (size_t l = 0; l < sizeof locals / sizeof locals[0]; l++) {
      make(MAESTRO_BUNDLED_HISTOGRAM_U8, NULL, &ba);
      kern_histogram_u8(b, n, want);
      const void *in8[1] = {b};
      size_t bytes8[1] = {n};
      uint32_t *got = launch(&ba, in8, bytes8, locals[l], &oc);
      CU_ASSERT_EQUAL(oc, 256);
      CU_ASSERT(memcmp(got, want, sizeof want) == 0);
      free(got);

      make(MAESTRO_BUNDLED_HISTOGRAM_F32, &p, &ba);
      kern_histogram_f32(x, n, p.lo, ba.hist_scale, want);
      const void *inf[1] = {x};
      size_t bytesf[1] = {n * 4};
      got = launch(&ba, inf, bytesf, locals[l], &oc);
      CU_ASSERT(memcmp(got, want, sizeof want) == 0);
      uint64_t total = 0;
      for (int i = 0; i < 256; i++)
        total += got[i];
      CU_ASSERT_EQUAL(total, n); /* every element lands in a bin */
      free(got);
    }
    free(b), free(x);
  }
}

static const uint32_t dims[][2] = {{1, 1}, {1, 17}, {17, 1}, {33, 20}, {16, 16}, {256, 100}};
#define NDIMS (sizeof dims / sizeof dims[0])

static void test_transpose(void) {
  static maestro_bundled_agent_t ba;
  static const size_t locals[] = {0, 64};
  for (size_t d = 0; d < NDIMS; d++) {
    maestro_bundled_params_t p = {.width = dims[d][0], .height = dims[d][1]};
    size_t n = (size_t)p.width * p.height;
    make(MAESTRO_BUNDLED_TRANSPOSE, &p, &ba);
    float *x = frand_array(n, -5, 5), *want = malloc(n * 4);
    kern_transpose(x, want, p.width, p.height);
    CU_ASSERT_EQUAL(want[n - 1], x[n - 1]);
    const void *in[1] = {x};
    size_t bytes[1] = {n * 4}, oc;
    for (size_t l = 0; l < 2; l++) {
      float *got = launch(&ba, in, bytes, locals[l], &oc);
      CU_ASSERT_EQUAL(oc, n);
      CU_ASSERT(memcmp(got, want, n * 4) == 0);
      free(got);
    }
    free(x), free(want);
  }
}

static void test_sgemm(void) {
  static maestro_bundled_agent_t ba;
  static const uint32_t mnk[][3] = {{1, 1, 1},   {17, 33, 5},   {64, 64, 64},  {100, 37, 129},
                                    {3, 200, 1}, {16, 16, 300}, {200, 200, 1}, {130, 70, 33}};
  static const size_t locals[] = {0, 64, 0};
  for (size_t d = 0; d < sizeof mnk / sizeof mnk[0]; d++) {
    maestro_bundled_params_t p = {.m = mnk[d][0], .n = mnk[d][1], .k = mnk[d][2]};
    make(MAESTRO_BUNDLED_SGEMM, &p, &ba);
    size_t na = (size_t)p.m * p.k, nb = (size_t)p.k * p.n, nc = (size_t)p.m * p.n;
    float *a = frand_array(na, -1, 1), *b = frand_array(nb, -1, 1), *want = malloc(nc * 4);
    kern_sgemm(a, b, want, p.m, p.n, p.k);
    const void *in[2] = {a, b};
    size_t bytes[2] = {na * 4, nb * 4}, oc;
    for (size_t l = 0; l < 3; l++) {
      range_port_only = l == 2;
      float *got = launch(&ba, in, bytes, locals[l], &oc);
      range_port_only = 0;
      CU_ASSERT_EQUAL_FATAL(oc, nc);
      size_t bad = 0;
      for (size_t i = 0; i < nc; i++)
        if (fabsf(got[i] - want[i]) > 1e-5f * (float)p.k + 1e-6f) bad++;
      CU_ASSERT_EQUAL(bad, 0);
      free(got);
    }
    free(a), free(b), free(want);
  }
}

static void test_conv(void) {
  static maestro_bundled_agent_t ba;
  for (int r = 1; r <= 2; r++)
    for (size_t d = 0; d < NDIMS; d++) {
      maestro_bundled_params_t p = {.width = dims[d][0], .height = dims[d][1]};
      for (int t = 0; t < 25; t++)
        p.weights[t] = frand(-1, 1);
      size_t n = (size_t)p.width * p.height;
      make(r == 1 ? MAESTRO_BUNDLED_CONV3X3 : MAESTRO_BUNDLED_CONV5X5, &p, &ba);
      CU_ASSERT_EQUAL(ba.kernel.n_args, 5 + (r == 1 ? 9 : 25));
      float *x = frand_array(n, 0, 1), *want = malloc(n * 4);
      kern_conv(x, want, p.width, p.height, r, p.weights);
      const void *in[1] = {x};
      size_t bytes[1] = {n * 4}, oc;
      float *got = launch(&ba, in, bytes, 0, &oc);
      CU_ASSERT_EQUAL(oc, n);
      size_t bad = 0;
      for (size_t i = 0; i < n; i++)
        if (got[i] != want[i]) bad++;
      CU_ASSERT_EQUAL(bad, 0); /* same taps, same order, no fma: same bits */
      free(got), free(x), free(want);
    }
  /* A constant image stays constant under weights that sum to one (clamp-to-edge). */
  maestro_bundled_params_t p = {.width = 5, .height = 4};
  for (int t = 0; t < 9; t++)
    p.weights[t] = 1.0f / 8.0f * (t == 4 ? 0.0f : 1.0f);
  float img[20], out[20];
  for (int i = 0; i < 20; i++)
    img[i] = 0.5f;
  kern_conv(img, out, 5, 4, 1, p.weights);
  for (int i = 0; i < 20; i++)
    CU_ASSERT_DOUBLE_EQUAL(out[i], 0.5, 1e-6);
}

static void test_params(void) {
  static maestro_bundled_agent_t ba;
  maestro_bundled_params_t p = {0};
  CU_ASSERT_EQUAL(kern_bundled_kernel(MAESTRO_BUNDLED_COUNT, &p, &ba), MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(kern_bundled_kernel(MAESTRO_BUNDLED_SAXPY, NULL, &ba), MAESTRO_EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(maestro_last_error(), "maestro_saxpy"));
  CU_ASSERT_EQUAL(kern_bundled_kernel(MAESTRO_BUNDLED_TRANSPOSE, &p, &ba), MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(kern_bundled_kernel(MAESTRO_BUNDLED_SGEMM, &p, &ba), MAESTRO_EINVAL);
  p.lo = p.hi = 1.0f;
  CU_ASSERT_EQUAL(kern_bundled_kernel(MAESTRO_BUNDLED_HISTOGRAM_F32, &p, &ba), MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(kern_bundled_kernel(MAESTRO_BUNDLED_REDUCE_SUM, NULL, &ba), MAESTRO_OK);
  /* every kernel name is in the built program (a duplicate would not build) */
  for (maestro_bundled_t w = 0; w < MAESTRO_BUNDLED_COUNT; w++) {
    cl_int err;
    cl_kernel k = clCreateKernel(prog, maestro_bundled_kernel_name(w), &err);
    CU_ASSERT_EQUAL(err, CL_SUCCESS);
    if (err == CL_SUCCESS) clReleaseKernel(k);
  }
  CU_ASSERT_PTR_NULL(maestro_bundled_kernel_name(MAESTRO_BUNDLED_COUNT));
}

void register_suites(void) {
  ADD_SUITE("kernels_raw", suite_init, suite_fini, {"params", test_params},
            {"elementwise", test_elementwise}, {"reduce", test_reduce}, {"scan", test_scan},
            {"histogram", test_histogram}, {"transpose", test_transpose}, {"sgemm", test_sgemm},
            {"conv", test_conv});
}
