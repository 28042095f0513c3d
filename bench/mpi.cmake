# Remote channels against raw MPI (issue 11): 8 B and 1 MiB, one way and
# round trip, 2 ranks. ctest runs it once, tiny, under mpiexec -n 2.
if(MAESTRO_HAVE_MPI)
  add_executable(bench_mpi_pingpong mpi_pingpong.c)
  set_target_properties(bench_mpi_pingpong PROPERTIES OUTPUT_NAME mpi_pingpong)
  target_link_libraries(bench_mpi_pingpong PRIVATE maestro_internal MPI::MPI_C)
  target_include_directories(bench_mpi_pingpong PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  if(BUILD_TESTING)
    add_test(NAME bench_mpi_pingpong_tiny
             COMMAND ${MAESTRO_MPIEXEC} ${MPIEXEC_NUMPROC_FLAG} 2
                     $<TARGET_FILE:bench_mpi_pingpong> 2000 20)
    set_tests_properties(bench_mpi_pingpong_tiny PROPERTIES TIMEOUT 120 LABELS "bench;mpi"
                         ENVIRONMENT "${MAESTRO_MPI_ENV}")
  endif()
endif()
