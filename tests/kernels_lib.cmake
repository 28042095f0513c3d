# Library agents (MAESTRO_BUNDLED_LIB_*: CLBlast / OpenBLAS GEMM, clFFT /
# FFTW FFT): exact products and DFT-checked spectra on the CPU, on the PoCL
# device, on two devices, placed by the scheduler; bad shapes refused.
# Exit 77 (skipped) when this build lacks the libraries (cmake/libs.cmake).
# OpenBLAS runs one thread per call here (the runtime's workers are the
# parallelism; CI's machines are small). clFFT 2.12 deletes its plans'
# actions through a base pointer of another size (its own defect):
# AddressSanitizer's check of that is off (no effect outside ASan builds).
maestro_add_test(kernels_lib_gemm SOURCES kernels_lib.c TIMEOUT 300 LABELS "kernels;ocl"
                 ENV MAESTRO_TEST_LIB=gemm OPENBLAS_NUM_THREADS=1)
# clFFT's own lock-order report under ThreadSanitizer: kernels_lib_tsan.supp.
set(kernels_lib_env MAESTRO_PERF_DIR=off OPENBLAS_NUM_THREADS=1
                    ASAN_OPTIONS=new_delete_type_mismatch=0
                    TSAN_OPTIONS=suppressions=${CMAKE_CURRENT_LIST_DIR}/kernels_lib_tsan.supp)
add_test(NAME kernels_lib_fft COMMAND kernels_lib_gemm)
add_test(NAME kernels_lib_gemm_two_devices COMMAND kernels_lib_gemm)
add_test(NAME kernels_lib_fft_two_devices COMMAND kernels_lib_gemm)
set_tests_properties(kernels_lib_fft PROPERTIES ENVIRONMENT "${kernels_lib_env};MAESTRO_TEST_LIB=fft")
set_tests_properties(kernels_lib_gemm_two_devices PROPERTIES ENVIRONMENT
                     "${kernels_lib_env};MAESTRO_TEST_LIB=gemm;POCL_DEVICES=pthread pthread;LSAN_OPTIONS=use_tls=0")
set_tests_properties(kernels_lib_fft_two_devices PROPERTIES ENVIRONMENT
                     "${kernels_lib_env};MAESTRO_TEST_LIB=fft;POCL_DEVICES=pthread pthread;LSAN_OPTIONS=use_tls=0")
set_tests_properties(kernels_lib_gemm kernels_lib_fft kernels_lib_gemm_two_devices
                     kernels_lib_fft_two_devices PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77
                     LABELS "unit;kernels;ocl")
