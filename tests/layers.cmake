# Layering (docs/architecture.md): every #include in runtime/ points down
# (the engine never includes prof/ or a backend; prof, kern and the backends
# never include each other), and so does every reference by linkage between
# the library's objects. The check prints each one against it.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_FOUND)
  # The library's objects, for the check by linkage (check_links.py, run by
  # the same test): a lower layer calling an upper one by name.
  set(MAESTRO_OBJECT_LIST ${CMAKE_CURRENT_BINARY_DIR}/maestro_objects.txt)
  file(GENERATE OUTPUT ${MAESTRO_OBJECT_LIST}
       CONTENT "$<JOIN:$<TARGET_OBJECTS:maestro_obj>,\n>\n")
  find_program(MAESTRO_NM NAMES ${CMAKE_NM} nm llvm-nm)
  if(MAESTRO_NM)
    set(MAESTRO_LINKS_ARGS --links ${MAESTRO_NM} ${MAESTRO_OBJECT_LIST})
  endif()
  add_test(NAME layers
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/layering/check_includes.py
                   ${PROJECT_SOURCE_DIR}/runtime ${MAESTRO_LINKS_ARGS})
  set_tests_properties(layers PROPERTIES TIMEOUT 60 LABELS "unit")
endif()
