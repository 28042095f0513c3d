# The README demo: generate -> blur (device) -> edges (device) -> histogram (CPU).
add_executable(image_pipeline image_pipeline.c)
target_link_libraries(image_pipeline PRIVATE maestro_static m)
if(BUILD_TESTING)
  add_test(NAME example_image_pipeline COMMAND image_pipeline 96 64 3)
  add_test(NAME example_image_pipeline_cpu_only COMMAND image_pipeline 96 64 3)
  set_tests_properties(example_image_pipeline PROPERTIES TIMEOUT 120 LABELS example)
  set_tests_properties(example_image_pipeline_cpu_only PROPERTIES TIMEOUT 120 LABELS example
                       ENVIRONMENT "MAESTRO_DEVICES=none")
  # no OpenCL ICD at all (the loader finds no vendor file)
  add_test(NAME example_image_pipeline_no_icd COMMAND image_pipeline 96 64 3)
  set_tests_properties(example_image_pipeline_no_icd PROPERTIES TIMEOUT 120 LABELS example
                       ENVIRONMENT "OCL_ICD_VENDORS=/nonexistent")
endif()
