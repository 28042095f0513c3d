# maestro-info: topology, places, CPU-only reason, --bench, --json.
add_executable(maestro-info ${CMAKE_CURRENT_LIST_DIR}/maestro-info.c
                            ${CMAKE_CURRENT_LIST_DIR}/info_bench.c)
target_link_libraries(maestro-info PRIVATE maestro_internal)
target_include_directories(maestro-info PRIVATE ${CMAKE_CURRENT_LIST_DIR})
install(TARGETS maestro-info RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools)
