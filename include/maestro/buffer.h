/**
 * @file maestro/buffer.h
 * Buffers: reference-counted bytes, immutable while shared.
 *
 * A buffer keeps a replica per memory node (host memory, each device's
 * memory) and knows which replicas hold valid bytes. Sending a buffer hands
 * the sender's reference over; several holders share it without a copy and
 * must not write to it. maestro_buf_writable() gives a private copy when the
 * buffer is shared (copy-on-write).
 */
#ifndef MAESTRO_BUFFER_H
#define MAESTRO_BUFFER_H

#include <stddef.h>

#include "runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque buffer handle. */
typedef struct maestro_buf maestro_buf_t;

/**
 * A new buffer of `bytes` uninitialised bytes, held alone by the caller.
 * `bytes` may be 0. @return MAESTRO_OK, MAESTRO_EINVAL, MAESTRO_ENOMEM (also
 * for a size no buffer can hold, such as SIZE_MAX, with the size in
 * maestro_last_error()).
 */
int maestro_buf_create(maestro_runtime_t *rt, size_t bytes, maestro_buf_t **b);

/** A new buffer holding a copy of `bytes` bytes at `data` (statuses as
 *  maestro_buf_create()). */
int maestro_buf_from(maestro_runtime_t *rt, const void *data, size_t bytes, maestro_buf_t **b);

/** Size in bytes; 0 for NULL. */
size_t maestro_buf_size(const maestro_buf_t *b);

/**
 * Writable host view. Only for a buffer the caller holds alone (reference
 * count 1); a shared buffer gives NULL (use maestro_buf_writable() first).
 * Device replicas become stale: the host replica is the valid one after.
 */
void *maestro_buf_data(maestro_buf_t *b);

/**
 * Read-only host view, brought back from a device first if the host replica
 * is not valid. NULL on failure (maestro_last_error() says why) and for a
 * zero-sized buffer.
 */
const void *maestro_buf_cdata(maestro_buf_t *b);

/**
 * Adds a reference; returns `b`. On a buffer already released by its last
 * holder (a use after release) it adds none and says so in
 * maestro_last_error().
 */
maestro_buf_t *maestro_buf_retain(maestro_buf_t *b);

/**
 * Drops a reference; the last one frees every replica (the memory goes back
 * to the runtime's pools). NULL is ignored. A release past the last one
 * while the buffer sits in a pool (count 0) is ignored and reported in
 * maestro_last_error(), so that the pool never holds it twice; once the pool
 * has handed the memory to a new holder, a stale release cannot be told
 * from the new holder's own. In AddressSanitizer builds of the library a
 * released buffer's bytes are poisoned while pooled: a write through a
 * pointer kept after the release is reported.
 */
void maestro_buf_release(maestro_buf_t *b);

/**
 * Makes `*b` writable by the caller: when others hold it too, `*b` is replaced
 * by a private copy (and the caller's reference to the shared one dropped);
 * when held alone, nothing is copied.
 * @return MAESTRO_OK, MAESTRO_EINVAL, MAESTRO_ENOMEM.
 */
int maestro_buf_writable(maestro_buf_t **b);

/**
 * Gives `b` a shape: `ndim` (1 to 3) dimensions in elements, `dims[0]`
 * the fastest-varying one (an image's width, OpenCL's get_global_id(0)),
 * then `dims[1]` (height) and `dims[2]`. The shape is host-side metadata:
 * it stays with the buffer as it passes through agents (a CPU agent that
 * forwards its input, a copy made by maestro_buf_writable) and across
 * devices, and is never sent to a device; a kernel agent reads it with
 * MAESTRO_KARG_DIM, and its outputs get the shape of the launch (see
 * maestro_kernel_t). The element size is not recorded: the product of the
 * dims must divide the buffer's size into whole elements of at least one
 * byte (for an empty buffer, a product of 0). Setting it again replaces it.
 * @return MAESTRO_OK, or MAESTRO_EINVAL (b or dims NULL, ndim out of
 *         range, a shape that does not fit: nothing is changed).
 */
int maestro_buf_set_shape(maestro_buf_t *b, int ndim, const size_t *dims);

/**
 * The shape of `b`: its dimensions written to `dims` (unused ones as 1; all
 * 0 when it has none; `dims` may be NULL).
 * @return the number of dimensions, 0 for a buffer without a shape or NULL.
 */
int maestro_buf_shape(const maestro_buf_t *b, size_t dims[3]);

/**
 * Shrinks `b`, held alone, to its first `bytes` bytes (a message allocated
 * for the most it could hold, sent with what it holds). Its bytes are kept;
 * copies on devices are freed (the next use there copies the kept bytes);
 * a shape that no longer fits is dropped. The memory itself is not given
 * back until the buffer is released.
 * @return MAESTRO_OK; MAESTRO_ESTATE when others hold it too (reference
 *         count above 1); MAESTRO_EINVAL for NULL or `bytes` larger than its
 *         size; a failure to bring its bytes back from a device.
 */
int maestro_buf_truncate(maestro_buf_t *b, size_t bytes);

/** Current reference count (a snapshot; for tests and diagnostics). */
unsigned maestro_buf_refs(const maestro_buf_t *b);

#ifdef __cplusplus
}
#endif
#endif
