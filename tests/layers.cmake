# Layering (docs/architecture.md): every #include in runtime/ points down
# (the engine never includes prof/ or a backend; prof, kern and the backends
# never include each other). The check prints each include against it.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_FOUND)
  add_test(NAME layers
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/layering/check_includes.py
                   ${PROJECT_SOURCE_DIR}/runtime)
  set_tests_properties(layers PROPERTIES TIMEOUT 30 LABELS "unit")
endif()
