/* The built-in backends, in discovery order: adding a backend to Maestro is
 * its folder under runtime/backend/ plus one line here. This file sits
 * above the layered folders: it is the only one that names them all. The
 * CPU backend comes first: it brings the CPU places and the host memory
 * node, found when a runtime is created; the others are found lazily. */
#include "backend/cpu/cpu.h"
#include "backend/opencl/ocl.h"
#include "kern/kern.h"
#include "sched/place.h"

const struct backend_ops *const place_builtin_backends[] = {
    &cpu_backend_ops,
    &ocl_backend_ops,
    NULL,
};

/* Library agents (kern/lib.c): their device side is the OpenCL backend's,
 * and it checks a firing's shapes with kern's function. */
const struct kern_dev_lib kern_dev_lib = {ocl_lib_cl, ocl_lib_missing};
const struct ocl_lib_hooks ocl_lib_hooks = {kern_lib_sizes};

/* Graphs across processes (core/dist.h): built when CMake finds MPI. */
#ifdef MAESTRO_HAVE_MPI
#include "backend/mpi/mpi_backend.h"
const struct dist_ops *const dist_builtin = &mpi_dist_ops;
#else
#include "core/dist.h"
const struct dist_ops *const dist_builtin = NULL;
#endif
