# Bundled kernel library (kernels/, runtime/kern/): every kernel against its
# CPU implementation on the real PoCL device, through raw OpenCL; then every
# bundled agent through a graph, pinned to the device and to the CPU.
maestro_add_test(kernels_raw SOURCES kernels_raw.c TIMEOUT 300 LABELS kernels)
maestro_add_test(kernels_graph SOURCES kernels_graph.c TIMEOUT 300 LABELS kernels)
