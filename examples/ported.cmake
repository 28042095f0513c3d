# Public OpenCL kernels ported as examples (examples/ported/: each .cl says
# where it comes from), each checked against a CPU reference.
foreach(ex matrixmul hotspot)
  add_executable(${ex} ported/${ex}.c)
  string(TOUPPER ${ex} EX)
  target_compile_definitions(${ex} PRIVATE ${EX}_CL="${CMAKE_CURRENT_SOURCE_DIR}/ported/${ex}.cl")
  target_link_libraries(${ex} PRIVATE maestro OpenCL::OpenCL m)
  # example_util.h, raw_ocl.h
  target_include_directories(${ex} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
endforeach()
if(BUILD_TESTING)
  add_test(NAME example_matrixmul COMMAND matrixmul 12)
  add_test(NAME example_matrixmul_copies COMMAND matrixmul 12)
  add_test(NAME example_matrixmul_two_devices COMMAND matrixmul 12)
  set_tests_properties(example_matrixmul example_matrixmul_copies example_matrixmul_two_devices
                       PROPERTIES
                       TIMEOUT 300 LABELS "example;ocl" SKIP_RETURN_CODE 77
                       PASS_REGULAR_EXPRESSION "12 of 12 products exact \\(12 firings on a device\\)")
  # Inputs copied to device memory (how a discrete GPU works), and two devices.
  set_tests_properties(example_matrixmul_copies PROPERTIES ENVIRONMENT "MAESTRO_ZERO_COPY=0")
  set_tests_properties(example_matrixmul_two_devices PROPERTIES
                       ENVIRONMENT "POCL_DEVICES=pthread pthread;LSAN_OPTIONS=use_tls=0")
  # A shape the 16 x 16 tiles cannot cover is refused by .prepare, not run.
  add_test(NAME example_matrixmul_refuse COMMAND matrixmul --refuse)
  set_tests_properties(example_matrixmul_refuse PROPERTIES TIMEOUT 300 LABELS "example;ocl"
                       SKIP_RETURN_CODE 77)
  add_test(NAME example_hotspot COMMAND hotspot 8)
  add_test(NAME example_hotspot_copies COMMAND hotspot 8)
  add_test(NAME example_hotspot_two_devices COMMAND hotspot 8)
  set_tests_properties(example_hotspot example_hotspot_copies example_hotspot_two_devices PROPERTIES
                       TIMEOUT 300 LABELS "example;ocl" SKIP_RETURN_CODE 77
                       PASS_REGULAR_EXPRESSION "8 of 8 grids within 1e-4 .*8 firings on a device")
  set_tests_properties(example_hotspot_copies PROPERTIES ENVIRONMENT "MAESTRO_ZERO_COPY=0")
  set_tests_properties(example_hotspot_two_devices PROPERTIES
                       ENVIRONMENT "POCL_DEVICES=pthread pthread;LSAN_OPTIONS=use_tls=0")
endif()
