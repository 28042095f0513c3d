# A CPU-heavy MAESTRO_RANK_ANY agent on 2 ranks against the same agent on
# rank 0 alone, in the same run (issue 11). ctest runs it tiny under
# mpiexec -n 2.
if(MAESTRO_HAVE_MPI)
  add_executable(bench_mpi_any mpi_any.c)
  set_target_properties(bench_mpi_any PROPERTIES OUTPUT_NAME mpi_any)
  target_link_libraries(bench_mpi_any PRIVATE maestro MPI::MPI_C)
  if(BUILD_TESTING)
    add_test(NAME bench_mpi_any_tiny
             COMMAND ${MAESTRO_MPIEXEC} ${MPIEXEC_NUMPROC_FLAG} 2 $<TARGET_FILE:bench_mpi_any> 100
                     200 1)
    set_tests_properties(bench_mpi_any_tiny PROPERTIES TIMEOUT 120 LABELS "bench;mpi"
                         ENVIRONMENT "${MAESTRO_MPI_ENV}")
  endif()
endif()

# The same with a device-fast hybrid agent (--device): every rank fires it
# on its CPU place and its devices (core/serve.c). Tiny under ctest.
if(MAESTRO_HAVE_MPI AND BUILD_TESTING)
  add_test(NAME bench_mpi_any_device_tiny
           COMMAND ${MAESTRO_MPIEXEC} ${MPIEXEC_NUMPROC_FLAG} 2 $<TARGET_FILE:bench_mpi_any>
                   --device 40 1)
  set_tests_properties(bench_mpi_any_device_tiny PROPERTIES TIMEOUT 120 LABELS "bench;mpi;ocl"
                       ENVIRONMENT "${MAESTRO_MPI_ENV}")
endif()
