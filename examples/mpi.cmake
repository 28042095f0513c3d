# Graphs across MPI ranks (issue 11): a pipeline split over two ranks, run by
# ctest under mpiexec -n 2 (docs/mpi.md).
if(MAESTRO_HAVE_MPI)
  add_executable(example_mpi_pipeline mpi_pipeline.c)
  set_target_properties(example_mpi_pipeline PROPERTIES OUTPUT_NAME mpi_pipeline)
  target_link_libraries(example_mpi_pipeline PRIVATE maestro)
  if(BUILD_TESTING)
    add_test(NAME example_mpi_pipeline
             COMMAND ${MAESTRO_MPIEXEC} ${MPIEXEC_NUMPROC_FLAG} 2 $<TARGET_FILE:example_mpi_pipeline>)
    set_tests_properties(example_mpi_pipeline PROPERTIES TIMEOUT 60 LABELS "example;mpi"
      PASS_REGULAR_EXPRESSION "sum of squares 984350720 \\(exact\\)"
      ENVIRONMENT "${MAESTRO_MPI_ENV};MAESTRO_DEVICES=none;MAESTRO_NCPU=1")
  endif()
endif()
