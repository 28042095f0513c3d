# maestro-info: topology, places, CPU-only reason, --bench, --json.
# Installed, so it links the public libmaestro.a (maestro_* only) like any
# program; the one helper it shares with the library, the JSON string
# writer of runtime/base/json.c, is compiled into it.
add_executable(maestro-info ${CMAKE_CURRENT_LIST_DIR}/maestro-info.c
                            ${CMAKE_CURRENT_LIST_DIR}/info_bench.c
                            ${PROJECT_SOURCE_DIR}/runtime/base/json.c)
target_link_libraries(maestro-info PRIVATE maestro_static)
target_include_directories(maestro-info PRIVATE ${CMAKE_CURRENT_LIST_DIR}
                                                ${PROJECT_SOURCE_DIR}/runtime)
install(TARGETS maestro-info RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools)
