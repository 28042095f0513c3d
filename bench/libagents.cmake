# Library agents (MAESTRO_BUNDLED_LIB_SGEMM): the agent on the device vs a
# raw CLBlast loop, and on the CPU vs a raw cblas_sgemm loop, same run.
# `libagents fft`: the FFT agent the same four ways.
# Built when all four libraries were found (cmake/libs.cmake).
list(LENGTH MAESTRO_LIB_DEFS maestro_nlibs)
if(maestro_nlibs EQUAL 4)
  maestro_add_bench(libagents SOURCES libagents.c TINY_ARGS 16 2 1 TIMEOUT 120
                    LIBS ${MAESTRO_LIB_LIBS} ENV OPENBLAS_NUM_THREADS=1)
  target_include_directories(bench_libagents SYSTEM PRIVATE ${MAESTRO_LIB_INCS})
  # The raw CLBlast loop is examples/clblast_gemm's (examples/raw_clblast.h).
  target_include_directories(bench_libagents PRIVATE ${PROJECT_SOURCE_DIR}/examples)
  if(BUILD_TESTING)
    add_test(NAME bench_libagents_fft_tiny COMMAND bench_libagents fft 64 2 1)
    set_tests_properties(bench_libagents_fft_tiny PROPERTIES TIMEOUT 120 LABELS bench ENVIRONMENT
      "MAESTRO_PERF_DIR=off;ASAN_OPTIONS=new_delete_type_mismatch=0;LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_LIST_DIR}/libagents_lsan.supp:print_suppressions=0;TSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/kernels_lib_tsan.supp")
  endif()
endif()
