# Layering (issue 8): includes point down only. A script, not a binary.
add_test(NAME layers_prof
         COMMAND ${CMAKE_COMMAND} -DROOT=${PROJECT_SOURCE_DIR} -P
                 ${CMAKE_CURRENT_LIST_DIR}/layers/check_prof_layer.cmake)
set_tests_properties(layers_prof PROPERTIES TIMEOUT 30 LABELS "unit")
