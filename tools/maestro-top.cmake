# maestro-top: live view of running Maestro programs (ncurses).
# It reads the stats segment, a file format (runtime/prof/segment.h), not
# the library: the segment reader is compiled into it, and it links the
# public libmaestro.a (maestro_* only) for maestro_version.
set(CURSES_NEED_NCURSES TRUE)
find_package(Curses REQUIRED)
add_executable(maestro-top
  ${CMAKE_CURRENT_LIST_DIR}/top/main.c
  ${CMAKE_CURRENT_LIST_DIR}/top/model.c
  ${CMAKE_CURRENT_LIST_DIR}/top/output.c
  ${CMAKE_CURRENT_LIST_DIR}/top/ui.c
  ${PROJECT_SOURCE_DIR}/runtime/prof/segment.c
  ${PROJECT_SOURCE_DIR}/runtime/prof/segment_reader.c)
target_include_directories(maestro-top PRIVATE ${CURSES_INCLUDE_DIRS} ${PROJECT_SOURCE_DIR}/runtime)
target_link_libraries(maestro-top PRIVATE maestro_static ${CURSES_LIBRARIES} m)
install(TARGETS maestro-top RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
