/**
 * @file maestro/opencl.h
 * OpenCL interop: agents implemented against OpenCL itself (to call a
 * library such as CLBlast or clFFT, or to run several kernels per firing
 * with device temporaries between them), and the runtime's OpenCL context
 * and device of a device place.
 *
 * The only public header that includes CL/cl.h; maestro.h does not include
 * it. See docs/opencl.md.
 *
 * An agent's .cl function (maestro_agent_desc_t.cl) runs on the worker
 * thread of the device place it fires on, with the firing's inputs valid on
 * that device. It must not block: it enqueues its commands on
 * maestro_clfire_queue, allocates its outputs with maestro_clfire_out,
 * names the event after which they are complete with
 * maestro_clfire_done_after, and returns MAESTRO_OK. The outputs become the
 * firing's messages when that event completes; the inputs stay pinned on
 * the device until then. Commands enqueued on the firing's queue run after
 * the transfers that made the inputs valid (it is an in-order queue, and the
 * runtime puts a barrier on it first).
 *
 * A negative return fails the firing: the outputs it allocated are dropped
 * (after what was already enqueued on the queue ends), and a hybrid agent
 * (one with a .cpu too) falls back to its CPU implementation, as after a
 * kernel failure; otherwise its supervisor decides (a dead letter under
 * MAESTRO_FAIL_SKIP).
 *
 * An agent sets at most one of .kernel and .cl (maestro_agent_add refuses
 * both with MAESTRO_EINVAL): which of the two would run on a device would
 * otherwise be a guess.
 */
#ifndef MAESTRO_OPENCL_H
#define MAESTRO_OPENCL_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <stddef.h>

#include "maestro.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The in-order command queue of this firing's device (owned by the runtime:
 *  do not release it, do not call clFinish or clWaitForEvents on it). */
cl_command_queue maestro_clfire_queue(maestro_clfire_t *f);
/** The OpenCL context of this firing's device (owned by the runtime); build
 *  programs with it, once (keep them in the agent's state). */
cl_context maestro_clfire_context(maestro_clfire_t *f);
/** This firing's device. */
cl_device_id maestro_clfire_device(maestro_clfire_t *f);

/** The message on input port `port` as a buffer valid on this device,
 *  read-only (other holders share it); NULL for a bad port or an empty
 *  message. Its size is maestro_buf_size(maestro_clfire_in_buf(f, port)). */
cl_mem maestro_clfire_in(maestro_clfire_t *f, int port);
/** The message on input port `port` itself (its size, shape), borrowed for
 *  the firing; NULL for a bad port. Do not read its host bytes here. */
maestro_buf_t *maestro_clfire_in_buf(maestro_clfire_t *f, int port);

/**
 * Allocates the message of output port `port`: `bytes` bytes of device
 * memory on this device, written by the commands the function enqueues.
 * `*mem` is NULL for 0 bytes. The runtime owns it (do not release it).
 * @return MAESTRO_OK; MAESTRO_EINVAL for a bad port, a port already
 * allocated in this firing, or a NULL `mem`; MAESTRO_ENOMEM.
 */
int maestro_clfire_out(maestro_clfire_t *f, int port, size_t bytes, cl_mem *mem);

/**
 * The firing is complete when `ev` is (the runtime retains it; release your
 * own reference as usual). Name the last command's event; a later call
 * replaces an earlier one. Without any, the runtime waits for everything
 * enqueued on maestro_clfire_queue during the firing.
 * @return MAESTRO_OK; MAESTRO_EINVAL for a NULL event.
 */
int maestro_clfire_done_after(maestro_clfire_t *f, cl_event ev);

/** The agent's .state. */
void *maestro_clfire_state(maestro_clfire_t *f);

/**
 * The OpenCL context and device of device place `index` (either pointer
 * may be NULL), owned by the runtime; discovers the devices if not done yet.
 * @return MAESTRO_OK; MAESTRO_EINVAL for a NULL runtime; MAESTRO_ENODEV for
 * a bad index or a device place that is not an OpenCL device.
 */
int maestro_runtime_cl_device(maestro_runtime_t *rt, int index, cl_context *ctx, cl_device_id *dev);

#ifdef __cplusplus
}
#endif
#endif
