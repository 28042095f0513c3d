# The engine's example: a three-stage pipeline with fan-out (read it first).
add_executable(example_pipeline pipeline.c)
set_target_properties(example_pipeline PROPERTIES OUTPUT_NAME pipeline)
target_link_libraries(example_pipeline PRIVATE maestro)
if(BUILD_TESTING)
  add_test(NAME example_pipeline COMMAND example_pipeline)
  set_tests_properties(example_pipeline PROPERTIES TIMEOUT 60 LABELS example
                       ENVIRONMENT "MAESTRO_DEVICES=none" PASS_REGULAR_EXPRESSION "sum of squares: 385")
endif()
