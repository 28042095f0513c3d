# How ctest runs the programs of the MPI backend (tests/, examples/, bench/):
# mpiexec on this machine with the shared-memory transport, more ranks than
# cores allowed, as root too (Open MPI wants the two ALLOW variables), and,
# in sanitizer builds, Open MPI's own leaks and races suppressed (not ours),
# its components kept loaded so that their stacks can be named (and TSan's
# history long enough to name them: Open MPI's progress, driven by Maestro's
# progress thread, copies a collective's data into the receive buffer of
# another thread; with the default history that copy's stack is lost, and
# the report, unnamed, escapes the suppression).
set(MAESTRO_MPIEXEC ${MPIEXEC_EXECUTABLE} --oversubscribe --mca btl self,vader)
set(MAESTRO_MPI_ENV
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_rmaps_base_oversubscribe=1
    MAESTRO_PERF_DIR=off
    OMPI_MCA_mca_base_component_disable_dlclose=1
    ASAN_OPTIONS=fast_unwind_on_malloc=0
    LSAN_OPTIONS=use_tls=0:suppressions=${PROJECT_SOURCE_DIR}/tests/mpi/lsan.supp:print_suppressions=0
    TSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/mpi/tsan.supp:print_suppressions=0:history_size=7)
