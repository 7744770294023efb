# Installs the SDK for third-party apps: libferry.so + libferry.a, the video module
# LIBDIR/ferry/libferry_video.so, ferry.h, ferry.pc and a CMake
# package (ferryConfig.cmake, ferryConfigVersion.cmake, ferryTargets.cmake) exporting
# ferry::ferry and ferry::ferry_static. Included from sdk/CMakeLists.txt.
include(CMakePackageConfigHelpers)

set(FERRY_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/ferry)

# Everything here is in component "sdk": `cmake --install BUILD --component sdk` installs just
# the SDK (what tests/integration/install_test.sh does).
install(TARGETS ferry ferry_static EXPORT ferryTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT sdk
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT sdk
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# The video module (sdk/media/video_module.h): libferry finds it in LIBDIR/ferry/.
install(TARGETS ferry_video LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/ferry COMPONENT sdk)
install(FILES ${PROJECT_SOURCE_DIR}/sdk/include/ferry.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT sdk)
install(EXPORT ferryTargets NAMESPACE ferry:: DESTINATION ${FERRY_CMAKE_DIR} COMPONENT sdk)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/ferryConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/ferryConfig.cmake
  INSTALL_DESTINATION ${FERRY_CMAKE_DIR})
# 0.x: minor versions may break the API, so only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cmake/ferryConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cmake/ferryConfig.cmake
              ${PROJECT_BINARY_DIR}/cmake/ferryConfigVersion.cmake
  DESTINATION ${FERRY_CMAKE_DIR} COMPONENT sdk)

# ferry.pc finds its prefix relative to itself, so `cmake --install --prefix X` (a prefix
# chosen after configuring) still yields a correct file.
file(RELATIVE_PATH FERRY_PC_TO_PREFIX "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
string(REGEX REPLACE "/$" "" FERRY_PC_TO_PREFIX "${FERRY_PC_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/ferry.pc.in ${PROJECT_BINARY_DIR}/cmake/ferry.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/cmake/ferry.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT sdk)
