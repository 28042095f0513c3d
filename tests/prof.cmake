# Observability: the live stats segment, maestro-top and traces (issue 5).
add_executable(prof_demo ${CMAKE_CURRENT_LIST_DIR}/prof/prof_demo.c)
# maestro_testmain for the shared helpers (testutil.c) only: prof_demo has
# its own main(), so the archive's testmain.o is never pulled in.
target_link_libraries(prof_demo PRIVATE maestro_internal maestro_testmain)

maestro_add_test(test_prof_segment SOURCES ${CMAKE_CURRENT_LIST_DIR}/prof/test_prof_segment.c
                 TIMEOUT 120 LABELS prof)

# maestro-top and traces against running programs (python3 drives them).
find_package(Python3 COMPONENTS Interpreter)
if(Python3_FOUND AND MAESTRO_BUILD_TOOLS)
  add_test(NAME prof_top
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/prof/prof_top_test.py
                   $<TARGET_FILE:maestro-top> $<TARGET_FILE:prof_demo>)
  set_tests_properties(prof_top PROPERTIES TIMEOUT 300 LABELS "prof")
endif()

# maestro-top's model on its own (tools/top/model.c, no curses).
if(MAESTRO_BUILD_TOOLS)
  maestro_add_test(test_top_model SOURCES ${CMAKE_CURRENT_LIST_DIR}/prof/test_top_model.c
                   ${CMAKE_CURRENT_LIST_DIR}/../tools/top/model.c LABELS prof)
  target_include_directories(test_top_model PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../tools/top)
  target_link_libraries(test_top_model PRIVATE m)
endif()

# maestro-top on MAESTRO_RANK_ANY agents: firings per rank and served, in
# the table and --json, from a segment (issue 11, branch anytop).
if(MAESTRO_BUILD_TOOLS)
  maestro_add_test(test_top_ranks SOURCES ${CMAKE_CURRENT_LIST_DIR}/prof/test_top_ranks.c
                   ${CMAKE_CURRENT_LIST_DIR}/../tools/top/model.c
                   ${CMAKE_CURRENT_LIST_DIR}/../tools/top/output.c LABELS prof)
  target_include_directories(test_top_ranks PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../tools/top)
  target_link_libraries(test_top_ranks PRIVATE m)
endif()
# tools/maestro-merge-ranks top on MAESTRO_RANK_ANY agents (synthetic snapshots).
if(Python3_FOUND)
  add_test(NAME merge_ranks_top
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/prof/merge_ranks_test.py
                   ${PROJECT_SOURCE_DIR}/tools/maestro-merge-ranks)
  set_tests_properties(merge_ranks_top PROPERTIES TIMEOUT 60 LABELS "prof")
endif()
