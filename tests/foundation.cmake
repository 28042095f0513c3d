# Foundation: configuration, errors, topology, discovery, packaging.

# Installs into a temporary prefix and builds an outside project against it
# with pkg-config and with find_package(Maestro).
set(MAESTRO_SAN_FLAGS "")
if(MAESTRO_SANITIZE)
  set(MAESTRO_SAN_FLAGS "-fsanitize=${MAESTRO_SANITIZE}")
endif()
add_test(NAME install_outside_project
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/install/check_install.sh
          ${CMAKE_BINARY_DIR} ${CMAKE_CURRENT_BINARY_DIR}/install-check
          ${CMAKE_INSTALL_LIBDIR} ${CMAKE_C_COMPILER} "${MAESTRO_SAN_FLAGS}")
set_tests_properties(install_outside_project PROPERTIES TIMEOUT 300 LABELS "unit;install")
