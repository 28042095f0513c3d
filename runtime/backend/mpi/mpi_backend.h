/* The MPI backend as runtime/backends.c sees it: its table of operations
 * (core/dist.h), without mpi.h. */
#ifndef MAESTRO_BACKEND_MPI_BACKEND_H
#define MAESTRO_BACKEND_MPI_BACKEND_H

#include "core/dist.h"

extern const struct dist_ops mpi_dist_ops;

#endif
