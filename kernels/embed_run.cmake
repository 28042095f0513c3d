# cmake -DOUT=file.c -DFILES="a.cl|b.cl" -P embed_run.cmake
# Writes `const char maestro_bundled_kernels[]`: every file, concatenated, as
# a byte array (no string-literal length limits), NUL-terminated.
string(REPLACE "|" ";" FILES "${FILES}")
set(body "")
foreach(f IN LISTS FILES)
  file(READ ${f} hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  get_filename_component(name ${f} NAME)
  string(APPEND body "/* ${name} */\n${hex}0x0a,\n")
endforeach()
file(WRITE ${OUT} "/* Generated from the kernels folder by kernels/embed_run.cmake. Do not edit. */\n"
  "#include <stddef.h>\n"
  "const char maestro_bundled_kernels[] = {\n${body}0x00};\n"
  "const size_t maestro_bundled_kernels_len = sizeof maestro_bundled_kernels - 1;\n")
