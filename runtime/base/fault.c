#include "base/fault.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"

unsigned long long fault_count(const struct fault *f, enum fault_kind kind) {
  if ((unsigned)kind >= FAULT_NKIND) return 0;
  return atomic_load_explicit(&((struct fault *)f)->count[kind], memory_order_relaxed);
}

#ifndef MAESTRO_FAULT_INJECTION
int fault_parse(const char *var, const char *spec, struct fault *f) {
  memset(f, 0, sizeof *f);
  if (!spec || !*spec) return MAESTRO_OK;
  return err_set(MAESTRO_EINVAL,
                 "%s='%s': this build has no fault injection (build with CMAKE_BUILD_TYPE=Debug)",
                 var, spec);
}
#else
static const char *const kind_names[FAULT_NKIND] = {"alloc", "launch", "xfer",
                                                    "fire",  "answer", "serve"};
static atomic_ullong generations = 1;

int fault_parse(const char *var, const char *spec, struct fault *f) {
  memset(f, 0, sizeof *f);
  if (!spec || !*spec) return MAESTRO_OK;
  const char *p = spec;
  while (*p) {
    const char *eq = strchr(p, '=');
    size_t klen = eq ? (size_t)(eq - p) : strlen(p);
    int k = -1, is_seed = klen == 4 && !strncmp(p, "seed", 4);
    for (int i = 0; i < FAULT_NKIND; i++)
      if (strlen(kind_names[i]) == klen && !strncmp(p, kind_names[i], klen)) k = i;
    if (!eq || (k < 0 && !is_seed))
      return err_set(MAESTRO_EINVAL,
                     "%s='%s': expected items like alloc=0.01 (alloc, launch, xfer, fire, answer, "
                     "serve: a "
                     "fraction from 0 to 1; seed: an integer), separated by commas",
                     var, spec);
    char *end;
    if (is_seed) {
      f->seed = strtoull(eq + 1, &end, 0);
    } else {
      double v = strtod(eq + 1, &end);
      if (end == eq + 1 || !(v >= 0 && v <= 1))
        return err_set(MAESTRO_EINVAL, "%s='%s': %.*s: expected a fraction from 0 to 1", var, spec,
                       (int)klen, p);
      f->thresh[k] = v >= 1 ? UINT32_MAX : (uint32_t)(v * 4294967296.0);
      if (f->thresh[k]) f->on = 1;
    }
    if (end == eq + 1 || (*end && *end != ','))
      return err_set(MAESTRO_EINVAL, "%s='%s': %.*s: not a number", var, spec, (int)klen, p);
    p = *end ? end + 1 : end;
  }
  f->gen = atomic_fetch_add(&generations, 1);
  return MAESTRO_OK;
}

static uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

struct fault_tls {
  uint64_t gen, state;
};
static _Thread_local struct fault_tls tls;
static atomic_uint thread_order;

int fault_draw(struct fault *f, enum fault_kind kind) {
  if (!f->thresh[kind]) return 0;
  if (tls.gen != f->gen) {
    tls.gen = f->gen;
    tls.state = mix64(f->seed ^ mix64(atomic_fetch_add(&thread_order, 1) + 1)) | 1;
  }
  tls.state ^= tls.state >> 12; /* xorshift64* */
  tls.state ^= tls.state << 25;
  tls.state ^= tls.state >> 27;
  uint32_t r = (uint32_t)((tls.state * 2685821657736338717ull) >> 32);
  if (r >= f->thresh[kind]) return 0;
  atomic_fetch_add_explicit(&f->count[kind], 1, memory_order_relaxed);
  return 1;
}
#endif
