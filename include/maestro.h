/**
 * @file maestro.h
 * Maestro: a C runtime for heterogeneous dataflow programs.
 *
 * The one header users include. Start with examples/pipeline.c and
 * docs/architecture.md; every function is documented in its header.
 */
#ifndef MAESTRO_H
#define MAESTRO_H

#include "maestro/version.h"
#include "maestro/status.h"
#include "maestro/config.h"
#include "maestro/runtime.h"
#include "maestro/buffer.h"
#include "maestro/kernel.h"
#include "maestro/agent.h"
#include "maestro/graph.h"
#include "maestro/kernels.h"
/* Issue 12: bundled file source and sink. */
#include "maestro/io.h"

#endif
