/* Bundled agents: ports, kernel name, argument bindings and range of each
 * bundled operation, filled into caller-owned storage. */
#include <string.h>

#include "base/error.h"
#include "kern/kern.h"

static const maestro_port_t f32_in[] = {{"in", MAESTRO_F32, 0}};
static const maestro_port_t f32_xy[] = {{"x", MAESTRO_F32, 0}, {"y", MAESTRO_F32, 0}};
static const maestro_port_t f32_ab[] = {{"a", MAESTRO_F32, 0}, {"b", MAESTRO_F32, 0}};
static const maestro_port_t u8_in[] = {{"in", MAESTRO_U8, 0}};
static const maestro_port_t f32_out[] = {{"out", MAESTRO_F32, 0}};
static const maestro_port_t f32_c[] = {{"c", MAESTRO_F32, 0}};
static const maestro_port_t u32_out[] = {{"out", MAESTRO_U32, 0}};

typedef struct bundled_info {
  const char *kernel;
  const maestro_port_t *in, *out;
  int n_in, n_out;
  size_t local_size; /* 0: any work-group size the runtime likes */
} bundled_info_t;

/* 256: the 16 x 16 work-items that transpose and SGEMM tile with (both stay
 * correct with another size, only slower). The one-launch reduce, scan and
 * histogram work with whatever size the runtime picks (their lanes are
 * capped at 256), so they leave it free: it never exceeds what the device
 * allows for the kernel. */
static const bundled_info_t infos[MAESTRO_BUNDLED_COUNT] = {
    [MAESTRO_BUNDLED_SAXPY] = {"maestro_saxpy", f32_xy, f32_out, 2, 1, 0},
    [MAESTRO_BUNDLED_SCALE] = {"maestro_scale", f32_in, f32_out, 1, 1, 0},
    [MAESTRO_BUNDLED_ADD] = {"maestro_add", f32_xy, f32_out, 2, 1, 0},
    [MAESTRO_BUNDLED_REDUCE_SUM] = {"maestro_reduce_sum", f32_in, f32_out, 1, 1, 0},
    [MAESTRO_BUNDLED_REDUCE_MIN] = {"maestro_reduce_min", f32_in, f32_out, 1, 1, 0},
    [MAESTRO_BUNDLED_REDUCE_MAX] = {"maestro_reduce_max", f32_in, f32_out, 1, 1, 0},
    [MAESTRO_BUNDLED_SCAN_SUM] = {"maestro_scan_sum", f32_in, f32_out, 1, 1, 0},
    [MAESTRO_BUNDLED_HISTOGRAM_U8] = {"maestro_histogram_u8", u8_in, u32_out, 1, 1, 0},
    [MAESTRO_BUNDLED_HISTOGRAM_F32] = {"maestro_histogram_f32", f32_in, u32_out, 1, 1, 0},
    [MAESTRO_BUNDLED_TRANSPOSE] = {"maestro_transpose", f32_in, f32_out, 1, 1, 256},
    [MAESTRO_BUNDLED_SGEMM] = {"maestro_sgemm", f32_ab, f32_c, 2, 1, 256},
    [MAESTRO_BUNDLED_CONV3X3] = {"maestro_conv3x3", f32_in, f32_out, 1, 1, 0},
    [MAESTRO_BUNDLED_CONV5X5] = {"maestro_conv5x5", f32_in, f32_out, 1, 1, 0},
};

static int valid_which(maestro_bundled_t which) {
  return (int)which >= 0 && which < MAESTRO_BUNDLED_COUNT;
}

const char *maestro_bundled_kernel_name(maestro_bundled_t which) {
  if (kern_is_lib(which)) return kern_lib_routine(which);
  return valid_which(which) ? infos[which].kernel : NULL;
}

const char *maestro_bundled_source(void) {
  return maestro_bundled_kernels;
}

int kern_bundled_ports(maestro_bundled_t which, const maestro_port_t **in, int *n_in,
                       const maestro_port_t **out, int *n_out) {
  if (kern_is_lib(which)) return kern_lib_ports(which, in, n_in, out, n_out);
  if (!valid_which(which))
    return err_set(MAESTRO_EINVAL, "bundled kernels: unknown operation %d", (int)which);
  *in = infos[which].in;
  *n_in = infos[which].n_in;
  *out = infos[which].out;
  *n_out = infos[which].n_out;
  return MAESTRO_OK;
}

static int check_params(maestro_bundled_t which, const maestro_bundled_params_t *p) {
  const char *k = infos[which].kernel;
  switch (which) {
  case MAESTRO_BUNDLED_SAXPY:
  case MAESTRO_BUNDLED_SCALE:
  case MAESTRO_BUNDLED_HISTOGRAM_F32:
  case MAESTRO_BUNDLED_TRANSPOSE:
  case MAESTRO_BUNDLED_SGEMM:
  case MAESTRO_BUNDLED_CONV3X3:
  case MAESTRO_BUNDLED_CONV5X5:
    if (!p) return err_set(MAESTRO_EINVAL, "%s: parameters needed (NULL given)", k);
    break;
  default: return MAESTRO_OK;
  }
  switch (which) {
  case MAESTRO_BUNDLED_HISTOGRAM_F32:
    if (!(p->hi > p->lo))
      return err_set(MAESTRO_EINVAL, "%s: needs lo < hi (lo %g, hi %g)", k, (double)p->lo,
                     (double)p->hi);
    break;
  case MAESTRO_BUNDLED_TRANSPOSE:
  case MAESTRO_BUNDLED_CONV3X3:
  case MAESTRO_BUNDLED_CONV5X5:
    if (!p->width || !p->height || (uint64_t)p->width * p->height > UINT32_MAX)
      return err_set(MAESTRO_EINVAL, "%s: bad size %ux%u (width, height >= 1, < 2^32 elements)", k,
                     p->width, p->height);
    break;
  case MAESTRO_BUNDLED_SGEMM:
    if (!p->m || !p->n || !p->k || (uint64_t)p->m * p->k > UINT32_MAX ||
        (uint64_t)p->k * p->n > UINT32_MAX || (uint64_t)p->m * p->n > UINT32_MAX)
      return err_set(MAESTRO_EINVAL, "%s: bad size m %u n %u k %u (each >= 1, < 2^32 elements)", k,
                     p->m, p->n, p->k);
    break;
  default: break;
  }
  return MAESTRO_OK;
}

/* Appends one argument binding. */
static void arg(maestro_bundled_agent_t *ba, maestro_karg_t a) {
  ba->args[ba->kernel.n_args++] = a;
}

int kern_bundled_kernel(maestro_bundled_t which, const maestro_bundled_params_t *p,
                        maestro_bundled_agent_t *ba) {
  if (!valid_which(which))
    return err_set(MAESTRO_EINVAL, "bundled kernels: unknown operation %d", (int)which);
  if (!ba) return err_set(MAESTRO_EINVAL, "%s: NULL agent storage", infos[which].kernel);
  int st = check_params(which, p);
  if (st != MAESTRO_OK) return st;
  maestro_bundled_params_t params = {0};
  if (p) params = *p; /* before clearing: p may point into ba */
  memset(ba, 0, sizeof *ba);
  ba->which = which;
  ba->params = params;
  const maestro_bundled_params_t *q = &ba->params;
  ba->kernel = (maestro_kernel_t){.source = NULL,
                                  .name = infos[which].kernel,
                                  .args = ba->args,
                                  .range_port = 0,
                                  .local_size = infos[which].local_size,
                                  .check = kern_kernel_check,
                                  .check_arg = ba};
  switch (which) {
  case MAESTRO_BUNDLED_SAXPY:
    arg(ba, (maestro_karg_t)MAESTRO_KARG_IN(0));
    arg(ba, (maestro_karg_t)MAESTRO_KARG_IN(1));
    arg(ba, (maestro_karg_t)MAESTRO_KARG_OUT(0));
    arg(ba, (maestro_karg_t)MAESTRO_KARG_COUNT(0));
    arg(ba, (maestro_karg_t)MAESTRO_KARG_COUNT(1));
    arg(ba, (maestro_karg_t)MAESTRO_KARG_F32(q->a));
    break;
  case MAESTRO_BUNDLED_SCALE:
    arg(ba, (maestro_karg_t)MAESTRO_KARG_IN(0));
    arg(ba, (maestro_karg_t)MAESTRO_KARG_OUT(0));
    arg(ba, (maestro_karg_t)MAESTRO_KARG_COUNT(0));
    arg(ba, (maestro_karg_t)MAESTRO_KARG_F32(q->a));
    break;
  case MAESTRO_BUNDLED_ADD:
    arg(ba, (maestro_karg_t)MAESTRO_KARG_IN(0));
    arg(ba, (maestro_karg_t)MAESTRO_KARG_IN(1));
    arg(ba, (maestro_karg_t)MAESTRO_KARG_OUT(0));
    arg(ba, (maestro_karg_t)MAESTRO_KARG_COUNT(0));
    arg(ba, (maestro_karg_t)MAESTRO_KARG_COUNT(1));
    break;
  case MAESTRO_BUNDLED_REDUCE_SUM:
  case MAESTRO_BUNDLED_REDUCE_MIN:
  case MAESTRO_BUNDLED_REDUCE_MAX:
  case MAESTRO_BUNDLED_HISTOGRAM_U8:
  case MAESTRO_BUNDLED_SCAN_SUM:
    arg(ba, (maestro_karg_t)MAESTRO_KARG_IN(0));
    arg(ba, (maestro_karg_t)MAESTRO_KARG_OUT(0));
    arg(ba, (maestro_karg_t)MAESTRO_KARG_COUNT(0));
    /* reduce and histogram: 64 work-groups of 256 and a zeroed scratch for
     * their partials and the "last group" counter (kernels/reduce.cl,
     * kernels/histogram.cl); scan: one work-group, the range of its count */
    if (which == MAESTRO_BUNDLED_HISTOGRAM_U8) {
      arg(ba, (maestro_karg_t)MAESTRO_KARG_SCRATCH((1 + 256) * sizeof(uint32_t)));
      ba->out_count[0] = 256;
      ba->kernel.global_count = 64 * 256;
    } else if (which != MAESTRO_BUNDLED_SCAN_SUM) {
      arg(ba, (maestro_karg_t)MAESTRO_KARG_SCRATCH((1 + 64) * sizeof(uint32_t)));
      ba->out_count[0] = 1;
      ba->kernel.global_count = 64 * 256;
    }
    break;
  case MAESTRO_BUNDLED_HISTOGRAM_F32:
    ba->hist_scale = 256.0f / (q->hi - q->lo);
    arg(ba, (maestro_karg_t)MAESTRO_KARG_IN(0));
    arg(ba, (maestro_karg_t)MAESTRO_KARG_OUT(0));
    arg(ba, (maestro_karg_t)MAESTRO_KARG_COUNT(0));
    arg(ba, (maestro_karg_t)MAESTRO_KARG_F32(q->lo));
    arg(ba, (maestro_karg_t)MAESTRO_KARG_F32(ba->hist_scale));
    arg(ba, (maestro_karg_t)MAESTRO_KARG_SCRATCH((1 + 256) * sizeof(uint32_t)));
    ba->out_count[0] = 256;
    ba->kernel.global_count = 64 * 256;
    break;
  case MAESTRO_BUNDLED_TRANSPOSE:
  case MAESTRO_BUNDLED_CONV3X3:
  case MAESTRO_BUNDLED_CONV5X5: {
    arg(ba, (maestro_karg_t)MAESTRO_KARG_IN(0));
    arg(ba, (maestro_karg_t)MAESTRO_KARG_OUT(0));
    arg(ba, (maestro_karg_t)MAESTRO_KARG_COUNT(0));
    arg(ba, (maestro_karg_t)MAESTRO_KARG_U32(q->width));
    arg(ba, (maestro_karg_t)MAESTRO_KARG_U32(q->height));
    int taps = which == MAESTRO_BUNDLED_CONV3X3 ? 9 : which == MAESTRO_BUNDLED_CONV5X5 ? 25 : 0;
    for (int t = 0; t < taps; t++)
      arg(ba, (maestro_karg_t)MAESTRO_KARG_F32(q->weights[t]));
    break;
  }
  case MAESTRO_BUNDLED_SGEMM:
    arg(ba, (maestro_karg_t)MAESTRO_KARG_IN(0));
    arg(ba, (maestro_karg_t)MAESTRO_KARG_IN(1));
    arg(ba, (maestro_karg_t)MAESTRO_KARG_OUT(0));
    arg(ba, (maestro_karg_t)MAESTRO_KARG_COUNT(0));
    arg(ba, (maestro_karg_t)MAESTRO_KARG_COUNT(1));
    arg(ba, (maestro_karg_t)MAESTRO_KARG_U32(q->m));
    arg(ba, (maestro_karg_t)MAESTRO_KARG_U32(q->n));
    arg(ba, (maestro_karg_t)MAESTRO_KARG_U32(q->k));
    ba->out_count[0] = (size_t)q->m * q->n;
    /* one work-group of 256 per 64 x 64 tile of C (the kernel loops if fewer) */
    ba->kernel.global_count = (size_t)((q->m + 63) / 64) * ((q->n + 63) / 64) * 256;
    break;
  default: break;
  }
  if (ba->out_count[0]) ba->kernel.out_count = ba->out_count;
  return MAESTRO_OK;
}
