# Library agents (MAESTRO_BUNDLED_LIB_SGEMM): the agent on the device vs a
# raw CLBlast loop, and on the CPU vs a raw cblas_sgemm loop, same run.
# Built when CLBlast and OpenBLAS were found (cmake/libs.cmake).
if("MAESTRO_HAVE_CLBLAST=1" IN_LIST MAESTRO_LIB_DEFS AND "MAESTRO_HAVE_OPENBLAS=1" IN_LIST
                                                         MAESTRO_LIB_DEFS)
  maestro_add_bench(libagents SOURCES libagents.c TINY_ARGS 16 2 1 TIMEOUT 120
                    LIBS ${MAESTRO_LIB_LIBS} ENV OPENBLAS_NUM_THREADS=1)
  target_include_directories(bench_libagents SYSTEM PRIVATE ${MAESTRO_LIB_INCS})
endif()
