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

# CUnit suites. Each scenario is its own program so that its environment
# (PoCL devices, ICD vendors, CPU set) is set before OpenCL or hwloc start.
set(F ${CMAKE_CURRENT_SOURCE_DIR}/foundation)
set(MAESTRO_EMPTY_ICD_DIR ${CMAKE_CURRENT_BINARY_DIR}/empty-icd)
file(MAKE_DIRECTORY ${MAESTRO_EMPTY_ICD_DIR})

maestro_add_test(foundation_config SOURCES ${F}/test_config.c TIMEOUT 60)
# Two runtimes with different configurations in one process (real PoCL).
maestro_add_test(foundation_config_runtimes SOURCES ${F}/test_config_runtimes.c TIMEOUT 120)
# The environment is read in runtime/core/config.c and nowhere else.
add_test(NAME foundation_config_getenv
  COMMAND sh ${F}/check_getenv.sh ${PROJECT_SOURCE_DIR})
set_tests_properties(foundation_config_getenv PROPERTIES TIMEOUT 30 LABELS "unit")
maestro_add_test(foundation_errors SOURCES ${F}/test_errors.c TIMEOUT 60)
# Devices are discovered when first needed: a CPU-only run maps no PoCL.
maestro_add_test(foundation_lazy_devices SOURCES ${F}/test_lazy_devices.c TIMEOUT 120)
maestro_add_test(foundation_discovery SOURCES ${F}/test_discovery.c TIMEOUT 120)
maestro_add_test(foundation_two_devices SOURCES ${F}/test_two_devices.c TIMEOUT 120
                 ENV "POCL_DEVICES=pthread pthread")
maestro_add_test(foundation_no_platform SOURCES ${F}/test_no_platform.c TIMEOUT 60
                 ENV "OCL_ICD_VENDORS=${MAESTRO_EMPTY_ICD_DIR}")
maestro_add_test(foundation_taskset SOURCES ${F}/test_taskset.c TIMEOUT 60
                 PREFIX taskset -c 0)

# maestro-info --json parses and matches the runtime's counts.
if(MAESTRO_BUILD_TOOLS)
  find_package(Python3 COMPONENTS Interpreter REQUIRED)
  add_executable(foundation_count_places ${F}/count_places.c)
  target_link_libraries(foundation_count_places PRIVATE maestro_internal)
  add_test(NAME foundation_maestro_info
    COMMAND ${Python3_EXECUTABLE} ${F}/check_info.py $<TARGET_FILE:maestro-info>
            $<TARGET_FILE:foundation_count_places> ${MAESTRO_EMPTY_ICD_DIR})
  set_tests_properties(foundation_maestro_info PROPERTIES TIMEOUT 180 LABELS "unit;tools")
endif()

# The multi-NUMA-node path of runtime/topo, on a synthetic hwloc topology.
# HWLOC_THISSYSTEM=1 keeps hwloc's real binding calls (mmap + mbind).
maestro_add_test(foundation_numa SOURCES ${F}/test_numa.c TIMEOUT 60
                 ENV "HWLOC_SYNTHETIC=pack:2 numa:1 core:2 pu:1" HWLOC_THISSYSTEM=1)

# Every public function refuses NULL / out-of-range arguments with a status.
maestro_add_test(foundation_api_args SOURCES ${F}/test_api_args.c TIMEOUT 60)

# The CPU backend (runtime/backend/cpu): its places are topo's cores, its
# host memory node round-trips a buffer's bytes exactly.
maestro_add_test(foundation_cpu_backend SOURCES ${F}/test_cpu_backend.c TIMEOUT 60)
