# Bundled kernel library (kernels/, runtime/kern/): every kernel against its
# CPU implementation on the real PoCL device, through raw OpenCL; then every
# bundled agent through a graph, pinned to the device and to the CPU.
maestro_add_test(kernels_raw SOURCES kernels_raw.c TIMEOUT 300 LABELS kernels)
maestro_add_test(kernels_graph SOURCES kernels_graph.c TIMEOUT 300 LABELS kernels)
# The same with two OpenCL devices: the chain test then crosses devices.
add_test(NAME kernels_graph_two_devices COMMAND kernels_graph)
set_tests_properties(kernels_graph_two_devices PROPERTIES TIMEOUT 300 LABELS "unit;kernels"
                     ENVIRONMENT "POCL_DEVICES=pthread pthread")
