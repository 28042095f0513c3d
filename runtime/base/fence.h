/* A full memory fence (store-load ordering) for the engine's "publish, then
 * look whether the other side sleeps" hand-shakes. ThreadSanitizer does not
 * model atomic_thread_fence (and gcc refuses it under -fsanitize=thread), so
 * there it is a seq_cst read-modify-write of a thread-local word: a full
 * barrier on the hardware all the same. */
#ifndef MAESTRO_BASE_FENCE_H
#define MAESTRO_BASE_FENCE_H

#include <stdatomic.h>

#if defined(__SANITIZE_THREAD__)
#define MAESTRO_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MAESTRO_TSAN 1
#endif
#endif

#ifdef MAESTRO_TSAN
static _Thread_local atomic_int fence_word;
static inline void full_fence(void) {
  atomic_fetch_add_explicit(&fence_word, 0, memory_order_seq_cst);
}
#else
static inline void full_fence(void) {
  atomic_thread_fence(memory_order_seq_cst);
}
#endif

#endif
