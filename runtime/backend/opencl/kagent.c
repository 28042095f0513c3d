/* Kernel agents: an agent's kernel built for every device, its arguments
 * bound from ports, and launches that never block the caller: inputs made
 * valid on the device by enqueued transfers, the kernel enqueued behind
 * them, and a per-device completion thread that waits for the kernels in
 * order and hands the outputs to done(). */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "backend/opencl/ocl_int.h"
#include "core/trace.h"

extern const char maestro_bundled_kernels[];

typedef struct {
  cl_program prog;
  cl_kernel kern;
  pthread_mutex_t lock; /* clSetKernelArg + enqueue are one step */
  size_t local[3];      /* the work-group size of a launch of the kernel's .work_dim */
  size_t reqd[3];       /* its reqd_work_group_size, or 0s */
  size_t kwg, pref;     /* CL_KERNEL_WORK_GROUP_SIZE, its preferred multiple */
} kdev_t;

struct ocl_kagent {
  struct maestro_runtime *rt;
  char *name;
  maestro_kernel_t k; /* args / out_count point into this object */
  maestro_karg_t *args;
  size_t *out_count;
  int n_in, n_out;
  int n_scratch; /* MAESTRO_KARG_SCRATCH arguments */
  int n_buf;     /* MAESTRO_KARG_BUF arguments: acquired after the inputs */
  int n_acq;     /* n_in + n_buf: the buffers a launch makes valid on its device */
  int *inout_in; /* per output: the input MAESTRO_KARG_INOUT makes it, or -1 */
  size_t *in_esize, *out_esize;
  char **in_name;          /* input port names, for messages and the input check */
  unsigned wd;             /* the kernel's launch dimensions (1 to 3) */
  unsigned char *argbytes; /* MAESTRO_KARG_BYTES values (args point into it) */
  size_t n_argbytes;
  int ndev;
  kdev_t *dev;
};

typedef struct ocl_launch {
  ocl_pending_t pend; /* first: the device's completion FIFO holds this */
  ocl_kagent_t *ka;
  int dev;
  cl_event kev;
  cl_event rev;          /* the last read of an output to the host, or NULL */
  unsigned host_outputs; /* outputs read back to the host within the launch */
  ocl_done_fn done;
  void *ctx;
  ocl_launch_result_t res;
  maestro_buf_t **in;  /* borrowed: the inputs, then the BUF arguments */
  maestro_buf_t **out; /* owned until done() */
  ocl_xfer_t *x;
  struct scratch {
    cl_mem mem;
    size_t cap;
  } * scratch; /* one per SCRATCH argument */
  /* This firing's launch (launch_plan): the geometry, rounded; the
   * outputs' sizes and shapes; the arguments (ka->args, or the copy
   * .prepare changed). */
  unsigned wd;
  size_t global[3], local[3];
  unsigned inplace; /* outputs that are their input's buffer, written in place */
  size_t *out_bytes;
  size_t (*out_shape)[3];
  int *out_ndim;
  const maestro_karg_t *args;
} ocl_launch_t;

static void launch_finish_pending(ocl_dev_t *d, ocl_pending_t *p);

/* Bytes of one element of port p (a RECORD port's .size; 1 for a type without one). */
static size_t elem_size(const maestro_port_t *p) {
  size_t n = p->type == MAESTRO_RECORD ? p->size : maestro_type_size(p->type);
  return n ? n : 1;
}

void ocl_kagent_destroy(ocl_kagent_t *ka) {
  if (!ka) return;
  for (int i = 0; ka->dev && i < ka->ndev; i++) { /* dev is NULL when its calloc failed */
    if (ka->dev[i].kern) clReleaseKernel(ka->dev[i].kern);
    if (ka->dev[i].prog) clReleaseProgram(ka->dev[i].prog);
    pthread_mutex_destroy(&ka->dev[i].lock);
  }
  free(ka->dev);
  for (int i = 0; ka->args && i < ka->k.n_args; i++)
    if (ka->args[i].kind == MAESTRO_KARG_KIND_BUF) maestro_buf_release(ka->args[i].v.buf);
  free(ka->args);
  free(ka->out_count);
  free(ka->inout_in);
  free(ka->in_esize);
  free(ka->out_esize);
  for (int i = 0; ka->in_name && i < ka->n_in; i++)
    free(ka->in_name[i]);
  free(ka->in_name);
  free(ka->argbytes);
  free(ka->name);
  free((char *)ka->k.name);
  free((char *)ka->k.options);
  free((char *)ka->k.source);
  free(ka);
}

/* The launch geometry a kernel description asks for, on its own (what the
 * kernel declares is checked against it when it is built). */
static int check_geometry(const char *agent, const maestro_kernel_t *k) {
  unsigned wd = k->work_dim ? k->work_dim : 1;
  if (wd > 3)
    return err_set(MAESTRO_EINVAL, "agent '%s': kernel '%s': .work_dim %u (0 or 1, 2, 3)", agent,
                   k->name, k->work_dim);
  int set = 0;
  for (unsigned d = 0; d < 3; d++) {
    if (d >= wd && (k->global[d] > 1 || k->local[d] > 1))
      return err_set(MAESTRO_EINVAL,
                     "agent '%s': kernel '%s': .%s[%u] = %zu on a %u-D launch (.work_dim %u)",
                     agent, k->name, k->global[d] > 1 ? "global" : "local", d,
                     k->global[d] > 1 ? k->global[d] : k->local[d], wd, k->work_dim);
    set += d < wd && k->local[d] != 0;
  }
  if (set && set != (int)wd)
    return err_set(MAESTRO_EINVAL,
                   "agent '%s': kernel '%s': .local = {%zu, %zu, %zu} sets some of the %u "
                   "dimensions of the launch: set all of them, or none",
                   agent, k->name, k->local[0], k->local[1], k->local[2], wd);
  if (wd > 1 && (k->local_size || k->global_count))
    return err_set(MAESTRO_EINVAL,
                   "agent '%s': kernel '%s': .%s is for 1-D launches; a %u-D one uses .%s", agent,
                   k->name, k->local_size ? "local_size" : "global_count", wd,
                   k->local_size ? "local" : "global");
  if (wd == 1 && k->local_size && k->local[0] && k->local_size != k->local[0])
    return err_set(MAESTRO_EINVAL,
                   "agent '%s': kernel '%s': .local_size %zu and .local[0] %zu differ", agent,
                   k->name, k->local_size, k->local[0]);
  return MAESTRO_OK;
}

static int check_args(const char *agent, const maestro_kernel_t *k, int n_in, int n_out) {
  if (!k->name || !*k->name)
    return err_set(MAESTRO_EINVAL, "agent '%s': its kernel has no .name", agent);
  if (k->n_args < 0 || (k->n_args > 0 && !k->args))
    return err_set(MAESTRO_EINVAL, "agent '%s': kernel '%s': .args is NULL or .n_args < 0", agent,
                   k->name);
  if (n_in > 0 && (k->range_port < 0 || k->range_port >= n_in))
    return err_set(MAESTRO_EINVAL, "agent '%s': kernel '%s': .range_port %d is not an input port",
                   agent, k->name, k->range_port);
  if (n_in == 0 && !(k->out_count && n_out > 0 && k->out_count[0]))
    return err_set(MAESTRO_EINVAL,
                   "agent '%s': kernel '%s' has no input port: .out_count[0] must set its range",
                   agent, k->name);
  for (int j = 0; j < n_out; j++) {
    int bound = 0, inout = 0;
    for (int i = 0; i < k->n_args; i++) {
      bound += k->args[i].kind == MAESTRO_KARG_KIND_OUT && k->args[i].port == j;
      inout += k->args[i].kind == MAESTRO_KARG_KIND_INOUT && k->args[i].v.out == j;
    }
    if (inout && (inout > 1 || bound))
      return err_set(MAESTRO_EINVAL,
                     "agent '%s': kernel '%s': output port %d is a MAESTRO_KARG_INOUT and bound "
                     "again: an in-place output has one binding",
                     agent, k->name, j);
    if (inout && j >= 32)
      return err_set(MAESTRO_EINVAL,
                     "agent '%s': kernel '%s': MAESTRO_KARG_INOUT on output port %d (at most 32)",
                     agent, k->name, j);
    if (!bound && !inout)
      return err_set(MAESTRO_EINVAL,
                     "agent '%s': kernel '%s': output port %d is bound to no MAESTRO_KARG_OUT",
                     agent, k->name, j);
  }
  for (int i = 0; i < k->n_args; i++) {
    const maestro_karg_t *a = &k->args[i];
    switch (a->kind) {
    case MAESTRO_KARG_KIND_DIM:
      if (a->v.dim > 2)
        return err_set(MAESTRO_EINVAL,
                       "agent '%s': kernel '%s': argument %d: MAESTRO_KARG_DIM of dimension %u "
                       "(0, 1 or 2)",
                       agent, k->name, i, a->v.dim);
      /* fall through */
    case MAESTRO_KARG_KIND_IN:
    case MAESTRO_KARG_KIND_COUNT:
      if (a->port < 0 || a->port >= n_in)
        return err_set(MAESTRO_EINVAL, "agent '%s': kernel '%s': argument %d names input port %d",
                       agent, k->name, i, a->port);
      break;
    case MAESTRO_KARG_KIND_OUT:
      if (a->port < 0 || a->port >= n_out)
        return err_set(MAESTRO_EINVAL, "agent '%s': kernel '%s': argument %d names output port %d",
                       agent, k->name, i, a->port);
      break;
    case MAESTRO_KARG_KIND_I32:
    case MAESTRO_KARG_KIND_U32:
    case MAESTRO_KARG_KIND_F32: break;
    case MAESTRO_KARG_KIND_INOUT:
      if (a->port < 0 || a->port >= n_in || a->v.out < 0 || a->v.out >= n_out)
        return err_set(MAESTRO_EINVAL,
                       "agent '%s': kernel '%s': argument %d: MAESTRO_KARG_INOUT(%d, %d) names no "
                       "input or no output port",
                       agent, k->name, i, a->port, a->v.out);
      for (int o = 0; o < i; o++)
        if (k->args[o].kind == MAESTRO_KARG_KIND_INOUT && k->args[o].port == a->port)
          return err_set(MAESTRO_EINVAL,
                         "agent '%s': kernel '%s': arguments %d and %d both write input port %d "
                         "(MAESTRO_KARG_INOUT)",
                         agent, k->name, o, i, a->port);
      break;
    case MAESTRO_KARG_KIND_BUF:
      if (!a->v.buf)
        return err_set(MAESTRO_EINVAL,
                       "agent '%s': kernel '%s': argument %d: MAESTRO_KARG_BUF of a NULL buffer",
                       agent, k->name, i);
      break;
    case MAESTRO_KARG_KIND_BYTES:
      if (!a->v.data.n || !a->v.data.ptr)
        return err_set(MAESTRO_EINVAL,
                       "agent '%s': kernel '%s': argument %d: MAESTRO_KARG_BYTES of %s", agent,
                       k->name, i, a->v.data.ptr ? "0 bytes" : "a NULL pointer");
      break;
    case MAESTRO_KARG_KIND_SCRATCH:
    case MAESTRO_KARG_KIND_LOCAL:
      if (a->v.bytes == 0)
        return err_set(MAESTRO_EINVAL,
                       "agent '%s': kernel '%s': argument %d: LOCAL or SCRATCH of 0 bytes", agent,
                       k->name, i);
      break;
    default:
      return err_set(MAESTRO_EINVAL, "agent '%s': kernel '%s': argument %d has unknown kind %d",
                     agent, k->name, i, (int)a->kind);
    }
  }
  return check_geometry(agent, k);
}

static const char *kind_name(maestro_karg_kind_t k) {
  switch (k) {
  case MAESTRO_KARG_KIND_IN: return "MAESTRO_KARG_IN (a __global buffer)";
  case MAESTRO_KARG_KIND_OUT: return "MAESTRO_KARG_OUT (a __global buffer)";
  case MAESTRO_KARG_KIND_COUNT: return "MAESTRO_KARG_COUNT (a uint)";
  case MAESTRO_KARG_KIND_I32: return "MAESTRO_KARG_I32 (an int)";
  case MAESTRO_KARG_KIND_U32: return "MAESTRO_KARG_U32 (a uint)";
  case MAESTRO_KARG_KIND_F32: return "MAESTRO_KARG_F32 (a float)";
  case MAESTRO_KARG_KIND_LOCAL: return "MAESTRO_KARG_LOCAL (a __local pointer)";
  case MAESTRO_KARG_KIND_SCRATCH: return "MAESTRO_KARG_SCRATCH (a __global buffer)";
  case MAESTRO_KARG_KIND_DIM: return "MAESTRO_KARG_DIM (a uint)";
  case MAESTRO_KARG_KIND_BYTES: return "MAESTRO_KARG_BYTES (a by-value argument)";
  case MAESTRO_KARG_KIND_BUF: return "MAESTRO_KARG_BUF (a __global or __constant buffer)";
  case MAESTRO_KARG_KIND_INOUT: return "MAESTRO_KARG_INOUT (a __global buffer)";
  }
  return "?";
}

static const char *space_name(cl_kernel_arg_address_qualifier aq) {
  switch (aq) {
  case CL_KERNEL_ARG_ADDRESS_GLOBAL: return "__global ";
  case CL_KERNEL_ARG_ADDRESS_CONSTANT: return "__constant ";
  case CL_KERNEL_ARG_ADDRESS_LOCAL: return "__local ";
  default: return "";
  }
}

/* 1 for an OpenCL C built-in scalar or vector type name ("uint", "float4",
 * "unsigned int"): one whose width and kind are known. A typedef or struct
 * name is not, and is not checked. */
static int builtin_type(const char *t) {
  static const char *const names[] = {
      "bool",  "char", "uchar", "short",  "ushort", "int",       "uint",     "long",
      "ulong", "half", "float", "double", "size_t", "ptrdiff_t", "intptr_t", "uintptr_t"};
  if (!strncmp(t, "unsigned ", 9)) t += 9;
  size_t n = strlen(t);
  while (n > 0 && t[n - 1] >= '0' && t[n - 1] <= '9')
    n--;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strlen(names[i]) == n && !strncmp(t, names[i], n)) return 1;
  return 0;
}

/* Bytes of an OpenCL C built-in scalar or vector type ("double", "int4",
 * "unsigned int"), or 0 where the size depends on the device or the name is
 * not a built-in one. */
static size_t builtin_size(const char *t) {
  static const struct {
    const char *name;
    size_t size;
  } names[] = {{"char", 1}, {"uchar", 1}, {"short", 2}, {"ushort", 2}, {"half", 2},  {"int", 4},
               {"uint", 4}, {"float", 4}, {"long", 8},  {"ulong", 8},  {"double", 8}};
  if (!strncmp(t, "unsigned ", 9)) t += 9;
  size_t n = strlen(t), e = n;
  while (e > 0 && t[e - 1] >= '0' && t[e - 1] <= '9')
    e--;
  size_t width = e < n ? (size_t)strtoul(t + e, NULL, 10) : 1;
  if (width == 3) width = 4; /* a 3-vector takes the room of a 4-vector */
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strlen(names[i].name) == e && !strncmp(t, names[i].name, e)) return names[i].size * width;
  return 0;
}

/* Each binding against the parameter the kernel declares, as the compiler
 * describes it (built with -cl-kernel-arg-info): a buffer only on a
 * __global (IN: or __constant) pointer, LOCAL only on a __local pointer, a
 * scalar only on a by-value parameter of exactly its type. Without the
 * check a float bound to a uint runs with the float's bits, and a buffer
 * bound to a scalar (or a scalar to a pointer) has the kernel read or
 * write wherever those bytes point. A driver that does not describe the
 * arguments, and parameters of a typedef or struct type, are not checked. */
static int check_signature(const ocl_kagent_t *ka, int dev) {
  const kdev_t *kd = &ka->dev[dev];
  for (int i = 0; i < ka->k.n_args; i++) {
    cl_kernel_arg_address_qualifier aq = 0;
    char type[256];
    if (ocl_prog_arg_info(ka->rt, kd->prog, ka->k.name, (cl_uint)i, &aq, type, sizeof type))
      continue;
    size_t tl = strlen(type);
    int ptr = tl > 0 && type[tl - 1] == '*';
    maestro_karg_kind_t kind = ka->args[i].kind;
    int ok = 1;
    switch (kind) {
    case MAESTRO_KARG_KIND_BUF:
    case MAESTRO_KARG_KIND_IN:
      ok = ptr && (aq == CL_KERNEL_ARG_ADDRESS_GLOBAL || aq == CL_KERNEL_ARG_ADDRESS_CONSTANT);
      break;
    case MAESTRO_KARG_KIND_OUT:
    case MAESTRO_KARG_KIND_INOUT:
    case MAESTRO_KARG_KIND_SCRATCH: ok = ptr && aq == CL_KERNEL_ARG_ADDRESS_GLOBAL; break;
    case MAESTRO_KARG_KIND_LOCAL: ok = ptr && aq == CL_KERNEL_ARG_ADDRESS_LOCAL; break;
    case MAESTRO_KARG_KIND_BYTES: {
      size_t want = builtin_size(type);
      ok = !ptr && aq == CL_KERNEL_ARG_ADDRESS_PRIVATE && (!want || want == ka->args[i].v.data.n);
      if (!ok && !ptr && aq == CL_KERNEL_ARG_ADDRESS_PRIVATE)
        return err_set(MAESTRO_EINVAL,
                       "agent '%s': kernel '%s': argument %d is bound to MAESTRO_KARG_BYTES of "
                       "%zu bytes, but the kernel declares it '%s' (%zu bytes)",
                       ka->name, ka->k.name, i, ka->args[i].v.data.n, type, want);
      break;
    }
    case MAESTRO_KARG_KIND_DIM:
    case MAESTRO_KARG_KIND_COUNT:
    case MAESTRO_KARG_KIND_U32:
    case MAESTRO_KARG_KIND_I32:
    case MAESTRO_KARG_KIND_F32: {
      const char *want = kind == MAESTRO_KARG_KIND_F32   ? "float"
                         : kind == MAESTRO_KARG_KIND_I32 ? "int"
                                                         : "uint";
      if (ptr || aq != CL_KERNEL_ARG_ADDRESS_PRIVATE)
        ok = 0;
      else if (builtin_type(type))
        ok =
            !strcmp(type, want) || (kind != MAESTRO_KARG_KIND_F32 &&
                                    kind != MAESTRO_KARG_KIND_I32 && !strcmp(type, "unsigned int"));
      break;
    }
    }
    if (!ok)
      return err_set(MAESTRO_EINVAL,
                     "agent '%s': kernel '%s': argument %d is bound to %s, but the kernel declares "
                     "it '%s%s'",
                     ka->name, ka->k.name, i, kind_name(kind), space_name(aq), type);
  }
  return MAESTRO_OK;
}

/* The work-items a launch of `ka` runs when they do not depend on the
 * message (.global_count, or .out_count[0] for a kernel without inputs), or
 * 0 when they do. */
static size_t fixed_items(const ocl_kagent_t *ka) {
  if (ka->k.global[0]) return ka->k.global[0];
  if (ka->k.global_count) return ka->k.global_count;
  return ka->n_in == 0 ? ka->out_count[0] : 0;
}

/* Work-items rounded up to whole work-groups of `local`, refused when the
 * rounding wraps around size_t (it would launch one work-group) or when it
 * needs more than UINT32_MAX work-groups (PoCL asserts and aborts the
 * process on a global range near SIZE_MAX). */
static int global_size(const ocl_kagent_t *ka, int dev, size_t items, size_t local,
                       const char *what, size_t *global) {
  if (items > SIZE_MAX - (local - 1) || (items + local - 1) / local > UINT32_MAX)
    return err_set(MAESTRO_EINVAL,
                   "agent '%s': kernel '%s': %s of %zu work-items does not fit a launch on device "
                   "%d (at most %zu work-groups of %zu)",
                   ka->name, ka->k.name, what, items, dev, (size_t)UINT32_MAX, local);
  *global = (items + local - 1) / local * local;
  return MAESTRO_OK;
}

/* The runtime's work-group size for a `wd`-D launch on kd's device: up to
 * 256 work-items in one dimension (a multiple of the preferred one), 16 x
 * 16 in two, 8 x 8 x 4 in three, halved until the kernel allows it. */
static void default_local(const kdev_t *kd, unsigned wd, size_t local[3]) {
  if (wd <= 1) {
    size_t l = kd->kwg < 256 ? kd->kwg : 256;
    if (kd->pref > 1 && l >= kd->pref) l -= l % kd->pref;
    local[0] = l ? l : 1;
    local[1] = local[2] = 1;
    return;
  }
  local[0] = wd == 2 ? 16 : 8;
  local[1] = wd == 2 ? 16 : 8;
  local[2] = wd == 2 ? 1 : 4;
  while (local[0] * local[1] * local[2] > kd->kwg) {
    int big = local[1] > local[0] ? 1 : 0;
    if (local[2] > local[big]) big = 2;
    if (local[big] == 1) break;
    local[big] /= 2;
  }
}

/* The kernel object on one device and the work-group size it likes. */
static int make_kernel(ocl_kagent_t *ka, int dev) {
  struct maestro_runtime *rt = ka->rt;
  ocl_dev_t *d = ocl_dev(rt, dev);
  kdev_t *kd = &ka->dev[dev];
  const char *src = ka->k.source ? ka->k.source : maestro_bundled_kernels;
  int rc = ocl_prog_get(rt, dev, ka->name, src, ka->k.options, &kd->prog);
  if (rc) return rc;
  cl_int e;
  kd->kern = clCreateKernel(kd->prog, ka->k.name, &e);
  if (e != CL_SUCCESS)
    return err_set(e == CL_INVALID_KERNEL_NAME ? MAESTRO_EBUILD : MAESTRO_ECL,
                   "agent '%s': no kernel '%s' in its %s program on device %d (%s): %s", ka->name,
                   ka->k.name, ka->k.source ? "" : "bundled", dev, d->name, ocl_strerror(e));
  cl_uint nargs = 0;
  clGetKernelInfo(kd->kern, CL_KERNEL_NUM_ARGS, sizeof nargs, &nargs, NULL);
  if ((int)nargs != ka->k.n_args)
    return err_set(MAESTRO_EINVAL, "agent '%s': kernel '%s' takes %u arguments, .args binds %d",
                   ka->name, ka->k.name, nargs, ka->k.n_args);
  clGetKernelWorkGroupInfo(kd->kern, d->id, CL_KERNEL_WORK_GROUP_SIZE, sizeof kd->kwg, &kd->kwg,
                           NULL);
  kd->pref = 1;
  clGetKernelWorkGroupInfo(kd->kern, d->id, CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE,
                           sizeof kd->pref, &kd->pref, NULL);
  if (!kd->kwg) kd->kwg = d->max_wg ? d->max_wg : 1;
  memset(kd->reqd, 0, sizeof kd->reqd);
  if (clGetKernelWorkGroupInfo(kd->kern, d->id, CL_KERNEL_COMPILE_WORK_GROUP_SIZE, sizeof kd->reqd,
                               kd->reqd, NULL) != CL_SUCCESS)
    memset(kd->reqd, 0, sizeof kd->reqd);
  unsigned wd = ka->wd;
  size_t want[3] = {ka->k.local[0], ka->k.local[1], ka->k.local[2]};
  if (wd == 1 && !want[0]) want[0] = ka->k.local_size;
  if (kd->reqd[0]) {
    /* A kernel built for a fixed work-group shape: launched with another
     * one (or fewer dimensions) it fails with CL_INVALID_WORK_GROUP_SIZE at
     * its first firing, or, launched 1-D while it indexes rows with
     * get_global_id(1), runs on garbage. */
    for (unsigned e = wd; e < 3; e++)
      if (kd->reqd[e] > 1)
        return err_set(MAESTRO_EINVAL,
                       "agent '%s': kernel '%s' declares reqd_work_group_size(%zu, %zu, %zu), a "
                       "%u-D work-group, but the agent launches it %u-D (.work_dim %u)",
                       ka->name, ka->k.name, kd->reqd[0], kd->reqd[1], kd->reqd[2], e + 1, wd,
                       ka->k.work_dim);
    for (unsigned e = 0; e < wd; e++)
      if (want[e] && want[e] != kd->reqd[e])
        return err_set(MAESTRO_EINVAL,
                       "agent '%s': kernel '%s': .local = {%zu, %zu, %zu} conflicts with the "
                       "kernel's reqd_work_group_size(%zu, %zu, %zu)",
                       ka->name, ka->k.name, want[0], wd > 1 ? want[1] : (size_t)1,
                       wd > 2 ? want[2] : (size_t)1, kd->reqd[0], kd->reqd[1], kd->reqd[2]);
    for (unsigned e = 0; e < 3; e++)
      kd->local[e] = e < wd ? kd->reqd[e] : 1;
  } else if (want[0]) {
    size_t prod = 1;
    for (unsigned e = 0; e < 3; e++)
      prod *= (kd->local[e] = e < wd ? want[e] : 1);
    if (prod > kd->kwg)
      return err_set(MAESTRO_EINVAL,
                     "agent '%s': kernel '%s': a work-group of %zu work-items (%s {%zu, %zu, "
                     "%zu}) exceeds the %zu device %d allows",
                     ka->name, ka->k.name, prod,
                     wd == 1 && !ka->k.local[0] ? ".local_size" : ".local", kd->local[0],
                     kd->local[1], kd->local[2], kd->kwg, dev);
  } else {
    default_local(kd, wd, kd->local);
  }
  for (unsigned e = 0; e < wd; e++) {
    size_t items = e == 0 && wd == 1 ? fixed_items(ka) : ka->k.global[e], global;
    if (items && (rc = global_size(ka, dev, items, kd->local[e],
                                   ka->k.global[e]      ? ".global"
                                   : ka->k.global_count ? "its .global_count"
                                                        : "its .out_count[0]",
                                   &global)))
      return rc;
  }
  return check_signature(ka, dev);
}

int ocl_kagent_create(struct maestro_runtime *rt, const char *agent, const maestro_kernel_t *k,
                      const maestro_port_t *in, int n_in, const maestro_port_t *out, int n_out,
                      ocl_kagent_t **out_ka) {
  return ocl_kagent_create_on(rt, agent, k, in, n_in, out, n_out, OCL_ALL_DEVICES, out_ka);
}

int ocl_kagent_create_on(struct maestro_runtime *rt, const char *agent, const maestro_kernel_t *k,
                         const maestro_port_t *in, int n_in, const maestro_port_t *out, int n_out,
                         uint64_t devices, ocl_kagent_t **out_ka) {
  if (!out_ka) return err_set(MAESTRO_EINVAL, "ocl_kagent_create: ka is NULL");
  *out_ka = NULL;
  if (!agent) agent = "?";
  if (!rt || !k) return err_set(MAESTRO_EINVAL, "agent '%s': no kernel", agent);
  if (!ocl_get(rt)) return MAESTRO_ENODEV; /* discovery failed: its message is set */
  if (ocl_state(rt)->ndev == 0)
    return err_set(MAESTRO_ENODEV, "agent '%s': no OpenCL device (%s)", agent,
                   ocl_state(rt)->why ? ocl_state(rt)->why : "none");
  if (n_in < 0 || n_out < 0 || (n_in && !in) || (n_out && !out))
    return err_set(MAESTRO_EINVAL, "agent '%s': bad port arrays", agent);
  int rc = check_args(agent, k, n_in, n_out);
  if (rc) return rc;
  ocl_kagent_t *ka = calloc(1, sizeof *ka);
  if (!ka) return err_set(MAESTRO_ENOMEM, "agent '%s': out of memory", agent);
  ka->rt = rt;
  ka->k = *k;
  /* Our own copies of the strings: the caller's may not outlive the agent. */
  ka->k.name = strdup(k->name);
  ka->k.options = k->options ? strdup(k->options) : NULL;
  ka->k.source = k->source ? strdup(k->source) : NULL;
  ka->n_in = n_in;
  ka->n_out = n_out;
  ka->ndev = ocl_state(rt)->ndev;
  ka->name = strdup(agent);
  ka->args = calloc((size_t)k->n_args + 1, sizeof *ka->args);
  ka->out_count = calloc((size_t)n_out + 1, sizeof *ka->out_count);
  ka->in_esize = calloc((size_t)n_in + 1, sizeof *ka->in_esize);
  ka->out_esize = calloc((size_t)n_out + 1, sizeof *ka->out_esize);
  ka->dev = calloc((size_t)ocl_state(rt)->ndev, sizeof *ka->dev);
  ka->in_name = calloc((size_t)n_in + 1, sizeof *ka->in_name);
  int names_ok = ka->in_name != NULL;
  for (int i = 0; names_ok && i < n_in; i++)
    names_ok = (ka->in_name[i] = strdup(in[i].name ? in[i].name : "?")) != NULL;
  if (!names_ok || !ka->name || !ka->k.name || (k->options && !ka->k.options) ||
      (k->source && !ka->k.source) || !ka->args || !ka->out_count || !ka->in_esize ||
      !ka->out_esize || !ka->dev) {
    ocl_kagent_destroy(ka);
    return err_set(MAESTRO_ENOMEM, "agent '%s': out of memory", agent);
  }
  for (int i = 0; i < ocl_state(rt)->ndev; i++)
    pthread_mutex_init(&ka->dev[i].lock, NULL);
  if (k->n_args) memcpy(ka->args, k->args, (size_t)k->n_args * sizeof *ka->args);
  for (int i = 0; i < k->n_args; i++) /* released by ocl_kagent_destroy */
    if (k->args[i].kind == MAESTRO_KARG_KIND_BUF) {
      maestro_buf_retain(k->args[i].v.buf);
      ka->n_buf++;
    }
  ka->n_acq = n_in + ka->n_buf;
  if (!(ka->inout_in = malloc(((size_t)n_out + 1) * sizeof *ka->inout_in))) {
    ocl_kagent_destroy(ka);
    return err_set(MAESTRO_ENOMEM, "agent '%s': out of memory", agent);
  }
  for (int j = 0; j < n_out; j++)
    ka->inout_in[j] = -1;
  for (int i = 0; i < k->n_args; i++)
    if (k->args[i].kind == MAESTRO_KARG_KIND_INOUT)
      ka->inout_in[k->args[i].v.out] = k->args[i].port;
  for (int i = 0; i < k->n_args; i++) {
    ka->n_scratch += k->args[i].kind == MAESTRO_KARG_KIND_SCRATCH;
    if (k->args[i].kind == MAESTRO_KARG_KIND_BYTES) ka->n_argbytes += k->args[i].v.data.n;
  }
  ka->k.args = ka->args;
  ka->wd = k->work_dim ? k->work_dim : 1;
  /* Our own copy of the by-value arguments' bytes, in one block that a
   * firing's .prepare gets a copy of. */
  if (ka->n_argbytes && !(ka->argbytes = malloc(ka->n_argbytes))) {
    ocl_kagent_destroy(ka);
    return err_set(MAESTRO_ENOMEM, "agent '%s': out of memory", agent);
  }
  for (size_t i = 0, off = 0; i < (size_t)k->n_args; i++) {
    if (k->args[i].kind != MAESTRO_KARG_KIND_BYTES) continue;
    memcpy(ka->argbytes + off, k->args[i].v.data.ptr, k->args[i].v.data.n);
    ka->args[i].v.data.ptr = ka->argbytes + off;
    off += k->args[i].v.data.n;
  }
  for (int j = 0; j < n_out; j++) {
    ka->out_count[j] = k->out_count ? k->out_count[j] : 0;
    ka->out_esize[j] = elem_size(&out[j]);
    /* Wrapped, the output would be a few bytes the kernel writes past. */
    if (ka->out_count[j] > SIZE_MAX / ka->out_esize[j]) {
      rc = err_set(MAESTRO_EINVAL,
                   "agent '%s': kernel '%s': .out_count[%d] = %zu elements of %zu bytes is more "
                   "than a buffer can hold",
                   agent, k->name, j, ka->out_count[j], ka->out_esize[j]);
      ocl_kagent_destroy(ka);
      return rc;
    }
  }
  ka->k.out_count = ka->out_count;
  for (int i = 0; i < n_in; i++)
    ka->in_esize[i] = elem_size(&in[i]);
  int built = 0;
  for (int i = 0; i < ocl_state(rt)->ndev; i++) {
    if (i < 64 && !(devices & (1ull << i))) continue; /* it will never run there */
    if ((rc = make_kernel(ka, i))) {
      ocl_kagent_destroy(ka);
      return rc;
    }
    built++;
  }
  if (!built) {
    ocl_kagent_destroy(ka);
    return err_set(MAESTRO_ENODEV, "agent '%s': none of the devices it may run on exists", agent);
  }
  *out_ka = ka;
  return MAESTRO_OK;
}

/* ---- launches ---- */

void ocl_dev_launch_ended(ocl_dev_t *d) {
  atomic_fetch_add(&d->launches, 1);
  pthread_mutex_lock(&d->lock);
  d->inflight--;
  pthread_mutex_unlock(&d->lock);
  /* Its replicas are unpinned: a launch waiting for device memory may go on. */
  pthread_mutex_lock(&d->mem_lock);
  pthread_cond_broadcast(&d->mem_cond);
  pthread_mutex_unlock(&d->mem_lock);
}

/* A firing's inputs, checked on the host before anything is enqueued: a
 * message that is not a whole number of its port's elements, or too many
 * for the kernel's cl_uint count, then the kernel's own check (.check). A
 * kernel given a message of the wrong size would otherwise write nothing
 * (it guards with its counts) and hand on an output of garbage. */
static int check_inputs(const ocl_kagent_t *ka, maestro_buf_t *const *in) {
  size_t bytes[16], count[16], *bv = bytes, *cv = count;
  if (ka->n_in > 16) {
    bv = malloc(2 * (size_t)ka->n_in * sizeof *bv);
    if (!bv) return err_set(MAESTRO_ENOMEM, "ocl_launch: agent '%s': out of memory", ka->name);
    cv = bv + ka->n_in;
  }
  int rc = MAESTRO_OK;
  for (int i = 0; i < ka->n_in && rc == MAESTRO_OK; i++) {
    size_t es = ka->in_esize[i];
    bv[i] = maestro_buf_size(in[i]);
    cv[i] = bv[i] / es;
    if (bv[i] % es)
      rc = err_set(MAESTRO_EINVAL,
                   "agent '%s': kernel '%s': input %d '%s' holds %zu bytes, not a whole number of "
                   "its %zu-byte elements",
                   ka->name, ka->k.name, i, ka->in_name[i], bv[i], es);
    else if (cv[i] > UINT32_MAX)
      rc = err_set(MAESTRO_EINVAL,
                   "agent '%s': kernel '%s': input %d '%s' holds %zu elements, more than a "
                   "kernel's cl_uint count allows (%u)",
                   ka->name, ka->k.name, i, ka->in_name[i], cv[i], UINT32_MAX);
  }
  /* The outputs sized by the range port's count: refused rather than
   * wrapped where size_t is narrower than count * element size. */
  for (int j = 0; j < ka->n_out && rc == MAESTRO_OK && ka->n_in; j++) {
    size_t n = cv[ka->k.range_port];
    if (!ka->out_count[j] && n > SIZE_MAX / ka->out_esize[j])
      rc = err_set(MAESTRO_EINVAL,
                   "agent '%s': kernel '%s': output %d of %zu elements of %zu bytes (the count "
                   "of input %d '%s') is more than a buffer can hold",
                   ka->name, ka->k.name, j, n, ka->out_esize[j], ka->k.range_port,
                   ka->in_name[ka->k.range_port]);
  }
  if (rc == MAESTRO_OK && ka->k.check) {
    char why[256] = "";
    maestro_kcheck_t c = {.agent = ka->name,
                          .kernel = ka->k.name,
                          .arg = ka->k.check_arg,
                          .n_in = ka->n_in,
                          .ports = (const char *const *)ka->in_name,
                          .bytes = bv,
                          .count = cv,
                          .why = why,
                          .why_len = sizeof why};
    int st = ka->k.check(&c);
    why[sizeof why - 1] = '\0';
    if (st < 0)
      rc = err_set(st, "agent '%s': kernel '%s': %s", ka->name, ka->k.name,
                   why[0] ? why : "its input check refused this firing's inputs");
    else if (st > 0) /* not a status a check may return: refuse rather than guess */
      rc = err_set(MAESTRO_EINVAL,
                   "agent '%s': kernel '%s': its input check returned %d (expected MAESTRO_OK or a "
                   "negative status)",
                   ka->name, ka->k.name, st);
  }
  if (bv != bytes) free(bv);
  return rc;
}

static void launch_free(ocl_launch_t *L) {
  if (!L) return;
  if (L->kev) clReleaseEvent(L->kev);
  if (L->rev) clReleaseEvent(L->rev);
  for (int i = 0; i < L->ka->n_acq; i++) {
    if (L->x[i].ev) clReleaseEvent(L->x[i].ev);
    if (L->x[i].wait) clReleaseEvent(L->x[i].wait);
  }
  free(L);
}

static int set_args(ocl_launch_t *L, kdev_t *kd, cl_uint count_of_in(const ocl_launch_t *, int)) {
  const ocl_kagent_t *ka = L->ka;
  int scratch = 0, buf = 0;
  for (int i = 0; i < ka->k.n_args; i++) {
    const maestro_karg_t *a = &L->args[i];
    cl_int e = CL_SUCCESS;
    switch (a->kind) {
    case MAESTRO_KARG_KIND_IN:
      e = clSetKernelArg(kd->kern, (cl_uint)i, sizeof(cl_mem), &L->x[a->port].mem);
      break;
    case MAESTRO_KARG_KIND_OUT: {
      cl_mem m = ocl_rep_mem(L->out[a->port], L->dev);
      e = clSetKernelArg(kd->kern, (cl_uint)i, sizeof(cl_mem), &m);
      break;
    }
    case MAESTRO_KARG_KIND_COUNT: {
      cl_uint n = count_of_in(L, a->port);
      e = clSetKernelArg(kd->kern, (cl_uint)i, sizeof n, &n);
      break;
    }
    case MAESTRO_KARG_KIND_I32:
      e = clSetKernelArg(kd->kern, (cl_uint)i, sizeof(cl_int), &a->v.i32);
      break;
    case MAESTRO_KARG_KIND_U32:
      e = clSetKernelArg(kd->kern, (cl_uint)i, sizeof(cl_uint), &a->v.u32);
      break;
    case MAESTRO_KARG_KIND_F32:
      e = clSetKernelArg(kd->kern, (cl_uint)i, sizeof(cl_float), &a->v.f32);
      break;
    case MAESTRO_KARG_KIND_DIM: {
      const maestro_buf_t *b = L->in[a->port];
      size_t v = b->ndim ? b->dims[a->v.dim] : a->v.dim ? 1 : count_of_in(L, a->port);
      cl_uint n = (cl_uint)v; /* launch_plan refused what does not fit */
      e = clSetKernelArg(kd->kern, (cl_uint)i, sizeof n, &n);
      break;
    }
    case MAESTRO_KARG_KIND_BYTES:
      e = clSetKernelArg(kd->kern, (cl_uint)i, a->v.data.n, a->v.data.ptr);
      break;
    case MAESTRO_KARG_KIND_BUF:
      e = clSetKernelArg(kd->kern, (cl_uint)i, sizeof(cl_mem), &L->x[ka->n_in + buf++].mem);
      break;
    case MAESTRO_KARG_KIND_INOUT: {
      cl_mem m = ocl_rep_mem(L->out[a->v.out], L->dev);
      e = clSetKernelArg(kd->kern, (cl_uint)i, sizeof(cl_mem), &m);
      break;
    }
    case MAESTRO_KARG_KIND_LOCAL: e = clSetKernelArg(kd->kern, (cl_uint)i, a->v.bytes, NULL); break;
    case MAESTRO_KARG_KIND_SCRATCH:
      e = clSetKernelArg(kd->kern, (cl_uint)i, sizeof(cl_mem), &L->scratch[scratch++].mem);
      break;
    }
    if (e != CL_SUCCESS) {
      int rc = ocl_fail(e, "clSetKernelArg");
      err_append(" (agent '%s', kernel '%s', argument %d)", ka->name, ka->k.name, i);
      return rc;
    }
  }
  return MAESTRO_OK;
}

static cl_uint count_of_in(const ocl_launch_t *L, int port) {
  return (cl_uint)(maestro_buf_size(L->in[port]) / L->ka->in_esize[port]);
}

/* Undoes what a launch took before it was enqueued. */
static void scratch_free(ocl_launch_t *L) {
  for (int s = 0; s < L->ka->n_scratch; s++)
    if (L->scratch[s].mem)
      ocl_mem_put(ocl_dev(L->ka->rt, L->dev), L->scratch[s].mem, L->scratch[s].cap);
}

static void launch_abort(ocl_launch_t *L, int n_acquired, int n_out) {
  scratch_free(L);
  for (int i = 0; i < n_acquired; i++)
    ocl_rep_unpin(L->in[i], L->dev);
  for (int j = 0; j < n_out; j++) {
    if (!(L->inplace & (1u << j))) ocl_rep_unpin(L->out[j], L->dev); /* else pinned as input */
    maestro_buf_release(L->out[j]);
  }
  launch_free(L);
}

/* Outputs the host will read: enqueue their reads right behind the kernel
 * in the same queue, so that they cost no extra round trip later. Best
 * effort: an output that cannot be read here is read on demand instead. A
 * host-coherent device needs nothing (the kernel wrote the host bytes). */
static void read_outputs_back(ocl_launch_t *L, ocl_dev_t *d, unsigned mask) {
  for (int j = 0; j < L->ka->n_out && j < 32; j++) {
    maestro_buf_t *b = L->out[j];
    if (!(mask & (1u << j)) || b->size == 0 || ocl_rep_wraps_host(b, L->dev)) continue;
    if (mem_buf_ensure_host(b) != MAESTRO_OK) continue;
    cl_event ev;
    if (clEnqueueReadBuffer(d->q_exec, ocl_rep_mem(b, L->dev), CL_FALSE, 0, b->size, b->host, 0,
                            NULL, &ev) != CL_SUCCESS)
      continue;
    if (L->rev) clReleaseEvent(L->rev);
    L->rev = ev; /* in-order queue: the last read ends after the others */
    L->host_outputs |= 1u << j;
    L->res.bytes_d2h += b->size;
    atomic_fetch_add(&d->bytes_d2h, b->size);
    atomic_fetch_add(&d->transfers, 1);
  }
}

/* What ocl_launch_ex refuses before anything else: its own arguments. */
static int launch_args_ok(ocl_kagent_t *ka, int dev, maestro_buf_t *const *in, ocl_done_fn done) {
  if (!ka || !done || (ka->n_in && !in))
    return err_set(MAESTRO_EINVAL, "ocl_launch: %s is NULL", !ka ? "ka" : !done ? "done" : "in");
  if (dev < 0 || dev >= ka->ndev)
    return err_set(MAESTRO_ENODEV, "ocl_launch: agent '%s': no device %d (this runtime has %d)",
                   ka->name, dev, ka->ndev);
  for (int i = 0; i < ka->n_in; i++)
    if (!in[i])
      return err_set(MAESTRO_EINVAL, "ocl_launch: agent '%s': input %d is NULL", ka->name, i);
  if (!ka->dev[dev].kern)
    return err_set(MAESTRO_ENODEV, "ocl_launch: agent '%s' was not built for device %d", ka->name,
                   dev);
  return MAESTRO_OK;
}

/* Room .prepare works in: its copy of the arguments and of their by-value
 * bytes, the inputs' sizes and shapes, and the preset output shapes. */
typedef struct {
  maestro_karg_t *args;
  unsigned char *argbytes;
  size_t *in_bytes;
  size_t (*in_shape)[3];
  int *in_ndim;
  size_t (*preset_shape)[3];
  int *preset_ndim;
} prep_room_t;

/* One firing's launch object, with room for its plan (and for .prepare's). */
static ocl_launch_t *launch_new(ocl_kagent_t *ka, int dev, maestro_buf_t *const *in,
                                ocl_done_fn done, void *ctx, prep_room_t *room) {
  size_t n_in = (size_t)ka->n_in, n_out = (size_t)ka->n_out, n_args = (size_t)ka->k.n_args;
  size_t n_acq = (size_t)ka->n_acq;
  int prep = ka->k.prepare != NULL;
  /* Every piece a multiple of 8 bytes up to the ints and bytes at the end. */
  size_t sz = sizeof(ocl_launch_t) + n_acq * (sizeof(ocl_xfer_t) + sizeof(maestro_buf_t *)) +
              n_out * sizeof(maestro_buf_t *) + (size_t)ka->n_scratch * sizeof(struct scratch) +
              n_out * (sizeof(size_t) + 3 * sizeof(size_t)) +
              (prep ? n_args * sizeof(maestro_karg_t) + n_in * 4 * sizeof(size_t) +
                          n_out * 3 * sizeof(size_t)
                    : 0) +
              n_out * sizeof(int) + (prep ? (n_in + n_out) * sizeof(int) + ka->n_argbytes : 0);
  ocl_launch_t *L = calloc(1, sz);
  if (!L) return NULL;
  L->ka = ka;
  L->pend.finish = launch_finish_pending;
  L->dev = dev;
  L->done = done;
  L->ctx = ctx;
  L->x = (ocl_xfer_t *)(L + 1);
  L->in = (maestro_buf_t **)(L->x + n_acq);
  L->out = L->in + n_acq;
  L->scratch = (struct scratch *)(L->out + n_out);
  L->out_bytes = (size_t *)(L->scratch + ka->n_scratch);
  L->out_shape = (size_t(*)[3])(L->out_bytes + n_out);
  char *p = (char *)(L->out_shape + n_out);
  if (prep) {
    room->args = (maestro_karg_t *)p;
    room->in_bytes = (size_t *)(room->args + n_args);
    room->in_shape = (size_t(*)[3])(room->in_bytes + n_in);
    room->preset_shape = room->in_shape + n_in;
    p = (char *)(room->preset_shape + n_out);
  }
  L->out_ndim = (int *)p;
  p = (char *)(L->out_ndim + n_out);
  if (prep) {
    room->in_ndim = (int *)p;
    room->preset_ndim = room->in_ndim + n_in;
    room->argbytes = (unsigned char *)(room->preset_ndim + n_out);
  }
  for (size_t i = 0; i < n_in; i++)
    L->in[i] = in[i];
  for (int i = 0, b = 0; i < ka->k.n_args; i++)
    if (ka->args[i].kind == MAESTRO_KARG_KIND_BUF) L->in[n_in + (size_t)b++] = ka->args[i].v.buf;
  L->args = ka->args;
  return L;
}

/* Output j's shape without .prepare's word: an in-place output's input's;
 * the range port message's when it
 * holds as many elements, else the launch's global range (before rounding)
 * when that does, else none. */
static void out_shape_default(ocl_launch_t *L, int j, unsigned wd, const size_t items[3]) {
  const ocl_kagent_t *ka = L->ka;
  size_t es = ka->out_esize[j], want = L->out_bytes[j];
  L->out_ndim[j] = 0;
  L->out_shape[j][0] = L->out_shape[j][1] = L->out_shape[j][2] = 0;
  if (ka->inout_in[j] >= 0) { /* the input's own buffer, shape and all */
    const maestro_buf_t *b = L->in[ka->inout_in[j]];
    L->out_ndim[j] = b->ndim;
    memcpy(L->out_shape[j], b->dims, sizeof b->dims);
    return;
  }
  if (ka->n_in) {
    const maestro_buf_t *r = L->in[ka->k.range_port];
    if (r->ndim && !mem_shape_fits(r->ndim, r->dims, want) &&
        r->dims[0] * r->dims[1] * r->dims[2] * es == want) {
      L->out_ndim[j] = r->ndim;
      memcpy(L->out_shape[j], r->dims, sizeof r->dims);
      return;
    }
  }
  if (wd > 1 && !mem_shape_fits((int)wd, items, want) &&
      items[0] * items[1] * (wd > 2 ? items[2] : 1) * es == want) {
    L->out_ndim[j] = (int)wd;
    for (unsigned e = 0; e < 3; e++)
      L->out_shape[j][e] = e < wd ? items[e] : 1;
  }
}

/* Calls .prepare on this firing's launch; its changes land in wd, global,
 * local, L->out_* and L->args. */
static int call_prepare(ocl_launch_t *L, prep_room_t *room, unsigned *wd, size_t global[3],
                        size_t local[3]) {
  ocl_kagent_t *ka = L->ka;
  const maestro_kernel_t *k = &ka->k;
  for (int i = 0; i < ka->n_in; i++) {
    room->in_bytes[i] = maestro_buf_size(L->in[i]);
    room->in_ndim[i] = L->in[i]->ndim;
    for (int e = 0; e < 3; e++)
      room->in_shape[i][e] = L->in[i]->ndim ? L->in[i]->dims[e] : 0;
  }
  for (int j = 0; j < ka->n_out; j++) {
    room->preset_ndim[j] = L->out_ndim[j];
    memcpy(room->preset_shape[j], L->out_shape[j], sizeof room->preset_shape[j]);
  }
  if (k->n_args) memcpy(room->args, ka->args, (size_t)k->n_args * sizeof *room->args);
  if (ka->n_argbytes) memcpy(room->argbytes, ka->argbytes, ka->n_argbytes);
  for (int i = 0; i < k->n_args; i++)
    if (room->args[i].kind == MAESTRO_KARG_KIND_BYTES)
      room->args[i].v.data.ptr =
          room->argbytes + ((const unsigned char *)ka->args[i].v.data.ptr - ka->argbytes);
  char why[256] = "";
  maestro_klaunch_t l = {.agent = ka->name,
                         .kernel = k->name,
                         .arg = k->prepare_arg,
                         .n_in = ka->n_in,
                         .bytes = room->in_bytes,
                         .shape = (const size_t(*)[3])room->in_shape,
                         .ndim = room->in_ndim,
                         .work_dim = *wd,
                         .n_out = ka->n_out,
                         .out_bytes = L->out_bytes,
                         .out_shape = L->out_shape,
                         .out_ndim = L->out_ndim,
                         .args = room->args,
                         .n_args = k->n_args,
                         .why = why,
                         .why_len = sizeof why};
  memcpy(l.global, global, sizeof l.global);
  memcpy(l.local, local, sizeof l.local);
  int st = k->prepare(&l);
  why[sizeof why - 1] = '\0';
  if (st < 0)
    return err_set(st, "agent '%s': kernel '%s': %s", ka->name, k->name,
                   why[0] ? why : "its .prepare refused this firing");
  if (st > 0)
    return err_set(MAESTRO_EINVAL,
                   "agent '%s': kernel '%s': its .prepare returned %d (expected MAESTRO_OK or a "
                   "negative status)",
                   ka->name, k->name, st);
  for (int i = 0; i < k->n_args; i++) {
    const maestro_karg_t *a = &room->args[i], *o = &ka->args[i];
    int same = a->kind == o->kind && a->port == o->port;
    if (same && a->kind == MAESTRO_KARG_KIND_BYTES)
      same =
          a->v.data.n == o->v.data.n &&
          a->v.data.ptr == room->argbytes + ((const unsigned char *)o->v.data.ptr - ka->argbytes);
    else if (same && (a->kind == MAESTRO_KARG_KIND_LOCAL || a->kind == MAESTRO_KARG_KIND_SCRATCH))
      same = a->v.bytes == o->v.bytes;
    else if (same && a->kind == MAESTRO_KARG_KIND_DIM)
      same = a->v.dim == o->v.dim;
    if (!same)
      return err_set(MAESTRO_EINVAL,
                     "agent '%s': kernel '%s': its .prepare changed argument %d's binding (only "
                     "scalar values may change)",
                     ka->name, k->name, i);
  }
  L->args = room->args;
  *wd = l.work_dim ? l.work_dim : 1;
  memcpy(global, l.global, sizeof l.global);
  memcpy(local, l.local, sizeof l.local);
  return MAESTRO_OK;
}

/* This firing's launch: the geometry (the kernel's, or from the range port
 * message's shape), the outputs' sizes and shapes, then .prepare's word,
 * all checked before anything is taken or enqueued. */
static int launch_plan(ocl_launch_t *L, prep_room_t *room) {
  ocl_kagent_t *ka = L->ka;
  const kdev_t *kd = &ka->dev[L->dev];
  const maestro_kernel_t *k = &ka->k;
  const maestro_buf_t *range = ka->n_in ? L->in[k->range_port] : NULL;
  size_t count = range ? maestro_buf_size(range) / ka->in_esize[k->range_port] : ka->out_count[0];
  unsigned wd = ka->wd, from_shape = 0; /* dimensions the range message's shape must give */
  size_t global[3] = {1, 1, 1}, local[3];
  memcpy(local, kd->local, sizeof local);
  if (wd == 1) {
    global[0] = fixed_items(ka) ? fixed_items(ka) : count;
  } else {
    for (unsigned e = 0; e < wd; e++) {
      if (k->global[e])
        global[e] = k->global[e];
      else if (range && range->ndim >= (int)wd)
        global[e] = range->dims[e];
      else {
        global[e] = 0;
        from_shape |= 1u << e;
      }
    }
  }
  for (int j = 0; j < ka->n_out; j++) {
    L->out_bytes[j] = ka->inout_in[j] >= 0
                          ? maestro_buf_size(L->in[ka->inout_in[j]])
                          : (ka->out_count[j] ? ka->out_count[j] : count) * ka->out_esize[j];
    out_shape_default(L, j, wd, global);
  }
  int rc;
  if (k->prepare && (rc = call_prepare(L, room, &wd, global, local))) return rc;
  if (wd > 3)
    return err_set(MAESTRO_EINVAL, "agent '%s': kernel '%s': its .prepare set work_dim %u (1 to 3)",
                   ka->name, k->name, wd);
  for (unsigned e = 0; e < wd; e++)
    if ((from_shape & (1u << e)) && global[e] == 0)
      return err_set(MAESTRO_EINVAL,
                     "agent '%s': kernel '%s': a %u-D launch takes its size from input %d '%s''s "
                     "shape, but that message has %s (maestro_buf_set_shape) and .global[%u] is 0",
                     ka->name, k->name, wd, k->range_port,
                     ka->n_in ? ka->in_name[k->range_port] : "?",
                     range && range->ndim ? "fewer dimensions" : "no shape", e);
  size_t dflt[3];
  if (wd == ka->wd)
    memcpy(dflt, kd->local, sizeof dflt);
  else if (kd->reqd[0])
    memcpy(dflt, kd->reqd, sizeof dflt);
  else
    default_local(kd, wd, dflt);
  size_t items[3], prod = 1;
  for (unsigned e = 0; e < 3; e++) {
    if (e >= wd) global[e] = local[e] = 1;
    if (!local[e]) local[e] = dflt[e];
    items[e] = global[e];
    prod *= local[e];
  }
  if (kd->reqd[0] &&
      (local[0] != kd->reqd[0] || local[1] != kd->reqd[1] || local[2] != kd->reqd[2]))
    return err_set(MAESTRO_EINVAL,
                   "agent '%s': kernel '%s': a %u-D launch with work-groups of {%zu, %zu, %zu} "
                   "conflicts with the kernel's reqd_work_group_size(%zu, %zu, %zu)",
                   ka->name, k->name, wd, local[0], local[1], local[2], kd->reqd[0], kd->reqd[1],
                   kd->reqd[2]);
  if (prod > kd->kwg)
    return err_set(MAESTRO_EINVAL,
                   "agent '%s': kernel '%s': a work-group of {%zu, %zu, %zu} exceeds the %zu "
                   "work-items device %d allows",
                   ka->name, k->name, local[0], local[1], local[2], kd->kwg, L->dev);
  for (unsigned e = 0; e < wd; e++) {
    /* An empty message still runs one work-group: a reduction writes its
     * identity, a histogram its zeros. */
    if (!global[e])
      global[e] = local[e];
    else if ((rc =
                  global_size(ka, L->dev, global[e], local[e], "this firing's launch", &global[e])))
      return rc;
  }
  for (int i = 0; i < k->n_args; i++) {
    const maestro_karg_t *a = &L->args[i];
    if (a->kind != MAESTRO_KARG_KIND_DIM || !L->in[a->port]->ndim) continue;
    if (L->in[a->port]->dims[a->v.dim] > UINT32_MAX)
      return err_set(MAESTRO_EINVAL,
                     "agent '%s': kernel '%s': argument %d: dimension %u of input %d's shape is "
                     "%zu, more than a cl_uint holds",
                     ka->name, k->name, i, a->v.dim, a->port, L->in[a->port]->dims[a->v.dim]);
  }
  L->wd = wd;
  memcpy(L->global, global, sizeof global);
  memcpy(L->local, local, sizeof local);
  for (int j = 0; j < ka->n_out; j++) {
    int i = ka->inout_in[j];
    if (i >= 0 && L->out_bytes[j] != maestro_buf_size(L->in[i]))
      return err_set(MAESTRO_EINVAL,
                     "agent '%s': kernel '%s': its .prepare set output %d to %zu bytes, but it is "
                     "input %d's buffer of %zu (MAESTRO_KARG_INOUT)",
                     ka->name, k->name, j, L->out_bytes[j], i, maestro_buf_size(L->in[i]));
    int nd = L->out_ndim[j];
    if (k->prepare && nd == room->preset_ndim[j] &&
        !memcmp(L->out_shape[j], room->preset_shape[j], sizeof room->preset_shape[j])) {
      out_shape_default(L, j, wd, items); /* what the final sizes give */
      continue;
    }
    if (nd == 0) continue;
    size_t *s = L->out_shape[j], n = 1;
    int fits = nd >= 1 && nd <= 3;
    for (int e = 0; fits && e < 3; e++) {
      if (e >= nd) s[e] = 1;
      fits = !s[e] || n <= SIZE_MAX / s[e];
      n *= fits ? s[e] : 1;
    }
    if (!fits || n > SIZE_MAX / ka->out_esize[j] || n * ka->out_esize[j] != L->out_bytes[j])
      return err_set(MAESTRO_EINVAL,
                     "agent '%s': kernel '%s': its .prepare gave output %d the shape {%zu, %zu, "
                     "%zu} (%d dimensions), which does not hold its %zu bytes in %zu-byte elements",
                     ka->name, k->name, j, s[0], s[1], s[2], nd, L->out_bytes[j], ka->out_esize[j]);
  }
  return MAESTRO_OK;
}

static int launch_build(ocl_launch_t *L, unsigned host_outputs) {
  ocl_kagent_t *ka = L->ka;
  int dev = L->dev;
  ocl_dev_t *d = ocl_dev(ka->rt, dev);
  kdev_t *kd = &ka->dev[dev];
  int rc;
  for (int i = 0; i < ka->n_acq; i++) {
    if ((rc = ocl_rep_acquire(L->in[i], dev, &L->x[i]))) {
      err_append(" (agent '%s', %s %d, device %d)", ka->name,
                 i < ka->n_in ? "input" : "MAESTRO_KARG_BUF", i < ka->n_in ? i : i - ka->n_in, dev);
      launch_abort(L, i, 0);
      return rc;
    }
    if (L->x[i].kind && L->x[i].kind[0] == 'h')
      L->res.bytes_h2d += L->x[i].bytes;
    else if (L->x[i].kind)
      L->res.bytes_d2d += L->x[i].bytes;
  }
  for (int j = 0; j < ka->n_out; j++) {
    int i = ka->inout_in[j];
    /* Held by this firing alone: the kernel may write it where it is. */
    if (i >= 0 && maestro_buf_refs(L->in[i]) == 1) {
      L->out[j] = maestro_buf_retain(L->in[i]);
      L->inplace |= 1u << j;
      L->out[j]->ndim = L->out_ndim[j];
      memcpy(L->out[j]->dims, L->out_shape[j], sizeof L->out[j]->dims);
      continue;
    }
    if ((rc = ocl_rep_new_output(d, L->out_bytes[j], &L->out[j]))) {
      err_append(" (agent '%s', output %d, device %d)", ka->name, j, dev);
      launch_abort(L, ka->n_acq, j);
      return rc;
    }
    L->out[j]->ndim = L->out_ndim[j];
    memcpy(L->out[j]->dims, L->out_shape[j], sizeof L->out[j]->dims);
  }
  for (int s = 0; s < ka->n_scratch; s++) {
    size_t bytes = 0;
    for (int i = 0, k = 0; i < ka->k.n_args; i++)
      if (ka->args[i].kind == MAESTRO_KARG_KIND_SCRATCH && k++ == s) bytes = ka->args[i].v.bytes;
    cl_uchar zero = 0;
    if ((rc = ocl_mem_get(d, bytes, &L->scratch[s].mem, &L->scratch[s].cap)) ||
        (rc = clEnqueueFillBuffer(d->q_exec, L->scratch[s].mem, &zero, 1, 0, bytes, 0, NULL,
                                  NULL) == CL_SUCCESS
                  ? MAESTRO_OK
                  : err_set(MAESTRO_ECL, "clEnqueueFillBuffer (scratch) failed"))) {
      err_append(" (agent '%s', scratch argument, device %d)", ka->name, dev);
      launch_abort(L, ka->n_acq, ka->n_out);
      return rc;
    }
  }
  cl_event waits[16], *wl = waits;
  if (ka->n_acq > 16 && !(wl = malloc((size_t)ka->n_acq * sizeof *wl))) {
    launch_abort(L, ka->n_acq, ka->n_out);
    return err_set(MAESTRO_ENOMEM, "ocl_launch: out of memory");
  }
  cl_uint nw = 0;
  for (int i = 0; i < ka->n_acq; i++)
    if (L->x[i].wait) wl[nw++] = L->x[i].wait;
  /* A shared input written by the kernel: into a copy made first, on the
   * same in-order queue, so that the kernel runs after it. */
  for (int j = 0; j < ka->n_out; j++) {
    int i = ka->inout_in[j];
    if (i < 0 || (L->inplace & (1u << j)) || !L->out_bytes[j]) continue;
    cl_int ce = clEnqueueCopyBuffer(d->q_exec, L->x[i].mem, ocl_rep_mem(L->out[j], dev), 0, 0,
                                    L->out_bytes[j], nw, nw ? wl : NULL, NULL);
    if (ce != CL_SUCCESS) {
      rc = ocl_fail(ce, "clEnqueueCopyBuffer");
      err_append(" (agent '%s', MAESTRO_KARG_INOUT copy of input %d, device %d)", ka->name, i, dev);
      if (wl != waits) free(wl);
      launch_abort(L, ka->n_acq, ka->n_out);
      return rc;
    }
  }
  cl_int e;
  pthread_mutex_lock(&kd->lock);
  rc = set_args(L, kd, count_of_in);
  if (rc == MAESTRO_OK) {
    e = clEnqueueNDRangeKernel(d->q_exec, kd->kern, L->wd, NULL, L->global, L->local, nw,
                               nw ? wl : NULL, &L->kev);
    if (e != CL_SUCCESS) {
      rc = ocl_fail(e, "clEnqueueNDRangeKernel");
      err_append(" (agent '%s', kernel '%s', device %d, %u-D, global {%zu, %zu, %zu}, local {%zu, "
                 "%zu, %zu})",
                 ka->name, ka->k.name, dev, L->wd, L->global[0], L->global[1], L->global[2],
                 L->local[0], L->local[1], L->local[2]);
      L->kev = NULL;
    }
  }
  pthread_mutex_unlock(&kd->lock);
  if (wl != waits) free(wl);
  if (rc) {
    launch_abort(L, ka->n_acq, ka->n_out);
    return rc;
  }
  for (int j = 0; j < ka->n_out; j++) {
    if (L->inplace & (1u << j)) ocl_rep_write_on(L->out[j], dev);
    ocl_rep_set_ready(L->out[j], dev, L->kev);
  }
  read_outputs_back(L, d, host_outputs);
  /* Start the transfers and the kernel now; the completion thread waits. */
  clFlush(d->q_h2d);
  clFlush(d->q_exec);
  ocl_pending_push(d, &L->pend);
  return MAESTRO_OK;
}

int ocl_launch(ocl_kagent_t *ka, int dev, maestro_buf_t *const *in, ocl_done_fn done, void *ctx) {
  return ocl_launch_ex(ka, dev, in, 0, done, ctx);
}

int ocl_launch_ex(ocl_kagent_t *ka, int dev, maestro_buf_t *const *in, unsigned host_outputs,
                  ocl_done_fn done, void *ctx) {
  int rc = launch_args_ok(ka, dev, in, done);
  if (rc) return rc;
  if (fault_hit(&ka->rt->fault, FAULT_LAUNCH))
    return err_set(MAESTRO_ECL,
                   "ocl_launch: agent '%s', device %d: injected fault (MAESTRO_FAULTS)", ka->name,
                   dev);
  /* The input check and .prepare run outside the device's launch lock:
   * they are user hooks. */
  if ((rc = check_inputs(ka, in))) return rc;
  prep_room_t room = {0};
  ocl_launch_t *L = launch_new(ka, dev, in, done, ctx, &room);
  if (!L) return err_set(MAESTRO_ENOMEM, "ocl_launch: agent '%s': out of memory", ka->name);
  if ((rc = launch_plan(L, &room))) {
    free(L);
    return rc;
  }
  ocl_dev_t *d = ocl_dev(ka->rt, dev);
  pthread_mutex_lock(&d->launch_lock);
  rc = launch_build(L, host_outputs);
  pthread_mutex_unlock(&d->launch_lock);
  return rc;
}

static uint64_t prof_time(cl_event ev, cl_profiling_info what) {
  cl_ulong t = 0;
  if (clGetEventProfilingInfo(ev, what, sizeof t, &t, NULL) != CL_SUCCESS) return 0;
  return t;
}

static void launch_finish(ocl_dev_t *d, ocl_launch_t *L) {
  struct maestro_runtime *rt = d->rt;
  ocl_kagent_t *ka = L->ka;
  cl_int st = CL_COMPLETE;
  cl_int e = clWaitForEvents(1, &L->kev);
  clGetEventInfo(L->kev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof st, &st, NULL);
  if (L->rev && e == CL_SUCCESS && st >= 0) {
    cl_int rst = CL_COMPLETE;
    e = clWaitForEvents(1, &L->rev);
    clGetEventInfo(L->rev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof rst, &rst, NULL);
    if (rst < 0) st = rst;
  }
  uint64_t now = rt_now_ns();
  if (e != CL_SUCCESS || st < 0) {
    L->res.status = err_set(MAESTRO_ECL, "agent '%s': kernel '%s' failed on device %d (%s): %s",
                            ka->name, ka->k.name, L->dev, d->name, ocl_strerror(st < 0 ? st : e));
  }
  uint64_t s = prof_time(L->kev, CL_PROFILING_COMMAND_START);
  uint64_t f = prof_time(L->kev, CL_PROFILING_COMMAND_END);
  if (s && f >= s) {
    L->res.busy_ns = f - s;
    L->res.t_start_ns = ocl_dev_to_host_ns(d, s);
    L->res.t_end_ns = ocl_dev_to_host_ns(d, f);
    /* Never in the host's future; and when the clock mapping is off by more
     * than a second (a device whose profiling clock could not be
     * calibrated), place the kernel just before now. */
    if (L->res.t_end_ns > now || now - L->res.t_end_ns > 1000000000ull) {
      L->res.t_end_ns = now;
      L->res.t_start_ns = now - L->res.busy_ns;
    }
  } else {
    L->res.t_start_ns = L->res.t_end_ns = now;
  }
  if (trace_on(rt)) {
    for (int i = 0; i < ka->n_acq; i++) {
      ocl_xfer_t *x = &L->x[i];
      if (!x->ev) continue;
      uint64_t a = prof_time(x->ev, CL_PROFILING_COMMAND_START);
      uint64_t b = prof_time(x->ev, CL_PROFILING_COMMAND_END);
      if (a && b >= a)
        trace_transfer(rt, d->index, x->kind, x->bytes, ocl_dev_to_host_ns(d, a),
                       ocl_dev_to_host_ns(d, b));
    }
  }
  for (int i = 0; i < ka->n_acq; i++)
    ocl_rep_unpin(L->in[i], L->dev);
  for (int j = 0; j < ka->n_out; j++) {
    if (!(L->inplace & (1u << j))) ocl_rep_unpin(L->out[j], L->dev); /* else pinned as input */
    if (!L->res.status && (L->host_outputs & (1u << j))) atomic_store(&L->out[j]->host_valid, 1);
    /* On a host-coherent device the kernel wrote the host bytes themselves. */
    if (!L->res.status && d->host_coherent && L->out[j]->host &&
        ocl_rep_wraps_host(L->out[j], L->dev))
      atomic_store(&L->out[j]->host_valid, 1);
    if (L->res.status) {
      maestro_buf_release(L->out[j]);
      L->out[j] = NULL;
    }
  }
  scratch_free(L);
  ocl_dev_launch_ended(d);
  /* After done() the agent may be destroyed at once: let go of everything
   * that refers to it first. */
  ocl_done_fn done = L->done;
  void *ctx = L->ctx;
  ocl_launch_result_t res = L->res;
  maestro_buf_t **out = L->out;
  for (int i = 0; i < ka->n_acq; i++) {
    if (L->x[i].ev) clReleaseEvent(L->x[i].ev);
    if (L->x[i].wait) clReleaseEvent(L->x[i].wait);
    L->x[i].ev = L->x[i].wait = NULL;
  }
  clReleaseEvent(L->kev);
  L->kev = NULL;
  if (L->rev) clReleaseEvent(L->rev);
  L->rev = NULL;
  done(ctx, out, &res);
  free(L);
}

static void launch_finish_pending(ocl_dev_t *d, ocl_pending_t *p) {
  launch_finish(d, (ocl_launch_t *)p);
}

void ocl_pending_push(ocl_dev_t *d, ocl_pending_t *p) {
  p->next = NULL;
  pthread_mutex_lock(&d->lock);
  if (d->fifo_tail)
    d->fifo_tail->next = p;
  else
    d->fifo_head = p;
  d->fifo_tail = p;
  d->inflight++;
  pthread_cond_signal(&d->cond);
  pthread_mutex_unlock(&d->lock);
}

static void *completion_main(void *arg) {
  ocl_dev_t *d = arg;
  char name[16];
  snprintf(name, sizeof name, "maestro-ocl%d", d->index);
  pthread_setname_np(pthread_self(), name);
  pthread_mutex_lock(&d->lock);
  for (;;) {
    while (!d->fifo_head && !d->stop)
      pthread_cond_wait(&d->cond, &d->lock);
    ocl_pending_t *p = d->fifo_head;
    if (!p) break; /* stopping, and everything in flight is done */
    d->fifo_head = p->next;
    if (!d->fifo_head) d->fifo_tail = NULL;
    pthread_mutex_unlock(&d->lock);
    p->finish(d, p); /* it counts d->inflight down */
    pthread_mutex_lock(&d->lock);
  }
  pthread_mutex_unlock(&d->lock);
  return NULL;
}

int ocl_completion_start(ocl_dev_t *d) {
  if (pthread_create(&d->thread, NULL, completion_main, d))
    return err_set(MAESTRO_ESYS, "device %d: cannot start its completion thread", d->index);
  d->thread_up = 1;
  return MAESTRO_OK;
}

void ocl_completion_stop(ocl_dev_t *d) {
  if (!d->thread_up) return;
  pthread_mutex_lock(&d->lock);
  d->stop = 1;
  pthread_cond_signal(&d->cond);
  pthread_mutex_unlock(&d->lock);
  pthread_join(d->thread, NULL);
  d->thread_up = 0;
}
