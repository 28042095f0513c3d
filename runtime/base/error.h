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

/* Clears this thread's message. */
void err_clear(void);

#endif
