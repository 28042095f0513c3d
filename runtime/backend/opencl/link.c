/* ocl_measure_link: host<->device bandwidth and latency of one device, for
 * maestro-info --bench and for the transfer cost model of placement. */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "backend/opencl/ocl_int.h"

static uint64_t best_of(uint64_t a, uint64_t b) {
  return a < b ? a : b;
}

int ocl_measure_link(struct maestro_runtime *rt, int dev, size_t bytes, ocl_link_t *out) {
  if (!rt || !out)
    return err_set(MAESTRO_EINVAL, "ocl_measure_link: %s is NULL", rt ? "out" : "rt");
  struct ocl *o = ocl_get(rt);
  int n = o ? o->ndev : 0;
  if (dev < 0 || dev >= n)
    return err_set(MAESTRO_ENODEV, "ocl_measure_link: no device %d (this runtime has %d)", dev, n);
  if (bytes == 0) bytes = (size_t)64 << 20;
  if (bytes < 4096) bytes = 4096;
  memset(out, 0, sizeof *out);
  ocl_dev_t *d = ocl_dev(rt, dev);
  out->zero_copy = d->zero_copy;
  if (bytes > d->max_alloc) bytes = (size_t)d->max_alloc;
  void *host = NULL;
  if (posix_memalign(&host, 4096, bytes))
    return err_set(MAESTRO_ENOMEM, "ocl_measure_link: out of memory");
  memset(host, 1, bytes);
  cl_int e;
  cl_mem m = clCreateBuffer(d->ctx, CL_MEM_READ_WRITE, bytes, NULL, &e);
  if (e != CL_SUCCESS) {
    free(host);
    return ocl_fail(e, "ocl_measure_link: clCreateBuffer");
  }
  int rc = MAESTRO_OK;
  enum { REPS = 5 };
  uint64_t w = UINT64_MAX, r = UINT64_MAX, wl = UINT64_MAX, rl = UINT64_MAX, mp = UINT64_MAX;
  /* One warm-up each, then the best of REPS (the machine is shared). */
  for (int i = 0; i <= REPS && rc == MAESTRO_OK; i++) {
    uint64_t t0 = rt_now_ns();
    e = clEnqueueWriteBuffer(d->q_h2d, m, CL_TRUE, 0, bytes, host, 0, NULL, NULL);
    uint64_t t1 = rt_now_ns();
    if (e == CL_SUCCESS)
      e = clEnqueueReadBuffer(d->q_d2h, m, CL_TRUE, 0, bytes, host, 0, NULL, NULL);
    uint64_t t2 = rt_now_ns();
    if (e == CL_SUCCESS) e = clEnqueueWriteBuffer(d->q_h2d, m, CL_TRUE, 0, 4, host, 0, NULL, NULL);
    uint64_t t3 = rt_now_ns();
    if (e == CL_SUCCESS) e = clEnqueueReadBuffer(d->q_d2h, m, CL_TRUE, 0, 4, host, 0, NULL, NULL);
    uint64_t t4 = rt_now_ns();
    if (e != CL_SUCCESS) {
      rc = ocl_fail(e, "ocl_measure_link: transfer");
      break;
    }
    if (i == 0) continue;
    w = best_of(w, t1 - t0);
    r = best_of(r, t2 - t1);
    wl = best_of(wl, t3 - t2);
    rl = best_of(rl, t4 - t3);
  }
  /* The zero-copy path: map + unmap of a host-pointer buffer. */
  cl_mem hm = clCreateBuffer(d->ctx, CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR, bytes, host, &e);
  for (int i = 0; rc == MAESTRO_OK && e == CL_SUCCESS && i <= REPS; i++) {
    uint64_t t0 = rt_now_ns();
    void *p = clEnqueueMapBuffer(d->q_d2h, hm, CL_TRUE, CL_MAP_READ, 0, bytes, 0, NULL, NULL, &e);
    if (e != CL_SUCCESS) break;
    cl_event ev;
    e = clEnqueueUnmapMemObject(d->q_d2h, hm, p, 0, NULL, &ev);
    if (e != CL_SUCCESS) break;
    clWaitForEvents(1, &ev);
    clReleaseEvent(ev);
    if (i) mp = best_of(mp, rt_now_ns() - t0);
  }
  if (hm) clReleaseMemObject(hm);
  clReleaseMemObject(m);
  free(host);
  if (rc) return rc;
  out->bytes = bytes;
  out->h2d_gbps = (double)bytes / (double)(w ? w : 1);
  out->d2h_gbps = (double)bytes / (double)(r ? r : 1);
  out->h2d_lat_ns = wl;
  out->d2h_lat_ns = rl;
  out->map_ns = mp == UINT64_MAX ? 0 : mp;
  /* Feed the placement cost model. */
  d->h2d_ns_per_byte = (double)w / (double)bytes;
  d->d2h_ns_per_byte = (double)r / (double)bytes;
  d->h2d_lat_ns = wl;
  d->d2h_lat_ns = rl;
  return MAESTRO_OK;
}

/* The public entry point (include/maestro/runtime.h) for tools. */
int maestro_runtime_measure_link(maestro_runtime_t *rt, int dev, size_t bytes,
                                 maestro_link_info_t *out) {
  if (!rt || !out)
    return err_set(MAESTRO_EINVAL, "maestro_runtime_measure_link: %s is NULL", rt ? "out" : "rt");
  int n = maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE);
  if (n < 0) return n;
  if (dev < 0 || dev >= n)
    return err_set(MAESTRO_ENODEV,
                   "maestro_runtime_measure_link: no device place %d (this runtime has %d)", dev,
                   n);
  ocl_link_t link;
  int rc = ocl_measure_link(rt, dev, bytes, &link);
  if (rc != MAESTRO_OK) return rc;
  *out = (maestro_link_info_t){
      .bytes = link.bytes,
      .h2d_gbps = link.h2d_gbps,
      .d2h_gbps = link.d2h_gbps,
      .h2d_lat_ns = link.h2d_lat_ns,
      .d2h_lat_ns = link.d2h_lat_ns,
      .map_ns = link.map_ns,
      .zero_copy = link.zero_copy,
  };
  return MAESTRO_OK;
}
