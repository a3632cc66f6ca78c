# Defines libvips::cpp: libvips 8.18 and its C++ API (vips8) as sharp ships them on npm,
# installed under node_modules/ by install.sh from package-lock.json (see docs/libvips.md).
# One self-contained shared library (glib and the safe codecs linked in); its SONAME carries
# the full version, so binaries find it through their build RPATH, which CMake sets to the
# library's directory because it is linked by full path.
if(TARGET libvips::cpp)
  return()
endif()

set(_vips_root ${CMAKE_CURRENT_LIST_DIR}/node_modules/@img)
set(_vips_version 8.18.7)
set(_vips_lib ${_vips_root}/sharp-libvips-linux-x64/lib/libvips-cpp.so.${_vips_version})

if(NOT EXISTS ${_vips_lib})
  message(STATUS "libvips: not installed yet; running third_party/libvips/install.sh")
  execute_process(COMMAND ${CMAKE_CURRENT_LIST_DIR}/install.sh RESULT_VARIABLE _vips_rc)
  if(NOT _vips_rc EQUAL 0 OR NOT EXISTS ${_vips_lib})
    message(FATAL_ERROR "libvips ${_vips_version} not found at ${_vips_lib}: run scripts/install-deps.sh "
                        "(x86-64 glibc Linux only; see docs/libvips.md)")
  endif()
endif()
# Re-run configure (and so the check above) when the pinned version changes.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/package-lock.json)

add_library(libvips::cpp SHARED IMPORTED GLOBAL)
set_target_properties(libvips::cpp PROPERTIES
  IMPORTED_LOCATION ${_vips_lib}
  IMPORTED_SONAME libvips-cpp.so.${_vips_version}
  # SYSTEM: their headers' warnings are not ours (-Werror).
  INTERFACE_SYSTEM_INCLUDE_DIRECTORIES
    "${_vips_root}/sharp-libvips-dev/include;${_vips_root}/sharp-libvips-dev/include/glib-2.0;${_vips_root}/sharp-libvips-linux-x64/lib/glib-2.0/include"
  INTERFACE_INCLUDE_DIRECTORIES
    "${_vips_root}/sharp-libvips-dev/include;${_vips_root}/sharp-libvips-dev/include/glib-2.0;${_vips_root}/sharp-libvips-linux-x64/lib/glib-2.0/include")
