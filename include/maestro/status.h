/**
 * @file maestro/status.h
 * Status codes and error reporting.
 *
 * Every public function that can fail returns an `int` status: MAESTRO_OK (0)
 * on success, a negative MAESTRO_E* code on failure, and in a few documented
 * places the positive MAESTRO_DONE. When a call fails, a detailed message that
 * names the culprit (the port, the agent, the OpenCL build log) is kept per
 * thread and read with maestro_last_error().
 */
#ifndef MAESTRO_STATUS_H
#define MAESTRO_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

/** Status codes. 0 is success, negative values are errors. */
enum maestro_status {
  MAESTRO_OK = 0,          /**< success */
  MAESTRO_DONE = 1,        /**< a source agent has nothing more to send */
  MAESTRO_EINVAL = -1,     /**< bad argument (NULL, out of range, bad config string) */
  MAESTRO_ENOMEM = -2,     /**< out of memory (host or device) */
  MAESTRO_ENODEV = -3,     /**< no such core or device */
  MAESTRO_ETYPE = -4,      /**< port element types differ */
  MAESTRO_EGRAPH = -5,     /**< graph invalid: unknown or unconnected port, duplicate name */
  MAESTRO_EBUILD = -6,     /**< OpenCL build failed; the build log is in maestro_last_error() */
  MAESTRO_ECL = -7,        /**< another OpenCL failure */
  MAESTRO_ECLOSED = -8,    /**< the stream has ended */
  MAESTRO_ETIMEDOUT = -9,  /**< nothing happened before the timeout */
  MAESTRO_ESTATE = -10,    /**< not allowed now (e.g. connect after start) */
  MAESTRO_EAGENT = -11,    /**< an agent failed and its supervisor stopped the graph */
  MAESTRO_ESYS = -12,      /**< an operating-system call failed (errno in the message) */
  MAESTRO_ECANCELED = -13, /**< the graph was cancelled (maestro_graph_cancel) */
  MAESTRO_ENOTSUP = -14,   /**< not in this build (a library it was built without) */
};

/**
 * A short, static description of a status code ("invalid argument", ...).
 * Never NULL; unknown codes give "unknown status".
 */
const char *maestro_strerror(int status);

/**
 * The detailed message of the last failed call made by this thread, such as
 * "maestro_connect: agent 'scale' has no output port 'outt'". The string
 * belongs to the thread and stays valid until its next Maestro call fails.
 * An empty string when no call has failed on this thread.
 */
const char *maestro_last_error(void);

#ifdef __cplusplus
}
#endif
#endif
