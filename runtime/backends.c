/* The built-in backends, in discovery order: adding a backend to Maestro is
 * its folder under runtime/backend/ plus one line here. This file sits
 * above the layered folders: it is the only one that names them all. */
#include "backend/opencl/ocl.h"
#include "sched/place.h"

const struct backend_ops *const place_builtin_backends[] = {
    &ocl_backend_ops,
    NULL,
};
