# Installation: public headers, both libraries, maestro.pc and the CMake
# package (MaestroConfig.cmake, its version file and the exported targets),
# so that an outside project can use either
#   pkg-config --cflags --libs maestro
# or
#   find_package(Maestro 0.1 REQUIRED)  +  target_link_libraries(app Maestro::maestro)
include(CMakePackageConfigHelpers)

# Public headers only: include/maestro.h and include/maestro/*.h.
install(FILES ${PROJECT_SOURCE_DIR}/include/maestro.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT devel)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/maestro
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT devel
        FILES_MATCHING PATTERN "*.h")

install(TARGETS maestro maestro_static EXPORT MaestroTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime
                NAMELINK_COMPONENT devel
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT devel
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(MAESTRO_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Maestro)
install(EXPORT MaestroTargets NAMESPACE Maestro:: FILE MaestroTargets.cmake
        DESTINATION ${MAESTRO_CMAKE_DIR} COMPONENT devel)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/MaestroConfig.cmake.in
  ${PROJECT_BINARY_DIR}/MaestroConfig.cmake INSTALL_DESTINATION ${MAESTRO_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/MaestroConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/MaestroConfig.cmake
              ${PROJECT_BINARY_DIR}/MaestroConfigVersion.cmake
        DESTINATION ${MAESTRO_CMAKE_DIR} COMPONENT devel)

# maestro.pc, relocatable: prefix is found from the .pc file's own place, so
# `cmake --install build --prefix /anywhere` gives a working file.
set(MAESTRO_PC_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(IS_ABSOLUTE "${MAESTRO_PC_DIR}")
  set(MAESTRO_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH MAESTRO_PC_UP "/root/${MAESTRO_PC_DIR}" "/root")
  string(REGEX REPLACE "/$" "" MAESTRO_PC_UP "${MAESTRO_PC_UP}")
  set(MAESTRO_PC_PREFIX "\${pcfiledir}/${MAESTRO_PC_UP}")
endif()
# The MPI backend's libraries, for static links.
set(MAESTRO_PC_MPI_LIBS "")
if(MAESTRO_HAVE_MPI)
  foreach(lib IN LISTS MPI_C_LIBRARIES)
    string(APPEND MAESTRO_PC_MPI_LIBS " ${lib}")
  endforeach()
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/maestro.pc.in ${PROJECT_BINARY_DIR}/maestro.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/maestro.pc DESTINATION ${MAESTRO_PC_DIR} COMPONENT devel)
