/* OpenCL status codes as names, for error messages. */
#include <stdio.h>

#include "base/error.h"
#include "backend/opencl/ocl_int.h"

const char *ocl_strerror(cl_int e) {
  switch (e) {
#define C(x)                                                                                       \
  case x: return #x;
    C(CL_SUCCESS)
    C(CL_DEVICE_NOT_FOUND)
    C(CL_DEVICE_NOT_AVAILABLE)
    C(CL_COMPILER_NOT_AVAILABLE)
    C(CL_MEM_OBJECT_ALLOCATION_FAILURE)
    C(CL_OUT_OF_RESOURCES)
    C(CL_OUT_OF_HOST_MEMORY)
    C(CL_PROFILING_INFO_NOT_AVAILABLE)
    C(CL_MEM_COPY_OVERLAP)
    C(CL_BUILD_PROGRAM_FAILURE)
    C(CL_MAP_FAILURE)
    C(CL_MISALIGNED_SUB_BUFFER_OFFSET)
    C(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
    C(CL_COMPILE_PROGRAM_FAILURE)
    C(CL_LINKER_NOT_AVAILABLE)
    C(CL_LINK_PROGRAM_FAILURE)
    C(CL_INVALID_VALUE)
    C(CL_INVALID_DEVICE_TYPE)
    C(CL_INVALID_PLATFORM)
    C(CL_INVALID_DEVICE)
    C(CL_INVALID_CONTEXT)
    C(CL_INVALID_QUEUE_PROPERTIES)
    C(CL_INVALID_COMMAND_QUEUE)
    C(CL_INVALID_HOST_PTR)
    C(CL_INVALID_MEM_OBJECT)
    C(CL_INVALID_BINARY)
    C(CL_INVALID_BUILD_OPTIONS)
    C(CL_INVALID_PROGRAM)
    C(CL_INVALID_PROGRAM_EXECUTABLE)
    C(CL_INVALID_KERNEL_NAME)
    C(CL_INVALID_KERNEL_DEFINITION)
    C(CL_INVALID_KERNEL)
    C(CL_INVALID_ARG_INDEX)
    C(CL_INVALID_ARG_VALUE)
    C(CL_INVALID_ARG_SIZE)
    C(CL_INVALID_KERNEL_ARGS)
    C(CL_INVALID_WORK_DIMENSION)
    C(CL_INVALID_WORK_GROUP_SIZE)
    C(CL_INVALID_WORK_ITEM_SIZE)
    C(CL_INVALID_GLOBAL_OFFSET)
    C(CL_INVALID_EVENT_WAIT_LIST)
    C(CL_INVALID_EVENT)
    C(CL_INVALID_OPERATION)
    C(CL_INVALID_BUFFER_SIZE)
    C(CL_INVALID_GLOBAL_WORK_SIZE)
#undef C
  default: return "unknown OpenCL error";
  }
}

int ocl_fail(cl_int e, const char *what) {
  return err_set(e == CL_OUT_OF_HOST_MEMORY || e == CL_MEM_OBJECT_ALLOCATION_FAILURE
                     ? MAESTRO_ENOMEM
                     : MAESTRO_ECL,
                 "%s failed: %s (%d)", what, ocl_strerror(e), (int)e);
}
