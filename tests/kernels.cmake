# Bundled kernel library (kernels/, runtime/kern/): every kernel against its
# CPU implementation on the real PoCL device, through raw OpenCL.
maestro_add_test(kernels_raw SOURCES kernels_raw.c TIMEOUT 300 LABELS kernels)
