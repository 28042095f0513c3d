# Bundled kernel library (kernels/, runtime/kern/): every kernel against its
# CPU implementation on the real PoCL device, through raw OpenCL; then every
# bundled agent through a graph, pinned to the device and to the CPU.
maestro_add_test(kernels_raw SOURCES kernels_raw.c TIMEOUT 300 LABELS kernels)
maestro_add_test(kernels_graph SOURCES kernels_graph.c TIMEOUT 300 LABELS kernels)
# The same with two OpenCL devices: the chain test then crosses devices.
add_test(NAME kernels_graph_two_devices COMMAND kernels_graph)
set_tests_properties(kernels_graph_two_devices PROPERTIES TIMEOUT 300 LABELS "unit;kernels"
                     ENVIRONMENT "POCL_DEVICES=pthread pthread")
# Input messages of the wrong size are refused before a launch (bundled
# agents on the device and the CPU, user kernels): status, message, and
# dead letters with SKIP, and the firing's own message in maestro_graph_wait
# and in the dead letters' .reason.
maestro_add_test(kernels_check SOURCES kernels_check.c TIMEOUT 120 LABELS kernels)
