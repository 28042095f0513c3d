# The engine's example: a three-stage pipeline with fan-out (read it first).
add_executable(example_pipeline pipeline.c)
set_target_properties(example_pipeline PROPERTIES OUTPUT_NAME pipeline)
target_link_libraries(example_pipeline PRIVATE maestro)
if(BUILD_TESTING)
  add_test(NAME example_pipeline COMMAND example_pipeline)
  set_tests_properties(example_pipeline PROPERTIES TIMEOUT 60 LABELS example
                       ENVIRONMENT "MAESTRO_DEVICES=none" PASS_REGULAR_EXPRESSION "sum of squares: 385")
endif()

# Issue 12: a file's words counted, the table sent by .on_end (maestro/io.h).
add_executable(example_wordcount wordcount.c)
set_target_properties(example_wordcount PROPERTIES OUTPUT_NAME wordcount)
target_link_libraries(example_wordcount PRIVATE maestro)
if(BUILD_TESTING)
  add_test(NAME example_wordcount
           COMMAND example_wordcount ${CMAKE_CURRENT_SOURCE_DIR}/wordcount.txt)
  set_tests_properties(example_wordcount PROPERTIES TIMEOUT 60 LABELS example
                       ENVIRONMENT "MAESTRO_DEVICES=none"
                       PASS_REGULAR_EXPRESSION "^5 the\n3 a\n2 agent\n2 is\n2 line\n1 and\n")
endif()
