/* Status strings and the thread-local detailed error message. */
#include "base/error.h"

#include "base/culprit.h"

#ifndef NDEBUG
_Thread_local const char *culprit_name __attribute__((tls_model("initial-exec")));
#endif

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Build logs can be long; keep the whole of a reasonable one. */
#define ERR_CAP 16384

static _Thread_local char err_msg[ERR_CAP];
_Thread_local int err_dirty __attribute__((tls_model("initial-exec")));

const char *maestro_strerror(int status) {
  switch (status) {
  case MAESTRO_OK: return "success";
  case MAESTRO_DONE: return "done";
  case MAESTRO_EINVAL: return "invalid argument";
  case MAESTRO_ENOMEM: return "out of memory";
  case MAESTRO_ENODEV: return "no such core or device";
  case MAESTRO_ETYPE: return "port types differ";
  case MAESTRO_EGRAPH: return "invalid graph";
  case MAESTRO_EBUILD: return "OpenCL build failed";
  case MAESTRO_ECL: return "OpenCL failure";
  case MAESTRO_ECLOSED: return "stream closed";
  case MAESTRO_ETIMEDOUT: return "timed out";
  case MAESTRO_ESTATE: return "not allowed in the current state";
  case MAESTRO_EAGENT: return "an agent failed";
  case MAESTRO_ESYS: return "system call failed";
  case MAESTRO_ECANCELED: return "cancelled";
  case MAESTRO_ENOTSUP: return "not supported by this build";
  default: return "unknown status";
  }
}

const char *maestro_last_error(void) {
  return err_msg;
}

void err_format(const char *fmt, ...) {
  err_dirty = 1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err_msg, sizeof err_msg, fmt, ap);
  va_end(ap);
}

#if !defined(__GNUC__)
int err_set(int status, const char *fmt, ...) {
  err_dirty = 1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err_msg, sizeof err_msg, fmt, ap);
  va_end(ap);
  return status;
}
#endif

void err_append(const char *fmt, ...) {
  err_dirty = 1;
  size_t len = strnlen(err_msg, sizeof err_msg);
  if (len + 1 >= sizeof err_msg) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err_msg + len, sizeof err_msg - len, fmt, ap);
  va_end(ap);
}

void err_clear_msg(void) {
  err_msg[0] = '\0';
  err_dirty = 0;
}
