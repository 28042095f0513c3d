# Embeds every kernels/*.cl into one generated C file so that the library
# carries its bundled kernels (used by a maestro_kernel_t with .source = NULL).
file(GLOB MAESTRO_KERNEL_FILES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/kernels/*.cl)
list(SORT MAESTRO_KERNEL_FILES)
# The list travels as one argument, '|'-separated (a ';' would split the command).
string(REPLACE ";" "|" MAESTRO_KERNEL_FILES_ARG "${MAESTRO_KERNEL_FILES}")
set(MAESTRO_KERNELS_C ${CMAKE_BINARY_DIR}/generated/maestro_kernels.c)
add_custom_command(
  OUTPUT ${MAESTRO_KERNELS_C}
  COMMAND ${CMAKE_COMMAND} -DOUT=${MAESTRO_KERNELS_C} "-DFILES=${MAESTRO_KERNEL_FILES_ARG}"
          -P ${PROJECT_SOURCE_DIR}/kernels/embed_run.cmake
  DEPENDS ${MAESTRO_KERNEL_FILES} ${PROJECT_SOURCE_DIR}/kernels/embed_run.cmake
  COMMENT "Embedding bundled OpenCL kernels"
  VERBATIM)
