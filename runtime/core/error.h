/* Internal error reporting: set the calling thread's detailed message and
 * return the status, so a failing path reads `return err_set(MAESTRO_EINVAL,
 * "maestro_connect: agent '%s' has no output port '%s'", a, p);`. */
#ifndef MAESTRO_CORE_ERROR_H
#define MAESTRO_CORE_ERROR_H

#include "maestro/status.h"

#if defined(__GNUC__)
#define MAESTRO_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MAESTRO_PRINTF(f, a)
#endif

/* Records a formatted message for maestro_last_error() and returns `status`. */
int err_set(int status, const char *fmt, ...) MAESTRO_PRINTF(2, 3);

/* Appends text to the current message (for long OpenCL build logs). */
void err_append(const char *fmt, ...) MAESTRO_PRINTF(1, 2);

/* Clears this thread's message. */
void err_clear(void);

#endif
