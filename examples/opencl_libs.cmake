# Libraries called from agents through OpenCL interop (<maestro/opencl.h>),
# built when the library is found (Debian: libclblast-dev; tools/install-deps.sh).

# maestro_lib_example(NAME PACKAGE TARGET PREFIX MODULE): builds examples/NAME.c
# against the library when it is found: its target TARGET when
# find_package(PACKAGE CONFIG) makes it, else PkgConfig::PREFIX when
# pkg-config knows MODULE. Says which.
function(maestro_lib_example name package target prefix module)
  find_package(${package} CONFIG QUIET)
  if(TARGET ${target})
    set(lib ${target})
  else()
    pkg_check_modules(${prefix} QUIET IMPORTED_TARGET ${module})
    if(${prefix}_FOUND)
      set(lib PkgConfig::${prefix})
    endif()
  endif()
  if(lib)
    message(STATUS "${package} found: building examples/${name}")
    add_executable(${name} ${name}.c)
    target_link_libraries(${name} PRIVATE maestro ${lib} OpenCL::OpenCL m)
  else()
    message(STATUS "${package} not found: examples/${name} not built")
  endif()
endfunction()

maestro_lib_example(clblast_gemm CLBlast clblast CLBLAST clblast)
if(TARGET clblast_gemm AND BUILD_TESTING)
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

# clFFT (Debian: libclfft-dev): a 1-D FFT per message.
maestro_lib_example(clfft_fft clFFT clFFT CLFFT clFFT)
if(TARGET clfft_fft AND BUILD_TESTING)
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
