# Libraries of the library agents (MAESTRO_BUNDLED_LIB_*: runtime/kern/lib.c,
# runtime/backend/opencl/libs.c), each optional: found through pkg-config,
# else find_library + find_path. For each one found: MAESTRO_HAVE_<NAME>=1
# in MAESTRO_LIB_DEFS, its libraries (full paths) in MAESTRO_LIB_LIBS, its
# include folders in MAESTRO_LIB_INCS. Debian: libclblast-dev, libclfft-dev,
# libopenblas-dev, libfftw3-dev (tools/install-deps.sh).
option(MAESTRO_WITH_LIBS "Build the library agents with the libraries found" ON)
set(MAESTRO_LIB_DEFS "")
set(MAESTRO_LIB_LIBS "")
set(MAESTRO_LIB_INCS "")
set(MAESTRO_LIBS_FOUND "")
# NAME:pkg-config module:library name:a header
set(maestro_lib_specs CLBLAST:clblast:clblast:clblast_c.h CLFFT:clFFT:clFFT:clFFT.h
                      OPENBLAS:openblas:openblas:cblas.h FFTW:fftw3f:fftw3f:fftw3.h)
if(MAESTRO_WITH_LIBS)
  foreach(spec_str IN LISTS maestro_lib_specs)
    string(REPLACE ":" ";" spec "${spec_str}")
    list(GET spec 0 name)
    list(GET spec 1 module)
    list(GET spec 2 libname)
    list(GET spec 3 header)
    pkg_check_modules(MAESTRO_PKG_${name} QUIET ${module})
    if(MAESTRO_PKG_${name}_FOUND AND MAESTRO_PKG_${name}_LINK_LIBRARIES)
      set(libs ${MAESTRO_PKG_${name}_LINK_LIBRARIES})
      set(incs ${MAESTRO_PKG_${name}_INCLUDE_DIRS})
    else()
      find_library(MAESTRO_LIB_${name} NAMES ${libname})
      find_path(MAESTRO_INC_${name} NAMES ${header})
      set(libs "")
      if(MAESTRO_LIB_${name} AND MAESTRO_INC_${name})
        set(libs ${MAESTRO_LIB_${name}})
        set(incs ${MAESTRO_INC_${name}})
      endif()
    endif()
    if(libs)
      list(APPEND MAESTRO_LIB_DEFS MAESTRO_HAVE_${name}=1)
      list(APPEND MAESTRO_LIB_LIBS ${libs})
      list(APPEND MAESTRO_LIB_INCS ${incs})
      list(APPEND MAESTRO_LIBS_FOUND ${module})
    endif()
  endforeach()
endif()
message(STATUS "Maestro: library agents with: ${MAESTRO_LIBS_FOUND}")
# For static links (maestro.pc's Libs.private).
set(MAESTRO_PC_LIB_LIBS "")
foreach(lib IN LISTS MAESTRO_LIB_LIBS)
  string(APPEND MAESTRO_PC_LIB_LIBS " ${lib}")
endforeach()
