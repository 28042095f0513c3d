# Libraries called from agents through OpenCL interop (<maestro/opencl.h>),
# built when the library is found (Debian: libclblast-dev; tools/install-deps.sh).
find_package(CLBlast CONFIG QUIET)
if(TARGET clblast)
  set(MAESTRO_CLBLAST_TARGET clblast)
else()
  pkg_check_modules(CLBLAST QUIET IMPORTED_TARGET clblast)
  if(CLBLAST_FOUND)
    set(MAESTRO_CLBLAST_TARGET PkgConfig::CLBLAST)
  endif()
endif()
if(MAESTRO_CLBLAST_TARGET)
  message(STATUS "CLBlast found: building examples/clblast_gemm")
  add_executable(clblast_gemm clblast_gemm.c)
  target_link_libraries(clblast_gemm PRIVATE maestro ${MAESTRO_CLBLAST_TARGET} OpenCL::OpenCL m)
  if(BUILD_TESTING)
    # The first run on a machine compiles CLBlast's kernels (seconds on PoCL;
    # PoCL keeps them in its cache for the next runs).
    add_test(NAME example_clblast_gemm COMMAND clblast_gemm 12)
    set_tests_properties(example_clblast_gemm PROPERTIES TIMEOUT 300 LABELS "example;ocl"
                         SKIP_RETURN_CODE 77
                         PASS_REGULAR_EXPRESSION "12 of 12 products exact \\(12 firings on a device\\)")
    # Inputs copied to device memory (how a discrete GPU works), and two devices.
    add_test(NAME example_clblast_gemm_copies COMMAND clblast_gemm 12)
    set_tests_properties(example_clblast_gemm_copies PROPERTIES TIMEOUT 300 LABELS "example;ocl"
                         SKIP_RETURN_CODE 77 ENVIRONMENT "MAESTRO_ZERO_COPY=0"
                         PASS_REGULAR_EXPRESSION "12 of 12 products exact \\(12 firings on a device\\)")
    add_test(NAME example_clblast_gemm_two_devices COMMAND clblast_gemm 12)
    set_tests_properties(example_clblast_gemm_two_devices PROPERTIES TIMEOUT 300
                         LABELS "example;ocl" SKIP_RETURN_CODE 77
                         ENVIRONMENT "POCL_DEVICES=pthread pthread;LSAN_OPTIONS=use_tls=0"
                         PASS_REGULAR_EXPRESSION "12 of 12 products exact \\(12 firings on a device\\)")
  endif()
else()
  message(STATUS "CLBlast not found: examples/clblast_gemm not built")
endif()

# clFFT (Debian: libclfft-dev): a 1-D FFT per message.
find_package(clFFT CONFIG QUIET)
if(TARGET clFFT)
  set(MAESTRO_CLFFT_TARGET clFFT)
else()
  pkg_check_modules(CLFFT QUIET IMPORTED_TARGET clFFT)
  if(CLFFT_FOUND)
    set(MAESTRO_CLFFT_TARGET PkgConfig::CLFFT)
  endif()
endif()
if(MAESTRO_CLFFT_TARGET)
  message(STATUS "clFFT found: building examples/clfft_fft")
  add_executable(clfft_fft clfft_fft.c)
  target_link_libraries(clfft_fft PRIVATE maestro ${MAESTRO_CLFFT_TARGET} OpenCL::OpenCL m)
  if(BUILD_TESTING)
    add_test(NAME example_clfft_fft COMMAND clfft_fft 12)
    add_test(NAME example_clfft_fft_copies COMMAND clfft_fft 12)
    add_test(NAME example_clfft_fft_two_devices COMMAND clfft_fft 12)
    set_tests_properties(example_clfft_fft example_clfft_fft_copies example_clfft_fft_two_devices
                         PROPERTIES TIMEOUT 300 LABELS "example;ocl" SKIP_RETURN_CODE 77
                         PASS_REGULAR_EXPRESSION "12 of 12 spectra right .*12 firings on a device")
    # clFFT 2.12 deletes its plans' actions through a base pointer of
    # another size (libclFFT's own defect): AddressSanitizer's check of it
    # is off for these tests (no effect outside sanitizer builds).
    set(clfft_asan "ASAN_OPTIONS=new_delete_type_mismatch=0")
    set_tests_properties(example_clfft_fft PROPERTIES ENVIRONMENT "${clfft_asan}")
    set_tests_properties(example_clfft_fft_copies PROPERTIES
                         ENVIRONMENT "MAESTRO_ZERO_COPY=0;${clfft_asan}")
    set_tests_properties(example_clfft_fft_two_devices PROPERTIES
                         ENVIRONMENT "POCL_DEVICES=pthread pthread;LSAN_OPTIONS=use_tls=0;${clfft_asan}")
  endif()
else()
  message(STATUS "clFFT not found: examples/clfft_fft not built")
endif()
