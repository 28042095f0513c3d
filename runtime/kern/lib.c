/* Library agents (MAESTRO_BUNDLED_LIB_*): their ports, the one check of a
 * firing's shapes that both sides use, and the CPU side (OpenBLAS, FFTW),
 * each built only when CMake found the library (MAESTRO_HAVE_OPENBLAS,
 * MAESTRO_HAVE_FFTW). The device side (CLBlast, clFFT) is the OpenCL
 * backend's: it reaches this file's check, and this file its .cl functions,
 * through runtime/backends.c. FFTW plans are made once per length and kept
 * in the runtime (the "kern" module of runtime/modules.c) until it goes. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/runtime.h"
#include "kern/kern.h"

#ifdef MAESTRO_HAVE_OPENBLAS
#include <cblas.h>
#endif
#ifdef MAESTRO_HAVE_FFTW
#include <fftw3.h>
#endif

static const maestro_port_t f32_ab[] = {{"a", MAESTRO_F32, 0}, {"b", MAESTRO_F32, 0}};
static const maestro_port_t f32_c[] = {{"c", MAESTRO_F32, 0}};
static const maestro_port_t f64_ab[] = {{"a", MAESTRO_F64, 0}, {"b", MAESTRO_F64, 0}};
static const maestro_port_t f64_c[] = {{"c", MAESTRO_F64, 0}};
static const maestro_port_t fft_x[] = {{"x", MAESTRO_F32, 0}};
static const maestro_port_t fft_y[] = {{"y", MAESTRO_F32, 0}};

int kern_is_lib(maestro_bundled_t which) {
  return which >= MAESTRO_BUNDLED_LIB_FIRST && which < MAESTRO_BUNDLED_LIB_END;
}

const char *kern_lib_routine(maestro_bundled_t which) {
  switch (which) {
  case MAESTRO_BUNDLED_LIB_SGEMM: return "CLBlastSgemm";
  case MAESTRO_BUNDLED_LIB_DGEMM: return "CLBlastDgemm";
  case MAESTRO_BUNDLED_LIB_FFT: return "clfftEnqueueTransform";
  default: return NULL;
  }
}

int kern_lib_ports(maestro_bundled_t which, const maestro_port_t **in, int *n_in,
                   const maestro_port_t **out, int *n_out) {
  switch (which) {
  case MAESTRO_BUNDLED_LIB_SGEMM: *in = f32_ab, *out = f32_c, *n_in = 2; break;
  case MAESTRO_BUNDLED_LIB_DGEMM: *in = f64_ab, *out = f64_c, *n_in = 2; break;
  case MAESTRO_BUNDLED_LIB_FFT: *in = fft_x, *out = fft_y, *n_in = 1; break;
  default: return err_set(MAESTRO_EINVAL, "bundled kernels: unknown operation %d", (int)which);
  }
  *n_out = 1;
  return MAESTRO_OK;
}

/* ---- one firing's sizes, from the messages' shapes ---- */

static int gemm_sizes(const maestro_bundled_agent_t *ba, maestro_buf_t *const *in, size_t mnk[3],
                      char *why, size_t len) {
  const char *port[2] = {"a", "b"};
  size_t es = ba->which == MAESTRO_BUNDLED_LIB_DGEMM ? sizeof(double) : sizeof(float);
  size_t d[2][3];
  int nd[2];
  for (int i = 0; i < 2; i++)
    nd[i] = maestro_buf_shape(in[i], d[i]);
  const maestro_bundled_params_t *p = &ba->params;
  if (!nd[0] && !nd[1] && p->m && p->n && p->k) {
    /* no shapes: the agent's parameters */
    d[0][0] = p->k, d[0][1] = p->m, d[1][0] = p->n, d[1][1] = p->k;
  } else {
    for (int i = 0; i < 2; i++)
      if (nd[i] != 2) {
        if (nd[i])
          snprintf(why, len,
                   "input %d '%s' has a shape of %d dimensions; a matrix needs 2 "
                   "({columns, rows})",
                   i, port[i], nd[i]);
        else
          snprintf(why, len,
                   "input %d '%s' has no shape: set the matrix's {columns, rows} with "
                   "maestro_buf_set_shape (or m, n, k in the agent's parameters)",
                   i, port[i]);
        return MAESTRO_EINVAL;
      }
  }
  if (d[1][1] != d[0][0]) {
    snprintf(why, len,
             "input 1 'b' has %zu rows and input 0 'a' %zu columns: they do not multiply "
             "(a is {k, m}, b {n, k})",
             d[1][1], d[0][0]);
    return MAESTRO_EINVAL;
  }
  mnk[0] = d[0][1], mnk[1] = d[1][0], mnk[2] = d[0][0];
  for (int i = 0; i < 3; i++)
    if (!mnk[i] || mnk[i] > INT_MAX) {
      snprintf(why, len, "m %zu, n %zu, k %zu: each must be 1 .. %d", mnk[0], mnk[1], mnk[2],
               INT_MAX);
      return MAESTRO_EINVAL;
    }
  for (int i = 0; i < 2; i++) {
    size_t want = d[i][0] * d[i][1] * es, got = maestro_buf_size(in[i]);
    if (got != want) {
      snprintf(why, len, "input %d '%s' holds %zu bytes, its %zu x %zu shape needs %zu", i, port[i],
               got, d[i][1], d[i][0], want);
      return MAESTRO_EINVAL;
    }
  }
  return MAESTRO_OK;
}

static int fft_sizes(maestro_buf_t *const *in, size_t dims[3], char *why, size_t len) {
  size_t d[3], bytes = maestro_buf_size(in[0]), n;
  int nd = maestro_buf_shape(in[0], d);
  if (nd == 0) {
    if (bytes % (2 * sizeof(float))) {
      snprintf(why, len,
               "input 0 'x' holds %zu bytes, not a whole number of complex values (2 floats)",
               bytes);
      return MAESTRO_EINVAL;
    }
    n = bytes / (2 * sizeof(float));
  } else if (nd == 2 && d[0] == 2) {
    n = d[1];
    if (bytes != n * 2 * sizeof(float)) {
      snprintf(why, len, "input 0 'x' holds %zu bytes, its shape {2, %zu} needs %zu", bytes, n,
               n * 2 * sizeof(float));
      return MAESTRO_EINVAL;
    }
  } else {
    snprintf(why, len,
             "input 0 'x' has a shape of %d dimensions {%zu, %zu, %zu}; a complex signal is "
             "{2, n} (interleaved re, im) or has none",
             nd, d[0], d[1], d[2]);
    return MAESTRO_EINVAL;
  }
  if (!n || n > INT_MAX) {
    snprintf(why, len, "input 0 'x': a signal of %zu complex values (1 .. %d)", n, INT_MAX);
    return MAESTRO_EINVAL;
  }
  size_t r = n;
  for (size_t f = 2; f <= 7; f++)
    while (r % f == 0)
      r /= f;
  if (r != 1) {
    snprintf(why, len,
             "input 0 'x': length %zu has a prime factor above 7 (%zu left after 2, 3, 5, 7; "
             "clFFT transforms only such lengths)",
             n, r);
    return MAESTRO_EINVAL;
  }
  dims[0] = n, dims[1] = dims[2] = 1;
  return MAESTRO_OK;
}

int kern_lib_sizes(const maestro_bundled_agent_t *ba, maestro_buf_t *const *in, size_t dims[3],
                   char *why, size_t why_len) {
  if (!ba || !kern_is_lib(ba->which)) {
    snprintf(why, why_len,
             "no library agent state (the agent's .state must be its "
             "maestro_bundled_agent_t)");
    return MAESTRO_EINVAL;
  }
  int n_in = ba->which == MAESTRO_BUNDLED_LIB_FFT ? 1 : 2;
  for (int i = 0; i < n_in; i++)
    if (!in[i]) {
      snprintf(why, why_len, "input %d is missing", i);
      return MAESTRO_EINVAL;
    }
  if (ba->which == MAESTRO_BUNDLED_LIB_FFT) return fft_sizes(in, dims, why, why_len);
  return gemm_sizes(ba, in, dims, why, why_len);
}

/* ---- what this build has ---- */

static int cpu_has(maestro_bundled_t which) {
#ifdef MAESTRO_HAVE_OPENBLAS
  if (which != MAESTRO_BUNDLED_LIB_FFT) return 1;
#endif
#ifdef MAESTRO_HAVE_FFTW
  if (which == MAESTRO_BUNDLED_LIB_FFT) return 1;
#endif
  (void)which;
  return 0;
}

const char *maestro_bundled_missing(maestro_bundled_t which) {
  if (!kern_is_lib(which)) return NULL;
  int fft = which == MAESTRO_BUNDLED_LIB_FFT;
  const char *dev = kern_dev_lib.missing(which);
  if (cpu_has(which)) return dev;
  if (dev) return fft ? "clFFT, FFTW (fftw3f)" : "CLBlast, OpenBLAS";
  return fft ? "FFTW (fftw3f)" : "OpenBLAS";
}

/* ---- the CPU side ---- */

#if defined(MAESTRO_HAVE_OPENBLAS) || defined(MAESTRO_HAVE_FFTW)
static const char *lib_agent_name(const maestro_bundled_agent_t *ba) {
  return ba->desc.name ? ba->desc.name : kern_lib_routine(ba->which);
}

/* The firing's inputs and sizes, or a refusal naming the agent. */
static int lib_begin(maestro_fire_t *f, const maestro_bundled_agent_t **ba, maestro_buf_t *in[2],
                     size_t dims[3]) {
  *ba = maestro_fire_state(f);
  if (!*ba || !kern_is_lib((*ba)->which))
    return err_set(MAESTRO_EINVAL, "bundled library CPU implementation fired without its agent "
                                   "state");
  in[0] = maestro_fire_in(f, 0);
  in[1] = (*ba)->which == MAESTRO_BUNDLED_LIB_FFT ? NULL : maestro_fire_in(f, 1);
  char why[256];
  int st = kern_lib_sizes(*ba, in, dims, why, sizeof why);
  if (st != MAESTRO_OK)
    return err_set(st, "agent '%s': %s: %s", lib_agent_name(*ba), kern_lib_routine((*ba)->which),
                   why);
  return MAESTRO_OK;
}

/* An output of `bytes` with its shape and writable host view. */
static int lib_out(maestro_fire_t *f, const maestro_bundled_agent_t *ba, size_t bytes,
                   const size_t shape[2], maestro_buf_t **out, void **data) {
  int st = maestro_fire_alloc(f, bytes, out);
  if (st != MAESTRO_OK) return st;
  if (!(*data = maestro_buf_data(*out)) ||
      (st = maestro_buf_set_shape(*out, 2, shape)) != MAESTRO_OK) {
    maestro_buf_release(*out);
    return err_set(st ? st : MAESTRO_ENOMEM, "agent '%s': output buffer not writable",
                   lib_agent_name(ba));
  }
  return MAESTRO_OK;
}
#endif

#ifdef MAESTRO_HAVE_OPENBLAS
static int cpu_gemm(maestro_fire_t *f) {
  const maestro_bundled_agent_t *ba;
  maestro_buf_t *in[2], *out;
  size_t mnk[3];
  int st = lib_begin(f, &ba, in, mnk);
  if (st != MAESTRO_OK) return st;
  const void *a = maestro_buf_cdata(in[0]), *b = maestro_buf_cdata(in[1]);
  if (!a || !b) return MAESTRO_ENOMEM; /* maestro_last_error() says why */
  int dbl = ba->which == MAESTRO_BUNDLED_LIB_DGEMM;
  const int m = (int)mnk[0], n = (int)mnk[1], k = (int)mnk[2];
  void *c;
  size_t es = dbl ? sizeof(double) : sizeof(float);
  if ((st = lib_out(f, ba, mnk[0] * mnk[1] * es, (const size_t[]){mnk[1], mnk[0]}, &out, &c)))
    return st;
  if (dbl)
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0, a, k, b, n, 0.0, c, n);
  else
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
  return maestro_fire_out(f, 0, out);
}
#endif

#ifdef MAESTRO_HAVE_FFTW
/* FFTW's planner is not thread-safe (its execute functions are): every
 * plan is made and destroyed under this lock, which also guards the
 * runtimes' plan lists. */
static pthread_mutex_t fftw_lock = PTHREAD_MUTEX_INITIALIZER;

struct kern_plan {
  size_t n;
  int aligned; /* made for SIMD-aligned arrays, else FFTW_UNALIGNED */
  fftwf_plan plan;
  struct kern_plan *next;
};
#endif

struct kern_lib {
  struct kern_plan *plans;
};

int kern_lib_init(struct maestro_runtime *rt) {
  rt->kern_lib = calloc(1, sizeof *rt->kern_lib);
  return rt->kern_lib ? MAESTRO_OK : err_set(MAESTRO_ENOMEM, "kern: out of memory");
}

void kern_lib_fini(struct maestro_runtime *rt) {
  struct kern_lib *kl = rt->kern_lib;
  if (!kl) return;
#ifdef MAESTRO_HAVE_FFTW
  pthread_mutex_lock(&fftw_lock);
  for (struct kern_plan *p = kl->plans, *next; p; p = next) {
    next = p->next;
    fftwf_destroy_plan(p->plan);
    free(p);
  }
  pthread_mutex_unlock(&fftw_lock);
#endif
  free(kl);
  rt->kern_lib = NULL;
}

int kern_lib_plans(struct maestro_runtime *rt) {
  int n = 0;
#ifdef MAESTRO_HAVE_FFTW
  pthread_mutex_lock(&fftw_lock);
  for (struct kern_plan *p = rt->kern_lib ? rt->kern_lib->plans : NULL; p; p = p->next)
    n++;
  pthread_mutex_unlock(&fftw_lock);
#endif
  (void)rt;
  return n;
}

#ifdef MAESTRO_HAVE_FFTW
/* The runtime's plan for length n, made on first use. Every firing brings
 * its own arrays: one plan for arrays aligned as fftwf_malloc's are (the
 * SIMD codelets; runtime buffers normally are), another made with
 * FFTW_UNALIGNED for the others (new-array execution needs the alignment
 * the plan was made with). */
static fftwf_plan fft_plan(struct maestro_runtime *rt, size_t n, int aligned) {
  struct kern_lib *kl = rt ? rt->kern_lib : NULL;
  fftwf_plan plan = NULL;
  if (!kl) return NULL;
  pthread_mutex_lock(&fftw_lock);
  for (struct kern_plan *p = kl->plans; p && !plan; p = p->next)
    if (p->n == n && p->aligned == aligned) plan = p->plan;
  if (!plan) {
    fftwf_complex *x = fftwf_malloc(n * sizeof *x), *y = fftwf_malloc(n * sizeof *y);
    struct kern_plan *p = malloc(sizeof *p);
    if (x && y && p &&
        (plan = fftwf_plan_dft_1d((int)n, x, y, FFTW_FORWARD,
                                  FFTW_ESTIMATE | (aligned ? 0 : FFTW_UNALIGNED)))) {
      *p = (struct kern_plan){n, aligned, plan, kl->plans};
      kl->plans = p;
    } else {
      free(p);
    }
    fftwf_free(x);
    fftwf_free(y);
  }
  pthread_mutex_unlock(&fftw_lock);
  return plan;
}

static int cpu_fft(maestro_fire_t *f) {
  const maestro_bundled_agent_t *ba;
  maestro_buf_t *in[2], *out;
  size_t dims[3];
  int st = lib_begin(f, &ba, in, dims);
  if (st != MAESTRO_OK) return st;
  const void *x = maestro_buf_cdata(in[0]);
  if (!x) return MAESTRO_ENOMEM;
  void *y;
  if ((st = lib_out(f, ba, dims[0] * 2 * sizeof(float), (const size_t[]){2, dims[0]}, &out, &y)))
    return st;
  int aligned = !fftwf_alignment_of((float *)(uintptr_t)x) && !fftwf_alignment_of(y);
  fftwf_plan plan = fft_plan(maestro_fire_runtime(f), dims[0], aligned);
  if (!plan) {
    maestro_buf_release(out);
    return err_set(MAESTRO_ENOMEM, "agent '%s': FFTW made no plan for length %zu",
                   lib_agent_name(ba), dims[0]);
  }
  /* out of place: the (shared, read-only) input is left as it is */
  fftwf_execute_dft(plan, (fftwf_complex *)(uintptr_t)x, y);
  return maestro_fire_out(f, 0, out);
}
#endif

static maestro_cpu_fn lib_cpu(maestro_bundled_t which) {
#ifdef MAESTRO_HAVE_OPENBLAS
  if (which == MAESTRO_BUNDLED_LIB_SGEMM || which == MAESTRO_BUNDLED_LIB_DGEMM) return cpu_gemm;
#endif
#ifdef MAESTRO_HAVE_FFTW
  if (which == MAESTRO_BUNDLED_LIB_FFT) return cpu_fft;
#endif
  (void)which;
  return NULL;
}

maestro_cpu_fn kern_lib_cpu(maestro_bundled_t which) {
  return kern_is_lib(which) ? lib_cpu(which) : NULL;
}

int kern_lib_agent(maestro_bundled_t which, const char *name, const maestro_bundled_params_t *p,
                   maestro_bundled_agent_t *out) {
  const char *routine = kern_lib_routine(which);
  if (!out) return err_set(MAESTRO_EINVAL, "%s: NULL agent storage", routine);
  const char *missing = maestro_bundled_missing(which);
  if (missing)
    return err_set(MAESTRO_ENOTSUP,
                   "maestro_bundled_agent: '%s' (%s) needs %s, which this build of Maestro was "
                   "made without (tools/install-deps.sh installs it; then rebuild)",
                   name, routine, missing);
  maestro_bundled_params_t params = {0};
  if (p) params = *p; /* before clearing: p may point into out */
  memset(out, 0, sizeof *out);
  out->which = which;
  out->params = params;
  maestro_agent_desc_t *d = &out->desc;
  kern_lib_ports(which, &d->in, &d->n_in, &d->out, &d->n_out);
  d->name = name;
  d->cpu = lib_cpu(which);
  /* cppcheck reads the table's function-pointer-returning member as an int */
  /* cppcheck-suppress AssignmentIntegerToAddress */
  d->cl = kern_dev_lib.cl(which);
  d->state = out;
  d->affinity = (maestro_affinity_t){MAESTRO_ANYWHERE, -1, 0};
  d->flags = MAESTRO_STATELESS;
  return MAESTRO_OK;
}
