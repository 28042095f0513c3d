/* The engine's clock. */
#ifndef MAESTRO_BASE_CLOCK_H
#define MAESTRO_BASE_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t rt_now_ns(void);

#endif
