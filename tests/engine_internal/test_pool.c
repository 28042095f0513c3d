/* Buffer pools: alignment, size classes, reuse instead of malloc,
 * copy-on-write. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "maestro.h"
#include "mem/buf.h"
#include "mem/pool.h"
#include "testmain.h"

/* Sanitizer allocators abort on a request above their limit (1 TiB) unless
 * told to return NULL as malloc does: the huge-size cases count on NULL. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TEST_SANITIZED 1
#endif
#endif
#ifdef TEST_SANITIZED
const char *__asan_default_options(void);
const char *__tsan_default_options(void);
const char *__asan_default_options(void) {
  return "allocator_may_return_null=1";
}
const char *__tsan_default_options(void) {
  return "allocator_may_return_null=1";
}
#endif

#if defined(__SANITIZE_ADDRESS__)
#define POOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_ASAN 1
#endif
#endif
#ifdef POOL_ASAN
#include <sanitizer/asan_interface.h>
#endif

static maestro_runtime_t *rt;

static int pool_init(void) {
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.ncpu = 1;
  cfg.devices = "none";
  cfg.stats = 0;
  return maestro_runtime_create(&cfg, &rt) == MAESTRO_OK ? 0 : 1;
}

static int pool_fini(void) {
  maestro_runtime_destroy(rt);
  return 0;
}

static void pool_classes(void) {
  CU_ASSERT_EQUAL(mem_class_of(0), 0);
  CU_ASSERT_EQUAL(mem_class_of(64), 0);
  CU_ASSERT_EQUAL(mem_class_of(65), 1);
  CU_ASSERT_EQUAL(mem_class_bytes(mem_class_of(1000)), 1024);
  CU_ASSERT_EQUAL(mem_class_bytes(mem_class_of((size_t)64 << 20)), (size_t)64 << 20);
  CU_ASSERT_EQUAL(mem_class_of((size_t)512 << 20), MEM_NOPOOL);
}

/* Every class's edges: its own size is its class, one byte more the next
 * (mem_class_of computes it from the highest bit, not by a scan). */
static void pool_class_edges(void) {
  for (unsigned k = 0; k < MEM_NCLASS; k++) {
    size_t cap = (size_t)MEM_CLASS_MIN << k;
    CU_ASSERT_EQUAL(mem_class_of(cap), k);
    CU_ASSERT_EQUAL(mem_class_of(cap - 1), cap - 1 <= MEM_CLASS_MIN ? 0 : k);
    CU_ASSERT_EQUAL(mem_class_of(cap + 1), k + 1 < MEM_NCLASS ? k + 1 : MEM_NOPOOL);
  }
  CU_ASSERT_EQUAL(mem_class_of(1), 0);
  CU_ASSERT_EQUAL(mem_class_of(SIZE_MAX), MEM_NOPOOL);
}

/* A thread with a cache of its own (a worker's) takes a buffer of the
 * size just released back from it: the same buffer, reset (one reference,
 * the new size, no shape), with room for the size at every class edge; no
 * fresh allocation in the steady state. Above the cached classes (2 MiB)
 * it goes through the shared pool as before. */
static void pool_thread_cache(void) {
  mem_thread_attach(rt, 0);
  size_t sizes[] = {
      1, 64, 65, 128, 129, 4096, 4097, (size_t)1 << 20, (size_t)2 << 20, ((size_t)2 << 20) + 1};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t n = sizes[i];
    maestro_buf_t *b, *c;
    CU_ASSERT_EQUAL_FATAL(maestro_buf_create(rt, n, &b), MAESTRO_OK);
    size_t dims[1] = {n};
    CU_ASSERT_EQUAL(maestro_buf_set_shape(b, 1, dims), MAESTRO_OK);
    maestro_buf_release(b);
    struct mem_stats s0, s1;
    mem_get_stats(rt, &s0);
    CU_ASSERT_EQUAL_FATAL(maestro_buf_create(rt, n, &c), MAESTRO_OK);
    mem_get_stats(rt, &s1);
    CU_ASSERT_PTR_EQUAL(c, b);
    CU_ASSERT_EQUAL(s1.fresh, s0.fresh);
    CU_ASSERT_EQUAL(maestro_buf_refs(c), 1);
    CU_ASSERT_EQUAL(maestro_buf_size(c), n);
    CU_ASSERT_EQUAL(c->ndim, 0);
    CU_ASSERT(c->host_cap >= n);
    CU_ASSERT_EQUAL((uintptr_t)c->host % MEM_HOST_ALIGN, 0);
    memset(maestro_buf_data(c), 0xcd, n); /* ASan checks the bound */
    maestro_buf_release(c);
  }
  mem_thread_detach();
}

static void pool_alignment(void) {
  size_t sizes[] = {0, 1, 8, 100, 4096, 5000, 1 << 20, (size_t)9 << 20};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    maestro_buf_t *b;
    CU_ASSERT_EQUAL_FATAL(maestro_buf_create(rt, sizes[i], &b), MAESTRO_OK);
    CU_ASSERT_EQUAL((uintptr_t)b->host % MEM_HOST_ALIGN, 0);
    CU_ASSERT_EQUAL(maestro_buf_size(b), sizes[i]);
    if (sizes[i]) memset(maestro_buf_data(b), 0xab, sizes[i]); /* ASan checks the bound */
    maestro_buf_release(b);
  }
}

static void pool_reuses(void) {
  struct mem_stats s0, s1;
  maestro_buf_t *b;
  maestro_buf_create(rt, 100, &b);
  maestro_buf_release(b);
  mem_get_stats(rt, &s0);
  for (int i = 0; i < 1000; i++) {
    CU_ASSERT_EQUAL_FATAL(maestro_buf_create(rt, 100, &b), MAESTRO_OK);
    maestro_buf_release(b);
  }
  mem_get_stats(rt, &s1);
  CU_ASSERT_EQUAL(s1.fresh, s0.fresh); /* no new allocation in the steady state */
  CU_ASSERT_EQUAL(s1.reused - s0.reused, 1000);
}

/* Classes above 2 MiB keep as many buffers as were in use at once: K
 * buffers of 4 MiB and of 16 MiB alive together, released, again and again,
 * allocate nothing after the first round. They used to keep 4 of each class
 * and allocate K - 4 afresh every round. */
static void pool_large_reuse(void) {
  enum { K = 12, ROUNDS = 5 };
  const size_t sizes[] = {(size_t)4 << 20, (size_t)3 << 22 /* 12 MiB: the 16 MiB class */};
  for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
    struct mem_stats s0 = {0}, s;
    for (int round = 0; round < ROUNDS; round++) {
      maestro_buf_t *b[K];
      for (int i = 0; i < K; i++) {
        CU_ASSERT_EQUAL_FATAL(maestro_buf_create(rt, sizes[z], &b[i]), MAESTRO_OK);
        ((unsigned char *)maestro_buf_data(b[i]))[sizes[z] - 1] = (unsigned char)i;
      }
      for (int i = 0; i < K; i++)
        maestro_buf_release(b[i]);
      mem_get_stats(rt, &s);
      if (round == 0) {
        s0 = s;
        continue;
      }
      CU_ASSERT_EQUAL(s.fresh, s0.fresh);
      CU_ASSERT_EQUAL(s.reused - s0.reused, (unsigned long long)(K * round));
    }
  }
}

static void pool_copy_on_write(void) {
  int v = 7;
  maestro_buf_t *a, *b;
  CU_ASSERT_EQUAL_FATAL(maestro_buf_from(rt, &v, sizeof v, &a), MAESTRO_OK);
  b = maestro_buf_retain(a);
  CU_ASSERT_EQUAL(maestro_buf_refs(a), 2);
  CU_ASSERT_PTR_NULL(maestro_buf_data(a)); /* shared: not writable */
  CU_ASSERT_EQUAL(maestro_buf_writable(&b), MAESTRO_OK);
  CU_ASSERT_PTR_NOT_EQUAL(a, b);
  CU_ASSERT_EQUAL(maestro_buf_refs(a), 1);
  *(int *)maestro_buf_data(b) = 9;
  CU_ASSERT_EQUAL(*(const int *)maestro_buf_cdata(a), 7);
  maestro_buf_t *c = a;
  CU_ASSERT_EQUAL(maestro_buf_writable(&c), MAESTRO_OK); /* held alone: no copy */
  CU_ASSERT_PTR_EQUAL(c, a);
  maestro_buf_release(a);
  maestro_buf_release(b);
}

static int names(const char *what) {
  return strstr(maestro_last_error(), what) != NULL;
}

/* A second release of a buffer whose count is 0 is reported and ignored:
 * the count stays 0 (it used to wrap around) and the buffer is in the pool
 * once, so two allocations get two buffers. */
static void pool_double_release(void) {
  size_t sizes[] = {100, 5000, 3 << 19, (size_t)3 << 20};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    struct mem_stats s0, s1;
    mem_get_stats(rt, &s0);
    maestro_buf_t *b, *x, *y;
    CU_ASSERT_EQUAL_FATAL(maestro_buf_create(rt, sizes[i], &b), MAESTRO_OK);
    maestro_buf_release(b);
    maestro_buf_release(b);
    CU_ASSERT(names("maestro_buf_release"));
    CU_ASSERT(names("already released"));
    CU_ASSERT_EQUAL(maestro_buf_refs(b), 0);
    mem_get_stats(rt, &s1);
    CU_ASSERT_EQUAL(s1.overreleased - s0.overreleased, 1);
    CU_ASSERT_EQUAL_FATAL(maestro_buf_create(rt, sizes[i], &x), MAESTRO_OK);
    CU_ASSERT_EQUAL_FATAL(maestro_buf_create(rt, sizes[i], &y), MAESTRO_OK);
    CU_ASSERT_PTR_NOT_EQUAL(x, y);
    CU_ASSERT_EQUAL(maestro_buf_refs(x), 1);
    CU_ASSERT_EQUAL(maestro_buf_refs(y), 1);
    maestro_buf_release(x);
    maestro_buf_release(y);
  }
}

/* A holder that retains and releases a buffer after its last release (a use
 * after release): before, the retain took the count from 0 to 1 and the
 * release recycled the buffer a second time, so the pool handed it out twice. */
static void pool_retain_after_release(void) {
  struct mem_stats s0, s1;
  mem_get_stats(rt, &s0);
  maestro_buf_t *b, *x, *y;
  CU_ASSERT_EQUAL_FATAL(maestro_buf_create(rt, 100, &b), MAESTRO_OK);
  maestro_buf_release(b);
  CU_ASSERT_PTR_EQUAL(maestro_buf_retain(b), b);
  CU_ASSERT(names("maestro_buf_retain"));
  CU_ASSERT_EQUAL(maestro_buf_refs(b), 0);
  maestro_buf_release(b);
  CU_ASSERT(names("maestro_buf_release"));
  CU_ASSERT_EQUAL(maestro_buf_refs(b), 0);
  mem_get_stats(rt, &s1);
  CU_ASSERT_EQUAL(s1.overreleased - s0.overreleased, 2);
  CU_ASSERT_EQUAL_FATAL(maestro_buf_create(rt, 100, &x), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_buf_create(rt, 100, &y), MAESTRO_OK);
  CU_ASSERT_PTR_NOT_EQUAL(x, y);
  maestro_buf_release(x);
  maestro_buf_release(y);
}

/* Sizes whose header and alignment arithmetic wraps around are refused with
 * a message naming the function and the size (they used to succeed over a
 * one-byte allocation); so are sizes no allocator can give. */
static void pool_huge_sizes(void) {
  size_t sizes[] = {SIZE_MAX,       SIZE_MAX - 1,   SIZE_MAX - 63,   SIZE_MAX - 127,
                    SIZE_MAX - 128, SIZE_MAX - 255, SIZE_MAX - 4096, SIZE_MAX / 2 + 1,
                    SIZE_MAX / 2,   (size_t)1 << 62};
  char expect[64];
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    snprintf(expect, sizeof expect, "%zu bytes", sizes[i]);
    maestro_buf_t *b = NULL;
    CU_ASSERT_EQUAL(maestro_buf_create(rt, sizes[i], &b), MAESTRO_ENOMEM);
    CU_ASSERT_PTR_NULL(b);
    CU_ASSERT(names("maestro_buf_create"));
    CU_ASSERT(names(expect));
    char byte = 0;
    CU_ASSERT_EQUAL(maestro_buf_from(rt, &byte, sizes[i], &b), MAESTRO_ENOMEM);
    CU_ASSERT_PTR_NULL(b);
    CU_ASSERT(names("maestro_buf_from"));
    CU_ASSERT(names(expect));
  }
  /* The pools still work. */
  maestro_buf_t *b;
  CU_ASSERT_EQUAL(maestro_buf_create(rt, 1000, &b), MAESTRO_OK);
  maestro_buf_release(b);
}

/* Under ASan the bytes of a pooled buffer are poisoned (a write after the
 * last release is reported) and unpoisoned when the pool hands it out. */
static void pool_poisoned(void) {
#ifdef POOL_ASAN
  size_t sizes[] = {1, 100, 5000, 3 << 19, (size_t)3 << 20};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    maestro_buf_t *b, *x;
    CU_ASSERT_EQUAL_FATAL(maestro_buf_create(rt, sizes[i], &b), MAESTRO_OK);
    char *p = maestro_buf_data(b);
    CU_ASSERT_FALSE(__asan_address_is_poisoned(p));
    maestro_buf_release(b);
    CU_ASSERT_TRUE(__asan_address_is_poisoned(p));
    CU_ASSERT_TRUE(__asan_address_is_poisoned(p + sizes[i] - 1));
    CU_ASSERT_EQUAL_FATAL(maestro_buf_create(rt, sizes[i], &x), MAESTRO_OK);
    CU_ASSERT_PTR_EQUAL(x, b); /* the pooled one */
    CU_ASSERT_PTR_NULL(__asan_region_is_poisoned(maestro_buf_data(x), sizes[i]));
    maestro_buf_release(x);
  }
#else
  printf("\n    (not an ASan build: nothing to check)\n");
#endif
}

void register_pool_tests(void) {
  ADD_SUITE("pool", pool_init, pool_fini, {"classes", pool_classes}, {"alignment", pool_alignment},
            {"reuses", pool_reuses}, {"large_reuse", pool_large_reuse},
            {"copy_on_write", pool_copy_on_write}, {"double_release", pool_double_release},
            {"retain_after_release", pool_retain_after_release}, {"huge_sizes", pool_huge_sizes},
            {"poisoned", pool_poisoned}, {"class_edges", pool_class_edges},
            {"thread_cache", pool_thread_cache});
}
