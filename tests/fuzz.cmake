# libFuzzer targets (tests/fuzz/): built with clang when -fsanitize=fuzzer
# links, each run briefly as a ctest labelled `fuzz` (tools/fuzz.sh runs
# them longer).
add_subdirectory(${CMAKE_CURRENT_LIST_DIR}/fuzz ${CMAKE_CURRENT_BINARY_DIR}/fuzz)
