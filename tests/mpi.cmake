# Graphs across MPI ranks (issue 11, runtime/backend/mpi): the suites run
# under mpiexec with 2 and 3 ranks (cmake/mpi.cmake says how). Label: mpi.
if(MAESTRO_HAVE_MPI)
  add_executable(mpi_graph mpi/mpi_graph.c)
  target_link_libraries(mpi_graph PRIVATE maestro_testmain)
  foreach(n 2 3)
    add_test(NAME mpi_graph_${n}
             COMMAND ${MAESTRO_MPIEXEC} ${MPIEXEC_NUMPROC_FLAG} ${n} $<TARGET_FILE:mpi_graph>)
    set_tests_properties(mpi_graph_${n} PROPERTIES TIMEOUT 600 LABELS "mpi"
                         ENVIRONMENT "${MAESTRO_MPI_ENV}")
  endforeach()
endif()

# A rank killed mid-run: Open MPI 4 ends the job; it must end within
# seconds, naming the lost rank, never hang (tests/mpi/killed_rank.sh).
if(MAESTRO_HAVE_MPI)
  add_executable(mpi_kill mpi/mpi_kill.c)
  target_link_libraries(mpi_kill PRIVATE maestro)
  add_test(NAME mpi_killed_rank
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/mpi/killed_rank.sh ${MAESTRO_MPIEXEC}
                   ${MPIEXEC_NUMPROC_FLAG} 2 $<TARGET_FILE:mpi_kill>)
  set_tests_properties(mpi_killed_rank PROPERTIES TIMEOUT 90 LABELS "mpi"
                       ENVIRONMENT "${MAESTRO_MPI_ENV}")
endif()

# One trace file per rank (process id = rank), merged by tools/maestro-merge-ranks.
if(MAESTRO_HAVE_MPI AND MAESTRO_BUILD_EXAMPLES)
  add_test(NAME mpi_trace_merge
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/mpi/trace_merge.sh
                   ${PROJECT_SOURCE_DIR}/tools/maestro-merge-ranks
                   $<TARGET_FILE:example_mpi_pipeline> ${MAESTRO_MPIEXEC} ${MPIEXEC_NUMPROC_FLAG} 2)
  set_tests_properties(mpi_trace_merge PROPERTIES TIMEOUT 90 LABELS "mpi"
                       ENVIRONMENT "${MAESTRO_MPI_ENV};MAESTRO_DEVICES=none;MAESTRO_NCPU=1")
endif()

# A program that initialised MPI itself: used, never finalised by Maestro;
# a level below MPI_THREAD_MULTIPLE refused at maestro_runtime_create.
if(MAESTRO_HAVE_MPI)
  add_executable(mpi_own_init mpi/mpi_own_init.c)
  target_link_libraries(mpi_own_init PRIVATE maestro MPI::MPI_C)
  foreach(level multiple funneled)
    add_test(NAME mpi_own_init_${level}
             COMMAND ${MAESTRO_MPIEXEC} ${MPIEXEC_NUMPROC_FLAG} 2 $<TARGET_FILE:mpi_own_init> ${level})
    set_tests_properties(mpi_own_init_${level} PROPERTIES TIMEOUT 60 LABELS "mpi"
                         ENVIRONMENT "${MAESTRO_MPI_ENV}")
  endforeach()
endif()

# A traced program that ends without destroying its runtime, under mpiexec:
# by exit() on every rank, by SIGTERM to rank 1 mid-run, or by exit() on
# rank 0 mid-run; every rank's
# trace file must be complete (tests/mpi/trace_end.sh).
if(MAESTRO_HAVE_MPI)
  add_executable(mpi_trace_end mpi/mpi_trace_end.c)
  target_link_libraries(mpi_trace_end PRIVATE maestro)
  foreach(mode exit term midrun)
    add_test(NAME mpi_trace_end_${mode}
             COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/mpi/trace_end.sh ${mode}
                     $<TARGET_FILE:mpi_trace_end> ${MAESTRO_MPIEXEC} ${MPIEXEC_NUMPROC_FLAG} 2)
    set_tests_properties(mpi_trace_end_${mode} PROPERTIES TIMEOUT 90 LABELS "mpi"
                         ENVIRONMENT "${MAESTRO_MPI_ENV};MAESTRO_DEVICES=none;MAESTRO_NCPU=1;ASAN_OPTIONS=fast_unwind_on_malloc=0:detect_leaks=0")
  endforeach()
endif()

# MAESTRO_RANK_ANY agents fired on every rank, chosen by cost, outputs in
# input order (runtime/backend/mpi/any.c, core/serve.c).
if(MAESTRO_HAVE_MPI)
  add_executable(mpi_any mpi/mpi_any.c)
  target_link_libraries(mpi_any PRIVATE maestro_testmain MPI::MPI_C)
  foreach(n 2 3)
    add_test(NAME mpi_any_${n}
             COMMAND ${MAESTRO_MPIEXEC} ${MPIEXEC_NUMPROC_FLAG} ${n} $<TARGET_FILE:mpi_any>)
    set_tests_properties(mpi_any_${n} PROPERTIES TIMEOUT 600 LABELS "mpi"
                         ENVIRONMENT "${MAESTRO_MPI_ENV}")
  endforeach()
endif()

# Rank 0 sees where a MAESTRO_RANK_ANY agent's firings went: a track per
# rank in its trace (maestro_agent_rank_fires is checked in mpi_any).
if(MAESTRO_HAVE_MPI AND TARGET bench_mpi_any)
  add_test(NAME mpi_any_trace
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/mpi/any_trace.sh $<TARGET_FILE:bench_mpi_any>
                   ${MAESTRO_MPIEXEC} ${MPIEXEC_NUMPROC_FLAG} 2)
  set_tests_properties(mpi_any_trace PROPERTIES TIMEOUT 120 LABELS "mpi"
                       ENVIRONMENT "${MAESTRO_MPI_ENV};MAESTRO_DEVICES=none")
endif()

# maestro-top on a MAESTRO_RANK_ANY agent (issue 11, branch anytop): rank 0's
# segment holds each rank's answered firings, the others' what they served,
# shown by maestro-top (text and --json) and checked by the merge script.
if(MAESTRO_HAVE_MPI AND MAESTRO_BUILD_TOOLS)
  add_executable(mpi_any_top mpi/mpi_any_top.c)
  target_link_libraries(mpi_any_top PRIVATE maestro_testmain MPI::MPI_C)
  foreach(n 2 3)
    add_test(NAME mpi_any_top_${n}
             COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/mpi/any_top.sh $<TARGET_FILE:maestro-top>
                     ${PROJECT_SOURCE_DIR}/tools/maestro-merge-ranks $<TARGET_FILE:mpi_any_top>
                     ${MAESTRO_MPIEXEC} ${MPIEXEC_NUMPROC_FLAG} ${n})
    set_tests_properties(mpi_any_top_${n} PROPERTIES TIMEOUT 180 LABELS "mpi"
                         ENVIRONMENT "${MAESTRO_MPI_ENV}")
  endforeach()
endif()

# A MAESTRO_RANK_ANY agent with a device implementation: every rank places
# the firings it gets among its own CPU places and devices (core/serve.c);
# with one PoCL device per rank and with two. A kernel that does not build
# on a serving rank fails the graph on every rank, named.
if(MAESTRO_HAVE_MPI)
  add_executable(mpi_any_dev mpi/mpi_any_dev.c)
  target_link_libraries(mpi_any_dev PRIVATE maestro_testmain MPI::MPI_C)
  foreach(n 2 3)
    add_test(NAME mpi_any_dev_${n}
             COMMAND ${MAESTRO_MPIEXEC} ${MPIEXEC_NUMPROC_FLAG} ${n} $<TARGET_FILE:mpi_any_dev>)
    set_tests_properties(mpi_any_dev_${n} PROPERTIES TIMEOUT 300 LABELS "mpi;ocl"
                         ENVIRONMENT "${MAESTRO_MPI_ENV}")
    add_test(NAME mpi_any_dev2_${n}
             COMMAND ${MAESTRO_MPIEXEC} ${MPIEXEC_NUMPROC_FLAG} ${n} $<TARGET_FILE:mpi_any_dev>)
    set_tests_properties(mpi_any_dev2_${n} PROPERTIES TIMEOUT 300 LABELS "mpi;ocl"
                         ENVIRONMENT "${MAESTRO_MPI_ENV};POCL_DEVICES=pthread pthread")
  endforeach()
endif()

# Faults on a rank serving a MAESTRO_RANK_ANY agent (injected on rank 1;
# Debug builds, which have fault injection): out of memory for an outcome
# or a firing (answer=1, serve=1) fails the graph on every rank, named, and
# never hangs; launches refused there (launch=1) fall back to its CPU.
if(MAESTRO_HAVE_MPI AND CMAKE_BUILD_TYPE STREQUAL "Debug")
  add_executable(mpi_any_faults mpi/mpi_any_faults.c)
  target_link_libraries(mpi_any_faults PRIVATE maestro_testmain MPI::MPI_C)
  foreach(item answer serve launch)
    add_test(NAME mpi_any_fault_${item}
             COMMAND ${MAESTRO_MPIEXEC} ${MPIEXEC_NUMPROC_FLAG} 2 $<TARGET_FILE:mpi_any_faults>)
    set_tests_properties(mpi_any_fault_${item} PROPERTIES TIMEOUT 60 LABELS "mpi"
                         ENVIRONMENT "${MAESTRO_MPI_ENV};MAESTRO_TEST_FAULT=${item}")
  endforeach()
endif()
