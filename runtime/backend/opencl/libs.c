/* The device side of the library agents (MAESTRO_BUNDLED_LIB_*, kern/lib.c):
 * .cl functions calling CLBlast (MAESTRO_HAVE_CLBLAST) and clFFT
 * (MAESTRO_HAVE_CLFFT) on the firing's queue, each built only when CMake
 * found the library. What takes seconds is done once per runtime, not per
 * firing: CLBlast compiles its kernels for a context the first time it is
 * called there, so the agent's preparation (graph start) calls it once on
 * every device the agent may run on; clFFT needs a plan per length, made on
 * the first firing of that length on a device and kept until the runtime
 * is destroyed. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend/opencl/ocl_int.h"
#include "base/error.h"
#include "maestro/opencl.h"

#ifdef MAESTRO_HAVE_CLBLAST
#include <clblast_c.h>
#endif
#ifdef MAESTRO_HAVE_CLFFT
#include <clFFT.h>
#endif

#ifdef MAESTRO_HAVE_CLFFT
/* clfftSetup / clfftTeardown are process-wide: counted over the runtimes
 * that made plans. */
static pthread_mutex_t clfft_lock = PTHREAD_MUTEX_INITIALIZER;
static int clfft_users;

struct ocl_fft_plan {
  int dev;
  size_t n;
  clfftPlanHandle plan;
  struct ocl_fft_plan *next;
};
#endif

struct ocl_lib {
  pthread_mutex_t lock;
  uint64_t warm[2]; /* CLBlast compiled on device i: bit i ([0] Sgemm, [1] Dgemm) */
  int clblast_used;
  int clfft_setup; /* this runtime counts in clfft_users */
  struct ocl_fft_plan *plans;
};

#if defined(MAESTRO_HAVE_CLBLAST) || defined(MAESTRO_HAVE_CLFFT)
static struct ocl_lib *lib_get(struct ocl *o) {
  pthread_mutex_lock(&o->prog_lock);
  if (!o->lib && (o->lib = calloc(1, sizeof *o->lib))) pthread_mutex_init(&o->lib->lock, NULL);
  struct ocl_lib *l = o->lib;
  pthread_mutex_unlock(&o->prog_lock);
  return l;
}
#endif

void ocl_lib_fini(struct ocl *o) {
  struct ocl_lib *l = o->lib;
  if (!l) return;
#ifdef MAESTRO_HAVE_CLFFT
  for (struct ocl_fft_plan *p = l->plans, *next; p; p = next) {
    next = p->next;
    clfftDestroyPlan(&p->plan);
    free(p);
  }
  if (l->clfft_setup) {
    pthread_mutex_lock(&clfft_lock);
    if (--clfft_users == 0) clfftTeardown();
    pthread_mutex_unlock(&clfft_lock);
  }
#endif
#ifdef MAESTRO_HAVE_CLBLAST
  /* CLBlast's program cache holds the runtime's contexts: let them go
   * (another runtime of the process compiles again on its next call). */
  if (l->clblast_used) CLBlastClearCache();
#endif
  pthread_mutex_destroy(&l->lock);
  free(l);
  o->lib = NULL;
}

#if defined(MAESTRO_HAVE_CLBLAST) || defined(MAESTRO_HAVE_CLFFT)
static const char *agent_of(const maestro_bundled_agent_t *ba) {
  return ba && ba->desc.name ? ba->desc.name : "?";
}

/* The routine's name in refusals (the words kern_lib_routine gives the CPU side's). */
static const char *routine_of(const maestro_bundled_agent_t *ba) {
  switch (ba ? ba->which : MAESTRO_BUNDLED_LIB_END) {
  case MAESTRO_BUNDLED_LIB_SGEMM: return "CLBlastSgemm";
  case MAESTRO_BUNDLED_LIB_DGEMM: return "CLBlastDgemm";
  case MAESTRO_BUNDLED_LIB_FFT: return "clfftEnqueueTransform";
  default: return "?";
  }
}

/* The firing's sizes (ocl_lib_hooks.sizes: the check the CPU side makes
 * too), or a refusal naming the agent, the routine and the port. */
static int lib_sizes(maestro_clfire_t *f, const maestro_bundled_agent_t **ba, size_t dims[3]) {
  *ba = maestro_clfire_state(f);
  maestro_buf_t *in[2] = {maestro_clfire_in_buf(f, 0), maestro_clfire_in_buf(f, 1)};
  char why[256];
  int st = ocl_lib_hooks.sizes(*ba, in, dims, why, sizeof why);
  if (st != MAESTRO_OK)
    return err_set(st, "agent '%s': %s: %s", agent_of(*ba), routine_of(*ba), why);
  return MAESTRO_OK;
}

/* The output of `bytes` with its shape. */
static int lib_out(maestro_clfire_t *f, size_t bytes, const size_t shape[2], cl_mem *mem) {
  int rc = maestro_clfire_out(f, 0, bytes, mem);
  if (rc == MAESTRO_OK) rc = maestro_buf_set_shape(ocl_clfire_out_buf(f, 0), 2, shape);
  return rc;
}

/* The device place of this firing. */
static int fire_dev(maestro_clfire_t *f) {
  return ocl_clfire_dev(f);
}
#endif

/* ---- CLBlast ---- */

#ifdef MAESTRO_HAVE_CLBLAST
static int gemm_cl(maestro_clfire_t *f) {
  const maestro_bundled_agent_t *ba;
  size_t mnk[3];
  int rc = lib_sizes(f, &ba, mnk);
  if (rc != MAESTRO_OK) return rc;
  const size_t m = mnk[0], n = mnk[1], k = mnk[2];
  int dbl = ba->which == MAESTRO_BUNDLED_LIB_DGEMM;
  cl_mem c;
  if ((rc = lib_out(f, m * n * (dbl ? sizeof(double) : sizeof(float)), (const size_t[]){n, m}, &c)))
    return rc;
  cl_command_queue q = maestro_clfire_queue(f);
  cl_mem a = maestro_clfire_in(f, 0), b = maestro_clfire_in(f, 1);
  cl_event ev = NULL;
  /* CLBlast enqueues on q and returns; its kernels were compiled when the
   * graph started (ocl_lib_prepare), so nothing here blocks. */
  CLBlastStatusCode st =
      dbl ? CLBlastDgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, m, n, k,
                         1.0, a, 0, k, b, 0, n, 0.0, c, 0, n, &q, &ev)
          : CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, m, n, k,
                         1.0f, a, 0, k, b, 0, n, 0.0f, c, 0, n, &q, &ev);
  if (st != CLBlastSuccess)
    return err_set(MAESTRO_ECL,
                   "agent '%s': %s (m %zu, n %zu, k %zu) failed on device %d: "
                   "CLBlast status %d",
                   agent_of(ba), dbl ? "CLBlastDgemm" : "CLBlastSgemm", m, n, k, fire_dev(f),
                   (int)st);
  rc = maestro_clfire_done_after(f, ev);
  clReleaseEvent(ev);
  return rc;
}

/* One 1 x 1 x 1 product on device `dev` on a queue of its own: CLBlast
 * compiles the routine's kernels for the device's context there. */
static int clblast_warm(struct ocl *o, int dev, int dbl, const char *agent) {
  ocl_dev_t *d = &o->dev[dev];
  if (dbl) {
    cl_device_fp_config fp = 0;
    clGetDeviceInfo(d->id, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof fp, &fp, NULL);
    if (!fp)
      return err_set(MAESTRO_ENODEV,
                     "agent '%s': CLBlastDgemm: device %d (%s) has no double precision", agent, dev,
                     d->name);
  }
  cl_int e;
  cl_command_queue q = clCreateCommandQueue(d->ctx, d->id, 0, &e);
  if (!q) return ocl_fail(e, "clCreateCommandQueue (CLBlast set-up)");
  cl_mem m = clCreateBuffer(d->ctx, CL_MEM_READ_WRITE, sizeof(double), NULL, &e);
  CLBlastStatusCode st = CLBlastInvalidMemObject;
  if (m && dbl)
    st = CLBlastDgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, 1, 1, 1, 1.0,
                      m, 0, 1, m, 0, 1, 0.0, m, 0, 1, &q, NULL);
  else if (m)
    st = CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, 1, 1, 1, 1.0f,
                      m, 0, 1, m, 0, 1, 0.0f, m, 0, 1, &q, NULL);
  clFinish(q);
  if (m) clReleaseMemObject(m);
  clReleaseCommandQueue(q);
  if (st != CLBlastSuccess)
    return err_set(MAESTRO_ECL, "agent '%s': %s set-up on device %d (%s): CLBlast status %d", agent,
                   dbl ? "CLBlastDgemm" : "CLBlastSgemm", dev, d->name, (int)st);
  return MAESTRO_OK;
}
#endif

/* ---- clFFT ---- */

#ifdef MAESTRO_HAVE_CLFFT
/* The plan for length n on device `dev`, made and baked on first use (under
 * the lock: two devices' workers may ask at once). */
static int fft_plan(struct ocl *o, int dev, size_t n, cl_command_queue q, const char *agent,
                    clfftPlanHandle *out) {
  struct ocl_lib *l = lib_get(o);
  if (!l) return err_set(MAESTRO_ENOMEM, "agent '%s': out of memory", agent);
  int rc = MAESTRO_OK;
  pthread_mutex_lock(&l->lock);
  struct ocl_fft_plan *p = l->plans;
  while (p && (p->dev != dev || p->n != n))
    p = p->next;
  if (!p && !l->clfft_setup) {
    pthread_mutex_lock(&clfft_lock);
    /* What clfftInitSetupData does (a C99 inline in the header). */
    clfftSetupData setup = {clfftVersionMajor, clfftVersionMinor, clfftVersionPatch, 0};
    clfftStatus st = clfft_users ? CLFFT_SUCCESS : clfftSetup(&setup);
    if (st == CLFFT_SUCCESS) clfft_users++, l->clfft_setup = 1;
    pthread_mutex_unlock(&clfft_lock);
    if (st != CLFFT_SUCCESS)
      rc = err_set(MAESTRO_ECL, "agent '%s': clfftSetup failed: status %d", agent, (int)st);
  }
  if (!p && rc == MAESTRO_OK) {
    clfftPlanHandle h;
    clfftStatus st = clfftCreateDefaultPlan(&h, o->dev[dev].ctx, CLFFT_1D, &n);
    if (st == CLFFT_SUCCESS) {
      if ((st = clfftSetPlanPrecision(h, CLFFT_SINGLE)) == CLFFT_SUCCESS &&
          (st = clfftSetLayout(h, CLFFT_COMPLEX_INTERLEAVED, CLFFT_COMPLEX_INTERLEAVED)) ==
              CLFFT_SUCCESS &&
          (st = clfftSetResultLocation(h, CLFFT_OUTOFPLACE)) == CLFFT_SUCCESS)
        st = clfftBakePlan(h, 1, &q, NULL, NULL);
      if (st != CLFFT_SUCCESS) clfftDestroyPlan(&h);
    }
    if (st != CLFFT_SUCCESS || !(p = malloc(sizeof *p))) {
      if (st == CLFFT_SUCCESS) clfftDestroyPlan(&h);
      rc = err_set(st ? MAESTRO_ECL : MAESTRO_ENOMEM,
                   "agent '%s': clFFT plan of length %zu on device %d: status %d", agent, n, dev,
                   (int)st);
    } else {
      *p = (struct ocl_fft_plan){dev, n, h, l->plans};
      l->plans = p;
    }
  }
  if (p) *out = p->plan;
  pthread_mutex_unlock(&l->lock);
  return rc;
}

static int fft_cl(maestro_clfire_t *f) {
  const maestro_bundled_agent_t *ba;
  size_t dims[3];
  int rc = lib_sizes(f, &ba, dims);
  if (rc != MAESTRO_OK) return rc;
  size_t n = dims[0];
  cl_command_queue q = maestro_clfire_queue(f);
  clfftPlanHandle plan;
  if ((rc = fft_plan(ocl_clfire_ocl(f), fire_dev(f), n, q, agent_of(ba), &plan))) return rc;
  cl_mem in = maestro_clfire_in(f, 0), out;
  if ((rc = lib_out(f, n * 2 * sizeof(float), (const size_t[]){2, n}, &out))) return rc;
  cl_event ev = NULL;
  clfftStatus st = clfftEnqueueTransform(plan, CLFFT_FORWARD, 1, &q, 0, NULL, &ev, &in, &out, NULL);
  if (st != CLFFT_SUCCESS)
    return err_set(MAESTRO_ECL,
                   "agent '%s': clfftEnqueueTransform (length %zu) failed on "
                   "device %d: status %d",
                   agent_of(ba), n, fire_dev(f), (int)st);
  rc = maestro_clfire_done_after(f, ev);
  clReleaseEvent(ev);
  return rc;
}
#endif

/* ---- what the rest of the runtime sees (ocl.h) ---- */

maestro_cl_fn ocl_lib_cl(maestro_bundled_t which) {
  switch (which) {
#ifdef MAESTRO_HAVE_CLBLAST
  case MAESTRO_BUNDLED_LIB_SGEMM:
  case MAESTRO_BUNDLED_LIB_DGEMM: return gemm_cl;
#endif
#ifdef MAESTRO_HAVE_CLFFT
  case MAESTRO_BUNDLED_LIB_FFT: return fft_cl;
#endif
  default: return NULL;
  }
}

const char *ocl_lib_missing(maestro_bundled_t which) {
  if (ocl_lib_cl(which)) return NULL;
  switch (which) {
  case MAESTRO_BUNDLED_LIB_SGEMM:
  case MAESTRO_BUNDLED_LIB_DGEMM: return "CLBlast";
  case MAESTRO_BUNDLED_LIB_FFT: return "clFFT";
  default: return NULL;
  }
}

int ocl_lib_prepare(struct ocl *o, const struct place_agent_desc *d, uint64_t places) {
#ifdef MAESTRO_HAVE_CLBLAST
  if (d->cl != gemm_cl) return MAESTRO_OK;
  const maestro_bundled_agent_t *ba = d->state;
  int dbl = ba && ba->which == MAESTRO_BUNDLED_LIB_DGEMM;
  struct ocl_lib *l = lib_get(o);
  if (!l) return err_set(MAESTRO_ENOMEM, "agent '%s': out of memory", d->name);
  int rc = MAESTRO_OK;
  pthread_mutex_lock(&l->lock);
  for (int i = 0; i < o->ndev && i < 64 && rc == MAESTRO_OK; i++) {
    if (!(places >> i & 1) || (l->warm[dbl] >> i & 1)) continue;
    l->clblast_used = 1;
    if ((rc = clblast_warm(o, i, dbl, d->name)) == MAESTRO_OK) l->warm[dbl] |= (uint64_t)1 << i;
  }
  pthread_mutex_unlock(&l->lock);
  return rc;
#else
  (void)o, (void)d, (void)places;
  return MAESTRO_OK;
#endif
}

void ocl_lib_counts(struct maestro_runtime *rt, int *fft_plans, int *clblast_setups) {
  struct ocl *o = ocl_state(rt);
  *fft_plans = *clblast_setups = 0;
  if (!o) return;
  pthread_mutex_lock(&o->prog_lock);
  struct ocl_lib *l = o->lib;
  pthread_mutex_unlock(&o->prog_lock);
  if (!l) return;
  pthread_mutex_lock(&l->lock);
#ifdef MAESTRO_HAVE_CLFFT
  for (struct ocl_fft_plan *p = l->plans; p; p = p->next)
    ++*fft_plans;
#endif
  for (int i = 0; i < 2; i++)
    for (uint64_t w = l->warm[i]; w; w &= w - 1)
      ++*clblast_setups;
  pthread_mutex_unlock(&l->lock);
}
