# maestro-top: live view of running Maestro programs (ncurses).
set(CURSES_NEED_NCURSES TRUE)
find_package(Curses REQUIRED)
add_executable(maestro-top
  ${CMAKE_CURRENT_LIST_DIR}/top/main.c
  ${CMAKE_CURRENT_LIST_DIR}/top/model.c
  ${CMAKE_CURRENT_LIST_DIR}/top/output.c
  ${CMAKE_CURRENT_LIST_DIR}/top/ui.c)
target_include_directories(maestro-top PRIVATE ${CURSES_INCLUDE_DIRS})
target_link_libraries(maestro-top PRIVATE maestro_internal ${CURSES_LIBRARIES} m)
install(TARGETS maestro-top RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
