/* OpenCL by hand, as the examples' raw loops (the baselines of --bench) and
 * their .cl agents' kernels need it: a queue of one's own and a kernel built
 * in the context the runtime made for a device, and waiting for a slot's
 * last command. The set-up only: what each loop enqueues stays in its
 * example. */
#ifndef MAESTRO_EXAMPLE_RAW_OCL_H
#define MAESTRO_EXAMPLE_RAW_OCL_H

#include "maestro.h"
#include "maestro/opencl.h" /* first: it sets the OpenCL version the headers target */

/* A new in-order queue on device place `d` of rt, in the context the
 * runtime made for that device (*ctx, *dev); NULL when rt has no OpenCL
 * device `d` or the queue cannot be made. The caller releases the queue. */
static inline cl_command_queue raw_ocl_queue(maestro_runtime_t *rt, int d, cl_context *ctx,
                                             cl_device_id *dev) {
  cl_int e;
  if (maestro_runtime_cl_device(rt, d, ctx, dev)) return NULL;
  return clCreateCommandQueue(*ctx, *dev, 0, &e);
}

/* Kernel `name` of the OpenCL C source `src`, built for `dev` in `ctx`, or
 * NULL when the program does not build or has no such kernel. *prog gets
 * the program (NULL when it could not be made): the caller releases it, and
 * the kernel. */
static inline cl_kernel raw_ocl_kernel(cl_context ctx, cl_device_id dev, const char *src,
                                       const char *name, cl_program *prog) {
  cl_int e;
  *prog = clCreateProgramWithSource(ctx, 1, &src, NULL, &e);
  if (!*prog || clBuildProgram(*prog, 1, &dev, NULL, NULL, NULL) != CL_SUCCESS) return NULL;
  return clCreateKernel(*prog, name, &e);
}

/* When *ev is set: waits for it, releases it, clears *ev and returns 1
 * (the slot's result is ready); 0 when there was nothing to wait for. */
static inline int raw_ocl_wait(cl_event *ev) {
  if (!*ev) return 0;
  clWaitForEvents(1, ev);
  clReleaseEvent(*ev);
  *ev = NULL;
  return 1;
}

#endif
