# Observability: the live stats segment, maestro-top and traces (issue 5).
add_executable(prof_demo ${CMAKE_CURRENT_LIST_DIR}/prof_demo.c)
target_link_libraries(prof_demo PRIVATE maestro_internal)
