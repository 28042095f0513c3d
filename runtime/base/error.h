/* Internal error reporting: set the calling thread's detailed message and
 * return the status, so a failing path reads `return err_set(MAESTRO_EINVAL,
 * "maestro_connect: agent '%s' has no output port '%s'", a, p);`. */
#ifndef MAESTRO_BASE_ERROR_H
#define MAESTRO_BASE_ERROR_H

#include "maestro/status.h"

#if defined(__GNUC__)
#define MAESTRO_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MAESTRO_PRINTF(f, a)
#endif

/* Records a formatted message for maestro_last_error(). */
void err_format(const char *fmt, ...) MAESTRO_PRINTF(1, 2);

/* Records a formatted message for maestro_last_error() and returns `status`.
 * A macro so that static analyzers see the status it returns (they do not
 * follow a variadic function and then suspect every error path). */
#if defined(__GNUC__)
#define err_set(status, ...)                                                                       \
  __extension__({                                                                                  \
    err_format(__VA_ARGS__);                                                                       \
    (int)(status);                                                                                 \
  })
#else
int err_set(int status, const char *fmt, ...);
#endif

/* Appends text to the current message (for long OpenCL build logs). */
void err_append(const char *fmt, ...) MAESTRO_PRINTF(1, 2);

/* 1 when this thread's message may be non-empty (set by err_format and
 * err_append), so that clearing an empty one (once per firing) is a test,
 * not a call. Initial-exec: one int, read without __tls_get_addr. */
extern _Thread_local int err_dirty __attribute__((tls_model("initial-exec")));
/* err_clear's work when the message may be non-empty. */
void err_clear_msg(void);

/* Clears this thread's message. */
static inline void err_clear(void) {
  if (err_dirty) err_clear_msg();
}

#endif
