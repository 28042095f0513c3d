/* A steady pipeline does not call malloc per message: buffers come from the
 * per-worker pools (issue 3). This program counts the calls to the C
 * allocator by defining malloc & co. itself (forwarding to glibc's
 * __libc_* entry points): the library is linked statically into it, so its
 * calls land here. Sanitizer builds bring their own allocator, so there the
 * test only checks the run. */
#include <stdio.h>

#include "engine_util.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ENG_COUNT_MALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define ENG_COUNT_MALLOC 0
#endif
#endif
#if !defined(ENG_COUNT_MALLOC) && defined(__GLIBC__)
#define ENG_COUNT_MALLOC 1
#endif
#ifndef ENG_COUNT_MALLOC
#define ENG_COUNT_MALLOC 0
#endif

static atomic_long allocs;

#if ENG_COUNT_MALLOC
#include <errno.h>
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

void *malloc(size_t n) {
  atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
  return __libc_malloc(n);
}
void *calloc(size_t n, size_t m) {
  atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
  return __libc_calloc(n, m);
}
void *realloc(void *p, size_t n) {
  atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
  return __libc_realloc(p, n);
}
void *aligned_alloc(size_t a, size_t n) {
  atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
  return __libc_memalign(a, n);
}
void *memalign(size_t a, size_t n) {
  atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
  return __libc_memalign(a, n);
}
int posix_memalign(void **p, size_t a, size_t n) {
  atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
  *p = __libc_memalign(a, n);
  return *p ? 0 : ENOMEM;
}
void free(void *p) {
  __libc_free(p);
}
#endif

/* source -> pass -> pass -> sink with n 8-byte messages; returns the
 * allocator calls made while the graph was built, run and destroyed. */
static long allocs_for(uint64_t n) {
  static uint64_t count;
  count = n;
  long before = atomic_load(&allocs);
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "steady", &g) == MAESTRO_OK);
  maestro_agent_t *s = eng_add_source(g, "s", eng_count_source, &count);
  maestro_agent_t *a = eng_add(g, "a", eng_inc, NULL);
  maestro_agent_t *b = eng_add(g, "b", eng_pass, NULL);
  maestro_agent_t *k = NULL;
  CU_ASSERT_EQUAL(
      maestro_agent_add(
          g, &(maestro_agent_desc_t){.name = "k", .in = eng_u64_in, .n_in = 1, .cpu = eng_sink},
          &k),
      MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, s, "out", a, "in", 16), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, a, "out", b, "in", 16), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, b, "out", k, "in", 16), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_run(g), MAESTRO_OK);
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(k, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.msgs_in, n);
  maestro_graph_destroy(g);
  return atomic_load(&allocs) - before;
}

static void test_no_malloc_per_message(void) {
  allocs_for(20000); /* warm the pools */
  long small = allocs_for(10000);
  long large = allocs_for(200000);
  if (!ENG_COUNT_MALLOC) {
    printf("\n    (sanitizer build: allocator calls not counted)\n");
    return;
  }
  printf("\n    allocator calls: %ld for 10 000 messages, %ld for 200 000\n", small, large);
  CU_ASSERT(small > 0); /* the counting works: building a graph allocates */
  /* 190 000 more messages (two new buffers each: source and inc) cost
   * (nearly) no more allocations. */
  CU_ASSERT(large - small < 1000);
}

void register_suites(void) {
  ADD_SUITE("engine_alloc", eng_suite_init, eng_suite_fini,
            {"no malloc per message", test_no_malloc_per_message});
}
