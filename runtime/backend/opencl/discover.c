/* Discovery: platforms and devices through the ICD loader, the selection
 * asked for by rt->cfg.devices, one context per platform and three in-order
 * profiling queues per device. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "backend/opencl/ocl_int.h"

/* PoCL and others report -1001 (CL_PLATFORM_NOT_FOUND_KHR) with no ICD. */
#define OCL_PLATFORM_NOT_FOUND_KHR (-1001)

/* Everything discovery found, before selection. */
typedef struct {
  cl_platform_id plat;
  int plat_index;
  cl_device_id dev;
} found_dev_t;

/* Lists every device of every platform, in platform order. */
static int enumerate(cl_platform_id **plats, cl_uint *nplat, found_dev_t **devs, int *ndev,
                     const char **why) {
  *plats = NULL;
  *devs = NULL;
  *nplat = 0;
  *ndev = 0;
  cl_uint np = 0;
  cl_int e = clGetPlatformIDs(0, NULL, &np);
  if (e == OCL_PLATFORM_NOT_FOUND_KHR || (e == CL_SUCCESS && np == 0)) {
    *why = "no OpenCL platform found (no ICD in /etc/OpenCL/vendors)";
    return MAESTRO_OK;
  }
  if (e != CL_SUCCESS) {
    *why = "the OpenCL ICD loader failed to list platforms";
    return MAESTRO_OK;
  }
  cl_platform_id *p = calloc(np, sizeof *p);
  if (!p) return err_set(MAESTRO_ENOMEM, "OpenCL discovery: out of memory");
  if ((e = clGetPlatformIDs(np, p, NULL)) != CL_SUCCESS) {
    free(p);
    *why = "the OpenCL ICD loader failed to list platforms";
    return MAESTRO_OK;
  }
  int cap = 0, n = 0;
  found_dev_t *d = NULL;
  for (cl_uint i = 0; i < np; i++) {
    cl_uint nd = 0;
    if (clGetDeviceIDs(p[i], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || nd == 0) continue;
    cl_device_id *ids = calloc(nd, sizeof *ids);
    if (!ids) break;
    if (clGetDeviceIDs(p[i], CL_DEVICE_TYPE_ALL, nd, ids, NULL) == CL_SUCCESS) {
      for (cl_uint j = 0; j < nd; j++) {
        if (n == cap) {
          cap = cap ? 2 * cap : 8;
          found_dev_t *nd2 = realloc(d, (size_t)cap * sizeof *d);
          if (!nd2) {
            free(ids);
            free(d);
            free(p);
            return err_set(MAESTRO_ENOMEM, "OpenCL discovery: out of memory");
          }
          d = nd2;
        }
        d[n++] = (found_dev_t){p[i], (int)i, ids[j]};
      }
    }
    free(ids);
  }
  *plats = p;
  *nplat = np;
  *devs = d;
  *ndev = n;
  if (n == 0) *why = "no OpenCL device found on any platform";
  return MAESTRO_OK;
}

/* Parses "all" / "none" / "0,2" into a selection mask over `n` devices. */
static int select_devices(const char *spec, int n, char *sel, int *nsel) {
  *nsel = 0;
  memset(sel, 0, (size_t)(n > 0 ? n : 1));
  if (!spec || !strcmp(spec, "all")) {
    for (int i = 0; i < n; i++)
      sel[i] = 1;
    *nsel = n;
    return MAESTRO_OK;
  }
  if (!strcmp(spec, "none")) return MAESTRO_OK;
  const char *s = spec;
  while (*s) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || errno || v < 0)
      return err_set(MAESTRO_EINVAL, "devices='%s': expected all, none or indices like 0,2", spec);
    if (v >= n)
      return err_set(MAESTRO_ENODEV, "devices='%s': no OpenCL device %ld (this machine has %d)",
                     spec, v, n);
    if (!sel[v]) (*nsel)++;
    sel[v] = 1;
    s = end;
    if (*s == ',')
      s++;
    else if (*s)
      return err_set(MAESTRO_EINVAL, "devices='%s': expected all, none or indices like 0,2", spec);
  }
  return MAESTRO_OK;
}

static void get_str(cl_device_id d, cl_device_info what, char *buf, size_t len) {
  buf[0] = 0;
  if (clGetDeviceInfo(d, what, len, buf, NULL) != CL_SUCCESS) buf[0] = 0;
  buf[len - 1] = 0;
}

static void fill_info(ocl_dev_t *d, maestro_place_info_t *info, const char *plat_name) {
  memset(info, 0, sizeof *info);
  info->kind = MAESTRO_PLACE_DEVICE;
  info->index = d->index;
  get_str(d->id, CL_DEVICE_NAME, info->name, sizeof info->name);
  get_str(d->id, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor);
  snprintf(info->platform, sizeof info->platform, "%s", plat_name);
  info->os_index = -1;
  info->numa_node = -1;
  cl_device_type t = 0;
  clGetDeviceInfo(d->id, CL_DEVICE_TYPE, sizeof t, &t, NULL);
  info->device_type = (t & CL_DEVICE_TYPE_GPU)           ? MAESTRO_DEVICE_GPU
                      : (t & CL_DEVICE_TYPE_CPU)         ? MAESTRO_DEVICE_CPU
                      : (t & CL_DEVICE_TYPE_ACCELERATOR) ? MAESTRO_DEVICE_ACCELERATOR
                                                         : MAESTRO_DEVICE_OTHER;
  cl_uint cu = 0;
  clGetDeviceInfo(d->id, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL);
  info->compute_units = (int)cu;
  clGetDeviceInfo(d->id, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof d->global_mem, &d->global_mem, NULL);
  clGetDeviceInfo(d->id, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof d->max_alloc, &d->max_alloc, NULL);
  info->mem_bytes = d->global_mem;
  info->max_alloc = d->max_alloc;
  cl_bool hum = CL_FALSE;
  clGetDeviceInfo(d->id, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof hum, &hum, NULL);
  info->unified = (hum == CL_TRUE) || (t & CL_DEVICE_TYPE_CPU) ? 1 : 0;
  d->unified = info->unified;
  cl_uint bits = 0;
  clGetDeviceInfo(d->id, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof bits, &bits, NULL);
  d->base_align = bits / 8 ? bits / 8 : 1;
  clGetDeviceInfo(d->id, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof d->max_wg, &d->max_wg, NULL);
  snprintf(d->name, sizeof d->name, "%s", info->name);
  get_str(d->id, CL_DRIVER_VERSION, d->version, sizeof d->version);
}

/* Maps the device's profiling clock onto rt_now_ns with a marker: the
 * marker's QUEUED stamp is taken after `before` and its END before `after`,
 * so the offset lies between; keep the tightest of a few tries. */
static void calibrate_clock(ocl_dev_t *d) {
  int64_t best_lo = INT64_MIN, best_hi = INT64_MAX;
  for (int i = 0; i < 5; i++) {
    cl_event ev = NULL;
    uint64_t before = rt_now_ns();
    if (clEnqueueMarkerWithWaitList(d->q_exec, 0, NULL, &ev) != CL_SUCCESS) return;
    clWaitForEvents(1, &ev);
    uint64_t after = rt_now_ns();
    cl_ulong q = 0, end = 0;
    if (clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_QUEUED, sizeof q, &q, NULL) ==
            CL_SUCCESS &&
        clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof end, &end, NULL) ==
            CL_SUCCESS) {
      int64_t lo = (int64_t)before - (int64_t)q; /* host = dev + off, off >= before - q */
      int64_t hi = (int64_t)after - (int64_t)end;
      if (lo > best_lo) best_lo = lo;
      if (hi < best_hi) best_hi = hi;
    }
    clReleaseEvent(ev);
  }
  if (best_lo == INT64_MIN || best_hi == INT64_MAX) return;
  d->clock_off_ns = best_lo <= best_hi ? best_lo + (best_hi - best_lo) / 2 : best_hi;
}

uint64_t ocl_dev_to_host_ns(const ocl_dev_t *d, cl_ulong dev_ns) {
  int64_t v = (int64_t)dev_ns + d->clock_off_ns;
  return v < 0 ? 0 : (uint64_t)v;
}

static int make_queue(ocl_dev_t *d, cl_command_queue *q) {
  cl_int e;
  *q = clCreateCommandQueue(d->ctx, d->id, CL_QUEUE_PROFILING_ENABLE, &e);
  if (e != CL_SUCCESS) return ocl_fail(e, "clCreateCommandQueue");
  return MAESTRO_OK;
}

static void dev_fini(ocl_dev_t *d);
int ocl_completion_start(ocl_dev_t *d);
void ocl_completion_stop(ocl_dev_t *d);

static int dev_init(struct maestro_runtime *rt, ocl_dev_t *d) {
  d->rt = rt;
  pthread_mutex_init(&d->mem_lock, NULL);
  pthread_mutex_init(&d->launch_lock, NULL);
  pthread_cond_init(&d->mem_cond, NULL);
  pthread_mutex_init(&d->lock, NULL);
  pthread_cond_init(&d->cond, NULL);
  int rc;
  if ((rc = make_queue(d, &d->q_exec)) || (rc = make_queue(d, &d->q_h2d)) ||
      (rc = make_queue(d, &d->q_d2h)))
    return rc;
  snprintf(d->arch, sizeof d->arch, "opencl:%s", d->name);
  /* cfg.zero_copy 1 and -1 (auto) alike: only memory the device shares
   * with the host can be mapped. */
  d->zero_copy = d->unified && rt->cfg.zero_copy != 0;
  d->host_coherent =
      d->zero_copy && ocl_state(rt)->info[d->index].device_type == MAESTRO_DEVICE_CPU;
  uint64_t limit = rt->cfg.device_mem;
  if (!limit || limit > d->global_mem) limit = d->global_mem;
  d->mem_limit = limit;
  /* Until measured (ocl_measure_link): memcpy-like on a shared-memory
   * device, PCIe-like otherwise. */
  d->h2d_ns_per_byte = d->d2h_ns_per_byte = d->unified ? 1.0 / 15.0 : 1.0 / 10.0;
  d->h2d_lat_ns = d->d2h_lat_ns = d->unified ? 20000 : 10000;
  calibrate_clock(d);
  return ocl_completion_start(d);
}

static void dev_fini(ocl_dev_t *d) {
  ocl_completion_stop(d);
  if (d->q_h2d) clFinish(d->q_h2d);
  if (d->q_exec) clFinish(d->q_exec);
  if (d->q_d2h) clFinish(d->q_d2h);
  ocl_mem_fini(d);
  ocl_wraps_fini(d);
  if (d->q_h2d) clReleaseCommandQueue(d->q_h2d);
  if (d->q_exec) clReleaseCommandQueue(d->q_exec);
  if (d->q_d2h) clReleaseCommandQueue(d->q_d2h);
  pthread_mutex_destroy(&d->mem_lock);
  pthread_mutex_destroy(&d->launch_lock);
  pthread_cond_destroy(&d->mem_cond);
  pthread_mutex_destroy(&d->lock);
  pthread_cond_destroy(&d->cond);
}

/* One context per platform over its selected devices. */
/* cfg.ocl_contexts = "device" gives every device a context of its own (for
 * drivers that misbehave with shared contexts, and to test the path between
 * devices that cannot copy directly: through the host). */
static int make_contexts(struct maestro_runtime *rt, struct ocl *o) {
  if (!strcmp(rt->cfg.ocl_contexts, "device")) {
    for (int i = 0; i < o->ndev; i++) {
      ocl_dev_t *d = &o->dev[i];
      cl_context_properties props[] = {CL_CONTEXT_PLATFORM,
                                       (cl_context_properties)o->plat[d->plat].id, 0};
      cl_int e;
      d->ctx = clCreateContext(props, 1, &d->id, NULL, NULL, &e);
      if (e != CL_SUCCESS) return ocl_fail(e, "clCreateContext");
      d->own_ctx = 1;
    }
    return MAESTRO_OK;
  }
  for (int p = 0; p < o->nplat; p++) {
    cl_device_id ids[64];
    int n = 0;
    for (int i = 0; i < o->ndev && n < 64; i++)
      if (o->dev[i].plat == p) ids[n++] = o->dev[i].id;
    if (!n) continue;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)o->plat[p].id, 0};
    cl_int e;
    o->plat[p].ctx = clCreateContext(props, (cl_uint)n, ids, NULL, NULL, &e);
    if (e != CL_SUCCESS) return ocl_fail(e, "clCreateContext");
    for (int i = 0; i < o->ndev; i++)
      if (o->dev[i].plat == p) o->dev[i].ctx = o->plat[p].ctx;
  }
  return MAESTRO_OK;
}

void ocl_fini(struct maestro_runtime *rt) {
  struct ocl *o = ocl_state(rt);
  if (!o) return;
  ocl_lib_fini(o); /* its plans and caches hold the contexts */
  for (int i = 0; i < o->ndev; i++)
    dev_fini(&o->dev[i]);
  ocl_prog_fini(rt);
  for (int p = 0; p < o->nplat; p++)
    if (o->plat[p].ctx) clReleaseContext(o->plat[p].ctx);
  for (int i = 0; i < o->ndev; i++)
    if (o->dev[i].own_ctx && o->dev[i].ctx) clReleaseContext(o->dev[i].ctx);
  pthread_mutex_destroy(&o->prog_lock);
  free(o->dev);
  free(o->plat);
  free(o->info);
  free(o);
  place_backend_set(rt, &ocl_backend_ops, NULL);
}

int ocl_init(struct maestro_runtime *rt) {
  struct ocl *o = calloc(1, sizeof *o);
  if (!o) return err_set(MAESTRO_ENOMEM, "OpenCL discovery: out of memory");
  pthread_mutex_init(&o->prog_lock, NULL);
  o->rt = rt;
  /* Its own code finds it from now on, during the discovery too. */
  place_backend_set(rt, &ocl_backend_ops, o);

  const char *spec = rt->cfg.devices ? rt->cfg.devices : "all";
  if (!strcmp(spec, "none")) {
    o->why = "MAESTRO_DEVICES=none";
    return ocl_prog_init(rt);
  }
  cl_platform_id *plats;
  cl_uint nplat;
  found_dev_t *found;
  int nfound;
  const char *why = NULL;
  int rc = enumerate(&plats, &nplat, &found, &nfound, &why);
  if (rc) goto fail;
  o->total_devices = nfound;
  char *sel = calloc((size_t)(nfound > 0 ? nfound : 1), 1);
  int nsel = 0;
  if (!sel) {
    rc = err_set(MAESTRO_ENOMEM, "OpenCL discovery: out of memory");
    goto fail_free;
  }
  if ((rc = select_devices(spec, nfound, sel, &nsel))) goto fail_sel;
  if (nsel == 0) {
    o->why = why ? why : "no OpenCL device selected";
    free(sel);
    free(found);
    free(plats);
    return ocl_prog_init(rt);
  }
  o->nplat = (int)nplat;
  o->plat = calloc(nplat, sizeof *o->plat);
  o->dev = calloc((size_t)nsel, sizeof *o->dev);
  o->info = calloc((size_t)nsel, sizeof *o->info);
  if (!o->plat || !o->dev || !o->info) {
    rc = err_set(MAESTRO_ENOMEM, "OpenCL discovery: out of memory");
    goto fail_sel;
  }
  for (cl_uint p = 0; p < nplat; p++) {
    o->plat[p].id = plats[p];
    clGetPlatformInfo(plats[p], CL_PLATFORM_NAME, sizeof o->plat[p].name, o->plat[p].name, NULL);
    o->plat[p].name[sizeof o->plat[p].name - 1] = 0;
  }
  for (int i = 0; i < nfound; i++) {
    if (!sel[i]) continue;
    ocl_dev_t *d = &o->dev[o->ndev];
    d->index = o->ndev;
    d->global_index = i;
    d->plat = found[i].plat_index;
    d->id = found[i].dev;
    fill_info(d, &o->info[o->ndev], o->plat[d->plat].name);
    o->ndev++;
  }
  if ((rc = make_contexts(rt, o))) goto fail_sel;
  for (int i = 0; i < o->ndev; i++) {
    if ((rc = dev_init(rt, &o->dev[i]))) {
      err_append(" (device %d: %s)", i, o->dev[i].name);
      goto fail_sel;
    }
  }
  free(sel);
  free(found);
  free(plats);
  return ocl_prog_init(rt);

fail_sel:
  free(sel);
fail_free:
  free(found);
  free(plats);
fail:
  ocl_fini(rt);
  return rc;
}
