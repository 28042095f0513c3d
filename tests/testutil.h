/* Helpers shared by several test programs (linked into maestro_testmain):
 * the CPU side of the "y = 2 * x" scale agent and a runtime with OpenCL
 * devices for the device tests (in a test or in a suite's init). */
#ifndef MAESTRO_TESTUTIL_H
#define MAESTRO_TESTUTIL_H

#include <stddef.h>

#include "maestro.h"

/* CPU firing of a scale agent: one F32 input, one F32 output holding
 * 2 * every element of the input. */
int testutil_scale2_cpu(maestro_fire_t *f);

/* A runtime with zero-copy where the device allows it (`zero_copy` 1) or
 * never (0), stats off, an optional device memory limit (0: none) and at
 * least one OpenCL device; fails the running CUnit test (fatally) otherwise. */
maestro_runtime_t *testutil_device_runtime(int zero_copy, size_t device_mem);

/* For a suite's init: creates *rt from the default configuration and
 * requires an OpenCL device. Returns 0, or 1 (CUnit's "init failed") after
 * saying why on stderr. */
int testutil_device_suite_init(maestro_runtime_t **rt);

#endif
