# Only maestro_* leaves the libraries (runtime/CMakeLists.txt,
# runtime/maestro.map): nm finds no other defined global symbol in
# libmaestro.a or libmaestro.so.
add_test(NAME symbols_exports
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/symbols/check_exports.sh ${CMAKE_NM}
          $<TARGET_FILE:maestro_static> $<TARGET_FILE:maestro>)
set_tests_properties(symbols_exports PROPERTIES TIMEOUT 60 LABELS "unit;install")
